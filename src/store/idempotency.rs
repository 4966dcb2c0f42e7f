//! Replies of writes kept for `Idempotency-Key` retries (column family `idempotency`; node-local,
//! not mirrored). A record is written (synced) when a keyed write starts, and replaced by the
//! reply once the write reached the chain, so a retry — also after a restart — finds either the
//! first reply or the fact that the first attempt was interrupted. Reply bodies are stored
//! encrypted (the API layer does it, with a key derived from the root secret and the client's
//! Idempotency-Key): replies can hold new API keys, which the store must never hold in plaintext.
//!
//! | key                               | value                  |
//! |-----------------------------------|------------------------|
//! | `r` ‖ scope(32) ‖ sha256(key)(32) | [`IdempotencyRecord`]  |
//! | `t` ‖ created(8) ‖ record key(65) | —                      | expiry order

use rocksdb::{WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, CF_IDEMPOTENCY};

const RECORD: u8 = b'r';
const BY_TIME: u8 = b't';

/// A keyed write: in progress, or its kept reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Unix seconds when the first attempt started.
    pub created: u64,
    /// Hash of what the first attempt asked for (caller, method, path, query, body).
    pub fingerprint: [u8; 32],
    /// `None` while the first attempt is in progress.
    pub reply: Option<KeptReply>,
}

/// The first attempt's reply, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptReply {
    pub status: u16,
    pub content_type: Option<String>,
    /// The encrypted body.
    pub sealed_body: Vec<u8>,
}

/// Where a record lives: the scope (account) and the hash of the client's key.
pub fn record_key(scope: &[u8; 32], key_hash: &[u8; 32]) -> [u8; 65] {
    let mut key = [0u8; 65];
    key[0] = RECORD;
    key[1..33].copy_from_slice(scope);
    key[33..].copy_from_slice(key_hash);
    key
}

fn time_key(created: u64, record: &[u8; 65]) -> Vec<u8> {
    let mut key = Vec::with_capacity(74);
    key.push(BY_TIME);
    key.extend_from_slice(&created.to_be_bytes());
    key.extend_from_slice(record);
    key
}

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

impl Store {
    pub fn idempotency_record(
        &self,
        key: &[u8; 65],
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.db
            .get_pinned_cf(self.cf(CF_IDEMPOTENCY), key)?
            .map(|bytes| {
                postcard::from_bytes(&bytes).map_err(|e| StoreError::Corrupt {
                    key: format!("idempotency/{}", hex::encode(key)),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Writes (or replaces) a record, synced.
    pub fn put_idempotency_record(
        &self,
        key: &[u8; 65],
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        let cf = self.cf(CF_IDEMPOTENCY);
        let mut batch = WriteBatch::default();
        batch.put_cf(
            cf,
            key,
            postcard::to_stdvec(record).expect("a record serialises"),
        );
        batch.put_cf(cf, time_key(record.created, key), []);
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }

    /// Forgets a record (a first attempt that wrote nothing: its retry starts afresh).
    pub fn remove_idempotency_record(
        &self,
        key: &[u8; 65],
        created: u64,
    ) -> Result<(), StoreError> {
        let cf = self.cf(CF_IDEMPOTENCY);
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf, key);
        batch.delete_cf(cf, time_key(created, key));
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }

    /// Deletes the records created before `before` (unix seconds); returns how many.
    pub fn expire_idempotency_records(&self, before: u64) -> Result<usize, StoreError> {
        let cf = self.cf(CF_IDEMPOTENCY);
        let start = [BY_TIME];
        let mut batch = WriteBatch::default();
        let mut expired = 0;
        for entry in self.db.iterator_cf(
            cf,
            rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward),
        ) {
            let (key, _) = entry?;
            if key.first() != Some(&BY_TIME) || key.len() != 74 {
                break;
            }
            let created = u64::from_be_bytes(key[1..9].try_into().expect("8 bytes"));
            if created >= before {
                break;
            }
            batch.delete_cf(cf, &key[9..]);
            batch.delete_cf(cf, &key);
            expired += 1;
        }
        if expired > 0 {
            self.db.write(batch)?;
        }
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_expire_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let old = record_key(&[1; 32], &[2; 32]);
        let new = record_key(&[1; 32], &[3; 32]);
        let record = |created, reply: Option<KeptReply>| IdempotencyRecord {
            created,
            fingerprint: [9; 32],
            reply,
        };
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .put_idempotency_record(&old, &record(100, None))
                .unwrap();
            let reply = KeptReply {
                status: 200,
                content_type: Some("application/json".into()),
                sealed_body: vec![1, 2, 3],
            };
            store
                .put_idempotency_record(&new, &record(200, Some(reply)))
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.idempotency_record(&old).unwrap(),
            Some(record(100, None))
        );
        assert_eq!(store.expire_idempotency_records(150).unwrap(), 1);
        assert_eq!(store.idempotency_record(&old).unwrap(), None);
        assert!(store.idempotency_record(&new).unwrap().is_some());
        store.remove_idempotency_record(&new, 200).unwrap();
        assert_eq!(store.expire_idempotency_records(u64::MAX).unwrap(), 0);
    }
}
