//! Gathering concurrent writes into one transaction. Every write joins a waiting list and waits
//! for the node's turn to prepare a batch (one at a time) and a payer. The write that gets both
//! takes itself and the writes waiting behind it (up to `max_batch_calls`, and what fits in the
//! block's gas) and sends them together through `LitRegistry.batch`, giving the turn back once the
//! transaction is broadcast; the others stop waiting and get their answers from it. So a lone
//! write on an idle chain is sent at once and alone, as before, and under load each transaction
//! carries every write that arrived while the previous one was being prepared.
//!
//! A batch is first run with `eth_call`: calls the registry would refuse are answered at once
//! (their decoded error, nothing sent) and left out. The rest go in one transaction, sent and
//! followed like any write (outbox, re-sends, mirror). Its receipt says what became of each call:
//! `batch` emits `BatchCallFinished(index, success, data)` after each one, and the events between
//! two markers are that call's, so every write gets its own outcome and its own events (a call
//! refused at mining time, after another change, gets its decoded error).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::Bytes;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolEventInterface, SolInterface};
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{
    gas_limit_for, unavailable, ChainWriter, Deadline, LitRegistryErrors, TakenPayer, WriteError,
    Written,
};
use crate::chain::bindings::LitRegistry;

/// A batch may use at most this share (1/n) of the block gas limit, so that it fits in a block
/// beside other transactions.
const BLOCK_GAS_SHARE: u64 = 2;
/// How long the block gas limit read from the chain is reused.
const BLOCK_GAS_TTL: Duration = Duration::from_secs(60);

/// What sizes batches: the chain's block gas limit and the gas calls were measured to need.
#[derive(Default)]
pub(super) struct Sizing {
    /// (when read, block gas limit).
    block_gas: Mutex<Option<(Instant, u64)>>,
    /// A moving average of the gas (limit) one call of a batch needs; 0 until a batch was
    /// estimated.
    gas_per_call: AtomicU64,
}

impl Sizing {
    /// The most gas one batch may use, when the block gas limit is known.
    fn gas_cap(&self) -> Option<u64> {
        let cached = *self.block_gas.lock().expect("not poisoned");
        cached.map(|(_, limit)| limit / BLOCK_GAS_SHARE)
    }

    /// Most calls the next batch may carry: `max_calls`, or fewer when the calls measured so
    /// far would not fit in the gas cap.
    fn calls_cap(&self, max_calls: usize) -> usize {
        let per_call = self.gas_per_call.load(Ordering::Relaxed);
        match self.gas_cap() {
            Some(cap) if per_call > 0 => ((cap / per_call) as usize).clamp(1, max_calls),
            _ => max_calls,
        }
    }

    fn measured(&self, gas: u64, calls: usize) {
        let sample = gas / calls.max(1) as u64;
        let old = self.gas_per_call.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 3 + sample) / 4
        };
        self.gas_per_call.store(new, Ordering::Relaxed);
    }

    /// (gas per call, block gas limit) once both are known: what the gas budget is counted in.
    fn block_budget(&self) -> Option<(u64, u64)> {
        let per_call = self.gas_per_call.load(Ordering::Relaxed);
        let block = self.gas_cap()? * BLOCK_GAS_SHARE;
        (per_call > 0).then_some((per_call, block))
    }

    fn stale(&self) -> bool {
        let cached = *self.block_gas.lock().expect("not poisoned");
        cached.is_none_or(|(at, _)| at.elapsed() >= BLOCK_GAS_TTL)
    }
}

type Reply = oneshot::Sender<Result<Written, WriteError>>;

/// A write waiting for a payer.
struct Pending {
    id: u64,
    input: Bytes,
    reply: Reply,
}

/// The writes waiting for a payer, oldest first.
#[derive(Default)]
pub(super) struct Waiting {
    queue: Mutex<VecDeque<Pending>>,
    next_id: AtomicU64,
}

impl Waiting {
    fn join(&self, input: Bytes) -> (u64, oneshot::Receiver<Result<Written, WriteError>>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.queue
            .lock()
            .expect("not poisoned")
            .push_back(Pending { id, input, reply });
        (id, answer)
    }

    /// Write `id` and up to `max - 1` writes waiting before or after it (oldest first), or
    /// `None` when another write already took `id` along.
    fn take_with(&self, id: u64, max: usize) -> Option<Vec<Pending>> {
        let mut queue = self.queue.lock().expect("not poisoned");
        let position = queue.iter().position(|p| p.id == id)?;
        let own = queue.remove(position).expect("found above");
        let mut group = vec![own];
        while group.len() < max {
            match queue.pop_front() {
                Some(other) => group.push(other),
                None => break,
            }
        }
        Some(group)
    }

