//! Billing against hostile clients, with the real binary (a local fake of Stripe, a real anvil
//! chain): a run whose client aborts is stopped at its next interrupt check and still charged for
//! what it used; a write whose client aborts is still completed and charged; a run refused for
//! lack of credit stores none of its code.

mod common;

use std::time::{Duration, Instant};

use common::fake_stripe::FakeStripe;
use common::{http, NodeProcess};
use serde_json::{json, Value};

const ROOT_SECRET: &str = "3333333333333333333333333333333333333333333333333333333333333333";
const STRIPE_SECRET: &str = "sk_test_51FakeSecretKeyForLitNodeTests0123456789";

async fn billed_node(dir: &std::path::Path, stripe: &FakeStripe) -> NodeProcess {
    NodeProcess::dev(
        dir,
        &[
            ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
            ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
            ("LIT_NODE_BILLING__ENABLED", "true"),
            ("LIT_NODE_BILLING__STRIPE_PUBLISHABLE_KEY", "pk_test_fake"),
            ("LIT_NODE_BILLING__STRIPE_API_BASE", &stripe.base_url),
            // Settlement would move charges on chain meanwhile; the balance shows them either way.
            ("LIT_NODE_BILLING__SETTLE_INTERVAL_MS", "600000"),
            ("LIT_NODE_STRIPE_SECRET_KEY", STRIPE_SECRET),
        ],
    )
    .await
}

/// A new account with `cents` of credit (granted on the dev chain, then mirrored).
async fn funded_account(node: &NodeProcess, dir: &std::path::Path, cents: u64) -> String {
    let key = common::api_ok(
        &node.base_url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "abandoning", "account_description": ""}),
    )
    .await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    if cents == 0 {
        return key;
    }
    let output = common::grant_credit(dir, ROOT_SECRET, &key, cents).await;
    assert!(output.status.success(), "{output:?}");
    wait_for_balance(node, &key, -(cents as i64), Duration::from_secs(20)).await;
    key
}

async fn balance(node: &NodeProcess, key: &str) -> i64 {
    common::api_ok(
        &node.base_url,
        "GET",
        "billing/balance",
        Some(key),
        Value::Null,
    )
    .await["balance_cents"]
        .as_i64()
        .unwrap()
}

/// Waits until the balance reads `cents` (Stripe's sign: negative = credit).
async fn wait_for_balance(node: &NodeProcess, key: &str, cents: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = balance(node, key).await;
        if now == cents {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the balance stayed {now}, expected {cents}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `body` to `path` and gives up on the reply after `after`.
async fn abandon(node: &NodeProcess, key: &str, path: &str, body: Value, after: Duration) {
    let request = http()
        .post(node.url(&format!("/core/v1/{path}")))
        .header("x-api-key", key)
        .json(&body)
        .send();
    assert!(
        tokio::time::timeout(after, request).await.is_err(),
        "{path} answered before the client gave up"
    );
}

#[tokio::test]
async fn an_abandoned_run_is_stopped_and_charged_for_the_time_it_used() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let node = billed_node(dir.path(), &stripe).await;
    let key = funded_account(&node, dir.path(), 100).await;

    // A 3 s action whose client gives up after 100 ms.
    let spin = r#"async function main() { const end = Date.now() + 3000; while (Date.now() < end) {} return "done"; }"#;
    let abandoned_at = Instant::now();
    abandon(
        &node,
        &key,
        "lit_action",
        json!({ "code": spin }),
        Duration::from_millis(100),
    )
    .await;
    // Stopped at its next interrupt check and charged its one started second — not the three a
    // finished run costs (and not nothing, as before).
    wait_for_balance(&node, &key, -99, Duration::from_secs(10)).await;
    assert!(
        abandoned_at.elapsed() < Duration::from_millis(2500),
        "the run was charged only after {:?}: it was not stopped",
        abandoned_at.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(balance(&node, &key).await, -99, "charged once, for 1 s");
}

#[tokio::test]
async fn an_abandoned_write_is_completed_and_charged() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let node = billed_node(dir.path(), &stripe).await;
    let key = funded_account(&node, dir.path(), 100).await;

    // Blocks every 2 s from now on: a write takes up to 2 s to be mined.
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
    rpc.raw_request::<_, ()>("evm_setIntervalMining".into(), (2,))
        .await
        .unwrap();

    abandon(
        &node,
        &key,
        "add_group",
        json!({"group_name": "left behind", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
        Duration::from_millis(100),
    )
    .await;
    // The write goes on without its client: the group appears and the write is charged.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let groups = common::api_ok(
            &node.base_url,
            "GET",
            "list_groups?page_number=0&page_size=10",
            Some(&key),
            Value::Null,
        )
        .await;
        if groups.as_array().unwrap().len() == 1 {
            assert_eq!(groups[0]["name"], json!("left behind"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned write never landed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for_balance(&node, &key, -99, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_run_refused_for_lack_of_credit_stores_nothing() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let node = billed_node(dir.path(), &stripe).await;
    let key = funded_account(&node, dir.path(), 0).await;
    let code = format!(
        r#"async function main() {{ return "paid"; }} // {}"#,
        "x".repeat(1 << 20)
    );
    let (status, reply) = common::api(
        &node.base_url,
        "POST",
        "lit_action",
        Some(&key),
        json!({ "code": code }),
    )
    .await;
    assert_eq!(status, 402, "{reply}");
    let cid = lit_node::cid::cid_v0(code.as_bytes());
    let (status, reply) = common::api(
        &node.base_url,
        "POST",
        "lit_action",
        Some(&key),
        json!({ "ipfs_id": cid }),
    )
    .await;
    assert_eq!(
        (status, reply["code"].clone()),
        (400, json!("unknown_code")),
        "{reply}"
    );
}
