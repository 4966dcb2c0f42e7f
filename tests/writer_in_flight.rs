//! A payer's transactions in flight, against a real anvil that mines only when told to: a payer
//! carries several transactions at once (consecutive nonces, up to `max_in_flight`), a batch transaction the chain node
//! drops is sent again at once (not after the re-send time), and a writer restarted while batches
//! were in flight follows them from the outbox so that no write is lost or applied twice, and
//! batches are kept within the chain's block gas limit.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, TxHash};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::sol_types::SolCall;
use common::chain_writer::{new_account, restarted_writer, setup, setup_on, signer, Setup};
use lit_node::chain::bindings::LitRegistry;
use lit_node::chain::writer::{WriteError, WriterConfig, Written};

/// A transaction in the chain node's pool.
#[derive(Debug, Clone)]
struct Pooled {
    hash: TxHash,
    is_batch: bool,
    /// Registry calls it carries.
    calls: usize,
    /// Its gas limit.
    gas: u64,
}

/// The payer's pending transactions in the pool, by nonce.
async fn pool_of(provider: &impl Provider, payer: Address) -> BTreeMap<u64, Pooled> {
    let pool: serde_json::Value = provider
        .raw_request("txpool_content".into(), ())
        .await
        .unwrap();
    let mut found = BTreeMap::new();
    let Some(senders) = pool["pending"].as_object() else {
        return found;
    };
    for (sender, txs) in senders {
        if sender.parse::<Address>().unwrap() != payer {
            continue;
        }
        for (nonce, tx) in txs.as_object().unwrap() {
            let input: alloy::primitives::Bytes = tx["input"].as_str().unwrap().parse().unwrap();
            let batch = LitRegistry::batchCall::abi_decode(&input).ok();
            found.insert(
                nonce.parse().unwrap(),
                Pooled {
                    hash: tx["hash"].as_str().unwrap().parse().unwrap(),
                    is_batch: batch.is_some(),
                    calls: batch.map_or(1, |b| b.calls.len()),
                    gas: u64::from_str_radix(
                        tx["gas"].as_str().unwrap().trim_start_matches("0x"),
                        16,
                    )
                    .unwrap(),
                },
            );
        }
    }
    found
}

/// Waits until the payer's pending transactions in the pool carry `calls` calls in all, and
/// nothing changes for 300 ms.
async fn until_pooled(
    provider: &impl Provider,
    payer: Address,
    calls: usize,
) -> BTreeMap<u64, Pooled> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pooled = pool_of(provider, payer).await;
        if pooled.values().map(|tx| tx.calls).sum::<usize>() == calls {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let again = pool_of(provider, payer).await;
            assert_eq!(
                again.len(),
                pooled.len(),
                "more transactions than expected: {again:?}"
            );
            return again;
        }
        assert!(
            Instant::now() < deadline,
            "expected {calls} calls pending from the payer, the pool has {pooled:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Write = tokio::task::JoinHandle<Result<Written, WriteError>>;

/// Starts a write of `new_account(i)` for each `i`.
fn spawn_writes(s: &Arc<Setup>, accounts: std::ops::Range<u64>) -> Vec<Write> {
    accounts
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.writer.write(&new_account(i)).await })
        })
        .collect()
}

/// One payer that gathers writes; anvil stops mining. Returns the chain and the payer.
async fn one_gathering_payer_without_mining() -> (
    Arc<Setup>,
    impl Provider + AnvilApi<alloy::network::Ethereum>,
    Address,
) {
    let config = WriterConfig {
        max_batch_calls: 16,
        mirror_timeout: Duration::from_secs(20),
        ..WriterConfig::default()
    };
    let s = Arc::new(setup(1, true, config).await);
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    provider.anvil_set_auto_mine(false).await.unwrap();
    let payer = signer(&s.anvil, 1).address();
    (s, provider, payer)
}

/// A lone write at the payer's next nonce, then five at once behind it (a lone write is sent at
/// once, so the first of them may go alone; the others gather): returns the writes, the pool and
/// the nonce of the newest batch.
async fn lone_write_then_batch(
    s: &Arc<Setup>,
    provider: &impl Provider,
    payer: Address,
) -> (Vec<Write>, BTreeMap<u64, Pooled>, u64) {
    let mut writes = spawn_writes(s, 0..1);
    until_pooled(provider, payer, 1).await;
    writes.extend(spawn_writes(s, 1..6));
    let pooled = until_pooled(provider, payer, 6).await;
    let (&batch_nonce, _) = pooled
        .iter()
        .rev()
        .find(|(_, tx)| tx.is_batch)
        .unwrap_or_else(|| panic!("the five writes were not gathered: {pooled:?}"));
    (writes, pooled, batch_nonce)
}

