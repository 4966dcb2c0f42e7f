// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ILitRegistry — the on-chain authorisation state of lit-node accounts.
/// @notice Accounts are keyed by the account key hash (keccak256 of the API key's utf8 bytes),
/// or, for an account a wallet created itself, by `selfManagedAccountId(admin, salt)`.
/// Every account-scoped write takes `callerKeyHash`: the hash of the API key the request was made
/// with (the account key itself, or one of the account's usage keys). The contract resolves the
/// account from it and enforces the scope rules of spec/api.md. Node-managed accounts are written
/// only by the payer set of NodeConfig; self-managed ones only by their admin wallet (an EOA or a
/// contract wallet), which passes the account id itself as `callerKeyHash` to act with the rights
/// of the account key. A self-managed account gets wallets only through
/// `registerWalletWithNodeSignature`: a node signer must have minted the derivation for it.
///
/// Check order for every account-scoped write (so errors are predictable):
///   1. key resolution (UnknownKey), 2. writer (NotPayer / NotAccountAdmin), 3. key expiry
///   (KeyExpired), 4. scope (NotAccountKey / MissingScope), 5. existence and argument checks.
///
/// Events are the mirror's only input: each carries the complete new data of what changed.
interface ILitRegistry {
    /// The seven usage-key scopes. Group-scoped ones accept group id 0 as "every group".
    enum Scope {
        CreateGroups,
        DeleteGroups,
        CreatePkps,
        ManageIpfsIdsInGroups,
        AddPkpToGroups,
        RemovePkpFromGroups,
        ExecuteInGroups
    }

    /// A usage key's metadata and scopes, exactly as stored and as emitted.
    struct UsageKey {
        string name;
        string description;
        /// Unix seconds after which the key stops working; 0 = never.
        uint64 expiration;
        bool canCreateGroups;
        bool canDeleteGroups;
        bool canCreatePkps;
        uint256[] manageIpfsIdsInGroups;
        uint256[] addPkpToGroups;
        uint256[] removePkpFromGroups;
        uint256[] executeInGroups;
    }

    /// The outcome of one call of a batch: whether it succeeded, and its return data (success) or revert data (failure).
    struct CallResult {
        bool success;
        bytes data;
    }

    // ---------------------------------------------------------------- errors
    error NotPayer(address sender);
    error NotAccountAdmin(bytes32 account, address sender);
    error UnknownKey(bytes32 keyHash);
    error ZeroKeyHash();
    error AccountAlreadyExists(bytes32 accountKeyHash);
    error KeyAlreadyExists(bytes32 keyHash);
    error NotAccountKey(bytes32 keyHash);
    error MissingScope(bytes32 keyHash, Scope scope, uint256 groupId);
    error KeyExpired(bytes32 keyHash, uint64 expiration);
    error UsageKeyNotFound(bytes32 account, bytes32 keyHash);
    error GroupNotFound(bytes32 account, uint256 groupId);
    error WalletAlreadyRegistered(address wallet);
    error DerivationIdAlreadyUsed(bytes32 derivationId);
    error ZeroDerivationId();
    error ZeroWalletAddress();
    error WalletNotInAccount(bytes32 account, address wallet);
    error ActionNotFound(bytes32 account, bytes32 cidHash);
    error EmptyCid();
    error ZeroAmount();
    error LengthMismatch(uint256 accounts, uint256 amounts);
    error PaymentAlreadyCredited(bytes32 paymentId);
    error SettlementAlreadyApplied(bytes32 settlementId);
    error AccountNotFound(bytes32 account);
    error AlreadySelfManaged(bytes32 account);
    error NotSelfManaged(bytes32 account);
    /// `registerWallet` on a self-managed account: use `registerWalletWithNodeSignature`.
    error NodeSignatureRequired(bytes32 account);
    error RegistrationExpired(uint256 deadline);
    /// The recovered signer is not a NodeConfig signer (address(0) when the signature is malformed).
    error InvalidNodeSignature(address signer);
    error AccountKeyAlreadyRevoked(bytes32 account);
    /// A `batch` call inside a batch (reported in that call's CallResult, never reverting the batch).
    error NestedBatch();

