//! The writer's payers: each payer's connection, its transactions in flight and its nonce floor,
//! and the pool writes take a payer from (preferring one with nothing in flight).

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How long a payer's last transaction waits unmined before the payer sends the next one
/// ([`PayerPool::with_slot`]).
pub(super) const PIPELINE_AFTER: Duration = Duration::from_millis(250);

pub(super) struct Payer {
    pub(super) address: Address,
    pub(super) wallet: EthereumWallet,
    pub(super) provider: DynProvider,
    /// A permit per transaction sent and not yet mined (or given up on).
    pub(super) in_flight: Semaphore,
    /// The nonce after the last one this node broadcast for the payer (0: none yet).
    pub(super) next_nonce: AtomicU64,
    /// When this node last broadcast a new transaction for the payer.
    pub(super) last_sent: Mutex<Instant>,
}

/// Payers not currently sending; a permit of `available` is held while one is taken.
pub(super) struct PayerPool {
    pub(super) payers: Vec<Payer>,
    pub(super) idle: Mutex<Vec<usize>>,
    pub(super) available: Semaphore,
    /// [`WriterConfig::max_in_flight`].
    pub(super) max_in_flight: usize,
}

/// A payer taken from the pool, with room for one more transaction in flight; returned on drop.
pub(super) struct TakenPayer<'a> {
    pub(super) pool: &'a PayerPool,
    pub(super) index: usize,
    pub(super) _permit: tokio::sync::SemaphorePermit<'a>,
    /// The in-flight slot the next transaction holds until it is mined (or given up on).
    pub(super) slot: Option<tokio::sync::SemaphorePermit<'a>>,
    /// Gas reserved for the next transaction while the payer waited for room in the block.
    pub(super) gas: Option<super::gas_budget::Reservation<'a>>,
    /// The node's turn to prepare a batch (see `writer/gather.rs`), given back with the payer.
    pub(super) turn: Option<tokio::sync::MutexGuard<'a, ()>>,
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
    pub(super) async fn take_index(&self, index: usize) -> TakenPayer<'_> {
        loop {
            let permit = self
                .available
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let found = {
                let mut idle = self.idle.lock().expect("not poisoned");
                let position = idle.iter().position(|i| *i == index);
                position.map(|position| idle.remove(position)).is_some()
            };
            if found {
                return self.with_slot(self.taken(index, permit)).await;
            }
            drop(permit);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The payer at `index`, just taken from the idle list under `permit`.
    pub(super) fn taken<'a>(
        &'a self,
        index: usize,
        permit: tokio::sync::SemaphorePermit<'a>,
    ) -> TakenPayer<'a> {
        TakenPayer {
            pool: self,
            index,
            _permit: permit,
            slot: None,
            gas: None,
            turn: None,
        }
    }

    /// Waits (holding the payer) until it has room for one more transaction in flight. A payer
    /// with transactions in flight sends the next one only once its last has waited
    /// [`PIPELINE_AFTER`] unmined (or when all of them are mined): on a chain that mines at once,
    /// waiting for the receipt gathers more writes into the next batch; on one with slow blocks,
    /// the payer goes on sending meanwhile.
    pub(super) async fn with_slot<'a>(&'a self, mut taken: TakenPayer<'a>) -> TakenPayer<'a> {
        let payer = &self.payers[taken.index];
        let busy = payer.in_flight.available_permits() < self.max_in_flight;
        if busy {
            let pipeline_at = *payer.last_sent.lock().expect("not poisoned") + PIPELINE_AFTER;
            let all = self.max_in_flight as u32;
            tokio::select! {
                all_mined = payer.in_flight.acquire_many(all) => drop(all_mined),
                _ = tokio::time::sleep_until(pipeline_at) => {}
            }
        }
        let slot = payer
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        taken.slot = Some(slot);
        taken
    }

    pub(super) async fn take(&self) -> TakenPayer<'_> {
        let permit = self
            .available
            .acquire()
            .await
            .expect("the semaphore is never closed");
        // The most recently returned payer with nothing in flight, else the most recently
        // returned one (which then waits in `with_slot`).
        let index = {
            let mut idle = self.idle.lock().expect("not poisoned");
            let free = idle
                .iter()
                .rposition(|&i| self.payers[i].in_flight.available_permits() == self.max_in_flight);
            let at = free.unwrap_or(idle.len() - 1);
            idle.remove(at)
        };
        self.with_slot(self.taken(index, permit)).await
    }
}
