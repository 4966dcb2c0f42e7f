//! The chain writer against a real anvil, real contracts and a running mirror: concurrent writes
//! spread over the payer pool, refusals decoded from simulation (nothing sent), read-your-writes,
//! re-sending a stuck transaction without double-sending, following after a restart what was sent
//! before (the outbox), writing again when another sender took the nonce, and an unreachable chain.

mod common;

use std::sync::Arc;
use std::time::Duration;

use alloy::consensus::Transaction as _;
use alloy::primitives::{keccak256, Address};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{Provider, ProviderBuilder};
use common::chain_writer::{
    new_account, pending_in_pool, quick_resends, restarted_writer, setup, signer, Setup,
};
use lit_node::chain::bindings::LitRegistry::{self, LitRegistryErrors};
use lit_node::chain::writer::{ChainWriter, WriteError, WriterConfig, Written};
use lit_node::store::Store;

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

/// A write of `new_account(account)` by a one-payer writer with quick re-sends, sent while anvil
/// does not mine: the setup, the chain, the payer, its nonce before, and the write in flight.
async fn unmined_write(
    account: u64,
) -> (
    Arc<Setup>,
    impl Provider + AnvilApi<alloy::network::Ethereum>,
    Address,
    u64,
    tokio::task::JoinHandle<Result<Written, WriteError>>,
) {
    let s = Arc::new(setup(1, true, quick_resends()).await);
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let payer = signer(&s.anvil, 1).address();
    let nonce_before = provider.get_transaction_count(payer).await.unwrap();
    provider.anvil_set_auto_mine(false).await.unwrap();
    let write = tokio::spawn({
        let s = s.clone();
        async move { s.writer.write(&new_account(account)).await }
    });
    (s, provider, payer, nonce_before, write)
}

#[tokio::test]
async fn a_stuck_transaction_is_resent_and_mined_once() {
    let (s, provider, payer, nonce_before, write) = unmined_write(7).await;
    // Unmined past its re-send deadline, the transaction is sent again for the same nonce: the
    // outbox then holds two hashes for it, and the pool still exactly one transaction of the
    // payer (the re-send replaced the first).
    let first = outbox_hashes_once(&s.store, 1).await[0];
    let sent = outbox_hashes_once(&s.store, 2).await;
    assert_eq!(sent[0], first);
    assert_eq!(
        pending_in_pool(&provider).await,
        1,
        "the re-send did not replace the stuck transaction"
    );
    provider.anvil_mine(Some(1), None).await.unwrap();
    provider.anvil_set_auto_mine(true).await.unwrap();

    let written = write
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("stuck write failed: {e}"));
    assert_ne!(
        written.tx_hash, first,
        "the first, stuck transaction was mined"
    );
    assert!(
        provider
            .get_transaction_receipt(first)
            .await
            .unwrap()
            .is_none(),
        "the replaced transaction has a receipt"
    );
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
async fn a_mined_but_reverted_transaction_is_an_error() {
    let s = Arc::new(setup(2, true, WriterConfig::default()).await);
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    // Two writes creating the same account, by two payers: each is simulated against a state
    // without it (nothing is mined meanwhile), so both are sent; mined in one block, the second
    // reverts.
    provider.anvil_set_auto_mine(false).await.unwrap();
    let writes: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.writer.write(&new_account(21)).await })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pending_in_pool(&provider).await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the two writes were not both sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    provider.anvil_mine(Some(1), None).await.unwrap();
    provider.anvil_set_auto_mine(true).await.unwrap();

    let mut written = Vec::new();
    let mut reverted = Vec::new();
    for write in writes {
        match write.await.unwrap() {
            Ok(w) => written.push(w),
            Err(WriteError::Reverted(tx)) => reverted.push(tx),
            Err(other) => panic!("expected success or Reverted, got {other}"),
        }
    }
    assert_eq!(
        (written.len(), reverted.len()),
        (1, 1),
        "{written:?} {reverted:?}"
    );
    let receipt = provider
        .get_transaction_receipt(reverted[0])
        .await
        .unwrap()
        .expect("the reverted transaction was mined");
    assert!(!receipt.status());
    assert_eq!(receipt.block_number, Some(written[0].block_number));
    assert!(s.store.account(&keccak256("account 21")).unwrap().is_some());
    assert!(
        s.store.sent_transactions().unwrap().is_empty(),
        "a mined transaction stayed in the outbox"
    );
}

