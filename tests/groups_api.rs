//! Groups and usage keys over HTTP against `lit-node dev`: the management workflow with every
//! field checked, ids in every accepted form, scope checks before existence checks, isolation
//! between accounts, and usage-key revocation taking effect at once.

mod common;

use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{keccak256, B256};
use common::{http, NodeProcess};
use serde_json::{json, Value};

struct Api {
    node: NodeProcess,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeProcess::dev(dir.path(), &[]).await;
        Self { node, _dir: dir }
    }

    async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let response = http()
            .get(self.node.url(&format!("/core/v1/{path}")))
            .header("x-api-key", key)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let response = http()
            .post(self.node.url(&format!("/core/v1/{path}")))
            .header("x-api-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn ok(&self, path: &str, key: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, key, body.clone()).await;
        assert_eq!(status, 200, "{path} {body} → {answer}");
        answer
    }

    async fn new_account(&self) -> (String, String) {
        let answer = self
            .ok(
                "new_account",
                "",
                json!({"account_name": "acct", "account_description": "d"}),
            )
            .await;
        (
            answer["api_key"].as_str().unwrap().into(),
            answer["wallet_address"].as_str().unwrap().into(),
        )
    }
}

fn scopes(name: &str, extra: Value) -> Value {
    let mut base = json!({
        "name": name, "description": format!("{name} key"),
        "can_create_groups": false, "can_delete_groups": false, "can_create_pkps": false,
        "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [], "remove_pkp_from_groups": [],
        "execute_in_groups": []
    });
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

fn hash_hex(text: &str) -> String {
    format!("{:#x}", keccak256(text.as_bytes()))
}

#[tokio::test]
async fn groups_and_usage_keys_workflow() {
    let api = Api::start().await;
    let (account, default_wallet) = api.new_account().await;

    // A usage key; list_api_keys shows every field, never the plaintext.
    let created = api
        .ok("add_usage_api_key", &account, scopes("worker", json!({"can_create_groups": true, "manage_ipfs_ids_in_groups": [0], "execute_in_groups": ["0"]})))
        .await;
    assert_eq!(created["success"], true);
    let usage = created["usage_api_key"].as_str().unwrap().to_string();
    assert_eq!(usage.len(), 64);
    let (_, keys) = api
        .get("list_api_keys?page_number=0&page_size=10", &account)
        .await;
    assert_eq!(
        keys,
        json!([{
            "id": hash_hex(&usage), "api_key_hash": hash_hex(&usage), "name": "worker", "description": "worker key",
            "expiration": "0", "balance": 0, "can_create_groups": true, "can_delete_groups": false,
            "can_create_pkps": false, "can_manage_ipfs_ids_in_groups": [0], "can_add_pkp_to_groups": [],
            "can_remove_pkp_from_groups": [], "can_execute_in_groups": [0]
        }])
    );
    assert!(!keys.to_string().contains(&usage), "plaintext key listed");

    // Groups: wallet ids in any case, the usage key may create groups.
    let upper = format!(
        "0x{}",
        default_wallet.trim_start_matches("0x").to_uppercase()
    );
    let cid = hash_hex("QmSomeAction");
    let group = api
        .ok("add_group", &usage, json!({"group_name": "g1", "group_description": "first", "pkp_ids_permitted": [upper], "cid_hashes_permitted": [cid]}))
        .await;
    assert_eq!(group, json!({"success": true, "group_id": "1"}));
    let (_, groups) = api
        .get("list_groups?page_number=0&page_size=10", &account)
        .await;
    assert_eq!(
        groups,
        json!([{"id": "1", "name": "g1", "description": "first"}])
    );
    // Group lists name only groups that exist: now group 1 can be granted (ids in any form).
    api.ok("update_usage_api_key", &account, scopes("worker", json!({"usage_api_key": usage, "can_create_groups": true, "add_pkp_to_groups": [1], "manage_ipfs_ids_in_groups": [0], "execute_in_groups": ["0x1", "0"]})))
        .await;
    let (_, keys) = api
        .get("list_api_keys?page_number=0&page_size=10", &account)
        .await;
    assert_eq!(
        (
            &keys[0]["can_add_pkp_to_groups"],
            &keys[0]["can_execute_in_groups"]
        ),
        (&json!([1]), &json!([1, 0]))
    );
    let (_, in_group) = api
        .get(
            "list_wallets_in_group?group_id=1&page_number=0&page_size=10",
            &usage,
        )
        .await;
    assert_eq!(in_group[0]["wallet_address"], default_wallet);

    // add_pkp_to_group with the group id as number, decimal string and hex string.
    let second = api.get("create_wallet", &account).await.1["wallet_address"]
        .as_str()
        .unwrap()
        .to_string();
    for id in [json!(1), json!("1"), json!("0x1")] {
        api.ok(
            "add_pkp_to_group",
            &usage,
            json!({"group_id": id, "pkp_id": second}),
        )
        .await;
    }
    let (_, in_group) = api
        .get(
            "list_wallets_in_group?group_id=0x1&page_number=0&page_size=10",
            &account,
        )
        .await;
    assert_eq!(in_group.as_array().unwrap().len(), 2);

    // Scope precedes existence: no remove scope → 403 for group 1 and for a group that does not exist.
    for id in [1, 99] {
        let (status, answer) = api
            .post(
                "remove_pkp_from_group",
                &usage,
                json!({"group_id": id, "pkp_id": second}),
            )
            .await;
        assert_eq!(status, 403, "group {id}: {answer}");
    }
    // With the scope, a missing group is a 404: for a usage key given a group that was removed
    // since (scope lists may only name existing groups), for one given the 0 wildcard, and for
    // the account key.
    let doomed = api
        .ok(
            "add_group",
            &account,
            json!({"group_name": "doomed", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
        )
        .await["group_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut scoped = Vec::new();
    for (name, groups) in [("adder", json!([doomed])), ("adder_any", json!([0]))] {
        let created = api
            .ok(
                "add_usage_api_key",
                &account,
                scopes(name, json!({"add_pkp_to_groups": groups})),
            )
            .await;
        scoped.push(created["usage_api_key"].as_str().unwrap().to_string());
    }
    api.ok("remove_group", &account, json!({"group_id": doomed}))
        .await;
    let (status, _) = api
        .post(
            "add_pkp_to_group",
            &usage,
            json!({"group_id": doomed, "pkp_id": second}),
        )
        .await;
    assert_eq!(status, 403);
    for key in scoped.iter().chain([&account]) {
        let (status, answer) = api
            .post(
                "add_pkp_to_group",
                key,
                json!({"group_id": doomed, "pkp_id": second}),
            )
            .await;
        assert_eq!(status, 404, "{answer}");
        assert!(answer["error"]
            .as_str()
            .unwrap()
            .contains(&format!("group {doomed}")));
    }

    // Account-key-only operations refuse the usage key.
    let update = json!({"group_id": "1", "name": "g1b", "description": "renamed"});
    assert_eq!(
        api.post("update_group", &usage, update.clone()).await.0,
        403
    );
    assert_eq!(
        api.post("remove_group", &usage, json!({"group_id": 1}))
            .await
            .0,
        403
    );
    assert_eq!(
        api.post(
            "add_usage_api_key",
            &usage,
            scopes("escalate", json!({"can_delete_groups": true}))
        )
        .await
        .0,
        403
    );
    api.ok("update_group", &account, update).await;
    let (_, groups) = api
        .get("list_groups?page_number=0&page_size=10", &account)
        .await;
    assert_eq!(groups[0]["name"], "g1b");
    // update_group replaced the wallet set with an empty one.
    let (_, in_group) = api
        .get(
            "list_wallets_in_group?group_id=1&page_number=0&page_size=10",
            &account,
        )
        .await;
    assert_eq!(in_group, json!([]));

    // Key metadata by hash, scopes replaced by plaintext.
    api.ok(
        "update_usage_api_key_metadata",
        &account,
        json!({"usage_api_key": hash_hex(&usage), "name": "renamed", "description": "new"}),
    )
    .await;
    let replaced = scopes(
        "worker2",
        json!({"can_delete_groups": true, "usage_api_key": usage}),
    );
    api.ok("update_usage_api_key", &account, replaced).await;
    let (_, keys) = api
        .get("list_api_keys?page_number=0&page_size=10", &account)
        .await;
    assert_eq!(
        (
            keys[0]["name"].as_str(),
            keys[0]["can_delete_groups"].as_bool()
        ),
        (Some("worker2"), Some(true))
    );
    assert_eq!(keys[0]["can_add_pkp_to_groups"], json!([]));
    api.ok("remove_group", &usage, json!({"group_id": 1})).await;
    assert_eq!(
        api.get("list_groups?page_number=0&page_size=10", &account)
            .await
            .1,
        json!([])
    );

    // A foreign account's ids behave as missing.
    let (other, _) = api.new_account().await;
    api.ok("add_group", &account, json!({"group_name": "mine", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []})).await;
    let (status, _) = api
        .post("remove_group", &other, json!({"group_id": 2}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = api
        .post(
            "remove_usage_api_key",
            &other,
            json!({"usage_api_key": usage}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api.post("add_group", &other, json!({"group_name": "x", "group_description": "", "pkp_ids_permitted": [second], "cid_hashes_permitted": []})).await;
    assert_eq!(status, 404, "a foreign wallet was accepted into a group");

    // Removing the usage key revokes it at once.
    api.ok(
        "remove_usage_api_key",
        &account,
        json!({"usage_api_key": usage}),
    )
    .await;
    assert_eq!(
        api.get("list_groups?page_number=0&page_size=10", &usage)
            .await
            .0,
        401
    );
    assert_eq!(api.get("account_exists", &usage).await, (200, json!(false)));
    api.node.stop().await;
}

#[tokio::test]
async fn malformed_ids_are_named() {
    let api = Api::start().await;
    let (account, _) = api.new_account().await;
    for (path, body, needle) in [
        ("remove_group", json!({"group_id": -1}), "group_id"),
        ("remove_group", json!({"group_id": "abc"}), "group_id"),
        ("remove_group", json!({}), "group_id"),
        (
            "add_pkp_to_group",
            json!({"group_id": 1, "pkp_id": "0x1234"}),
            "pkp_id",
        ),
        (
            "add_group",
            json!({"group_name": "g", "group_description": "", "cid_hashes_permitted": ["QmNotAHash"]}),
            "cid_hashes_permitted",
        ),
        (
            "remove_usage_api_key",
            json!({"usage_api_key": ""}),
            "usage_api_key",
        ),
    ] {
        let (status, answer) = api.post(path, &account, body.clone()).await;
        assert_eq!(status, 400, "{path} {body} → {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{path} {body} → {answer}"
        );
    }
    let (status, answer) = api
        .get("list_wallets_in_group?page_number=0&page_size=10", &account)
        .await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("group_id"));
    api.node.stop().await;
}

#[tokio::test]
async fn two_removals_of_one_group_mined_together_are_one_success_and_one_conflict() {
    use alloy::providers::ext::AnvilApi;
    use alloy::providers::{Provider, ProviderBuilder};
    let dir = tempfile::tempdir().unwrap();
    let api = Api {
        node: NodeProcess::dev(dir.path(), &[("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true")]).await,
        _dir: dir,
    };
    let (account, _) = api.new_account().await;
    api.ok("add_group", &account, json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []})).await;
    let (_, chain) = api.get("get_node_chain_config", "").await;
    let rpc: alloy::transports::http::reqwest::Url =
        chain["rpc_url"].as_str().unwrap().parse().unwrap();
    let provider = ProviderBuilder::new().connect_http(rpc);

    // The writer simulates against the pending state, so a second removal simulated after the
    // first was sent would be refused before sending. To have both sent (by two payers) and mined
    // in one block, the first is taken out of the pool while the second is simulated and sent,
    // then put back as it was signed: the second of the two to run reverts.
    provider.anvil_set_auto_mine(false).await.unwrap();
    let remove = || api.post("remove_group", &account, json!({"group_id": 1}));
    let pool_hashes = || async {
        let content: Value = provider
            .raw_request("txpool_content".into(), ())
            .await
            .unwrap();
        let mut hashes = Vec::new();
        for by_nonce in content["pending"].as_object().unwrap().values() {
            for tx in by_nonce.as_object().unwrap().values() {
                hashes.push(tx["hash"].as_str().unwrap().parse::<B256>().unwrap());
            }
        }
        hashes
    };
    let wait_for_pool = |count: usize| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let hashes = pool_hashes().await;
            if hashes.len() >= count {
                return hashes;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the pool never held {count} transactions"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let first = remove();
    let second = async {
        let [held] = wait_for_pool(1).await[..] else {
            panic!("more than one transaction in the pool")
        };
        let signed = provider
            .get_transaction_by_hash(held)
            .await
            .unwrap()
            .expect("the first removal in the pool")
            .inner
            .into_inner()
            .encoded_2718();
        provider.anvil_drop_transaction(held).await.unwrap();
        let second = remove();
        let put_back = async {
            let hashes = wait_for_pool(1).await;
            assert!(!hashes.contains(&held), "the second removal was not sent");
            // (The writer itself sends a dropped transaction again, with higher fees, after two
            // checks a second apart: if it was first, the pool refuses this copy.)
            if let Err(error) = provider.send_raw_transaction(&signed).await {
                assert!(
                    error
                        .to_string()
                        .contains("replacement transaction underpriced"),
                    "{error}"
                );
            }
            wait_for_pool(2).await;
            provider.anvil_mine(Some(1), None).await.unwrap();
            provider.anvil_set_auto_mine(true).await.unwrap();
        };
        futures_util::future::join(second, put_back).await.0
    };
    let ((first, a), (second, b)) = futures_util::future::join(first, second).await;
    let mut outcomes = [(first, a), (second, b)];
    outcomes.sort_by_key(|(status, _)| *status);
    let [(ok_status, ok), (conflict_status, conflict)] = outcomes;
    assert_eq!((ok_status, ok), (200, json!({"success": true})));
    assert_eq!(
        (conflict_status, conflict["code"].as_str()),
        (409, Some("conflict")),
        "{conflict}"
    );
    assert!(
        conflict["error"].as_str().unwrap().contains("reverted"),
        "{conflict}"
    );
    assert_eq!(
        api.get("list_groups?page_number=0&page_size=10", &account)
            .await
            .1,
        json!([])
    );
    api.node.stop().await;
}
