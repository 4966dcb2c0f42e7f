//! Writes sharing transactions (`chain.max_batch_calls`) against `lit-node dev` (real anvil, the
//! real binary): with one payer, concurrent writes from several accounts go out in far fewer
//! transactions than writes, and each request still gets its own answer — its own new group id,
//! its own refusal — with read-your-writes.

mod common;

use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use common::{api, api_ok, NodeProcess};
use serde_json::{json, Value};

/// A new account's key.
async fn new_account(url: &str, name: &str) -> String {
    common::new_account(url, name).await.0
}

fn group(name: &str) -> Value {
    json!({"group_name": name, "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []})
}

#[tokio::test]
async fn concurrent_writes_share_transactions_and_each_gets_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(
        dir.path(),
        &[
            ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
            ("LIT_NODE_CHAIN__PAYER_COUNT", "1"),
        ],
    )
    .await;
    let url = node.base_url.clone();
    let config = api_ok(&url, "GET", "get_node_chain_config", None, Value::Null).await;
    let provider =
        ProviderBuilder::new().connect_http(config["rpc_url"].as_str().unwrap().parse().unwrap());
    let payer: Address = api_ok(&url, "GET", "get_api_payers", None, Value::Null).await[0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let keys = [
        new_account(&url, "a").await,
        new_account(&url, "b").await,
        new_account(&url, "c").await,
    ];
    // A group to remove twice at once: exactly one removal can succeed.
    let doomed = api_ok(&url, "POST", "add_group", Some(&keys[0]), group("doomed")).await
        ["group_id"]
        .as_str()
        .unwrap()
        .to_string();
    let nonce_before = provider.get_transaction_count(payer).await.unwrap();

    let mut writes = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        for i in 0..8 {
            let (url, key) = (url.clone(), key.clone());
            writes.push(tokio::spawn(async move {
                let name = format!("k{k}-g{i}");
                let (status, answer) =
                    api(&url, "POST", "add_group", Some(&key), group(&name)).await;
                (k, name, status, answer)
            }));
        }
    }
    let removals: Vec<_> = (0..2)
        .map(|_| {
            let (url, key, id) = (url.clone(), keys[0].clone(), doomed.clone());
            tokio::spawn(async move {
                api(
                    &url,
                    "POST",
                    "remove_group",
                    Some(&key),
                    json!({"group_id": id}),
                )
                .await
            })
        })
        .collect();

    // Every add_group succeeded with its own id; ids within an account are distinct.
    let mut ids: Vec<Vec<u64>> = vec![Vec::new(); keys.len()];
    for write in writes {
        let (k, name, status, answer) = write.await.unwrap();
        assert_eq!(status, 200, "{name}: {answer}");
        ids[k].push(answer["group_id"].as_str().unwrap().parse().unwrap());
    }
    let mut statuses = Vec::new();
    for removal in removals {
        let (status, answer) = removal.await.unwrap();
        statuses.push((status, answer));
    }
    statuses.sort_by_key(|(status, _)| *status);
    assert_eq!(statuses[0].0, 200, "{statuses:?}");
    assert_eq!(
        (statuses[1].0, statuses[1].1["code"].as_str()),
        (404, Some("not_found")),
        "the second removal of one group: {statuses:?}"
    );

    // Read-your-writes: each account lists exactly its groups, under the ids it was given.
    for (k, key) in keys.iter().enumerate() {
        let listed = api_ok(
            &url,
            "GET",
            "list_groups?page_number=0&page_size=100",
            Some(key),
            Value::Null,
        )
        .await;
        let mut listed: Vec<(u64, String)> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["id"].as_str().unwrap().parse().unwrap(),
                    g["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        listed.sort();
        let mut given = ids[k].clone();
        given.sort();
        let listed_ids: Vec<u64> = listed
            .iter()
            .filter(|(_, name)| name != "doomed")
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(listed_ids, given, "account {k}: {listed:?}");
        given.dedup();
        assert_eq!(given.len(), 8, "account {k} got duplicate ids");
    }

    // 26 writes through one payer went out in fewer transactions.
    let sent = provider.get_transaction_count(payer).await.unwrap() - nonce_before;
    eprintln!("26 writes were sent in {sent} transactions");
    assert!(
        sent < 26,
        "no write shared a transaction ({sent} transactions)"
    );
    node.stop().await;
}
