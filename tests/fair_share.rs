//! Fair share of the action workers, against the real binary (`lit-node dev` over HTTP): with one
//! account flooding 30 s busy loops, another account's hello-world still answers promptly, and
//! the flood's runs stop once their clients give up. Its own test binary, so that no other test
//! of this crate shares the cores while latencies are measured.

mod common;

use std::time::{Duration, Instant};

use common::{http, NodeProcess};
use serde_json::json;

async fn account(node: &NodeProcess) -> String {
    common::api_ok(
        &node.base_url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "a", "account_description": ""}),
    )
    .await["api_key"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn hello(node: &NodeProcess, key: &str) {
    let reply = common::api_ok(
        &node.base_url,
        "POST",
        "lit_action",
        Some(key),
        json!({"code": r#"async function main() { return "hello"; }"#}),
    )
    .await;
    assert_eq!(reply["response"], json!("hello"), "{reply}");
}

#[tokio::test]
async fn one_account_flooding_busy_loops_leaves_workers_for_others() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[("LIT_NODE_ACTIONS__WORKERS", "4")]).await;
    let flooder = account(&node).await;
    let other = account(&node).await;
    hello(&node, &other).await; // warm

    // 12 concurrent 30 s busy loops: more than every worker and part of the queue.
    let busy = r#"async function main() { for (;;) {} }"#;
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let url = node.url("/core/v1/lit_action");
            let key = flooder.clone();
            tokio::spawn(async move {
                http()
                    .post(url)
                    .header("x-api-key", key)
                    .json(&json!({ "code": busy }))
                    .send()
                    .await
            })
        })
        .collect();
    // Wait until the flood occupies its share of the workers.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !node.metrics().await.lines().any(|line| {
        line.starts_with("lit_node_action_queue_seconds_count") && {
            let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            count >= 4.0 // the warm-up run + three busy loops started
        }
    }) {
        assert!(Instant::now() < deadline, "the flood never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut latencies = Vec::new();
    for _ in 0..40 {
        let started = Instant::now();
        hello(&node, &other).await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100 - 1];
    assert!(
        p99 < Duration::from_millis(250),
        "another account's hello-world p99 was {p99:?} while one account flooded: {latencies:?}"
    );
    // The flooder's runs beyond its share wait; once its clients give up, they stop.
    for request in flood {
        request.abort();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = node.metrics().await;
        let stopped = metrics
            .lines()
            .filter(|line| line.starts_with("lit_node_actions_total{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
        let abandoned = metrics
            .lines()
            .find(|line| line.starts_with("lit_node_actions_abandoned_total"))
            .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        // 40 hello-worlds + 1 warm-up, plus every busy loop either stopped or never started.
        if stopped + abandoned >= 41.0 + 12.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "abandoned busy loops kept running: {stopped} finished, {abandoned} dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
