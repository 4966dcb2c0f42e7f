//! `lit-node dev` end to end: the real binary starts its own anvil, deploys the contracts, serves
//! the foundation endpoints over HTTP, keeps its chain across restarts, and fails clearly.

mod common;

use std::os::unix::fs::PermissionsExt;

use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use common::{chain_owner, expect_start_failure, http, NodeProcess};
use lit_node::chain::bindings::NodeConfig;
use serde_json::Value;

const PUBLISH_RPC: (&str, &str) = ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true");

async fn get_json(url: &str) -> Value {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn dev_node_deploys_serves_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[PUBLISH_RPC]).await;
    assert!(
        node.stdout_line.contains("chain id 31337"),
        "{}",
        node.stdout_line
    );

    // Chain config: anvil's chain id and a registry that really has code on that chain.
    let config = get_json(&node.url("/core/v1/get_node_chain_config")).await;
    assert_eq!(config["chain_id"], 31337);
    assert_eq!(config["is_evm"], true);
    assert_eq!(config["testnet"], true);
    assert_eq!(config["chain_name"], "anvil");
    assert_eq!(config["token"], "ETH");
    let registry: Address = config["contract_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        config["contracts"]["LitRegistry"],
        config["contract_address"]
    );
    let rpc_url = config["rpc_url"].as_str().unwrap().to_string();
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().unwrap());
    assert!(
        !provider.get_code_at(registry).await.unwrap().is_empty(),
        "registry has no code"
    );

    // Payers: what the API publishes is what the NodeConfig contract lists.
    let node_config: Address = config["contracts"]["NodeConfig"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let on_chain = NodeConfig::new(node_config, &provider);
    let payers = get_json(&node.url("/core/v1/get_api_payers")).await;
    let payers: Vec<Address> = payers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let text = p.as_str().unwrap();
            assert_eq!(text, text.to_lowercase(), "payer addresses are lowercase");
            text.parse().unwrap()
        })
        .collect();
    assert_eq!(payers.len(), 8);
    assert_eq!(on_chain.payers().call().await.unwrap(), payers);
    for payer in &payers {
        assert!(provider.get_balance(*payer).await.unwrap() > alloy::primitives::U256::ZERO);
    }
    let admin = get_json(&node.url("/core/v1/get_admin_api_payer")).await;
    let admin: Address = admin.as_str().unwrap().parse().unwrap();
    assert_eq!(on_chain.adminPayer().call().await.unwrap(), admin);

    // Root secret created private.
    let mode = std::fs::metadata(dir.path().join("root-secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Something written to the dev chain directly (the owner sets a config value).
    let owner_provider = chain_owner(&rpc_url);
    NodeConfig::new(node_config, &owner_provider)
        .setConfig("timeout_ms".into(), "1234".into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    node.stop().await;

    // Restart on the same data dir: same contracts, same payers, and the write survived.
    let node = NodeProcess::dev(dir.path(), &[PUBLISH_RPC]).await;
    let again = get_json(&node.url("/core/v1/get_node_chain_config")).await;
    assert_eq!(again["contract_address"], config["contract_address"]);
    let rpc_url = again["rpc_url"].as_str().unwrap();
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().unwrap());
    let value = NodeConfig::new(node_config, &provider)
        .getConfig("timeout_ms".into())
        .call()
        .await
        .unwrap();
    assert_eq!(
        value, "1234",
        "a dev-chain write did not survive the restart"
    );
    let payers_again = get_json(&node.url("/core/v1/get_api_payers")).await;
    assert_eq!(payers_again.as_array().unwrap().len(), 8);
    assert_eq!(
        payers_again[0]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        payers[0]
    );
    let head = wait_for_mirror(&node).await;
    node.stop().await;

    // A deleted store is rebuilt from the deployment block, up to the same head.
    std::fs::remove_dir_all(dir.path().join("store")).unwrap();
    let node = NodeProcess::dev(dir.path(), &[]).await;
    assert_eq!(wait_for_mirror(&node).await, head);
    node.stop().await;
}

/// Waits until `/health` reports the mirror at the chain head; returns that block.
async fn wait_for_mirror(node: &NodeProcess) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let health = get_json(&node.url("/health")).await;
        assert_eq!(health["status"], "ok", "{health}");
        let (mirror, head) = (
            health["mirror_block"].as_u64().unwrap(),
            health["chain_head"].as_u64().unwrap(),
        );
        if mirror == head && head > 0 {
            return head;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mirror stuck at {mirror} of {head}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Sends a POST whose headers announce `content_length` bytes, without the body, and returns the
/// status and body of the answer (what a server that refuses early sends).
async fn raw_post_headers_only(base_url: &str, path: &str, content_length: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {content_length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await
    .expect("no answer to an oversized request")
    .unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[tokio::test]
async fn info_endpoints_and_transport_rules() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[]).await;
    let client = http();

    let version = get_json(&node.url("/core/v1/version")).await;
    assert_eq!(version["name"], "lit-node");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert!(!version["commit_version"].as_str().unwrap().is_empty());
    let modules = version["submodule_versions"].as_array().unwrap();
    assert!(modules
        .iter()
        .any(|m| m[0] == "contracts" && m[1].as_str().unwrap().len() == 12));

    let keys = get_json(&node.url("/core/v1/get_chain_config_keys")).await;
    let keys: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for expected in [
        "timeout_ms",
        "memory_limit_mb",
        "max_code_length",
        "max_fetch_count",
    ] {
        assert!(keys.contains(&expected), "{expected} missing from {keys:?}");
    }
    let config = get_json(&node.url("/core/v1/get_node_chain_config")).await;
    assert!(
        config.get("rpc_url").is_none(),
        "rpc_url is published only when enabled"
    );

    // The mirror catches up with the dev chain (deployment and payer registration events).
    wait_for_mirror(&node).await;
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("lit_node_mirror_lag_blocks 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lit_node_mirror_applied_block"),
        "{metrics}"
    );
    // Request metrics are labelled by route; payer balances are exported.
    assert!(
        metrics.contains(
            r#"lit_node_http_requests_total{endpoint="/core/v1/version",method="GET",status="200"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("lit_node_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let metrics = node.metrics().await;
        if metrics.contains("lit_node_payer_balance_wei{payer=") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "payer balances not exported"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Request ids: a fresh UUID v4 every time, even when the client sends its own.
    let first = client
        .get(node.url("/core/v1/version"))
        .header("x-request-id", "client-chosen")
        .send()
        .await
        .unwrap();
    let second = client
        .get(node.url("/core/v1/version"))
        .send()
        .await
        .unwrap();
    let id1 = first.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let id2 = second.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(id1, id2);
    for id in [&id1, &id2] {
        let uuid = uuid::Uuid::parse_str(id).expect("x-request-id is a UUID");
        assert_eq!(uuid.get_version_num(), 4);
    }
    assert!(first.headers().get("x-correlation-id").is_none());

    // Correlation id echoed when non-empty, absent when empty.
    let echoed = client
        .get(node.url("/core/v1/version"))
        .header("x-correlation-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-correlation-id"], "trace-42");
    let empty = client
        .get(node.url("/core/v1/version"))
        .header("x-correlation-id", "")
        .send()
        .await
        .unwrap();
    assert!(empty.headers().get("x-correlation-id").is_none());

    // CORS preflight from any origin, with the API's headers allowed and ids exposed.
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            node.url("/core/v1/get_lit_action_ipfs_id"),
        )
        .header("origin", "https://dashboard.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-api-key,content-type,x-correlation-id,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in [
        "x-api-key",
        "authorization",
        "content-type",
        "x-correlation-id",
    ] {
        assert!(allowed.contains(header), "{header} not allowed: {allowed}");
    }
    let simple = client
        .get(node.url("/core/v1/version"))
        .header("origin", "https://dashboard.example")
        .send()
        .await
        .unwrap();
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("x-correlation-id"),
        "{exposed}"
    );

    // Errors produced outside handlers share the JSON error shape and carry a request id.
    let missing = client
        .get(node.url("/core/v1/no_such_endpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("/core/v1/no_such_endpoint"));

    let wrong_method = client
        .get(node.url("/core/v1/get_lit_action_ipfs_id"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: Value = wrong_method.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");

    // A body over 10 MiB is refused with 413 before it is read: send only the headers.
    let (status, body) = raw_post_headers_only(
        &node.base_url,
        "/core/v1/get_lit_action_ipfs_id",
        10 * 1024 * 1024 + 1,
    )
    .await;
    assert_eq!(status, 413);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "payload_too_large");
    assert!(body["error"].as_str().unwrap().contains("10 MiB"));
    // Exactly at the limit is accepted (and then judged on content).
    let at_limit = format!("\"{}\"", "a".repeat(10 * 1024 * 1024 - 2));
    let response = client
        .post(node.url("/core/v1/get_lit_action_ipfs_id"))
        .body(at_limit)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    node.stop().await;
}

#[tokio::test]
async fn ipfs_id_endpoint_matches_the_spec_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[]).await;
    let client = http();
    let vectors = [
        (
            "hello world",
            "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD",
        ),
        (
            "hello world\n",
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        ),
        ("", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
        (
            r#"async function main() { return "hello"; }"#,
            "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6",
        ),
    ];
    for (code, cid) in vectors {
        let response = client
            .post(node.url("/core/v1/get_lit_action_ipfs_id"))
            .json(&code)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            Value::String(cid.into()),
            "{code:?}"
        );
    }
    // Curl without a Content-Type still works: the body is JSON whatever the header says.
    let no_content_type = client
        .post(node.url("/core/v1/get_lit_action_ipfs_id"))
        .body("\"hello world\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_content_type.json::<Value>().await.unwrap(),
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
    );

    for bad in ["{\"code\": \"x\"}", "42", "not json", ""] {
        let response = client
            .post(node.url("/core/v1/get_lit_action_ipfs_id"))
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "body {bad:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_body");
        assert!(!body["error"].as_str().unwrap().is_empty());
    }
    node.stop().await;
}

