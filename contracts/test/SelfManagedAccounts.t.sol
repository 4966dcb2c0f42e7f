// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm, vm} from "./Vm.sol";
import {TestBase} from "./TestBase.sol";
import {LitRegistry} from "../LitRegistry.sol";
import {NodeConfig} from "../NodeConfig.sol";
import {ILitRegistry} from "../ILitRegistry.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// Self-managed accounts: created by a wallet (`newSelfManagedAccount`) or converted
/// (`convertToSelfManaged`), written by their admin with the account id as caller key, and given
/// wallets only with a node signer's EIP-712 signature (`registerWalletWithNodeSignature`).
contract SelfManagedAccountsTest is TestBase {
    address internal constant PAYER = address(0xFA1);
    address internal constant STRANGER = address(0xBAD);
    address internal constant ADMIN = address(0xAD1);
    address internal constant ADMIN_2 = address(0xAD2);

    uint256 internal constant SIGNER_KEY = 0x5167e4;
    uint256 internal constant OTHER_KEY = 0x07e4;
    /// secp256k1 group order (for a high-s, i.e. malleable, signature).
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    bytes32 internal constant SALT = keccak256("salt 1");
    bytes32 internal constant SALT_2 = keccak256("salt 2");
    /// A node-managed account (account key hash).
    bytes32 internal constant NODE_ACCOUNT = keccak256("account key A");
    bytes32 internal constant USAGE = keccak256("usage key 1");
    bytes32 internal constant UNKNOWN = keccak256("no such account");

    address internal constant NODE_WALLET = address(0xA0);
    bytes32 internal constant NODE_DERIV = keccak256("derivation A");
    address internal constant PKP = address(0x9C1);
    address internal constant PKP_2 = address(0x9C2);
    bytes32 internal constant DERIV = keccak256("minted derivation 1");
    bytes32 internal constant DERIV_2 = keccak256("minted derivation 2");

    string internal constant CID = "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6";
    bytes32 internal constant CID_HASH = keccak256(bytes(CID));

    NodeConfig internal config;
    LitRegistry internal reg;
    address internal signer;
    /// A self-managed account of ADMIN (salt SALT), without wallets.
    bytes32 internal account;
    uint256 internal deadline;

    function setUp() public {
        vm.warp(1_700_000_000);
        config = new NodeConfig(address(this));
        config.addPayer(PAYER);
        signer = vm.addr(SIGNER_KEY);
        config.addSigner(signer);
        reg = new LitRegistry(address(config));

        vm.prank(PAYER);
        reg.newAccount(NODE_ACCOUNT, "Node account", "node-managed", NODE_WALLET, NODE_DERIV);
        vm.prank(ADMIN);
        account = reg.newSelfManagedAccount(SALT, "Mine", "self-managed");
        deadline = block.timestamp + 600;
    }

    // ================================================================ helpers

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// A node signature by `key` over the registration (account, wallet, derivationId, deadline_).
    function _nodeSig(uint256 key, bytes32 account_, address wallet, bytes32 derivationId, uint256 deadline_)
        internal
        view
        returns (bytes memory)
    {
        return _sign(key, reg.walletRegistrationDigest(account_, wallet, derivationId, deadline_));
    }

    function _register(address sender, bytes32 account_, address wallet, bytes32 derivationId, bytes memory sig)
        internal
    {
        vm.prank(sender);
        reg.registerWalletWithNodeSignature(account_, wallet, derivationId, "pkp", "minted", deadline, sig);
    }

    /// What `registerWalletWithNodeSignature(account_, wallet, derivationId, …, deadline_, sig)` recovers.
    function _recovered(bytes32 account_, address wallet, bytes32 derivationId, uint256 deadline_, bytes memory sig)
        internal
        view
        returns (address recovered)
    {
        (recovered,,) = ECDSA.tryRecover(reg.walletRegistrationDigest(account_, wallet, derivationId, deadline_), sig);
    }

    function _invalidSig(address recovered) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ILitRegistry.InvalidNodeSignature.selector, recovered);
    }

    function _notAdmin(bytes32 account_, address sender) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ILitRegistry.NotAccountAdmin.selector, account_, sender);
    }

    function _noScopes() internal pure returns (ILitRegistry.UsageKey memory key) {
        key.name = "usage";
        key.description = "a usage key";
    }

    // ================================================================ ids and digest

    function test_SelfManagedAccountId_IsTheDocumentedHash() public view {
        bytes32 expected = keccak256(abi.encode(keccak256("lit-node/self-managed-account/v1"), ADMIN, SALT));
        assertEq(reg.selfManagedAccountId(ADMIN, SALT), expected, "id");
        assertEq(account, expected, "the id newSelfManagedAccount returned");
        assertTrue(reg.selfManagedAccountId(ADMIN, SALT_2) != expected, "another salt, another id");
        assertTrue(reg.selfManagedAccountId(ADMIN_2, SALT) != expected, "another admin, another id");
    }

    function test_WalletRegistrationDigest_IsTheDocumentedEip712Digest() public view {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("LitRegistry"),
                keccak256("1"),
                block.chainid,
                address(reg)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("WalletRegistration(bytes32 account,address wallet,bytes32 derivationId,uint256 deadline)"),
                account,
                PKP,
                DERIV,
                deadline
            )
        );
        bytes32 expected = keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
        assertEq(reg.walletRegistrationDigest(account, PKP, DERIV, deadline), expected, "digest");
    }

    function test_WalletRegistrationDigest_FollowsTheChainId() public {
        bytes memory signedBeforeFork = _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline);
        vm.chainId(999);
        bytes32 domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("LitRegistry"),
                keccak256("1"),
                uint256(999),
                address(reg)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("WalletRegistration(bytes32 account,address wallet,bytes32 derivationId,uint256 deadline)"),
                account,
                PKP,
                DERIV,
                deadline
            )
        );
        assertEq(
            reg.walletRegistrationDigest(account, PKP, DERIV, deadline),
            keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash)),
            "digest for the new chain id"
        );

        // A signature for the other chain id is refused; one for this chain id goes through.
        vm.expectRevert(_invalidSig(_recovered(account, PKP, DERIV, deadline, signedBeforeFork)));
        _register(ADMIN, account, PKP, DERIV, signedBeforeFork);
        _register(ADMIN, account, PKP, DERIV, _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline));
    }

    // ================================================================ newSelfManagedAccount

    function test_NewSelfManagedAccount_CreatesAnAccountAdministeredByTheCaller() public {
        bytes32 expected = reg.selfManagedAccountId(ADMIN_2, SALT);
        vm.recordLogs();
        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountCreated(expected, "Wallet's own", "created by a wallet", ADMIN_2, true);
        vm.prank(ADMIN_2);
        bytes32 created = reg.newSelfManagedAccount(SALT, "Wallet's own", "created by a wallet");
        assertLogCount(address(reg), 1, "AccountCreated only: no default wallet");

        assertEq(created, expected, "returned id");
        assertTrue(reg.accountExists(created), "exists");
        assertEq(reg.accountOfKey(created), created, "the id is the account's key in the key index");
        (address admin, bool selfManaged) = reg.accountAdmin(created);
        assertEq(admin, ADMIN_2, "admin = caller");
        assertTrue(selfManaged, "self-managed");
        (string memory name, string memory description) = reg.accountMetadata(created);
        assertEq(name, "Wallet's own", "name");
        assertEq(description, "created by a wallet", "description");
        assertEq(reg.walletsOf(created).length, 0, "no wallet yet");
        assertEq(reg.balanceOf(created), 0, "no balance yet");
    }

    function test_NewSelfManagedAccount_TwoSaltsTwoAccounts() public {
        bytes32 second = reg.selfManagedAccountId(ADMIN, SALT_2);
        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountCreated(second, "Second", "", ADMIN, true);
        vm.prank(ADMIN);
        assertEq(reg.newSelfManagedAccount(SALT_2, "Second", ""), second, "second id");

        assertTrue(second != account, "distinct ids");
        assertTrue(reg.accountExists(account) && reg.accountExists(second), "both exist");
        (address admin,) = reg.accountAdmin(second);
        assertEq(admin, ADMIN, "same admin");

        // Each is its own account: a group of one is not a group of the other.
        vm.prank(ADMIN);
        reg.addGroup(account, "g", "", addrs(), hashes());
        assertTrue(reg.groupExists(account, 1), "group in the first");
        assertFalse(reg.groupExists(second, 1), "not in the second");

        // Another wallet may use the same salt: it gets its own id.
        vm.prank(ADMIN_2);
        bytes32 theirs = reg.newSelfManagedAccount(SALT, "Theirs", "");
        assertEq(theirs, reg.selfManagedAccountId(ADMIN_2, SALT), "their id");
        assertTrue(theirs != account, "not the first wallet's account");
    }

    function test_NewSelfManagedAccount_RevertsOnASaltUsedTwice() public {
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountAlreadyExists.selector, account));
        vm.prank(ADMIN);
        reg.newSelfManagedAccount(SALT, "Again", "same salt");

        (string memory name,) = reg.accountMetadata(account);
        assertEq(name, "Mine", "the first account is untouched");
    }

    function test_NewSelfManagedAccount_RevertsWhenTheIdIsAUsageKey() public {
        // Not reachable with real API keys (no key hashes to a 96-byte preimage); the key index
        // stays unique whichever comes first.
        bytes32 id = reg.selfManagedAccountId(ADMIN_2, SALT);
        vm.prank(PAYER);
        reg.addUsageKey(NODE_ACCOUNT, id, _noScopes());
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountAlreadyExists.selector, id));
        vm.prank(ADMIN_2);
        reg.newSelfManagedAccount(SALT, "n", "d");

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyAlreadyExists.selector, account));
        vm.prank(PAYER);
        reg.addUsageKey(NODE_ACCOUNT, account, _noScopes());
    }

    // ================================================================ management by the admin

    function test_SelfManagedAccount_AdminWritesWithTheAccountIdAsCallerKey() public {
        _register(ADMIN, account, PKP, DERIV, _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline));
        vm.startPrank(ADMIN);

        ILitRegistry.UsageKey memory key = _noScopes();
        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyAdded(account, USAGE, key);
        reg.addUsageKey(account, USAGE, key);
        assertEq(reg.accountOfKey(USAGE), account, "usage key resolves to the account");

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(account, 1, "group", "a group", addrs(), hashes());
        assertEq(reg.addGroup(account, "group", "a group", addrs(), hashes()), 1, "group id");

        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionSet(account, CID_HASH, CID, "action", "an action");
        reg.addAction(account, CID, "action", "an action");

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupWalletAdded(account, 1, PKP);
        reg.addWalletToGroup(account, 1, PKP);

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupActionAdded(account, 1, CID_HASH);
        reg.addActionToGroup(account, 1, CID_HASH);
        (address[] memory wallets, bytes32[] memory cidHashes) = reg.groupMembers(account, 1);
        assertEq(wallets, addrs(PKP), "group wallets");
        assertEq(cidHashes, hashes(CID_HASH), "group actions");
        assertTrue(reg.canUseWallet(account, CID_HASH, PKP), "the account id has the account key's rights");

        key.executeInGroups = ids(1);
        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyUpdated(account, USAGE, key);
        reg.updateUsageKey(account, USAGE, key);
        assertTrue(reg.canUseWallet(USAGE, CID_HASH, PKP), "usage key executes in group 1");

        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyMetadataUpdated(account, USAGE, "renamed", "key");
        reg.updateUsageKeyMetadata(account, USAGE, "renamed", "key");

        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionMetadataUpdated(account, CID_HASH, "renamed", "action");
        reg.updateActionMetadata(account, CID_HASH, "renamed", "action");

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupWalletRemoved(account, 1, PKP);
        reg.removeWalletFromGroup(account, 1, PKP);

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupActionRemoved(account, 1, CID_HASH);
        reg.removeActionFromGroup(account, 1, CID_HASH);

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupUpdated(account, 1, "group", "updated", addrs(PKP), hashes(CID_HASH));
        reg.updateGroup(account, 1, "group", "updated", addrs(PKP), hashes(CID_HASH));

        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionRemoved(account, CID_HASH);
        reg.deleteAction(account, CID_HASH);

        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupRemoved(account, 1);
        reg.removeGroup(account, 1);

        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyRemoved(account, USAGE);
        reg.removeUsageKey(account, USAGE);
        vm.stopPrank();

        // Usage keys of the account stay scoped like any usage key, even for the admin.
        vm.prank(ADMIN);
        reg.addUsageKey(account, USAGE, _noScopes());
        vm.expectRevert(
            abi.encodeWithSelector(ILitRegistry.MissingScope.selector, USAGE, ILitRegistry.Scope.CreateGroups, 0)
        );
        vm.prank(ADMIN);
        reg.addGroup(USAGE, "g", "", addrs(), hashes());
    }

    function test_SelfManagedAccount_RefusesPayersAndOtherAddresses() public {
        _register(ADMIN, account, PKP, DERIV, _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline));
        vm.prank(ADMIN);
        reg.addGroup(account, "g", "", addrs(), hashes());

        address[3] memory outsiders = [PAYER, STRANGER, ADMIN_2];
        for (uint256 i; i < outsiders.length; ++i) {
            address outsider = outsiders[i];
            vm.startPrank(outsider);
            vm.expectRevert(_notAdmin(account, outsider));
            reg.addUsageKey(account, USAGE, _noScopes());
            vm.expectRevert(_notAdmin(account, outsider));
            reg.addGroup(account, "g", "", addrs(), hashes());
            vm.expectRevert(_notAdmin(account, outsider));
            reg.addAction(account, CID, "n", "d");
            vm.expectRevert(_notAdmin(account, outsider));
            reg.addWalletToGroup(account, 1, PKP);
            vm.expectRevert(_notAdmin(account, outsider));
            reg.registerWallet(account, PKP_2, DERIV_2, "", "");
            vm.expectRevert(_notAdmin(account, outsider));
            reg.convertToSelfManaged(account, outsider);
            vm.stopPrank();
        }

        // An admin of another self-managed account cannot write this one either.
        vm.prank(ADMIN_2);
        reg.newSelfManagedAccount(SALT, "Theirs", "");
        vm.expectRevert(_notAdmin(account, ADMIN_2));
        vm.prank(ADMIN_2);
        reg.addGroup(account, "g", "", addrs(), hashes());

        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AlreadySelfManaged.selector, account));
        vm.prank(ADMIN);
        reg.convertToSelfManaged(account, ADMIN_2);

        // Credits stay with the payer set.
        vm.prank(PAYER);
        reg.creditAccount(account, 250, keccak256("payment"));
        assertEq(reg.balanceOf(account), 250, "credited");
    }

    // ================================================================ registerWalletWithNodeSignature

    function test_RegisterWalletWithNodeSignature_RegistersTheMintedWallet() public {
        bytes memory sig = _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline);
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(account, PKP, DERIV, "pkp", "minted");
        _register(ADMIN, account, PKP, DERIV, sig);

        (bytes32 owner, bytes32 derivationId) = reg.walletAccount(PKP);
        assertEq(owner, account, "wallet account");
        assertEq(derivationId, DERIV, "derivation id");
        assertEq(reg.walletsOf(account), addrs(PKP), "walletsOf");
        (string memory name, string memory description) = reg.walletMetadata(PKP);
        assertEq(name, "pkp", "name");
        assertEq(description, "minted", "description");

        // A deadline equal to the block time is still valid (inclusive).
        uint256 now_ = block.timestamp;
        bytes memory sig2 = _nodeSig(SIGNER_KEY, account, PKP_2, DERIV_2, now_);
        vm.prank(ADMIN);
        reg.registerWalletWithNodeSignature(account, PKP_2, DERIV_2, "", "", now_, sig2);
        assertEq(reg.walletsOf(account), addrs(PKP, PKP_2), "registration order");

        // Replaying a signature registers nothing twice.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletAlreadyRegistered.selector, PKP));
        _register(ADMIN, account, PKP, DERIV, sig);
    }

    function test_RegisterWalletWithNodeSignature_CheckOrder() public {
        bytes memory garbage = hex"00";
        bytes memory sig;

        // 1. AccountNotFound, whoever sends what.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, UNKNOWN));
        vm.prank(STRANGER);
        reg.registerWalletWithNodeSignature(UNKNOWN, address(0), 0, "", "", 0, garbage);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, bytes32(0)));
        _register(ADMIN, bytes32(0), PKP, DERIV, garbage);
        // A usage key is not an account.
        vm.prank(ADMIN);
        reg.addUsageKey(account, USAGE, _noScopes());
        bytes memory forUsageKey = _nodeSig(SIGNER_KEY, USAGE, PKP, DERIV, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, USAGE));
        _register(ADMIN, USAGE, PKP, DERIV, forUsageKey);

        // 2. NotSelfManaged: node-managed accounts, even for a payer with a valid signature.
        bytes memory forNode = _nodeSig(SIGNER_KEY, NODE_ACCOUNT, PKP, DERIV, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotSelfManaged.selector, NODE_ACCOUNT));
        _register(PAYER, NODE_ACCOUNT, PKP, DERIV, forNode);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotSelfManaged.selector, NODE_ACCOUNT));
        _register(STRANGER, NODE_ACCOUNT, PKP, DERIV, forNode);

        // 3. NotAccountAdmin, even with a valid signature.
        bytes memory valid = _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline);
        vm.expectRevert(_notAdmin(account, PAYER));
        _register(PAYER, account, PKP, DERIV, valid);
        vm.expectRevert(_notAdmin(account, STRANGER));
        _register(STRANGER, account, PKP, DERIV, valid);
        vm.expectRevert(_notAdmin(account, signer));
        _register(signer, account, PKP, DERIV, valid);

        // 4. RegistrationExpired before the signature.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.RegistrationExpired.selector, block.timestamp - 1));
        vm.prank(ADMIN);
        reg.registerWalletWithNodeSignature(account, PKP, DERIV, "", "", block.timestamp - 1, garbage);

        // 5. InvalidNodeSignature before the wallet checks.
        vm.expectRevert(_invalidSig(address(0)));
        _register(ADMIN, account, address(0), 0, garbage);
        vm.expectRevert(_invalidSig(address(0)));
        _register(ADMIN, account, NODE_WALLET, NODE_DERIV, garbage);

        // 6. The wallet checks of registerWallet, with valid signatures (each computed before
        // expectRevert: walletRegistrationDigest is a call too).
        sig = _nodeSig(SIGNER_KEY, account, address(0), 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.ZeroWalletAddress.selector));
        _register(ADMIN, account, address(0), 0, sig);
        sig = _nodeSig(SIGNER_KEY, account, PKP, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.ZeroDerivationId.selector));
        _register(ADMIN, account, PKP, 0, sig);
        sig = _nodeSig(SIGNER_KEY, account, NODE_WALLET, NODE_DERIV, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.WalletAlreadyRegistered.selector, NODE_WALLET));
        _register(ADMIN, account, NODE_WALLET, NODE_DERIV, sig);
        sig = _nodeSig(SIGNER_KEY, account, PKP, NODE_DERIV, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.DerivationIdAlreadyUsed.selector, NODE_DERIV));
        _register(ADMIN, account, PKP, NODE_DERIV, sig);

        // And the valid one goes through.
        _register(ADMIN, account, PKP, DERIV, valid);
    }

    function test_RegisterWalletWithNodeSignature_RefusesSignaturesNotForThisRegistration() public {
        // By a key that is not a NodeConfig signer.
        bytes memory sig = _nodeSig(OTHER_KEY, account, PKP, DERIV, deadline);
        vm.expectRevert(_invalidSig(vm.addr(OTHER_KEY)));
        _register(ADMIN, account, PKP, DERIV, sig);

        // For another account (of the same admin).
        vm.prank(ADMIN);
        bytes32 second = reg.newSelfManagedAccount(SALT_2, "Second", "");
        sig = _nodeSig(SIGNER_KEY, second, PKP, DERIV, deadline);
        vm.expectRevert(_invalidSig(_recovered(account, PKP, DERIV, deadline, sig)));
        _register(ADMIN, account, PKP, DERIV, sig);

        // For another wallet.
        sig = _nodeSig(SIGNER_KEY, account, PKP_2, DERIV, deadline);
        vm.expectRevert(_invalidSig(_recovered(account, PKP, DERIV, deadline, sig)));
        _register(ADMIN, account, PKP, DERIV, sig);

        // For another derivation id.
        sig = _nodeSig(SIGNER_KEY, account, PKP, DERIV_2, deadline);
        vm.expectRevert(_invalidSig(_recovered(account, PKP, DERIV, deadline, sig)));
        _register(ADMIN, account, PKP, DERIV, sig);

        // With a tampered (extended) deadline.
        sig = _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline);
        vm.expectRevert(_invalidSig(_recovered(account, PKP, DERIV, deadline + 3600, sig)));
        vm.prank(ADMIN);
        reg.registerWalletWithNodeSignature(account, PKP, DERIV, "pkp", "minted", deadline + 3600, sig);

        // For another registry (the EIP-712 domain binds the verifying contract).
        LitRegistry otherRegistry = new LitRegistry(address(config));
        sig = _sign(SIGNER_KEY, otherRegistry.walletRegistrationDigest(account, PKP, DERIV, deadline));
        vm.expectRevert(_invalidSig(_recovered(account, PKP, DERIV, deadline, sig)));
        _register(ADMIN, account, PKP, DERIV, sig);

        // Nothing was registered; the right signature still works.
        assertEq(reg.walletsOf(account).length, 0, "no wallet");
        _register(ADMIN, account, PKP, DERIV, _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline));
    }

    function test_RegisterWalletWithNodeSignature_RefusesWithoutARegisteredSigner() public {
        bytes memory sig = _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline);
        config.removeSigner(signer);
        vm.expectRevert(_invalidSig(signer));
        _register(ADMIN, account, PKP, DERIV, sig);

        // Signed before the signer was added: valid once it is (the set is read at call time).
        config.addSigner(signer);
        _register(ADMIN, account, PKP, DERIV, sig);
    }

    function test_RegisterWalletWithNodeSignature_RefusesAfterTheDeadline() public {
        bytes memory sig = _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.RegistrationExpired.selector, deadline));
        _register(ADMIN, account, PKP, DERIV, sig);

        vm.warp(deadline);
        _register(ADMIN, account, PKP, DERIV, sig);
    }

    function test_RegisterWalletWithNodeSignature_RefusesMalformedSignatures() public {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(SIGNER_KEY, reg.walletRegistrationDigest(account, PKP, DERIV, deadline));
        bytes memory sig = abi.encodePacked(r, s, v);

        bytes[] memory malformed = new bytes[](7);
        malformed[0] = "";
        malformed[1] = abi.encodePacked(r, s); // 64 bytes (EIP-2098 compact form is not accepted)
        malformed[2] = abi.encodePacked(sig, uint8(0)); // 66 bytes
        malformed[3] = abi.encodePacked(r, s, uint8(0)); // v not 27/28
        malformed[4] = abi.encodePacked(r, s, uint8(v - 27)); // v as 0/1
        malformed[5] = abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), uint8(v == 27 ? 28 : 27)); // high s
        malformed[6] = abi.encodePacked(bytes32(0), bytes32(0), v); // r = s = 0
        for (uint256 i; i < malformed.length; ++i) {
            vm.expectRevert(_invalidSig(address(0)));
            _register(ADMIN, account, PKP, DERIV, malformed[i]);
        }
        _register(ADMIN, account, PKP, DERIV, sig);
    }

    function test_RegisterWalletWithNodeSignature_RefusesADerivationIdOfAnotherAccount() public {
        // A node-managed account's default wallet: its derivation id as the mirror sees it.
        vm.recordLogs();
        vm.prank(PAYER);
        reg.newAccount(keccak256("account key C"), "C", "", address(0xC0), keccak256("derivation C"));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 copied;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == ILitRegistry.WalletRegistered.selector) {
                (copied,,) = abi.decode(logs[i].data, (bytes32, string, string));
            }
        }
        assertEq(copied, keccak256("derivation C"), "copied from WalletRegistered");

        // Even a valid node signature for it does not let another account have it.
        bytes memory sig = _nodeSig(SIGNER_KEY, account, PKP, copied, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.DerivationIdAlreadyUsed.selector, copied));
        _register(ADMIN, account, PKP, copied, sig);

        // Nor one of another self-managed account.
        _register(ADMIN, account, PKP, DERIV, _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline));
        vm.prank(ADMIN_2);
        bytes32 theirs = reg.newSelfManagedAccount(SALT, "Theirs", "");
        sig = _nodeSig(SIGNER_KEY, theirs, PKP_2, DERIV, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.DerivationIdAlreadyUsed.selector, DERIV));
        _register(ADMIN_2, theirs, PKP_2, DERIV, sig);
    }

    // ================================================================ registerWallet on self-managed accounts

    function test_RegisterWallet_SelfManagedRequiresANodeSignature() public {
        // The admin with the account id: authorised, then refused.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NodeSignatureRequired.selector, account));
        vm.prank(ADMIN);
        reg.registerWallet(account, PKP, DERIV, "pkp", "unsigned");

        // With a usage key: the scope is checked first, then the same refusal.
        ILitRegistry.UsageKey memory key = _noScopes();
        vm.prank(ADMIN);
        reg.addUsageKey(account, USAGE, key);
        vm.expectRevert(
            abi.encodeWithSelector(ILitRegistry.MissingScope.selector, USAGE, ILitRegistry.Scope.CreatePkps, 0)
        );
        vm.prank(ADMIN);
        reg.registerWallet(USAGE, PKP, DERIV, "", "");
        key.canCreatePkps = true;
        vm.prank(ADMIN);
        reg.updateUsageKey(account, USAGE, key);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NodeSignatureRequired.selector, account));
        vm.prank(ADMIN);
        reg.registerWallet(USAGE, PKP, DERIV, "", "");

        // Expired usage keys are refused before that.
        key.expiration = uint64(block.timestamp);
        vm.prank(ADMIN);
        reg.updateUsageKey(account, USAGE, key);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.KeyExpired.selector, USAGE, uint64(block.timestamp)));
        vm.prank(ADMIN);
        reg.registerWallet(USAGE, PKP, DERIV, "", "");

        // Others are refused as writers first.
        vm.expectRevert(_notAdmin(account, PAYER));
        vm.prank(PAYER);
        reg.registerWallet(account, PKP, DERIV, "", "");

        // Node-managed accounts keep using registerWallet from the payer set.
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(NODE_ACCOUNT, PKP, DERIV, "pkp", "payer");
        vm.prank(PAYER);
        reg.registerWallet(NODE_ACCOUNT, PKP, DERIV, "pkp", "payer");
    }

    // ================================================================ converted accounts

    function test_ConvertedAccount_FollowsTheSameRules() public {
        vm.prank(PAYER);
        reg.convertToSelfManaged(NODE_ACCOUNT, ADMIN_2);

        // registerWallet is refused, for the admin as for the payer.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NodeSignatureRequired.selector, NODE_ACCOUNT));
        vm.prank(ADMIN_2);
        reg.registerWallet(NODE_ACCOUNT, PKP, DERIV, "", "");
        vm.expectRevert(_notAdmin(NODE_ACCOUNT, PAYER));
        vm.prank(PAYER);
        reg.registerWallet(NODE_ACCOUNT, PKP, DERIV, "", "");

        // A node signature for the account lets its admin (only) register the minted wallet.
        bytes memory sig = _nodeSig(SIGNER_KEY, NODE_ACCOUNT, PKP, DERIV, deadline);
        vm.expectRevert(_notAdmin(NODE_ACCOUNT, PAYER));
        _register(PAYER, NODE_ACCOUNT, PKP, DERIV, sig);
        vm.expectRevert(_notAdmin(NODE_ACCOUNT, ADMIN));
        _register(ADMIN, NODE_ACCOUNT, PKP, DERIV, sig);
        bytes memory forOther = _nodeSig(SIGNER_KEY, account, PKP, DERIV, deadline);
        vm.expectRevert(_invalidSig(_recovered(NODE_ACCOUNT, PKP, DERIV, deadline, forOther)));
        _register(ADMIN_2, NODE_ACCOUNT, PKP, DERIV, forOther);
        bytes memory forUsed = _nodeSig(SIGNER_KEY, NODE_ACCOUNT, PKP, NODE_DERIV, deadline);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.DerivationIdAlreadyUsed.selector, NODE_DERIV));
        _register(ADMIN_2, NODE_ACCOUNT, PKP, NODE_DERIV, forUsed);

        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(NODE_ACCOUNT, PKP, DERIV, "pkp", "minted");
        _register(ADMIN_2, NODE_ACCOUNT, PKP, DERIV, sig);
        assertEq(reg.walletsOf(NODE_ACCOUNT), addrs(NODE_WALLET, PKP), "default wallet kept, minted one added");

        // The admin writes with the account's original key hash.
        vm.prank(ADMIN_2);
        reg.addGroup(NODE_ACCOUNT, "g", "", addrs(NODE_WALLET, PKP), hashes());
        assertTrue(reg.groupExists(NODE_ACCOUNT, 1), "group");
    }

    // ================================================================ revoking the account key

    function test_RevokeAccountKey_EndsTheOldKeyButNotTheAdmin() public {
        vm.prank(PAYER);
        reg.convertToSelfManaged(NODE_ACCOUNT, ADMIN_2);
        assertTrue(reg.canExecute(NODE_ACCOUNT, CID_HASH), "the old account key runs before");
        assertTrue(reg.canUseWallet(NODE_ACCOUNT, CID_HASH, NODE_WALLET), "and uses wallets");

        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountKeyRevoked(NODE_ACCOUNT);
        vm.prank(ADMIN_2);
        reg.revokeAccountKey(NODE_ACCOUNT);
        assertTrue(reg.accountKeyRevoked(NODE_ACCOUNT), "revoked");
        assertFalse(reg.canExecute(NODE_ACCOUNT, CID_HASH), "no runs with the revoked key");
        assertFalse(reg.canUseWallet(NODE_ACCOUNT, CID_HASH, NODE_WALLET), "no wallet use either");

        // The admin still writes the account with its id as caller key.
        vm.prank(ADMIN_2);
        reg.addGroup(NODE_ACCOUNT, "g", "", addrs(NODE_WALLET), hashes());
        assertTrue(reg.groupExists(NODE_ACCOUNT, 1), "group");
    }

    function test_RevokeAccountKey_CheckOrder() public {
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountNotFound.selector, UNKNOWN));
        vm.prank(ADMIN);
        reg.revokeAccountKey(UNKNOWN);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotSelfManaged.selector, NODE_ACCOUNT));
        vm.prank(PAYER);
        reg.revokeAccountKey(NODE_ACCOUNT);
        vm.expectRevert(_notAdmin(account, STRANGER));
        vm.prank(STRANGER);
        reg.revokeAccountKey(account);
        vm.prank(ADMIN);
        reg.revokeAccountKey(account);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountKeyAlreadyRevoked.selector, account));
        vm.prank(ADMIN);
        reg.revokeAccountKey(account);
    }
}