/// Waits until the outbox holds one transaction with at least `count` hashes (the first send
/// and its re-sends); returns them.
async fn outbox_hashes_once(store: &Store, count: usize) -> Vec<alloy::primitives::TxHash> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let [sent] = store.sent_transactions().unwrap().as_slice() {
            if sent.hashes.len() >= count {
                return sent.hashes.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no transaction with {count} hash(es) in the outbox: {:?}",
            store.sent_transactions().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_restarted_writer_follows_what_it_sent_before() {
    // Sent but not mined when the "node" goes away (the write is dropped mid-flight).
    let (s, provider, payer, nonce_before, write) = unmined_write(8).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.store.sent_transactions().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing recorded in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    write.abort();
    let recorded = s.store.sent_transactions().unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].payer, recorded[0].nonce),
        (payer, nonce_before)
    );

    // A new writer on the same store (the restarted node) follows it: still unmined after its
    // re-send deadline, it re-sends with higher fees (replacing it in the pool)…
    let restarted = Arc::new(restarted_writer(&s, 1, quick_resends()));
    let following = tokio::spawn({
        let restarted = restarted.clone();
        async move { restarted.follow_outbox_once().await }
    });
    outbox_hashes_once(&s.store, 2).await;
    assert_eq!(
        pending_in_pool(&provider).await,
        1,
        "re-sends replace, never add"
    );

    // …and once mined, forgets it: mined exactly once.
    provider.anvil_mine(Some(1), None).await.unwrap();
    provider.anvil_set_auto_mine(true).await.unwrap();
    assert_eq!(following.await.unwrap(), 1);
    assert!(s.store.sent_transactions().unwrap().is_empty());
    assert_eq!(
        provider.get_transaction_count(payer).await.unwrap(),
        nonce_before + 1
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.store.account(&keccak256("account 8")).unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The payer is usable again, with the next nonce.
    restarted.write(&new_account(9)).await.unwrap();
    assert!(s.store.sent_transactions().unwrap().is_empty());
}

