//! The writer's outbox pass ([`ChainWriter::follow_outbox`]): follows what writes left in the
//! outbox — transactions sent before a restart, given up on by a write that answered `NotMined`,
//! or mined and not yet `reorg_depth` deep — re-sending the stuck, forgetting the deep, and
//! sending again (same nonce) the ones a reorg took out.

use alloy::providers::Provider;

use super::{is_nonce_race, retry_pruned_state, unavailable};
use super::{ChainWriter, Deadline, Followed, Payer, WriteError};
use crate::store::outbox::{MinedAt, SentTransaction};

/// What a mined outbox entry's block looks like now.
enum Depth {
    /// Deep enough: never reorged out any more.
    Deep,
    /// Still mined, not yet deep (its position is updated if it moved to another block).
    Shallow,
    /// None of its transactions has a receipt any more.
    ReorgedOut,
}

impl ChainWriter {
    /// Follows every transaction in the outbox — sent before a restart, given up on by a write
    /// that answered `NotMined`, or mined and not yet deep — until it is deep or its nonce is
    /// taken. Runs at start and then every `resend_after`, until `shutdown`.
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

    /// One pass over the outbox. An unmined transaction is followed (re-sent if stuck or
    /// dropped); a mined one is only looked at — forgotten once `reorg_depth` deep, or, when
    /// reorged out, sent again (same nonce, holding the payer) and followed. Returns how many
    /// transactions it stopped following (deep, mined with nothing to watch, or replaced).
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
            let payer = &self.pool.payers[index];
            let nonce = entry.nonce;
            let deadline = Deadline::after(self.config.deadline);
            if let Some(mined) = entry.mined {
                match deadline.run(self.depth(payer, entry)).await {
                    Some(Ok(Depth::Deep)) => settled += 1,
                    Some(Ok(Depth::Shallow)) => {}
                    Some(Ok(Depth::ReorgedOut)) => {
                        if self.resend_reorged(index, mined).await {
                            settled += 1;
                        }
                    }
                    Some(Err(error)) => {
                        tracing::debug!(payer = %payer.address, nonce, %error, "cannot check a mined transaction's depth; later")
                    }
                    None => {
                        tracing::debug!(payer = %payer.address, nonce, "the chain did not answer; checking the depth later")
                    }
                }
                continue;
            }
            // Followed without holding the payer (a payer's later nonces go out meanwhile);
            // a live write may be following it too, and may have finished with it already.
            let Ok(Some(entry)) = store.sent_transaction(&entry.payer, nonce) else {
                continue;
            };
            if entry.mined.is_some() {
                continue;
            }
            let followed = self.follow(payer, entry, deadline).await;
            if self.report_followed(payer, nonce, followed) {
                settled += 1;
            }
        }
        settled
    }

    /// Where a mined outbox entry stands; forgets it once deep, updates its block if it moved.
    async fn depth(&self, payer: &Payer, mut entry: SentTransaction) -> Result<Depth, WriteError> {
        let Some(receipt) = self.receipt_of(payer, &entry).await? else {
            return Ok(Depth::ReorgedOut);
        };
        let (Some(block_number), Some(block_hash)) = (receipt.block_number, receipt.block_hash)
        else {
            return Ok(Depth::Shallow);
        };
        let head = retry_pruned_state(|| payer.provider.get_block_number())
            .await
            .map_err(unavailable)?;
        if head >= block_number + self.config.reorg_depth {
            self.forget(&entry);
            return Ok(Depth::Deep);
        }
        let now = MinedAt {
            tx_hash: receipt.transaction_hash,
            block_number,
            block_hash,
        };
        if entry.mined != Some(now) {
            entry.mined = Some(now);
            self.record(&entry);
        }
        Ok(Depth::Shallow)
    }

    /// Sends a reorged-out transaction again (same nonce, holding its payer) and follows it;
    /// true when it stopped being followed.
    async fn resend_reorged(&self, index: usize, was: MinedAt) -> bool {
        let Some(store) = &self.outbox else {
            return false;
        };
        let taken = self.pool.take_index(index).await;
        let payer = &self.pool.payers[taken.index];
        let Ok(Some(mut entry)) = store
            .sent_transactions()
            .map(|all| all.into_iter().find(|e| e.mined == Some(was)))
        else {
            return false; // a live write sent it again meanwhile
        };
        let nonce = entry.nonce;
        tracing::warn!(payer = %payer.address, nonce, tx = %was.tx_hash, block = was.block_number, "a mined transaction was reorged out; sending it again");
        entry.mined = None;
        let deadline = Deadline::after(self.config.deadline);
        match deadline.run(self.resend(payer, &mut entry, 0)).await {
            Some(Ok(())) => {}
            Some(Err(WriteError::Unavailable(message))) if is_nonce_race(&message) => {}
            Some(Err(error)) => {
                tracing::warn!(payer = %payer.address, nonce, %error, "sending a reorged-out transaction again failed; retrying next pass");
                return false;
            }
            None => return false,
        }
        drop(taken);
        let followed = self.follow(payer, entry, deadline).await;
        self.report_followed(payer, nonce, followed)
    }

    /// Logs what following an outbox entry found; true when it stopped being followed.
    fn report_followed(
        &self,
        payer: &Payer,
        nonce: u64,
        followed: Result<Followed, WriteError>,
    ) -> bool {
        match followed {
            Ok(Followed::Mined(receipt)) => {
                tracing::info!(payer = %payer.address, nonce, tx = %receipt.transaction_hash, "an earlier transaction from the outbox was mined");
                self.config.reorg_depth == 0 || !receipt.status()
            }
            Ok(Followed::Replaced) => {
                tracing::warn!(payer = %payer.address, nonce, "an earlier transaction from the outbox was replaced by another sender's");
                true
            }
            Err(error) => {
                tracing::warn!(payer = %payer.address, nonce, %error, "an earlier transaction is still not mined; following it again later");
                false
            }
        }
    }
}
