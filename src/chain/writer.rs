//! The chain writer: sends the node's registry transactions from a pool of payer accounts.
//!
//! Each write takes an idle payer, simulates the call (`eth_estimateGas`, which also gives the
//! gas limit) so a call the contract would reject is answered with its decoded custom error and
//! costs nothing, signs it with fees cached for a second (one fee query per second, not per
//! write) and the payer's next nonce, records it in the outbox and broadcasts it. The payer is
//! given back as soon as the transaction is out, so a payer has several transactions in flight
//! (consecutive nonces) while the write waits for its receipt (re-sending with bumped fees when
//! it sits unmined, at once when the chain node dropped it), checks the status, and finally
//! waits until the node's own mirror has applied that block, so a read right after a write sees
//! it. Under load, writes waiting for a payer share one transaction (`writer/gather.rs`).
//!
//! A write has a total deadline ([`WriterConfig::deadline`], set below the HTTP request timeout),
//! checked at every wait — for a payer, every RPC call (alloy's HTTP client has no timeout of its
//! own), receipt polling, the mirror — so the caller always gets an answer saying what is known:
//! nothing sent ([`WriteError::Unavailable`]), sent but not mined ([`WriteError::NotMined`]),
//! mined but not yet mirrored ([`WriteError::MirrorBehind`]).
//!
//! Every signed transaction is recorded in the store's outbox (payer, nonce, request, hashes)
//! before it is broadcast, and [`ChainWriter::follow_outbox`] keeps following what a restart or
//! a timed-out write left there: re-sending it if stuck, and once mined, watching its block until
//! it is [`WriterConfig::reorg_depth`] deep — a transaction reorged out before that is sent again.
//! Nonces are read from the chain per send, since nodes sharing a root secret share payers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::consensus::TxEnvelope;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, TxHash};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use tokio::sync::{OnceCell, Semaphore};
use tokio::time::Instant;

use super::applied_blocks::AppliedBlocks;
use super::bindings::LitRegistry::LitRegistryErrors;
use crate::store::outbox::{MinedAt, SentTransaction};
use crate::store::Store;

mod balances;
mod gas_budget;
mod gather;
mod outbox_pass;
mod payer_pool;

use payer_pool::{Payer, PayerPool, TakenPayer};

pub use balances::TopUp;

/// Why a write did not happen. The API maps each to a status (see `api::error`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The contract refuses the call (found by simulation; nothing was sent).
    #[error("the registry refused the call: {0:?}")]
    Rejected(LitRegistryErrors),
    /// The transaction was mined but reverted.
    #[error("transaction {0} was mined but reverted")]
    Reverted(TxHash),
    /// Nothing was sent: the chain cannot be reached, did not answer in time, refused the
    /// transaction for a reason other than the contract's rules, or no payer became free.
    #[error("the chain is unavailable: {0}")]
    Unavailable(String),
    /// Sent (and followed from the outbox), but not mined before the deadline.
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
    /// The most a write may take in all; it then answers with what is known. Keep it below the
    /// HTTP request timeout ([`WriterConfig::for_node`]).
    pub deadline: Duration,
    /// A mined transaction stays in the outbox until its block is this many blocks deep (and is
    /// sent again if reorged out before); 0 forgets it at its first receipt.
    pub reorg_depth: u64,
    /// Writes waiting for a payer are sent together, up to this many in one `batch` transaction
    /// (see `writer/gather.rs`); 1 sends every write alone.
    pub max_batch_calls: usize,
    /// Transactions one payer may have sent and not yet seen mined (consecutive nonces); 1 holds
    /// a payer from sending until its receipt. Chain nodes cap an account's pending transactions
    /// (geth: 16 by default).
    pub max_in_flight: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            resend_after: Duration::from_secs(30),
            max_resends: 4,
            mirror_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(115),
            reorg_depth: 0,
            max_batch_calls: 1,
            max_in_flight: 16,
        }
    }
}

