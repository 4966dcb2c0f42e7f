//! What the chain writer needs from the node's mirror: to wait until a block is applied (so a
//! read right after a write sees it). A trait, so the writer does not depend on the indexer;
//! `indexer::MirrorHandle` implements it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A view of how far the mirror has applied the chain.
pub trait AppliedBlocks: Send + Sync + 'static {
    /// Resolves to true once `block` is applied, false after `timeout`.
    fn wait_until_applied(
        &self,
        block: u64,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}
