//! Gathering concurrent writes into one transaction. Every write joins a waiting list and asks
//! for a payer. The write that gets one takes itself and the writes waiting behind it (up to
//! `max_batch_calls`) and sends them together through `LitRegistry.batch`; the others stop
//! waiting for a payer and get their answers from it. So a lone write on an idle chain is sent at
//! once and alone, as before, and under load one payer carries many writes per transaction.
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

use alloy::network::TransactionBuilder;
use alloy::primitives::Bytes;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolEventInterface, SolInterface};
use tokio::sync::oneshot;

use super::{
    unavailable, ChainWriter, Deadline, LitRegistryErrors, TakenPayer, WriteError, Written,
};
use crate::chain::bindings::LitRegistry;

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
        let taken = tokio::select! {
            taken = deadline.run(self.pool.take()) => taken,
            answered = &mut answer => return answered.unwrap_or_else(|_| Err(abandoned())),
        };
        let group = taken
            .as_ref()
            .and_then(|_| self.waiting.take_with(id, self.config.max_batch_calls));
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

    /// Sends `group` in one `batch` transaction and answers every write of it.
    async fn send_batch(&self, taken: TakenPayer<'_>, group: Vec<Pending>, deadline: Deadline) {
        metrics::histogram!("lit_node_batch_calls").record(group.len() as f64);
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
        match sending.len() {
            0 => {}
            1 => {
                let only = sending.pop().expect("one write");
                let _ = only
                    .reply
                    .send(self.send_input(taken, only.input, deadline).await);
            }
            _ => {
                let calls = sending.iter().map(|p| p.input.clone()).collect();
                let input = LitRegistry::batchCall { calls }.abi_encode().into();
                match self.send_input(taken, input, deadline).await {
                    Ok(written) => answer_each(sending, &written),
                    Err(error) => answer_all(sending, Err(error)),
                }
            }
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
