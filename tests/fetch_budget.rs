//! Bytes held by a run's in-flight `fetch` bodies count against its memory limit: 50 concurrent
//! 10 MiB fetches cannot make the node hold 500 MiB. Runs the real engine and real fetch against a
//! local server, and reads the process's peak memory (VmHWM) — its own test binary, so no other
//! test moves that figure.

use std::net::SocketAddr;
use std::sync::Arc;

use alloy::primitives::B256;
use lit_node::actions::fetch::Fetcher;
use lit_node::actions::{run_action, ActionLimits, RunInput, Services};
use lit_node::cid::cid_hash;
use lit_node::config::ActionsConfig;
use lit_node::keys::{KeyDeriver, RootSecret};
use lit_node::store::permissions::Permissions;
use lit_node::store::Store;
use serde_json::json;

const TEN_MIB: usize = 10 * 1024 * 1024;

/// Peak resident memory of this process so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

async fn serve_big() -> SocketAddr {
    let body = axum::body::Bytes::from(vec![b'x'; TEN_MIB]);
    let app = axum::Router::new().route(
        "/big",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                // Slow enough that all 50 requests are in flight at once.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                body
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

#[test]
fn fifty_concurrent_ten_mib_fetches_stay_within_the_runs_memory_limit() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (fetcher, server) = runtime.block_on(async {
        let server = serve_big().await;
        let config = ActionsConfig {
            fetch_allow_private: true,
            fetch_max_response_bytes: TEN_MIB,
            fetch_timeout_ms: 20_000,
            ..ActionsConfig::default()
        };
        (Fetcher::new(&config).unwrap(), server)
    });
    let services = Arc::new(Services {
        keys: KeyDeriver::new(&RootSecret::from_bytes([3; 32])),
        permissions: Permissions::new(store.clone()),
        store,
        fetcher: Some(fetcher),
        ethers: None,
        modules: None,
    });
    let code = format!(
        r#"async function main() {{
            const results = await Promise.allSettled(Array.from({{ length: 50 }}, () =>
                fetch("http://{server}/big").then((r) => r.arrayBuffer()).then((b) => b.byteLength)));
            const read = results.filter((r) => r.status === "fulfilled").length;
            const refused = results.filter((r) => r.status === "rejected" && /memory limit of 64 MB/.test(r.reason.message)).length;
            const others = results.filter((r) => r.status === "rejected" && !/memory limit of 64 MB/.test(r.reason.message)).map((r) => String(r.reason));
            return {{ read, refused, other: results.length - read - refused, others }};
        }}"#
    );
    let cid = lit_node::cid::cid_v0(code.as_bytes());
    let input = RunInput {
        code: Arc::from(code.as_str()),
        cid_hash: cid_hash(&cid),
        cid,
        key_hash: B256::repeat_byte(1),
        account: B256::repeat_byte(2),
        params_json: None,
        limits: ActionLimits {
            timeout_ms: 60_000,
            max_fetch_count: 50,
            ..ActionLimits::default()
        },
        headers: Vec::new(),
        credit: None,
        abandoned: Default::default(),
    };
    let before = peak_rss();
    let outcome = std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || run_action(services, input))
        .unwrap()
        .join()
        .unwrap();
    let grown = peak_rss().saturating_sub(before);
    drop(runtime);
    println!("peak memory grew by {} MiB", grown / (1024 * 1024));

    // The run ends normally or at its memory limit; either way the bodies it could not hold were
    // refused by name, and the node never held the 500 MiB the action asked for.
    if !outcome.has_error {
        let response = &outcome.response;
        assert!(response["refused"].as_u64().unwrap() >= 40, "{response}");
        // A body that was read may still not fit in the JS heap (its own limit).
        for other in response["others"].as_array().unwrap() {
            assert!(
                other.as_str().unwrap().contains("out of memory"),
                "{response}"
            );
        }
    } else {
        assert_eq!(
            outcome.response,
            json!("Your function exceeded the maximum memory of 64 MB and was terminated."),
            "{outcome:?}"
        );
    }
    assert!(
        grown < 200 * 1024 * 1024,
        "the process's peak memory grew by {} MiB",
        grown / (1024 * 1024)
    );
}
