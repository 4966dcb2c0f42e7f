// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {vm} from "../contracts/test/Vm.sol";
import {NodeConfig} from "../contracts/NodeConfig.sol";
import {LitRegistry} from "../contracts/LitRegistry.sol";

/// @title Deploy — deploys NodeConfig and LitRegistry and writes the deployment JSON the node reads.
/// @notice Usage:
///   ADMIN_PAYER=0x… PAYERS=0x…,0x… [SIGNERS=0x…,0x…] [DEPLOYMENT_OUT=target/deployment.json] \
///   forge script script/Deploy.s.sol --rpc-url $RPC --broadcast --private-key $KEY
/// The broadcasting account becomes the NodeConfig owner. Environment:
///   - ADMIN_PAYER (required): the address that manages the payer set alongside the owner;
///   - PAYERS (required): comma-separated payer addresses (the node's transaction senders);
///   - SIGNERS (optional, default none): comma-separated node signer addresses, added with
///     NodeConfig.addSigner (their EIP-712 signatures let the admin of a self-managed account
///     register a wallet the node minted for it; the owner or admin payer can add more later);
///   - DEPLOYMENT_OUT (optional, default "target/deployment.json"): where the JSON goes. forge may
///     only write under ./target and /tmp (foundry.toml fs_permissions).
/// Output: {"chain_id", "deployment_block", "contract_address", "contracts": {"LitRegistry",
/// "NodeConfig"}, "owner"}. `deployment_block` is the block number seen when the script ran, at or
/// before the deployment transactions' block, so a mirror starting there misses no event.
/// @dev Upgrading: deploy a new pair with this script, point the nodes at the new JSON and let their
/// mirrors rebuild from its deployment block (a different contract address makes a node refuse its
/// old store); state is not migrated on chain.
contract Deploy {
    /// Marks this contract as a script (as forge-std's Script does), so `forge build --sizes` does
    /// not hold it to the contract size limit: it embeds both contracts' init code and is never
    /// deployed itself.
    bool public constant IS_SCRIPT = true;

    function run() external returns (NodeConfig nodeConfig, LitRegistry registry) {
        address adminPayer = vm.envAddress("ADMIN_PAYER");
        address[] memory payers = vm.envAddress("PAYERS", ",");
        address[] memory signers;
        if (bytes(vm.envOr("SIGNERS", string(""))).length != 0) signers = vm.envAddress("SIGNERS", ",");
        string memory out = vm.envOr("DEPLOYMENT_OUT", string("target/deployment.json"));
        uint256 deploymentBlock = block.number;
        _createParentDir(out); // fail before broadcasting, not after

        vm.startBroadcast();
        (, address owner,) = vm.readCallers();
        nodeConfig = new NodeConfig(owner);
        registry = new LitRegistry(address(nodeConfig));
        nodeConfig.setAdminPayer(adminPayer);
        for (uint256 i; i < payers.length; ++i) {
            nodeConfig.addPayer(payers[i]);
        }
        for (uint256 i; i < signers.length; ++i) {
            nodeConfig.addSigner(signers[i]);
        }
        vm.stopBroadcast();

        vm.writeFile(out, _deploymentJson(deploymentBlock, registry, nodeConfig, owner));
    }

    function _deploymentJson(uint256 deploymentBlock, LitRegistry registry, NodeConfig nodeConfig, address owner)
        private
        view
        returns (string memory)
    {
        string memory registryAddress = _quoted(address(registry));
        return string.concat(
            "{\"chain_id\": ",
            vm.toString(block.chainid),
            ", \"deployment_block\": ",
            vm.toString(deploymentBlock),
            ", \"contract_address\": ",
            registryAddress,
            ", \"contracts\": {\"LitRegistry\": ",
            registryAddress,
            ", \"NodeConfig\": ",
            _quoted(address(nodeConfig)),
            "}, \"owner\": ",
            _quoted(owner),
            "}\n"
        );
    }

    /// Creates the directory part of `path`, if any (vm.writeFile does not).
    function _createParentDir(string memory path) private {
        bytes memory p = bytes(path);
        for (uint256 i = p.length; i > 1; --i) {
            if (p[i - 1] == "/") {
                bytes memory dir = new bytes(i - 1);
                for (uint256 j; j < i - 1; ++j) {
                    dir[j] = p[j];
                }
                vm.createDir(string(dir), true);
                return;
            }
        }
    }

    function _quoted(address value) private pure returns (string memory) {
        return string.concat("\"", vm.toString(value), "\"");
    }
}
