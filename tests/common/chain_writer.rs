//! The chain writer's test harness: a real anvil with the contracts deployed, a store with a
//! running mirror, and a `ChainWriter` over them (used by `tests/writer.rs`,
//! `tests/writer_in_flight.rs` and `tests/settlement.rs`).

use std::time::Duration;

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{keccak256, Address};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use lit_node::chain::bindings::LitRegistry;
use lit_node::chain::deploy::deploy_contracts;
use lit_node::chain::writer::{ChainWriter, WriterConfig};
use lit_node::indexer::{Contracts, Indexer, IndexerConfig, MirrorHandle};
use lit_node::store::permissions::Permissions;
use lit_node::store::Store;
use tokio_util::sync::CancellationToken;

/// A chain, a deployment, a store with a running mirror, and a writer over them.
pub struct Setup {
    pub anvil: AnvilInstance,
    pub registry: Address,
    pub store: Store,
    pub mirror: MirrorHandle,
    pub writer: ChainWriter,
    _dir: tempfile::TempDir,
    pub shutdown: CancellationToken,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn signer(anvil: &AnvilInstance, index: usize) -> PrivateKeySigner {
    anvil.keys()[index].clone().into()
}

/// Anvil with `payers` payers (dev accounts 1..=payers; registered in NodeConfig or not) and a
/// running mirror.
pub async fn setup(payers: usize, registered: bool, config: WriterConfig) -> Setup {
    setup_on(super::start_anvil(31337), payers, registered, config).await
}

/// [`setup`] on a given anvil.
pub async fn setup_on(
    anvil: AnvilInstance,
    payers: usize,
    registered: bool,
    config: WriterConfig,
) -> Setup {
    let payer_keys: Vec<PrivateKeySigner> = (1..=payers).map(|i| signer(&anvil, i)).collect();
    let listed: Vec<Address> = if registered {
        payer_keys.iter().map(|k| k.address()).collect()
    } else {
        vec![]
    };
    let deployment = deploy_contracts(
        &anvil.endpoint(),
        signer(&anvil, 0),
        signer(&anvil, 9).address(),
        &listed,
        &[],
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let indexer = Indexer::new(
        store.clone(),
        Permissions::new(store.clone()),
        IndexerConfig {
            rpc_url: anvil.endpoint(),
            ws_url: Some(anvil.ws_endpoint()),
            contracts: Contracts {
                registry: deployment.contract_address,
                node_config: deployment.node_config().unwrap(),
            },
            deployment_block: deployment.deployment_block,
            reorg_depth: 64,
            poll_interval: Duration::from_millis(200),
            range_blocks: 2000,
            max_lag_blocks: 20,
            max_rpc_silence: Duration::from_secs(5),
        },
    )
    .unwrap();
    let mirror = indexer.handle();
    let writer = ChainWriter::new(
        &anvil.endpoint(),
        payer_keys,
        deployment.contract_address,
        mirror.clone(),
        config,
    )
    .unwrap()
    .with_outbox(store.clone());
    let shutdown = CancellationToken::new();
    tokio::spawn(indexer.run(shutdown.clone()));
    Setup {
        anvil,
        registry: deployment.contract_address,
        store,
        mirror,
        writer,
        _dir: dir,
        shutdown,
    }
}

pub fn new_account(i: u64) -> LitRegistry::newAccountCall {
    LitRegistry::newAccountCall {
        accountKeyHash: keccak256(format!("account {i}")),
        name: format!("account {i}"),
        description: String::new(),
        defaultWallet: Address::from_word(keccak256(format!("wallet {i}"))),
        derivationId: keccak256(format!("derivation {i}")),
    }
}

/// Re-sends after 0.7 s, so tests can watch a stuck transaction being replaced.
pub fn quick_resends() -> WriterConfig {
    WriterConfig {
        resend_after: Duration::from_millis(700),
        max_resends: 5,
        mirror_timeout: Duration::from_secs(10),
        ..WriterConfig::default()
    }
}

/// Pending transactions in the chain node's pool.
pub async fn pending_in_pool(provider: &impl Provider) -> usize {
    let pool: serde_json::Value = provider
        .raw_request("txpool_content".into(), ())
        .await
        .unwrap();
    pool["pending"]
        .as_object()
        .map(|senders| {
            senders
                .values()
                .map(|txs| txs.as_object().map_or(0, |t| t.len()))
                .sum()
        })
        .unwrap_or(0)
}

/// A second writer on `s`'s chain, store and mirror — the node restarted — sending from the
/// given payer (dev account `payer`).
pub fn restarted_writer(s: &Setup, payer: usize, config: WriterConfig) -> ChainWriter {
    ChainWriter::new(
        &s.anvil.endpoint(),
        vec![signer(&s.anvil, payer)],
        s.registry,
        s.mirror.clone(),
        config,
    )
    .unwrap()
    .with_outbox(s.store.clone())
}