async fn until_mirrored(s: &Setup, accounts: std::ops::Range<u64>) {
    for i in accounts {
        let deadline = Instant::now() + Duration::from_secs(20);
        let hash = alloy::primitives::keccak256(format!("account {i}"));
        while s.store.account(&hash).unwrap().is_none() {
            assert!(Instant::now() < deadline, "account {i} never mirrored");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_payer_has_several_transactions_in_flight_with_consecutive_nonces() {
    // Gathering off: every write is its own transaction. One payer, nothing mined: a payer held
    // until its receipt would leave one transaction in the pool and the others waiting.
    let s = Arc::new(setup(1, true, WriterConfig::default()).await);
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let payer = signer(&s.anvil, 1).address();
    let nonce_before = provider.get_transaction_count(payer).await.unwrap();
    provider.anvil_set_auto_mine(false).await.unwrap();

    let writes = spawn_writes(&s, 10..13);
    let pooled = until_pooled(&provider, payer, 3).await;
    assert_eq!(pooled.len(), 3, "{pooled:?}");
    assert_eq!(
        pooled.keys().copied().collect::<Vec<_>>(),
        vec![nonce_before, nonce_before + 1, nonce_before + 2]
    );

    provider.anvil_mine(Some(1), None).await.unwrap();
    let mut blocks = Vec::new();
    for write in writes {
        blocks.push(write.await.unwrap().unwrap().block_number);
    }
    assert!(
        blocks.windows(2).all(|w| w[0] == w[1]),
        "one block: {blocks:?}"
    );
    until_mirrored(&s, 10..13).await;
    assert_eq!(
        provider.get_transaction_count(payer).await.unwrap(),
        nonce_before + 3
    );
}

#[tokio::test]
async fn a_payers_transactions_in_flight_are_capped() {
    let config = WriterConfig {
        max_in_flight: 2,
        ..WriterConfig::default()
    };
    let s = Arc::new(setup(1, true, config).await);
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let payer = signer(&s.anvil, 1).address();
    provider.anvil_set_auto_mine(false).await.unwrap();

    let writes = spawn_writes(&s, 20..23);
    // Two go out; the third waits for one of them to be mined.
    let pooled = until_pooled(&provider, payer, 2).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(pool_of(&provider, payer).await.len(), 2, "{pooled:?}");
    provider.anvil_mine(Some(1), None).await.unwrap();
    until_pooled(&provider, payer, 1).await;
    provider.anvil_mine(Some(1), None).await.unwrap();
    for write in writes {
        write.await.unwrap().unwrap();
    }
    until_mirrored(&s, 20..23).await;
}

#[tokio::test]
async fn a_dropped_batch_is_sent_again_at_once_and_each_write_is_answered() {
    let (s, provider, payer) = one_gathering_payer_without_mining().await;
    let nonce_before = provider.get_transaction_count(payer).await.unwrap();
    let (mut writes, pooled, batch_nonce) = lone_write_then_batch(&s, &provider, payer).await;
    // One more write behind the batch, so that dropping the batch leaves a nonce gap.
    writes.extend(spawn_writes(&s, 6..7));
    until_pooled(&provider, payer, 7).await;
    let transactions = pooled.len() as u64 + 1;
    let batch_calls = pooled[&batch_nonce].calls;

    let dropped = pooled[&batch_nonce].hash;
    let started = Instant::now();
    provider.anvil_drop_transaction(dropped).await.unwrap();
    // Sent again (fees bumped) long before the re-send time of 30 s: the gap is closed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let resent = loop {
        let now = pool_of(&provider, payer).await;
        // (The transaction behind the gap is pending again once the gap is closed.)
        if let Some(tx) = now.get(&batch_nonce).filter(|tx| tx.hash != dropped) {
            if now.len() as u64 == transactions {
                break tx.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the dropped batch was not sent again: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("dropped batch sent again after {:?}", started.elapsed());
    assert!(resent.is_batch);
    let recorded = s
        .store
        .sent_transaction(&payer, batch_nonce)
        .unwrap()
        .unwrap();
    assert_eq!(recorded.hashes, vec![dropped, resent.hash]);

    provider.anvil_mine(Some(1), None).await.unwrap();
    let (mut carried_by_the_batch, mut own_events, mut receipt_events) = (0, 0, 0);
    for (i, write) in writes.into_iter().enumerate() {
        let written = write
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
        if written.tx_hash == resent.hash {
            carried_by_the_batch += 1;
            assert!(!written.logs.is_empty(), "write {i} got no events");
            own_events += written.logs.len();
            receipt_events = written.receipt.inner.logs().len();
        }
    }
    assert_eq!(carried_by_the_batch, batch_calls);
    assert_eq!(
        own_events + batch_calls,
        receipt_events,
        "each write got its own share of the events (one marker per call besides)"
    );
    until_mirrored(&s, 0..7).await;
    assert_eq!(
        provider.get_transaction_count(payer).await.unwrap(),
        nonce_before + transactions,
        "each transaction mined once"
    );
    assert!(s.store.sent_transactions().unwrap().is_empty());
}

#[tokio::test]
async fn a_writer_restarted_with_batches_in_flight_loses_and_repeats_no_write() {
    let (s, provider, payer) = one_gathering_payer_without_mining().await;
    let nonce_before = provider.get_transaction_count(payer).await.unwrap();
    let (writes, pooled, _) = lone_write_then_batch(&s, &provider, payer).await;
    // The node goes away with both transactions in flight.
    for write in &writes {
        write.abort();
    }
    let recorded = s.store.sent_transactions().unwrap();
    assert_eq!(recorded.len(), pooled.len(), "{recorded:?}");

    // A new writer on the same store follows both from the outbox; once mined, both are
    // forgotten, each mined once, and all six accounts exist.
    let config = WriterConfig {
        max_batch_calls: 16,
        ..WriterConfig::default()
    };
    let restarted = Arc::new(restarted_writer(&s, 1, config));
    let following = tokio::spawn({
        let restarted = restarted.clone();
        async move { restarted.follow_outbox_once().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    provider.anvil_mine(Some(1), None).await.unwrap();
    assert_eq!(following.await.unwrap(), pooled.len());
    assert!(s.store.sent_transactions().unwrap().is_empty());
    assert_eq!(
        provider.get_transaction_count(payer).await.unwrap(),
        nonce_before + pooled.len() as u64
    );
    until_mirrored(&s, 0..6).await;

    // Writing any of them again is refused by the contract: it exists once.
    provider.anvil_set_auto_mine(true).await.unwrap();
    match restarted.write(&new_account(3)).await {
        Err(WriteError::Rejected(_)) => {}
        other => panic!("expected the contract to refuse a second account 3, got {other:?}"),
    }
    restarted.write(&new_account(7)).await.unwrap();
}

#[tokio::test]
async fn batches_stay_within_half_the_block_gas_limit_and_a_block_of_gas_in_flight() {
    let config = WriterConfig {
        max_batch_calls: 16,
        ..WriterConfig::default()
    };
    let s = Arc::new(setup_on(common::start_anvil(31337), 1, true, config).await);
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let payer = signer(&s.anvil, 1).address();
    // Blocks of 2.4M gas from now on: sixteen account creations would not fit in one.
    const BLOCK_GAS: u64 = 2_400_000;
    provider.anvil_set_block_gas_limit(BLOCK_GAS).await.unwrap();
    provider.anvil_mine(Some(1), None).await.unwrap();
    let gas_per_call = provider
        .estimate_gas(
            alloy::rpc::types::TransactionRequest::default()
                .from(payer)
                .to(s.registry)
                .input(new_account(99).abi_encode().into()),
        )
        .await
        .unwrap();
    provider.anvil_set_auto_mine(false).await.unwrap();

    // One write goes alone; the sixteen behind it gather into batches that fit, and the node
    // keeps at most about one block's gas in flight: the rest waits until a block is mined.
    let mut writes = spawn_writes(&s, 0..1);
    until_pooled(&provider, payer, 1).await;
    writes.extend(spawn_writes(&s, 1..17));
    // (Sent with a fifth more gas than estimated.)
    let most_per_batch = (BLOCK_GAS / 2 / (gas_per_call * 6 / 5)) as usize;
    let (mut seen, mut batches) = (std::collections::HashSet::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !writes.iter().all(|w| w.is_finished()) {
        assert!(Instant::now() < deadline, "the writes did not finish");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let pooled = pool_of(&provider, payer).await;
        let in_flight: u64 = pooled.values().map(|tx| tx.gas).sum();
        assert!(
            pooled.len() <= 1 || in_flight <= BLOCK_GAS,
            "more than a block's gas in flight: {pooled:?}"
        );
        for tx in pooled.values() {
            assert!(
                tx.gas <= BLOCK_GAS / 2,
                "a transaction needs more than half a block: {tx:?}"
            );
            assert!(
                tx.calls <= most_per_batch.max(1),
                "at most {most_per_batch} calls fit: {tx:?}"
            );
            if seen.insert(tx.hash) && tx.is_batch {
                batches += 1;
            }
        }
        provider.anvil_mine(Some(1), None).await.unwrap();
    }
    eprintln!(
        "{gas_per_call} gas per call; {} transactions, {batches} batches",
        seen.len()
    );
    assert!(batches > 0, "nothing was gathered");
    for (i, write) in writes.into_iter().enumerate() {
        write
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
    }
    until_mirrored(&s, 0..17).await;
}
