// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm, vm} from "./Vm.sol";
import {TestBase} from "./TestBase.sol";
import {LitRegistry} from "../LitRegistry.sol";
import {NodeConfig} from "../NodeConfig.sol";
import {ILitRegistry} from "../ILitRegistry.sol";

/// `LitRegistry.batch`: several calls in one transaction, each exactly as if its sender had sent it
/// alone (checks, state changes, events), each refused call reported without reverting the others.
contract BatchTest is TestBase {
    /// Gas figures of `test_Batch_GasOfTenAddGroups` (read them with `forge test --mt Gas -vvvv`).
    event GasMeasured(string what, uint256 gas);

    address internal constant PAYER = address(0xFA1);
    address internal constant STRANGER = address(0xBAD);
    address internal constant ADMIN = address(0xAD1);
    uint256 internal constant SIGNER_KEY = 0x5167e4;

    bytes32 internal constant ACCOUNT = keccak256("account key A");
    bytes32 internal constant OTHER = keccak256("account key B");
    bytes32 internal constant THIRD = keccak256("account key C");
    bytes32 internal constant USAGE = keccak256("usage key A1");
    bytes32 internal constant UNKNOWN = keccak256("no such key");
    bytes32 internal constant SALT = keccak256("salt 1");
    bytes32 internal constant PAYMENT = keccak256("payment 1");

    address internal constant WALLET_A = address(0xA0);
    address internal constant WALLET_A2 = address(0xA2);
    address internal constant WALLET_B = address(0xB0);
    address internal constant WALLET_C = address(0xC0);
    address internal constant PKP = address(0x9C1);
    bytes32 internal constant DERIV_A = keccak256("derivation A");
    bytes32 internal constant DERIV_A2 = keccak256("derivation A2");
    bytes32 internal constant DERIV_B = keccak256("derivation B");
    bytes32 internal constant DERIV_C = keccak256("derivation C");
    bytes32 internal constant DERIV_X = keccak256("derivation X");
    bytes32 internal constant DERIV_PKP = keccak256("minted derivation 1");

    string internal constant CID = "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6";
    string internal constant CID_2 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD";
    bytes32 internal constant CID_HASH = keccak256(bytes(CID));
    bytes32 internal constant CID_HASH_2 = keccak256(bytes(CID_2));
    bytes32 internal constant ANY_CID = bytes32(0);

    string internal constant DEFAULT_WALLET_NAME = "Default wallet";
    string internal constant DEFAULT_WALLET_DESCRIPTION = "The account's default wallet, created with the account";

    NodeConfig internal config;
    /// The registry the batches go to.
    LitRegistry internal reg;
    /// A registry in the same state, for the same calls sent one by one.
    LitRegistry internal single;

    function setUp() public {
        config = new NodeConfig(address(this));
        config.addPayer(PAYER);
        reg = _newRegistry();
        single = _newRegistry();
    }

    // ================================================================ helpers

    /// A registry with two node-managed accounts, ACCOUNT (wallet WALLET_A) and OTHER (WALLET_B).
    function _newRegistry() internal returns (LitRegistry r) {
        r = new LitRegistry(address(config));
        vm.startPrank(PAYER);
        r.newAccount(ACCOUNT, "Account A", "first account", WALLET_A, DERIV_A);
        r.newAccount(OTHER, "Account B", "second account", WALLET_B, DERIV_B);
        vm.stopPrank();
    }

    function _batch(address sender, bytes[] memory calls) internal returns (ILitRegistry.CallResult[] memory) {
        vm.prank(sender);
        return reg.batch(calls);
    }

    function _noScopes() internal pure returns (ILitRegistry.UsageKey memory key) {
        key.name = "usage";
        key.description = "a usage key";
    }

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

    function _addGroupCall(bytes32 caller) internal pure returns (bytes memory) {
        return abi.encodeCall(ILitRegistry.addGroup, (caller, "group", "a group", addrs(WALLET_A), hashes(CID_HASH)));
    }

    function _tenAddGroups() internal pure returns (bytes[] memory calls) {
        calls = new bytes[](10);
        for (uint256 i; i < calls.length; ++i) {
            calls[i] = _addGroupCall(ACCOUNT);
        }
    }

    function _assertSuccess(ILitRegistry.CallResult memory result, bytes memory data, string memory what)
        internal
        pure
    {
        assertTrue(result.success, string.concat(what, ": success"));
        assertEq(result.data, data, string.concat(what, ": return data"));
    }

    function _assertFailure(ILitRegistry.CallResult memory result, bytes memory revertData, string memory what)
        internal
        pure
    {
        assertFalse(result.success, string.concat(what, ": success"));
        assertEq(result.data, revertData, string.concat(what, ": revert data"));
    }

    function _notPayer(address sender) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ILitRegistry.NotPayer.selector, sender);
    }

    function _nestedBatch() internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ILitRegistry.NestedBatch.selector);
    }

    /// Everything the views show of ACCOUNT, OTHER and THIRD (their wallets, usage keys, groups and
    /// actions included), to compare two registries' states.
    function _state(LitRegistry r) internal view returns (bytes memory s) {
        bytes32[3] memory accounts = [ACCOUNT, OTHER, THIRD];
        for (uint256 i; i < accounts.length; ++i) {
            s = bytes.concat(s, _accountState(r, accounts[i]), _groupsState(r, accounts[i]));
        }
        s = bytes.concat(s, abi.encode(r.paymentCredited(PAYMENT), r.accountOfKey(USAGE)));
    }

    /// Metadata, admin, balance, wallets, usage keys and actions of account `a`.
    function _accountState(LitRegistry r, bytes32 a) internal view returns (bytes memory s) {
        (string memory name, string memory description) = r.accountMetadata(a);
        (address admin, bool selfManaged) = r.accountAdmin(a);
        s = abi.encode(r.accountExists(a), name, description, admin, selfManaged, r.balanceOf(a));

        address[] memory wallets = r.walletsOf(a);
        s = bytes.concat(s, abi.encode(wallets));
        for (uint256 j; j < wallets.length; ++j) {
            (bytes32 owner, bytes32 derivationId) = r.walletAccount(wallets[j]);
            (name, description) = r.walletMetadata(wallets[j]);
            s = bytes.concat(s, abi.encode(owner, derivationId, name, description));
        }
        bytes32[] memory keys = r.usageKeysOf(a);
        s = bytes.concat(s, abi.encode(keys));
        for (uint256 j; j < keys.length; ++j) {
            s = bytes.concat(s, abi.encode(r.accountOfKey(keys[j]), r.getUsageKey(a, keys[j])));
        }
        bytes32[] memory actions = r.actionsOf(a);
        s = bytes.concat(s, abi.encode(actions));
        for (uint256 j; j < actions.length; ++j) {
            (string memory cid, string memory actionName, string memory actionDescription) = r.getAction(a, actions[j]);
            s = bytes.concat(s, abi.encode(cid, actionName, actionDescription));
        }
    }

    /// The groups of account `a`: ids, metadata and members.
    function _groupsState(LitRegistry r, bytes32 a) internal view returns (bytes memory s) {
        uint256[] memory groupIds = r.groupIdsOf(a);
        s = abi.encode(groupIds);
        for (uint256 j; j < groupIds.length; ++j) {
            (string memory name, string memory description) = r.groupMetadata(a, groupIds[j]);
            (address[] memory members, bytes32[] memory cidHashes) = r.groupMembers(a, groupIds[j]);
            s = bytes.concat(s, abi.encode(name, description, members, cidHashes));
        }
    }

    /// The logs `emitter` emitted since `vm.recordLogs()` (and consumes the record), without the emitter
    /// and without `batch`'s own BatchCallFinished markers.
    function _logsOf(address emitter) internal returns (bytes memory encoded, uint256 count) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != emitter || logs[i].topics[0] == ILitRegistry.BatchCallFinished.selector) continue;
            encoded = bytes.concat(encoded, abi.encode(logs[i].topics, logs[i].data));
            ++count;
        }
    }

    /// The registry's state events since `vm.recordLogs()` (markers of `batch` not counted).
    function assertStateLogCount(uint256 expected, string memory what) internal {
        (, uint256 count) = _logsOf(address(reg));
        assertEq(count, expected, what);
    }

    /// Intrinsic calldata gas of a transaction carrying `data` (EIP-2028: 4 per zero byte, 16 per other).
    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    /// Execution gas of `data` sent by PAYER to `target` as if in a transaction of its own: the
    /// registry and NodeConfig (accounts and slots) are cold, as at the start of a transaction.
    function _execGas(address target, bytes memory data) internal returns (uint256 used) {
        vm.cool(target);
        vm.cool(address(config));
        vm.prank(PAYER);
        uint256 before = gasleft();
        (bool ok,) = target.call(data);
        used = before - gasleft();
        assertTrue(ok, "measured call succeeded");
    }

    // ================================================================ same state, same events

    /// Writes of a payer across three accounts (one created by the batch itself), and a view.
    function _writes() internal pure returns (bytes[] memory calls) {
        calls = new bytes[](10);
        calls[0] = abi.encodeCall(ILitRegistry.newAccount, (THIRD, "Account C", "third account", WALLET_C, DERIV_C));
        calls[1] = abi.encodeCall(ILitRegistry.addUsageKey, (ACCOUNT, USAGE, _allScopes()));
        calls[2] =
            abi.encodeCall(ILitRegistry.addGroup, (ACCOUNT, "g1", "group one", addrs(WALLET_A), hashes(CID_HASH)));
        calls[3] = abi.encodeCall(ILitRegistry.registerWallet, (USAGE, WALLET_A2, DERIV_A2, "second", "second wallet"));
        calls[4] = abi.encodeCall(ILitRegistry.addActionToGroup, (USAGE, 1, CID_HASH_2));
        calls[5] = abi.encodeCall(ILitRegistry.addWalletToGroup, (ACCOUNT, 1, WALLET_A2));
        calls[6] = abi.encodeCall(ILitRegistry.addAction, (OTHER, CID, "action", "an action"));
        calls[7] = abi.encodeCall(ILitRegistry.addGroup, (THIRD, "g1", "group of C", addrs(WALLET_C), hashes(ANY_CID)));
        calls[8] = abi.encodeCall(ILitRegistry.creditAccount, (OTHER, 500, PAYMENT));
        calls[9] = abi.encodeCall(ILitRegistry.balanceOf, (OTHER));
    }

    function test_Batch_WritesAcrossAccounts_SameStateAndEventsAsSingleCalls() public {
        bytes[] memory calls = _writes();

        // The same calls, one transaction each, on the twin registry.
        vm.recordLogs();
        for (uint256 i; i < calls.length; ++i) {
            vm.prank(PAYER);
            (bool ok,) = address(single).call(calls[i]);
            assertTrue(ok, "single call succeeded");
        }
        (bytes memory singleLogs, uint256 singleCount) = _logsOf(address(single));
        assertEq(singleCount, 10, "events of the single calls");

        vm.recordLogs();
        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountCreated(THIRD, "Account C", "third account", address(0), false);
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(THIRD, WALLET_C, DERIV_C, DEFAULT_WALLET_NAME, DEFAULT_WALLET_DESCRIPTION);
        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyAdded(ACCOUNT, USAGE, _allScopes());
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(ACCOUNT, 1, "g1", "group one", addrs(WALLET_A), hashes(CID_HASH));
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(ACCOUNT, WALLET_A2, DERIV_A2, "second", "second wallet");
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupActionAdded(ACCOUNT, 1, CID_HASH_2);
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupWalletAdded(ACCOUNT, 1, WALLET_A2);
        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionSet(OTHER, CID_HASH, CID, "action", "an action");
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(THIRD, 1, "g1", "group of C", addrs(WALLET_C), hashes(ANY_CID));
        vm.expectEmit(address(reg));
        emit ILitRegistry.CreditAdded(OTHER, PAYMENT, 500, 500);
        ILitRegistry.CallResult[] memory results = _batch(PAYER, calls);

        // Exactly the single calls' events, in their order, and nothing else.
        (bytes memory batchLogs, uint256 batchCount) = _logsOf(address(reg));
        assertEq(batchCount, singleCount, "event count");
        assertEq(batchLogs, singleLogs, "events (topics and data, in order)");
        assertEq(_state(reg), _state(single), "state");

        assertEq(results.length, calls.length, "one result per call");
        _assertSuccess(results[0], "", "newAccount");
        _assertSuccess(results[1], "", "addUsageKey");
        _assertSuccess(results[2], abi.encode(uint256(1)), "addGroup (ACCOUNT)");
        _assertSuccess(results[3], "", "registerWallet");
        _assertSuccess(results[4], "", "addActionToGroup");
        _assertSuccess(results[5], "", "addWalletToGroup");
        _assertSuccess(results[6], "", "addAction");
        _assertSuccess(results[7], abi.encode(uint256(1)), "addGroup (THIRD)");
        _assertSuccess(results[8], "", "creditAccount");
        _assertSuccess(results[9], abi.encode(int256(500)), "balanceOf after the credit");

        // Spot checks beyond the comparison.
        assertTrue(reg.accountExists(THIRD), "the batch created THIRD");
        (bytes32 owner,) = reg.walletAccount(WALLET_A2);
        assertEq(owner, ACCOUNT, "registered through the usage key into its account");
        (address[] memory wallets, bytes32[] memory cidHashes) = reg.groupMembers(ACCOUNT, 1);
        assertEq(wallets, addrs(WALLET_A, WALLET_A2), "group wallets");
        assertEq(cidHashes, hashes(CID_HASH, CID_HASH_2), "group actions");
    }

    // ================================================================ refused calls

    function test_Batch_RefusedCallsAreReportedAndTheOthersTakeEffect() public {
        vm.prank(PAYER);
        reg.addUsageKey(ACCOUNT, USAGE, _noScopes());

        bytes[] memory calls = new bytes[](6);
        calls[0] = _addGroupCall(ACCOUNT);
        calls[1] = _addGroupCall(USAGE);
        calls[2] = abi.encodeCall(ILitRegistry.addActionToGroup, (ACCOUNT, 7, CID_HASH));
        calls[3] = abi.encodeCall(ILitRegistry.addAction, (ACCOUNT, CID_2, "action", "an action"));
        calls[4] = abi.encodeCall(ILitRegistry.addUsageKey, (UNKNOWN, keccak256("k"), _noScopes()));
        calls[5] = abi.encodeCall(ILitRegistry.addActionToGroup, (ACCOUNT, 1, CID_HASH_2));

        vm.recordLogs();
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(ACCOUNT, 1, "group", "a group", addrs(WALLET_A), hashes(CID_HASH));
        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionSet(ACCOUNT, CID_HASH_2, CID_2, "action", "an action");
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupActionAdded(ACCOUNT, 1, CID_HASH_2);
        ILitRegistry.CallResult[] memory results = _batch(PAYER, calls);
        assertStateLogCount(3, "only the successful calls emit");

        _assertSuccess(results[0], abi.encode(uint256(1)), "addGroup");
        _assertFailure(
            results[1],
            abi.encodeWithSelector(ILitRegistry.MissingScope.selector, USAGE, ILitRegistry.Scope.CreateGroups, 0),
            "addGroup without the scope"
        );
        _assertFailure(
            results[2],
            abi.encodeWithSelector(ILitRegistry.GroupNotFound.selector, ACCOUNT, 7),
            "addActionToGroup to a missing group"
        );
        _assertSuccess(results[3], "", "addAction");
        _assertFailure(
            results[4],
            abi.encodeWithSelector(ILitRegistry.UnknownKey.selector, UNKNOWN),
            "addUsageKey by an unknown key"
        );
        _assertSuccess(results[5], "", "addActionToGroup");

        assertEq(reg.groupIdsOf(ACCOUNT), ids(1), "one group (the refused addGroup took no id)");
        assertTrue(reg.actionExists(ACCOUNT, CID_HASH_2), "action added");
        (, bytes32[] memory cidHashes) = reg.groupMembers(ACCOUNT, 1);
        assertEq(cidHashes, hashes(CID_HASH, CID_HASH_2), "group actions");
    }

    function test_Batch_ARevertedCallLeavesNoPartialEffect() public {
        bytes[] memory calls = new bytes[](4);
        // newAccount writes the account, emits AccountCreated, then fails on the default wallet.
        calls[0] = abi.encodeCall(ILitRegistry.newAccount, (THIRD, "Half", "half-made", WALLET_B, DERIV_X));
        // addGroup takes an id and writes the group, then fails on a wallet of another account.
        calls[1] = abi.encodeCall(ILitRegistry.addGroup, (ACCOUNT, "half", "half-made", addrs(WALLET_B), hashes()));
        calls[2] = _addGroupCall(ACCOUNT);
        // Both the key hash and the derivation id the failed newAccount touched are still free.
        calls[3] = abi.encodeCall(ILitRegistry.newAccount, (THIRD, "Account C", "third account", WALLET_C, DERIV_X));

        // The AccountCreated("Half") of the reverted call is dropped with its frame on chain (a
        // receipt holds no log of a reverted frame); Foundry's log recorder still sees it, so this
        // test checks the effects, not a log count.
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(ACCOUNT, 1, "group", "a group", addrs(WALLET_A), hashes(CID_HASH));
        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountCreated(THIRD, "Account C", "third account", address(0), false);
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(THIRD, WALLET_C, DERIV_X, DEFAULT_WALLET_NAME, DEFAULT_WALLET_DESCRIPTION);
        ILitRegistry.CallResult[] memory results = _batch(PAYER, calls);

        _assertFailure(
            results[0],
            abi.encodeWithSelector(ILitRegistry.WalletAlreadyRegistered.selector, WALLET_B),
            "newAccount with a taken wallet"
        );
        _assertFailure(
            results[1],
            abi.encodeWithSelector(ILitRegistry.WalletNotInAccount.selector, ACCOUNT, WALLET_B),
            "addGroup with another account's wallet"
        );
        _assertSuccess(results[2], abi.encode(uint256(1)), "addGroup gets id 1: the failed one's id was undone");
        _assertSuccess(results[3], "", "newAccount");

        (string memory name, string memory description) = reg.accountMetadata(THIRD);
        assertEq(name, "Account C", "THIRD's name is the second call's");
        assertEq(description, "third account", "THIRD's description");
        assertEq(reg.walletsOf(THIRD), addrs(WALLET_C), "THIRD's wallets");
        (name, description) = reg.groupMetadata(ACCOUNT, 1);
        assertEq(name, "group", "group 1 is the successful addGroup");
        assertEq(reg.groupIdsOf(ACCOUNT), ids(1), "ACCOUNT's groups");
    }

    function test_Batch_NonPayerGetsNotPayerForEveryNodeManagedWrite() public {
        bytes[] memory calls = new bytes[](8);
        calls[0] = abi.encodeCall(ILitRegistry.newAccount, (THIRD, "Account C", "third account", WALLET_C, DERIV_C));
        calls[1] = abi.encodeCall(ILitRegistry.addUsageKey, (ACCOUNT, USAGE, _allScopes()));
        calls[2] = _addGroupCall(ACCOUNT);
        calls[3] = abi.encodeCall(ILitRegistry.registerWallet, (ACCOUNT, WALLET_A2, DERIV_A2, "second", "wallet"));
        calls[4] = abi.encodeCall(ILitRegistry.addActionToGroup, (ACCOUNT, 1, CID_HASH));
        calls[5] = abi.encodeCall(ILitRegistry.addAction, (OTHER, CID, "action", "an action"));
        calls[6] = abi.encodeCall(ILitRegistry.creditAccount, (OTHER, 500, PAYMENT));
        calls[7] = abi.encodeCall(ILitRegistry.chargeUsage, (keccak256("settlement"), hashes(OTHER), ids(5)));

        bytes memory before = _state(reg);
        vm.recordLogs();
        ILitRegistry.CallResult[] memory results = _batch(STRANGER, calls);
        assertStateLogCount(0, "no event");
        assertEq(_state(reg), before, "nothing changed");
        assertFalse(reg.settlementApplied(keccak256("settlement")), "settlement not applied");

        assertEq(results.length, calls.length, "one result per call");
        for (uint256 i; i < results.length; ++i) {
            _assertFailure(results[i], _notPayer(STRANGER), string.concat("call ", vm.toString(i)));
        }
    }

    // ================================================================ nested and malformed calls

    function test_Batch_NestedBatchIsRefused() public {
        bytes[] memory inner = new bytes[](1);
        inner[0] = _addGroupCall(ACCOUNT);

        bytes[] memory calls = new bytes[](7);
        calls[0] = _addGroupCall(ACCOUNT);
        calls[1] = abi.encodeCall(ILitRegistry.batch, (inner));
        calls[2] = abi.encodeCall(ILitRegistry.batch, (new bytes[](0)));
        calls[3] = abi.encodePacked(ILitRegistry.batch.selector); // the bare selector
        calls[4] = "";
        calls[5] = hex"aabbcc"; // shorter than a selector
        calls[6] = _addGroupCall(ACCOUNT);

        vm.recordLogs();
        ILitRegistry.CallResult[] memory results = _batch(PAYER, calls);
        assertStateLogCount(2, "the two addGroup events only");

        _assertSuccess(results[0], abi.encode(uint256(1)), "addGroup");
        _assertFailure(results[1], _nestedBatch(), "nested batch");
        _assertFailure(results[2], _nestedBatch(), "nested empty batch");
        _assertFailure(results[3], _nestedBatch(), "bare batch selector");
        _assertFailure(results[4], "", "empty call (no fallback)");
        _assertFailure(results[5], "", "3-byte call (no fallback)");
        _assertSuccess(results[6], abi.encode(uint256(2)), "addGroup after them");
        assertEq(reg.groupIdsOf(ACCOUNT), ids(1, 2), "the nested addGroup never ran");
    }

    function test_Batch_UnknownSelectorIsReportedAsAFailure() public {
        bytes[] memory calls = new bytes[](2);
        calls[0] = abi.encodeWithSignature("noSuchFunction(uint256)", 1);
        calls[1] = _addGroupCall(ACCOUNT);
        ILitRegistry.CallResult[] memory results = _batch(PAYER, calls);
        _assertFailure(results[0], "", "unknown selector");
        _assertSuccess(results[1], abi.encode(uint256(1)), "addGroup");
    }

    // ================================================================ return data and views

    function test_Batch_ReturnsAddGroupIdsAndViewData() public {
        bytes[] memory calls = new bytes[](6);
        calls[0] = abi.encodeCall(ILitRegistry.groupExists, (ACCOUNT, 1));
        calls[1] = _addGroupCall(ACCOUNT);
        calls[2] = _addGroupCall(ACCOUNT);
        calls[3] = abi.encodeCall(ILitRegistry.groupExists, (ACCOUNT, 1));
        calls[4] = abi.encodeCall(ILitRegistry.groupMembers, (ACCOUNT, 2));
        calls[5] = abi.encodeCall(LitRegistry.walletsOf, (ACCOUNT)); // an audit view beyond ILitRegistry

        ILitRegistry.CallResult[] memory results = _batch(PAYER, calls);
        _assertSuccess(results[0], abi.encode(false), "groupExists before addGroup");
        assertEq(abi.decode(results[1].data, (uint256)), 1, "first group id");
        assertEq(abi.decode(results[2].data, (uint256)), 2, "second group id");
        _assertSuccess(results[3], abi.encode(true), "groupExists sees the earlier call of the batch");
        (address[] memory wallets, bytes32[] memory cidHashes) = abi.decode(results[4].data, (address[], bytes32[]));
        assertEq(wallets, addrs(WALLET_A), "group members: wallets");
        assertEq(cidHashes, hashes(CID_HASH), "group members: actions");
        _assertSuccess(results[5], abi.encode(addrs(WALLET_A)), "walletsOf");
    }

    function test_Batch_AnyoneMayBatchViews() public {
        bytes[] memory calls = new bytes[](3);
        calls[0] = abi.encodeCall(ILitRegistry.accountExists, (ACCOUNT));
        calls[1] = abi.encodeCall(ILitRegistry.accountOfKey, (ACCOUNT));
        calls[2] = abi.encodeCall(ILitRegistry.canExecute, (ACCOUNT, CID_HASH));
        ILitRegistry.CallResult[] memory results = _batch(STRANGER, calls);
        _assertSuccess(results[0], abi.encode(true), "accountExists");
        _assertSuccess(results[1], abi.encode(ACCOUNT), "accountOfKey");
        _assertSuccess(results[2], abi.encode(true), "canExecute");
    }

    function test_Batch_EmptyBatchReturnsAnEmptyArray() public {
        vm.recordLogs();
        ILitRegistry.CallResult[] memory results = _batch(STRANGER, new bytes[](0));
        assertEq(results.length, 0, "no result");
        assertStateLogCount(0, "no event");
        results = _batch(PAYER, new bytes[](0));
        assertEq(results.length, 0, "no result for a payer either");
    }

    // ================================================================ self-managed accounts

    function test_Batch_SelfManagedAdminBatchesItsOwnWrites() public {
        config.addSigner(vm.addr(SIGNER_KEY));
        bytes32 mine = reg.selfManagedAccountId(ADMIN, SALT);
        uint256 deadline = block.timestamp + 600;
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(SIGNER_KEY, reg.walletRegistrationDigest(mine, PKP, DERIV_PKP, deadline));
        bytes32 usage = keccak256("usage key of mine");
        ILitRegistry.UsageKey memory key = _noScopes();
        key.executeInGroups = ids(1);

        bytes[] memory calls = new bytes[](7);
        // The batch creates the account (admin = msg.sender, kept by the delegatecall) and writes it.
        calls[0] = abi.encodeCall(ILitRegistry.newSelfManagedAccount, (SALT, "Mine", "self-managed"));
        calls[1] = abi.encodeCall(
            ILitRegistry.registerWalletWithNodeSignature,
            (mine, PKP, DERIV_PKP, "pkp", "minted", deadline, abi.encodePacked(r, s, v))
        );
        calls[2] = abi.encodeCall(ILitRegistry.addGroup, (mine, "g", "d", addrs(PKP), hashes(CID_HASH)));
        calls[3] = abi.encodeCall(ILitRegistry.addUsageKey, (mine, usage, key));
        calls[4] = abi.encodeCall(ILitRegistry.addAction, (mine, CID, "action", "an action"));
        calls[5] = abi.encodeCall(ILitRegistry.registerWallet, (mine, WALLET_C, DERIV_C, "w", "d"));
        calls[6] = _addGroupCall(ACCOUNT); // node-managed: the admin is no payer

        vm.recordLogs();
        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountCreated(mine, "Mine", "self-managed", ADMIN, true);
        vm.expectEmit(address(reg));
        emit ILitRegistry.WalletRegistered(mine, PKP, DERIV_PKP, "pkp", "minted");
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(mine, 1, "g", "d", addrs(PKP), hashes(CID_HASH));
        vm.expectEmit(address(reg));
        emit ILitRegistry.UsageKeyAdded(mine, usage, key);
        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionSet(mine, CID_HASH, CID, "action", "an action");
        ILitRegistry.CallResult[] memory results = _batch(ADMIN, calls);
        assertStateLogCount(5, "events of the five successful calls");

        _assertSuccess(results[0], abi.encode(mine), "newSelfManagedAccount");
        _assertSuccess(results[1], "", "registerWalletWithNodeSignature");
        _assertSuccess(results[2], abi.encode(uint256(1)), "addGroup");
        _assertSuccess(results[3], "", "addUsageKey");
        _assertSuccess(results[4], "", "addAction");
        _assertFailure(
            results[5],
            abi.encodeWithSelector(ILitRegistry.NodeSignatureRequired.selector, mine),
            "registerWallet on a self-managed account"
        );
        _assertFailure(results[6], _notPayer(ADMIN), "a node-managed account");

        (address admin, bool selfManaged) = reg.accountAdmin(mine);
        assertEq(admin, ADMIN, "admin");
        assertTrue(selfManaged, "self-managed");
        assertTrue(reg.canUseWallet(usage, CID_HASH, PKP), "the usage key runs the action with the PKP");

        // Neither a payer nor anyone else may batch writes into it.
        calls = new bytes[](2);
        calls[0] = abi.encodeCall(ILitRegistry.addGroup, (mine, "g", "d", addrs(), hashes()));
        calls[1] = abi.encodeCall(ILitRegistry.removeUsageKey, (mine, usage));
        address[2] memory senders = [PAYER, STRANGER];
        for (uint256 i; i < senders.length; ++i) {
            results = _batch(senders[i], calls);
            bytes memory refused = abi.encodeWithSelector(ILitRegistry.NotAccountAdmin.selector, mine, senders[i]);
            _assertFailure(results[0], refused, "addGroup by a non-admin");
            _assertFailure(results[1], refused, "removeUsageKey by a non-admin");
        }
        assertEq(reg.groupIdsOf(mine), ids(1), "still one group");
        assertEq(reg.accountOfKey(usage), mine, "usage key still there");
    }

    // ================================================================ gas

    /// A batch either runs every call with the gas each needs, or reverts as a whole: whatever the
    /// gas limit, it never succeeds with a call that only ran out of gas. (eth_estimateGas, which
    /// searches the lowest limit at which the transaction succeeds, thus covers every call.)
    function test_Batch_OutOfGasRevertsTheWholeBatch() public {
        bytes memory data = abi.encodeCall(ILitRegistry.batch, (_tenAddGroups()));
        uint256 reverted;
        uint256 succeeded;
        for (uint256 gas = 40_000; gas <= 3_000_000; gas += 20_000) {
            uint256 snapshot = vm.snapshotState();
            vm.prank(PAYER);
            (bool ok, bytes memory returned) = address(reg).call{gas: gas}(data);
            if (ok) {
                ILitRegistry.CallResult[] memory results = abi.decode(returned, (ILitRegistry.CallResult[]));
                for (uint256 i; i < results.length; ++i) {
                    _assertSuccess(results[i], abi.encode(i + 1), "every call of a successful batch");
                }
                ++succeeded;
            } else {
                assertEq(returned, "", "out of gas: empty revert data");
                assertEq(reg.groupIdsOf(ACCOUNT).length, 0, "out of gas: nothing applied");
                ++reverted;
            }
            vm.revertToState(snapshot);
        }
        assertTrue(reverted > 10, "the low limits reverted");
        assertTrue(succeeded > 0, "the high limits succeeded");
    }

    /// Ten addGroup calls: one batch against ten transactions. Each is measured from a cold start
    /// (registry and NodeConfig cooled, as in a transaction of its own); the ten singles still share
    /// this test's transaction-wide SSTORE bookkeeping, which only makes them look cheaper.
    function test_Batch_GasOfTenAddGroups() public {
        bytes[] memory calls = _tenAddGroups();
        bytes memory batchData = abi.encodeCall(ILitRegistry.batch, (calls));

        uint256 batchExec = _execGas(address(reg), batchData);
        uint256 batchTx = 21_000 + _calldataGas(batchData) + batchExec;

        uint256 singlesExec;
        uint256 singlesTx;
        for (uint256 i; i < calls.length; ++i) {
            uint256 exec = _execGas(address(single), calls[i]);
            singlesExec += exec;
            singlesTx += 21_000 + _calldataGas(calls[i]) + exec;
        }
        assertEq(reg.groupIdsOf(ACCOUNT), single.groupIdsOf(ACCOUNT), "same groups");

        emit GasMeasured("batch of 10 addGroup: execution", batchExec);
        emit GasMeasured("10 single addGroup: execution, total", singlesExec);
        emit GasMeasured("batch of 10 addGroup: transaction (21000 + calldata + execution)", batchTx);
        emit GasMeasured("10 single addGroup: transactions (10 x (21000 + calldata) + execution)", singlesTx);
        assertTrue(batchExec < singlesExec + 1, "batched execution gas <= the singles' execution gas");
        assertTrue(batchTx < singlesTx, "one batch transaction costs less than ten");
    }

    // ================================================================ per-call markers

    function test_Batch_EachCallEndsWithAMarkerCarryingItsOutcome() public {
        vm.prank(PAYER);
        reg.addUsageKey(ACCOUNT, USAGE, _noScopes());
        bytes[] memory calls = new bytes[](3);
        calls[0] = _addGroupCall(ACCOUNT);
        calls[1] = _addGroupCall(USAGE);
        calls[2] = abi.encodeCall(ILitRegistry.addAction, (ACCOUNT, CID_2, "action", "an action"));

        // A call's events come before its marker, and the marker carries its return or revert data.
        vm.expectEmit(address(reg));
        emit ILitRegistry.GroupAdded(ACCOUNT, 1, "group", "a group", addrs(WALLET_A), hashes(CID_HASH));
        vm.expectEmit(address(reg));
        emit ILitRegistry.BatchCallFinished(0, true, abi.encode(uint256(1)));
        vm.expectEmit(address(reg));
        emit ILitRegistry.BatchCallFinished(
            1,
            false,
            abi.encodeWithSelector(ILitRegistry.MissingScope.selector, USAGE, ILitRegistry.Scope.CreateGroups, 0)
        );
        vm.expectEmit(address(reg));
        emit ILitRegistry.ActionSet(ACCOUNT, CID_HASH_2, CID_2, "action", "an action");
        vm.expectEmit(address(reg));
        emit ILitRegistry.BatchCallFinished(2, true, "");
        vm.recordLogs();
        _batch(PAYER, calls);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 5, "two state events and three markers");
    }
}
