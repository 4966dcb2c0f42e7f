//! Self-custody accounts over HTTP against `lit-node dev` (real anvil, real contracts, the real
//! binary): a wallet creates and writes its own account on chain and the node serves it; the node
//! mints wallets for it on a signed message and the registry accepts only what the node signed;
//! a node-managed account converts to a wallet one way; signed messages are checked (signer,
//! chain, time window, encoding, lines) and accepted once, for EOAs and ERC-1271 contract wallets.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use alloy::network::EthereumWallet;
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::SolCall;
use common::{api, api_ok, new_account, wait_until_mirrored, NodeProcess};
use lit_node::chain::bindings::ILitRegistry;
use lit_node::chain::bindings::LitRegistry::{self, LitRegistryErrors};
use lit_node::keys::{KeyDeriver, RootSecret};
use serde_json::{json, Value};

alloy::sol!(
    #[sol(rpc)]
    Erc1271TestWallet,
    "abi/Erc1271TestWallet.json"
);

/// anvil's prefunded dev keys 1–4 (public knowledge); key 0 owns the contracts.
const ANVIL_KEYS: [&str; 4] = [
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

const PUBLISH_RPC: (&str, &str) = ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true");

struct Node {
    node: NodeProcess,
    dir: tempfile::TempDir,
    rpc_url: String,
    chain_id: u64,
    registry: Address,
}

impl Node {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeProcess::dev(dir.path(), &[PUBLISH_RPC]).await;
        let chain = api_ok(
            &node.base_url,
            "GET",
            "get_node_chain_config",
            None,
            Value::Null,
        )
        .await;
        Self {
            rpc_url: chain["rpc_url"].as_str().unwrap().to_string(),
            chain_id: chain["chain_id"].as_u64().unwrap(),
            registry: chain["contract_address"].as_str().unwrap().parse().unwrap(),
            node,
            dir,
        }
    }

    fn url(&self) -> &str {
        &self.node.base_url
    }

    /// A provider signing as `signer`.
    fn as_wallet(&self, signer: PrivateKeySigner) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.rpc_url.parse().unwrap())
            .erased()
    }

    fn registry(&self, provider: &DynProvider) -> LitRegistry::LitRegistryInstance<DynProvider> {
        LitRegistry::new(self.registry, provider.clone())
    }

    fn deriver(&self) -> KeyDeriver {
        KeyDeriver::new(&RootSecret::load(&self.dir.path().join("root-secret")).unwrap())
    }

    /// A message in the documented format, issued `offset` seconds from now.
    fn message(&self, address: Address, offset: i64, extra: &str) -> String {
        let issued = now() as i64 + offset;
        format!(
            "lit-node wants you to sign in\n{extra}Address: {}\nChain ID: {}\nIssued At: {issued}\nNonce: {}",
            address.to_checksum(None),
            self.chain_id,
            random_b256()
        )
    }

    async fn create_wallet(&self, message: &str, signature: &str) -> (u16, Value) {
        api(
            self.url(),
            "POST",
            "create_wallet_with_signature",
            None,
            json!({"message": message, "signature": signature}),
        )
        .await
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn random_b256() -> B256 {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    B256::from(bytes)
}

fn random_address() -> Address {
    Address::from_slice(&random_b256()[12..])
}

fn signer(index: usize) -> PrivateKeySigner {
    ANVIL_KEYS[index].parse().unwrap()
}

/// EIP-191 `personal_sign` of `message` by `signer`, hex.
fn personal_sign(signer: &PrivateKeySigner, message: &str) -> String {
    let signature = signer.sign_message_sync(message.as_bytes()).unwrap();
    format!("0x{}", hex::encode(signature.as_bytes()))
}

/// Sends a transaction and waits for it; returns its block (panics if it reverted).
async fn mined<P: Provider>(
    call: alloy::contract::CallBuilder<P, std::marker::PhantomData<impl SolCall>>,
) -> u64 {
    let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "reverted: {receipt:?}");
    receipt.block_number.unwrap()
}

