// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {INodeConfig} from "./ILitRegistry.sol";

/// @title NodeConfig — node operator state shared by every lit-node of a deployment.
/// @notice Holds the owner, the admin payer, the payer set (the accounts allowed to write
/// node-managed accounts in LitRegistry), the node signer set (the keys whose signature lets the
/// admin of a self-managed account register a wallet the node minted for it) and the node
/// configuration (key → value strings, e.g. action limits and prices). Every state change emits an
/// event with its complete new data, so the state can be rebuilt from events alone.
/// @dev Roles:
///   - owner: transfers ownership, sets the admin payer and the config operators, manages payers
///     and signers, writes configuration;
///   - admin payer: manages the payer and signer sets alongside the owner;
///   - config operators: write configuration alongside the owner.
/// address(0) is never accepted for any role. A config value of "" unsets its key.
contract NodeConfig is INodeConfig {
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.StringSet;

    /// @inheritdoc INodeConfig
    address public owner;
    /// @inheritdoc INodeConfig
    address public adminPayer;

    EnumerableSet.AddressSet private _payers;
    EnumerableSet.AddressSet private _signers;
    mapping(address operator => bool allowed) private _configOperators;
    EnumerableSet.StringSet private _configKeys;
    mapping(string key => string value) private _config;

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    modifier onlyPayerManager() {
        if (msg.sender != owner && msg.sender != adminPayer) revert NotPayerManager(msg.sender);
        _;
    }

    modifier nonZero(address account) {
        if (account == address(0)) revert ZeroAddress();
        _;
    }

    /// @param initialOwner The first owner (typically the deployer).
    constructor(address initialOwner) nonZero(initialOwner) {
        _transferOwnership(initialOwner);
    }

    // ---------------------------------------------------------------- owner

    /// @inheritdoc INodeConfig
    function transferOwnership(address newOwner) external onlyOwner nonZero(newOwner) {
        _transferOwnership(newOwner);
    }

    // ---------------------------------------------------------------- payers

    /// @inheritdoc INodeConfig
    function setAdminPayer(address newAdminPayer) external onlyOwner nonZero(newAdminPayer) {
        adminPayer = newAdminPayer;
        emit AdminPayerSet(newAdminPayer);
    }

    /// @inheritdoc INodeConfig
    function addPayer(address payer) external onlyPayerManager nonZero(payer) {
        if (!_payers.add(payer)) revert PayerAlreadyAdded(payer);
        emit PayerAdded(payer);
    }

    /// @notice Owner or admin payer. Removes `payer` from the payer set.
    function removePayer(address payer) external onlyPayerManager {
        if (!_payers.remove(payer)) revert PayerNotFound(payer);
        emit PayerRemoved(payer);
    }

    /// @inheritdoc INodeConfig
    function isPayer(address account) external view returns (bool) {
        return _payers.contains(account);
    }

    /// @inheritdoc INodeConfig
    function payers() external view returns (address[] memory) {
        return _payers.values();
    }

    // ---------------------------------------------------------------- node signers

    /// @inheritdoc INodeConfig
    function addSigner(address signer) external onlyPayerManager nonZero(signer) {
        if (!_signers.add(signer)) revert SignerAlreadyAdded(signer);
        emit SignerAdded(signer);
    }

    /// @notice Owner or admin payer. Removes `signer` from the node signer set: signatures it made
    /// are refused from then on, even those whose deadline has not passed.
    function removeSigner(address signer) external onlyPayerManager {
        if (!_signers.remove(signer)) revert SignerNotFound(signer);
        emit SignerRemoved(signer);
    }

    /// @inheritdoc INodeConfig
    function isSigner(address account) external view returns (bool) {
        return _signers.contains(account);
    }

    /// @inheritdoc INodeConfig
    function signers() external view returns (address[] memory) {
        return _signers.values();
    }

    // ---------------------------------------------------------------- configuration

    /// @inheritdoc INodeConfig
    function setConfigOperator(address operator, bool allowed) external onlyOwner nonZero(operator) {
        _configOperators[operator] = allowed;
        emit ConfigOperatorSet(operator, allowed);
    }

    /// @inheritdoc INodeConfig
    function isConfigOperator(address account) external view returns (bool) {
        return _configOperators[account];
    }

    /// @inheritdoc INodeConfig
    function setConfig(string calldata key, string calldata value) external {
        if (msg.sender != owner && !_configOperators[msg.sender]) revert NotConfigWriter(msg.sender);
        if (bytes(key).length == 0) revert EmptyConfigKey();
        if (bytes(value).length == 0) {
            _configKeys.remove(key);
            delete _config[key];
        } else {
            _configKeys.add(key);
            _config[key] = value;
        }
        emit ConfigSet(key, value);
    }

    /// @inheritdoc INodeConfig
    function getConfig(string calldata key) external view returns (string memory) {
        return _config[key];
    }

    /// @inheritdoc INodeConfig
    /// @dev The keys that currently have a non-empty value (order is not significant).
    function configKeys() external view returns (string[] memory) {
        return _configKeys.values();
    }

    // ---------------------------------------------------------------- internal

    function _transferOwnership(address newOwner) private {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }
}