    // ---------------------------------------------------------------- events
    /// A new account; `admin` is address(0) with selfManaged=false for node-managed accounts.
    event AccountCreated(bytes32 indexed account, string name, string description, address admin, bool selfManaged);
    /// The account's admin changed (one-way conversion to self-managed).
    event AccountAdminChanged(bytes32 indexed account, address admin, bool selfManaged);
    /// The admin of a self-managed account ended its account key: it no longer authorises runs or
    /// reads (the admin still writes the account, passing the account id as `callerKeyHash`).
    event AccountKeyRevoked(bytes32 indexed account);
    event UsageKeyAdded(bytes32 indexed account, bytes32 indexed keyHash, UsageKey key);
    /// Full replacement of a usage key's metadata and scopes.
    event UsageKeyUpdated(bytes32 indexed account, bytes32 indexed keyHash, UsageKey key);
    event UsageKeyMetadataUpdated(bytes32 indexed account, bytes32 indexed keyHash, string name, string description);
    event UsageKeyRemoved(bytes32 indexed account, bytes32 indexed keyHash);
    event WalletRegistered(
        bytes32 indexed account, address indexed wallet, bytes32 derivationId, string name, string description
    );
    event GroupAdded(
        bytes32 indexed account,
        uint256 indexed groupId,
        string name,
        string description,
        address[] wallets,
        bytes32[] cidHashes
    );
    /// Full replacement of a group's metadata and both sets.
    event GroupUpdated(
        bytes32 indexed account,
        uint256 indexed groupId,
        string name,
        string description,
        address[] wallets,
        bytes32[] cidHashes
    );
    event GroupRemoved(bytes32 indexed account, uint256 indexed groupId);
    event GroupActionAdded(bytes32 indexed account, uint256 indexed groupId, bytes32 cidHash);
    event GroupActionRemoved(bytes32 indexed account, uint256 indexed groupId, bytes32 cidHash);
    event GroupWalletAdded(bytes32 indexed account, uint256 indexed groupId, address wallet);
    event GroupWalletRemoved(bytes32 indexed account, uint256 indexed groupId, address wallet);
    /// Registers or renames an action (upsert; creation order is that of the first ActionSet).
    event ActionSet(bytes32 indexed account, bytes32 indexed cidHash, string cid, string name, string description);
    event ActionMetadataUpdated(bytes32 indexed account, bytes32 indexed cidHash, string name, string description);
    /// The action is gone from the account and from every group of the account.
    event ActionRemoved(bytes32 indexed account, bytes32 indexed cidHash);
    event CreditAdded(bytes32 indexed account, bytes32 indexed paymentId, uint256 amountCents, int256 newBalance);
    event UsageCharged(bytes32 indexed settlementId, bytes32 indexed account, uint256 amountCents, int256 newBalance);
    /// Emitted by `batch` after each of its calls: the call's position, whether it succeeded, and
    /// its return data (or revert data), so a sender learns every call's outcome from the receipt
    /// alone. The events of call `index` are the ones between this marker and the previous one.
    /// The mirror ignores it: state changes are in the calls' own events.
    event BatchCallFinished(uint256 indexed index, bool success, bytes data);

    // ---------------------------------------------------------------- accounts (payer set only)
    /// Creates a node-managed account and its default wallet in one transaction.
    function newAccount(
        bytes32 accountKeyHash,
        string calldata name,
        string calldata description,
        address defaultWallet,
        bytes32 derivationId
    ) external;

    /// One-way: hands the account to `newAdmin`, which alone may write it from then on. Account key only.
    function convertToSelfManaged(bytes32 callerKeyHash, address newAdmin) external;

    /// The admin of a self-managed account revokes its account key (the key a converted account
    /// was created with): `canExecute`/`canUseWallet` answer false for it from then on. One way.
    /// Check order: AccountNotFound, NotSelfManaged, NotAccountAdmin, AccountKeyAlreadyRevoked.
    function revokeAccountKey(bytes32 account) external;

    /// Whether the admin revoked the account's account key.
    function accountKeyRevoked(bytes32 account) external view returns (bool);

    // ---------------------------------------------------------------- self-managed accounts (admin wallet)
    /// A wallet creates its own self-managed account (admin = msg.sender), with no wallet yet. The id
    /// is `selfManagedAccountId(msg.sender, salt)`; emits AccountCreated(account, name, description,
    /// msg.sender, true). The id is also entered in the key index as the account's "account key"
    /// (`accountOfKey(id) == id`), so the admin passes the account id as `callerKeyHash` to every
    /// management function (usage keys, groups, group members, actions). No API key hashes to that
    /// id (its preimage is a 96-byte ABI encoding, never an API key). Anyone may call it; the caller
    /// only ever creates accounts administered by itself. Reverts AccountAlreadyExists(id) when the
    /// caller used `salt` already.
    function newSelfManagedAccount(bytes32 salt, string calldata name, string calldata description)
        external
        returns (bytes32 account);

    /// keccak256(abi.encode(keccak256("lit-node/self-managed-account/v1"), admin, salt)).
    function selfManagedAccountId(address admin, bytes32 salt) external pure returns (bytes32);

