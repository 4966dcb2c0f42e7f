//! The settlement task: every interval (and at once on start, which settles what a crashed run
//! left in the journal) it seals journaled charges into batches and sends each sealed batch as
//! one `chargeUsage` transaction under the batch's settlement id. A batch is forgotten only once
//! the chain has applied its id — seen in the mirror, or refused by the contract as already
//! applied — so a crash anywhere in between re-sends the same id, which charges once. Batches
//! settle independently: one that fails (refused, or the chain unreachable) is counted and tried
//! again next round, and the batches after it are still sent.

use std::time::Duration;

use alloy::primitives::U256;
use tokio_util::sync::CancellationToken;

use super::meter::Meter;
use crate::chain::bindings::LitRegistry;
use crate::chain::writer::{ChainWriter, WriteError};
use crate::store::journal::SettlementBatch;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("settlement {id} was not applied: {source}")]
    Chain { id: String, source: WriteError },
}

/// Runs until `shutdown`.
pub async fn run(
    meter: Meter,
    store: Store,
    writer: std::sync::Arc<ChainWriter>,
    interval: Duration,
    max_accounts: usize,
    shutdown: CancellationToken,
) {
    loop {
        // Stopping mid-settlement is safe: a sealed batch stays in the journal and is sent again
        // under the same settlement id after the restart. (Waiting instead could take the
        // writer's whole mirror timeout, since the mirror stops with the node.)
        let settled = tokio::select! {
            _ = shutdown.cancelled() => return,
            settled = settle_once(&meter, &store, &writer, max_accounts) => settled,
        };
        match settled {
            Ok(round) => {
                if round.batches > 0 {
                    tracing::info!(batches = round.batches, "settled usage charges on chain");
                }
                if round.failed > 0 {
                    tracing::warn!(
                        failed = round.failed,
                        "some settlement batches were not applied; retrying next interval"
                    );
                }
            }
            Err(error) => {
                metrics::counter!("lit_node_billing_settlement_failures_total").increment(1);
                tracing::warn!(%error, "settling usage charges failed; retrying next interval")
            }
        }
        // What still waits for the chain (a growing figure means settlements are failing).
        match store.settlement_batches() {
            Ok(open) => {
                let cents: u64 = open
                    .iter()
                    .flat_map(|batch| batch.entries.iter().map(|(_, cents)| cents))
                    .sum();
                metrics::gauge!("lit_node_billing_open_settlements").set(open.len() as f64);
                metrics::gauge!("lit_node_billing_unsettled_sealed_cents").set(cents as f64);
            }
            Err(error) => tracing::error!(%error, "cannot read the settlement batches"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// What one settlement round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Batches the chain has applied (and that were forgotten).
    pub batches: usize,
    /// Batches that were not applied (logged; they stay sealed and are sent again next round).
    pub failed: usize,
}

/// Seals the journal and sends every open batch, each on its own: a failing batch is counted
/// and logged, and the rest are still sent. Errors only when the journal cannot be read or
/// sealed.
pub async fn settle_once(
    meter: &Meter,
    store: &Store,
    writer: &ChainWriter,
    max_accounts: usize,
) -> Result<Round, SettleError> {
    let sealing = meter.clone();
    tokio::task::spawn_blocking(move || sealing.seal(max_accounts))
        .await
        .expect("sealing does not panic")?;
    let mut round = Round::default();
    for batch in store.settlement_batches()? {
        match settle_batch(meter, store, writer, &batch).await {
            Ok(()) => round.batches += 1,
            Err(error) => {
                metrics::counter!("lit_node_billing_settlement_failures_total").increment(1);
                tracing::warn!(%error, accounts = batch.entries.len(), "a settlement batch was not applied; it is sent again next round");
                round.failed += 1;
            }
        }
    }
    Ok(round)
}

async fn settle_batch(
    meter: &Meter,
    store: &Store,
    writer: &ChainWriter,
    batch: &SettlementBatch,
) -> Result<(), SettleError> {
    if !store.settlement_applied(&batch.id)? {
        let call = LitRegistry::chargeUsageCall {
            settlementId: batch.id,
            accounts: batch.entries.iter().map(|(account, _)| *account).collect(),
            amountsCents: batch
                .entries
                .iter()
                .map(|(_, cents)| U256::from(*cents))
                .collect(),
        };
        match writer.write(&call).await {
            Ok(_) => {}
            Err(WriteError::Rejected(
                LitRegistry::LitRegistryErrors::SettlementAlreadyApplied(_),
            )) => {}
            Err(source) => {
                return Err(SettleError::Chain {
                    id: format!("{:#x}", batch.id),
                    source,
                })
            }
        }
    }
    let cents: u64 = batch.entries.iter().map(|(_, cents)| cents).sum();
    metrics::counter!("lit_node_billing_settled_cents_total").increment(cents);
    meter.settled(batch)?;
    Ok(())
}
