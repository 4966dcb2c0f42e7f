//! The chain writer: sends the node's registry transactions from a pool of payer accounts.
//!
//! Each write takes an idle payer (so N concurrent writes use N payers, each with its own nonce
//! sequence), simulates the call (`eth_estimateGas`, which also gives the gas limit) so a call
//! the contract would reject is answered with its decoded custom error and costs nothing, sends
//! it with fees cached for a second (one fee query per second, not per write), waits for the receipt (re-sending
//! with bumped fees when it sits unmined), checks the status, and finally waits until the node's
//! own mirror has applied that block, so a read right after a write sees it.
//!
//! Every sent transaction is recorded in the store's outbox (payer, nonce, request, hashes) until
//! it is mined or its nonce was taken by another sender, and [`ChainWriter::follow_outbox`] keeps
//! following — re-sending if stuck — what a restart or a timed-out write left there. Nonces are
//! read from the chain per send, since nodes sharing a root secret share payers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, TxHash};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use tokio::sync::Semaphore;

use super::bindings::LitRegistry::LitRegistryErrors;
use crate::indexer::MirrorHandle;
use crate::store::outbox::SentTransaction;
use crate::store::Store;

/// Why a write did not happen. The API maps each to a status (see `api::error`).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The contract refuses the call (found by simulation; nothing was sent).
    #[error("the registry refused the call: {0:?}")]
    Rejected(LitRegistryErrors),
    /// The transaction was mined but reverted.
    #[error("transaction {0} was mined but reverted")]
    Reverted(TxHash),
    /// The chain cannot be reached (or refused the transaction for a reason other than the
    /// contract's rules).
    #[error("the chain is unavailable: {0}")]
    Unavailable(String),
    /// Sent, but not mined within the configured time (after re-sends).
    #[error("transaction {0} was not mined in time; it may still be mined later")]
    NotMined(TxHash),
    /// Mined, but this node's mirror did not apply the block in time.
    #[error("transaction {tx} was mined in block {block}, but the mirror has not applied it yet")]
    MirrorBehind { tx: TxHash, block: u64 },
}

/// Timing of writes.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Re-send (same nonce, bumped fees) when a transaction is not mined within this.
    pub resend_after: Duration,
    /// Give up waiting for a receipt after this many re-sends.
    pub max_resends: u32,
    /// How long to wait for the mirror to apply the transaction's block.
    pub mirror_timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            resend_after: Duration::from_secs(30),
            max_resends: 4,
            mirror_timeout: Duration::from_secs(30),
        }
    }
}

/// A successful write.
#[derive(Debug, Clone)]
pub struct Written {
    pub tx_hash: TxHash,
    pub block_number: u64,
    pub receipt: TransactionReceipt,
}

struct Payer {
    address: Address,
    provider: DynProvider,
}

/// Payers not currently sending; a permit of `available` is held while one is taken.
struct PayerPool {
    payers: Vec<Payer>,
    idle: Mutex<Vec<usize>>,
    available: Semaphore,
}

/// A payer taken from the pool; returned on drop.
struct TakenPayer<'a> {
    pool: &'a PayerPool,
    index: usize,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Drop for TakenPayer<'_> {
    fn drop(&mut self) {
        self.pool
            .idle
            .lock()
            .expect("not poisoned")
            .push(self.index);
    }
}

impl PayerPool {
    /// Waits for the payer at `index` to be idle and takes it.
    async fn take_index(&self, index: usize) -> TakenPayer<'_> {
        loop {
            let permit = self
                .available
                .acquire()
                .await
                .expect("the semaphore is never closed");
            {
                let mut idle = self.idle.lock().expect("not poisoned");
                if let Some(position) = idle.iter().position(|i| *i == index) {
                    idle.remove(position);
                    return TakenPayer {
                        pool: self,
                        index,
                        _permit: permit,
                    };
                }
            }
            drop(permit);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn take(&self) -> TakenPayer<'_> {
        let permit = self
            .available
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let index = self
            .idle
            .lock()
            .expect("not poisoned")
            .pop()
            .expect("a permit means an idle payer");
        TakenPayer {
            pool: self,
            index,
            _permit: permit,
        }
    }
}