    /// The admin wallet of a self-managed account registers a wallet (PKP) a node minted for that
    /// account. `nodeSignature` is a 65-byte ECDSA signature (r, s, v) by a NodeConfig signer over
    /// `walletRegistrationDigest(account, wallet, derivationId, deadline)`, the EIP-712 digest of
    /// `WalletRegistration(bytes32 account,address wallet,bytes32 derivationId,uint256 deadline)` in
    /// the domain {name: "LitRegistry", version: "1", chainId, verifyingContract: this registry}.
    /// Check order: AccountNotFound(account), NotSelfManaged(account), NotAccountAdmin(account,
    /// sender), RegistrationExpired(deadline) once block.timestamp > deadline,
    /// InvalidNodeSignature(recovered signer, or address(0) for a malformed signature), then the
    /// wallet checks of `registerWallet` (ZeroWalletAddress, ZeroDerivationId,
    /// WalletAlreadyRegistered, DerivationIdAlreadyUsed). Emits WalletRegistered. A signature cannot
    /// be replayed: wallet and derivation id are each registered once, globally.
    function registerWalletWithNodeSignature(
        bytes32 account,
        address wallet,
        bytes32 derivationId,
        string calldata name,
        string calldata description,
        uint256 deadline,
        bytes calldata nodeSignature
    ) external;

    /// The EIP-712 digest a node signer signs for `registerWalletWithNodeSignature`.
    function walletRegistrationDigest(bytes32 account, address wallet, bytes32 derivationId, uint256 deadline)
        external
        view
        returns (bytes32);

    // ---------------------------------------------------------------- usage keys (account key only)
    /// add/update: every id in the four group lists must be a group of the account, or 0 (any
    /// group); GroupNotFound(account, id) otherwise.
    function addUsageKey(bytes32 callerKeyHash, bytes32 usageKeyHash, UsageKey calldata key) external;
    function updateUsageKey(bytes32 callerKeyHash, bytes32 usageKeyHash, UsageKey calldata key) external;
    function updateUsageKeyMetadata(
        bytes32 callerKeyHash,
        bytes32 usageKeyHash,
        string calldata name,
        string calldata description
    ) external;
    function removeUsageKey(bytes32 callerKeyHash, bytes32 usageKeyHash) external;

    // ---------------------------------------------------------------- wallets
    /// Scope CreatePkps. Address and derivation id are each registered once, globally. Node-managed
    /// accounts only: on a self-managed account it reverts NodeSignatureRequired(account) after the
    /// authorisation checks (writer, expiry, scope), so its admin can never register a derivation
    /// the node did not mint for the account (see `registerWalletWithNodeSignature`).
    function registerWallet(
        bytes32 callerKeyHash,
        address wallet,
        bytes32 derivationId,
        string calldata name,
        string calldata description
    ) external;

    // ---------------------------------------------------------------- groups
    /// Scope CreateGroups. Wallets must belong to the account (address(0) = any wallet);
    /// bytes32(0) in cidHashes = any action. Duplicates are ignored. Returns the new id (from 1).
    function addGroup(
        bytes32 callerKeyHash,
        string calldata name,
        string calldata description,
        address[] calldata wallets,
        bytes32[] calldata cidHashes
    ) external returns (uint256 groupId);
    /// Scope DeleteGroups.
    function removeGroup(bytes32 callerKeyHash, uint256 groupId) external;
    /// Account key only. Replaces metadata and both sets.
    function updateGroup(
        bytes32 callerKeyHash,
        uint256 groupId,
        string calldata name,
        string calldata description,
        address[] calldata wallets,
        bytes32[] calldata cidHashes
    ) external;
    /// Scope ManageIpfsIdsInGroups for groupId (or 0). Idempotent: no event when already present.
    function addActionToGroup(bytes32 callerKeyHash, uint256 groupId, bytes32 cidHash) external;
    function removeActionFromGroup(bytes32 callerKeyHash, uint256 groupId, bytes32 cidHash) external;
    /// Scope AddPkpToGroups for groupId (or 0); wallet must belong to the account (or be address(0)).
    function addWalletToGroup(bytes32 callerKeyHash, uint256 groupId, address wallet) external;
    /// Scope RemovePkpFromGroups for groupId (or 0).
    function removeWalletFromGroup(bytes32 callerKeyHash, uint256 groupId, address wallet) external;

    // ---------------------------------------------------------------- actions (account key only)
    /// Registers or renames the action whose CID string is `cid` (hash = keccak256(bytes(cid))).
    function addAction(bytes32 callerKeyHash, string calldata cid, string calldata name, string calldata description)
        external;
    function updateActionMetadata(
        bytes32 callerKeyHash,
        bytes32 cidHash,
        string calldata name,
        string calldata description
    ) external;
    /// Removes the action and removes its hash from every group of the account.
    function deleteAction(bytes32 callerKeyHash, bytes32 cidHash) external;

