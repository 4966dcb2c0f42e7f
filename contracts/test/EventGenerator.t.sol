// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {vm} from "./Vm.sol";
import {TestBase} from "./TestBase.sol";
import {LitRegistry} from "../LitRegistry.sol";
import {NodeConfig} from "../NodeConfig.sol";
import {ILitRegistry} from "../ILitRegistry.sol";
import {EventGenerator} from "../bench/EventGenerator.sol";

/// Tests of the benchmark's event generator (contracts/bench): event count, the state it leaves
/// and the permissions benches/mirror.rs expects of it.
contract EventGeneratorTest is TestBase {
    NodeConfig internal config;
    LitRegistry internal reg;
    EventGenerator internal gen;

    function setUp() public {
        config = new NodeConfig(address(this));
        reg = new LitRegistry(address(config));
        gen = new EventGenerator(address(reg));
        config.addPayer(address(gen));
    }

    function test_Generate_EmitsTheEventsPerAccount() public {
        vm.recordLogs();
        gen.generate(0, 3);
        assertLogCount(address(reg), 3 * gen.EVENTS_PER_ACCOUNT(), "registry events");
    }

    function test_Generate_CreatesEveryAccountOfTheRange() public {
        gen.generate(5, 2);
        for (uint256 i = 5; i < 7; ++i) {
            bytes32 account = gen.derive(gen.ACCOUNT_TAG(), i);
            assertTrue(reg.accountExists(account), "account exists");
            assertEq(reg.accountOfKey(gen.derive(gen.USAGE_KEY_TAG(), i)), account, "usage key's account");
            assertEq(
                reg.walletsOf(account),
                addrs(gen.deriveWallet(gen.WALLET_1_TAG(), i), gen.deriveWallet(gen.WALLET_2_TAG(), i)),
                "wallets"
            );
            assertEq(reg.actionsOf(account).length, 3, "actions");
            assertEq(reg.balanceOf(account), 100, "balance");
        }
        assertFalse(reg.accountExists(gen.derive(gen.ACCOUNT_TAG(), 4)), "outside the range");
        assertFalse(reg.accountExists(gen.derive(gen.ACCOUNT_TAG(), 7)), "outside the range");
    }

    function test_Generate_GivesTheUsageKeyGroupOneOnly() public {
        gen.generate(0, 1);
        bytes32 account = gen.derive(gen.ACCOUNT_TAG(), 0);
        bytes32 usage = gen.derive(gen.USAGE_KEY_TAG(), 0);
        address wallet1 = gen.deriveWallet(gen.WALLET_1_TAG(), 0);
        address wallet2 = gen.deriveWallet(gen.WALLET_2_TAG(), 0);

        (address[] memory wallets, bytes32[] memory cidHashes) = reg.groupMembers(account, gen.GROUP_ID());
        assertEq(wallets, addrs(wallet1), "group wallets");
        assertEq(cidHashes, hashes(gen.cidHash(0, 0), gen.cidHash(0, 1)), "group actions");

        assertTrue(reg.canUseWallet(usage, gen.cidHash(0, 0), wallet1), "usage key, cid 0, wallet 1");
        assertTrue(reg.canUseWallet(usage, gen.cidHash(0, 1), wallet1), "usage key, cid 1, wallet 1");
        assertFalse(reg.canUseWallet(usage, gen.cidHash(0, 2), wallet1), "usage key, cid 2");
        assertFalse(reg.canUseWallet(usage, gen.cidHash(0, 0), wallet2), "usage key, wallet 2");
        assertTrue(reg.canUseWallet(account, gen.cidHash(0, 2), wallet2), "account key, anything of its own");
    }

    function test_Generate_RevertsOnAnExistingAccount() public {
        gen.generate(0, 2);
        bytes32 account = gen.derive(gen.ACCOUNT_TAG(), 1);
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountAlreadyExists.selector, account));
        gen.generate(1, 1);
    }

    function test_Generate_RevertsUnlessPayer() public {
        config.removePayer(address(gen));
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotPayer.selector, address(gen)));
        gen.generate(0, 1);
    }
}
