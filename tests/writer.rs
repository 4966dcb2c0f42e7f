//! The chain writer against a real anvil, real contracts and a running mirror: concurrent writes
//! spread over the payer pool, refusals decoded from simulation (nothing sent), read-your-writes,
//! re-sending a stuck transaction without double-sending, and an unreachable chain.

mod common;

use std::sync::Arc;
use std::time::Duration;

use alloy::consensus::Transaction as _;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{keccak256, Address};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use lit_node::chain::bindings::LitRegistry::{self, LitRegistryErrors};
use lit_node::chain::deploy::deploy_contracts;
use lit_node::chain::writer::{ChainWriter, WriteError, WriterConfig};
use lit_node::indexer::{Contracts, Indexer, IndexerConfig, MirrorHandle};
use lit_node::store::permissions::Permissions;
use lit_node::store::Store;
use tokio_util::sync::CancellationToken;

struct Setup {
    anvil: AnvilInstance,
    store: Store,
    mirror: MirrorHandle,
    writer: ChainWriter,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn signer(anvil: &AnvilInstance, index: usize) -> PrivateKeySigner {
    anvil.keys()[index].clone().into()
}

/// Anvil with `payers` payers (dev accounts 1..=payers; registered in NodeConfig or not) and a
/// running mirror.
async fn setup(payers: usize, registered: bool, config: WriterConfig) -> Setup {
    let anvil = common::start_anvil(31337);
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
    .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(indexer.run(shutdown.clone()));
    Setup {
        anvil,
        store,
        mirror,
        writer,
        _dir: dir,
        shutdown,
    }
}

fn new_account(i: u64) -> LitRegistry::newAccountCall {
    LitRegistry::newAccountCall {
        accountKeyHash: keccak256(format!("account {i}")),
        name: format!("account {i}"),
        description: String::new(),
        defaultWallet: Address::from_word(keccak256(format!("wallet {i}"))),
        derivationId: keccak256(format!("derivation {i}")),
    }
}

#[tokio::test]
async fn concurrent_writes_use_every_payer_and_are_readable_at_once() {
    let s = setup(4, true, WriterConfig::default()).await;
    assert_eq!(s.writer.payer_count(), 4);
    let writes = (0..16).map(|i| {
        let (writer, store) = (&s.writer, &s.store);
        async move {
            let written = writer
                .write(&new_account(i))
                .await
                .unwrap_or_else(|e| panic!("write {i}: {e}"));
            // Read-your-writes: the mirror has the account when the write returns.
            assert!(
                store
                    .account(&keccak256(format!("account {i}")))
                    .unwrap()
                    .is_some(),
                "write {i} not readable"
            );
            written.receipt.from
        }
    });
    let senders: Vec<Address> = futures_util::future::join_all(writes).await;
    let distinct: std::collections::HashSet<_> = senders.iter().collect();
    assert_eq!(
        distinct.len(),
        4,
        "writes did not spread over the payers: {senders:?}"
    );
}

#[tokio::test]
async fn refusals_are_decoded_from_simulation_and_nothing_is_sent() {
    let s = setup(1, true, WriterConfig::default()).await;
    s.writer.write(&new_account(1)).await.unwrap();
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let payer = signer(&s.anvil, 1).address();
    let nonce_before = provider.get_transaction_count(payer).await.unwrap();

    match s.writer.write(&new_account(1)).await {
        Err(WriteError::Rejected(LitRegistryErrors::AccountAlreadyExists(e))) => {
            assert_eq!(e.accountKeyHash, keccak256("account 1"))
        }
        other => panic!("expected AccountAlreadyExists, got {other:?}"),
    }
    let unknown_caller = LitRegistry::addUsageKeyCall {
        callerKeyHash: keccak256("nobody"),
        usageKeyHash: keccak256("usage"),
        key: lit_node::chain::bindings::ILitRegistry::UsageKey {
            name: "u".into(),
            description: String::new(),
            expiration: 0,
            canCreateGroups: false,
            canDeleteGroups: false,
            canCreatePkps: false,
            manageIpfsIdsInGroups: vec![],
            addPkpToGroups: vec![],
            removePkpFromGroups: vec![],
            executeInGroups: vec![],
        },
    };
    match s.writer.write(&unknown_caller).await {
        Err(WriteError::Rejected(LitRegistryErrors::UnknownKey(e))) => {
            assert_eq!(e.keyHash, keccak256("nobody"))
        }
        other => panic!("expected UnknownKey, got {other:?}"),
    }
    assert_eq!(
        provider.get_transaction_count(payer).await.unwrap(),
        nonce_before,
        "a refused call was sent"
    );
}

#[tokio::test]
async fn unregistered_payers_are_refused_by_the_contract() {
    let s = setup(1, false, WriterConfig::default()).await;
    match s.writer.write(&new_account(1)).await {
        Err(WriteError::Rejected(LitRegistryErrors::NotPayer(e))) => {
            assert_eq!(e.sender, signer(&s.anvil, 1).address())
        }
        other => panic!("expected NotPayer, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stuck_transaction_is_resent_and_mined_once() {
    let config = WriterConfig {
        resend_after: Duration::from_millis(700),
        max_resends: 5,
        mirror_timeout: Duration::from_secs(10),
    };
    let s = Arc::new(setup(1, true, config).await);
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let payer = signer(&s.anvil, 1).address();
    let nonce_before = provider.get_transaction_count(payer).await.unwrap();

    provider.anvil_set_auto_mine(false).await.unwrap();
    let write = tokio::spawn({
        let s = s.clone();
        async move { s.writer.write(&new_account(7)).await }
    });
    // Let it sit unmined past two re-send deadlines: the pool must still hold exactly one
    // transaction from the payer (each re-send replaced the previous one).
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let pool: serde_json::Value = provider
        .raw_request("txpool_content".into(), ())
        .await
        .unwrap();
    let pending: usize = pool["pending"]
        .as_object()
        .map(|senders| {
            senders
                .values()
                .map(|txs| txs.as_object().map_or(0, |t| t.len()))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(
        pending, 1,
        "the re-send did not replace the stuck transaction: {pool}"
    );
    provider.anvil_mine(Some(1), None).await.unwrap();
    provider.anvil_set_auto_mine(true).await.unwrap();

    let written = write
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("stuck write failed: {e}"));
    assert_eq!(
        provider.get_transaction_count(payer).await.unwrap(),
        nonce_before + 1,
        "sent twice"
    );
    let mined = provider
        .get_transaction_by_hash(written.tx_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mined.nonce(), nonce_before);
    assert!(s.store.account(&keccak256("account 7")).unwrap().is_some());
}

#[tokio::test]
async fn an_unreachable_chain_is_unavailable() {
    let s = setup(1, true, WriterConfig::default()).await;
    let writer = ChainWriter::new(
        "http://127.0.0.1:1",
        vec![signer(&s.anvil, 1)],
        Address::repeat_byte(1),
        s.mirror.clone(),
        WriterConfig::default(),
    )
    .unwrap();
    match writer.write(&new_account(1)).await {
        Err(WriteError::Unavailable(reason)) => assert!(!reason.is_empty()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
