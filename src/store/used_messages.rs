//! Wallet-signed messages already accepted (column family `used_messages`; node-local), so a
//! captured message cannot be replayed while its Issued At window lasts. Kept until the window
//! has passed, then purged.
//!
//! | key          | value                      |
//! |--------------|----------------------------|
//! | hash(32)     | expiry, unix seconds (8 BE) |

use alloy::primitives::B256;
use rocksdb::WriteOptions;

use super::{Store, StoreError, CF_USED_MESSAGES};

impl Store {
    /// Records the message `hash` as used until `expires_at`; `false` when it was used already
    /// (and has not expired). Synced, so a restart does not forget it.
    pub fn use_message(&self, hash: &B256, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let cf = self.cf(CF_USED_MESSAGES);
        let _guard = self
            .messages_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(value) = self.db.get_cf(cf, hash.as_slice())? {
            if expiry(&value) > now {
                return Ok(false);
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db
            .put_cf_opt(cf, hash.as_slice(), expires_at.to_be_bytes(), &options)?;
        Ok(true)
    }

    /// Forgets messages whose window ended before `now`; returns how many.
    pub fn expire_used_messages(&self, now: u64) -> Result<usize, StoreError> {
        let cf = self.cf(CF_USED_MESSAGES);
        let mut expired = Vec::new();
        for entry in self.db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (key, value) = entry?;
            if expiry(&value) <= now {
                expired.push(key);
            }
        }
        for key in &expired {
            self.db.delete_cf(cf, key)?;
        }
        Ok(expired.len())
    }
}

fn expiry(value: &[u8]) -> u64 {
    value.try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_accepted_once_until_its_window_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let hash = B256::repeat_byte(5);
        assert!(store.use_message(&hash, 1_000, 500).unwrap());
        assert!(!store.use_message(&hash, 1_000, 600).unwrap());
        assert_eq!(store.expire_used_messages(999).unwrap(), 0);
        assert!(!store.use_message(&hash, 1_000, 999).unwrap());
        assert_eq!(store.expire_used_messages(1_000).unwrap(), 1);
        assert!(store.use_message(&hash, 2_000, 1_500).unwrap());
        drop(store);
        // Still remembered after a restart.
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.use_message(&hash, 2_000, 1_600).unwrap());
    }
}