/// The registry error a call would revert with (simulated; panics if it would succeed).
async fn refusal<P: Provider>(
    call: alloy::contract::CallBuilder<P, std::marker::PhantomData<impl SolCall>>,
) -> LitRegistryErrors {
    match call.call().await {
        Ok(_) => panic!("the call was expected to revert"),
        Err(error) => error
            .as_decoded_interface_error::<LitRegistryErrors>()
            .unwrap_or_else(|| panic!("not a registry error: {error}")),
    }
}

fn usage_key(name: &str, execute_in_groups: Vec<u64>) -> ILitRegistry::UsageKey {
    ILitRegistry::UsageKey {
        name: name.into(),
        description: String::new(),
        expiration: 0,
        canCreateGroups: false,
        canDeleteGroups: false,
        canCreatePkps: false,
        manageIpfsIdsInGroups: vec![],
        addPkpToGroups: vec![],
        removePkpFromGroups: vec![],
        executeInGroups: execute_in_groups.into_iter().map(U256::from).collect(),
    }
}

/// An action that signs with the wallet `pkpId` and returns its address and private key.
const SIGNING_ACTION: &str = r#"async function main({pkpId}) {
  const signature = await Lit.Actions.signMessage({pkpId, message: "hello"});
  const key = await Lit.Actions.getPrivateKey({pkpId});
  return {signature, address: new ethers.Wallet(key).address, recovered: ethers.utils.verifyMessage("hello", signature)};
}"#;

