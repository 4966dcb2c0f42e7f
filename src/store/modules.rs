//! Imported ES modules (column family `modules`): the node's pins — the SHA-384 a module URL must
//! have — and a bounded, content-addressed cache of verified module source, so a second run of an
//! importing action makes no network request, also after a restart.
//!
//! | key                               | value                              |
//! |-----------------------------------|------------------------------------|
//! | `0x01` ‖ url                      | [`Pin`] (postcard)                 |
//! | `0x02` ‖ sha384(48)               | module source                      |
//! | `0x03` ‖ sha384(48)               | [`Cached`] (postcard): size, last use |
//! | `0x04`                            | bytes of cached source (u64 BE)    |
//!
//! Pins are small and never evicted; they can be exported and imported as a lock file
//! (`lit-node modules`). Cached source is evicted least recently used first when the cache
//! would grow past its bound; evicted source is fetched again and checked against its pin.

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha384};

use super::{Store, StoreError, CF_MODULES};

const PIN: u8 = 0x01;
const SOURCE: u8 = 0x02;
const CACHED: u8 = 0x03;
const CACHE_BYTES: u8 = 0x04;

/// What a module URL must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// `sha384-<base64>`.
    pub integrity: String,
    /// When it was pinned (unix ms).
    pub pinned_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Cached {
    bytes: u64,
    last_used_ms: u64,
}

fn key(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + rest.len());
    key.push(tag);
    key.extend_from_slice(rest);
    key
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn corrupt(what: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: what.to_string(),
        reason: reason.to_string(),
    }
}

impl Store {
    /// The pin of a module URL.
    pub fn module_pin(&self, url: &str) -> Result<Option<Pin>, StoreError> {
        match self
            .db
            .get_cf(self.cf(CF_MODULES), key(PIN, url.as_bytes()))?
        {
            None => Ok(None),
            Some(bytes) => postcard::from_bytes(&bytes)
                .map(Some)
                .map_err(|e| corrupt(&format!("module pin {url}"), e)),
        }
    }

    /// Pins `url` to `integrity` (replacing any pin it had).
    pub fn set_module_pin(&self, url: &str, integrity: &str) -> Result<(), StoreError> {
        let pin = Pin {
            integrity: integrity.to_string(),
            pinned_ms: now_ms(),
        };
        let value = postcard::to_allocvec(&pin).map_err(|e| corrupt("module pin", e))?;
        self.db
            .put_cf(self.cf(CF_MODULES), key(PIN, url.as_bytes()), value)?;
        Ok(())
    }

    /// Every pin, by URL (the lock file).
    pub fn module_pins(&self) -> Result<Vec<(String, Pin)>, StoreError> {
        let mut pins = Vec::new();
        let iter = self.db.prefix_iterator_cf(self.cf(CF_MODULES), [PIN]);
        for item in iter {
            let (k, v) = item?;
            if k.first() != Some(&PIN) {
                break;
            }
            let url =
                String::from_utf8(k[1..].to_vec()).map_err(|e| corrupt("module pin url", e))?;
            let pin =
                postcard::from_bytes(&v).map_err(|e| corrupt(&format!("module pin {url}"), e))?;
            pins.push((url, pin));
        }
        Ok(pins)
    }