#[tokio::test]
async fn start_failures_exit_non_zero_with_a_clear_message() {
    // Port taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let exited =
        expect_start_failure(&["dev", "--listen", &addr, "--data-dir", data_dir], &[]).await;
    assert_eq!(exited.code, Some(1));
    assert!(
        exited.stderr.contains("already in use"),
        "{}",
        exited.stderr
    );

    // anvil missing.
    let exited = expect_start_failure(
        &["dev", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        &[("LIT_NODE_DEV__ANVIL_PATH", "/nonexistent/anvil")],
    )
    .await;
    assert_eq!(exited.code, Some(1));
    assert!(
        exited
            .stderr
            .contains("anvil not found at /nonexistent/anvil"),
        "{}",
        exited.stderr
    );

    // A typo in configuration is named, not ignored.
    let exited = expect_start_failure(
        &["dev", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        &[("LIT_NODE_CHAIN__PAYER_CONT", "3")],
    )
    .await;
    assert_eq!(exited.code, Some(1));
    assert!(exited.stderr.contains("payer_cont"), "{}", exited.stderr);

    // serve without a chain says what it needs.
    let exited = expect_start_failure(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        &[],
    )
    .await;
    assert_eq!(exited.code, Some(1));
    assert!(exited.stderr.contains("--rpc-url"), "{}", exited.stderr);
}

#[tokio::test]
async fn dev_chain_does_not_outlive_a_killed_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[PUBLISH_RPC]).await;
    let config = get_json(&node.url("/core/v1/get_node_chain_config")).await;
    let rpc_url = config["rpc_url"].as_str().unwrap().to_string();
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().unwrap());
    provider
        .get_block_number()
        .await
        .expect("dev chain answers while the node runs");

    node.kill().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while provider.get_block_number().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "anvil outlived its SIGKILLed node"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // anvil saved its state on the way out: the same data dir starts again, same contracts.
    let node = NodeProcess::dev(dir.path(), &[]).await;
    let again = get_json(&node.url("/core/v1/get_node_chain_config")).await;
    assert_eq!(again["contract_address"], config["contract_address"]);
    node.stop().await;
}

