//! `lit-node serve` against a chain deployed by `script/Deploy.s.sol` (real forge, real anvil):
//! the node publishes that deployment, its payers are the ones the script registered, and it
//! refuses a data dir or deployment file that belongs to another chain.

mod common;

use std::path::Path;

use alloy::primitives::Address;
use alloy::providers::ProviderBuilder;
use common::{expect_start_failure, forge_deploy, http, payers_of, start_anvil, NodeProcess};
use lit_node::chain::bindings::NodeConfig;
use serde_json::Value;

const ROOT_SECRET: &str = "1111111111111111111111111111111111111111111111111111111111111111";
#[tokio::test]
async fn serve_publishes_a_forge_deployment_and_refuses_other_chains() {
    let dir = tempfile::tempdir().unwrap();
    let payers = payers_of(ROOT_SECRET, 3).await;
    assert_eq!(payers["payers"].as_array().unwrap().len(), 3);

    let anvil = start_anvil(31338);
    let deployment_path = dir.path().join("deployment-a.json");
    let deployment = forge_deploy(&anvil.endpoint(), &payers, &deployment_path).await;
    assert_eq!(deployment["chain_id"], 31338);

    let data_dir = dir.path().join("node-a");
    let envs = [
        ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
        ("LIT_NODE_CHAIN__PAYER_COUNT", "3"),
    ];
    let serve_args = |rpc: &str, deployment: &Path, data: &Path| -> Vec<String> {
        vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--rpc-url".into(),
            rpc.into(),
            "--deployment".into(),
            deployment.to_str().unwrap().into(),
            "--data-dir".into(),
            data.to_str().unwrap().into(),
        ]
    };
    let args = serve_args(&anvil.endpoint(), &deployment_path, &data_dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::start(&args, &envs)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let config: Value = http()
        .get(node.url("/core/v1/get_node_chain_config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["chain_id"], 31338);
    let published: Address = config["contract_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let deployed: Address = deployment["contract_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(published, deployed);

    let api_payers: Value = http()
        .get(node.url("/core/v1/get_api_payers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api_payers, payers["payers"]);
    let admin: Value = http()
        .get(node.url("/core/v1/get_admin_api_payer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin, payers["admin_payer"]);

    // The script registered exactly these payers on chain.
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint().parse().unwrap());
    let node_config: Address = deployment["contracts"]["NodeConfig"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let listed = NodeConfig::new(node_config, &provider)
        .payers()
        .call()
        .await
        .unwrap();
    let expected: Vec<Address> = payers["payers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed, expected);
    node.stop().await;

    // Another chain: the data dir of chain A is refused.
    let other = start_anvil(31339);
    let other_path = dir.path().join("deployment-b.json");
    forge_deploy(&other.endpoint(), &payers, &other_path).await;
    let other_dir = serve_args(&other.endpoint(), &other_path, &data_dir);
    expect_refusal(&other_dir, &envs, "belongs to chain id 31338").await;

    // A deployment file for chain A against chain B's RPC is refused.
    let mismatch = serve_args(
        &other.endpoint(),
        &deployment_path,
        &dir.path().join("node-c"),
    );
    expect_refusal(&mismatch, &envs, "serves chain id 31339").await;

    // serve never invents a root secret.
    let no_secret = serve_args(
        &anvil.endpoint(),
        &deployment_path,
        &dir.path().join("node-d"),
    );
    expect_refusal(&no_secret, &[], "no root secret").await;
}

/// Runs `lit-node ARGS`, expecting exit code 1 with `needle` in its error output.
async fn expect_refusal(args: &[String], envs: &[(&str, &str)], needle: &str) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let exited = expect_start_failure(&args, envs).await;
    assert_eq!(exited.code, Some(1));
    assert!(
        exited.stderr.contains(needle),
        "expected {needle:?} in: {}",
        exited.stderr
    );
}

/// Node A (`dev`, in `dir/a`) runs a chain and funds the payers of [`ROOT_SECRET`]; node B
/// (`serve`, in `dir/b`, with `extra` settings) serves that chain with the same root secret.
/// Returns A, B and the chain's RPC URL.
async fn serve_beside_dev(
    dir: &Path,
    extra: &[(&str, &str)],
) -> (NodeProcess, NodeProcess, String) {
    let envs = [
        ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
        ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
    ];
    let a = NodeProcess::dev(&dir.join("a"), &envs).await;
    let (_, config) = common::api(
        &a.base_url,
        "GET",
        "get_node_chain_config",
        None,
        Value::Null,
    )
    .await;
    let rpc_url = config["rpc_url"].as_str().unwrap().to_string();
    let deployment = dir.join("a/deployment.json");
    let data_b = dir.join("b");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rpc-url",
        &rpc_url,
        "--deployment",
        deployment.to_str().unwrap(),
        "--data-dir",
        data_b.to_str().unwrap(),
    ];
    let mut b_envs = vec![envs[0]];
    b_envs.extend_from_slice(extra);
    let b = NodeProcess::start(&args, &b_envs)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    (a, b, rpc_url)
}

#[tokio::test]
async fn a_write_with_the_chain_gone_is_a_503_and_reads_go_on() {
    // Node A (dev) runs the chain; node B serves it with the same root secret (same payers).
    let dir = tempfile::tempdir().unwrap();
    let (a, b, rpc_url) = serve_beside_dev(dir.path(), &[]).await;
    let (key, _) = common::new_account(&b.base_url, "n").await;

    // A stops, and its anvil with it.
    a.stop().await;
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while alloy::providers::Provider::get_block_number(&provider)
        .await
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the chain is still up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let (status, body) = common::api(
        &b.base_url,
        "POST",
        "add_group",
        Some(&key),
        serde_json::json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("chain_unavailable")),
        "{body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("retry"),
        "the message says what to do: {body}"
    );
    // Reads are served from the mirror meanwhile.
    let (status, groups) = common::api(
        &b.base_url,
        "GET",
        "list_groups?page_number=0&page_size=10",
        Some(&key),
        Value::Null,
    )
    .await;
    assert_eq!((status, groups), (200, serde_json::json!([])));
    b.stop().await;
}

#[tokio::test]
async fn a_write_is_mirrored_at_once_without_waiting_for_a_poll() {
    // Node A (dev) runs the chain and funds the payers; node B serves it with the same root secret,
    // without a WebSocket and with a poll interval far beyond the writer's deadline (5 s). A write
    // on B succeeds only if seeing its receipt wakes B's mirror to apply that block at once.
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = serve_beside_dev(
        dir.path(),
        &[("LIT_NODE_MIRROR__POLL_INTERVAL_MS", "600000")],
    )
    .await;
    let (key, _) = common::new_account(&b.base_url, "n").await;
    for name in ["g1", "g2", "g3"] {
        let started = std::time::Instant::now();
        common::api_ok(
            &b.base_url,
            "POST",
            "add_group",
            Some(&key),
            serde_json::json!({"group_name": name, "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
        )
        .await;
        eprintln!("add_group answered in {:?}", started.elapsed());
    }
    let groups = common::api_ok(
        &b.base_url,
        "GET",
        "list_groups?page_number=0&page_size=10",
        Some(&key),
        Value::Null,
    )
    .await;
    assert_eq!(groups.as_array().unwrap().len(), 3, "{groups}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn two_nodes_sharing_payers_write_concurrently_without_an_error() {
    // A (dev) and B (serve) share a root secret, so they send from the same payers, each reading
    // the payer's nonce from the chain; both gather writes into batches and keep several
    // transactions in flight per payer. 64 writes at once, half through each node.
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = serve_beside_dev(dir.path(), &[]).await;
    let mut accounts = Vec::new();
    for (n, node) in [&a, &b, &a, &b].into_iter().enumerate() {
        accounts.push(
            common::new_account(&node.base_url, &format!("n{n}"))
                .await
                .0,
        );
    }
    let writes: Vec<_> = (0..64)
        .map(|i| {
            let url = if i % 2 == 0 { &a.base_url } else { &b.base_url }.clone();
            let key = accounts[i % 4].clone();
            tokio::spawn(async move {
                let body = serde_json::json!({"group_name": format!("g{i}"), "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []});
                common::api(&url, "POST", "add_group", Some(&key), body).await
            })
        })
        .collect();
    let mut failures = Vec::new();
    for (i, write) in writes.into_iter().enumerate() {
        let (status, body) = write.await.unwrap();
        if status != 200 {
            failures.push((i, status, body));
        }
    }
    assert!(failures.is_empty(), "writes failed: {failures:?}");
    // Read-your-writes on the node that answered, and both mirrors end with every group.
    for node in [&a, &b] {
        for key in &accounts {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let groups = common::api_ok(
                    &node.base_url,
                    "GET",
                    "list_groups?page_number=0&page_size=100",
                    Some(key),
                    Value::Null,
                )
                .await;
                if groups.as_array().unwrap().len() == 16 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{groups}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    b.stop().await;
    a.stop().await;
}