async fn cid_of(url: &str, code: &str) -> String {
    api_ok(url, "POST", "get_lit_action_ipfs_id", None, json!(code))
        .await
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs `code` with `key`; returns the reply (asserting a 200).
async fn run(url: &str, key: &str, code: &str, params: Value) -> Value {
    api_ok(
        url,
        "POST",
        "lit_action",
        Some(key),
        json!({"code": code, "js_params": params}),
    )
    .await
}

#[tokio::test]
async fn a_wallet_creates_its_own_account_and_the_node_serves_it() {
    let n = Node::start().await;
    // Wallet tooling reads the registry's ABI from the node.
    let abi = api_ok(n.url(), "GET", "registry_abi", None, Value::Null).await;
    for function in [
        "newSelfManagedAccount",
        "registerWalletWithNodeSignature",
        "revokeAccountKey",
        "addGroup",
    ] {
        assert!(
            abi.as_array()
                .unwrap()
                .iter()
                .any(|item| item["name"] == json!(function)),
            "{function} missing from the served ABI"
        );
    }
    let admin = signer(0);
    let provider = n.as_wallet(admin.clone());
    let registry = n.registry(&provider);

    // Two accounts from one wallet: the id comes from the wallet and a salt.
    let (salt, other_salt) = (random_b256(), random_b256());
    let account = registry
        .selfManagedAccountId(admin.address(), salt)
        .call()
        .await
        .unwrap();
    let other = registry
        .selfManagedAccountId(admin.address(), other_salt)
        .call()
        .await
        .unwrap();
    assert_ne!(account, other);
    mined(registry.newSelfManagedAccount(salt, "mine".into(), "held by a wallet".into())).await;
    mined(registry.newSelfManagedAccount(other_salt, "second".into(), String::new())).await;

    // Everything else is written by the wallet itself, with the account id as callerKeyHash.
    let cid = cid_of(n.url(), SIGNING_ACTION).await;
    mined(registry.addAction(account, cid.clone(), "signer".into(), "signs".into())).await;
    let hello_code = "async function main(){ return 'hi' }";
    let hello_cid = cid_of(n.url(), hello_code).await;
    mined(registry.addGroup(
        account,
        "g".into(),
        String::new(),
        vec![],
        vec![keccak256(cid.as_bytes()), keccak256(hello_cid.as_bytes())],
    ))
    .await;
    // A usage key generated client-side: only its hash goes on chain, and never to the node.
    let usage = format!("self-custody-{}", hex::encode(random_b256()));
    let block = mined(registry.addUsageKey(
        account,
        keccak256(usage.as_bytes()),
        usage_key("runner", vec![1]),
    ))
    .await;
    wait_until_mirrored(n.url(), block).await;

    let actions = api_ok(
        n.url(),
        "GET",
        "list_actions?page_number=0&page_size=10",
        Some(&usage),
        Value::Null,
    )
    .await;
    assert_eq!(
        (actions[0]["id"].as_str(), actions[0]["name"].as_str()),
        (
            Some(format!("{:#x}", keccak256(cid.as_bytes())).as_str()),
            Some("signer")
        ),
        "{actions}"
    );
    let groups = api_ok(
        n.url(),
        "GET",
        "list_groups?page_number=0&page_size=10",
        Some(&usage),
        Value::Null,
    )
    .await;
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    let hello = run(n.url(), &usage, hello_code, Value::Null).await;
    assert_eq!(hello["response"], json!("hi"), "{hello}");
    // The node does not write a self-managed account.
    let (status, answer) = api(
        n.url(),
        "POST",
        "add_group",
        Some(&usage),
        json!({"group_name": "x", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("self_managed")),
        "{answer}"
    );

    // The admin owns two accounts: the message must say which.
    let message = n.message(admin.address(), 0, "");
    let (status, answer) = n
        .create_wallet(&message, &personal_sign(&admin, &message))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("account_required")),
        "{answer}"
    );
    let message = n.message(admin.address(), 0, &format!("Account: {account:#x}\n"));
    let minted = api_ok(
        n.url(),
        "POST",
        "create_wallet_with_signature",
        None,
        json!({"message": message, "signature": personal_sign(&admin, &message)}),
    )
    .await;
    assert_eq!(
        minted["account"].as_str(),
        Some(format!("{account:#x}").as_str())
    );
    let wallet: Address = minted["wallet_address"].as_str().unwrap().parse().unwrap();
    let derivation_id: B256 = minted["derivation_id"].as_str().unwrap().parse().unwrap();
    let deadline = minted["deadline"].as_u64().unwrap();
    let node_signature: Bytes = minted["node_signature"].as_str().unwrap().parse().unwrap();
    assert!(minted["derivation_path"]
        .as_str()
        .unwrap()
        .contains(&format!("{derivation_id:#x}")));
    assert!(deadline > now() && deadline <= now() + 3700, "{minted}");
    assert_eq!(
        minted["register_function"].as_str().unwrap(),
        LitRegistry::registerWalletWithNodeSignatureCall::SIGNATURE
    );

    // What the registry refuses: no node signature, the signature of another binding.
    let plain =
        registry.registerWallet(account, wallet, derivation_id, "pkp".into(), String::new());
    assert!(matches!(
        refusal(plain).await,
        LitRegistryErrors::NodeSignatureRequired(_)
    ));
    let register = |account: B256, wallet: Address, id: B256, deadline: u64, signature: Bytes| {
        registry.registerWalletWithNodeSignature(
            account,
            wallet,
            id,
            "pkp".into(),
            String::new(),
            U256::from(deadline),
            signature,
        )
    };
    for (account, wallet, id, deadline) in [
        (other, wallet, derivation_id, deadline),
        (account, random_address(), derivation_id, deadline),
        (account, wallet, random_b256(), deadline),
        (account, wallet, derivation_id, deadline + 1),
    ] {
        let refused = refusal(register(
            account,
            wallet,
            id,
            deadline,
            node_signature.clone(),
        ))
        .await;
        assert!(
            matches!(refused, LitRegistryErrors::InvalidNodeSignature(_)),
            "{refused:?}"
        );
    }
    // Copying another account's derivation id from chain data gives nothing: the node never
    // signs it for this account, and the registry never registers an id twice.
    let foreign_wallet: Address = new_account(n.url(), "f").await.1.parse().unwrap();
    let copied = registry
        .walletAccount(foreign_wallet)
        .call()
        .await
        .unwrap()
        .derivationId;
    let refused = refusal(register(
        account,
        foreign_wallet,
        copied,
        deadline,
        node_signature.clone(),
    ))
    .await;
    assert!(
        matches!(refused, LitRegistryErrors::InvalidNodeSignature(_)),
        "{refused:?}"
    );
    let registration = LitRegistry::walletRegistrationDigestCall {
        account,
        wallet: foreign_wallet,
        derivationId: copied,
        deadline: U256::from(deadline),
    };
    let forged_digest = registry
        .walletRegistrationDigest(
            registration.account,
            registration.wallet,
            registration.derivationId,
            registration.deadline,
        )
        .call()
        .await
        .unwrap();
    let node_key = PrivateKeySigner::from_signing_key(n.deriver().node_signer_key().into());
    let forged: Bytes = node_key
        .sign_hash_sync(&forged_digest)
        .unwrap()
        .as_bytes()
        .to_vec()
        .into();
    // Even with the node's own key (which no client has), the copied id is refused.
    let refused = refusal(register(account, foreign_wallet, copied, deadline, forged)).await;
    assert!(
        matches!(
            refused,
            LitRegistryErrors::WalletAlreadyRegistered(_)
                | LitRegistryErrors::DerivationIdAlreadyUsed(_)
        ),
        "{refused:?}"
    );

    // Registered as minted, put in the group: actions use the wallet's key.
    mined(register(
        account,
        wallet,
        derivation_id,
        deadline,
        node_signature.clone(),
    ))
    .await;
    let block = mined(registry.addWalletToGroup(account, U256::from(1), wallet)).await;
    wait_until_mirrored(n.url(), block).await;
    let wallets = api_ok(
        n.url(),
        "GET",
        "list_wallets?page_number=0&page_size=10",
        Some(&usage),
        Value::Null,
    )
    .await;
    assert_eq!(
        wallets[0]["wallet_address"].as_str(),
        Some(format!("{wallet:#x}").as_str()),
        "{wallets}"
    );
    let signed = run(
        n.url(),
        &usage,
        SIGNING_ACTION,
        json!({"pkpId": format!("{wallet:#x}")}),
    )
    .await;
    assert_eq!(signed["has_error"], json!(false), "{signed}");
    for field in ["address", "recovered"] {
        assert_eq!(
            signed["response"][field].as_str().unwrap().to_lowercase(),
            format!("{wallet:#x}"),
            "{signed}"
        );
    }

    // A registration signature expires.
    let message = n.message(admin.address(), 0, &format!("Account: {account:#x}\n"));
    let late = api_ok(
        n.url(),
        "POST",
        "create_wallet_with_signature",
        None,
        json!({"message": message, "signature": personal_sign(&admin, &message)}),
    )
    .await;
    provider
        .raw_request::<_, Value>("evm_increaseTime".into(), [3700])
        .await
        .unwrap();
    provider
        .raw_request::<_, Value>("evm_mine".into(), Vec::<u64>::new())
        .await
        .unwrap();
    let refused = refusal(register(
        account,
        late["wallet_address"].as_str().unwrap().parse().unwrap(),
        late["derivation_id"].as_str().unwrap().parse().unwrap(),
        late["deadline"].as_u64().unwrap(),
        late["node_signature"].as_str().unwrap().parse().unwrap(),
    ))
    .await;
    assert!(
        matches!(refused, LitRegistryErrors::RegistrationExpired(_)),
        "{refused:?}"
    );
    n.node.stop().await;
}