    /// Leaves the list; `false` when another write took `id` along already.
    fn leave(&self, id: u64) -> bool {
        let mut queue = self.queue.lock().expect("not poisoned");
        match queue.iter().position(|p| p.id == id) {
            Some(position) => {
                queue.remove(position);
                true
            }
            None => false,
        }
    }
}

fn abandoned() -> WriteError {
    unavailable(
        "the transaction carrying this write was abandoned; check with a read before repeating it",
    )
}

impl ChainWriter {
    pub(super) async fn write_input(&self, input: Bytes) -> Result<Written, WriteError> {
        let deadline = Deadline::after(self.config.deadline);
        if self.config.max_batch_calls <= 1 {
            let taken = deadline
                .run(self.pool.take())
                .await
                .ok_or_else(|| self.payers_busy())?;
            return self.send_input(taken, input, deadline).await;
        }
        let (id, mut answer) = self.waiting.join(input);
        // To lead a batch, a write waits for the node's turn (one batch is prepared at a time:
        // the writes arriving while it is simulated and sent gather for the next one), a payer,
        // and room in the block beside what is in flight; then it takes as many waiting writes
        // as fit. Meanwhile another leader may take it along: its answer then comes from there.
        let lead = async {
            let turn = deadline.run(self.preparing.lock()).await?;
            let mut taken = deadline.run(self.pool.take()).await?;
            taken.turn = Some(turn);
            let most_calls = self.sizing.calls_cap(self.config.max_batch_calls);
            let Some((per_call, block)) = self.sizing.block_budget() else {
                return Some((taken, most_calls));
            };
            let room = self.gas_budget.room_for(per_call, most_calls, block);
            let (reserved, calls) = deadline.run(room).await?;
            taken.gas = Some(reserved);
            Some((taken, calls))
        };
        let (taken, calls) = tokio::select! {
            led = lead => led.map_or((None, 0), |(taken, calls)| (Some(taken), calls)),
            answered = &mut answer => return answered.unwrap_or_else(|_| Err(abandoned())),
        };
        let group = taken
            .as_ref()
            .and_then(|_| self.waiting.take_with(id, calls));
        let (Some(taken), Some(group)) = (taken, group) else {
            // No payer in time, or another write took this one along: its answer comes from there.
            if self.waiting.leave(id) {
                return Err(self.payers_busy());
            }
            return answer.await.unwrap_or_else(|_| Err(abandoned()));
        };
        if group.len() == 1 {
            let own = group.into_iter().next().expect("one write");
            return self.send_input(taken, own.input, deadline).await;
        }
        self.send_batch(taken, group, deadline).await;
        answer.await.unwrap_or_else(|_| Err(abandoned()))
    }

