//! The chain mirror's indexer: the only writer of the store's mirrored state. It follows the
//! contracts' events from the deployment block to the head, applies each range of blocks and the
//! cursor in one write batch (only on top of the cursor block: the range's first block must name
//! it as parent), rolls back to the fork point on a reorg, and invalidates the
//! permission caches with what each range touched. New heads arrive by subscription when the RPC
//! offers one (WebSocket), else by polling.

mod apply;
#[cfg(test)]
mod scripted;
mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::B256;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use apply::Contracts;
pub use status::{MirrorHandle, MirrorHealth};

use crate::redact;
use crate::store::permissions::{Permissions, Touched};
use crate::store::write::StateWriter;
use crate::store::{Cursor, Store, StoreError};

/// Indexer-layer failure.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("chain RPC failed: {0}")]
    Rpc(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot decode a contract event in block {block}: {reason}")]
    Decode { block: u64, reason: String },
    #[error("mirror is inconsistent with the chain: {0}")]
    Inconsistent(String),
}

/// An RPC failure; URLs in it (transport errors quote the one they failed on) are reduced to
/// their endpoint (see [`crate::redact`]).
fn rpc<E: std::fmt::Display>(e: E) -> IndexerError {
    IndexerError::Rpc(redact::urls_in(&e.to_string()).into_owned())
}

/// How the mirror follows the chain.
#[derive(Debug, Clone)]
pub struct IndexerConfig {
    pub rpc_url: String,
    /// WebSocket endpoint for new-head subscriptions; `None` → polling only.
    pub ws_url: Option<String>,
    pub contracts: Contracts,
    pub deployment_block: u64,
    /// Blocks kept undoable; a deeper reorg rebuilds the mirror from the deployment block.
    pub reorg_depth: u64,
    pub poll_interval: Duration,
    /// Most blocks asked of `eth_getLogs` at once.
    pub range_blocks: u64,
    /// `/health` is 503 beyond this many blocks of lag…
    pub max_lag_blocks: u64,
    /// …or when the RPC has been unreachable for longer than this.
    pub max_rpc_silence: Duration,
}

/// What one call of [`Indexer::sync_once`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncReport {
    pub head: u64,
    pub blocks: u64,
    pub events: u64,
    pub rolled_back: usize,
}

pub struct Indexer {
    store: Store,
    permissions: Permissions,
    provider: DynProvider,
    config: IndexerConfig,
    handle: MirrorHandle,
}

impl Indexer {
    pub fn new(
        store: Store,
        permissions: Permissions,
        config: IndexerConfig,
    ) -> Result<Self, IndexerError> {
        let url = config.rpc_url.parse().map_err(|e| {
            rpc(format!(
                "invalid RPC URL {}: {e}",
                redact::endpoint(&config.rpc_url)
            ))
        })?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        Self::with_provider(store, permissions, config, provider)
    }

    /// An indexer reading the chain through `provider` (any alloy transport); `config.rpc_url`
    /// is then not used.
    pub fn with_provider(
        store: Store,
        permissions: Permissions,
        config: IndexerConfig,
        provider: DynProvider,
    ) -> Result<Self, IndexerError> {
        let applied = store.cursor()?.map(|c| c.number).unwrap_or(0);
        let handle = MirrorHandle::new(applied, config.max_lag_blocks, config.max_rpc_silence);
        Ok(Self {
            store,
            permissions,
            provider,
            config,
            handle,
        })
    }

    pub fn handle(&self) -> MirrorHandle {
        self.handle.clone()
    }

