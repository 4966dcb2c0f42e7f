// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title Erc1271TestWallet — a minimal ERC-1271 contract wallet owned by one EOA. Test-only: never
/// part of a deployment.
/// @notice Stands in for a contract wallet (such as a Safe) in tests: it accepts its owner's ECDSA
/// signatures by ERC-1271 and forwards the owner's calls, so it can be the admin of a self-managed
/// LitRegistry account. Its ABI and bytecode are exported to abi/Erc1271TestWallet.json for the Rust
/// integration tests.
contract Erc1271TestWallet {
    /// ERC-1271 `isValidSignature` magic value (its own selector).
    bytes4 internal constant MAGIC_VALUE = 0x1626ba7e;
    bytes4 internal constant INVALID_SIGNATURE = 0xffffffff;

    error NotOwner(address sender);
    error ZeroOwner();

    /// The EOA whose signatures the wallet accepts and whose calls it forwards.
    address public immutable owner;

    /// @param owner_ The EOA that controls the wallet (not address(0)).
    constructor(address owner_) {
        if (owner_ == address(0)) revert ZeroOwner();
        owner = owner_;
    }

    /// @notice ERC-1271: the magic value 0x1626ba7e when `signature` is a 65-byte ECDSA signature of
    /// `hash` by the owner, 0xffffffff otherwise. Never reverts.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == owner ? MAGIC_VALUE : INVALID_SIGNATURE;
    }

    /// @notice Owner only: calls `target` with `data` (no value) and returns its return data; a
    /// revert of the target is bubbled up with its revert data unchanged.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        return result;
    }
}
