//! Rate limits over HTTP: `new_account` per client IP and every keyed request per API key; over
//! the limit → 429 with `Retry-After`, other keys unaffected.

mod common;

use common::{http, NodeProcess};
use serde_json::{json, Value};

#[tokio::test]
async fn limits_per_ip_and_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let limits = [
        ("LIT_NODE_RATE_LIMIT__PER_KEY_PER_SECOND", "1"),
        ("LIT_NODE_RATE_LIMIT__PER_KEY_BURST", "3"),
        ("LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_PER_IP_PER_MINUTE", "1"),
        ("LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_BURST", "2"),
    ];
    let node = NodeProcess::dev(dir.path(), &limits).await;
    let new_account = || async {
        http()
            .post(node.url("/core/v1/new_account"))
            .json(&json!({"account_name": "a", "account_description": ""}))
            .send()
            .await
            .unwrap()
    };
    let first = new_account().await;
    assert_eq!(first.status(), 200);
    let key = first.json::<Value>().await.unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(new_account().await.status(), 200);
    let limited = new_account().await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        limited.json::<Value>().await.unwrap()["code"],
        "rate_limited"
    );

    let exists = |key: String| {
        let url = node.url("/core/v1/account_exists");
        async move {
            http()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(exists(key.clone()).await.status(), 200);
    }
    let limited = exists(key.clone()).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    // Another key is not affected, and the limited key recovers.
    assert_eq!(exists("another-key".into()).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(exists(key).await.status(), 200);
    node.stop().await;
}
