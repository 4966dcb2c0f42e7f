// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {vm} from "./Vm.sol";
import {TestBase} from "./TestBase.sol";
import {LitRegistry} from "../LitRegistry.sol";
import {NodeConfig} from "../NodeConfig.sol";
import {ILitRegistry} from "../ILitRegistry.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

contract LitRegistryTest is TestBase {
    address internal constant PAYER = address(0xFA1);
    address internal constant PAYER_2 = address(0xFA2);
    address internal constant STRANGER = address(0xBAD);
    address internal constant ADMIN = address(0xAD1);

    bytes32 internal constant ACCOUNT = keccak256("account key A");
    bytes32 internal constant OTHER = keccak256("account key B");
    bytes32 internal constant USAGE = keccak256("usage key A1");
    bytes32 internal constant USAGE_2 = keccak256("usage key A2");
    bytes32 internal constant OTHER_USAGE = keccak256("usage key B1");
    bytes32 internal constant UNKNOWN = keccak256("no such key");

    address internal constant WALLET_A = address(0xA0);
    address internal constant WALLET_A2 = address(0xA2);
    address internal constant WALLET_B = address(0xB0);
    bytes32 internal constant DERIV_A = keccak256("derivation A");
    bytes32 internal constant DERIV_A2 = keccak256("derivation A2");
    bytes32 internal constant DERIV_B = keccak256("derivation B");

    string internal constant CID = "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6";
    string internal constant CID_2 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD";
    bytes32 internal constant CID_HASH = keccak256(bytes(CID));
    bytes32 internal constant CID_HASH_2 = keccak256(bytes(CID_2));
    bytes32 internal constant ANY_CID = bytes32(0);
    address internal constant ANY_WALLET = address(0);

    string internal constant DEFAULT_WALLET_NAME = "Default wallet";
    string internal constant DEFAULT_WALLET_DESCRIPTION = "The account's default wallet, created with the account";

    NodeConfig internal config;
    LitRegistry internal reg;

    function setUp() public {
        config = new NodeConfig(address(this));
        config.addPayer(PAYER);
        config.addPayer(PAYER_2);
        reg = new LitRegistry(address(config));

        vm.startPrank(PAYER);
        reg.newAccount(ACCOUNT, "Account A", "first account", WALLET_A, DERIV_A);
        reg.newAccount(OTHER, "Account B", "second account", WALLET_B, DERIV_B);
        vm.stopPrank();
    }

    // ================================================================ helpers

    /// A usage key with no scope at all; tests switch on what they need.
    function _noScopes() internal pure returns (ILitRegistry.UsageKey memory key) {
        key.name = "usage";
        key.description = "a usage key";
    }

    /// A usage key with every scope, every group.
    function _allScopes() internal pure returns (ILitRegistry.UsageKey memory key) {
        key = _noScopes();
        key.canCreateGroups = true;
        key.canDeleteGroups = true;
        key.canCreatePkps = true;
        key.manageIpfsIdsInGroups = ids(0);
        key.addPkpToGroups = ids(0);
        key.removePkpFromGroups = ids(0);
        key.executeInGroups = ids(0);
    }

    function _executeIn(uint256[] memory groups) internal pure returns (ILitRegistry.UsageKey memory key) {
        key = _noScopes();
        key.executeInGroups = groups;
    }

    function _addUsageKey(bytes32 account, bytes32 usageKeyHash, ILitRegistry.UsageKey memory key) internal {
        vm.prank(PAYER);
        reg.addUsageKey(account, usageKeyHash, key);
    }

    function _addGroup(bytes32 caller, address[] memory wallets, bytes32[] memory cidHashes)
        internal
        returns (uint256)
    {
        vm.prank(PAYER);
        return reg.addGroup(caller, "group", "a group", wallets, cidHashes);
    }

    function _registerWallet(bytes32 caller, address wallet, bytes32 derivationId) internal {
        vm.prank(PAYER);
        reg.registerWallet(caller, wallet, derivationId, "wallet", "another wallet");
    }

    function _addAction(bytes32 caller, string memory cid) internal {
        vm.prank(PAYER);
        reg.addAction(caller, cid, "action", "an action");
    }

    function _err(bytes4 selector) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector);
    }

    function _missingScope(bytes32 keyHash, ILitRegistry.Scope scope, uint256 groupId)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(ILitRegistry.MissingScope.selector, keyHash, scope, groupId);
    }

    function _assertUsageKey(ILitRegistry.UsageKey memory actual, ILitRegistry.UsageKey memory expected) internal pure {
        assertEq(abi.encode(actual), abi.encode(expected), "usage key");
    }

    // ================================================================ newAccount

    function test_NewAccount_CreatesAccountAndDefaultWallet() public {
        bytes32 account = keccak256("account key C");
        address wallet = address(0xC0);
        bytes32 derivationId = keccak256("derivation C");

        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountCreated(account, "Account C", "third", address(0), false);
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(
            account, wallet, derivationId, DEFAULT_WALLET_NAME, DEFAULT_WALLET_DESCRIPTION
        );
        vm.prank(PAYER_2);
        reg.newAccount(account, "Account C", "third", wallet, derivationId);

        assertTrue(reg.accountExists(account), "exists");
        assertEq(reg.accountOfKey(account), account, "account key maps to itself");
        (address admin, bool selfManaged) = reg.accountAdmin(account);
        assertEq(admin, address(0), "no admin");
        assertFalse(selfManaged, "node-managed");
        (bytes32 owner, bytes32 storedDerivation) = reg.walletAccount(wallet);
        assertEq(owner, account, "wallet account");
        assertEq(storedDerivation, derivationId, "derivation id");
        assertEq(reg.walletsOf(account), addrs(wallet), "wallets");
        (string memory name, string memory description) = reg.walletMetadata(wallet);
        assertEq(name, DEFAULT_WALLET_NAME, "wallet name");
        assertEq(description, DEFAULT_WALLET_DESCRIPTION, "wallet description");
        (name, description) = reg.accountMetadata(account);
        assertEq(name, "Account C", "account name");
        assertEq(description, "third", "account description");
        assertEq(reg.balanceOf(account), 0, "balance");
    }

    function test_NewAccount_RevertsForNonPayer() public {
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.newAccount(keccak256("c"), "n", "d", address(0xC0), keccak256("dc"));
    }

    function test_NewAccount_RevertsForRemovedPayer() public {
        config.removePayer(PAYER_2);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, PAYER_2));
        vm.prank(PAYER_2);
        reg.newAccount(keccak256("c"), "n", "d", address(0xC0), keccak256("dc"));
    }

    function test_NewAccount_RevertsOnZeroKeyHash() public {
        vm.expectRevert(_err(ILitRegistry.ZeroKeyHash.selector));
        vm.prank(PAYER);
        reg.newAccount(bytes32(0), "n", "d", address(0xC0), keccak256("dc"));
    }

    function test_NewAccount_RevertsWhenKeyHashIsUsed() public {
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountAlreadyExists.selector, ACCOUNT));
        vm.prank(PAYER);
        reg.newAccount(ACCOUNT, "n", "d", address(0xC0), keccak256("dc"));

        // A usage key's hash is taken as well.
        _addUsageKey(ACCOUNT, USAGE, _noScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountAlreadyExists.selector, USAGE));
        vm.prank(PAYER);
        reg.newAccount(USAGE, "n", "d", address(0xC0), keccak256("dc"));
    }

    function test_NewAccount_RevertsOnBadDefaultWallet() public {
        bytes32 account = keccak256("account key C");
        vm.startPrank(PAYER);
        vm.expectRevert(_err(ILitRegistry.ZeroWalletAddress.selector));
        reg.newAccount(account, "n", "d", address(0), keccak256("dc"));
        vm.expectRevert(_err(ILitRegistry.ZeroDerivationId.selector));
        reg.newAccount(account, "n", "d", address(0xC0), bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletAlreadyRegistered.selector, WALLET_B));
        reg.newAccount(account, "n", "d", WALLET_B, keccak256("dc"));
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.DerivationIdAlreadyUsed.selector, DERIV_B));
        reg.newAccount(account, "n", "d", address(0xC0), DERIV_B);
        vm.stopPrank();
        assertFalse(reg.accountExists(account), "nothing was created");
    }

    // ================================================================ convertToSelfManaged

    function test_ConvertToSelfManaged_HandsTheAccountToItsAdmin() public {
        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountAdminChanged(ACCOUNT, ADMIN, true);
        vm.prank(PAYER);
        reg.convertToSelfManaged(ACCOUNT, ADMIN);

        (address admin, bool selfManaged) = reg.accountAdmin(ACCOUNT);
        assertEq(admin, ADMIN, "admin");
        assertTrue(selfManaged, "self-managed");

        // Payers can no longer write it...
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountAdmin.selector, ACCOUNT, PAYER));
        vm.prank(PAYER);
        reg.addGroup(ACCOUNT, "g", "d", addrs(), hashes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountAdmin.selector, ACCOUNT, STRANGER));
        vm.prank(STRANGER);
        reg.addAction(ACCOUNT, CID, "n", "d");

        // ...the admin can, and its usage keys keep their scopes (checked after the writer).
        vm.startPrank(ADMIN);
        assertEq(reg.addGroup(ACCOUNT, "g", "d", addrs(WALLET_A), hashes()), 1, "group id");
        reg.addUsageKey(ACCOUNT, USAGE, _noScopes());
        vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.CreateGroups, 0));
        reg.addGroup(USAGE, "g", "d", addrs(), hashes());
        vm.stopPrank();

        // Other node-managed accounts are unaffected.
        _addAction(OTHER, CID);
        assertTrue(reg.actionExists(OTHER, CID_HASH), "other account still node-managed");

        // Credits stay with the payer set.
        vm.prank(PAYER);
        reg.creditAccount(ACCOUNT, 100, keccak256("payment"));
        assertEq(reg.balanceOf(ACCOUNT), 100, "credited");
    }

    function test_ConvertToSelfManaged_Reverts() public {
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UnknownKey.selector, UNKNOWN));
        vm.prank(PAYER);
        reg.convertToSelfManaged(UNKNOWN, ADMIN);

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.convertToSelfManaged(ACCOUNT, STRANGER);

        _addUsageKey(ACCOUNT, USAGE, _allScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountKey.selector, USAGE));
        vm.prank(PAYER);
        reg.convertToSelfManaged(USAGE, ADMIN);

        vm.expectRevert(_err(ILitRegistry.ZeroWalletAddress.selector));
        vm.prank(PAYER);
        reg.convertToSelfManaged(ACCOUNT, address(0));

        vm.prank(PAYER);
        reg.convertToSelfManaged(ACCOUNT, ADMIN);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountAdmin.selector, ACCOUNT, PAYER));
        vm.prank(PAYER);
        reg.convertToSelfManaged(ACCOUNT, PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AlreadySelfManaged.selector, ACCOUNT));
        vm.prank(ADMIN);
        reg.convertToSelfManaged(ACCOUNT, STRANGER);
    }

    // ================================================================ usage keys

    function test_AddUsageKey_StoresAndEmitsFullKey() public {
        for (uint256 i; i < 7; ++i) {
            _addGroup(ACCOUNT, addrs(), hashes());
        }
        ILitRegistry.UsageKey memory key = _allScopes();
        key.expiration = uint64(block.timestamp + 1 days);
        key.manageIpfsIdsInGroups = ids(3, 4);
        key.executeInGroups = ids(7);

        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyAdded(ACCOUNT, USAGE, key);
        _addUsageKey(ACCOUNT, USAGE, key);

        assertEq(reg.accountOfKey(USAGE), ACCOUNT, "key index");
        assertFalse(reg.accountExists(USAGE), "a usage key is not an account");
        _assertUsageKey(reg.getUsageKey(ACCOUNT, USAGE), key);
        assertEq(reg.usageKeysOf(ACCOUNT), hashes(USAGE), "usageKeysOf");
    }

    function test_AddUsageKey_Reverts() public {
        vm.expectRevert(_err(ILitRegistry.ZeroKeyHash.selector));
        _addUsageKey(ACCOUNT, bytes32(0), _noScopes());

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyAlreadyExists.selector, OTHER));
        _addUsageKey(ACCOUNT, OTHER, _noScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyAlreadyExists.selector, ACCOUNT));
        _addUsageKey(ACCOUNT, ACCOUNT, _noScopes());

        _addUsageKey(OTHER, OTHER_USAGE, _noScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyAlreadyExists.selector, OTHER_USAGE));
        _addUsageKey(ACCOUNT, OTHER_USAGE, _noScopes());

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UnknownKey.selector, UNKNOWN));
        _addUsageKey(UNKNOWN, USAGE, _noScopes());

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.addUsageKey(ACCOUNT, USAGE, _noScopes());
    }

    /// A usage key whose group-scoped list `list` (0 manage, 1 add, 2 remove, 3 execute) is
    /// `groups`, and no other scope.
    function _listing(uint256 list, uint256[] memory groups) internal pure returns (ILitRegistry.UsageKey memory key) {
        key = _noScopes();
        if (list == 0) key.manageIpfsIdsInGroups = groups;
        else if (list == 1) key.addPkpToGroups = groups;
        else if (list == 2) key.removePkpFromGroups = groups;
        else key.executeInGroups = groups;
    }

    /// Every group id in a usage key's four lists must name a group of the account (or be the
    /// wildcard 0): ids not created yet, removed groups and other accounts' groups are refused.
    function test_AddUsageKey_RevertsForGroupsNotInTheAccount() public {
        uint256 own = _addGroup(ACCOUNT, addrs(), hashes()); // 1
        _addGroup(OTHER, addrs(), hashes());
        uint256 foreign = _addGroup(OTHER, addrs(), hashes()); // 2, only in OTHER
        for (uint256 list; list < 4; ++list) {
            vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 2));
            _addUsageKey(ACCOUNT, USAGE, _listing(list, ids(own, foreign)));
            vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 5));
            _addUsageKey(ACCOUNT, USAGE, _listing(list, ids(0, 5)));
        }
        assertEq(reg.accountOfKey(USAGE), bytes32(0), "nothing added");

        ILitRegistry.UsageKey memory key = _listing(3, ids(0, own));
        key.manageIpfsIdsInGroups = ids(own);
        key.addPkpToGroups = ids(0);
        _addUsageKey(ACCOUNT, USAGE, key);
        _assertUsageKey(reg.getUsageKey(ACCOUNT, USAGE), key);
    }

    function test_UpdateUsageKey_RevertsForGroupsNotInTheAccount() public {
        uint256 kept = _addGroup(ACCOUNT, addrs(), hashes()); // 1
        uint256 removed = _addGroup(ACCOUNT, addrs(), hashes()); // 2
        vm.prank(PAYER);
        reg.removeGroup(ACCOUNT, removed);
        _addUsageKey(ACCOUNT, USAGE, _listing(3, ids(kept)));
        vm.startPrank(PAYER);
        for (uint256 list; list < 4; ++list) {
            vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, removed));
            reg.updateUsageKey(ACCOUNT, USAGE, _listing(list, ids(kept, removed)));
            vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 3));
            reg.updateUsageKey(ACCOUNT, USAGE, _listing(list, ids(3)));
        }
        vm.stopPrank();
        _assertUsageKey(reg.getUsageKey(ACCOUNT, USAGE), _listing(3, ids(kept)));
    }

    /// The escalation this rule closes: a key that may create groups, pre-granted a group id that
    /// does not exist yet, would create that group with the account's wallets in it.
    function test_UsageKey_CannotBePreGrantedTheGroupItWouldCreate() public {
        ILitRegistry.UsageKey memory key = _listing(3, ids(1));
        key.canCreateGroups = true;
        key.addPkpToGroups = ids(1);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 1));
        _addUsageKey(ACCOUNT, USAGE, key);

        key.executeInGroups = ids();
        key.addPkpToGroups = ids();
        _addUsageKey(ACCOUNT, USAGE, key);
        uint256 created = _addGroup(USAGE, addrs(WALLET_A), hashes(ANY_CID));
        assertEq(created, 1, "the group id it would have been granted");
        assertFalse(reg.canUseWallet(USAGE, CID_HASH, WALLET_A), "creating a group grants nothing");
        assertFalse(reg.canExecute(USAGE, CID_HASH), "nor execution");
    }

    /// A usage key, whatever its scopes, can never create, change or remove keys.
    function test_UsageKey_CannotManageKeys() public {
        _addUsageKey(ACCOUNT, USAGE, _allScopes());
        _addUsageKey(ACCOUNT, USAGE_2, _noScopes());
        bytes memory notAccountKey = abi.encodeWithSelector(ILitRegistry.NotAccountKey.selector, USAGE);

        vm.startPrank(PAYER);
        vm.expectRevert(notAccountKey);
        reg.addUsageKey(USAGE, keccak256("new key"), _allScopes());
        vm.expectRevert(notAccountKey);
        reg.updateUsageKey(USAGE, USAGE_2, _allScopes());
        vm.expectRevert(notAccountKey);
        reg.updateUsageKey(USAGE, USAGE, _allScopes());
        vm.expectRevert(notAccountKey);
        reg.updateUsageKeyMetadata(USAGE, USAGE_2, "n", "d");
        vm.expectRevert(notAccountKey);
        reg.removeUsageKey(USAGE, USAGE_2);
        vm.stopPrank();
    }

    function test_UpdateUsageKey_ReplacesEverything() public {
        _addGroup(ACCOUNT, addrs(), hashes());
        _addGroup(ACCOUNT, addrs(), hashes());
        _addUsageKey(ACCOUNT, USAGE, _allScopes());
        ILitRegistry.UsageKey memory key = _noScopes();
        key.name = "renamed";
        key.expiration = 1234567890;
        key.removePkpFromGroups = ids(2);

        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyUpdated(ACCOUNT, USAGE, key);
        vm.prank(PAYER);
        reg.updateUsageKey(ACCOUNT, USAGE, key);
        _assertUsageKey(reg.getUsageKey(ACCOUNT, USAGE), key);
    }

    function test_UpdateUsageKey_RevertsForUnknownOrForeignKey() public {
        _addUsageKey(OTHER, OTHER_USAGE, _noScopes());
        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UsageKeyNotFound.selector, ACCOUNT, UNKNOWN));
        reg.updateUsageKey(ACCOUNT, UNKNOWN, _noScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UsageKeyNotFound.selector, ACCOUNT, OTHER_USAGE));
        reg.updateUsageKey(ACCOUNT, OTHER_USAGE, _allScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UsageKeyNotFound.selector, ACCOUNT, ACCOUNT));
        reg.updateUsageKey(ACCOUNT, ACCOUNT, _allScopes());
        vm.stopPrank();
        _assertUsageKey(reg.getUsageKey(OTHER, OTHER_USAGE), _noScopes());
    }

    function test_UpdateUsageKeyMetadata_KeepsScopes() public {
        ILitRegistry.UsageKey memory key = _allScopes();
        _addUsageKey(ACCOUNT, USAGE, key);

        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyMetadataUpdated(ACCOUNT, USAGE, "new name", "new description");
        vm.prank(PAYER);
        reg.updateUsageKeyMetadata(ACCOUNT, USAGE, "new name", "new description");

        key.name = "new name";
        key.description = "new description";
        _assertUsageKey(reg.getUsageKey(ACCOUNT, USAGE), key);

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UsageKeyNotFound.selector, ACCOUNT, USAGE_2));
        vm.prank(PAYER);
        reg.updateUsageKeyMetadata(ACCOUNT, USAGE_2, "n", "d");
    }

    function test_RemoveUsageKey_RevokesAtOnce() public {
        _addUsageKey(ACCOUNT, USAGE, _allScopes());
        _addUsageKey(ACCOUNT, USAGE_2, _noScopes());
        assertTrue(reg.canExecute(USAGE, CID_HASH), "works before removal");

        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyRemoved(ACCOUNT, USAGE);
        vm.prank(PAYER);
        reg.removeUsageKey(ACCOUNT, USAGE);

        assertEq(reg.accountOfKey(USAGE), bytes32(0), "no longer indexed");
        assertEq(reg.usageKeysOf(ACCOUNT), hashes(USAGE_2), "usageKeysOf");
        _assertUsageKey(
            reg.getUsageKey(ACCOUNT, USAGE),
            ILitRegistry.UsageKey("", "", 0, false, false, false, ids(), ids(), ids(), ids())
        );
        assertFalse(reg.canExecute(USAGE, CID_HASH), "cannot execute");
        assertFalse(reg.canUseWallet(USAGE, CID_HASH, WALLET_A), "cannot use wallets");
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UnknownKey.selector, USAGE));
        vm.prank(PAYER);
        reg.addGroup(USAGE, "g", "d", addrs(), hashes());

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UsageKeyNotFound.selector, ACCOUNT, USAGE));
        vm.prank(PAYER);
        reg.removeUsageKey(ACCOUNT, USAGE);
    }

    function test_UsageKey_Expiry() public {
        ILitRegistry.UsageKey memory key = _allScopes();
        key.expiration = uint64(block.timestamp + 100);
        _addUsageKey(ACCOUNT, USAGE, key);

        vm.warp(block.timestamp + 99);
        assertTrue(reg.canExecute(USAGE, CID_HASH), "valid before expiration");
        _addGroup(USAGE, addrs(), hashes());

        vm.warp(key.expiration);
        assertFalse(reg.canExecute(USAGE, CID_HASH), "expired at expiration");
        assertFalse(reg.canUseWallet(USAGE, CID_HASH, WALLET_A), "no wallet use either");
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyExpired.selector, USAGE, key.expiration));
        _addGroup(USAGE, addrs(), hashes());

        // Expiration 0 never expires.
        _addUsageKey(ACCOUNT, USAGE_2, _allScopes());
        vm.warp(type(uint64).max);
        assertTrue(reg.canExecute(USAGE_2, CID_HASH), "no expiration");
    }

    // ================================================================ check order

    function test_CheckOrder_KeyThenWriterThenExpiryThenScopeThenExistence() public {
        ILitRegistry.UsageKey memory key = _noScopes();
        key.expiration = uint64(block.timestamp + 10);
        _addUsageKey(ACCOUNT, USAGE, key);

        // 1. an unknown key wins over everything, even for a stranger.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UnknownKey.selector, UNKNOWN));
        vm.prank(STRANGER);
        reg.removeGroup(UNKNOWN, 99);

        // 2. the writer is checked before expiry.
        vm.warp(block.timestamp + 10);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.removeGroup(USAGE, 99);

        // 3. expiry before scope.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyExpired.selector, USAGE, key.expiration));
        vm.prank(PAYER);
        reg.removeGroup(USAGE, 99);

        // 4. scope before existence: group 99 does not exist, the missing scope is reported.
        _addUsageKey(ACCOUNT, USAGE_2, _noScopes());
        vm.expectRevert(_missingScope(USAGE_2, ILitRegistry.Scope.DeleteGroups, 0));
        vm.prank(PAYER);
        reg.removeGroup(USAGE_2, 99);

        // 5. existence last.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 99));
        vm.prank(PAYER);
        reg.removeGroup(ACCOUNT, 99);
    }

    /// A usage key scoped to group 1 gets MissingScope for group 7 whether or not 7 exists.
    function test_ScopePrecedesExistence_ForEveryGroupScope() public {
        for (uint256 i; i < 7; ++i) {
            _addGroup(ACCOUNT, addrs(), hashes());
        }
        ILitRegistry.UsageKey memory key = _noScopes();
        key.manageIpfsIdsInGroups = ids(1);
        key.addPkpToGroups = ids(1);
        key.removePkpFromGroups = ids(1);
        _addUsageKey(ACCOUNT, USAGE, key);

        uint256[2] memory groups = [uint256(7), 8]; // 7 exists, 8 does not
        vm.startPrank(PAYER);
        for (uint256 i; i < groups.length; ++i) {
            uint256 g = groups[i];
            vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.ManageIpfsIdsInGroups, g));
            reg.addActionToGroup(USAGE, g, CID_HASH);
            vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.ManageIpfsIdsInGroups, g));
            reg.removeActionFromGroup(USAGE, g, CID_HASH);
            vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.AddPkpToGroups, g));
            reg.addWalletToGroup(USAGE, g, WALLET_A);
            vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.RemovePkpFromGroups, g));
            reg.removeWalletFromGroup(USAGE, g, WALLET_A);
        }
        // With the scope (here the 0 wildcard), existence decides.
        reg.updateUsageKey(ACCOUNT, USAGE, _allScopes());
        reg.addActionToGroup(USAGE, 7, CID_HASH);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 8));
        reg.addActionToGroup(USAGE, 8, CID_HASH);
        vm.stopPrank();
    }

    // ================================================================ cross-account isolation

    /// A usage key resolves only to its own account: a foreign group, wallet or action behaves
    /// exactly like one that does not exist.
    function test_UsageKey_CannotActOnAnotherAccount() public {
        uint256 otherGroup = _addGroup(OTHER, addrs(WALLET_B), hashes(ANY_CID));
        _addAction(OTHER, CID);
        _addUsageKey(ACCOUNT, USAGE, _allScopes());

        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, otherGroup));
        reg.addActionToGroup(USAGE, otherGroup, CID_HASH);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, otherGroup));
        reg.removeWalletFromGroup(USAGE, otherGroup, WALLET_B);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, otherGroup));
        reg.removeGroup(USAGE, otherGroup);
        // The account key of A cannot reach B either.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.ActionNotFound.selector, ACCOUNT, CID_HASH));
        reg.deleteAction(ACCOUNT, CID_HASH);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.UsageKeyNotFound.selector, ACCOUNT, OTHER));
        reg.removeUsageKey(ACCOUNT, OTHER);

        // Writes land in the caller's account: A's first group gets id 1, B's group is untouched.
        uint256 own = reg.addGroup(USAGE, "mine", "", addrs(), hashes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletNotInAccount.selector, ACCOUNT, WALLET_B));
        reg.addWalletToGroup(USAGE, own, WALLET_B);
        vm.stopPrank();

        assertEq(own, 1, "own group");
        assertTrue(reg.groupExists(OTHER, otherGroup), "foreign group intact");
        (address[] memory wallets, bytes32[] memory cids) = reg.groupMembers(OTHER, otherGroup);
        assertEq(wallets, addrs(WALLET_B), "foreign wallets intact");
        assertEq(cids, hashes(ANY_CID), "foreign cids intact");
        assertTrue(reg.actionExists(OTHER, CID_HASH), "foreign action intact");
        assertFalse(reg.canUseWallet(USAGE, CID_HASH, WALLET_B), "foreign wallet unusable");
    }

    // ================================================================ wallets

    function test_RegisterWallet_ByAccountKeyAndScopedUsageKey() public {
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(ACCOUNT, WALLET_A2, DERIV_A2, "wallet", "another wallet");
        _registerWallet(ACCOUNT, WALLET_A2, DERIV_A2);

        ILitRegistry.UsageKey memory key = _noScopes();
        key.canCreatePkps = true;
        _addUsageKey(ACCOUNT, USAGE, key);
        address third = address(0xA3);
        bytes32 thirdDerivation = keccak256("derivation A3");
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(ACCOUNT, third, thirdDerivation, "wallet", "another wallet");
        _registerWallet(USAGE, third, thirdDerivation);

        (bytes32 account, bytes32 derivationId) = reg.walletAccount(third);
        assertEq(account, ACCOUNT, "registered into the caller's account");
        assertEq(derivationId, thirdDerivation, "derivation id");
        address[] memory expected = new address[](3);
        (expected[0], expected[1], expected[2]) = (WALLET_A, WALLET_A2, third);
        assertEq(reg.walletsOf(ACCOUNT), expected, "creation order");
    }

    function test_RegisterWallet_Reverts() public {
        _addUsageKey(ACCOUNT, USAGE, _noScopes());
        vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.CreatePkps, 0));
        _registerWallet(USAGE, WALLET_A2, DERIV_A2);

        vm.expectRevert(_err(ILitRegistry.ZeroWalletAddress.selector));
        _registerWallet(ACCOUNT, address(0), DERIV_A2);
        vm.expectRevert(_err(ILitRegistry.ZeroDerivationId.selector));
        _registerWallet(ACCOUNT, WALLET_A2, bytes32(0));
        // Registered once, globally: neither the same account nor another may register it again.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletAlreadyRegistered.selector, WALLET_A));
        _registerWallet(ACCOUNT, WALLET_A, DERIV_A2);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletAlreadyRegistered.selector, WALLET_A));
        _registerWallet(OTHER, WALLET_A, DERIV_A2);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.DerivationIdAlreadyUsed.selector, DERIV_B));
        _registerWallet(ACCOUNT, WALLET_A2, DERIV_B);

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.registerWallet(ACCOUNT, WALLET_A2, DERIV_A2, "", "");
    }

    // ================================================================ groups

    function test_AddGroup_IdsFromOneNeverReused() public {
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(ACCOUNT, 1, "group", "a group", addrs(WALLET_A, ANY_WALLET), hashes(CID_HASH));
        // Duplicates are ignored: the event carries the stored sets.
        uint256 first = _addGroup(ACCOUNT, addrs(WALLET_A, ANY_WALLET), hashes(CID_HASH, CID_HASH));
        uint256 second = _addGroup(ACCOUNT, addrs(), hashes());
        assertEq(first, 1, "first id");
        assertEq(second, 2, "second id");
        assertEq(_addGroup(OTHER, addrs(), hashes()), 1, "ids are per account");

        vm.prank(PAYER);
        reg.removeGroup(ACCOUNT, second);
        assertEq(_addGroup(ACCOUNT, addrs(), hashes()), 3, "removed ids are not reused");
        assertEq(reg.groupIdsOf(ACCOUNT), ids(1, 3), "groupIdsOf");

        (address[] memory wallets, bytes32[] memory cids) = reg.groupMembers(ACCOUNT, first);
        assertEq(wallets, addrs(WALLET_A, ANY_WALLET), "wallets");
        assertEq(cids, hashes(CID_HASH), "cids");
        (string memory name, string memory description) = reg.groupMetadata(ACCOUNT, first);
        assertEq(name, "group", "name");
        assertEq(description, "a group", "description");
    }

    function test_AddGroup_AcceptsWildcardsAndUnregisteredHashes() public {
        bytes32 unregistered = keccak256("not an action of the account");
        uint256 id = _addGroup(ACCOUNT, addrs(ANY_WALLET), hashes(ANY_CID, unregistered));
        (address[] memory wallets, bytes32[] memory cids) = reg.groupMembers(ACCOUNT, id);
        assertEq(wallets, addrs(ANY_WALLET), "zero address");
        assertEq(cids, hashes(ANY_CID, unregistered), "zero hash");
    }

    function test_AddGroup_Reverts() public {
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletNotInAccount.selector, ACCOUNT, WALLET_B));
        _addGroup(ACCOUNT, addrs(WALLET_A, WALLET_B), hashes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletNotInAccount.selector, ACCOUNT, WALLET_A2));
        _addGroup(ACCOUNT, addrs(WALLET_A2), hashes());

        _addUsageKey(ACCOUNT, USAGE, _noScopes());
        vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.CreateGroups, 0));
        _addGroup(USAGE, addrs(), hashes());

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.addGroup(ACCOUNT, "", "", addrs(), hashes());

        assertFalse(reg.groupExists(ACCOUNT, 1), "nothing created");
        assertEq(_addGroup(ACCOUNT, addrs(), hashes()), 1, "failed attempts consume no id");
    }

    function test_AddGroup_WithScope() public {
        ILitRegistry.UsageKey memory key = _noScopes();
        key.canCreateGroups = true;
        _addUsageKey(ACCOUNT, USAGE, key);
        assertEq(_addGroup(USAGE, addrs(WALLET_A), hashes()), 1, "created");
        assertTrue(reg.groupExists(ACCOUNT, 1), "in the key's account");
    }

    function test_RemoveGroup() public {
        uint256 id = _addGroup(ACCOUNT, addrs(WALLET_A), hashes(CID_HASH));
        ILitRegistry.UsageKey memory key = _noScopes();
        key.canDeleteGroups = true;
        _addUsageKey(ACCOUNT, USAGE, key);

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupRemoved(ACCOUNT, id);
        vm.prank(PAYER);
        reg.removeGroup(USAGE, id);

        assertFalse(reg.groupExists(ACCOUNT, id), "gone");
        (address[] memory wallets, bytes32[] memory cids) = reg.groupMembers(ACCOUNT, id);
        assertEq(wallets.length + cids.length, 0, "members cleared");
        (string memory name,) = reg.groupMetadata(ACCOUNT, id);
        assertEq(name, "", "metadata cleared");

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, id));
        vm.prank(PAYER);
        reg.removeGroup(ACCOUNT, id);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 0));
        vm.prank(PAYER);
        reg.removeGroup(ACCOUNT, 0);
    }

    function test_UpdateGroup_ReplacesMetadataAndSets() public {
        _registerWallet(ACCOUNT, WALLET_A2, DERIV_A2);
        uint256 id = _addGroup(ACCOUNT, addrs(WALLET_A, ANY_WALLET), hashes(CID_HASH, ANY_CID));

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupUpdated(ACCOUNT, id, "renamed", "new", addrs(WALLET_A2), hashes(CID_HASH_2));
        vm.prank(PAYER);
        reg.updateGroup(ACCOUNT, id, "renamed", "new", addrs(WALLET_A2, WALLET_A2), hashes(CID_HASH_2));

        (address[] memory wallets, bytes32[] memory cids) = reg.groupMembers(ACCOUNT, id);
        assertEq(wallets, addrs(WALLET_A2), "wallets replaced");
        assertEq(cids, hashes(CID_HASH_2), "cids replaced");
        (string memory name, string memory description) = reg.groupMetadata(ACCOUNT, id);
        assertEq(name, "renamed", "name");
        assertEq(description, "new", "description");

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupUpdated(ACCOUNT, id, "", "", addrs(), hashes());
        vm.prank(PAYER);
        reg.updateGroup(ACCOUNT, id, "", "", addrs(), hashes());
        (wallets, cids) = reg.groupMembers(ACCOUNT, id);
        assertEq(wallets.length + cids.length, 0, "emptied");
    }

    function test_UpdateGroup_Reverts() public {
        uint256 id = _addGroup(ACCOUNT, addrs(), hashes());
        _addUsageKey(ACCOUNT, USAGE, _allScopes());

        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountKey.selector, USAGE));
        reg.updateGroup(USAGE, id, "", "", addrs(), hashes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 2));
        reg.updateGroup(ACCOUNT, 2, "", "", addrs(), hashes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletNotInAccount.selector, ACCOUNT, WALLET_B));
        reg.updateGroup(ACCOUNT, id, "", "", addrs(WALLET_B), hashes());
        vm.stopPrank();

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.updateGroup(ACCOUNT, id, "", "", addrs(), hashes());
    }

    function test_AddRemoveActionInGroup_IdempotentWithEvents() public {
        uint256 id = _addGroup(ACCOUNT, addrs(), hashes());
        vm.startPrank(PAYER);

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupActionAdded(ACCOUNT, id, CID_HASH);
        reg.addActionToGroup(ACCOUNT, id, CID_HASH);
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupActionAdded(ACCOUNT, id, ANY_CID);
        reg.addActionToGroup(ACCOUNT, id, ANY_CID);

        vm.recordLogs();
        reg.addActionToGroup(ACCOUNT, id, CID_HASH);
        assertLogCount(address(reg), 0, "adding a present hash emits nothing");

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupActionRemoved(ACCOUNT, id, CID_HASH);
        reg.removeActionFromGroup(ACCOUNT, id, CID_HASH);

        vm.recordLogs();
        reg.removeActionFromGroup(ACCOUNT, id, CID_HASH);
        assertLogCount(address(reg), 0, "removing an absent hash emits nothing");

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 5));
        reg.addActionToGroup(ACCOUNT, 5, CID_HASH);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 5));
        reg.removeActionFromGroup(ACCOUNT, 5, CID_HASH);
        vm.stopPrank();

        (, bytes32[] memory cids) = reg.groupMembers(ACCOUNT, id);
        assertEq(cids, hashes(ANY_CID), "cids");
    }

    function test_AddRemoveWalletInGroup_IdempotentWithEvents() public {
        uint256 id = _addGroup(ACCOUNT, addrs(), hashes());
        vm.startPrank(PAYER);

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupWalletAdded(ACCOUNT, id, WALLET_A);
        reg.addWalletToGroup(ACCOUNT, id, WALLET_A);
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupWalletAdded(ACCOUNT, id, ANY_WALLET);
        reg.addWalletToGroup(ACCOUNT, id, ANY_WALLET);

        vm.recordLogs();
        reg.addWalletToGroup(ACCOUNT, id, WALLET_A);
        assertLogCount(address(reg), 0, "adding a present wallet emits nothing");

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupWalletRemoved(ACCOUNT, id, WALLET_A);
        reg.removeWalletFromGroup(ACCOUNT, id, WALLET_A);

        vm.recordLogs();
        reg.removeWalletFromGroup(ACCOUNT, id, WALLET_A);
        reg.removeWalletFromGroup(ACCOUNT, id, WALLET_B); // foreign and absent: a no-op as well
        assertLogCount(address(reg), 0, "removing an absent wallet emits nothing");

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletNotInAccount.selector, ACCOUNT, WALLET_B));
        reg.addWalletToGroup(ACCOUNT, id, WALLET_B);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletNotInAccount.selector, ACCOUNT, WALLET_A2));
        reg.addWalletToGroup(ACCOUNT, id, WALLET_A2);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 5));
        reg.addWalletToGroup(ACCOUNT, 5, WALLET_A);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 5));
        reg.removeWalletFromGroup(ACCOUNT, 5, WALLET_A);
        vm.stopPrank();

        (address[] memory wallets,) = reg.groupMembers(ACCOUNT, id);
        assertEq(wallets, addrs(ANY_WALLET), "wallets");
    }

    function test_GroupMemberWrites_RevertForStranger() public {
        uint256 id = _addGroup(ACCOUNT, addrs(), hashes());
        bytes memory notPayer = abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER);
        vm.startPrank(STRANGER);
        vm.expectRevert(notPayer);
        reg.addActionToGroup(ACCOUNT, id, CID_HASH);
        vm.expectRevert(notPayer);
        reg.removeActionFromGroup(ACCOUNT, id, CID_HASH);
        vm.expectRevert(notPayer);
        reg.addWalletToGroup(ACCOUNT, id, WALLET_A);
        vm.expectRevert(notPayer);
        reg.removeWalletFromGroup(ACCOUNT, id, WALLET_A);
        vm.expectRevert(notPayer);
        reg.removeGroup(ACCOUNT, id);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- group scopes: explicit ids and the 0 wildcard

    /// Creates groups 1 and 2 and a usage key whose group-scoped lists are all `groups`.
    function _scopedKey(uint256[] memory groups) internal {
        _addGroup(ACCOUNT, addrs(), hashes());
        _addGroup(ACCOUNT, addrs(), hashes());
        ILitRegistry.UsageKey memory key = _noScopes();
        key.manageIpfsIdsInGroups = groups;
        key.addPkpToGroups = groups;
        key.removePkpFromGroups = groups;
        key.executeInGroups = groups;
        _addUsageKey(ACCOUNT, USAGE, key);
    }

    function test_ManageIpfsIdsInGroups_ExplicitAndWildcard() public {
        _scopedKey(ids(1));
        vm.startPrank(PAYER);
        reg.addActionToGroup(USAGE, 1, CID_HASH);
        reg.removeActionFromGroup(USAGE, 1, CID_HASH);
        vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.ManageIpfsIdsInGroups, 2));
        reg.addActionToGroup(USAGE, 2, CID_HASH);
        vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.ManageIpfsIdsInGroups, 2));
        reg.removeActionFromGroup(USAGE, 2, CID_HASH);

        reg.updateUsageKey(ACCOUNT, USAGE, _allScopes()); // 0 = every group
        reg.addActionToGroup(USAGE, 2, CID_HASH);
        reg.removeActionFromGroup(USAGE, 2, CID_HASH);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 3));
        reg.addActionToGroup(USAGE, 3, CID_HASH);
        vm.stopPrank();
        // ...including future groups.
        assertEq(_addGroup(ACCOUNT, addrs(), hashes()), 3, "new group");
        vm.prank(PAYER);
        reg.addActionToGroup(USAGE, 3, CID_HASH);
    }

    function test_AddPkpToGroups_ExplicitAndWildcard() public {
        _scopedKey(ids(2));
        vm.startPrank(PAYER);
        reg.addWalletToGroup(USAGE, 2, WALLET_A);
        vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.AddPkpToGroups, 1));
        reg.addWalletToGroup(USAGE, 1, WALLET_A);
        reg.updateUsageKey(ACCOUNT, USAGE, _allScopes());
        reg.addWalletToGroup(USAGE, 1, WALLET_A);
        vm.stopPrank();
        (address[] memory wallets,) = reg.groupMembers(ACCOUNT, 1);
        assertEq(wallets, addrs(WALLET_A), "added with wildcard");
    }

    function test_RemovePkpFromGroups_ExplicitAndWildcard() public {
        _scopedKey(ids(2));
        vm.startPrank(PAYER);
        reg.addWalletToGroup(ACCOUNT, 1, WALLET_A);
        reg.addWalletToGroup(ACCOUNT, 2, WALLET_A);
        reg.removeWalletFromGroup(USAGE, 2, WALLET_A);
        vm.expectRevert(_missingScope(USAGE, ILitRegistry.Scope.RemovePkpFromGroups, 1));
        reg.removeWalletFromGroup(USAGE, 1, WALLET_A);
        reg.updateUsageKey(ACCOUNT, USAGE, _allScopes());
        reg.removeWalletFromGroup(USAGE, 1, WALLET_A);
        vm.stopPrank();
        (address[] memory wallets,) = reg.groupMembers(ACCOUNT, 1);
        assertEq(wallets.length, 0, "removed with wildcard");
    }

    function test_ExecuteInGroups_ExplicitAndWildcard() public {
        _scopedKey(ids(2));
        vm.prank(PAYER);
        reg.addActionToGroup(ACCOUNT, 1, CID_HASH);
        assertFalse(reg.canExecute(USAGE, CID_HASH), "only group 1 has the action, the key has group 2");

        vm.prank(PAYER);
        reg.updateUsageKey(ACCOUNT, USAGE, _executeIn(ids(0)));
        assertTrue(reg.canExecute(USAGE, CID_HASH), "0 = every group, even for an action in none");
        assertTrue(reg.canExecute(USAGE, keccak256("any")), "any action");
    }

    // ================================================================ actions

    function test_AddAction_RegistersAndRenames() public {
        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionSet(ACCOUNT, CID_HASH, CID, "action", "an action");
        _addAction(ACCOUNT, CID);
        assertTrue(reg.actionExists(ACCOUNT, CID_HASH), "exists");
        assertFalse(reg.actionExists(OTHER, CID_HASH), "per account");

        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionSet(ACCOUNT, CID_HASH, CID, "renamed", "again");
        vm.prank(PAYER);
        reg.addAction(ACCOUNT, CID, "renamed", "again");

        (string memory cid, string memory name, string memory description) = reg.getAction(ACCOUNT, CID_HASH);
        assertEq(cid, CID, "cid");
        assertEq(name, "renamed", "name");
        assertEq(description, "again", "description");
        assertEq(reg.actionsOf(ACCOUNT), hashes(CID_HASH), "listed once");
    }

    function test_AddAction_Reverts() public {
        vm.expectRevert(_err(ILitRegistry.EmptyCid.selector));
        _addAction(ACCOUNT, "");

        _addUsageKey(ACCOUNT, USAGE, _allScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountKey.selector, USAGE));
        _addAction(USAGE, CID);

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.addAction(ACCOUNT, CID, "", "");
    }

    function test_UpdateActionMetadata() public {
        _addAction(ACCOUNT, CID);
        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionMetadataUpdated(ACCOUNT, CID_HASH, "n2", "d2");
        vm.prank(PAYER);
        reg.updateActionMetadata(ACCOUNT, CID_HASH, "n2", "d2");
        (string memory cid, string memory name, string memory description) = reg.getAction(ACCOUNT, CID_HASH);
        assertEq(cid, CID, "cid kept");
        assertEq(name, "n2", "name");
        assertEq(description, "d2", "description");
    }

    function test_UpdateActionMetadata_Reverts() public {
        _addAction(ACCOUNT, CID);
        _addUsageKey(ACCOUNT, USAGE, _allScopes());
        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountKey.selector, USAGE));
        reg.updateActionMetadata(USAGE, CID_HASH, "", "");
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.ActionNotFound.selector, ACCOUNT, CID_HASH_2));
        reg.updateActionMetadata(ACCOUNT, CID_HASH_2, "", "");
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.updateActionMetadata(ACCOUNT, CID_HASH, "", "");
    }

    function test_DeleteAction_RemovesItFromEveryGroup() public {
        _addAction(ACCOUNT, CID);
        _addAction(ACCOUNT, CID_2);
        uint256 g1 = _addGroup(ACCOUNT, addrs(WALLET_A), hashes(CID_HASH, CID_HASH_2));
        uint256 g2 = _addGroup(ACCOUNT, addrs(WALLET_A), hashes(CID_HASH));
        uint256 g3 = _addGroup(ACCOUNT, addrs(), hashes(CID_HASH_2));
        uint256 otherGroup = _addGroup(OTHER, addrs(), hashes(CID_HASH));
        _addUsageKey(ACCOUNT, USAGE, _executeIn(ids(g1, g2)));
        assertTrue(reg.canExecute(USAGE, CID_HASH), "before");

        vm.recordLogs();
        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionRemoved(ACCOUNT, CID_HASH);
        vm.prank(PAYER);
        reg.deleteAction(ACCOUNT, CID_HASH);
        assertLogCount(address(reg), 1, "ActionRemoved is the only event");

        assertFalse(reg.actionExists(ACCOUNT, CID_HASH), "gone");
        assertEq(reg.actionsOf(ACCOUNT), hashes(CID_HASH_2), "actionsOf");
        (, bytes32[] memory cids) = reg.groupMembers(ACCOUNT, g1);
        assertEq(cids, hashes(CID_HASH_2), "g1");
        (, cids) = reg.groupMembers(ACCOUNT, g2);
        assertEq(cids.length, 0, "g2");
        (, cids) = reg.groupMembers(ACCOUNT, g3);
        assertEq(cids, hashes(CID_HASH_2), "g3 untouched");
        (, cids) = reg.groupMembers(OTHER, otherGroup);
        assertEq(cids, hashes(CID_HASH), "other accounts untouched");
        assertFalse(reg.canExecute(USAGE, CID_HASH), "no longer executable through groups");
        assertTrue(reg.canExecute(USAGE, CID_HASH_2), "the other action still is");
        (string memory cid,,) = reg.getAction(ACCOUNT, CID_HASH);
        assertEq(cid, "", "record deleted");
    }

    function test_DeleteAction_Reverts() public {
        _addAction(ACCOUNT, CID);
        _addUsageKey(ACCOUNT, USAGE, _allScopes());
        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountKey.selector, USAGE));
        reg.deleteAction(USAGE, CID_HASH);
        reg.deleteAction(ACCOUNT, CID_HASH);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.ActionNotFound.selector, ACCOUNT, CID_HASH));
        reg.deleteAction(ACCOUNT, CID_HASH);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.deleteAction(ACCOUNT, CID_HASH);
    }

    // ================================================================ credits

    function test_CreditAccount_OncePerPayment() public {
        bytes32 payment = keccak256("pi_123");
        vm.expectEmit(address(reg));
        emit ILitRegistry.CreditAdded(ACCOUNT, payment, 500, 500);
        vm.prank(PAYER);
        reg.creditAccount(ACCOUNT, 500, payment);
        assertEq(reg.balanceOf(ACCOUNT), 500, "balance");
        assertTrue(reg.paymentCredited(payment), "recorded");

        // Refused whichever payer sends it again, and for whichever account.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.PaymentAlreadyCredited.selector, payment));
        vm.prank(PAYER_2);
        reg.creditAccount(ACCOUNT, 500, payment);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.PaymentAlreadyCredited.selector, payment));
        vm.prank(PAYER);
        reg.creditAccount(OTHER, 500, payment);
        assertEq(reg.balanceOf(ACCOUNT), 500, "credited once");

        vm.expectEmit(address(reg));
        emit ILitRegistry.CreditAdded(ACCOUNT, keccak256("pi_456"), 250, 750);
        vm.prank(PAYER_2);
        reg.creditAccount(ACCOUNT, 250, keccak256("pi_456"));
    }

    function test_CreditAccount_Reverts() public {
        bytes32 payment = keccak256("pi");
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.creditAccount(ACCOUNT, 1, payment);

        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, UNKNOWN));
        reg.creditAccount(UNKNOWN, 1, payment);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, bytes32(0)));
        reg.creditAccount(bytes32(0), 1, payment);
        reg.addUsageKey(ACCOUNT, USAGE, _noScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, USAGE));
        reg.creditAccount(USAGE, 1, payment); // a usage key hash is not an account
        vm.expectRevert(_err(ILitRegistry.ZeroAmount.selector));
        reg.creditAccount(ACCOUNT, 0, payment);
        uint256 tooBig = uint256(type(int256).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintToInt.selector, tooBig));
        reg.creditAccount(ACCOUNT, tooBig, payment);
        vm.stopPrank();
        assertFalse(reg.paymentCredited(payment), "nothing recorded");
    }

    function test_ChargeUsage_SettlesBatchOnce() public {
        vm.prank(PAYER);
        reg.creditAccount(ACCOUNT, 100, keccak256("pi"));

        bytes32 settlement = keccak256("settlement 1");
        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageCharged(settlement, ACCOUNT, 30, 70);
        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageCharged(settlement, OTHER, 5, -5);
        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageCharged(settlement, ACCOUNT, 80, -10);
        vm.prank(PAYER);
        reg.chargeUsage(settlement, hashes(ACCOUNT, OTHER, ACCOUNT), ids(30, 5, 80));

        assertEq(reg.balanceOf(ACCOUNT), -10, "may go negative");
        assertEq(reg.balanceOf(OTHER), -5, "other");
        assertTrue(reg.settlementApplied(settlement), "recorded");

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.SettlementAlreadyApplied.selector, settlement));
        vm.prank(PAYER_2);
        reg.chargeUsage(settlement, hashes(ACCOUNT), ids(1));
        assertEq(reg.balanceOf(ACCOUNT), -10, "charged once");
    }

    function test_ChargeUsage_EmptyBatchAndZeroAmounts() public {
        vm.startPrank(PAYER);
        vm.recordLogs();
        reg.chargeUsage(keccak256("empty"), hashes(), ids());
        assertLogCount(address(reg), 0, "empty batch emits nothing");
        assertTrue(reg.settlementApplied(keccak256("empty")), "but is recorded");

        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageCharged(keccak256("zero"), ACCOUNT, 0, 0);
        reg.chargeUsage(keccak256("zero"), hashes(ACCOUNT), ids(0));
        vm.stopPrank();
    }

    function test_ChargeUsage_Reverts() public {
        bytes32 settlement = keccak256("s");
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, STRANGER));
        vm.prank(STRANGER);
        reg.chargeUsage(settlement, hashes(ACCOUNT), ids(1));

        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.LengthMismatch.selector, 2, 1));
        reg.chargeUsage(settlement, hashes(ACCOUNT, OTHER), ids(1));
        // One unknown account reverts the whole batch.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, UNKNOWN));
        reg.chargeUsage(settlement, hashes(ACCOUNT, UNKNOWN), ids(1, 1));
        vm.stopPrank();
        assertEq(reg.balanceOf(ACCOUNT), 0, "nothing charged");
        assertFalse(reg.settlementApplied(settlement), "not recorded");
    }

    /// Balance arithmetic: credits add, charges subtract, whatever the order and sign.
    function testFuzz_CreditsAndCharges(uint64[4] calldata credits, uint64[4] calldata charges) public {
        int256 expected;
        for (uint256 i; i < 4; ++i) {
            if (credits[i] > 0) {
                vm.prank(PAYER);
                reg.creditAccount(ACCOUNT, credits[i], keccak256(abi.encode("payment", i)));
                expected += int256(uint256(credits[i]));
            }
            vm.prank(PAYER_2);
            reg.chargeUsage(keccak256(abi.encode("settlement", i)), hashes(ACCOUNT, OTHER), ids(charges[i], 1));
            expected -= int256(uint256(charges[i]));
            assertEq(reg.balanceOf(ACCOUNT), expected, "running balance");
        }
        assertEq(reg.balanceOf(OTHER), -4, "other account charged independently");
    }

    /// The key index holds each hash once, across accounts and usage keys.
    function testFuzz_KeyIndexUniqueness(bytes32 a, bytes32 b) public {
        vm.assume(a != 0 && b != 0 && a != b);
        vm.assume(reg.accountOfKey(a) == 0 && reg.accountOfKey(b) == 0);

        vm.prank(PAYER);
        reg.newAccount(a, "", "", address(0xC0), keccak256("dc"));
        _addUsageKey(a, b, _noScopes());
        assertEq(reg.accountOfKey(a), a, "account");
        assertEq(reg.accountOfKey(b), a, "usage key");

        vm.startPrank(PAYER);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountAlreadyExists.selector, b));
        reg.newAccount(b, "", "", address(0xC1), keccak256("dc1"));
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyAlreadyExists.selector, b));
        reg.addUsageKey(ACCOUNT, b, _noScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyAlreadyExists.selector, a));
        reg.addUsageKey(ACCOUNT, a, _noScopes());
        vm.stopPrank();
    }

    // ================================================================ permissions truth table

    function test_CanExecute_TruthTable() public {
        bytes32 unlisted = keccak256("unlisted action");
        uint256 g1 = _addGroup(ACCOUNT, addrs(), hashes(CID_HASH));
        uint256 g2 = _addGroup(ACCOUNT, addrs(), hashes(ANY_CID));
        uint256 g3 = _addGroup(ACCOUNT, addrs(), hashes(CID_HASH_2));
        for (uint256 i; i < 3; ++i) {
            _addGroup(OTHER, addrs(), hashes());
        }
        uint256 otherGroup = _addGroup(OTHER, addrs(), hashes(ANY_CID)); // id 4: no such group in ACCOUNT
        _addUsageKey(ACCOUNT, keccak256("k none"), _noScopes());
        _addUsageKey(ACCOUNT, keccak256("k all"), _executeIn(ids(0)));
        _addUsageKey(ACCOUNT, keccak256("k g1"), _executeIn(ids(g1)));
        _addUsageKey(ACCOUNT, keccak256("k g2"), _executeIn(ids(g2)));
        _addUsageKey(ACCOUNT, keccak256("k g3+g1"), _executeIn(ids(g3, g1)));
        // Missing and foreign group ids cannot be listed at all.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 99));
        _addUsageKey(ACCOUNT, keccak256("k missing"), _executeIn(ids(99)));
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, otherGroup));
        _addUsageKey(ACCOUNT, keccak256("k missing"), _executeIn(ids(otherGroup)));

        // The account key may run anything, registered or not.
        assertTrue(reg.canExecute(ACCOUNT, CID_HASH), "account key");
        assertTrue(reg.canExecute(ACCOUNT, unlisted), "account key, any action");
        // Unknown keys never.
        assertFalse(reg.canExecute(UNKNOWN, CID_HASH), "unknown key");
        assertFalse(reg.canExecute(bytes32(0), CID_HASH), "zero key");
        // Usage keys.
        assertFalse(reg.canExecute(keccak256("k none"), CID_HASH), "no groups");
        assertTrue(reg.canExecute(keccak256("k all"), unlisted), "0 wildcard");
        assertTrue(reg.canExecute(keccak256("k g1"), CID_HASH), "group with the cid");
        assertFalse(reg.canExecute(keccak256("k g1"), CID_HASH_2), "group without the cid");
        assertTrue(reg.canExecute(keccak256("k g2"), unlisted), "group with the zero hash");
        assertTrue(reg.canExecute(keccak256("k g3+g1"), CID_HASH), "second listed group");
        assertTrue(reg.canExecute(keccak256("k g3+g1"), CID_HASH_2), "first listed group");
        assertFalse(reg.canExecute(keccak256("k g3+g1"), unlisted), "in neither group");

        // A removed group grants nothing any more.
        vm.prank(PAYER);
        reg.removeGroup(ACCOUNT, g2);
        assertFalse(reg.canExecute(keccak256("k g2"), unlisted), "removed group");
    }

    function test_CanUseWallet_TruthTable() public {
        _registerWallet(ACCOUNT, WALLET_A2, DERIV_A2);
        bytes32 unlisted = keccak256("unlisted action");
        uint256 cidAndWallet = _addGroup(ACCOUNT, addrs(WALLET_A), hashes(CID_HASH));
        uint256 cidAnyWallet = _addGroup(ACCOUNT, addrs(ANY_WALLET), hashes(CID_HASH));
        uint256 anyCidWallet = _addGroup(ACCOUNT, addrs(WALLET_A2), hashes(ANY_CID));
        uint256 cidNoWallet = _addGroup(ACCOUNT, addrs(), hashes(CID_HASH_2));
        uint256 walletNoCid = _addGroup(ACCOUNT, addrs(WALLET_A2), hashes());
        _addUsageKey(ACCOUNT, keccak256("all"), _executeIn(ids(0)));
        _addUsageKey(ACCOUNT, keccak256("cw"), _executeIn(ids(cidAndWallet)));
        _addUsageKey(ACCOUNT, keccak256("c*"), _executeIn(ids(cidAnyWallet)));
        _addUsageKey(ACCOUNT, keccak256("*w"), _executeIn(ids(anyCidWallet)));
        _addUsageKey(ACCOUNT, keccak256("split"), _executeIn(ids(cidNoWallet, walletNoCid)));

        // Account key: any action, own wallets only.
        assertTrue(reg.canUseWallet(ACCOUNT, unlisted, WALLET_A), "account key, own wallet");
        assertTrue(reg.canUseWallet(ACCOUNT, unlisted, WALLET_A2), "account key, second wallet");
        assertFalse(reg.canUseWallet(ACCOUNT, CID_HASH, WALLET_B), "account key, foreign wallet");
        assertFalse(reg.canUseWallet(ACCOUNT, CID_HASH, address(0xDEAD)), "unregistered wallet");
        assertFalse(reg.canUseWallet(ACCOUNT, CID_HASH, address(0)), "zero address is not a wallet");
        assertFalse(reg.canUseWallet(UNKNOWN, CID_HASH, WALLET_A), "unknown key");
        // 0 wildcard: every own wallet, no foreign one.
        assertTrue(reg.canUseWallet(keccak256("all"), unlisted, WALLET_A2), "wildcard");
        assertFalse(reg.canUseWallet(keccak256("all"), unlisted, WALLET_B), "wildcard, foreign wallet");
        // Group with the cid and the wallet.
        assertTrue(reg.canUseWallet(keccak256("cw"), CID_HASH, WALLET_A), "cid and wallet");
        assertFalse(reg.canUseWallet(keccak256("cw"), CID_HASH, WALLET_A2), "wallet not in group");
        assertFalse(reg.canUseWallet(keccak256("cw"), CID_HASH_2, WALLET_A), "cid not in group");
        // Zero address = any wallet of the account.
        assertTrue(reg.canUseWallet(keccak256("c*"), CID_HASH, WALLET_A2), "any wallet");
        assertFalse(reg.canUseWallet(keccak256("c*"), CID_HASH, WALLET_B), "any wallet, but not a foreign one");
        assertFalse(reg.canUseWallet(keccak256("c*"), CID_HASH_2, WALLET_A), "any wallet, wrong cid");
        // Zero hash = any action.
        assertTrue(reg.canUseWallet(keccak256("*w"), unlisted, WALLET_A2), "any cid");
        assertFalse(reg.canUseWallet(keccak256("*w"), unlisted, WALLET_A), "any cid, wallet not in group");
        // Cid and wallet must be in the same group.
        assertFalse(reg.canUseWallet(keccak256("split"), CID_HASH_2, WALLET_A2), "split across groups");
        assertTrue(reg.canExecute(keccak256("split"), CID_HASH_2), "execute alone is granted");
    }

    // ================================================================ views

    function test_Views_DefaultsForUnknownObjects() public view {
        assertEq(reg.nodeConfig(), address(config), "nodeConfig");
        assertFalse(reg.accountExists(UNKNOWN), "unknown account");
        assertFalse(reg.accountExists(bytes32(0)), "zero account");
        assertEq(reg.accountOfKey(UNKNOWN), bytes32(0), "unknown key");
        (address admin, bool selfManaged) = reg.accountAdmin(UNKNOWN);
        assertEq(admin, address(0), "admin");
        assertFalse(selfManaged, "selfManaged");
        (bytes32 account, bytes32 derivationId) = reg.walletAccount(address(0xDEAD));
        assertEq(account, bytes32(0), "wallet account");
        assertEq(derivationId, bytes32(0), "derivation id");
        assertFalse(reg.groupExists(ACCOUNT, 1), "group");
        (address[] memory wallets, bytes32[] memory cids) = reg.groupMembers(ACCOUNT, 1);
        assertEq(wallets.length + cids.length, 0, "members");
        assertFalse(reg.actionExists(ACCOUNT, CID_HASH), "action");
        assertEq(reg.balanceOf(UNKNOWN), 0, "balance");
        assertFalse(reg.paymentCredited(keccak256("p")), "payment");
        assertFalse(reg.settlementApplied(keccak256("s")), "settlement");
        assertEq(reg.usageKeysOf(ACCOUNT).length, 0, "usage keys");
        assertEq(reg.groupIdsOf(ACCOUNT).length, 0, "group ids");
        assertEq(reg.actionsOf(ACCOUNT).length, 0, "actions");
    }
}