/// Every management write of api.md, with a body it would accept from a node-managed account.
fn management_writes(wallet: &str, cid: &str) -> Vec<(&'static str, &'static str, Value)> {
    let scopes = json!({
        "name": "k", "description": "", "can_create_groups": false, "can_delete_groups": false,
        "can_create_pkps": false, "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [],
        "remove_pkp_from_groups": [], "execute_in_groups": []
    });
    let hashed = format!("{:#x}", keccak256(cid.as_bytes()));
    vec![
        ("GET", "create_wallet", Value::Null),
        (
            "POST",
            "add_group",
            json!({"group_name": "x", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
        ),
        ("POST", "remove_group", json!({"group_id": "1"})),
        (
            "POST",
            "update_group",
            json!({"group_id": "1", "name": "x", "description": ""}),
        ),
        (
            "POST",
            "add_pkp_to_group",
            json!({"group_id": "1", "pkp_id": wallet}),
        ),
        (
            "POST",
            "remove_pkp_from_group",
            json!({"group_id": "1", "pkp_id": wallet}),
        ),
        ("POST", "add_usage_api_key", scopes.clone()),
        ("POST", "update_usage_api_key", scopes),
        (
            "POST",
            "remove_usage_api_key",
            json!({"usage_api_key": "x"}),
        ),
        (
            "POST",
            "update_usage_api_key_metadata",
            json!({"usage_api_key": "x", "name": "n", "description": ""}),
        ),
        (
            "POST",
            "add_action",
            json!({"action_ipfs_cid": cid, "name": "n", "description": ""}),
        ),
        ("POST", "delete_action", json!({"hashed_cid": hashed})),
        (
            "POST",
            "update_action_metadata",
            json!({"hashed_cid": hashed, "name": "n", "description": ""}),
        ),
        (
            "POST",
            "add_action_to_group",
            json!({"group_id": "1", "action_ipfs_cid": cid}),
        ),
        (
            "POST",
            "remove_action_from_group",
            json!({"group_id": "1", "hashed_cid": hashed}),
        ),
        (
            "POST",
            "convert_to_chain_secured_account",
            json!({"new_admin_wallet_address": wallet, "message": "", "signature": ""}),
        ),
    ]
}

/// The account's groups, wallets, actions and usage keys, as `key` lists them.
async fn everything_listed(url: &str, key: &str) -> Vec<Value> {
    let mut lists = Vec::new();
    for list in [
        "list_groups",
        "list_wallets",
        "list_actions",
        "list_api_keys",
    ] {
        let path = format!("{list}?page_number=0&page_size=10");
        lists.push(api_ok(url, "GET", &path, Some(key), Value::Null).await);
    }
    lists
}

#[tokio::test]
async fn a_node_managed_account_converts_to_a_wallet_one_way() {
    let n = Node::start().await;
    let (key, default_wallet) = new_account(n.url(), "c").await;
    let account = keccak256(key.as_bytes());
    let cid = cid_of(n.url(), "async function main(){ return 'hi' }").await;
    api_ok(
        n.url(),
        "POST",
        "add_action",
        Some(&key),
        json!({"action_ipfs_cid": cid, "name": "a", "description": ""}),
    )
    .await;
    api_ok(
        n.url(),
        "POST",
        "add_group",
        Some(&key),
        json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [default_wallet], "cid_hashes_permitted": [format!("{:#x}", keccak256(cid.as_bytes()))]}),
    )
    .await;
    let usage = api_ok(
        n.url(),
        "POST",
        "add_usage_api_key",
        Some(&key),
        json!({"name": "u", "description": "", "can_create_groups": false, "can_delete_groups": false,
               "can_create_pkps": false, "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [],
               "remove_pkp_from_groups": [], "execute_in_groups": [1]}),
    )
    .await["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let second_wallet = api_ok(n.url(), "GET", "create_wallet", Some(&key), Value::Null).await;
    let before = everything_listed(n.url(), &key).await;

    // Only the account key converts, and only with the new admin's signature.
    let admin = signer(1);
    let message = n.message(admin.address(), 0, "");
    let body = |address: Address, message: &str, signature: String| json!({"new_admin_wallet_address": format!("{address:#x}"), "message": message, "signature": signature});
    let (status, answer) = api(
        n.url(),
        "POST",
        "convert_to_chain_secured_account",
        Some(&usage),
        body(admin.address(), &message, personal_sign(&admin, &message)),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = api(
        n.url(),
        "POST",
        "convert_to_chain_secured_account",
        Some(&key),
        body(
            admin.address(),
            &message,
            personal_sign(&signer(2), &message),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("invalid_signature")),
        "{answer}"
    );
    let (status, answer) = api(
        n.url(),
        "POST",
        "convert_to_chain_secured_account",
        Some(&key),
        body(
            signer(2).address(),
            &message,
            personal_sign(&admin, &message),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("address_mismatch")),
        "{answer}"
    );
    api_ok(
        n.url(),
        "POST",
        "convert_to_chain_secured_account",
        Some(&key),
        body(admin.address(), &message, personal_sign(&admin, &message)),
    )
    .await;

    // Its data stays; reads and runs work with the account's keys as before.
    let after = everything_listed(n.url(), &key).await;
    assert_eq!(before, after);
    assert_eq!(
        after[1].as_array().unwrap().len(),
        2,
        "{:?} {second_wallet}",
        after[1]
    );
    for k in [&key, &usage] {
        let reply = run(
            n.url(),
            k,
            "async function main(){ return 'hi' }",
            Value::Null,
        )
        .await;
        assert_eq!(reply["response"], json!("hi"), "{reply}");
    }
    api_ok(n.url(), "GET", "billing/balance", Some(&key), Value::Null).await;

    // Every management write answers 403 self_managed, naming what to call instead.
    for (method, path, body) in management_writes(&default_wallet, &cid) {
        let (status, answer) = api(n.url(), method, path, Some(&key), body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("self_managed")),
            "{path}: {answer}"
        );
        let message = answer["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("{:#x}", admin.address())),
            "{path}: {message}"
        );
        if let Some(function) = lit_node::api::self_managed::registry_function(path) {
            assert!(message.contains(function), "{path}: {message}");
        }
    }

    // The wallet writes it on chain, and the node mirrors what it writes.
    let provider = n.as_wallet(admin.clone());
    let registry = n.registry(&provider);
    mined(registry.addGroup(account, "by wallet".into(), String::new(), vec![], vec![])).await;
    let block = mined(registry.removeUsageKey(account, keccak256(usage.as_bytes()))).await;
    wait_until_mirrored(n.url(), block).await;
    let groups = everything_listed(n.url(), &key).await.swap_remove(0);
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == json!("by wallet")),
        "{groups}"
    );
    let (status, answer) = api(
        n.url(),
        "GET",
        "list_groups?page_number=0&page_size=10",
        Some(&usage),
        Value::Null,
    )
    .await;
    assert_eq!(
        status, 401,
        "a usage key the wallet removed still works: {answer}"
    );
    // The node's payers may no longer write it.
    let payer = n.as_wallet(PrivateKeySigner::from_signing_key(
        n.deriver().payer_key(0).into(),
    ));
    let refused =
        refusal(
            n.registry(&payer)
                .addGroup(account, "x".into(), String::new(), vec![], vec![]),
        )
        .await;
    assert!(
        matches!(refused, LitRegistryErrors::NotAccountAdmin(_)),
        "{refused:?}"
    );

    // The admin revokes the old account key on chain: from then on it is refused everywhere.
    let block = mined(registry.revokeAccountKey(account)).await;
    wait_until_mirrored(n.url(), block).await;
    let (status, answer) = api(
        n.url(),
        "POST",
        "lit_action",
        Some(&key),
        json!({"code": "async function main(){ return 1 }"}),
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert!(!registry
        .canExecute(account, keccak256(cid.as_bytes()))
        .call()
        .await
        .unwrap());
    // … while the wallet still administers the account.
    mined(registry.addGroup(account, "still mine".into(), String::new(), vec![], vec![])).await;
    n.node.stop().await;
}

/// A fresh self-managed account of `admin`; returns its id once the node mirrors it.
async fn own_account(n: &Node, admin: &PrivateKeySigner) -> B256 {
    let provider = n.as_wallet(admin.clone());
    let registry = n.registry(&provider);
    let salt = random_b256();
    let admin = admin.address();
    let account = registry
        .selfManagedAccountId(admin, salt)
        .call()
        .await
        .unwrap();
    let block = mined(registry.newSelfManagedAccount(salt, "a".into(), String::new())).await;
    wait_until_mirrored(n.url(), block).await;
    account
}

/// The message rules for the admin wallet at `address`, which `sign` signs for and `forge` does
/// not: each problem is a 400/401 naming it, and a good message is accepted once. Returns the
/// wallet minted for the good message.
async fn check_message_rules(
    n: &Node,
    address: Address,
    sign: &dyn Fn(&str) -> String,
    forge: &dyn Fn(&str) -> String,
) -> Value {
    let good = n.message(address, 0, "");
    let cases: Vec<(String, String, u16, &str)> = vec![
        (good.clone(), forge(&good), 401, "invalid_signature"),
        (
            good.replace(&format!("Chain ID: {}", n.chain_id), "Chain ID: 1"),
            String::new(),
            400,
            "wrong_chain",
        ),
        (
            n.message(address, -400, ""),
            String::new(),
            400,
            "message_expired",
        ),
        (
            n.message(address, 400, ""),
            String::new(),
            400,
            "message_from_the_future",
        ),
        (
            good.replace("Issued At", "Issued-At"),
            String::new(),
            400,
            "invalid_message",
        ),
        (
            good.replace("Address: ", "address: "),
            String::new(),
            400,
            "invalid_message",
        ),
        (
            good.clone(),
            "0xnot-hex".into(),
            400,
            "invalid_signature_encoding",
        ),
        (
            good.clone(),
            sign(&good)[..100].to_string(),
            401,
            "invalid_signature",
        ),
    ];
    for (message, signature, status, code) in cases {
        let signature = if signature.is_empty() {
            sign(&message)
        } else {
            signature
        };
        let (got, answer) = n.create_wallet(&message, &signature).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{message}: {answer}"
        );
        assert!(!answer["error"].as_str().unwrap().is_empty());
    }
    // Accepted once: a captured message cannot be replayed.
    let (status, minted) = n.create_wallet(&good, &sign(&good)).await;
    assert_eq!(status, 200, "{minted}");
    let (status, answer) = n.create_wallet(&good, &sign(&good)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("message_already_used")),
        "{answer}"
    );
    minted
}

