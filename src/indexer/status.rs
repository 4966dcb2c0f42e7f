//! The mirror's observable state, shared with the API: applied block (with a waiter for
//! read-your-writes), chain head, lag, RPC reachability, and the health verdict for `/health`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use super::IndexerError;

struct Shared {
    head: AtomicU64,
    last_rpc_ok: Mutex<Instant>,
    last_error: Mutex<Option<String>>,
    max_lag_blocks: u64,
    max_rpc_silence: Duration,
    /// Wakes the indexer before its next poll: a new head (WebSocket), or a writer that saw its
    /// transaction mined and waits for the block.
    wake: Arc<Notify>,
}

/// Cheap-to-clone view of the mirror's progress.
#[derive(Clone)]
pub struct MirrorHandle {
    applied: Arc<watch::Sender<u64>>,
    shared: Arc<Shared>,
}

/// The verdict `/health` serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorHealth {
    Ok {
        applied: u64,
        head: u64,
    },
    Unhealthy {
        reason: String,
        applied: u64,
        head: u64,
    },
}

impl MirrorHandle {
    pub(super) fn new(applied: u64, max_lag_blocks: u64, max_rpc_silence: Duration) -> Self {
        let (sender, _) = watch::channel(applied);
        Self {
            applied: Arc::new(sender),
            shared: Arc::new(Shared {
                head: AtomicU64::new(applied),
                last_rpc_ok: Mutex::new(Instant::now()),
                last_error: Mutex::new(None),
                max_lag_blocks,
                max_rpc_silence,
                wake: Arc::new(Notify::new()),
            }),
        }
    }

    /// A handle with no indexer behind it, at block `applied` and never lagging (for running the
    /// API in process, without a chain).
    pub fn standalone(applied: u64) -> Self {
        Self::new(applied, u64::MAX, Duration::MAX)
    }

    pub(super) fn record_head(&self, head: u64) {
        self.shared.head.store(head, Ordering::SeqCst);
        *self.shared.last_rpc_ok.lock().expect("not poisoned") = Instant::now();
        *self.shared.last_error.lock().expect("not poisoned") = None;
        metrics::gauge!("lit_node_chain_head_block").set(head as f64);
        self.export_lag();
    }

    pub(super) fn record_applied(&self, block: u64, events: u64) {
        self.applied.send_replace(block);
        metrics::gauge!("lit_node_mirror_applied_block").set(block as f64);
        metrics::counter!("lit_node_mirror_events_total").increment(events);
        self.export_lag();
    }

    pub(super) fn record_rollback(&self, block: u64) {
        self.applied.send_replace(block);
        metrics::counter!("lit_node_mirror_reorgs_total").increment(1);
        self.export_lag();
    }

    pub(super) fn record_error(&self, error: &IndexerError) {
        *self.shared.last_error.lock().expect("not poisoned") = Some(error.to_string());
    }

    fn export_lag(&self) {
        metrics::gauge!("lit_node_mirror_lag_blocks").set(self.lag_blocks() as f64);
    }

    /// The last block the mirror applied.
    pub fn applied_block(&self) -> u64 {
        *self.applied.borrow()
    }

    pub fn head_block(&self) -> u64 {
        self.shared.head.load(Ordering::SeqCst)
    }

    pub fn lag_blocks(&self) -> u64 {
        self.head_block().saturating_sub(self.applied_block())
    }

    /// Waits until the mirror has applied `block` (read-your-writes for the API's writes).
    /// Returns false on timeout.
    pub async fn wait_until_applied(&self, block: u64, timeout: Duration) -> bool {
        let mut receiver = self.applied.subscribe();
        if *receiver.borrow() < block {
            // Someone saw `block` mined: apply it now rather than at the next poll.
            self.shared.wake.notify_one();
        }
        tokio::time::timeout(timeout, receiver.wait_for(|applied| *applied >= block))
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false)
    }

    /// What wakes the indexer before its next poll.
    pub(super) fn wake_signal(&self) -> Arc<Notify> {
        self.shared.wake.clone()
    }

    pub fn health(&self) -> MirrorHealth {
        let applied = self.applied_block();
        let head = self.head_block();
        let silence = self
            .shared
            .last_rpc_ok
            .lock()
            .expect("not poisoned")
            .elapsed();
        let last_error = self.shared.last_error.lock().expect("not poisoned").clone();
        if silence > self.shared.max_rpc_silence {
            let detail = last_error.unwrap_or_else(|| "no answer".into());
            return MirrorHealth::Unhealthy {
                reason: format!(
                    "chain RPC unreachable for {}s (bound {}s): {detail}",
                    silence.as_secs(),
                    self.shared.max_rpc_silence.as_secs()
                ),
                applied,
                head,
            };
        }
        let lag = head.saturating_sub(applied);
        if lag > self.shared.max_lag_blocks {
            return MirrorHealth::Unhealthy {
                reason: format!(
                    "mirror is {lag} blocks behind the chain (bound {})",
                    self.shared.max_lag_blocks
                ),
                applied,
                head,
            };
        }
        MirrorHealth::Ok { applied, head }
    }
}

impl crate::chain::applied_blocks::AppliedBlocks for MirrorHandle {
    fn wait_until_applied(
        &self,
        block: u64,
        timeout: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(MirrorHandle::wait_until_applied(self, block, timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_beyond_the_bound_is_unhealthy() {
        let handle = MirrorHandle::new(100, 5, Duration::from_secs(30));
        handle.record_head(105);
        assert_eq!(
            handle.health(),
            MirrorHealth::Ok {
                applied: 100,
                head: 105
            }
        );
        handle.record_head(106);
        match handle.health() {
            MirrorHealth::Unhealthy {
                reason,
                applied,
                head,
            } => {
                assert_eq!((applied, head), (100, 106));
                assert!(reason.contains("6 blocks behind"), "{reason}");
            }
            ok => panic!("expected unhealthy, got {ok:?}"),
        }
        handle.record_applied(106, 3);
        assert_eq!(handle.lag_blocks(), 0);
        assert!(matches!(handle.health(), MirrorHealth::Ok { .. }));
    }

    #[test]
    fn rpc_silence_beyond_the_bound_is_unhealthy() {
        let handle = MirrorHandle::new(7, 5, Duration::from_millis(20));
        handle.record_error(&IndexerError::Rpc("connection refused".into()));
        std::thread::sleep(Duration::from_millis(40));
        match handle.health() {
            MirrorHealth::Unhealthy { reason, .. } => {
                assert!(
                    reason.contains("unreachable") && reason.contains("connection refused"),
                    "{reason}"
                )
            }
            ok => panic!("expected unhealthy, got {ok:?}"),
        }
    }

    #[tokio::test]
    async fn waiters_wake_when_the_block_is_applied() {
        let handle = MirrorHandle::new(1, 5, Duration::from_secs(30));
        assert!(
            handle
                .wait_until_applied(1, Duration::from_millis(10))
                .await
        );
        assert!(
            !handle
                .wait_until_applied(3, Duration::from_millis(20))
                .await
        );
        let waiter = {
            let handle = handle.clone();
            tokio::spawn(async move { handle.wait_until_applied(3, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        handle.record_applied(3, 0);
        assert!(waiter.await.unwrap());
    }
}
