//! `Idempotency-Key` on writes, against the real binary (`lit-node dev`, real anvil): a retry gets
//! the first reply and writes nothing twice — concurrently, after a restart, and for
//! `new_account` (whose reply holds the new key); a key reused for another request is refused; a
//! first attempt that wrote nothing is not kept; an attempt cut short by a killed node is reported
//! as such instead of being written again.

mod common;

use std::time::Duration;

use common::{http, NodeProcess};
use serde_json::{json, Value};

const ROOT_SECRET: &str = "4444444444444444444444444444444444444444444444444444444444444444";
const ENV: &[(&str, &str)] = &[
    ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
    ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
];

/// `POST path` with `key` (if any) and `idempotency` (if any): (status, replayed?, body).
async fn post(
    node: &NodeProcess,
    path: &str,
    key: Option<&str>,
    idempotency: Option<&str>,
    body: &Value,
) -> (u16, bool, Value) {
    let mut request = http()
        .post(node.url(&format!("/core/v1/{path}")))
        .json(body);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(idempotency) = idempotency {
        request = request.header("Idempotency-Key", idempotency);
    }
    let response = request.send().await.unwrap();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (
        response.status().as_u16(),
        replayed,
        response.json().await.unwrap(),
    )
}

async fn groups(node: &NodeProcess, key: &str) -> Vec<Value> {
    common::api_ok(
        &node.base_url,
        "GET",
        "list_groups?page_number=0&page_size=100",
        Some(key),
        Value::Null,
    )
    .await
    .as_array()
    .unwrap()
    .clone()
}

fn group(name: &str) -> Value {
    json!({"group_name": name, "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []})
}

#[tokio::test]
async fn retries_get_the_first_reply_and_write_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), ENV).await;

    // new_account: the retry returns the same account key, and only one account exists.
    let new_account = json!({"account_name": "idem", "account_description": ""});
    let (status, replayed, first) =
        post(&node, "new_account", None, Some("acct-1"), &new_account).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let (status, replayed, again) =
        post(&node, "new_account", None, Some("acct-1"), &new_account).await;
    assert_eq!((status, replayed), (200, true), "{again}");
    assert_eq!(again, first);
    let key = first["api_key"].as_str().unwrap().to_string();

    // A write retried (also concurrently) lands once and answers the same group id each time.
    let body = group("once");
    let attempts = futures_util::future::join_all(
        (0..4).map(|_| post(&node, "add_group", Some(&key), Some("group-1"), &body)),
    )
    .await;
    let ids: Vec<&Value> = attempts
        .iter()
        .map(|(_, _, reply)| &reply["group_id"])
        .collect();
    assert!(
        attempts.iter().all(|(status, _, _)| *status == 200),
        "{attempts:?}"
    );
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(
        attempts.iter().filter(|(_, replayed, _)| *replayed).count(),
        3,
        "{attempts:?}"
    );
    assert_eq!(groups(&node, &key).await.len(), 1);

    // The same key for a different request is refused, never replayed.
    let (status, _, reply) = post(
        &node,
        "add_group",
        Some(&key),
        Some("group-1"),
        &group("other"),
    )
    .await;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["code"], json!("idempotency_key_reused"));
    // A method the route does not take is a 405 whatever the key: the idempotency layer wraps
    // the route's own methods only.
    for method in ["GET", "PUT", "TRACE"] {
        let response = http()
            .request(method.parse().unwrap(), node.url("/core/v1/add_group"))
            .header("x-api-key", &key)
            .header("Idempotency-Key", "group-1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method}");
    }
    let (status, _, reply) = post(
        &node,
        "remove_group",
        Some(&key),
        Some("group-1"),
        &json!({"group_id": ids[0]}),
    )
    .await;
    assert_eq!(status, 422, "another endpoint: {reply}");
    // …also with another key of the same account (the reply may hold what that key may not see).
    let usage = post(
        &node,
        "add_usage_api_key",
        Some(&key),
        Some("usage-1"),
        &json!({"name": "u", "description": "", "can_create_groups": true, "can_delete_groups": false,
                "can_create_pkps": false, "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [],
                "remove_pkp_from_groups": [], "execute_in_groups": []}),
    )
    .await
    .2["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, reply) = post(&node, "add_group", Some(&usage), Some("group-1"), &body).await;
    assert_eq!(status, 422, "{reply}");

    // A first attempt that wrote nothing is not kept: once the group exists, the retry works.
    let wallet = common::api_ok(
        &node.base_url,
        "GET",
        "list_wallets?page_number=0&page_size=1",
        Some(&key),
        Value::Null,
    )
    .await[0]["wallet_address"]
        .clone();
    let add_pkp = json!({"group_id": "2", "pkp_id": wallet});
    let (status, _, reply) = post(
        &node,
        "add_pkp_to_group",
        Some(&key),
        Some("pkp-1"),
        &add_pkp,
    )
    .await;
    assert_eq!(status, 404, "group 2 does not exist yet: {reply}");
    post(&node, "add_group", Some(&key), None, &group("second")).await;
    let (status, replayed, reply) = post(
        &node,
        "add_pkp_to_group",
        Some(&key),
        Some("pkp-1"),
        &add_pkp,
    )
    .await;
    assert_eq!((status, replayed), (200, false), "{reply}");

    // Bad keys are named.
    let (status, _, reply) = post(
        &node,
        "add_group",
        Some(&key),
        Some(&"k".repeat(256)),
        &body,
    )
    .await;
    assert_eq!(
        (status, reply["code"].clone()),
        (400, json!("invalid_idempotency_key"))
    );

    // After a restart the kept replies are still there.
    node.stop().await;
    let node = NodeProcess::dev(dir.path(), ENV).await;
    let (status, replayed, reply) =
        post(&node, "add_group", Some(&key), Some("group-1"), &body).await;
    assert_eq!((status, replayed), (200, true), "{reply}");
    assert_eq!(&reply["group_id"], ids[0]);
    let (status, replayed, reply) =
        post(&node, "new_account", None, Some("acct-1"), &new_account).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(reply, first);
    assert_eq!(groups(&node, &key).await.len(), 2);
    node.stop().await;

    // The kept new_account reply never holds the account key in plaintext.
    let store = lit_node::store::Store::open(&dir.path().join("store")).unwrap();
    for (record_key, value) in store.dump_column("idempotency").unwrap().unwrap() {
        for needle in [key.as_bytes(), usage.as_bytes()] {
            assert!(
                !value.windows(needle.len()).any(|w| w == needle)
                    && !record_key.windows(needle.len()).any(|w| w == needle),
                "an API key is stored in plaintext"
            );
        }
    }
}