    // ---------------------------------------------------------------- credits (payer set only)
    /// Credits once per paymentId, whichever node sends it.
    function creditAccount(bytes32 account, uint256 amountCents, bytes32 paymentId) external;
    /// Settles a batch of metered usage once per settlementId. Balances may go negative.
    function chargeUsage(bytes32 settlementId, bytes32[] calldata accounts, uint256[] calldata amountsCents) external;

    // ---------------------------------------------------------------- batching
    /// Runs each entry of `calls` (an ABI-encoded call of one of this registry's own external functions) exactly as if
    /// msg.sender had sent it alone: same checks, same state changes, same events, in order. A call that reverts is
    /// reported in its CallResult (data = its revert data) and its effects are undone, but it does not revert the
    /// batch or the other calls. A `batch` call inside a batch is refused (its CallResult carries NestedBatch()).
    /// Views may be batched too (data = their return data). Returns one CallResult per call.
    /// One exception: a call that runs out of gas reverts the whole batch (with empty revert data), so a
    /// batch never succeeds with calls that only failed for want of gas, and `eth_estimateGas` (the
    /// lowest gas at which the transaction succeeds) covers every call of the batch.
    function batch(bytes[] calldata calls) external returns (CallResult[] memory results);

    // ---------------------------------------------------------------- views (tooling and cross-checks)
    function nodeConfig() external view returns (address);
    function accountOfKey(bytes32 keyHash) external view returns (bytes32 account);
    function accountExists(bytes32 account) external view returns (bool);
    function accountAdmin(bytes32 account) external view returns (address admin, bool selfManaged);
    function getUsageKey(bytes32 account, bytes32 keyHash) external view returns (UsageKey memory);
    function walletAccount(address wallet) external view returns (bytes32 account, bytes32 derivationId);
    function groupExists(bytes32 account, uint256 groupId) external view returns (bool);
    function groupMembers(bytes32 account, uint256 groupId)
        external
        view
        returns (address[] memory wallets, bytes32[] memory cidHashes);
    function actionExists(bytes32 account, bytes32 cidHash) external view returns (bool);
    function balanceOf(bytes32 account) external view returns (int256 balanceCents);
    function paymentCredited(bytes32 paymentId) external view returns (bool);
    function settlementApplied(bytes32 settlementId) external view returns (bool);
    /// The execute right of spec/actions.md "Permissions".
    function canExecute(bytes32 keyHash, bytes32 cidHash) external view returns (bool);
    /// The wallet-use right of spec/actions.md "Permissions".
    function canUseWallet(bytes32 keyHash, bytes32 cidHash, address wallet) external view returns (bool);
}

/// @title INodeConfig — node operator state: owner, payer set, admin payer, node signer set, node
/// configuration.
interface INodeConfig {
    error NotOwner(address sender);
    error NotPayerManager(address sender);
    error NotConfigWriter(address sender);
    error ZeroAddress();
    error EmptyConfigKey();
    error PayerAlreadyAdded(address payer);
    error PayerNotFound(address payer);
    error SignerAlreadyAdded(address signer);
    error SignerNotFound(address signer);

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event AdminPayerSet(address indexed adminPayer);
    event PayerAdded(address indexed payer);
    event PayerRemoved(address indexed payer);
    event SignerAdded(address indexed signer);
    event SignerRemoved(address indexed signer);
    event ConfigOperatorSet(address indexed operator, bool allowed);
    /// value "" means the key is unset (the node falls back to its default).
    event ConfigSet(string key, string value);

    function owner() external view returns (address);
    function transferOwnership(address newOwner) external;
    /// Owner only. The admin payer manages the payer set alongside the owner.
    function setAdminPayer(address adminPayer) external;
    function adminPayer() external view returns (address);
    /// Owner or admin payer.
    function addPayer(address payer) external;
    function removePayer(address payer) external;
    function isPayer(address account) external view returns (bool);
    function payers() external view returns (address[] memory);
    /// Owner or admin payer (the rule of addPayer). Node signers sign the wallet registrations of
    /// self-managed accounts (LitRegistry.registerWalletWithNodeSignature).
    function addSigner(address signer) external;
    function removeSigner(address signer) external;
    function isSigner(address account) external view returns (bool);
    function signers() external view returns (address[] memory);
    /// Owner only.
    function setConfigOperator(address operator, bool allowed) external;
    function isConfigOperator(address account) external view returns (bool);
    /// Owner or a config operator.
    function setConfig(string calldata key, string calldata value) external;
    function getConfig(string calldata key) external view returns (string memory);
    function configKeys() external view returns (string[] memory);
}
