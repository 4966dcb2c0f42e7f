//! The indexer's write path. A [`StateWriter`] buffers the changes of a range of blocks over the
//! committed state (reads see earlier writes of the same range), remembers for each block inside
//! the reorg window the previous value of every key it changes (undo records), and commits
//! everything — state, undo records, block hashes and the cursor — in one RocksDB write batch.

use std::collections::BTreeMap;

use alloy::primitives::B256;
use rocksdb::WriteBatch;

use super::meta::{Cursor, KEY_CURSOR};
use super::{Store, StoreError, CF_BLOCKS, CF_META, CF_STATE, CF_UNDO};

/// Previous values of the keys one block changed (`None` = the key did not exist).
type UndoRecord = Vec<(Vec<u8>, Option<Vec<u8>>)>;

pub struct StateWriter<'a> {
    store: &'a Store,
    /// Pending state changes: `None` deletes.
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Block being applied and whether it is inside the reorg window (needs undo).
    current: Option<(u64, bool)>,
    current_undo: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    undo: Vec<(u64, UndoRecord)>,
    hashes: Vec<(u64, B256)>,
}

impl<'a> StateWriter<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self {
            store,
            pending: BTreeMap::new(),
            current: None,
            current_undo: BTreeMap::new(),
            undo: Vec::new(),
            hashes: Vec::new(),
        }
    }

    /// Starts applying `number`; `keep_undo` for blocks inside the reorg window.
    pub fn begin_block(&mut self, number: u64, hash: B256, keep_undo: bool) {
        self.finish_block();
        self.current = Some((number, keep_undo));
        if keep_undo {
            self.hashes.push((number, hash));
        }
    }

    fn finish_block(&mut self) {
        if let Some((number, true)) = self.current.take() {
            let record: UndoRecord = std::mem::take(&mut self.current_undo).into_iter().collect();
            self.undo.push((number, record));
        }
        self.current_undo.clear();
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pending.get(key) {
            Some(value) => Ok(value.clone()),
            None => Ok(self.store.db.get_cf(self.store.cf(CF_STATE), key)?),
        }
    }

    fn remember(&mut self, key: &[u8]) -> Result<(), StoreError> {
        if matches!(self.current, Some((_, true))) && !self.current_undo.contains_key(key) {
            let previous = self.get(key)?;
            self.current_undo.insert(key.to_vec(), previous);
        }
        Ok(())
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        self.remember(&key)?;
        self.pending.insert(key, Some(value));
        Ok(())
    }

    pub fn delete(&mut self, key: Vec<u8>) -> Result<(), StoreError> {
        self.remember(&key)?;
        self.pending.insert(key, None);
        Ok(())
    }

    /// Keys currently under `prefix` (committed state merged with pending changes), in order.
    pub fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut keys: BTreeMap<Vec<u8>, ()> = BTreeMap::new();
        for entry in self.store.scan_prefix(prefix) {
            let (key, _) = entry?;
            keys.insert(key.to_vec(), ());
        }
        for (key, value) in self.pending.range(prefix.to_vec()..) {
            if !key.starts_with(prefix) {
                break;
            }
            match value {
                Some(_) => keys.insert(key.clone(), ()),
                None => keys.remove(key),
            };
        }
        Ok(keys.into_keys().collect())
    }

    /// Writes everything atomically with the new cursor.
    pub fn commit(mut self, cursor: Cursor) -> Result<(), StoreError> {
        self.finish_block();
        let store = self.store;
        let mut batch = WriteBatch::default();
        let state = store.cf(CF_STATE);
        for (key, value) in &self.pending {
            match value {
                Some(value) => batch.put_cf(state, key, value),
                None => batch.delete_cf(state, key),
            }
        }
        for (number, record) in &self.undo {
            batch.put_cf(store.cf(CF_UNDO), number.to_be_bytes(), encode_undo(record));
        }
        for (number, hash) in &self.hashes {
            batch.put_cf(store.cf(CF_BLOCKS), number.to_be_bytes(), hash.as_slice());
        }
        batch.put_cf(
            store.cf(CF_BLOCKS),
            cursor.number.to_be_bytes(),
            cursor.hash.as_slice(),
        );
        batch.put_cf(store.cf(CF_META), KEY_CURSOR, cursor.encode());
        store.db.write(batch)?;
        Ok(())
    }
}

fn encode_undo(record: &UndoRecord) -> Vec<u8> {
    postcard::to_stdvec(record).expect("undo records serialize")
}

impl Store {
    /// Undoes every block after `fork.number` (newest first) and sets the cursor to `fork`, in one
    /// write batch. Returns how many blocks were rolled back.
    pub fn roll_back_to(&self, fork: Cursor) -> Result<usize, StoreError> {
        let mut batch = WriteBatch::default();
        let state = self.cf(CF_STATE);
        let undo_cf = self.cf(CF_UNDO);
        let start = (fork.number + 1).to_be_bytes();
        let mut undone = Vec::new();
        for entry in self.db.iterator_cf(
            undo_cf,
            rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward),
        ) {
            let (key, value) = entry?;
            let record: UndoRecord =
                postcard::from_bytes(&value).map_err(|e| StoreError::Corrupt {
                    key: format!("undo/{}", hex::encode(&key)),
                    reason: e.to_string(),
                })?;
            undone.push((key.to_vec(), record));
        }
        for (key, record) in undone.iter().rev() {
            for (state_key, previous) in record {
                match previous {
                    Some(value) => batch.put_cf(state, state_key, value),
                    None => batch.delete_cf(state, state_key),
                }
            }
            batch.delete_cf(undo_cf, key);
        }
        let blocks = self.cf(CF_BLOCKS);
        batch.delete_range_cf(blocks, start, u64::MAX.to_be_bytes());
        batch.delete_cf(blocks, u64::MAX.to_be_bytes());
        batch.put_cf(blocks, fork.number.to_be_bytes(), fork.hash.as_slice());
        batch.put_cf(self.cf(CF_META), KEY_CURSOR, fork.encode());
        self.db.write(batch)?;
        Ok(undone.len())
    }

    /// Drops undo records and block hashes older than `oldest` (outside the reorg window).
    pub fn prune_below(&self, oldest: u64) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf(CF_UNDO), 0u64.to_be_bytes(), oldest.to_be_bytes());
        batch.delete_range_cf(self.cf(CF_BLOCKS), 0u64.to_be_bytes(), oldest.to_be_bytes());
        self.db.write(batch)?;
        Ok(())
    }

    /// Known block hashes, newest first (for finding a fork point).
    pub fn recent_block_hashes(&self) -> Result<Vec<Cursor>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .db
            .iterator_cf(self.cf(CF_BLOCKS), rocksdb::IteratorMode::End)
        {
            let (key, value) = entry?;
            let number =
                u64::from_be_bytes(key.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                    key: "blocks".into(),
                    reason: "key is not 8 bytes".into(),
                })?);
            let hash = B256::try_from(value.as_ref()).map_err(|_| StoreError::Corrupt {
                key: format!("blocks/{number}"),
                reason: "hash is not 32 bytes".into(),
            })?;
            out.push(Cursor { number, hash });
        }
        Ok(out)
    }

    /// Forgets all mirrored state (keeps the chain identity): the next start rebuilds.
    pub fn clear_mirror(&self) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for cf in [CF_STATE, CF_UNDO, CF_BLOCKS] {
            batch.delete_range_cf(self.cf(cf), [0u8].as_slice(), [0xffu8; 64].as_slice());
        }
        batch.delete_cf(self.cf(CF_META), KEY_CURSOR);
        self.db.write(batch)?;
        Ok(())
    }
}
