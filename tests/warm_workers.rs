//! Workers build their ethers realms before the node reports ready (`actions.warm_ethers`, on by
//! default), and build one again after a run took its worker's realm with it, so no request
//! waits ~0.2 s for one: the realm counter reads `workers` as soon as the node listens, before
//! any action ran, and goes up by one after a run that broke a limit inside ethers' runtime.

mod common;

use std::time::{Duration, Instant};

use common::{api, metric, new_account, NodeProcess};
use serde_json::json;

const REALMS_BUILT: &str = "lit_node_action_ethers_realms_built_total";

async fn realms_built(node: &NodeProcess) -> f64 {
    metric(&node.metrics().await, REALMS_BUILT).unwrap_or(0.0)
}

#[tokio::test]
async fn realms_are_built_before_ready_and_after_a_run_takes_one() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(
        dir.path(),
        &[
            ("LIT_NODE_ACTIONS__WARM_ETHERS", "true"),
            ("LIT_NODE_ACTIONS__WORKERS", "2"),
        ],
    )
    .await;
    assert_eq!(
        realms_built(&node).await,
        2.0,
        "both workers' realms before ready"
    );

    let (key, _) = new_account(&node.base_url, "warm").await;
    let sign = json!({"code": r#"async function main() {
        return await new ethers.Wallet("0x0000000000000000000000000000000000000000000000000000000000000001").signMessage("warm");
    }"#});
    let (status, reply) = api(&node.base_url, "POST", "lit_action", Some(&key), sign).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["has_error"], json!(false), "{reply}");
    assert_eq!(
        realms_built(&node).await,
        2.0,
        "a run uses the realm built before"
    );

    // A run that breaks a limit (a response over 100 KB) takes its runtime and realm with it; the worker builds a new
    // one after replying, not when the next ethers run arrives.
    let too_long = json!({"code": r#"async function main() {
        Lit.Actions.setResponse({ response: ethers.utils.id("x").repeat(5000) });
    }"#});
    let (status, reply) = api(&node.base_url, "POST", "lit_action", Some(&key), too_long).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["has_error"], json!(true), "{reply}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while realms_built(&node).await < 3.0 {
        assert!(Instant::now() < deadline, "no realm rebuilt within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
    }
    node.stop().await;
}