    /// Cached source whose SHA-384 is `digest`, checked again (a corrupt entry is dropped and
    /// reads as a miss). Marks it used.
    pub fn cached_module(&self, digest: &[u8; 48]) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = self.cf(CF_MODULES);
        let Some(source) = self.db.get_cf(cf, key(SOURCE, digest))? else {
            return Ok(None);
        };
        let actual: [u8; 48] = Sha384::digest(&source).into();
        if &actual != digest {
            tracing::warn!("a cached module did not match its SHA-384; dropped");
            self.drop_cached_module(digest)?;
            return Ok(None);
        }
        let entry = Cached {
            bytes: source.len() as u64,
            last_used_ms: now_ms(),
        };
        let value = postcard::to_allocvec(&entry).map_err(|e| corrupt("module cache", e))?;
        self.db.put_cf(cf, key(CACHED, digest), value)?;
        Ok(Some(source))
    }

    fn cache_bytes(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .get_cf(self.cf(CF_MODULES), [CACHE_BYTES])?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    fn drop_cached_module(&self, digest: &[u8; 48]) -> Result<(), StoreError> {
        let _guard = self.modules_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.drop_cached_locked(digest)
    }

    fn drop_cached_locked(&self, digest: &[u8; 48]) -> Result<(), StoreError> {
        let cf = self.cf(CF_MODULES);
        let Some(entry) = self.db.get_cf(cf, key(CACHED, digest))? else {
            return Ok(());
        };
        let entry: Cached = postcard::from_bytes(&entry).map_err(|e| corrupt("module cache", e))?;
        let total = self.cache_bytes()?.saturating_sub(entry.bytes);
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf, key(SOURCE, digest));
        batch.delete_cf(cf, key(CACHED, digest));
        batch.put_cf(cf, [CACHE_BYTES], total.to_be_bytes());
        self.db.write(batch)?;
        Ok(())
    }

    /// Keeps verified module source (content-addressed by its SHA-384), then evicts the least
    /// recently used entries until the cache holds at most `bound` bytes (the new one stays).
    /// Returns how many entries were evicted.
    pub fn keep_module(&self, source: &[u8], bound: u64) -> Result<usize, StoreError> {
        let digest: [u8; 48] = Sha384::digest(source).into();
        let cf = self.cf(CF_MODULES);
        let _guard = self.modules_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.db.get_cf(cf, key(CACHED, &digest))?.is_some() {
            return Ok(0);
        }
        let entry = Cached {
            bytes: source.len() as u64,
            last_used_ms: now_ms(),
        };
        let total = self.cache_bytes()? + entry.bytes;
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, key(SOURCE, &digest), source);
        batch.put_cf(
            cf,
            key(CACHED, &digest),
            postcard::to_allocvec(&entry).map_err(|e| corrupt("module cache", e))?,
        );
        batch.put_cf(cf, [CACHE_BYTES], total.to_be_bytes());
        self.db.write(batch)?;
        if total <= bound {
            return Ok(0);
        }
        // Over the bound: the least recently used others go first.
        let mut entries = Vec::new();
        for item in self.db.prefix_iterator_cf(cf, [CACHED]) {
            let (k, v) = item?;
            if k.first() != Some(&CACHED) {
                break;
            }
            let Ok(other) = <[u8; 48]>::try_from(&k[1..]) else {
                continue;
            };
            if other == digest {
                continue;
            }
            let cached: Cached =
                postcard::from_bytes(&v).map_err(|e| corrupt("module cache", e))?;
            entries.push((cached.last_used_ms, other, cached.bytes));
        }
        entries.sort_unstable();
        let mut total = total;
        let mut evicted = 0;
        for (_, other, bytes) in entries {
            if total <= bound {
                break;
            }
            self.drop_cached_locked(&other)?;
            total = total.saturating_sub(bytes);
            evicted += 1;
        }
        Ok(evicted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(bytes: &[u8]) -> [u8; 48] {
        Sha384::digest(bytes).into()
    }

    #[test]
    fn pins_persist_and_list_by_url() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.module_pin("https://cdn/npm/a@1.0.0/+esm").unwrap(),
            None
        );
        store
            .set_module_pin("https://cdn/npm/a@1.0.0/+esm", "sha384-A")
            .unwrap();
        store
            .set_module_pin("https://cdn/npm/b@1.0.0/+esm", "sha384-B")
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let pins: Vec<(String, String)> = store
            .module_pins()
            .unwrap()
            .into_iter()
            .map(|(url, pin)| (url, pin.integrity))
            .collect();
        assert_eq!(
            pins,
            vec![
                ("https://cdn/npm/a@1.0.0/+esm".into(), "sha384-A".into()),
                ("https://cdn/npm/b@1.0.0/+esm".into(), "sha384-B".into())
            ]
        );
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (a, b, c) = (vec![b'a'; 400], vec![b'b'; 400], vec![b'c'; 400]);
        assert_eq!(store.keep_module(&a, 1000).unwrap(), 0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(store.keep_module(&b, 1000).unwrap(), 0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        // `a` is used again, so `b` is now the least recently used.
        assert_eq!(store.cached_module(&digest(&a)).unwrap(), Some(a.clone()));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(store.keep_module(&c, 1000).unwrap(), 1);
        assert_eq!(store.cached_module(&digest(&b)).unwrap(), None);
        assert_eq!(store.cached_module(&digest(&a)).unwrap(), Some(a));
        assert_eq!(store.cached_module(&digest(&c)).unwrap(), Some(c));
        assert_eq!(store.cache_bytes().unwrap(), 800);
    }
}
