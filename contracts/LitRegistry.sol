// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ILitRegistry, INodeConfig} from "./ILitRegistry.sol";

/// @title LitRegistry — accounts, keys, wallets, groups, actions and credits of lit-node.
/// @notice The on-chain authorisation state every lit-node mirrors (see spec/chain.md). Accounts are
/// keyed by their account key hash. Node-managed accounts are written by the NodeConfig payer set on
/// behalf of API callers; self-managed ones only by their admin wallet. Every write names the key
/// the request was made with (`callerKeyHash`) and is checked in the order documented in
/// ILitRegistry: key resolution, writer, key expiry, scope, then existence and arguments.
/// A wallet may also create a self-managed account itself (`newSelfManagedAccount`); its id stands
/// in for the account key hash (the admin passes it as `callerKeyHash`). Wallets of a self-managed
/// account (created or converted) are registered only with a NodeConfig signer's EIP-712 signature
/// (`registerWalletWithNodeSignature`), never by `registerWallet`.
/// Batching: `batch` runs several of these calls in one transaction, each exactly as if its sender
/// had sent it alone (same checks, state changes and events, in order), reporting each call's
/// success and return or revert data without letting one refused call revert the others; a node
/// payer thus sends many concurrent management writes, for any accounts, in one transaction.
/// @dev Conventions where the interface leaves room:
///   - `MissingScope.groupId` is the requested group for the four group-scoped scopes and 0 for the
///     boolean scopes (CreateGroups, DeleteGroups, CreatePkps).
///   - A usage key's group lists may name only groups of its account, or the wildcard 0
///     (GroupNotFound otherwise, checked last). Otherwise a key that may create groups could be
///     pre-granted an id it then creates with the account's wallets in it. A group removed later
///     stays listed (ids are never reused, so it grants nothing).
///   - A removed usage key frees its hash in the key index (`accountOfKey` returns 0 at once).
///   - Views never revert: unknown objects read as empty/zero values.
///   - Balances are in cents, positive = credit available; charges may drive them negative.
///   - A node signature's deadline is inclusive (valid while block.timestamp <= deadline).
///   - The EIP-712 domain separator is built here rather than by OpenZeppelin's EIP712, whose ERC-5267
///     `eip712Domain()` and `EIP712DomainChanged` event would widen the ABI (and the event set the
///     mirror decodes) beyond ILitRegistry. It is cached and rebuilt if the chain id changes (fork).
contract LitRegistry is ILitRegistry {
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.Bytes32Set;
    using EnumerableSet for EnumerableSet.UintSet;

    /// Name and description of the wallet `newAccount` registers.
    string internal constant DEFAULT_WALLET_NAME = "Default wallet";
    string internal constant DEFAULT_WALLET_DESCRIPTION = "The account's default wallet, created with the account";
    /// Domain tag of self-managed account ids (see `selfManagedAccountId`).
    bytes32 internal constant SELF_MANAGED_ACCOUNT_TAG = keccak256("lit-node/self-managed-account/v1");
    /// EIP-712 type hash of the node signature of `registerWalletWithNodeSignature`.
    bytes32 internal constant WALLET_REGISTRATION_TYPEHASH =
        keccak256("WalletRegistration(bytes32 account,address wallet,bytes32 derivationId,uint256 deadline)");
    bytes32 internal constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant EIP712_NAME_HASH = keccak256("LitRegistry");
    bytes32 internal constant EIP712_VERSION_HASH = keccak256("1");

    struct Wallet {
        bytes32 account;
        bytes32 derivationId;
        string name;
        string description;
    }

    struct Group {
        string name;
        string description;
        EnumerableSet.AddressSet wallets;
        EnumerableSet.Bytes32Set cidHashes;
    }

    struct Action {
        string cid;
        string name;
        string description;
    }

    struct Account {
        string name;
        string description;
        address admin;
        bool selfManaged;
        bool accountKeyRevoked;
        int256 balance;
        uint256 lastGroupId;
        EnumerableSet.Bytes32Set usageKeyHashes;
        mapping(bytes32 keyHash => UsageKey) usageKeys;
        address[] wallets;
        EnumerableSet.UintSet groupIds;
        mapping(uint256 groupId => Group) groups;
        EnumerableSet.Bytes32Set actionHashes;
        mapping(bytes32 cidHash => Action) actions;
    }

    INodeConfig private immutable _nodeConfig;
    /// The EIP-712 domain separator for the chain id the registry was deployed on.
    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;

    /// Key index: account key hash → itself, usage key hash → its account.
    mapping(bytes32 keyHash => bytes32 account) private _keyAccount;
    mapping(bytes32 account => Account) private _accounts;
    mapping(address wallet => Wallet) private _wallets;
    mapping(bytes32 derivationId => bool used) private _derivationIdUsed;

    /// @inheritdoc ILitRegistry
    mapping(bytes32 paymentId => bool) public paymentCredited;
    /// @inheritdoc ILitRegistry
    mapping(bytes32 settlementId => bool) public settlementApplied;

    /// @param nodeConfig_ The NodeConfig whose payer set writes node-managed accounts and credits, and
    /// whose signer set signs the wallet registrations of self-managed accounts.
    constructor(address nodeConfig_) {
        _nodeConfig = INodeConfig(nodeConfig_);
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ---------------------------------------------------------------- accounts

    /// @inheritdoc ILitRegistry
    function newAccount(
        bytes32 accountKeyHash,
        string calldata name,
        string calldata description,
        address defaultWallet,
        bytes32 derivationId
    ) external {
        _requirePayer();
        if (accountKeyHash == 0) revert ZeroKeyHash();
        if (_keyAccount[accountKeyHash] != 0) revert AccountAlreadyExists(accountKeyHash);

        _keyAccount[accountKeyHash] = accountKeyHash;
        Account storage a = _accounts[accountKeyHash];
        a.name = name;
        a.description = description;
        emit AccountCreated(accountKeyHash, name, description, address(0), false);

        _registerWallet(accountKeyHash, a, defaultWallet, derivationId, DEFAULT_WALLET_NAME, DEFAULT_WALLET_DESCRIPTION);
    }

    /// @inheritdoc ILitRegistry
    /// @dev Reverts AlreadySelfManaged (for the admin itself; anyone else gets NotAccountAdmin) and
    /// ZeroWalletAddress for a zero `newAdmin`.
    function convertToSelfManaged(bytes32 callerKeyHash, address newAdmin) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        if (a.selfManaged) revert AlreadySelfManaged(account);
        if (newAdmin == address(0)) revert ZeroWalletAddress();
        a.admin = newAdmin;
        a.selfManaged = true;
        emit AccountAdminChanged(account, newAdmin, true);
    }

    // ---------------------------------------------------------------- self-managed accounts

    /// @inheritdoc ILitRegistry
    function revokeAccountKey(bytes32 account) external {
        _requireAccount(account);
        Account storage a = _accounts[account];
        if (!a.selfManaged) revert NotSelfManaged(account);
        if (msg.sender != a.admin) revert NotAccountAdmin(account, msg.sender);
        if (a.accountKeyRevoked) revert AccountKeyAlreadyRevoked(account);
        a.accountKeyRevoked = true;
        emit AccountKeyRevoked(account);
    }

    /// @inheritdoc ILitRegistry
    function accountKeyRevoked(bytes32 account) external view returns (bool) {
        return _accounts[account].accountKeyRevoked;
    }

    /// @inheritdoc ILitRegistry
    /// @dev No payer involved: the caller becomes the admin. The account starts without wallets and
    /// with a zero balance.
    function newSelfManagedAccount(bytes32 salt, string calldata name, string calldata description)
        external
        returns (bytes32 account)
    {
        account = selfManagedAccountId(msg.sender, salt);
        if (_keyAccount[account] != 0) revert AccountAlreadyExists(account);

        _keyAccount[account] = account;
        Account storage a = _accounts[account];
        a.name = name;
        a.description = description;
        a.admin = msg.sender;
        a.selfManaged = true;
        emit AccountCreated(account, name, description, msg.sender, true);
    }

    /// @inheritdoc ILitRegistry
    function selfManagedAccountId(address admin, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(SELF_MANAGED_ACCOUNT_TAG, admin, salt));
    }

    /// @inheritdoc ILitRegistry
    /// @dev Works for every self-managed account, created by `newSelfManagedAccount` or converted by
    /// `convertToSelfManaged`. Only the admin itself may call it (not through a usage key).
    function registerWalletWithNodeSignature(
        bytes32 account,
        address wallet,
        bytes32 derivationId,
        string calldata name,
        string calldata description,
        uint256 deadline,
        bytes calldata nodeSignature
    ) external {
        _requireAccount(account);
        Account storage a = _accounts[account];
        if (!a.selfManaged) revert NotSelfManaged(account);
        if (msg.sender != a.admin) revert NotAccountAdmin(account, msg.sender);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert RegistrationExpired(deadline);
        _requireNodeSignature(walletRegistrationDigest(account, wallet, derivationId, deadline), nodeSignature);
        _registerWallet(account, a, wallet, derivationId, name, description);
    }

    /// @inheritdoc ILitRegistry
    function walletRegistrationDigest(bytes32 account, address wallet, bytes32 derivationId, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        bytes32 domainSeparator = block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
        return MessageHashUtils.toTypedDataHash(
            domainSeparator,
            keccak256(abi.encode(WALLET_REGISTRATION_TYPEHASH, account, wallet, derivationId, deadline))
        );
    }

    // ---------------------------------------------------------------- usage keys

    /// @inheritdoc ILitRegistry
    function addUsageKey(bytes32 callerKeyHash, bytes32 usageKeyHash, UsageKey calldata key) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        if (usageKeyHash == 0) revert ZeroKeyHash();
        if (_keyAccount[usageKeyHash] != 0) revert KeyAlreadyExists(usageKeyHash);
        _requireListedGroups(account, a, key);

        _keyAccount[usageKeyHash] = account;
        a.usageKeyHashes.add(usageKeyHash);
        a.usageKeys[usageKeyHash] = key;
        emit UsageKeyAdded(account, usageKeyHash, key);
    }

    /// @inheritdoc ILitRegistry
    function updateUsageKey(bytes32 callerKeyHash, bytes32 usageKeyHash, UsageKey calldata key) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        _requireUsageKey(account, a, usageKeyHash);
        _requireListedGroups(account, a, key);
        a.usageKeys[usageKeyHash] = key;
        emit UsageKeyUpdated(account, usageKeyHash, key);
    }

    /// @inheritdoc ILitRegistry
    function updateUsageKeyMetadata(
        bytes32 callerKeyHash,
        bytes32 usageKeyHash,
        string calldata name,
        string calldata description
    ) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        _requireUsageKey(account, a, usageKeyHash);
        UsageKey storage key = a.usageKeys[usageKeyHash];
        key.name = name;
        key.description = description;
        emit UsageKeyMetadataUpdated(account, usageKeyHash, name, description);
    }

    /// @inheritdoc ILitRegistry
    /// @dev Revokes the key at once: it no longer resolves to any account.
    function removeUsageKey(bytes32 callerKeyHash, bytes32 usageKeyHash) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        _requireUsageKey(account, a, usageKeyHash);
        a.usageKeyHashes.remove(usageKeyHash);
        delete a.usageKeys[usageKeyHash];
        delete _keyAccount[usageKeyHash];
        emit UsageKeyRemoved(account, usageKeyHash);
    }

    // ---------------------------------------------------------------- wallets

    /// @inheritdoc ILitRegistry
    /// @dev Self-managed accounts revert NodeSignatureRequired once the caller is authorised (the
    /// admin, with the account id or a usage key holding CreatePkps): they register wallets through
    /// `registerWalletWithNodeSignature` only.
    function registerWallet(
        bytes32 callerKeyHash,
        address wallet,
        bytes32 derivationId,
        string calldata name,
        string calldata description
    ) external {
        (bytes32 account, Account storage a, UsageKey storage key) = _authorize(callerKeyHash);
        _requireScope(callerKeyHash, account, key.canCreatePkps, Scope.CreatePkps);
        if (a.selfManaged) revert NodeSignatureRequired(account);
        _registerWallet(account, a, wallet, derivationId, name, description);
    }

    // ---------------------------------------------------------------- groups

    /// @inheritdoc ILitRegistry
    function addGroup(
        bytes32 callerKeyHash,
        string calldata name,
        string calldata description,
        address[] calldata wallets,
        bytes32[] calldata cidHashes
    ) external returns (uint256 groupId) {
        (bytes32 account, Account storage a, UsageKey storage key) = _authorize(callerKeyHash);
        _requireScope(callerKeyHash, account, key.canCreateGroups, Scope.CreateGroups);

        groupId = ++a.lastGroupId;
        a.groupIds.add(groupId);
        Group storage g = a.groups[groupId];
        _setGroup(account, g, name, description, wallets, cidHashes);
        emit GroupAdded(account, groupId, name, description, g.wallets.values(), g.cidHashes.values());
    }

    /// @inheritdoc ILitRegistry
    function removeGroup(bytes32 callerKeyHash, uint256 groupId) external {
        (bytes32 account, Account storage a, UsageKey storage key) = _authorize(callerKeyHash);
        _requireScope(callerKeyHash, account, key.canDeleteGroups, Scope.DeleteGroups);
        Group storage g = _group(account, a, groupId);

        g.wallets.clear();
        g.cidHashes.clear();
        delete a.groups[groupId];
        a.groupIds.remove(groupId);
        emit GroupRemoved(account, groupId);
    }

    /// @inheritdoc ILitRegistry
    function updateGroup(
        bytes32 callerKeyHash,
        uint256 groupId,
        string calldata name,
        string calldata description,
        address[] calldata wallets,
        bytes32[] calldata cidHashes
    ) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        Group storage g = _group(account, a, groupId);

        g.wallets.clear();
        g.cidHashes.clear();
        _setGroup(account, g, name, description, wallets, cidHashes);
        emit GroupUpdated(account, groupId, name, description, g.wallets.values(), g.cidHashes.values());
    }

    /// @inheritdoc ILitRegistry
    function addActionToGroup(bytes32 callerKeyHash, uint256 groupId, bytes32 cidHash) external {
        (bytes32 account, Group storage g) = _authorizeGroupWrite(callerKeyHash, groupId, Scope.ManageIpfsIdsInGroups);
        if (g.cidHashes.add(cidHash)) emit GroupActionAdded(account, groupId, cidHash);
    }

    /// @inheritdoc ILitRegistry
    /// @dev Scope ManageIpfsIdsInGroups for groupId (or 0). Removing an absent hash is a no-op.
    function removeActionFromGroup(bytes32 callerKeyHash, uint256 groupId, bytes32 cidHash) external {
        (bytes32 account, Group storage g) = _authorizeGroupWrite(callerKeyHash, groupId, Scope.ManageIpfsIdsInGroups);
        if (g.cidHashes.remove(cidHash)) emit GroupActionRemoved(account, groupId, cidHash);
    }

    /// @inheritdoc ILitRegistry
    /// @dev Idempotent: no event when the wallet is already in the group.
    function addWalletToGroup(bytes32 callerKeyHash, uint256 groupId, address wallet) external {
        (bytes32 account, Group storage g) = _authorizeGroupWrite(callerKeyHash, groupId, Scope.AddPkpToGroups);
        _requireWalletOf(account, wallet);
        if (g.wallets.add(wallet)) emit GroupWalletAdded(account, groupId, wallet);
    }

    /// @inheritdoc ILitRegistry
    /// @dev Removing an absent wallet is a no-op.
    function removeWalletFromGroup(bytes32 callerKeyHash, uint256 groupId, address wallet) external {
        (bytes32 account, Group storage g) = _authorizeGroupWrite(callerKeyHash, groupId, Scope.RemovePkpFromGroups);
        if (g.wallets.remove(wallet)) emit GroupWalletRemoved(account, groupId, wallet);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc ILitRegistry
    function addAction(bytes32 callerKeyHash, string calldata cid, string calldata name, string calldata description)
        external
    {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        if (bytes(cid).length == 0) revert EmptyCid();

        bytes32 cidHash = keccak256(bytes(cid));
        Action storage action = a.actions[cidHash];
        if (a.actionHashes.add(cidHash)) action.cid = cid;
        action.name = name;
        action.description = description;
        emit ActionSet(account, cidHash, cid, name, description);
    }

    /// @inheritdoc ILitRegistry
    function updateActionMetadata(
        bytes32 callerKeyHash,
        bytes32 cidHash,
        string calldata name,
        string calldata description
    ) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        if (!a.actionHashes.contains(cidHash)) revert ActionNotFound(account, cidHash);

        Action storage action = a.actions[cidHash];
        action.name = name;
        action.description = description;
        emit ActionMetadataUpdated(account, cidHash, name, description);
    }

    /// @inheritdoc ILitRegistry
    /// @dev Emits only ActionRemoved (no GroupActionRemoved per group): the event itself means
    /// "gone from every group of the account".
    function deleteAction(bytes32 callerKeyHash, bytes32 cidHash) external {
        (bytes32 account, Account storage a) = _authorizeAccountKey(callerKeyHash);
        if (!a.actionHashes.remove(cidHash)) revert ActionNotFound(account, cidHash);

        delete a.actions[cidHash];
        uint256 groupCount = a.groupIds.length();
        for (uint256 i; i < groupCount; ++i) {
            a.groups[a.groupIds.at(i)].cidHashes.remove(cidHash);
        }
        emit ActionRemoved(account, cidHash);
    }

    // ---------------------------------------------------------------- credits

    /// @inheritdoc ILitRegistry
    /// @dev Payer only. Checks in order: NotPayer, AccountNotFound, ZeroAmount, PaymentAlreadyCredited.
    function creditAccount(bytes32 account, uint256 amountCents, bytes32 paymentId) external {
        _requirePayer();
        _requireAccount(account);
        if (amountCents == 0) revert ZeroAmount();
        if (paymentCredited[paymentId]) revert PaymentAlreadyCredited(paymentId);

        paymentCredited[paymentId] = true;
        int256 newBalance = _accounts[account].balance += SafeCast.toInt256(amountCents);
        emit CreditAdded(account, paymentId, amountCents, newBalance);
    }

    /// @inheritdoc ILitRegistry
    /// @dev Payer only. Checks in order: NotPayer, LengthMismatch, SettlementAlreadyApplied, then
    /// AccountNotFound per entry. Zero amounts are allowed (and emitted); an empty batch only marks
    /// the settlement id as applied.
    function chargeUsage(bytes32 settlementId, bytes32[] calldata accounts, uint256[] calldata amountsCents) external {
        _requirePayer();
        if (accounts.length != amountsCents.length) revert LengthMismatch(accounts.length, amountsCents.length);
        if (settlementApplied[settlementId]) revert SettlementAlreadyApplied(settlementId);

        settlementApplied[settlementId] = true;
        for (uint256 i; i < accounts.length; ++i) {
            bytes32 account = accounts[i];
            _requireAccount(account);
            int256 newBalance = _accounts[account].balance -= SafeCast.toInt256(amountsCents[i]);
            emit UsageCharged(settlementId, account, amountsCents[i], newBalance);
        }
    }

    // ---------------------------------------------------------------- batching

    /// @inheritdoc ILitRegistry
    /// @dev Each call is a delegatecall of this registry into itself, so msg.sender (the payer, or a
    /// self-managed admin) and every check, state change and event are those of the call sent
    /// alone; the batch adds no event of its own. A call that fails having used up all but the 1/64
    /// of the gas EIP-150 withholds ran out of gas: the whole batch then reverts (see the interface).
    function batch(bytes[] calldata calls) external returns (CallResult[] memory results) {
        results = new CallResult[](calls.length);
        for (uint256 i; i < calls.length; ++i) {
            bytes calldata data = calls[i];
            if (data.length >= 4 && bytes4(data[:4]) == this.batch.selector) {
                results[i].data = abi.encodeWithSelector(NestedBatch.selector);
            } else {
                uint256 gasBefore = gasleft();
                (bool success, bytes memory returned) = address(this).delegatecall(data);
                if (!success && gasleft() <= gasBefore / 63) revert();
                results[i] = CallResult(success, returned);
            }
            emit BatchCallFinished(i, results[i].success, results[i].data);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ILitRegistry
    function nodeConfig() external view returns (address) {
        return address(_nodeConfig);
    }

    /// @inheritdoc ILitRegistry
    function accountOfKey(bytes32 keyHash) external view returns (bytes32 account) {
        return _keyAccount[keyHash];
    }

    /// @inheritdoc ILitRegistry
    function accountExists(bytes32 account) public view returns (bool) {
        return account != 0 && _keyAccount[account] == account;
    }

    /// @inheritdoc ILitRegistry
    function accountAdmin(bytes32 account) external view returns (address admin, bool selfManaged) {
        Account storage a = _accounts[account];
        return (a.admin, a.selfManaged);
    }

    /// @inheritdoc ILitRegistry
    function getUsageKey(bytes32 account, bytes32 keyHash) external view returns (UsageKey memory) {
        return _accounts[account].usageKeys[keyHash];
    }

    /// @inheritdoc ILitRegistry
    function walletAccount(address wallet) external view returns (bytes32 account, bytes32 derivationId) {
        Wallet storage w = _wallets[wallet];
        return (w.account, w.derivationId);
    }

    /// @inheritdoc ILitRegistry
    function groupExists(bytes32 account, uint256 groupId) external view returns (bool) {
        return _accounts[account].groupIds.contains(groupId);
    }

    /// @inheritdoc ILitRegistry
    function groupMembers(bytes32 account, uint256 groupId)
        external
        view
        returns (address[] memory wallets, bytes32[] memory cidHashes)
    {
        Group storage g = _accounts[account].groups[groupId];
        return (g.wallets.values(), g.cidHashes.values());
    }

    /// @inheritdoc ILitRegistry
    function actionExists(bytes32 account, bytes32 cidHash) external view returns (bool) {
        return _accounts[account].actionHashes.contains(cidHash);
    }

    /// @inheritdoc ILitRegistry
    function balanceOf(bytes32 account) external view returns (int256 balanceCents) {
        return _accounts[account].balance;
    }

    /// @inheritdoc ILitRegistry
    function canExecute(bytes32 keyHash, bytes32 cidHash) external view returns (bool) {
        return _permitted(keyHash, cidHash, false, address(0));
    }

    /// @inheritdoc ILitRegistry
    function canUseWallet(bytes32 keyHash, bytes32 cidHash, address wallet) external view returns (bool) {
        return _permitted(keyHash, cidHash, true, wallet);
    }

    // ---------------------------------------------------------------- audit views (beyond ILitRegistry)
    // The mirror rebuilds everything from events; these expose the same stored state for tooling and
    // for anyone auditing who may do what. Lists are unpaginated: intended for eth_call only.

    /// @notice An account's name and description (empty for an unknown account).
    function accountMetadata(bytes32 account) external view returns (string memory name, string memory description) {
        Account storage a = _accounts[account];
        return (a.name, a.description);
    }

    /// @notice The hashes of the account's current usage keys (order not significant).
    function usageKeysOf(bytes32 account) external view returns (bytes32[] memory) {
        return _accounts[account].usageKeyHashes.values();
    }

    /// @notice The account's wallets, in registration order (the default wallet first).
    function walletsOf(bytes32 account) external view returns (address[] memory) {
        return _accounts[account].wallets;
    }

    /// @notice A wallet's name and description (empty for an unregistered wallet).
    function walletMetadata(address wallet) external view returns (string memory name, string memory description) {
        Wallet storage w = _wallets[wallet];
        return (w.name, w.description);
    }

    /// @notice The ids of the account's current groups (order not significant).
    function groupIdsOf(bytes32 account) external view returns (uint256[] memory) {
        return _accounts[account].groupIds.values();
    }

    /// @notice A group's name and description (empty for an unknown or removed group).
    function groupMetadata(bytes32 account, uint256 groupId)
        external
        view
        returns (string memory name, string memory description)
    {
        Group storage g = _accounts[account].groups[groupId];
        return (g.name, g.description);
    }

    /// @notice The hashed CIDs of the account's current actions (order not significant).
    function actionsOf(bytes32 account) external view returns (bytes32[] memory) {
        return _accounts[account].actionHashes.values();
    }

    /// @notice An action's CID string, name and description (empty for an unknown action).
    function getAction(bytes32 account, bytes32 cidHash)
        external
        view
        returns (string memory cid, string memory name, string memory description)
    {
        Action storage action = _accounts[account].actions[cidHash];
        return (action.cid, action.name, action.description);
    }

    // ---------------------------------------------------------------- authorisation (internal)

    /// Steps 1–3 of the check order: resolves `callerKeyHash` to its account, checks the writer
    /// (payer set or the self-managed admin) and the key's expiry. Returns the caller's usage key
    /// record (empty, hence scope-less and never expiring, for the account key).
    function _authorize(bytes32 callerKeyHash)
        private
        view
        returns (bytes32 account, Account storage a, UsageKey storage key)
    {
        account = _keyAccount[callerKeyHash];
        if (account == 0) revert UnknownKey(callerKeyHash);
        a = _accounts[account];
        if (a.selfManaged) {
            if (msg.sender != a.admin) revert NotAccountAdmin(account, msg.sender);
        } else {
            _requirePayer();
        }
        key = a.usageKeys[callerKeyHash];
        if (_isExpired(key.expiration)) revert KeyExpired(callerKeyHash, key.expiration);
    }

    /// `_authorize` plus step 4 for operations reserved to the account key.
    function _authorizeAccountKey(bytes32 callerKeyHash) private view returns (bytes32 account, Account storage a) {
        (account, a,) = _authorize(callerKeyHash);
        if (callerKeyHash != account) revert NotAccountKey(callerKeyHash);
    }

    /// `_authorize`, the group-scoped `scope` for `groupId` (step 4), then the group's existence.
    function _authorizeGroupWrite(bytes32 callerKeyHash, uint256 groupId, Scope scope)
        private
        view
        returns (bytes32 account, Group storage g)
    {
        Account storage a;
        UsageKey storage key;
        (account, a, key) = _authorize(callerKeyHash);
        if (callerKeyHash != account && !_coversGroup(_groupList(key, scope), groupId)) {
            revert MissingScope(callerKeyHash, scope, groupId);
        }
        g = _group(account, a, groupId);
    }

    /// Step 4 for the boolean scopes: the account key always passes.
    function _requireScope(bytes32 callerKeyHash, bytes32 account, bool granted, Scope scope) private pure {
        if (callerKeyHash != account && !granted) revert MissingScope(callerKeyHash, scope, 0);
    }

    /// A 65-byte ECDSA signature of `digest` by a NodeConfig signer; InvalidNodeSignature(recovered)
    /// otherwise (address(0) for a malformed signature).
    function _requireNodeSignature(bytes32 digest, bytes calldata signature) private view {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || !_nodeConfig.isSigner(signer)) revert InvalidNodeSignature(signer);
    }

    /// EIP-712 domain {name: "LitRegistry", version: "1", chainId: block.chainid, verifyingContract: this}.
    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(EIP712_DOMAIN_TYPEHASH, EIP712_NAME_HASH, EIP712_VERSION_HASH, block.chainid, address(this))
        );
    }

    function _requirePayer() private view {
        if (!_nodeConfig.isPayer(msg.sender)) revert NotPayer(msg.sender);
    }

    /// The group-id list of `key` that grants the group-scoped `scope`.
    function _groupList(UsageKey storage key, Scope scope) private view returns (uint256[] storage) {
        if (scope == Scope.ManageIpfsIdsInGroups) return key.manageIpfsIdsInGroups;
        if (scope == Scope.AddPkpToGroups) return key.addPkpToGroups;
        if (scope == Scope.RemovePkpFromGroups) return key.removePkpFromGroups;
        return key.executeInGroups;
    }

    /// Whether `groups` lists `groupId` or the wildcard 0.
    function _coversGroup(uint256[] storage groups, uint256 groupId) private view returns (bool) {
        for (uint256 i; i < groups.length; ++i) {
            uint256 listed = groups[i];
            if (listed == 0 || listed == groupId) return true;
        }
        return false;
    }

    function _isExpired(uint64 expiration) private view returns (bool) {
        // forge-lint: disable-next-line(block-timestamp)
        return expiration != 0 && expiration <= block.timestamp;
    }

    /// spec/actions.md "Permissions": the execute right, and with `withWallet` the wallet-use right.
    function _permitted(bytes32 keyHash, bytes32 cidHash, bool withWallet, address wallet) private view returns (bool) {
        bytes32 account = _keyAccount[keyHash];
        if (account == 0) return false;
        if (withWallet && _wallets[wallet].account != account) return false;
        Account storage a = _accounts[account];
        if (keyHash == account) return !a.accountKeyRevoked;

        UsageKey storage key = a.usageKeys[keyHash];
        if (_isExpired(key.expiration)) return false;

        uint256[] storage groups = key.executeInGroups;
        for (uint256 i; i < groups.length; ++i) {
            uint256 groupId = groups[i];
            if (groupId == 0) return true;
            if (!a.groupIds.contains(groupId)) continue;
            Group storage g = a.groups[groupId];
            if (!g.cidHashes.contains(cidHash) && !g.cidHashes.contains(0)) continue;
            if (!withWallet || g.wallets.contains(wallet) || g.wallets.contains(address(0))) return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- state helpers (internal)

    function _requireAccount(bytes32 account) private view {
        if (!accountExists(account)) revert AccountNotFound(account);
    }

    function _requireUsageKey(bytes32 account, Account storage a, bytes32 keyHash) private view {
        if (!a.usageKeyHashes.contains(keyHash)) revert UsageKeyNotFound(account, keyHash);
    }

    /// Every id in the key's four group lists is a group of the account or the wildcard 0.
    function _requireListedGroups(bytes32 account, Account storage a, UsageKey calldata key) private view {
        _requireGroups(account, a, key.manageIpfsIdsInGroups);
        _requireGroups(account, a, key.addPkpToGroups);
        _requireGroups(account, a, key.removePkpFromGroups);
        _requireGroups(account, a, key.executeInGroups);
    }

    function _requireGroups(bytes32 account, Account storage a, uint256[] calldata groupIds) private view {
        for (uint256 i; i < groupIds.length; ++i) {
            uint256 groupId = groupIds[i];
            if (groupId != 0 && !a.groupIds.contains(groupId)) revert GroupNotFound(account, groupId);
        }
    }

    function _group(bytes32 account, Account storage a, uint256 groupId) private view returns (Group storage) {
        if (!a.groupIds.contains(groupId)) revert GroupNotFound(account, groupId);
        return a.groups[groupId];
    }

    /// A group member wallet must be a wallet of `account`, or address(0) ("any wallet").
    function _requireWalletOf(bytes32 account, address wallet) private view {
        if (wallet != address(0) && _wallets[wallet].account != account) revert WalletNotInAccount(account, wallet);
    }

    /// Sets a group's metadata and adds the given members to its (empty) sets; duplicates are ignored.
    function _setGroup(
        bytes32 account,
        Group storage g,
        string calldata name,
        string calldata description,
        address[] calldata wallets,
        bytes32[] calldata cidHashes
    ) private {
        g.name = name;
        g.description = description;
        for (uint256 i; i < wallets.length; ++i) {
            _requireWalletOf(account, wallets[i]);
            g.wallets.add(wallets[i]);
        }
        for (uint256 i; i < cidHashes.length; ++i) {
            g.cidHashes.add(cidHashes[i]);
        }
    }

    function _registerWallet(
        bytes32 account,
        Account storage a,
        address wallet,
        bytes32 derivationId,
        string memory name,
        string memory description
    ) private {
        if (wallet == address(0)) revert ZeroWalletAddress();
        if (derivationId == 0) revert ZeroDerivationId();
        if (_wallets[wallet].account != 0) revert WalletAlreadyRegistered(wallet);
        if (_derivationIdUsed[derivationId]) revert DerivationIdAlreadyUsed(derivationId);

        _derivationIdUsed[derivationId] = true;
        _wallets[wallet] = Wallet(account, derivationId, name, description);
        a.wallets.push(wallet);
        emit WalletRegistered(account, wallet, derivationId, name, description);
    }
}