#[tokio::test]
async fn health_is_503_while_the_mirror_lags_beyond_its_bound() {
    // A mirror that reads one block per request and may lag 5 blocks, on a chain that then
    // mines 1500 blocks at once.
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(
        dir.path(),
        &[
            ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
            ("LIT_NODE_MIRROR__RANGE_BLOCKS", "1"),
            ("LIT_NODE_MIRROR__MAX_LAG_BLOCKS", "5"),
        ],
    )
    .await;
    wait_for_mirror(&node).await;
    let config = get_json(&node.url("/core/v1/get_node_chain_config")).await;
    let provider =
        ProviderBuilder::new().connect_http(config["rpc_url"].as_str().unwrap().parse().unwrap());
    alloy::providers::ext::AnvilApi::anvil_mine(&provider, Some(1500), None)
        .await
        .unwrap();

    let health = |url: String| async move {
        let response = http().get(url).send().await.unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let stale = loop {
        let (status, body) = health(node.url("/health")).await;
        if status == 503 {
            break body;
        }
        assert_eq!((status, &body["status"]), (200, &Value::from("ok")));
        assert!(
            std::time::Instant::now() < deadline,
            "/health never reported the lag: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(stale["status"], "unhealthy", "{stale}");
    let (mirror, head) = (
        stale["mirror_block"].as_u64().unwrap(),
        stale["chain_head"].as_u64().unwrap(),
    );
    assert!(head > mirror + 5, "{stale}");
    let reason = stale["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("{} blocks behind", head - mirror)) && reason.contains("bound 5"),
        "{reason}"
    );
    // Caught up, it is healthy again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (status, body) = health(node.url("/health")).await;
        if status == 200 {
            let lag = body["chain_head"].as_u64().unwrap() - body["mirror_block"].as_u64().unwrap();
            assert!(lag <= 5, "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mirror never caught up: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    node.stop().await;
}