impl WriterConfig {
    /// A node's writer: writes end a margin (a quarter of the request timeout, at most 5 s)
    /// before the HTTP request timeout, so the client gets the writer's answer rather than a
    /// bare timeout; mined transactions are followed `reorg_depth` blocks deep, as the mirror.
    pub fn for_node(request_timeout: Duration, reorg_depth: u64) -> Self {
        let margin = (request_timeout / 4).min(Duration::from_secs(5));
        Self {
            deadline: request_timeout - margin,
            reorg_depth,
            ..Self::default()
        }
    }
}

/// A successful write.
#[derive(Debug, Clone)]
pub struct Written {
    pub tx_hash: TxHash,
    pub block_number: u64,
    pub receipt: TransactionReceipt,
    /// The events of this write: the whole receipt's for a write sent alone, its own share of
    /// them for a write sent in a batch.
    pub logs: Vec<alloy::rpc::types::Log>,
}

/// When a write (or one outbox pass over a transaction) must be done.
#[derive(Debug, Clone, Copy)]
struct Deadline(Instant);

impl Deadline {
    fn after(duration: Duration) -> Self {
        Self(Instant::now() + duration)
    }

    /// Runs `step` unless the deadline passes first (`None`).
    async fn run<F: std::future::IntoFuture>(self, step: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.0, step.into_future())
            .await
            .ok()
    }

    fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// What following a nonce's transactions found.
enum Followed {
    Mined(Box<TransactionReceipt>),
    /// Another sender for the payer took the nonce: none of ours can be mined.
    Replaced,
}

pub struct ChainWriter {
    pool: PayerPool,
    registry: Address,
    mirror: Arc<dyn AppliedBlocks>,
    config: WriterConfig,
    chain_id: OnceCell<u64>,
    /// (when fetched, max fee per gas, max priority fee per gas).
    fees: Mutex<Option<(Instant, u128, u128)>>,
    /// Where sent transactions are recorded until deep (`None`: not recorded).
    outbox: Option<Store>,
    /// Refills payers from the admin payer (`None`: operators fund payers themselves).
    top_up: Option<TopUp>,
    /// Writes waiting for a payer, which the next write to get one may send along.
    waiting: gather::Waiting,
    /// What sizes batches (block gas limit, gas per call).
    sizing: gather::Sizing,
    /// Gas of the transactions in flight (see `writer/gas_budget.rs`).
    gas_budget: gas_budget::GasBudget,
    /// Held by the write preparing a batch, from taking a payer to broadcasting.
    preparing: tokio::sync::Mutex<()>,
}

