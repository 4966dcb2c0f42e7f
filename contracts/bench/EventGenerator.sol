// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {ILitRegistry} from "../ILitRegistry.sol";

/// @title EventGenerator — fills a LitRegistry with synthetic accounts for the mirror benchmark
/// (benches/mirror.rs). Benchmark-only: never part of a deployment.
/// @notice Writes as a payer, so NodeConfig.addPayer(generator) must come first. Account `i` gets
/// EVENTS_PER_ACCOUNT events, in this order:
///   AccountCreated + WalletRegistered (default wallet 1), WalletRegistered (wallet 2),
///   ActionSet × 3 (cids 0, 1, 2), GroupAdded (group 1 = {wallet 1} × {cid 0}),
///   UsageKeyAdded (executes in and manages group 1), GroupActionAdded (cid 1, sent with the usage
///   key), CreditAdded.
/// Hence the usage key may use wallet 1 with cids 0 and 1 only; the account key may use either
/// wallet with any cid.
/// @dev Every identifier is deterministic and unique: `derive(tag, i)` = keccak256(abi.encode(tag, i)),
/// a wallet is the low 20 bytes of one, and cid k of account i is the string "bench-<i>-<k>".
contract EventGenerator {
    uint256 public constant EVENTS_PER_ACCOUNT = 10;
    /// The id the registry gives the first group of a fresh account.
    uint256 public constant GROUP_ID = 1;

    bytes32 public constant ACCOUNT_TAG = "lit-bench/account";
    bytes32 public constant USAGE_KEY_TAG = "lit-bench/usage-key";
    bytes32 public constant WALLET_1_TAG = "lit-bench/wallet-1";
    bytes32 public constant WALLET_2_TAG = "lit-bench/wallet-2";
    bytes32 public constant DERIVATION_1_TAG = "lit-bench/derivation-1";
    bytes32 public constant DERIVATION_2_TAG = "lit-bench/derivation-2";
    bytes32 public constant PAYMENT_TAG = "lit-bench/payment";

    ILitRegistry public immutable registry;

    /// @param registry_ The LitRegistry to fill.
    constructor(address registry_) {
        registry = ILitRegistry(registry_);
    }

    /// @notice Creates accounts firstAccount .. firstAccount + count - 1 (reverts if one exists).
    function generate(uint256 firstAccount, uint256 count) external {
        for (uint256 i = firstAccount; i < firstAccount + count; ++i) {
            bytes32 account = _createAccount(i);
            _addActions(account, i);
            _addGroupAndUsageKey(account, i);
            registry.creditAccount(account, 100, derive(PAYMENT_TAG, i));
        }
    }

    // ---------------------------------------------------------------- derived identifiers

    function derive(bytes32 tag, uint256 i) public pure returns (bytes32) {
        return keccak256(abi.encode(tag, i));
    }

    function deriveWallet(bytes32 tag, uint256 i) public pure returns (address) {
        return address(uint160(uint256(derive(tag, i))));
    }

    function cid(uint256 i, uint256 k) public pure returns (string memory) {
        return string.concat("bench-", Strings.toString(i), "-", Strings.toString(k));
    }

    function cidHash(uint256 i, uint256 k) public pure returns (bytes32) {
        return keccak256(bytes(cid(i, k)));
    }

    // ---------------------------------------------------------------- steps of one account

    /// AccountCreated, WalletRegistered × 2.
    function _createAccount(uint256 i) private returns (bytes32 account) {
        account = derive(ACCOUNT_TAG, i);
        registry.newAccount(
            account, "bench account", "generated", deriveWallet(WALLET_1_TAG, i), derive(DERIVATION_1_TAG, i)
        );
        registry.registerWallet(
            account, deriveWallet(WALLET_2_TAG, i), derive(DERIVATION_2_TAG, i), "second wallet", "generated"
        );
    }

    /// ActionSet × 3.
    function _addActions(bytes32 account, uint256 i) private {
        for (uint256 k; k < 3; ++k) {
            registry.addAction(account, cid(i, k), "bench action", "generated");
        }
    }

    /// GroupAdded, UsageKeyAdded, GroupActionAdded.
    function _addGroupAndUsageKey(bytes32 account, uint256 i) private {
        address[] memory wallets = new address[](1);
        wallets[0] = deriveWallet(WALLET_1_TAG, i);
        bytes32[] memory cidHashes = new bytes32[](1);
        cidHashes[0] = cidHash(i, 0);
        registry.addGroup(account, "bench group", "generated", wallets, cidHashes);

        bytes32 usageKey = derive(USAGE_KEY_TAG, i);
        registry.addUsageKey(account, usageKey, _groupUsageKey());
        registry.addActionToGroup(usageKey, GROUP_ID, cidHash(i, 1));
    }

    /// A usage key that executes in and manages the actions of group GROUP_ID, nothing else.
    function _groupUsageKey() private pure returns (ILitRegistry.UsageKey memory key) {
        uint256[] memory groups = new uint256[](1);
        groups[0] = GROUP_ID;
        key.name = "bench key";
        key.description = "generated";
        key.manageIpfsIdsInGroups = groups;
        key.executeInGroups = groups;
    }
}
