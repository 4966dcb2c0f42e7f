// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm, vm} from "./Vm.sol";

/// @title TestBase — minimal assertions for forge tests without forge-std.
/// @dev A failing assertion reverts with a message naming what differed; forge reports the revert.
abstract contract TestBase {
    error AssertionFailed(string message);

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert AssertionFailed(string.concat(what, ": expected true"));
    }

    function assertFalse(bool condition, string memory what) internal pure {
        if (condition) revert AssertionFailed(string.concat(what, ": expected false"));
    }

    function assertEq(uint256 actual, uint256 expected, string memory what) internal pure {
        if (actual != expected) {
            revert AssertionFailed(string.concat(
                    what, ": got ", vm.toString(actual), ", expected ", vm.toString(expected)
                ));
        }
    }

    function assertEq(int256 actual, int256 expected, string memory what) internal pure {
        if (actual != expected) revert AssertionFailed(string.concat(what, ": int256 values differ"));
    }

    function assertEq(bool actual, bool expected, string memory what) internal pure {
        if (actual != expected) revert AssertionFailed(string.concat(what, ": bool values differ"));
    }

    function assertEq(address actual, address expected, string memory what) internal pure {
        if (actual != expected) {
            revert AssertionFailed(string.concat(
                    what, ": got ", vm.toString(actual), ", expected ", vm.toString(expected)
                ));
        }
    }

    function assertEq(bytes32 actual, bytes32 expected, string memory what) internal pure {
        if (actual != expected) revert AssertionFailed(string.concat(what, ": bytes32 values differ"));
    }

    function assertEq(string memory actual, string memory expected, string memory what) internal pure {
        if (keccak256(bytes(actual)) != keccak256(bytes(expected))) {
            revert AssertionFailed(string.concat(what, ": got \"", actual, "\", expected \"", expected, "\""));
        }
    }

    function assertEq(bytes memory actual, bytes memory expected, string memory what) internal pure {
        if (keccak256(actual) != keccak256(expected)) revert AssertionFailed(string.concat(what, ": bytes differ"));
    }

    function assertEq(address[] memory actual, address[] memory expected, string memory what) internal pure {
        assertEq(abi.encode(actual), abi.encode(expected), what);
    }

    function assertEq(bytes32[] memory actual, bytes32[] memory expected, string memory what) internal pure {
        assertEq(abi.encode(actual), abi.encode(expected), what);
    }

    function assertEq(uint256[] memory actual, uint256[] memory expected, string memory what) internal pure {
        assertEq(abi.encode(actual), abi.encode(expected), what);
    }

    function assertEq(string[] memory actual, string[] memory expected, string memory what) internal pure {
        assertEq(abi.encode(actual), abi.encode(expected), what);
    }

    /// Asserts how many logs `emitter` emitted since `vm.recordLogs()` (and consumes the record).
    function assertLogCount(address emitter, uint256 expected, string memory what) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 count;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == emitter) ++count;
        }
        assertEq(count, expected, what);
    }

    // ---------------------------------------------------------------- small array builders

    function addrs() internal pure returns (address[] memory a) {}

    function addrs(address x) internal pure returns (address[] memory a) {
        a = new address[](1);
        a[0] = x;
    }

    function addrs(address x, address y) internal pure returns (address[] memory a) {
        a = new address[](2);
        (a[0], a[1]) = (x, y);
    }

    function hashes() internal pure returns (bytes32[] memory h) {}

    function hashes(bytes32 x) internal pure returns (bytes32[] memory h) {
        h = new bytes32[](1);
        h[0] = x;
    }

    function hashes(bytes32 x, bytes32 y) internal pure returns (bytes32[] memory h) {
        h = new bytes32[](2);
        (h[0], h[1]) = (x, y);
    }

    function hashes(bytes32 x, bytes32 y, bytes32 z) internal pure returns (bytes32[] memory h) {
        h = new bytes32[](3);
        (h[0], h[1], h[2]) = (x, y, z);
    }

    function ids() internal pure returns (uint256[] memory i) {}

    function ids(uint256 x) internal pure returns (uint256[] memory i) {
        i = new uint256[](1);
        i[0] = x;
    }

    function ids(uint256 x, uint256 y) internal pure returns (uint256[] memory i) {
        i = new uint256[](2);
        (i[0], i[1]) = (x, y);
    }

    function ids(uint256 x, uint256 y, uint256 z) internal pure returns (uint256[] memory i) {
        i = new uint256[](3);
        (i[0], i[1], i[2]) = (x, y, z);
    }
}
