//! `/metrics` on its own listener (`http.metrics_listen`): served there, 404 on the API listener,
//! and nothing but `/metrics` on the metrics listener.

mod common;

use std::time::{Duration, Instant};

use common::{http, NodeProcess};

#[tokio::test]
async fn metrics_move_to_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(
        dir.path(),
        &[("LIT_NODE_HTTP__METRICS_LISTEN", "127.0.0.1:0")],
    )
    .await;
    let metrics_url = node
        .metrics_url
        .clone()
        .expect("the node printed no `metrics on http://…` line");
    assert_ne!(
        metrics_url,
        node.url("/metrics"),
        "the metrics listener must be another address"
    );

    // An API request is counted, and the count shows on the metrics listener.
    let version = http()
        .get(node.url("/core/v1/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(version.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = http().get(&metrics_url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        if text.contains("lit_node_http_requests_total") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no request metrics within 10 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
    }

    // The API listener no longer serves them.
    let public = http().get(node.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    assert_eq!(
        public.json::<serde_json::Value>().await.unwrap()["code"],
        "not_found"
    );

    // The metrics listener serves nothing else.
    let base = metrics_url.trim_end_matches("/metrics");
    let api = http()
        .get(format!("{base}/core/v1/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    node.stop().await;
}

#[tokio::test]
async fn without_a_metrics_address_they_stay_on_the_api_listener() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[]).await;
    assert_eq!(node.metrics_url, None);
    let response = http().get(node.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    node.stop().await;
}