    /// Sends `group` in one `batch` transaction and answers every write of it. A group the
    /// chain cannot even simulate as a whole (more gas than a block holds) is halved, the second
    /// half going out from the next free payer.
    fn send_batch<'a>(
        &'a self,
        taken: TakenPayer<'a>,
        mut group: Vec<Pending>,
        deadline: Deadline,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let payer = &self.pool.payers[taken.index];
            let inputs: Vec<Bytes> = group.iter().map(|p| p.input.clone()).collect();
            let simulated = TransactionRequest::default()
                .with_from(payer.address)
                .with_to(self.registry)
                .with_input(LitRegistry::batchCall { calls: inputs }.abi_encode());
            let outcomes = match deadline.run(payer.provider.call(simulated)).await {
                Some(Ok(output)) => match LitRegistry::batchCall::abi_decode_returns(&output) {
                    Ok(results) => results,
                    Err(e) => {
                        return answer_all(
                            group,
                            Err(unavailable(format!("undecodable batch result: {e}"))),
                        )
                    }
                },
                Some(Err(e)) if e.is_error_resp() && group.len() > 1 => {
                    tracing::debug!(calls = group.len(), error = %e, "the batch cannot be simulated whole; halving it");
                    let rest = group.split_off(group.len() / 2);
                    return self
                        .in_two(taken, group, rest, deadline, Self::send_batch)
                        .await;
                }
                Some(Err(e)) => return answer_all(group, Err(unavailable(e))),
                None => {
                    return answer_all(
                        group,
                        Err(unavailable(
                            "the chain did not answer in time (simulating the batch)",
                        )),
                    )
                }
            };
            // Refused now: answered at once, never sent.
            let mut sending = Vec::with_capacity(group.len());
            for (pending, outcome) in group.into_iter().zip(outcomes) {
                if outcome.success {
                    sending.push(pending);
                } else {
                    let _ = pending.reply.send(Err(refusal(&outcome.data)));
                }
            }
            if !sending.is_empty() {
                self.send_calls(taken, sending, deadline).await;
            }
        })
    }

    /// Sends `calls` (each simulated to succeed) from the taken payer: one alone as itself,
    /// several as one `batch` transaction — split in two when it would need more gas than a
    /// batch may use, the second part going out from the next free payer.
    fn send_calls<'a>(
        &'a self,
        taken: TakenPayer<'a>,
        mut calls: Vec<Pending>,
        deadline: Deadline,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if calls.len() == 1 {
                let only = calls.pop().expect("one write");
                let _ = only
                    .reply
                    .send(self.send_input(taken, only.input, deadline).await);
                return;
            }
            let payer = &self.pool.payers[taken.index];
            let inputs = calls.iter().map(|p| p.input.clone()).collect();
            let input = LitRegistry::batchCall { calls: inputs }.abi_encode().into();
            let request = self.request_from(taken.index, input);
            if self.sizing.stale() {
                self.read_block_gas(payer, deadline).await;
            }
            let gas = match deadline.run(self.simulate(payer, &request)).await {
                Some(Ok(gas)) => gas,
                Some(Err(error)) => return answer_all(calls, Err(error)),
                None => {
                    return answer_all(
                        calls,
                        Err(unavailable(
                            "the chain did not answer in time (estimating the batch's gas)",
                        )),
                    )
                }
            };
            let limit = gas_limit_for(gas);
            if let Some(cap) = self.sizing.gas_cap().filter(|cap| limit > *cap) {
                let keep = (calls.len() as u64 * cap / limit) as usize;
                let rest = calls.split_off(keep.clamp(1, calls.len() - 1));
                return self
                    .in_two(taken, calls, rest, deadline, Self::send_calls)
                    .await;
            }
            self.sizing.measured(limit, calls.len());
            metrics::histogram!("lit_node_batch_calls").record(calls.len() as f64);
            match self.send_simulated(taken, request, gas, deadline).await {
                Ok(written) => answer_each(calls, &written),
                Err(error) => answer_all(calls, Err(error)),
            }
        })
    }

    /// Sends `first` from the taken payer and `rest` from the next free payer, both with `send`.
    async fn in_two<'a>(
        &'a self,
        taken: TakenPayer<'a>,
        first: Vec<Pending>,
        rest: Vec<Pending>,
        deadline: Deadline,
        send: fn(&'a Self, TakenPayer<'a>, Vec<Pending>, Deadline) -> BoxFuture<'a, ()>,
    ) {
        let later = async {
            match deadline.run(self.pool.take()).await {
                Some(next) => send(self, next, rest, deadline).await,
                None => answer_all(rest, Err(self.payers_busy())),
            }
        };
        futures_util::join!(send(self, taken, first, deadline), later);
    }

    /// Reads the chain's block gas limit into the batch sizing (left as it was on failure).
    async fn read_block_gas(&self, payer: &super::Payer, deadline: Deadline) {
        let latest = payer.provider.get_block_by_number(BlockNumberOrTag::Latest);
        match deadline.run(latest).await {
            Some(Ok(Some(block))) => {
                *self.sizing.block_gas.lock().expect("not poisoned") =
                    Some((Instant::now(), block.header.gas_limit));
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "cannot read the block gas limit; batches keep their size")
            }
            _ => {}
        }
    }
}

/// The registry's refusal in `data` (revert data of one call).
fn refusal(data: &[u8]) -> WriteError {
    match LitRegistryErrors::abi_decode(data) {
        Ok(decoded) => WriteError::Rejected(decoded),
        Err(_) => unavailable(format!(
            "the registry refused the call with undecodable data 0x{}",
            hex::encode(data)
        )),
    }
}

fn answer_all(group: Vec<Pending>, result: Result<Written, WriteError>) {
    for pending in group {
        let _ = pending.reply.send(result.clone());
    }
}

/// Splits a mined batch's events by its `BatchCallFinished` markers and answers each write.
fn answer_each(group: Vec<Pending>, written: &Written) {
    let mut own_logs = Vec::new();
    let mut outcomes = Vec::new();
    for log in &written.logs {
        match LitRegistry::LitRegistryEvents::decode_log(&log.inner).map(|l| l.data) {
            Ok(LitRegistry::LitRegistryEvents::BatchCallFinished(marker)) => {
                outcomes.push((marker.success, marker.data, std::mem::take(&mut own_logs)));
            }
            _ => own_logs.push(log.clone()),
        }
    }
    let mut outcomes = outcomes.into_iter();
    for pending in group {
        let result = match outcomes.next() {
            Some((true, _, logs)) => Ok(Written {
                logs,
                ..written.clone()
            }),
            Some((false, data, _)) => Err(refusal(&data)),
            None => Err(unavailable(format!(
                "batch transaction {} carries no outcome for this write",
                written.tx_hash
            ))),
        };
        let _ = pending.reply.send(result);
    }
}