pub struct ChainWriter {
    pool: PayerPool,
    registry: Address,
    mirror: MirrorHandle,
    config: WriterConfig,
    /// (when fetched, max fee per gas, max priority fee per gas).
    fees: Mutex<Option<(Instant, u128, u128)>>,
    /// Where sent transactions are recorded until mined (`None`: not recorded).
    outbox: Option<Store>,
}

/// Times a write is done again after its transaction was replaced by another sender.
const MAX_DROPPED_ATTEMPTS: u32 = 3;
/// How often, while waiting for a receipt, to check whether another sender took the nonce.
const NONCE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// How long a fee estimate is reused.
const FEES_TTL: Duration = Duration::from_secs(1);

/// The chain failed us. Transport errors quote the RPC URL they failed on, so URLs are reduced to
/// their endpoint (see [`crate::redact`]).
fn unavailable(e: impl std::fmt::Display) -> WriteError {
    WriteError::Unavailable(crate::redact::urls_in(&e.to_string()).into_owned())
}

impl ChainWriter {
    pub fn new(
        rpc_url: &str,
        payers: Vec<PrivateKeySigner>,
        registry: Address,
        mirror: MirrorHandle,
        config: WriterConfig,
    ) -> Result<Self, WriteError> {
        let url: alloy::transports::http::reqwest::Url = rpc_url.parse().map_err(|e| {
            unavailable(format!(
                "invalid RPC URL {}: {e}",
                crate::redact::endpoint(rpc_url)
            ))
        })?;
        let payers: Vec<Payer> = payers
            .into_iter()
            .map(|signer| Payer {
                address: signer.address(),
                // No nonce, gas or fee fillers: the writer sets all three itself, reading the
                // nonce from the chain for every send (alloy's default nonce cache goes stale as
                // soon as another node sends for the same payer).
                provider: ProviderBuilder::new()
                    .disable_recommended_fillers()
                    .fetch_chain_id()
                    .wallet(EthereumWallet::from(signer))
                    .connect_http(url.clone())
                    .erased(),
            })
            .collect();
        let count = payers.len();
        Ok(Self {
            pool: PayerPool {
                idle: Mutex::new((0..count).rev().collect()),
                available: Semaphore::new(count),
                payers,
            },
            registry,
            mirror,
            config,
            fees: Mutex::new(None),
            outbox: None,
        })
    }

    /// Records every sent transaction in `store`'s outbox until it is mined, so that
    /// [`ChainWriter::follow_outbox`] can follow it after a restart.
    pub fn with_outbox(mut self, store: Store) -> Self {
        self.outbox = Some(store);
        self
    }