/// Where an unmined transaction is ([`ChainWriter::whereabouts`]).
enum Whereabouts {
    Pending,
    Replaced,
    Dropped,
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

/// The chain did not answer `step` before the deadline (nothing was sent yet).
fn too_slow(step: &str) -> WriteError {
    unavailable(format!("the chain did not answer in time ({step})"))
}

impl ChainWriter {
    pub fn new(
        rpc_url: &str,
        payers: Vec<PrivateKeySigner>,
        registry: Address,
        mirror: impl AppliedBlocks,
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
                wallet: EthereumWallet::from(signer),
                // No fillers: the writer sets nonce, gas and fees itself, reading the nonce from
                // the chain for every send (alloy's default nonce cache goes stale as soon as
                // another node sends for the same payer), and signs before broadcasting.
                provider: ProviderBuilder::new()
                    .disable_recommended_fillers()
                    .connect_http(url.clone())
                    .erased(),
                in_flight: Semaphore::new(config.max_in_flight.max(1)),
                next_nonce: AtomicU64::new(0),
                last_sent: Mutex::new(Instant::now()),
            })
            .collect();
        let count = payers.len();
        Ok(Self {
            pool: PayerPool {
                idle: Mutex::new((0..count).rev().collect()),
                available: Semaphore::new(count),
                max_in_flight: config.max_in_flight.max(1),
                payers,
            },
            registry,
            mirror: Arc::new(mirror),
            config,
            chain_id: OnceCell::new(),
            fees: Mutex::new(None),
            outbox: None,
            top_up: None,
            waiting: gather::Waiting::default(),
            sizing: gather::Sizing::default(),
            gas_budget: gas_budget::GasBudget::default(),
            preparing: tokio::sync::Mutex::new(()),
        })
    }

    /// Records every sent transaction in `store`'s outbox until it is deep, so that
    /// [`ChainWriter::follow_outbox`] can follow it after a restart or a reorg.
    pub fn with_outbox(mut self, store: Store) -> Self {
        self.outbox = Some(store);
        self
    }

    /// Number of payers (maximum concurrent writes).
    pub fn payer_count(&self) -> usize {
        self.pool.payers.len()
    }

    /// Simulates, sends and confirms `call` to the registry; returns once the mirror has it, or
    /// with what is known when [`WriterConfig::deadline`] passes. Under load it may share a
    /// transaction with other writes (see `writer/gather.rs`); its answer is its own either way.
    pub async fn write<C: SolCall>(&self, call: &C) -> Result<Written, WriteError> {
        self.write_input(call.abi_encode().into()).await
    }

    fn payers_busy(&self) -> WriteError {
        unavailable(format!(
            "all {} payers of this node stayed busy",
            self.pool.payers.len()
        ))
    }

    /// Sends `input` (one registry call) from the taken payer: simulate, send, follow, check,
    /// wait for the mirror.
    async fn send_input(
        &self,
        taken: TakenPayer<'_>,
        input: alloy::primitives::Bytes,
        deadline: Deadline,
    ) -> Result<Written, WriteError> {
        let request = self.request_from(taken.index, input);
        let gas = deadline
            .run(self.simulate(&self.pool.payers[taken.index], &request))
            .await
            .ok_or_else(|| too_slow("simulating the call"))??;
        self.send_simulated(taken, request, gas, deadline).await
    }

    /// A call of the registry from the payer at `index`.
    fn request_from(&self, index: usize, input: alloy::primitives::Bytes) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(self.pool.payers[index].address)
            .with_to(self.registry)
            .with_input(input)
    }

    /// Sends `request` (simulated: it needs `gas`) from the taken payer, which is given back as
    /// soon as the transaction is broadcast — the payer's next transaction can go out with the
    /// next nonce while this one waits to be mined — then follows it, checks it and waits for
    /// the mirror.
    async fn send_simulated(
        &self,
        taken: TakenPayer<'_>,
        request: TransactionRequest,
        mut gas: u64,
        deadline: Deadline,
    ) -> Result<Written, WriteError> {
        let index = taken.index;
        let payer = &self.pool.payers[index];
        let mut taken = Some(taken);
        // A transaction of ours can be replaced by another node sending for the same payer
        // with the same nonce; it was then never mined, so the write is done again.
        let mut attempt = 1;
        let receipt = loop {
            let mut holding = match taken.take() {
                Some(holding) => holding,
                None => {
                    let holding = deadline
                        .run(self.pool.take_index(index))
                        .await
                        .ok_or_else(|| self.payers_busy())?;
                    gas = deadline
                        .run(self.simulate(payer, &request))
                        .await
                        .ok_or_else(|| too_slow("simulating the call"))??;
                    holding
                }
            };
            let (max_fee, priority_fee) = deadline
                .run(self.fees(payer))
                .await
                .ok_or_else(|| too_slow("estimating fees"))??;
            let ready = request
                .clone()
                .with_gas_limit(gas_limit_for(gas))
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(priority_fee);
            let _slot = holding.slot.take();
            let _gas = match holding.gas.take() {
                Some(mut reserved) => {
                    reserved.resize(gas_limit_for(gas));
                    reserved
                }
                None => self.gas_budget.reserve(gas_limit_for(gas)),
            };
            let sent = self.send_fresh(payer, ready, deadline).await?;
            drop(holding);
            match self.follow(payer, sent, deadline).await? {
                Followed::Mined(receipt) => break *receipt,
                Followed::Replaced if attempt < MAX_DROPPED_ATTEMPTS => {
                    tracing::warn!(payer = %payer.address, attempt, "our transaction was replaced by another sender for this payer; writing again");
                    attempt += 1;
                }
                Followed::Replaced => return Err(unavailable(
                    "transactions kept being replaced by another sender using this node's payers",
                )),
            }
        };

        let tx_hash = receipt.transaction_hash;
        if !receipt.status() {
            return Err(WriteError::Reverted(tx_hash));
        }
        let block_number = receipt
            .block_number
            .expect("followed receipts have a block number");
        metrics::counter!("lit_node_chain_transactions_total").increment(1);
        let mirror_wait = self.config.mirror_timeout.min(deadline.remaining());
        if !self
            .mirror
            .wait_until_applied(block_number, mirror_wait)
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
            logs: receipt.inner.logs().to_vec(),
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

    /// Signs `request` (chain id, nonce and hash set), without sending it.
    async fn sign(
        &self,
        payer: &Payer,
        request: TransactionRequest,
    ) -> Result<TxEnvelope, WriteError> {
        let chain_id = *self
            .chain_id
            .get_or_try_init(|| async { payer.provider.get_chain_id().await })
            .await
            .map_err(unavailable)?;
        request
            .with_chain_id(chain_id)
            .build(&payer.wallet)
            .await
            .map_err(|e| unavailable(format!("cannot sign the transaction: {e}")))
    }

    /// Sends `request` with the payer's current pending nonce: signed, recorded in the outbox,
    /// then broadcast. When another sender took that nonce in the meantime (same payer on another
    /// node), reads it again and retries. An outbox entry already holding that nonce is a
    /// transaction of ours the chain lost (reorged out, or dropped from the pool): it is sent
    /// again first, never overwritten.
    async fn send_fresh(
        &self,
        payer: &Payer,
        request: TransactionRequest,
        deadline: Deadline,
    ) -> Result<SentTransaction, WriteError> {
        const ATTEMPTS: u32 = 5;
        for attempt in 1..=ATTEMPTS {
            let on_chain = deadline
                .run(retry_pruned_state(|| {
                    payer
                        .provider
                        .get_transaction_count(payer.address)
                        .pending()
                }))
                .await
                .ok_or_else(|| too_slow("reading the payer's nonce"))?
                .map_err(unavailable)?;
            // The chain's pending count can lag our own transactions in flight (anvil, as it
            // mines a block, briefly counts neither the pool nor the block), so the nonce never
            // goes below what this node sent.
            let sent_up_to = payer.next_nonce.load(Ordering::Relaxed);
            if self
                .resend_lost(payer, on_chain, on_chain < sent_up_to, deadline)
                .await
            {
                continue;
            }
            let nonce = on_chain.max(sent_up_to);
            let signed = deadline
                .run(self.sign(payer, request.clone().with_nonce(nonce)))
                .await
                .ok_or_else(|| too_slow("signing"))??;
            let sent = SentTransaction {
                payer: payer.address,
                nonce,
                request: request.clone().with_nonce(nonce),
                hashes: vec![*signed.tx_hash()],
                mined: None,
            };
            self.record(&sent);
            let Some(broadcast) = deadline.run(payer.provider.send_tx_envelope(signed)).await
            else {
                // It may have reached the chain: it is in the outbox and followed from there.
                return Err(WriteError::NotMined(sent.hashes[0]));
            };
            let error = match broadcast {
                Ok(_) => {
                    tracing::debug!(payer = %payer.address, nonce, on_chain, sent_up_to, tx = %sent.hashes[0], "sent");
                    payer.next_nonce.fetch_max(nonce + 1, Ordering::Relaxed);
                    *payer.last_sent.lock().expect("not poisoned") = Instant::now();
                    return Ok(sent);
                }
                Err(error) => error,
            };
            if !error.is_error_resp() {
                // A transport failure: it may have been sent; the outbox follows it.
                tracing::warn!(payer = %payer.address, nonce, %error, "broadcast failed; the outbox follows the transaction");
                return Err(WriteError::NotMined(sent.hashes[0]));
            }
            // The chain refused it: nothing was sent.
            self.forget(&sent);
            let message = error.to_string();
            if attempt < ATTEMPTS && is_pruned_state_race(&message) {
                tracing::debug!(payer = %payer.address, %error, "state pruned under the call; retrying");
            } else if attempt < ATTEMPTS && is_nonce_race(&message) {
                tracing::debug!(payer = %payer.address, %error, "nonce taken by another sender; retrying");
                tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
            } else {
                return Err(unavailable(error));
            }
        }
        Err(unavailable(
            "the payer's nonce kept being taken by other senders",
        ))
    }

    /// If the outbox holds a transaction of the payer at `nonce` — the payer's pending nonce on
    /// chain — that the chain node does not know any more (reorged out, or lost before a
    /// restart), sends it again (bumped fees) and returns true; the outbox pass follows it from
    /// there. `lagging`: this node has sent past `nonce` (the count lags, see `send_fresh`).
    async fn resend_lost(
        &self,
        payer: &Payer,
        nonce: u64,
        lagging: bool,
        deadline: Deadline,
    ) -> bool {
        let Some(store) = &self.outbox else {
            return false;
        };
        let Ok(Some(mut lost)) = store.sent_transaction(&payer.address, nonce) else {
            return false;
        };
        // Sent by this node and not seen mined yet: its write (or the outbox pass) follows it and
        // sends it again if the chain node dropped it.
        if lost.mined.is_none() && lagging {
            return false;
        }
        // The pending count may just lag a transaction being mined: lost only if the chain node
        // knows none of its hashes (neither mined nor in its pool).
        if !matches!(
            deadline.run(self.known_to_chain(payer, &lost)).await,
            Some(Ok(false))
        ) {
            return false;
        }
        tracing::warn!(payer = %payer.address, nonce, "a transaction of ours at this nonce is no longer on chain (reorged out or dropped); sending it again first");
        lost.mined = None;
        match deadline.run(self.resend(payer, &mut lost, 0)).await {
            Some(Ok(())) | None => true,
            Some(Err(error)) => {
                tracing::error!(payer = %payer.address, nonce, %error, "cannot send a lost transaction again; it is given up");
                self.forget(&lost);
                // Its nonce is free again: the next transaction takes it, leaving no gap.
                payer.next_nonce.fetch_min(nonce, Ordering::Relaxed);
                true
            }
        }
    }

    /// Polls for the receipt of every transaction sent for the nonce (the original and its
    /// replacements: whichever is mined wins). When none is mined within `resend_after`,
    /// re-sends the same nonce with fees bumped by 25%, up to `max_resends` times. Receipts are
    /// polled rather than watched from new blocks: with instant mining a transaction can be in
    /// a block before any watcher is registered. RPC failures are retried until the deadline.
    /// A mined transaction's block is recorded in the outbox (forgotten at once with
    /// `reorg_depth` 0, or when it reverted); a replaced one is forgotten. `NotMined` once the
    /// deadline passes or the re-sends are used up; the entry then stays in the outbox.
    async fn follow(
        &self,
        payer: &Payer,
        mut sent: SentTransaction,
        deadline: Deadline,
    ) -> Result<Followed, WriteError> {
        let mut resends = 0;
        let mut resend_at = Instant::now() + self.config.resend_after;
        let mut pause = Duration::from_millis(10);
        let mut nonce_check_at = Instant::now() + NONCE_CHECK_AFTER;
        // The last check found none of our transactions known to the chain node.
        let mut unknown = false;
        let not_mined = |sent: &SentTransaction| {
            WriteError::NotMined(*sent.hashes.last().expect("at least one was sent"))
        };
        loop {
            match deadline.run(self.receipt_of(payer, &sent)).await {
                None => return Err(not_mined(&sent)),
                Some(Ok(Some(receipt))) => {
                    self.mined(&mut sent, &receipt);
                    return Ok(Followed::Mined(Box::new(receipt)));
                }
                Some(Ok(None)) => {}
                Some(Err(error)) => {
                    tracing::debug!(payer = %payer.address, nonce = sent.nonce, %error, "cannot poll for the receipt; retrying")
                }
            }
            if Instant::now() >= nonce_check_at {
                let whereabouts = deadline.run(self.whereabouts(payer, &sent)).await;
                let unknown_before = std::mem::replace(
                    &mut unknown,
                    matches!(whereabouts, Some(Ok(Whereabouts::Dropped))),
                );
                match whereabouts {
                    None => return Err(not_mined(&sent)),
                    Some(Ok(Whereabouts::Pending)) => {}
                    Some(Ok(Whereabouts::Replaced)) => {
                        self.forget(&sent);
                        return Ok(Followed::Replaced);
                    }
                    // Dropped from the chain node's pool: it would hold up the payer's later
                    // nonces, so it is sent again at once rather than at `resend_after`.
                    // (Seen twice in a row: anvil briefly knows neither the pool's nor the
                    // block's copy of a transaction it is mining.)
                    Some(Ok(Whereabouts::Dropped)) if unknown_before => resend_at = Instant::now(),
                    Some(Ok(Whereabouts::Dropped)) => {}
                    Some(Err(error)) => {
                        tracing::debug!(payer = %payer.address, %error, "cannot check the payer's nonce; retrying")
                    }
                }
                nonce_check_at = Instant::now() + NONCE_CHECK_AFTER;
            }
            if Instant::now() >= resend_at {
                if resends >= self.config.max_resends {
                    return Err(not_mined(&sent));
                }
                resends += 1;
                match deadline.run(self.resend(payer, &mut sent, resends)).await {
                    None => return Err(not_mined(&sent)),
                    Some(Ok(())) => {}
                    // The nonce was used meanwhile (by one of ours, found by the next poll, or
                    // by another sender, found by the nonce check).
                    Some(Err(WriteError::Unavailable(message))) if is_nonce_race(&message) => {}
                    // The transactions sent before are still out there; keep following them.
                    Some(Err(error)) => {
                        tracing::warn!(payer = %payer.address, nonce = sent.nonce, %error, "re-sending failed; still following what was sent")
                    }
                }
                resend_at = Instant::now() + self.config.resend_after;
            }
            if deadline.run(tokio::time::sleep(pause)).await.is_none() {
                return Err(not_mined(&sent));
            }
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// The receipt (with a block) of any transaction sent for the nonce, newest first.
    async fn receipt_of(
        &self,
        payer: &Payer,
        sent: &SentTransaction,
    ) -> Result<Option<TransactionReceipt>, WriteError> {
        for hash in sent.hashes.iter().rev() {
            let receipt = payer
                .provider
                .get_transaction_receipt(*hash)
                .await
                .map_err(unavailable)?;
            if let Some(receipt) = receipt.filter(|r| r.block_number.is_some()) {
                return Ok(Some(receipt));
            }
        }
        Ok(None)
    }

    /// Records where `sent` was mined, or forgets it when there is nothing to watch for (no
    /// reorg depth, or it reverted: nothing was promised).
    fn mined(&self, sent: &mut SentTransaction, receipt: &TransactionReceipt) {
        match (receipt.block_number, receipt.block_hash) {
            (Some(block_number), Some(block_hash))
                if self.config.reorg_depth > 0 && receipt.status() =>
            {
                sent.mined = Some(MinedAt {
                    tx_hash: receipt.transaction_hash,
                    block_number,
                    block_hash,
                });
                self.record(sent);
            }
            _ => self.forget(sent),
        }
    }

    /// Where an unmined transaction of ours stands: another transaction took the nonce (the
    /// payer's mined count is past it, yet none of ours — all with that nonce — has a receipt,
    /// so none can ever be mined), or the chain node no longer knows any of ours (dropped from
    /// its pool), or it is still waiting.
    async fn whereabouts(
        &self,
        payer: &Payer,
        sent: &SentTransaction,
    ) -> Result<Whereabouts, WriteError> {
        let mined =
            retry_pruned_state(|| payer.provider.get_transaction_count(payer.address).latest())
                .await
                .map_err(unavailable)?;
        if mined > sent.nonce {
            return Ok(if self.receipt_of(payer, sent).await?.is_none() {
                Whereabouts::Replaced
            } else {
                Whereabouts::Pending // mined meanwhile: the next receipt poll finds it
            });
        }
        Ok(if self.known_to_chain(payer, sent).await? {
            Whereabouts::Pending
        } else {
            Whereabouts::Dropped
        })
    }

    /// Whether the chain node knows any transaction sent for the nonce, mined or in its pool.
    async fn known_to_chain(
        &self,
        payer: &Payer,
        sent: &SentTransaction,
    ) -> Result<bool, WriteError> {
        for hash in sent.hashes.iter().rev() {
            let known = payer
                .provider
                .get_transaction_by_hash(*hash)
                .await
                .map_err(unavailable)?;
            if known.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Replaces the stuck (or lost) transaction: same nonce and gas, fees × 1.25 (+1 wei) each
    /// time. Signed from what the outbox holds and recorded before it is broadcast, so it also
    /// re-broadcasts a transaction the chain node lost.
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
            "transaction not mined (or no longer on chain); re-sending with higher fees"
        );
        metrics::counter!("lit_node_chain_resends_total").increment(1);
        let signed = self.sign(payer, sent.request.clone()).await?;
        sent.hashes.push(*signed.tx_hash());
        self.record(sent);
        let _pending = payer
            .provider
            .send_tx_envelope(signed)
            .await
            .map_err(unavailable)?;
        Ok(())
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
                tracing::error!(%error, payer = %sent.payer, nonce = sent.nonce, "cannot remove a transaction from the outbox");
            }
        }
    }
}

