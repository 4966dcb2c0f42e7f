//! Payer balances against `lit-node dev` (real anvil): a payer that cannot pay for a write is
//! taken out of rotation until it is funded again, so writes go to the other payers instead of
//! failing; and the admin payer tops up payers that fall below the configured threshold.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use common::{api_ok, metric, NodeProcess};
use serde_json::{json, Value};

const ETH: u128 = 1_000_000_000_000_000_000;

struct Chain {
    node: NodeProcess,
    provider: alloy::providers::DynProvider,
    payers: Vec<Address>,
}

async fn start(dir: &std::path::Path, extra: &[(&str, &str)]) -> Chain {
    let mut envs = vec![
        ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
        ("LIT_NODE_CHAIN__PAYER_COUNT", "2"),
        ("LIT_NODE_CHAIN__BALANCE_CHECK_INTERVAL_MS", "200"),
    ];
    envs.extend_from_slice(extra);
    let node = NodeProcess::dev(dir, &envs).await;
    let config = api_ok(
        &node.base_url,
        "GET",
        "get_node_chain_config",
        None,
        Value::Null,
    )
    .await;
    let provider = ProviderBuilder::new()
        .connect_http(config["rpc_url"].as_str().unwrap().parse().unwrap())
        .erased();
    let payers = api_ok(&node.base_url, "GET", "get_api_payers", None, Value::Null).await;
    let payers = payers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().parse().unwrap())
        .collect();
    Chain {
        node,
        provider,
        payers,
    }
}

impl Chain {
    async fn set_balance(&self, payer: Address, wei: u128) {
        self.provider
            .raw_request::<_, Value>("anvil_setBalance".into(), (payer, U256::from(wei)))
            .await
            .unwrap();
    }

    async fn balance(&self, account: Address) -> u128 {
        self.provider
            .get_balance(account)
            .await
            .unwrap()
            .to::<u128>()
    }

    async fn nonce(&self, account: Address) -> u64 {
        self.provider.get_transaction_count(account).await.unwrap()
    }

    /// Waits until the node's metric `name` for `payer` is `value`.
    async fn wait_for_metric(&self, name: &str, payer: Address, value: f64) {
        let sample = format!("{name}{{payer=\"{payer:#x}\"}}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if metric(&self.node.metrics().await, &sample) == Some(value) {
                return;
            }
            assert!(Instant::now() < deadline, "{sample} never became {value}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn add_group(url: &str, key: &str, name: &str) -> (u16, Value) {
    common::api(
        url,
        "POST",
        "add_group",
        Some(key),
        json!({"group_name": name, "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
    )
    .await
}

#[tokio::test]
async fn a_payer_that_runs_dry_is_out_of_rotation_until_funded() {
    let dir = tempfile::tempdir().unwrap();
    let chain = start(dir.path(), &[]).await;
    let url = chain.node.base_url.clone();
    let (key, _) = common::new_account(&url, "d").await;
    let dry = chain.payers[0];
    chain.set_balance(dry, 1_000).await;
    chain.wait_for_metric("lit_node_payer_dry", dry, 1.0).await;

    // Every write still succeeds, none from the dry payer (the pool would hand it out first).
    let nonce = chain.nonce(dry).await;
    for i in 0..6 {
        let (status, answer) = add_group(&url, &key, &format!("g{i}")).await;
        assert_eq!(status, 200, "write {i}: {answer}");
    }
    assert_eq!(
        chain.nonce(dry).await,
        nonce,
        "the dry payer sent a transaction"
    );

    // Funded again, it is back in rotation: concurrent writes use both payers.
    chain.set_balance(dry, 10 * ETH).await;
    chain.wait_for_metric("lit_node_payer_dry", dry, 0.0).await;
    let writes = (0..6).map(|i| {
        let (url, key) = (url.clone(), key.clone());
        async move { add_group(&url, &key, &format!("h{i}")).await }
    });
    for (status, answer) in futures_util::future::join_all(writes).await {
        assert_eq!(status, 200, "{answer}");
    }
    assert!(
        chain.nonce(dry).await > nonce,
        "the funded payer was not used again"
    );
    chain.node.stop().await;
}

#[tokio::test]
async fn the_admin_payer_tops_up_payers_below_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let chain = start(
        dir.path(),
        &[
            ("LIT_NODE_CHAIN__TOP_UP_BELOW_GWEI", "1000000000"), // 1 ETH
            ("LIT_NODE_CHAIN__TOP_UP_AMOUNT_GWEI", "5000000000"), // 5 ETH
            ("LIT_NODE_LOG", "info"),
        ],
    )
    .await;
    let admin: Address = api_ok(
        &chain.node.base_url,
        "GET",
        "get_admin_api_payer",
        None,
        Value::Null,
    )
    .await
    .as_str()
    .unwrap()
    .parse()
    .unwrap();
    let admin_before = chain.balance(admin).await;
    let low = chain.payers[1];
    chain.set_balance(low, ETH / 10).await;
    chain
        .wait_for_metric("lit_node_payer_top_ups_total", low, 1.0)
        .await;
    let balance = chain.balance(low).await;
    assert!(
        balance >= 5 * ETH,
        "after the top-up the payer holds {balance} wei"
    );
    assert!(
        chain.balance(admin).await <= admin_before - 5 * ETH,
        "the admin payer paid for it"
    );
    // One top-up, logged; the other payer (well funded) got none.
    assert_eq!(
        metric(
            &chain.node.metrics().await,
            &format!(
                "lit_node_payer_top_ups_total{{payer=\"{:#x}\"}}",
                chain.payers[0]
            )
        ),
        None
    );
    let logs = chain.node.stderr_lines.lock().unwrap().join("\n");
    assert!(
        logs.contains("topped up payer"),
        "no log line for the top-up:\n{logs}"
    );
    chain.node.stop().await;
}