#[tokio::test]
async fn a_transaction_whose_nonce_another_sender_took_is_written_again() {
    let s = setup(1, true, WriterConfig::default()).await;
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let payer_key = signer(&s.anvil, 1);
    let payer = payer_key.address();
    // Hold mining, let the writer send, then have "another node" replace its transaction with
    // a higher-fee one for the same nonce and mine that.
    provider.anvil_set_auto_mine(false).await.unwrap();
    let write = tokio::spawn({
        let writer = ChainWriter::new(
            &s.anvil.endpoint(),
            vec![payer_key.clone()],
            s.registry,
            s.mirror.clone(),
            WriterConfig::default(),
        )
        .unwrap()
        .with_outbox(s.store.clone());
        async move { writer.write(&new_account(11)).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ours = loop {
        if let Some(sent) = s.store.sent_transactions().unwrap().pop() {
            break sent;
        }
        assert!(std::time::Instant::now() < deadline, "nothing sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let other = ProviderBuilder::new()
        .wallet(payer_key)
        .connect_http(s.anvil.endpoint().parse().unwrap());
    let mut theirs = ours.request.clone();
    theirs.input = alloy::rpc::types::TransactionInput::new(
        alloy::sol_types::SolCall::abi_encode(&new_account(12)).into(),
    );
    theirs.max_fee_per_gas = ours.request.max_fee_per_gas.map(|f| f * 2);
    theirs.max_priority_fee_per_gas = ours.request.max_priority_fee_per_gas.map(|f| f * 2);
    let _replacement = other.send_transaction(theirs).await.unwrap();
    provider.anvil_mine(Some(1), None).await.unwrap();
    provider.anvil_set_auto_mine(true).await.unwrap();

    // Ours can never be mined now; the writer notices and writes again with the next nonce.
    let written = write.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    assert!(!ours.hashes.contains(&written.tx_hash));
    assert!(s.store.account(&keccak256("account 11")).unwrap().is_some());
    assert!(s.store.account(&keccak256("account 12")).unwrap().is_some());
    assert_eq!(
        provider.get_transaction_count(payer).await.unwrap(),
        ours.nonce + 2
    );
    assert!(s.store.sent_transactions().unwrap().is_empty());
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

/// Whether the registry on `s`'s chain has the account of `new_account(i)`.
async fn on_chain(s: &Setup, i: u64) -> bool {
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    LitRegistry::new(s.registry, &provider)
        .accountExists(keccak256(format!("account {i}")))
        .call()
        .await
        .unwrap()
}

/// Polls until the mirror has the account of `new_account(i)`.
async fn until_mirrored(s: &Setup, i: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while s
        .store
        .account(&keccak256(format!("account {i}")))
        .unwrap()
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "account {i} never mirrored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A write to a chain that does not mine answers `NotMined` within the writer's deadline (set
/// below the HTTP request timeout), not after all its re-sends; what it sent stays in the outbox
/// and is followed until mined.
#[tokio::test]
async fn a_write_to_a_chain_that_does_not_mine_answers_within_its_deadline() {
    let deadline = Duration::from_secs(3);
    let s = setup(
        1,
        true,
        WriterConfig {
            resend_after: Duration::from_millis(700),
            max_resends: 100,
            deadline,
            ..WriterConfig::default()
        },
    )
    .await;
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    provider.anvil_set_auto_mine(false).await.unwrap();

    let started = std::time::Instant::now();
    // Generous margin over the deadline: the machine is shared.
    let outcome = tokio::time::timeout(
        deadline + Duration::from_secs(10),
        s.writer.write(&new_account(30)),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer {:?} after the deadline", Duration::from_secs(10)));
    let sent = match outcome {
        Err(WriteError::NotMined(hash)) => hash,
        other => panic!("expected NotMined, got {other:?}"),
    };
    assert!(
        started.elapsed() >= deadline,
        "answered before its deadline"
    );
    let outbox = s.store.sent_transactions().unwrap();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert!(outbox[0].hashes.contains(&sent), "{outbox:?}");

    // The chain mines again: the outbox pass sees it mined and stops following it.
    provider.anvil_set_auto_mine(true).await.unwrap();
    provider.anvil_mine(Some(1), None).await.unwrap();
    assert_eq!(s.writer.follow_outbox_once().await, 1);
    assert!(s.store.sent_transactions().unwrap().is_empty());
    assert!(on_chain(&s, 30).await);
}

/// A mined transaction is followed until `reorg_depth` blocks deep; reorged out before that
/// (`evm_snapshot` → write → `evm_revert`), a follow pass sends it again.
#[tokio::test]
async fn a_transaction_reorged_out_is_sent_again_and_forgotten_once_deep() {
    const DEPTH: u64 = 5;
    let s = setup(
        1,
        true,
        WriterConfig {
            reorg_depth: DEPTH,
            ..WriterConfig::default()
        },
    )
    .await;
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let snapshot = provider.anvil_snapshot().await.unwrap();
    let written = s.writer.write(&new_account(40)).await.unwrap();
    let kept = s.store.sent_transactions().unwrap();
    assert_eq!(
        kept.len(),
        1,
        "a mined transaction was forgotten before it was deep"
    );
    assert!(kept[0].hashes.contains(&written.tx_hash));
    assert_eq!(
        s.writer.follow_outbox_once().await,
        0,
        "forgotten while shallow"
    );
    assert_eq!(s.store.sent_transactions().unwrap().len(), 1);

    // The chain goes back to before the write and moves on without it.
    assert!(provider.anvil_revert(snapshot).await.unwrap());
    provider.anvil_mine(Some(2), None).await.unwrap();
    assert!(!on_chain(&s, 40).await);

    // A follow pass sends it again (same nonce), and the effect is back.
    s.writer.follow_outbox_once().await;
    assert!(
        on_chain(&s, 40).await,
        "the reorged-out transaction was not sent again"
    );
    until_mirrored(&s, 40).await;
    let resent = s.store.sent_transactions().unwrap();
    assert_eq!((resent.len(), resent[0].nonce), (1, kept[0].nonce));

    // Forgotten once deep.
    provider.anvil_mine(Some(DEPTH), None).await.unwrap();
    assert_eq!(s.writer.follow_outbox_once().await, 1);
    assert!(s.store.sent_transactions().unwrap().is_empty());
    assert!(on_chain(&s, 40).await);
}

/// After a reorg took a mined transaction out, a new write for the same payer gets the same
/// nonce: the lost transaction is sent again first, never overwritten in the outbox.
#[tokio::test]
async fn a_write_after_a_reorg_sends_the_lost_transaction_again_first() {
    let s = setup(
        1,
        true,
        WriterConfig {
            reorg_depth: 5,
            ..WriterConfig::default()
        },
    )
    .await;
    let provider = ProviderBuilder::new().connect_http(s.anvil.endpoint().parse().unwrap());
    let snapshot = provider.anvil_snapshot().await.unwrap();
    s.writer.write(&new_account(50)).await.unwrap();
    assert!(provider.anvil_revert(snapshot).await.unwrap());
    provider.anvil_mine(Some(2), None).await.unwrap();

    s.writer.write(&new_account(51)).await.unwrap();
    assert!(on_chain(&s, 51).await);
    assert!(
        on_chain(&s, 50).await,
        "the lost transaction was not sent again"
    );
    let followed: Vec<u64> = s
        .store
        .sent_transactions()
        .unwrap()
        .iter()
        .map(|t| t.nonce)
        .collect();
    assert_eq!(
        followed.len(),
        2,
        "both stay followed until deep: {followed:?}"
    );
}
