//! Accounts and wallets over HTTP against `lit-node dev` (real anvil, real contracts): new
//! accounts and wallets are on chain with addresses of keys derived from the node's root secret,
//! keys are accepted in both header forms, pagination is exact, isolation between accounts,
//! scope checks for usage keys, and bad input is a 4xx naming what was wrong.

mod common;

use alloy::network::EthereumWallet;
use alloy::primitives::{keccak256, Address, U256};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use common::{http, NodeProcess};
use lit_node::chain::bindings::{ILitRegistry, LitRegistry};
use lit_node::keys::derive::address_of;
use lit_node::keys::{KeyDeriver, RootSecret};
use serde_json::{json, Value};

const PUBLISH_RPC: (&str, &str) = ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true");

struct Node {
    node: NodeProcess,
    dir: tempfile::TempDir,
}

impl Node {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeProcess::dev(dir.path(), &[PUBLISH_RPC]).await;
        Self { node, dir }
    }

    fn url(&self, path: &str) -> String {
        self.node.url(&format!("/core/v1/{path}"))
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = http().get(self.url(path));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = http()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn new_account(&self, name: &str) -> (String, Address) {
        let (status, body) = self
            .post(
                "new_account",
                json!({"account_name": name, "account_description": "test"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let key = body["api_key"].as_str().unwrap().to_string();
        let wallet = body["wallet_address"].as_str().unwrap();
        assert_eq!(wallet, wallet.to_lowercase());
        (key, wallet.parse().unwrap())
    }

    fn deriver(&self) -> KeyDeriver {
        KeyDeriver::new(&RootSecret::load(&self.dir.path().join("root-secret")).unwrap())
    }

    async fn chain(&self) -> (String, Address) {
        let (_, config) = self.get("get_node_chain_config", None).await;
        (
            config["rpc_url"].as_str().unwrap().to_string(),
            config["contract_address"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        )
    }
}

#[tokio::test]
async fn accounts_and_wallets_end_to_end() {
    let n = Node::start().await;
    let (key, default_wallet) = n.new_account("Alice").await;
    assert_eq!(key.len(), 64, "API keys carry 32 bytes of entropy");

    // The wallet is registered on chain, and its address is that of the key the node derives
    // from the root secret and the registered derivation id.
    let (rpc_url, registry) = n.chain().await;
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().unwrap());
    let onchain = LitRegistry::new(registry, &provider)
        .walletAccount(default_wallet)
        .call()
        .await
        .unwrap();
    assert_eq!(
        onchain.account,
        keccak256(key.as_bytes()),
        "the chain holds the key's hash"
    );
    let derivation: [u8; 32] = onchain.derivationId.into();
    assert_ne!(derivation, [0u8; 32]);
    assert_eq!(
        address_of(&n.deriver().wallet_signing_key(&derivation)),
        default_wallet
    );

    // account_exists: both header forms, unknown keys are false, a missing key is 401.
    assert_eq!(
        n.get("account_exists", Some(&key)).await,
        (200, json!(true))
    );
    let bearer = http()
        .get(n.url("account_exists"))
        .header("authorization", format!("bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.json::<Value>().await.unwrap(), json!(true));
    assert_eq!(
        n.get("account_exists", Some("not-a-key")).await,
        (200, json!(false))
    );
    let (status, body) = n.get("account_exists", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    assert!(body["error"].as_str().unwrap().contains("X-Api-Key"));

    // create_wallet, then list in creation order with exact pagination.
    let (status, body) = n
        .get(
            "create_wallet?name=second&description=for%20tests",
            Some(&key),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let second: Address = body["wallet_address"].as_str().unwrap().parse().unwrap();
    let (status, wallets) = n
        .get("list_wallets?page_number=0&page_size=10", Some(&key))
        .await;
    assert_eq!(status, 200);
    assert_eq!(wallets.as_array().unwrap().len(), 2);
    assert_eq!(wallets[0]["id"], "1");
    assert_eq!(wallets[0]["wallet_address"], format!("{default_wallet:#x}"));
    assert_eq!(
        wallets[1],
        json!({"id": "2", "name": "second", "description": "for tests", "wallet_address": format!("{second:#x}")})
    );
    assert_eq!(
        n.get("list_wallets?page_number=1&page_size=1", Some(&key))
            .await
            .1[0]["id"],
        "2"
    );
    assert_eq!(
        n.get("list_wallets?page_number=2&page_size=1", Some(&key))
            .await,
        (200, json!([]))
    );
    assert_eq!(
        n.get("list_wallets?page_number=7&page_size=1000", Some(&key))
            .await,
        (200, json!([]))
    );

    // Another account sees only its own wallets; an unknown key gets 401.
    let (other_key, other_wallet) = n.new_account("Bob").await;
    let (_, others) = n
        .get("list_wallets?page_number=0&page_size=10", Some(&other_key))
        .await;
    assert_eq!(
        others,
        json!([{"id": "1", "name": "Default wallet", "description": others[0]["description"], "wallet_address": format!("{other_wallet:#x}")}])
    );
    assert_eq!(
        n.get("list_wallets?page_number=0&page_size=10", Some("garbage"))
            .await
            .0,
        401
    );
    assert_eq!(n.get("create_wallet", Some("garbage")).await.0, 401);
    n.node.stop().await;
}

#[tokio::test]
async fn usage_keys_need_can_create_pkps() {
    let n = Node::start().await;
    let (key, _) = n.new_account("Scoped").await;
    // Register two usage keys straight on chain, as a payer of this node (keys derived from its
    // root secret): one without and one with can_create_pkps.
    let (rpc_url, registry) = n.chain().await;
    let payer = PrivateKeySigner::from_signing_key(n.deriver().payer_key(7).into());
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(payer))
        .connect_http(rpc_url.parse().unwrap());
    let contract = LitRegistry::new(registry, &provider);
    for (usage, can_create_pkps) in [("usage-without", false), ("usage-with", true)] {
        let scopes = ILitRegistry::UsageKey {
            name: usage.into(),
            description: String::new(),
            expiration: 0,
            canCreateGroups: false,
            canDeleteGroups: false,
            canCreatePkps: can_create_pkps,
            manageIpfsIdsInGroups: vec![],
            addPkpToGroups: vec![],
            removePkpFromGroups: vec![],
            executeInGroups: vec![U256::ZERO],
        };
        let receipt = contract
            .addUsageKey(
                keccak256(key.as_bytes()),
                keccak256(usage.as_bytes()),
                scopes,
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
    }
    // The node's mirror picks the direct writes up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while n.get("account_exists", Some("usage-with")).await.1 != json!(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "direct write not mirrored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = n.get("create_wallet", Some("usage-without")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert!(body["error"].as_str().unwrap().contains("can_create_pkps"));
    let (status, body) = n.get("create_wallet", Some("usage-with")).await;
    assert_eq!(status, 200, "{body}");
    // Any key of the account lists the account's wallets.
    let (_, wallets) = n
        .get(
            "list_wallets?page_number=0&page_size=5",
            Some("usage-without"),
        )
        .await;
    assert_eq!(wallets.as_array().unwrap().len(), 2);
    n.node.stop().await;
}

#[tokio::test]
async fn names_of_1024_multibyte_characters_are_accepted() {
    // The limit counts characters (as the document's maxLength does), not bytes; 1025 are
    // refused (tests/input_validation.rs).
    let n = Node::start().await;
    let at_limit =
        json!({"account_name": "é".repeat(1024), "account_description": "😀".repeat(1024)});
    let (status, answer) = n.post("new_account", at_limit).await;
    assert_eq!(status, 200, "1024 two- and four-byte characters: {answer}");
    n.node.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_writes_from_ten_accounts_all_succeed() {
    let n = Node::start().await;
    let mut keys = Vec::new();
    for i in 0..10 {
        keys.push(n.new_account(&format!("account {i}")).await.0);
    }
    let node = &n;
    let writes = keys.iter().flat_map(|key| {
        (0..5).map(move |j| {
            let n = node;
            async move {
                let (status, body) = n.get(&format!("create_wallet?name=w{j}"), Some(key)).await;
                assert_eq!(status, 200, "{body}");
                body["wallet_address"].as_str().unwrap().to_string()
            }
        })
    });
    let created: Vec<String> = futures_util::future::join_all(writes).await;
    assert_eq!(created.len(), 50);
    assert_eq!(
        created
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        50,
        "duplicate wallets"
    );
    // Every account sees its default wallet plus its five new ones.
    for key in &keys {
        let (_, wallets) = n
            .get("list_wallets?page_number=0&page_size=100", Some(key))
            .await;
        assert_eq!(wallets.as_array().unwrap().len(), 6);
    }
    n.node.stop().await;
}

/// Checks every page of `list` (a list endpoint, with its own query if any) for every page size
/// from 1 to one past `expected` items: page k holds items [k*size, (k+1)*size) of the whole
/// list, pages past the end (from the exact boundary on) are empty. Returns the whole list.
async fn pages_exactly(n: &Node, key: &str, list: &str, expected: usize) -> Vec<Value> {
    let separator = if list.contains('?') { '&' } else { '?' };
    let page = |number: usize, size: usize| {
        let path = format!("{list}{separator}page_number={number}&page_size={size}");
        async move {
            let (status, body) = n.get(&path, Some(key)).await;
            assert_eq!(status, 200, "{path}: {body}");
            body.as_array().unwrap().clone()
        }
    };
    let all = page(0, 1000).await;
    assert_eq!(all.len(), expected, "{list}: {all:?}");
    for size in 1..=expected + 1 {
        let past_end = expected.div_ceil(size);
        for number in 0..=past_end + 1 {
            let start = (number * size).min(expected);
            let end = (start + size).min(expected);
            assert_eq!(
                page(number, size).await,
                all[start..end],
                "{list}: page {number} of size {size}"
            );
        }
    }
    all
}

#[tokio::test]
async fn every_list_pages_exactly_past_page_zero() {
    let n = Node::start().await;
    let (key, default_wallet) = n.new_account("Paged").await;
    let base = &n.node.base_url;
    let mut wallets = vec![format!("{default_wallet:#x}")];
    for i in 1..5 {
        let (status, body) = n.get(&format!("create_wallet?name=w{i}"), Some(&key)).await;
        assert_eq!(status, 200, "{body}");
        wallets.push(body["wallet_address"].as_str().unwrap().to_string());
    }
    let mut hashed_cids = Vec::new();
    for i in 0..5 {
        let cid = lit_node::cid::cid_v0(format!("action {i}").as_bytes());
        common::api_ok(
            base,
            "POST",
            "add_action",
            Some(&key),
            json!({"action_ipfs_cid": cid, "name": format!("a{i}"), "description": ""}),
        )
        .await;
        hashed_cids.push(format!("{:#x}", keccak256(cid.as_bytes())));
    }
    for i in 0..5 {
        common::api_ok(base, "POST", "add_usage_api_key", Some(&key), json!({
            "name": format!("k{i}"), "description": "", "can_create_groups": false,
            "can_delete_groups": false, "can_create_pkps": false, "manage_ipfs_ids_in_groups": [],
            "add_pkp_to_groups": [], "remove_pkp_from_groups": [], "execute_in_groups": []
        }))
        .await;
    }
    // Group 1 holds the five wallets and actions, and the wildcards ("any wallet", "any
    // action"), which are not listed.
    let zero_address = format!("{:#x}", Address::ZERO);
    let zero_hash = format!("{:#x}", alloy::primitives::B256::ZERO);
    for i in 0..5 {
        let (pkps, cids) = if i == 0 {
            (
                [wallets.clone(), vec![zero_address.clone()]].concat(),
                [hashed_cids.clone(), vec![zero_hash.clone()]].concat(),
            )
        } else {
            (vec![], vec![])
        };
        common::api_ok(
            base,
            "POST",
            "add_group",
            Some(&key),
            json!({
                "group_name": format!("g{i}"), "group_description": "",
                "pkp_ids_permitted": pkps, "cid_hashes_permitted": cids
            }),
        )
        .await;
    }

    let names = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_string())
            .collect()
    };
    let field = |items: &[Value], name: &str| -> std::collections::BTreeSet<String> {
        items
            .iter()
            .map(|item| item[name].as_str().unwrap().to_string())
            .collect()
    };
    // In creation order where the API promises it.
    let keys = pages_exactly(&n, &key, "list_api_keys", 5).await;
    assert_eq!(names(&keys), ["k0", "k1", "k2", "k3", "k4"]);
    let groups = pages_exactly(&n, &key, "list_groups", 5).await;
    assert_eq!(names(&groups), ["g0", "g1", "g2", "g3", "g4"]);
    let listed = pages_exactly(&n, &key, "list_wallets", 5).await;
    let addresses: Vec<&str> = listed
        .iter()
        .map(|w| w["wallet_address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, wallets);
    let actions = pages_exactly(&n, &key, "list_actions", 5).await;
    assert_eq!(names(&actions), ["a0", "a1", "a2", "a3", "a4"]);
    let all_actions = pages_exactly(&n, &key, "list_actions?group_id=0", 5).await;
    assert_eq!(all_actions, actions);
    // A group's sets, in a stable order.
    let in_group = pages_exactly(&n, &key, "list_wallets_in_group?group_id=1", 5).await;
    assert_eq!(
        field(&in_group, "wallet_address"),
        wallets.iter().cloned().collect()
    );
    let group_actions = pages_exactly(&n, &key, "list_actions?group_id=1", 5).await;
    assert_eq!(
        field(&group_actions, "id"),
        hashed_cids.iter().cloned().collect()
    );
    // An empty group: every page is empty.
    pages_exactly(&n, &key, "list_wallets_in_group?group_id=2", 0).await;
    pages_exactly(&n, &key, "list_actions?group_id=2", 0).await;
    n.node.stop().await;
}

#[tokio::test]
async fn an_expired_usage_key_is_refused_with_401() {
    let n = Node::start().await;
    let (key, _) = n.new_account("Expiring").await;
    let base = &n.node.base_url;
    let created = common::api_ok(base, "POST", "add_usage_api_key", Some(&key), json!({
        "name": "temp", "description": "", "can_create_groups": false, "can_delete_groups": false,
        "can_create_pkps": false, "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [],
        "remove_pkp_from_groups": [], "execute_in_groups": [0]
    }))
    .await;
    let usage = created["usage_api_key"].as_str().unwrap().to_string();
    let run = json!({"code": "async function main() { return 'ran'; }"});
    let reply = common::api_ok(base, "POST", "lit_action", Some(&usage), run.clone()).await;
    assert_eq!(reply["response"], json!("ran"));

    // The API sets no expiration; an operator can, on chain (here as one of this node's payers,
    // for the account key): first an hour ahead, then a minute ago.
    let (rpc_url, registry) = n.chain().await;
    let payer = PrivateKeySigner::from_signing_key(n.deriver().payer_key(7).into());
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(payer))
        .connect_http(rpc_url.parse().unwrap());
    let contract = LitRegistry::new(registry, &provider);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (expiration, usable) in [(now + 3600, true), (now - 60, false)] {
        let scopes = ILitRegistry::UsageKey {
            name: "temp".into(),
            description: String::new(),
            expiration,
            canCreateGroups: false,
            canDeleteGroups: false,
            canCreatePkps: false,
            manageIpfsIdsInGroups: vec![],
            addPkpToGroups: vec![],
            removePkpFromGroups: vec![],
            executeInGroups: vec![U256::ZERO],
        };
        let receipt = contract
            .updateUsageKey(
                keccak256(key.as_bytes()),
                keccak256(usage.as_bytes()),
                scopes,
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
        common::wait_until_mirrored(base, receipt.block_number.unwrap()).await;
        let (_, listed) = n
            .get("list_api_keys?page_number=0&page_size=10", Some(&key))
            .await;
        assert_eq!(listed[0]["expiration"], json!(expiration.to_string()));

        let (status, body) = n
            .get("list_groups?page_number=0&page_size=10", Some(&usage))
            .await;
        let (run_status, run_body) =
            common::api(base, "POST", "lit_action", Some(&usage), run.clone()).await;
        if usable {
            assert_eq!((status, run_status), (200, 200), "{body} {run_body}");
            assert_eq!(run_body["response"], json!("ran"));
        } else {
            for (status, body) in [(status, body), (run_status, run_body)] {
                assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
                assert!(
                    body["error"].as_str().unwrap().contains("expired"),
                    "{body}"
                );
            }
        }
    }
    // The account key is not affected.
    assert_eq!(
        n.get("list_groups?page_number=0&page_size=10", Some(&key))
            .await
            .0,
        200
    );
    n.node.stop().await;
}