#[tokio::test]
async fn signed_messages_are_checked_and_accepted_once() {
    let n = Node::start().await;
    let admin = signer(2);
    let provider = n.as_wallet(admin.clone());
    own_account(&n, &admin).await;
    let sign = |message: &str| personal_sign(&admin, message);

    let forge = |message: &str| personal_sign(&signer(3), message);
    check_message_rules(&n, admin.address(), &sign, &forge).await;
    // A wallet that administers nothing; an account the signer does not administer.
    let stranger = signer(3);
    let message = n.message(stranger.address(), 0, "");
    let (status, answer) = n
        .create_wallet(&message, &personal_sign(&stranger, &message))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("not_found")),
        "{answer}"
    );
    let theirs = own_account(&n, &signer(3)).await;
    let message = n.message(admin.address(), 0, &format!("Account: {theirs:#x}\n"));
    let (status, answer) = n.create_wallet(&message, &sign(&message)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("not_account_admin")),
        "{answer}"
    );

    // A contract wallet (ERC-1271) owned by an EOA: it creates an account through execute().
    let owner = signer(3);
    let owner_provider = n.as_wallet(owner.clone());
    let contract_wallet = Erc1271TestWallet::deploy(&owner_provider, owner.address())
        .await
        .unwrap();
    let salt = random_b256();
    let account = n
        .registry(&owner_provider)
        .selfManagedAccountId(*contract_wallet.address(), salt)
        .call()
        .await
        .unwrap();
    let create = LitRegistry::newSelfManagedAccountCall {
        salt,
        name: "safe".into(),
        description: String::new(),
    };
    let block = mined(contract_wallet.execute(n.registry, create.abi_encode().into())).await;
    wait_until_mirrored(n.url(), block).await;
    let contract_sign = |signer: &PrivateKeySigner, message: &str| {
        let hash = alloy::primitives::eip191_hash_message(message.as_bytes());
        format!(
            "0x{}",
            hex::encode(signer.sign_hash_sync(&hash).unwrap().as_bytes())
        )
    };
    // The same rules hold for a contract wallet: its owner's signature is accepted (ERC-1271)
    // once, anyone else's is refused, naming ERC-1271.
    let message = n.message(*contract_wallet.address(), 0, "");
    let (status, answer) = n
        .create_wallet(&message, &contract_sign(&signer(2), &message))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("invalid_signature")),
        "{answer}"
    );
    assert!(
        answer["error"].as_str().unwrap().contains("ERC-1271"),
        "{answer}"
    );
    let minted = check_message_rules(
        &n,
        *contract_wallet.address(),
        &|m: &str| contract_sign(&owner, m),
        &|m: &str| contract_sign(&signer(2), m),
    )
    .await;
    assert_eq!(
        minted["account"].as_str(),
        Some(format!("{account:#x}").as_str())
    );
    // The contract wallet registers what the node minted.
    let wallet: Address = minted["wallet_address"].as_str().unwrap().parse().unwrap();
    let register = LitRegistry::registerWalletWithNodeSignatureCall {
        account,
        wallet,
        derivationId: minted["derivation_id"].as_str().unwrap().parse().unwrap(),
        name: "pkp".into(),
        description: String::new(),
        deadline: U256::from(minted["deadline"].as_u64().unwrap()),
        nodeSignature: minted["node_signature"].as_str().unwrap().parse().unwrap(),
    };
    let block = mined(contract_wallet.execute(n.registry, register.abi_encode().into())).await;
    wait_until_mirrored(n.url(), block).await;
    let registry = n.registry(&provider);
    assert_eq!(
        registry.walletAccount(wallet).call().await.unwrap().account,
        account
    );
    n.node.stop().await;
}

