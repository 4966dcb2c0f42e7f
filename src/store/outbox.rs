//! The outbox (column family `outbox`): transactions the chain writer has sent, keyed by payer
//! and nonce. Written (synced) right before each send and re-send is broadcast; once mined, the
//! entry records where, and is removed when that block is `reorg_depth` deep (or at once when the
//! nonce was taken by another transaction). So after a restart or a reorg the writer still
//! follows — and if need be re-sends — every transaction it sent.
//!
//! | key                     | value                          |
//! |-------------------------|--------------------------------|
//! | payer(20) ‖ nonce(8)    | [`SentTransaction`] (JSON)     |

use alloy::primitives::{Address, BlockHash, TxHash};
use alloy::rpc::types::TransactionRequest;
use rocksdb::WriteOptions;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, CF_OUTBOX};

/// A transaction sent for one payer nonce: what was sent, and every hash sent for that nonce
/// (the original and its fee-bumped replacements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentTransaction {
    pub payer: Address,
    pub nonce: u64,
    pub request: TransactionRequest,
    pub hashes: Vec<TxHash>,
    /// Where one of them was mined, once seen; kept until that block is deep enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mined: Option<MinedAt>,
}

/// The transaction of a nonce that was mined, and its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinedAt {
    pub tx_hash: TxHash,
    pub block_number: u64,
    pub block_hash: BlockHash,
}

fn key(payer: &Address, nonce: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(payer.as_slice());
    key[20..].copy_from_slice(&nonce.to_be_bytes());
    key
}

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

impl Store {
    /// Records (or updates) a sent transaction, synced to disk.
    pub fn record_sent(&self, sent: &SentTransaction) -> Result<(), StoreError> {
        let value = serde_json::to_vec(sent).expect("a transaction request serialises");
        self.db.put_cf_opt(
            self.cf(CF_OUTBOX),
            key(&sent.payer, sent.nonce),
            value,
            &synced(),
        )?;
        Ok(())
    }

    /// The payer's transaction for `nonce`, if still followed.
    pub fn sent_transaction(
        &self,
        payer: &Address,
        nonce: u64,
    ) -> Result<Option<SentTransaction>, StoreError> {
        let key = key(payer, nonce);
        self.db
            .get_cf(self.cf(CF_OUTBOX), key)?
            .map(|bytes| decode(&key, &bytes))
            .transpose()
    }

    /// Every transaction still followed, by payer then nonce.
    pub fn sent_transactions(&self) -> Result<Vec<SentTransaction>, StoreError> {
        self.db
            .iterator_cf(self.cf(CF_OUTBOX), rocksdb::IteratorMode::Start)
            .map(|entry| {
                let (key, value) = entry?;
                decode(&key, &value)
            })
            .collect()
    }

    /// Stops following the payer's transaction for `nonce`.
    pub fn forget_sent(&self, payer: &Address, nonce: u64) -> Result<(), StoreError> {
        self.db
            .delete_cf_opt(self.cf(CF_OUTBOX), key(payer, nonce), &synced())?;
        Ok(())
    }
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<SentTransaction, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: format!("outbox/{}", hex::encode(key)),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::network::TransactionBuilder;

    #[test]
    fn sent_transactions_survive_reopening_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let payer = Address::repeat_byte(3);
        let sent = SentTransaction {
            payer,
            nonce: 7,
            request: TransactionRequest::default()
                .with_from(payer)
                .with_to(Address::repeat_byte(4))
                .with_nonce(7)
                .with_gas_limit(100_000)
                .with_max_fee_per_gas(2_000_000_000)
                .with_max_priority_fee_per_gas(1_000_000_000)
                .with_input(vec![1u8, 2, 3]),
            hashes: vec![TxHash::repeat_byte(9)],
            mined: None,
        };
        {
            let store = Store::open(dir.path()).unwrap();
            store.record_sent(&sent).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.sent_transactions().unwrap(), vec![sent.clone()]);
        assert_eq!(
            store.sent_transaction(&payer, 7).unwrap(),
            Some(sent.clone())
        );
        // Entries written before `mined` existed still read.
        let mut old = serde_json::to_value(&sent).unwrap();
        assert!(old.as_object_mut().unwrap().remove("mined").is_none());
        assert_eq!(
            serde_json::from_value::<SentTransaction>(old).unwrap(),
            sent
        );
        let mined = SentTransaction {
            mined: Some(MinedAt {
                tx_hash: TxHash::repeat_byte(9),
                block_number: 12,
                block_hash: BlockHash::repeat_byte(1),
            }),
            ..sent
        };
        store.record_sent(&mined).unwrap();
        assert_eq!(store.sent_transactions().unwrap(), vec![mined]);
        store.forget_sent(&payer, 7).unwrap();
        assert!(store.sent_transactions().unwrap().is_empty());
    }
}
