//! The billing journal (column family `billing`): metered charges not yet settled on chain, and
//! settlement batches sealed from them but not yet known to be applied. Node-local, not mirrored
//! state. Every write is synced to disk before it returns, so a charge the node answered for
//! survives a crash, and a sealed batch keeps its settlement id across restarts (the contract
//! applies an id once, so re-sending a batch after a crash can never charge twice).
//!
//! | key                | value                    |
//! |--------------------|--------------------------|
//! | `c` ‖ seq(8)       | [`Charge`]               | one charge, in journal order
//! | `b` ‖ id(32)       | [`SettlementBatch`]      | a sealed batch, settlement id = key

use alloy::primitives::B256;
use rocksdb::{WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, CF_BILLING};

const CHARGE: u8 = b'c';
const BATCH: u8 = b'b';

/// One metered charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub account: B256,
    pub cents: u64,
}

/// Charges aggregated per account under one on-chain settlement id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementBatch {
    pub id: B256,
    pub entries: Vec<(B256, u64)>,
}

fn charge_key(seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = CHARGE;
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn batch_key(id: &B256) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = BATCH;
    key[1..].copy_from_slice(id.as_slice());
    key
}

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

fn corrupt(key: &[u8], error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: format!("billing/{}", hex::encode(key)),
        reason: error.to_string(),
    }
}

impl Store {
    /// Appends `(seq, charge)` pairs in one write, synced to disk.
    pub fn journal_charge_group(&self, charges: &[(u64, Charge)]) -> Result<(), StoreError> {
        let cf = self.cf(CF_BILLING);
        let mut write = WriteBatch::default();
        for (seq, charge) in charges {
            let value = postcard::to_stdvec(charge).expect("a charge always serialises");
            write.put_cf(cf, charge_key(*seq), value);
        }
        self.db.write_opt(write, &synced())?;
        Ok(())
    }

    /// Every journaled charge not yet sealed into a batch, as `(seq, charge)` in journal order.
    pub fn journal_charges(&self) -> Result<Vec<(u64, Charge)>, StoreError> {
        self.billing_entries(CHARGE)?
            .into_iter()
            .map(|(key, value)| {
                let seq = u64::from_be_bytes(key[1..9].try_into().map_err(|e| corrupt(&key, e))?);
                let charge = postcard::from_bytes(&value).map_err(|e| corrupt(&key, e))?;
                Ok((seq, charge))
            })
            .collect()
    }

    /// Atomically (and synced) records `batches` and removes the charges `sealed` they sum up.
    pub fn seal_settlements(
        &self,
        batches: &[SettlementBatch],
        sealed: &[u64],
    ) -> Result<(), StoreError> {
        let cf = self.cf(CF_BILLING);
        let mut write = WriteBatch::default();
        for batch in batches {
            let value = postcard::to_stdvec(batch).expect("a batch always serialises");
            write.put_cf(cf, batch_key(&batch.id), value);
        }
        for seq in sealed {
            write.delete_cf(cf, charge_key(*seq));
        }
        self.db.write_opt(write, &synced())?;
        Ok(())
    }

    /// Sealed batches not yet known to be applied on chain.
    pub fn settlement_batches(&self) -> Result<Vec<SettlementBatch>, StoreError> {
        self.billing_entries(BATCH)?
            .into_iter()
            .map(|(key, value)| postcard::from_bytes(&value).map_err(|e| corrupt(&key, e)))
            .collect()
    }

    /// Forgets a batch once the chain has applied it.
    pub fn remove_settlement_batch(&self, id: &B256) -> Result<(), StoreError> {
        self.db
            .delete_cf_opt(self.cf(CF_BILLING), batch_key(id), &synced())?;
        Ok(())
    }

    fn billing_entries(&self, tag: u8) -> Result<Vec<super::Entry>, StoreError> {
        let prefix = [tag];
        self.db
            .iterator_cf(
                self.cf(CF_BILLING),
                rocksdb::IteratorMode::From(&prefix, rocksdb::Direction::Forward),
            )
            .take_while(|entry| match entry {
                Ok((key, _)) => key.first() == Some(&tag),
                Err(_) => true,
            })
            .map(|entry| {
                entry
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StoreError::from)
            })
            .collect()
    }
}

#[cfg(test)]
impl Store {
    /// Writes a mirrored account record directly (unit tests of billing; the indexer does this
    /// in a running node).
    pub(crate) fn put_account_for_tests(
        &self,
        account: &B256,
        record: super::records::AccountRecord,
    ) -> Result<(), StoreError> {
        self.db.put_cf(
            self.cf(super::CF_STATE),
            super::keys::account(account),
            super::records::encode(&record),
        )?;
        Ok(())
    }

    /// Marks a settlement applied in the mirrored state (unit tests of billing).
    pub(crate) fn mark_settlement_for_tests(&self, id: &B256) -> Result<(), StoreError> {
        self.db
            .put_cf(self.cf(super::CF_STATE), super::keys::settlement(id), [])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_and_batches_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let a = B256::repeat_byte(1);
        let b = B256::repeat_byte(2);
        {
            let store = Store::open(dir.path()).unwrap();
            let charge = |account, cents| Charge { account, cents };
            store
                .journal_charge_group(&[(1, charge(a, 3)), (2, charge(b, 4))])
                .unwrap();
            store.journal_charge_group(&[(3, charge(a, 5))]).unwrap();
            let batch = SettlementBatch {
                id: B256::repeat_byte(9),
                entries: vec![(a, 8)],
            };
            store.seal_settlements(&[batch], &[1, 3]).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.journal_charges().unwrap(),
            vec![(
                2,
                Charge {
                    account: b,
                    cents: 4
                }
            )]
        );
        let batches = store.settlement_batches().unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].entries, vec![(a, 8)]);
        store.remove_settlement_batch(&batches[0].id).unwrap();
        assert!(store.settlement_batches().unwrap().is_empty());
    }
}