    /// Every `interval`, exports each payer's balance (`lit_node_payer_balance_wei{payer}`) and
    /// warns about payers below `low_balance_wei`, before they start failing writes.
    pub async fn monitor_balances(
        &self,
        interval: Duration,
        low_balance_wei: u128,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            for payer in &self.pool.payers {
                match payer.provider.get_balance(payer.address).await {
                    Ok(balance) => {
                        let wei = u128::try_from(balance).unwrap_or(u128::MAX);
                        metrics::gauge!("lit_node_payer_balance_wei", "payer" => format!("{:#x}", payer.address)).set(wei as f64);
                        if wei < low_balance_wei {
                            tracing::warn!(payer = %payer.address, balance_wei = wei, "payer balance is low: fund it before its writes fail");
                        }
                    }
                    Err(e) => {
                        tracing::debug!(payer = %payer.address, error = %crate::redact::urls_in(&e.to_string()), "cannot read payer balance")
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {},
            }
        }
    }

    /// Number of payers (maximum concurrent writes).
    pub fn payer_count(&self) -> usize {
        self.pool.payers.len()
    }

    /// Simulates, sends and confirms `call` to the registry; returns once the mirror has it.
    pub async fn write<C: SolCall>(&self, call: &C) -> Result<Written, WriteError> {
        let taken = self.pool.take().await;
        let payer = &self.pool.payers[taken.index];
        let request = TransactionRequest::default()
            .with_from(payer.address)
            .with_to(self.registry)
            .with_input(call.abi_encode());

        // A transaction of ours can be replaced by another node sending for the same payer
        // with the same nonce; it was then never mined, so the write is done again.
        let mut attempt = 1;
        let receipt = loop {
            let gas = self.simulate(payer, &request).await?;
            let (max_fee, priority_fee) = self.fees(payer).await?;
            let ready = request
                .clone()
                .with_gas_limit(gas + gas / 5)
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(priority_fee);
            match self.send_until_mined(payer, ready).await? {
                Some(receipt) => break receipt,
                None if attempt < MAX_DROPPED_ATTEMPTS => {
                    tracing::warn!(payer = %payer.address, attempt, "our transaction was replaced by another sender for this payer; writing again");
                    attempt += 1;
                }
                None => return Err(unavailable(
                    "transactions kept being replaced by another sender using this node's payers",
                )),
            }
        };
        drop(taken);

        let tx_hash = receipt.transaction_hash;
        if !receipt.status() {
            return Err(WriteError::Reverted(tx_hash));
        }
        let block_number = receipt
            .block_number
            .ok_or_else(|| unavailable("receipt without a block number"))?;
        metrics::counter!("lit_node_chain_transactions_total").increment(1);
        if !self
            .mirror
            .wait_until_applied(block_number, self.config.mirror_timeout)
            .await
        {
            return Err(WriteError::MirrorBehind {
                tx: tx_hash,
                block: block_number,
            });
        }
        Ok(Written {
            tx_hash,
            block_number,
            receipt,
        })
    }

    /// Fee caps for a new transaction, from a cache refreshed every [`FEES_TTL`].
    async fn fees(&self, payer: &Payer) -> Result<(u128, u128), WriteError> {
        if let Some((at, max_fee, priority)) = *self.fees.lock().expect("fee cache lock") {
            if at.elapsed() < FEES_TTL {
                return Ok((max_fee, priority));
            }
        }
        let estimate = payer
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(unavailable)?;
        let fees = (estimate.max_fee_per_gas, estimate.max_priority_fee_per_gas);
        *self.fees.lock().expect("fee cache lock") = Some((Instant::now(), fees.0, fees.1));
        Ok(fees)
    }

    /// Runs the call without sending it; a refusal comes back as the contract's decoded custom
    /// error. Returns the gas it needs.
    async fn simulate(
        &self,
        payer: &Payer,
        request: &TransactionRequest,
    ) -> Result<u64, WriteError> {
        match retry_pruned_state(|| payer.provider.estimate_gas(request.clone())).await {
            Ok(gas) => Ok(gas),
            Err(error) => {
                let error = alloy::contract::Error::TransportError(error);
                match error.as_decoded_interface_error::<LitRegistryErrors>() {
                    Some(decoded) => Err(WriteError::Rejected(decoded)),
                    None => Err(unavailable(error)),
                }
            }
        }
    }

    /// Sends `request` with the payer's next nonce, records it in the outbox, and follows it
    /// until mined ([`ChainWriter::follow`]).
    async fn send_until_mined(
        &self,
        payer: &Payer,
        request: TransactionRequest,
    ) -> Result<Option<TransactionReceipt>, WriteError> {
        let sent = self.send_fresh(payer, &request).await?;
        self.record(&sent);
        self.follow(payer, sent).await
    }

    /// Polls for the receipt of every transaction sent for the nonce (the original and its
    /// replacements: whichever is mined wins). When none is mined within `resend_after`,
    /// re-sends the same nonce with fees bumped by 25%, up to `max_resends` times. Receipts are
    /// polled rather than watched from new blocks: with instant mining a transaction can be in
    /// a block before any watcher is registered. `None`: another sender for this payer took the
    /// nonce, so none of ours can be mined. The outbox entry is removed once either is known;
    /// on errors it stays, for [`ChainWriter::follow_outbox`].
    async fn follow(
        &self,
        payer: &Payer,
        mut sent: SentTransaction,
    ) -> Result<Option<TransactionReceipt>, WriteError> {
        let mut resends = 0;
        let mut resend_at = Instant::now() + self.config.resend_after;
        let mut pause = Duration::from_millis(10);
        let mut nonce_check_at = Instant::now() + NONCE_CHECK_AFTER;
        loop {
            for hash in sent.hashes.iter().rev() {
                if let Some(receipt) = payer
                    .provider
                    .get_transaction_receipt(*hash)
                    .await
                    .map_err(unavailable)?
                {
                    self.forget(&sent);
                    return Ok(Some(receipt));
                }
            }
            if Instant::now() >= nonce_check_at {
                if self.nonce_taken_by_another(payer, &sent).await? {
                    self.forget(&sent);
                    return Ok(None);
                }
                nonce_check_at = Instant::now() + NONCE_CHECK_AFTER;
            }
            if Instant::now() >= resend_at {
                let latest = *sent
                    .hashes
                    .last()
                    .expect("at least one transaction was sent");
                if resends >= self.config.max_resends {
                    return Err(WriteError::NotMined(latest));
                }
                resends += 1;
                match self.resend(payer, &mut sent, resends).await {
                    Ok(()) => self.record(&sent),
                    // The nonce was used meanwhile (by one of ours, found by the next poll, or
                    // by another sender, found by the nonce check).
                    Err(WriteError::Unavailable(message)) if is_nonce_race(&message) => {}
                    Err(other) => return Err(other),
                }
                resend_at = Instant::now() + self.config.resend_after;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// Sends with the payer's current pending nonce; when another sender took that nonce in the
    /// meantime (same payer on another node), reads it again and retries.
    async fn send_fresh(
        &self,
        payer: &Payer,
        request: &TransactionRequest,
    ) -> Result<SentTransaction, WriteError> {
        const ATTEMPTS: u32 = 5;
        for attempt in 1..=ATTEMPTS {
            let nonce = retry_pruned_state(|| {
                payer
                    .provider
                    .get_transaction_count(payer.address)
                    .pending()
            })
            .await
            .map_err(unavailable)?;
            let request = request.clone().with_nonce(nonce);
            match payer.provider.send_transaction(request.clone()).await {
                Ok(pending) => {
                    return Ok(SentTransaction {
                        payer: payer.address,
                        nonce,
                        request,
                        hashes: vec![*pending.tx_hash()],
                    })
                }
                Err(e) if attempt < ATTEMPTS && is_pruned_state_race(&e.to_string()) => {
                    tracing::debug!(payer = %payer.address, error = %crate::redact::urls_in(&e.to_string()), "state pruned under the call; retrying");
                }
                Err(e) if attempt < ATTEMPTS && is_nonce_race(&e.to_string()) => {
                    tracing::debug!(payer = %payer.address, error = %crate::redact::urls_in(&e.to_string()), "nonce taken by another sender; retrying");
                    tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Another transaction took the nonce: the payer's mined count is past it, yet none of ours
    /// (all with that nonce) has a receipt. Then none of them can ever be mined.
    async fn nonce_taken_by_another(
        &self,
        payer: &Payer,
        sent: &SentTransaction,
    ) -> Result<bool, WriteError> {
        let mined =
            retry_pruned_state(|| payer.provider.get_transaction_count(payer.address).latest())
                .await
                .map_err(unavailable)?;
        if mined <= sent.nonce {
            return Ok(false);
        }
        for hash in &sent.hashes {
            if payer
                .provider
                .get_transaction_receipt(*hash)
                .await
                .map_err(unavailable)?
                .is_some()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Replaces the stuck transaction: same nonce and gas, fees × 1.25 (+1 wei) each time. Sent
    /// from what the outbox holds, so it also re-broadcasts a transaction the chain node lost.
    async fn resend(
        &self,
        payer: &Payer,
        sent: &mut SentTransaction,
        attempt: u32,
    ) -> Result<(), WriteError> {
        let bump = |fee: Option<u128>| fee.map(|fee| fee + fee / 4 + 1);
        sent.request.max_fee_per_gas = bump(sent.request.max_fee_per_gas);
        sent.request.max_priority_fee_per_gas = bump(sent.request.max_priority_fee_per_gas);
        let stuck = sent.hashes.last().copied();
        tracing::warn!(
            ?stuck,
            nonce = sent.nonce,
            attempt,
            "transaction not mined in time; re-sending with higher fees"
        );
        metrics::counter!("lit_node_chain_resends_total").increment(1);
        let pending = payer
            .provider
            .send_transaction(sent.request.clone())
            .await
            .map_err(unavailable)?;
        sent.hashes.push(*pending.tx_hash());
        Ok(())
    }

    /// Follows every transaction in the outbox — sent before a restart, or given up on by a
    /// write that answered `NotMined` — until it is mined or its nonce is taken, holding its
    /// payer meanwhile. Runs at start and then every `resend_after`, until `shutdown`.
    pub async fn follow_outbox(&self, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.follow_outbox_once() => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.config.resend_after) => {}
            }
        }
    }

    /// One pass over the outbox; returns how many transactions were settled (mined or replaced).
    pub async fn follow_outbox_once(&self) -> usize {
        let Some(store) = &self.outbox else {
            return 0;
        };
        let entries = match store.sent_transactions() {
            Ok(entries) => entries,
            Err(error) => {
                tracing::error!(%error, "cannot read the outbox");
                return 0;
            }
        };
        let mut settled = 0;
        for entry in entries {
            let Some(index) = self
                .pool
                .payers
                .iter()
                .position(|p| p.address == entry.payer)
            else {
                tracing::warn!(payer = %entry.payer, nonce = entry.nonce, "outbox transaction of a payer this node no longer has; left as is");
                continue;
            };
            let taken = self.pool.take_index(index).await;
            // A live write may have finished with it while we waited for the payer.
            let Ok(Some(entry)) = store.sent_transaction(&entry.payer, entry.nonce) else {
                continue;
            };
            let payer = &self.pool.payers[taken.index];
            let nonce = entry.nonce;
            match self.follow(payer, entry).await {
                Ok(Some(receipt)) => {
                    settled += 1;
                    tracing::info!(payer = %payer.address, nonce, tx = %receipt.transaction_hash, "an earlier transaction from the outbox was mined");
                }
                Ok(None) => {
                    settled += 1;
                    tracing::warn!(payer = %payer.address, nonce, "an earlier transaction from the outbox was replaced by another sender's");
                }
                Err(error) => {
                    tracing::warn!(payer = %payer.address, nonce, %error, "an earlier transaction is still not mined; following it again later")
                }
            }
        }
        settled
    }

    fn record(&self, sent: &SentTransaction) {
        if let Some(store) = &self.outbox {
            if let Err(error) = store.record_sent(sent) {
                tracing::error!(%error, payer = %sent.payer, nonce = sent.nonce, "cannot record a sent transaction in the outbox");
            }
        }
    }

    fn forget(&self, sent: &SentTransaction) {
        if let Some(store) = &self.outbox {
            if let Err(error) = store.forget_sent(&sent.payer, sent.nonce) {
                tracing::error!(%error, payer = %sent.payer, nonce = sent.nonce, "cannot remove a mined transaction from the outbox");
            }
        }
    }
}

/// Errors a node gives when the nonce was just used by another transaction.
fn is_nonce_race(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "nonce too low",
        "already known",
        "already imported",
        "replacement transaction underpriced",
        "nonce has already been used",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// anvil with `--prune-history` (the dev default) keeps only the newest state: a read that resolved
/// "latest" just before the next block was mined fails with `BlockOutOfRangeError` ("block height
/// is N but requested was N-1"). Nothing is wrong with the chain; the read is repeated.
fn is_pruned_state_race(message: &str) -> bool {
    message.contains("BlockOutOfRangeError")
}

/// Runs `call` again (up to 3 more times) while it fails with [`is_pruned_state_race`].
async fn retry_pruned_state<T, E, F, Fut>(mut call: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::IntoFuture<Output = Result<T, E>>,
{
    let mut retries = 0;
    loop {
        match call().await {
            Err(error) if retries < 3 && is_pruned_state_race(&error.to_string()) => retries += 1,
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `retry_pruned_state` over a call that fails `failures` times with `error`, then
    /// succeeds; returns the outcome and how many calls were made.
    async fn attempts(error: &str, failures: u32) -> (Result<u32, String>, u32) {
        let calls = std::cell::Cell::new(0);
        let outcome = retry_pruned_state(|| {
            calls.set(calls.get() + 1);
            let result = if calls.get() <= failures {
                Err(error.to_string())
            } else {
                Ok(7)
            };
            async move { result }
        })
        .await;
        (outcome, calls.get())
    }

    #[tokio::test]
    async fn reads_that_lost_their_state_to_pruning_are_repeated() {
        let race = "server returned an error response: error code -32602: BlockOutOfRangeError: \
                    block height is 83 but requested was 82";
        assert_eq!(attempts(race, 2).await, (Ok(7), 3));
        // Other errors are not retried; the race only a bounded number of times.
        assert_eq!(
            attempts("connection refused", 1).await,
            (Err("connection refused".into()), 1)
        );
        assert_eq!(attempts(race, 10).await, (Err(race.into()), 4));
    }
}
