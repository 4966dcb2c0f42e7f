//! Settlement rounds (`billing::settle::settle_once`) against a real anvil, the real contracts,
//! a running mirror and the real chain writer: a batch the contract refuses does not keep the
//! batches after it from settling.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, B256, I256};
use alloy::providers::ProviderBuilder;
use lit_node::billing::settle::settle_once;
use lit_node::billing::Meter;
use lit_node::chain::bindings::LitRegistry;
use lit_node::chain::writer::WriterConfig;
use lit_node::store::journal::SettlementBatch;

#[tokio::test]
async fn a_refused_batch_does_not_keep_later_batches_from_settling() {
    let s = common::chain_writer::setup(1, true, WriterConfig::default()).await;
    let (store, writer) = (&s.store, &s.writer);

    // One account exists on chain (and in the mirror); another exists nowhere on chain.
    let known = keccak256("billed account");
    writer
        .write(&LitRegistry::newAccountCall {
            accountKeyHash: known,
            name: "billed".into(),
            description: String::new(),
            defaultWallet: Address::repeat_byte(0x42),
            derivationId: keccak256("derivation"),
        })
        .await
        .unwrap();
    let missing = keccak256("no such account");

    // Two sealed batches; the refused one comes first in the journal's (settlement id) order.
    let refused = SettlementBatch {
        id: B256::repeat_byte(0x01),
        entries: vec![(missing, 5)],
    };
    let good = SettlementBatch {
        id: B256::repeat_byte(0xf0),
        entries: vec![(known, 7)],
    };
    store
        .seal_settlements(&[refused.clone(), good.clone()], &[])
        .unwrap();
    assert_eq!(
        store.settlement_batches().unwrap(),
        vec![refused.clone(), good.clone()]
    );
    let meter = Meter::open(store.clone()).unwrap();

    let outcome = settle_once(&meter, store, writer, 200).await;

    // The good batch is on chain and forgotten; the refused one waits for the next round.
    let chain = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let registry = LitRegistry::new(s.registry, &chain);
    assert!(
        registry.settlementApplied(good.id).call().await.unwrap(),
        "the batch after the refused one was not settled ({outcome:?})"
    );
    assert_eq!(
        registry.balanceOf(known).call().await.unwrap(),
        I256::try_from(-7).unwrap()
    );
    assert!(!registry.settlementApplied(refused.id).call().await.unwrap());
    assert_eq!(store.settlement_batches().unwrap(), vec![refused.clone()]);
    let settled = outcome.expect("a refused batch is counted, not a failed round");
    assert_eq!((settled.batches, settled.failed), (1, 1));

    // The mirror shows the charge once it applied the settlement.
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.account(&known).unwrap().unwrap().balance_cents != -7 {
        assert!(
            Instant::now() < deadline,
            "the mirror never applied the charge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