#[tokio::test]
async fn a_write_cut_short_by_a_killed_node_is_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), ENV).await;
    let key = post(
        &node,
        "new_account",
        None,
        None,
        &json!({"account_name": "k", "account_description": ""}),
    )
    .await
    .2["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    // Blocks every 3 s: the write waits for its block when the node is killed.
    let chain = common::api_ok(
        &node.base_url,
        "GET",
        "get_node_chain_config",
        None,
        Value::Null,
    )
    .await;
    let rpc: alloy::providers::RootProvider = alloy::providers::RootProvider::new_http(
        chain["rpc_url"].as_str().unwrap().parse().unwrap(),
    );
    use alloy::providers::Provider;
    rpc.raw_request::<_, ()>("evm_setAutomine".into(), (false,))
        .await
        .unwrap();
    rpc.raw_request::<_, ()>("evm_setIntervalMining".into(), (3,))
        .await
        .unwrap();
    let body = group("killed");
    let pending = tokio::spawn({
        let url = node.url("/core/v1/add_group");
        let key = key.clone();
        let body = body.clone();
        async move {
            http()
                .post(url)
                .header("x-api-key", key)
                .header("Idempotency-Key", "killed-1")
                .json(&body)
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    node.kill().await;
    let _ = pending.await;

    let node = NodeProcess::dev(dir.path(), ENV).await;
    let (status, _, reply) = post(&node, "add_group", Some(&key), Some("killed-1"), &body).await;
    assert_eq!(status, 409, "{reply}");
    assert_eq!(reply["code"], json!("idempotency_key_interrupted"));
    // The restarted node follows what it sent: the group lands once (not twice). The killed
    // node's chain restarts from its saved state without its pending transactions, so the
    // transaction lands when the outbox re-sends it, `resend_after` (30 s) after it was first
    // sent: wait for that with a margin.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while groups(&node, &key).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sent write never landed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(groups(&node, &key).await.len(), 1);
}