    /// Follows the chain until `shutdown` is notified. Errors are logged and retried; reads keep
    /// being served from the store meanwhile.
    pub async fn run(self, shutdown: CancellationToken) {
        let wake = self.handle.wake_signal();
        if let Some(ws_url) = self.config.ws_url.clone() {
            tokio::spawn(subscribe_new_heads(ws_url, wake.clone(), shutdown.clone()));
        }
        let mut backoff = self.config.poll_interval;
        loop {
            match self.sync_once().await {
                Ok(_) => backoff = self.config.poll_interval,
                Err(e) => {
                    self.handle.record_error(&e);
                    tracing::warn!(error = %e, "mirror sync failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {},
                _ = tokio::time::sleep(backoff) => {},
            }
        }
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, IndexerError> {
        Ok(self.block_link(number).await?.map(|(hash, _)| hash))
    }

    /// (hash, parent hash) of block `number`, if the chain has it.
    async fn block_link(&self, number: u64) -> Result<Option<(B256, B256)>, IndexerError> {
        Ok(self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc)?
            .map(|block| (block.header.hash, block.header.parent_hash)))
    }

    /// Catches up from the cursor to the current head once (handling a reorg first).
    pub async fn sync_once(&self) -> Result<SyncReport, IndexerError> {
        let head = self.provider.get_block_number().await.map_err(rpc)?;
        self.handle.record_head(head);
        let mut report = SyncReport {
            head,
            ..Default::default()
        };
        report.rolled_back = self.check_reorg(head).await?;

        let started = Instant::now();
        let mut last_progress = Instant::now();
        let mut cursor = self.store.cursor()?;
        let first = cursor
            .map(|c| c.number + 1)
            .unwrap_or(self.config.deployment_block);
        loop {
            let from = cursor
                .map(|c| c.number + 1)
                .unwrap_or(self.config.deployment_block);
            if from > head {
                break;
            }
            let to = head.min(from + self.config.range_blocks.max(1) - 1);
            let Some((next, events)) = self.apply_range(cursor, from, to, head).await? else {
                // The chain changed under us; the next round checks for a reorg.
                return Ok(report);
            };
            cursor = Some(next);
            report.blocks += to - from + 1;
            report.events += events;
            if last_progress.elapsed() > Duration::from_secs(2) && head > to {
                let secs = started.elapsed().as_secs_f64();
                tracing::info!(
                    block = to,
                    head,
                    percent = format!(
                        "{:.1}",
                        100.0 * (to - first + 1) as f64 / (head - first + 1) as f64
                    ),
                    blocks_per_sec = format!("{:.0}", report.blocks as f64 / secs),
                    events_per_sec = format!("{:.0}", report.events as f64 / secs),
                    "mirror catching up"
                );
                last_progress = Instant::now();
            }
        }
        if report.blocks > 0 {
            self.store
                .prune_below(head.saturating_sub(self.config.reorg_depth))?;
        }
        Ok(report)
    }

    /// Fetches and applies `[from, to]` on top of `cursor` (block `from - 1`, `None` before the
    /// first range). `None` when the chain changed: block `from` does not descend from the cursor
    /// block (a reorg replaced it after the last reorg check), or `to` changed hash during the
    /// fetch. The next round's reorg check then rolls back as needed.
    async fn apply_range(
        &self,
        cursor: Option<Cursor>,
        from: u64,
        to: u64,
        head: u64,
    ) -> Result<Option<(Cursor, u64)>, IndexerError> {
        let Some(to_hash) = self.block_hash(to).await? else {
            return Ok(None);
        };
        // Checked after `to`'s hash is taken, so the unchanged hash of `to` after the logs were
        // fetched also vouches for the chain from `from` to `to` this parent belongs to.
        if let Some(cursor) = cursor {
            match self.block_link(from).await? {
                Some((_, parent)) if parent == cursor.hash => {}
                _ => {
                    tracing::info!(
                        cursor = cursor.number,
                        "the cursor block was replaced on chain; checking for a reorg"
                    );
                    return Ok(None);
                }
            }
        }
        let filter = Filter::new()
            .address(vec![
                self.config.contracts.registry,
                self.config.contracts.node_config,
            ])
            .from_block(from)
            .to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(rpc)?;
        if self.block_hash(to).await? != Some(to_hash) {
            return Ok(None);
        }

        let mut by_block: BTreeMap<(u64, u64), &Log> = BTreeMap::new();
        for log in &logs {
            if log.removed {
                continue;
            }
            let (Some(block), Some(index)) = (log.block_number, log.log_index) else {
                return Err(IndexerError::Rpc(
                    "eth_getLogs returned a log without a block".into(),
                ));
            };
            by_block.insert((block, index), log);
        }

        let window_start = head.saturating_sub(self.config.reorg_depth);
        let mut writer = StateWriter::new(&self.store);
        let mut touched = Touched::default();
        let mut current_block = None;
        for ((block, _), log) in &by_block {
            if current_block != Some(*block) {
                writer.begin_block(
                    *block,
                    log.block_hash.unwrap_or_default(),
                    *block >= window_start,
                );
                current_block = Some(*block);
            }
            apply::apply_log(&mut writer, &self.config.contracts, log, &mut touched)?;
        }
        let cursor = Cursor {
            number: to,
            hash: to_hash,
        };
        writer.commit(cursor)?;
        if !touched.is_empty() {
            self.permissions.invalidate(&touched);
        }
        let events = by_block.len() as u64;
        self.handle.record_applied(to, events);
        Ok(Some((cursor, events)))
    }

    /// Compares the cursor with the chain; on a mismatch rolls back to the newest known block the
    /// chain still has (or rebuilds when none is left). Returns how many blocks were undone.
    async fn check_reorg(&self, head: u64) -> Result<usize, IndexerError> {
        let Some(cursor) = self.store.cursor()? else {
            return Ok(0);
        };
        if cursor.number <= head && self.block_hash(cursor.number).await? == Some(cursor.hash) {
            return Ok(0);
        }
        for known in self.store.recent_block_hashes()? {
            if known.number > head || known == cursor {
                continue;
            }
            if self.block_hash(known.number).await? == Some(known.hash) {
                let undone = self.store.roll_back_to(known)?;
                self.permissions.invalidate_all();
                self.handle.record_rollback(known.number);
                tracing::warn!(
                    from = cursor.number,
                    to = known.number,
                    blocks_undone = undone,
                    "chain reorg: mirror rolled back"
                );
                return Ok(undone.max(1));
            }
        }
        tracing::warn!(
            cursor = cursor.number,
            reorg_depth = self.config.reorg_depth,
            "chain reorg deeper than the kept window: rebuilding the mirror from the deployment block"
        );
        self.store.clear_mirror()?;
        self.permissions.invalidate_all();
        self.handle
            .record_rollback(self.config.deployment_block.saturating_sub(1));
        Ok(usize::MAX)
    }
}

/// Wakes the indexer on every new head from a WebSocket subscription; gives up (polling goes
/// on) if the endpoint offers none.
async fn subscribe_new_heads(ws_url: String, wake: Arc<Notify>, shutdown: CancellationToken) {
    use futures_util::StreamExt;
    let endpoint = redact::endpoint(&ws_url);
    let connect =
        ProviderBuilder::new().connect_ws(alloy::providers::WsConnect::new(ws_url.clone()));
    let provider = match connect.await {
        Ok(provider) => provider,
        Err(e) => {
            tracing::info!(ws_url = %endpoint, error = %redact::urls_in(&e.to_string()), "no WebSocket subscription; following the chain by polling");
            return;
        }
    };
    let mut stream = match provider.subscribe_blocks().await {
        Ok(subscription) => subscription.into_stream(),
        Err(e) => {
            tracing::info!(ws_url = %endpoint, error = %redact::urls_in(&e.to_string()), "newHeads subscription refused; following the chain by polling");
            return;
        }
    };
    tracing::info!(ws_url = %endpoint, "following new heads by subscription");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            next = stream.next() => match next {
                Some(_) => wake.notify_one(),
                None => {
                    tracing::warn!("newHeads subscription ended; following the chain by polling");
                    return;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{keccak256, Address, LogData};
    use alloy::sol_types::SolEvent;

    use super::scripted::ScriptedChain;
    use super::*;
    use crate::chain::bindings::LitRegistry;

    const REGISTRY: Address = Address::repeat_byte(0x11);

    fn config() -> IndexerConfig {
        IndexerConfig {
            rpc_url: "http://unused.invalid".into(),
            ws_url: None,
            contracts: Contracts {
                registry: REGISTRY,
                node_config: Address::repeat_byte(0x22),
            },
            deployment_block: 1,
            reorg_depth: 64,
            poll_interval: Duration::from_millis(10),
            range_blocks: 100,
            max_lag_blocks: 20,
            max_rpc_silence: Duration::from_secs(5),
        }
    }

    fn indexer(chain: &ScriptedChain) -> (tempfile::TempDir, Store, Indexer) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let indexer = Indexer::with_provider(
            store.clone(),
            Permissions::new(store.clone()),
            config(),
            chain.provider(),
        )
        .unwrap();
        (dir, store, indexer)
    }

    /// The registry's log of a new account named `name`.
    fn account_created(name: &str) -> Vec<(Address, LogData)> {
        let event = LitRegistry::AccountCreated {
            account: keccak256(name),
            name: name.into(),
            description: String::new(),
            admin: Address::ZERO,
            selfManaged: false,
        };
        vec![(REGISTRY, event.encode_log_data())]
    }

    /// The cursor block is reorged away after `check_reorg` looked at it and before the next
    /// range is fetched: the range must not be applied on top of it.
    #[tokio::test]
    async fn a_range_whose_parent_is_not_the_cursor_block_is_not_applied() {
        let chain = ScriptedChain::default();
        chain.edit(|c| {
            c.mine(vec![]); // genesis
            c.mine(account_created("A"));
            c.mine(vec![]);
            c.mine(account_created("B")); // block 3: the cursor block, reorged away below
        });
        let (_dir, store, indexer) = indexer(&chain);
        indexer.sync_once().await.unwrap();
        assert_eq!(store.cursor().unwrap().unwrap().number, 3);
        let old_cursor_hash = chain.edit(|c| {
            c.mine(vec![]);
            c.mine(vec![]);
            c.hash(3).unwrap()
        });

        // While the indexer asks for block 5 (the end of its next range), the chain replaces
        // blocks 3–5 by a fork whose block 3 creates C instead of B.
        let mut fired = false;
        chain.before_each_call(move |method, params, chain| {
            if !fired && method == "eth_getBlockByNumber" && params[0] == "0x5" {
                fired = true;
                chain.reorg_to(2);
                chain.mine(account_created("C"));
                chain.mine(vec![]);
                chain.mine(vec![]);
            }
        });
        let raced = indexer.sync_once().await.unwrap();
        assert_ne!(chain.edit(|c| c.hash(3)), Some(old_cursor_hash));
        assert_eq!(
            raced.blocks, 0,
            "a range was applied on a reorged-away cursor block"
        );

        // The next rounds roll back and end where a mirror built from the final chain is.
        let next = indexer.sync_once().await.unwrap();
        assert!(next.rolled_back > 0, "{next:?}");
        indexer.sync_once().await.unwrap();
        assert!(store.account(&keccak256("C")).unwrap().is_some());
        assert!(store.account(&keccak256("B")).unwrap().is_none());
        let (_fresh_dir, fresh, rebuilt) = indexer_on_final(&chain);
        rebuilt.sync_once().await.unwrap();
        assert_eq!(store.dump_state().unwrap(), fresh.dump_state().unwrap());
        assert_eq!(store.cursor().unwrap(), fresh.cursor().unwrap());
    }

    fn indexer_on_final(chain: &ScriptedChain) -> (tempfile::TempDir, Store, Indexer) {
        chain.before_each_call(|_, _, _| {});
        indexer(chain)
    }
}
