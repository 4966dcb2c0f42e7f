// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {vm} from "./Vm.sol";
import {TestBase} from "./TestBase.sol";
import {NodeConfig} from "../NodeConfig.sol";
import {INodeConfig} from "../ILitRegistry.sol";

contract NodeConfigTest is TestBase {
    address internal constant OWNER = address(0xA11CE);
    address internal constant ADMIN_PAYER = address(0xAD);
    address internal constant PAYER_1 = address(0xB1);
    address internal constant PAYER_2 = address(0xB2);
    address internal constant OPERATOR = address(0x0E);
    address internal constant SIGNER_1 = address(0x51);
    address internal constant SIGNER_2 = address(0x52);
    address internal constant STRANGER = address(0xBAD);

    NodeConfig internal config;

    function setUp() public {
        config = new NodeConfig(OWNER);
        vm.prank(OWNER);
        config.setAdminPayer(ADMIN_PAYER);
    }

    // ---------------------------------------------------------------- ownership

    function test_Constructor_SetsOwnerAndEmits() public {
        vm.expectEmit(); // the emitter's address is not known before deployment
        emit INodeConfig.OwnershipTransferred(address(0), OWNER);
        NodeConfig fresh = new NodeConfig(OWNER);
        assertEq(fresh.owner(), OWNER, "owner");
        assertEq(fresh.adminPayer(), address(0), "no admin payer yet");
        assertEq(fresh.payers().length, 0, "no payers yet");
        assertEq(fresh.signers().length, 0, "no signers yet");
    }

    function test_Constructor_RevertsOnZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.ZeroAddress.selector));
        new NodeConfig(address(0));
    }

    function test_TransferOwnership() public {
        vm.expectEmit(address(config));
        emit INodeConfig.OwnershipTransferred(OWNER, STRANGER);
        vm.prank(OWNER);
        config.transferOwnership(STRANGER);
        assertEq(config.owner(), STRANGER, "new owner");

        // The previous owner lost every owner right.
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotOwner.selector, OWNER));
        vm.prank(OWNER);
        config.setAdminPayer(OWNER);
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotConfigWriter.selector, OWNER));
        vm.prank(OWNER);
        config.setConfig("k", "v");
    }

    function test_TransferOwnership_RevertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotOwner.selector, ADMIN_PAYER));
        vm.prank(ADMIN_PAYER);
        config.transferOwnership(ADMIN_PAYER);
    }

    function test_TransferOwnership_RevertsOnZero() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.ZeroAddress.selector));
        vm.prank(OWNER);
        config.transferOwnership(address(0));
    }

    // ---------------------------------------------------------------- admin payer

    function test_SetAdminPayer() public {
        vm.expectEmit(address(config));
        emit INodeConfig.AdminPayerSet(PAYER_1);
        vm.prank(OWNER);
        config.setAdminPayer(PAYER_1);
        assertEq(config.adminPayer(), PAYER_1, "admin payer");

        // The replaced admin payer can no longer manage payers.
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, ADMIN_PAYER));
        vm.prank(ADMIN_PAYER);
        config.addPayer(PAYER_2);
    }

    function test_SetAdminPayer_RevertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotOwner.selector, ADMIN_PAYER));
        vm.prank(ADMIN_PAYER);
        config.setAdminPayer(STRANGER);
    }

    function test_SetAdminPayer_RevertsOnZero() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.ZeroAddress.selector));
        vm.prank(OWNER);
        config.setAdminPayer(address(0));
    }

    // ---------------------------------------------------------------- payers

    function test_AddPayer_ByOwnerAndAdminPayer() public {
        vm.expectEmit(address(config));
        emit INodeConfig.PayerAdded(PAYER_1);
        vm.prank(OWNER);
        config.addPayer(PAYER_1);

        vm.expectEmit(address(config));
        emit INodeConfig.PayerAdded(PAYER_2);
        vm.prank(ADMIN_PAYER);
        config.addPayer(PAYER_2);

        assertTrue(config.isPayer(PAYER_1), "payer 1");
        assertTrue(config.isPayer(PAYER_2), "payer 2");
        assertFalse(config.isPayer(ADMIN_PAYER), "the admin payer is not a payer by itself");
        assertEq(config.payers(), addrs(PAYER_1, PAYER_2), "payers()");
    }

    function test_AddPayer_RevertsForStrangerAndPayer() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, STRANGER));
        vm.prank(STRANGER);
        config.addPayer(STRANGER);

        vm.prank(OWNER);
        config.addPayer(PAYER_1);
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, PAYER_1));
        vm.prank(PAYER_1);
        config.addPayer(PAYER_2);
    }

    function test_AddPayer_RevertsOnZeroAndDuplicate() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.ZeroAddress.selector));
        vm.prank(OWNER);
        config.addPayer(address(0));

        vm.prank(OWNER);
        config.addPayer(PAYER_1);
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.PayerAlreadyAdded.selector, PAYER_1));
        vm.prank(ADMIN_PAYER);
        config.addPayer(PAYER_1);
    }

    function test_RemovePayer() public {
        vm.startPrank(OWNER);
        config.addPayer(PAYER_1);
        config.addPayer(PAYER_2);
        vm.stopPrank();

        vm.expectEmit(address(config));
        emit INodeConfig.PayerRemoved(PAYER_1);
        vm.prank(ADMIN_PAYER);
        config.removePayer(PAYER_1);
        assertFalse(config.isPayer(PAYER_1), "removed");
        assertEq(config.payers(), addrs(PAYER_2), "payers()");

        vm.expectEmit(address(config));
        emit INodeConfig.PayerRemoved(PAYER_2);
        vm.prank(OWNER);
        config.removePayer(PAYER_2);
        assertEq(config.payers(), addrs(), "empty");
    }

    function test_RemovePayer_Reverts() public {
        vm.prank(OWNER);
        config.addPayer(PAYER_1);

        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, PAYER_1));
        vm.prank(PAYER_1);
        config.removePayer(PAYER_1);

        vm.expectRevert(abi.encodeWithSelector(INodeConfig.PayerNotFound.selector, PAYER_2));
        vm.prank(OWNER);
        config.removePayer(PAYER_2);
    }

    // ---------------------------------------------------------------- node signers

    function test_AddSigner_ByOwnerAndAdminPayer() public {
        vm.expectEmit(address(config));
        emit INodeConfig.SignerAdded(SIGNER_1);
        vm.prank(OWNER);
        config.addSigner(SIGNER_1);

        vm.expectEmit(address(config));
        emit INodeConfig.SignerAdded(SIGNER_2);
        vm.prank(ADMIN_PAYER);
        config.addSigner(SIGNER_2);

        assertTrue(config.isSigner(SIGNER_1), "signer 1");
        assertTrue(config.isSigner(SIGNER_2), "signer 2");
        assertFalse(config.isSigner(ADMIN_PAYER), "the admin payer is not a signer by itself");
        assertFalse(config.isSigner(address(0)), "address(0)");
        assertEq(config.signers(), addrs(SIGNER_1, SIGNER_2), "signers()");
    }

    function test_Signers_AreIndependentOfPayers() public {
        vm.startPrank(OWNER);
        config.addPayer(PAYER_1);
        config.addSigner(SIGNER_1);
        vm.stopPrank();
        assertFalse(config.isSigner(PAYER_1), "a payer is not a signer");
        assertFalse(config.isPayer(SIGNER_1), "a signer is not a payer");
        assertEq(config.payers(), addrs(PAYER_1), "payers()");
        assertEq(config.signers(), addrs(SIGNER_1), "signers()");

        // The same address may be both; removing one role keeps the other.
        vm.startPrank(OWNER);
        config.addSigner(PAYER_1);
        config.removePayer(PAYER_1);
        vm.stopPrank();
        assertTrue(config.isSigner(PAYER_1), "still a signer");
        assertFalse(config.isPayer(PAYER_1), "no longer a payer");
    }

    function test_AddSigner_RevertsForStrangerPayerAndSigner() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, STRANGER));
        vm.prank(STRANGER);
        config.addSigner(STRANGER);

        vm.startPrank(OWNER);
        config.addPayer(PAYER_1);
        config.addSigner(SIGNER_1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, PAYER_1));
        vm.prank(PAYER_1);
        config.addSigner(SIGNER_2);
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, SIGNER_1));
        vm.prank(SIGNER_1);
        config.addSigner(SIGNER_2);
    }

    function test_AddSigner_RevertsOnZeroAndDuplicate() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.ZeroAddress.selector));
        vm.prank(OWNER);
        config.addSigner(address(0));

        vm.prank(OWNER);
        config.addSigner(SIGNER_1);
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.SignerAlreadyAdded.selector, SIGNER_1));
        vm.prank(ADMIN_PAYER);
        config.addSigner(SIGNER_1);
    }

    function test_RemoveSigner() public {
        vm.startPrank(OWNER);
        config.addSigner(SIGNER_1);
        config.addSigner(SIGNER_2);
        vm.stopPrank();

        vm.expectEmit(address(config));
        emit INodeConfig.SignerRemoved(SIGNER_1);
        vm.prank(ADMIN_PAYER);
        config.removeSigner(SIGNER_1);
        assertFalse(config.isSigner(SIGNER_1), "removed");
        assertEq(config.signers(), addrs(SIGNER_2), "signers()");

        vm.expectEmit(address(config));
        emit INodeConfig.SignerRemoved(SIGNER_2);
        vm.prank(OWNER);
        config.removeSigner(SIGNER_2);
        assertEq(config.signers(), addrs(), "empty");

        // A removed signer can be added again.
        vm.expectEmit(address(config));
        emit INodeConfig.SignerAdded(SIGNER_1);
        vm.prank(OWNER);
        config.addSigner(SIGNER_1);
        assertTrue(config.isSigner(SIGNER_1), "re-added");
    }

    function test_RemoveSigner_Reverts() public {
        vm.prank(OWNER);
        config.addSigner(SIGNER_1);

        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, SIGNER_1));
        vm.prank(SIGNER_1);
        config.removeSigner(SIGNER_1);
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotPayerManager.selector, STRANGER));
        vm.prank(STRANGER);
        config.removeSigner(SIGNER_1);

        vm.expectRevert(abi.encodeWithSelector(INodeConfig.SignerNotFound.selector, SIGNER_2));
        vm.prank(OWNER);
        config.removeSigner(SIGNER_2);
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.SignerNotFound.selector, address(0)));
        vm.prank(OWNER);
        config.removeSigner(address(0));
    }

    // ---------------------------------------------------------------- config operators

    function test_SetConfigOperator() public {
        vm.expectEmit(address(config));
        emit INodeConfig.ConfigOperatorSet(OPERATOR, true);
        vm.prank(OWNER);
        config.setConfigOperator(OPERATOR, true);
        assertTrue(config.isConfigOperator(OPERATOR), "operator");

        vm.prank(OPERATOR);
        config.setConfig("timeout_ms", "1000");

        vm.expectEmit(address(config));
        emit INodeConfig.ConfigOperatorSet(OPERATOR, false);
        vm.prank(OWNER);
        config.setConfigOperator(OPERATOR, false);
        assertFalse(config.isConfigOperator(OPERATOR), "revoked");

        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotConfigWriter.selector, OPERATOR));
        vm.prank(OPERATOR);
        config.setConfig("timeout_ms", "2000");
    }

    function test_SetConfigOperator_Reverts() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotOwner.selector, ADMIN_PAYER));
        vm.prank(ADMIN_PAYER);
        config.setConfigOperator(OPERATOR, true);

        vm.expectRevert(abi.encodeWithSelector(INodeConfig.ZeroAddress.selector));
        vm.prank(OWNER);
        config.setConfigOperator(address(0), true);
    }

    // ---------------------------------------------------------------- configuration

    function test_SetConfig_SetOverwriteUnset() public {
        vm.expectEmit(address(config));
        emit INodeConfig.ConfigSet("timeout_ms", "1000");
        vm.prank(OWNER);
        config.setConfig("timeout_ms", "1000");
        assertEq(config.getConfig("timeout_ms"), "1000", "set");

        vm.prank(OWNER);
        config.setConfig("memory_limit_mb", "32");

        vm.expectEmit(address(config));
        emit INodeConfig.ConfigSet("timeout_ms", "2000");
        vm.prank(OWNER);
        config.setConfig("timeout_ms", "2000");
        assertEq(config.getConfig("timeout_ms"), "2000", "overwritten");

        string[] memory keys = new string[](2);
        (keys[0], keys[1]) = ("timeout_ms", "memory_limit_mb");
        assertEq(config.configKeys(), keys, "keys are listed once");

        vm.expectEmit(address(config));
        emit INodeConfig.ConfigSet("timeout_ms", "");
        vm.prank(OWNER);
        config.setConfig("timeout_ms", "");
        assertEq(config.getConfig("timeout_ms"), "", "unset");
        keys = new string[](1);
        keys[0] = "memory_limit_mb";
        assertEq(config.configKeys(), keys, "unset key is no longer listed");
    }

    function test_SetConfig_UnsetUnknownKeyIsHarmless() public {
        vm.expectEmit(address(config));
        emit INodeConfig.ConfigSet("never_set", "");
        vm.prank(OWNER);
        config.setConfig("never_set", "");
        assertEq(config.configKeys().length, 0, "no keys");
        assertEq(config.getConfig("never_set"), "", "empty");
    }

    function test_SetConfig_Reverts() public {
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotConfigWriter.selector, ADMIN_PAYER));
        vm.prank(ADMIN_PAYER);
        config.setConfig("k", "v");

        vm.expectRevert(abi.encodeWithSelector(INodeConfig.EmptyConfigKey.selector));
        vm.prank(OWNER);
        config.setConfig("", "v");
    }

    /// forge-config: default.fuzz.runs = 64
    function testFuzz_SetConfig_RoundTrip(string calldata key, string calldata value) public {
        vm.assume(bytes(key).length > 0);
        vm.prank(OWNER);
        config.setConfig(key, value);
        assertEq(config.getConfig(key), value, "value");
        assertEq(config.configKeys().length, bytes(value).length == 0 ? 0 : 1, "keys");
    }
}
