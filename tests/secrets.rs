//! Secrets never leave the process (issue 14): the provider key an RPC/WebSocket URL carries never
//! reaches a response, `/health`, `/metrics` or a log line; the root secret is gone from the
//! environment once read and never reaches anvil; and neither API keys nor derived keys end up in
//! the node's logs or anywhere in its data dir. Real anvil, real forge deployment, real binary.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use common::{api, expect_start_failure, forge_deploy, http, payers_of, start_anvil, NodeProcess};
use serde_json::{json, Value};

/// What a provider key looks like in a URL; must never be shown.
const PROVIDER_KEY: &str = "SECRETKEY";
const ROOT_SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

/// Polls `check` every 100 ms until it is true; panics with `what` after `limit`.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn log_lines(node: &NodeProcess) -> Vec<String> {
    node.stderr_lines.lock().unwrap().clone()
}

/// `GET path` (outside `/core/v1`): status and body text.
async fn get_text(node: &NodeProcess, path: &str) -> (u16, String) {
    let response = http().get(node.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Gives the node's payers gas money on `anvil` (the deploy script only registers them).
async fn fund_payers(rpc_url: &str, payers: &Value) {
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().unwrap());
    let addresses = payers["payers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(std::iter::once(&payers["admin_payer"]));
    for address in addresses {
        let address: Address = address.as_str().unwrap().parse().unwrap();
        provider
            .raw_request::<_, ()>(
                "anvil_setBalance".into(),
                (address, U256::from(10u128.pow(21))),
            )
            .await
            .unwrap();
    }
}

/// `http://127.0.0.1:PORT` → the same endpoint with the provider key where `place` puts it.
fn with_provider_key(endpoint: &str, scheme: &str, place: &str) -> String {
    let authority = endpoint.strip_prefix("http://").unwrap();
    match place {
        "query" => format!("{scheme}://{authority}/?apikey={PROVIDER_KEY}"),
        "userinfo" => format!("{scheme}://user:{PROVIDER_KEY}@{authority}/"),
        other => unreachable!("{other}"),
    }
}

/// Everything an unauthenticated or authenticated client, a health probe and a metrics scraper
/// see from a `serve` node whose RPC and WebSocket URLs carry a provider key, while the chain is up
/// and after it went down, plus the node's log lines.
async fn observe_a_node_losing_its_chain(place: &str, dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut seen = Vec::new();
    let anvil = start_anvil(31337);
    let anvil_endpoint = anvil.endpoint();
    let payers = payers_of(ROOT_SECRET, 2).await;
    let deployment_path = dir.join("deployment.json");
    forge_deploy(&anvil.endpoint(), &payers, &deployment_path).await;
    fund_payers(&anvil.endpoint(), &payers).await;

    let rpc_url = with_provider_key(&anvil.endpoint(), "http", place);
    let ws_url = with_provider_key(&anvil.endpoint(), "ws", place);
    let data_dir = dir.join("data");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rpc-url",
        &rpc_url,
        "--deployment",
        deployment_path.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];
    let endpoint = anvil_endpoint.strip_suffix('/').unwrap_or(&anvil_endpoint);
    // The operator may name the URL to publish; without one, the RPC's endpoint is published.
    let public_rpc_url = format!("{endpoint}/?network=dev");
    let mut envs = vec![
        ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
        ("LIT_NODE_CHAIN__PAYER_COUNT", "2"),
        ("LIT_NODE_CHAIN__WS_URL", ws_url.as_str()),
        ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
        ("LIT_NODE_MIRROR__POLL_INTERVAL_MS", "200"),
        ("LIT_NODE_MIRROR__MAX_RPC_SILENCE_SECS", "2"),
        ("LIT_NODE_LOG", "debug"),
    ];
    if place == "userinfo" {
        envs.push(("LIT_NODE_CHAIN__PUBLIC_RPC_URL", public_rpc_url.as_str()));
    }
    let node = NodeProcess::start(&args, &envs)
        .await
        .unwrap_or_else(|e| panic!("serve did not start: {e:?}"));

    // It serves: the published RPC URL still reaches the chain, and writes go through.
    let (status, config) = get_text(&node, "/core/v1/get_node_chain_config").await;
    assert_eq!(status, 200, "{config}");
    let published: Value = serde_json::from_str(&config).unwrap();
    let published_rpc = published["rpc_url"].as_str().unwrap().to_string();
    match place {
        "userinfo" => assert_eq!(published_rpc, public_rpc_url),
        _ => assert_eq!(published_rpc, endpoint),
    }
    seen.push(config);
    let created = common::api_ok(
        &node.base_url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "a", "account_description": ""}),
    )
    .await;
    let key = created["api_key"].as_str().unwrap().to_string();
    seen.push(created.to_string());
    let chain = ProviderBuilder::new().connect_http(published_rpc.parse().unwrap());
    assert_eq!(chain.get_chain_id().await.unwrap(), 31337);
    wait_until(
        Duration::from_secs(30),
        "the WebSocket was tried",
        || async {
            log_lines(&node)
                .iter()
                .any(|l| l.contains("by subscription") || l.contains("by polling"))
        },
    )
    .await;

    // The chain goes down.
    drop(anvil);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get_text(&node, "/health").await;
        seen.push(body);
        if status == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/health did not report the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = api(
        &node.base_url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "b", "account_description": ""}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    seen.push(body.to_string());
    let (status, body) = api(
        &node.base_url,
        "POST",
        "add_group",
        Some(&key),
        json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    seen.push(body.to_string());
    let (status, body) = api(
        &node.base_url,
        "GET",
        "create_wallet",
        Some(&key),
        Value::Null,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    seen.push(body.to_string());
    // The mirror keeps retrying (and logging) meanwhile.
    wait_until(
        Duration::from_secs(60),
        "the mirror retried 3 times",
        || async {
            log_lines(&node)
                .iter()
                .filter(|l| l.contains("mirror sync failed"))
                .count()
                >= 3
        },
    )
    .await;
    seen.push(get_text(&node, "/health").await.1);
    seen.push(get_text(&node, "/metrics").await.1);
    seen.push(get_text(&node, "/core/v1/get_node_chain_config").await.1);
    let logs = log_lines(&node);
    node.kill().await;

    // Starting again with the chain down fails, naming the endpoint but not its key.
    let exited = expect_start_failure(&args, &envs).await;
    assert_eq!(exited.code, Some(1));
    assert!(
        exited
            .stderr
            .contains(&format!("cannot reach the chain RPC at {endpoint}")),
        "{}",
        exited.stderr
    );
    let mut logs = logs;
    logs.extend(exited.stderr.lines().map(str::to_string));
    (seen, logs)
}

#[tokio::test]
async fn a_provider_key_in_the_rpc_url_never_leaves_the_node() {
    for place in ["query", "userinfo"] {
        let dir = tempfile::tempdir().unwrap();
        let (seen, logs) = observe_a_node_losing_its_chain(place, dir.path()).await;
        assert!(logs.len() > 20, "expected debug logs, got {logs:?}");
        for text in seen.iter().chain(&logs) {
            assert!(
                !text.contains(PROVIDER_KEY),
                "provider key (in the URL's {place}) shown: {text}"
            );
        }
    }
}

/// Process ids of the children of `pid` (every thread's children).
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            children.extend(text.split_whitespace().map(|c| c.parse::<u32>().unwrap()));
        }
    }
    children
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_root_secret_leaves_the_environment_and_never_reaches_anvil() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(
        dir.path(),
        &[
            ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
            ("LIT_NODE_CHAIN__PAYER_COUNT", "2"),
        ],
    )
    .await;
    // The secret from the environment is the one in use.
    let payers = payers_of(ROOT_SECRET, 2).await;
    let (_, in_use) = api(&node.base_url, "GET", "get_api_payers", None, Value::Null).await;
    assert_eq!(in_use, payers["payers"]);

    let anvils: Vec<u32> = children_of(node.pid())
        .into_iter()
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/comm"))
                .is_ok_and(|comm| comm.trim() == "anvil")
        })
        .collect();
    assert_eq!(anvils.len(), 1, "expected one anvil child of the node");
    let anvil_env = std::fs::read(format!("/proc/{}/environ", anvils[0])).unwrap();
    assert!(!anvil_env.is_empty(), "anvil's environment is readable");
    assert!(
        !contains(&anvil_env, ROOT_SECRET.as_bytes()),
        "anvil inherited the root secret"
    );
    assert!(
        !contains(&anvil_env, b"LIT_NODE_"),
        "anvil inherited the node's settings: {}",
        String::from_utf8_lossy(&anvil_env)
    );
    let own_env = std::fs::read(format!("/proc/{}/environ", node.pid())).unwrap();
    assert!(
        !contains(&own_env, ROOT_SECRET.as_bytes()),
        "the root secret is still in the node's environment"
    );
    node.stop().await;
}

