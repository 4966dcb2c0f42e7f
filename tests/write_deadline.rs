//! A management write over HTTP while the chain stops mining, against `lit-node dev` with a short
//! request timeout: the node answers with its own 503 JSON error (saying the transaction was sent
//! and is followed) before the HTTP request timeout would answer a bare 408.

mod common;

use std::time::{Duration, Instant};

use alloy::providers::ext::AnvilApi;
use alloy::providers::ProviderBuilder;
use common::{api_ok, http, NodeProcess};
use serde_json::{json, Value};

const REQUEST_TIMEOUT_SECS: u64 = 8;

#[tokio::test]
async fn a_write_to_a_chain_that_stopped_mining_answers_503_before_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = REQUEST_TIMEOUT_SECS.to_string();
    let node = NodeProcess::dev(
        dir.path(),
        &[
            ("LIT_NODE_HTTP__REQUEST_TIMEOUT_SECS", timeout.as_str()),
            ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
        ],
    )
    .await;
    let account = api_ok(
        &node.base_url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "a", "account_description": ""}),
    )
    .await;
    let key = account["api_key"].as_str().unwrap();
    let chain = api_ok(
        &node.base_url,
        "GET",
        "get_node_chain_config",
        None,
        Value::Null,
    )
    .await;
    let rpc =
        ProviderBuilder::new().connect_http(chain["rpc_url"].as_str().unwrap().parse().unwrap());
    rpc.anvil_set_auto_mine(false).await.unwrap();

    let started = Instant::now();
    let response = http()
        .post(node.url("/core/v1/add_group"))
        .header("x-api-key", key)
        .json(&json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 503, "{body}");
    assert!(
        elapsed < Duration::from_secs(REQUEST_TIMEOUT_SECS),
        "answered after {elapsed:?}, not before the request timeout"
    );
    assert_eq!(body["code"], "chain_unavailable", "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("0x") && message.contains("sent but not mined"),
        "the answer does not say what was sent: {message}"
    );

    // The sent transaction lands once the chain mines again.
    rpc.anvil_set_auto_mine(true).await.unwrap();
    rpc.anvil_mine(Some(1), None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let groups = api_ok(
            &node.base_url,
            "GET",
            "list_groups?page_number=0&page_size=10",
            Some(key),
            Value::Null,
        )
        .await;
        if groups.as_array().is_some_and(|g| g.len() == 1) {
            break;
        }
        assert!(Instant::now() < deadline, "the sent write never landed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.stop().await;
}
