// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Vm — the few Foundry cheatcodes this project uses (forge-std is not available offline).
/// @dev Signatures as in Foundry 1.7.1; the cheatcode contract lives at `VM_ADDRESS`.
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    // ---------------------------------------------------------------- test environment
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function warp(uint256 newTimestamp) external;
    function chainId(uint256 newChainId) external;
    function assume(bool condition) external pure;
    /// Marks `target` and every storage slot of it the transaction loaded so far as cold (EIP-2929).
    function cool(address target) external;
    function snapshotState() external returns (uint256 snapshotId);
    function revertToState(uint256 snapshotId) external returns (bool success);

    // ---------------------------------------------------------------- keys and signatures
    /// The address of the secp256k1 private key `privateKey`.
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    /// Signs `digest` (as is, no prefix) with `privateKey`; v is 27 or 28, s is low.
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);

    // ---------------------------------------------------------------- expectations
    function expectRevert(bytes calldata revertData) external;
    /// Checks every topic and the data of the next log, from any emitter.
    function expectEmit() external;
    /// Checks every topic and the data of the next log, and that `emitter` emitted it.
    function expectEmit(address emitter) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);

    // ---------------------------------------------------------------- scripting
    function startBroadcast() external;
    function stopBroadcast() external;
    /// callerMode is the CallerMode enum (0 None, 1 Broadcast, 2 RecurrentBroadcast, 3 Prank, 4 RecurrentPrank).
    function readCallers() external returns (uint8 callerMode, address msgSender, address txOrigin);
    function envAddress(string calldata name) external view returns (address value);
    function envAddress(string calldata name, string calldata delim) external view returns (address[] memory value);
    function envOr(string calldata name, string calldata defaultValue) external view returns (string memory value);
    function createDir(string calldata path, bool recursive) external;
    function writeFile(string calldata path, string calldata data) external;
    function toString(address value) external pure returns (string memory);
    function toString(uint256 value) external pure returns (string memory);
}

address constant VM_ADDRESS = address(uint160(uint256(keccak256("hevm cheat code"))));
Vm constant vm = Vm(VM_ADDRESS);