#[tokio::test]
async fn a_wallet_whose_derivation_does_not_derive_its_address_is_never_used() {
    let n = Node::start().await;
    let (key, wallet) = new_account(n.url(), "m").await;
    // A payer of this node (keys from its root secret) registers an address with a derivation id
    // that derives another key: what a faulty or hostile writer could put on chain.
    let payer = n.as_wallet(PrivateKeySigner::from_signing_key(
        n.deriver().payer_key(3).into(),
    ));
    let wrong = random_address();
    let block = mined(n.registry(&payer).registerWallet(
        keccak256(key.as_bytes()),
        wrong,
        random_b256(),
        "wrong".into(),
        String::new(),
    ))
    .await;
    wait_until_mirrored(n.url(), block).await;
    let reply = run(
        n.url(),
        &key,
        "async function main({pkpId}){ return await Lit.Actions.getPrivateKey({pkpId}) }",
        json!({"pkpId": format!("{wrong:#x}")}),
    )
    .await;
    assert_eq!(reply["has_error"], json!(true), "{reply}");
    assert!(
        reply["response"]
            .as_str()
            .is_none_or(|r| !r.starts_with("0x")),
        "{reply}"
    );
    assert!(
        reply.to_string().contains("does not derive its address"),
        "{reply}"
    );
    // The account's own wallet still works.
    let reply = run(n.url(), &key, SIGNING_ACTION, json!({"pkpId": wallet})).await;
    assert_eq!(reply["has_error"], json!(false), "{reply}");
    n.node.stop().await;
}