/// The gas limit a transaction is sent with: its estimate and a fifth more (the state may change
/// between simulation and mining).
fn gas_limit_for(estimate: u64) -> u64 {
    estimate + estimate / 5
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

/// anvil with `--prune-history` and no count keeps only the newest state: a read that resolved
/// "latest" just before the next block was mined fails with `BlockOutOfRangeError` ("block height
/// is N but requested was N-1"). Nothing is wrong with the chain; the read is repeated. (The dev
/// default keeps 64 states, so this guards operators' own anvil settings.)
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

impl super::registry_writes::RegistryWrites for ChainWriter {
    fn write_input(
        &self,
        input: alloy::primitives::Bytes,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Written, WriteError>> + Send + '_>>
    {
        Box::pin(ChainWriter::write_input(self, input))
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

    #[test]
    fn a_nodes_writes_end_before_its_request_timeout() {
        let deadline = |secs| WriterConfig::for_node(Duration::from_secs(secs), 64).deadline;
        assert_eq!(deadline(120), Duration::from_secs(115), "at most 5 s early");
        assert_eq!(deadline(8), Duration::from_secs(6), "a quarter early");
        assert_eq!(deadline(1), Duration::from_millis(750));
        assert_eq!(
            WriterConfig::for_node(Duration::from_secs(120), 64).reorg_depth,
            64
        );
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