/// One action using every kind of key: the wallet's private key, a signature, an encryption and
/// the action's own key.
const KEY_ACTION: &str = r#"async function main({ pkpId }) {
  const privateKey = await Lit.Actions.getPrivateKey({ pkpId });
  const signature = await Lit.Actions.signMessage({ pkpId, message: "hello" });
  const sealed = await Lit.Actions.Encrypt({ pkpId, message: "attack at dawn" });
  const opened = await Lit.Actions.Decrypt({ pkpId, ciphertext: sealed });
  const actionKey = await Lit.Actions.getLitActionPrivateKey();
  console.log("signed", signature);
  return { privateKey, signature, sealed, opened, actionKey };
}"#;

/// The forms a secret could be written in: hex (lower and upper case, with and without `0x`) and
/// raw bytes.
fn forms(secret_hex: &str) -> Vec<Vec<u8>> {
    let digits = secret_hex.trim_start_matches("0x");
    vec![
        digits.to_lowercase().into_bytes(),
        digits.to_uppercase().into_bytes(),
        hex::decode(digits).unwrap(),
    ]
}

/// Every key and value of every column family of the RocksDB store at `path`.
fn store_contents(path: &Path) -> Vec<Vec<u8>> {
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).unwrap();
    let db =
        rocksdb::DB::open_cf_for_read_only(&rocksdb::Options::default(), path, &families, false)
            .unwrap();
    let mut contents = Vec::new();
    for family in &families {
        let handle = db.cf_handle(family).unwrap();
        for entry in db.iterator_cf(handle, rocksdb::IteratorMode::Start) {
            let (key, value) = entry.unwrap();
            contents.push(key.to_vec());
            contents.push(value.to_vec());
        }
    }
    assert!(contents.len() > 20, "the store holds the mirrored state");
    contents
}

/// Every file under `dir`, recursively: (path, bytes).
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    files
}

#[tokio::test]
async fn no_api_key_or_derived_key_in_the_logs_or_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(
        dir.path(),
        &[
            ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
            ("LIT_NODE_CHAIN__PAYER_COUNT", "2"),
            ("LIT_NODE_LOG", "debug"),
        ],
    )
    .await;
    let base = node.base_url.clone();
    let mut api_keys = Vec::new();
    let mut private_keys = Vec::new();

    let created = common::api_ok(
        &base,
        "POST",
        "new_account",
        None,
        json!({"account_name": "a", "account_description": ""}),
    )
    .await;
    let key = created["api_key"].as_str().unwrap().to_string();
    let first_wallet = created["wallet_address"].as_str().unwrap().to_string();
    api_keys.push(key.clone());
    let second_wallet = common::api_ok(&base, "GET", "create_wallet", Some(&key), Value::Null)
        .await["wallet_address"]
        .as_str()
        .unwrap()
        .to_string();
    let action_cid = lit_node::cid::cid_v0(KEY_ACTION.as_bytes());
    common::api_ok(
        &base,
        "POST",
        "add_action",
        Some(&key),
        json!({"action_ipfs_cid": action_cid, "name": "keys", "description": "", "code": KEY_ACTION}),
    )
    .await;
    let cid_hash = format!("{:#x}", alloy::primitives::keccak256(action_cid.as_bytes()));
    let group = common::api_ok(
        &base,
        "POST",
        "add_group",
        Some(&key),
        json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [first_wallet, second_wallet], "cid_hashes_permitted": [cid_hash]}),
    )
    .await;
    let group: u64 = group["group_id"].as_str().unwrap().parse().unwrap();
    let usage_key = common::api_ok(
        &base,
        "POST",
        "add_usage_api_key",
        Some(&key),
        json!({"name": "u", "description": "", "can_create_groups": false, "can_delete_groups": false,
               "can_create_pkps": false, "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [],
               "remove_pkp_from_groups": [], "execute_in_groups": [group]}),
    )
    .await["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    api_keys.push(usage_key.clone());

    for (api_key, wallet) in [(&key, &first_wallet), (&usage_key, &second_wallet)] {
        let run = common::api_ok(
            &base,
            "POST",
            "lit_action",
            Some(api_key),
            json!({"ipfs_id": action_cid, "js_params": {"pkpId": wallet}}),
        )
        .await;
        assert_eq!(run["has_error"], false, "{run}");
        assert_eq!(run["response"]["opened"], "attack at dawn", "{run}");
        for field in ["privateKey", "actionKey"] {
            private_keys.push(run["response"][field].as_str().unwrap().to_string());
        }
    }
    // Keys a client sent that the node does not know, in both headers it reads.
    let unknown = "ab".repeat(32);
    api_keys.push(unknown.clone());
    let (status, _) = api(&base, "GET", "create_wallet", Some(&unknown), Value::Null).await;
    assert_eq!(status, 401);
    let unknown_bearer = "cd".repeat(32);
    api_keys.push(unknown_bearer.clone());
    let response = http()
        .get(node.url("/core/v1/create_wallet"))
        .bearer_auth(&unknown_bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let logs = log_lines(&node);
    node.stop().await;

    // Keys derived from the root secret that never leave the node at all: the payers', and the
    // wallets' encryption keys.
    let deriver = lit_node::keys::KeyDeriver::new(
        &lit_node::keys::RootSecret::from_hex(ROOT_SECRET, "test").unwrap(),
    );
    let mut derived: Vec<String> = (0..2)
        .map(|i| hex::encode(deriver.payer_key(i).to_bytes()))
        .collect();
    derived.push(hex::encode(deriver.admin_payer_key().to_bytes()));
    let store_path = dir.path().join("store");
    {
        let store = lit_node::store::Store::open(&store_path).unwrap();
        for wallet in [&first_wallet, &second_wallet] {
            let record = store.wallet(&wallet.parse().unwrap()).unwrap().unwrap();
            derived.push(hex::encode(
                deriver
                    .wallet_encryption_key(&record.derivation_id.0)
                    .as_ref(),
            ));
        }
    }

    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    let named = |kind: &str, value: &String| (format!("{kind} {value}"), forms(value));
    for (name, forms) in api_keys
        .iter()
        .map(|k| named("API key", k))
        .chain(private_keys.iter().map(|k| named("private key", k)))
        .chain(derived.iter().map(|k| named("derived key", k)))
        .chain(std::iter::once(named(
            "root secret",
            &ROOT_SECRET.to_string(),
        )))
    {
        secrets.extend(forms.into_iter().map(|form| (name.clone(), form)));
    }

    assert!(logs.len() > 50, "expected debug logs, got {}", logs.len());
    for line in &logs {
        for (name, form) in &secrets {
            assert!(
                !contains(line.as_bytes(), form),
                "{name} in the log: {line}"
            );
        }
    }
    for value in store_contents(&store_path) {
        for (name, form) in &secrets {
            assert!(!contains(&value, form), "{name} in the store");
        }
    }
    let files = files_under(dir.path());
    assert!(files
        .iter()
        .any(|(path, _)| path.ends_with("anvil-state.json")));
    assert!(
        files.iter().any(|(path, _)| path.ends_with(".log")),
        "the store's WAL is scanned"
    );
    for (path, bytes) in &files {
        for (name, form) in &secrets {
            assert!(!contains(bytes, form), "{name} in {path}");
        }
    }
}
