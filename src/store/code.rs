//! Lit Action code kept by this node, content-addressed by CIDv0 (column family `code`), and the
//! per-account quota that bounds it. This is node-local content, not authorisation state: the API
//! writes it directly. Code is verified against its CID before it is stored and again when read,
//! so a corrupted entry is never served.
//!
//! Every stored CID is held by the accounts that sent its code (run inline, or given to
//! `add_action`); the bytes count against each holder's quota. When keeping new code would take an
//! account over its quota, its least recently used code that none of its actions references is
//! let go; code its actions reference is never let go. The code itself is deleted once no account
//! holds it. So no key can fill the disk: an account keeps at most its quota.
//!
//! | key                                  | value            |
//! |--------------------------------------|------------------|
//! | cid (`Qm…`)                          | the code         |
//! | `0x01` ‖ account(32) ‖ cid           | [`Holding`]      | what the account holds
//! | `0x02` ‖ len(1) ‖ cid ‖ account(32)  | —                | who holds a CID
//! | `0x03` ‖ account(32)                 | bytes held (u64) |
//!
//! (CIDv0 keys always start with `Q`, so they never collide with the tagged tables.)

use std::sync::atomic::Ordering;

use alloy::primitives::B256;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, CF_CODE};
use crate::cid::cid_v0;

const HOLDING: u8 = 0x01;
const HOLDER: u8 = 0x02;
const HELD_BYTES: u8 = 0x03;

/// How often (ms) the last use of held code is written back; runs in between don't write.
const TOUCH_INTERVAL_MS: u64 = 60_000;

/// One account's hold on one CID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Holding {
    bytes: u64,
    /// When the account last ran or sent this code: unix milliseconds, made unique and
    /// increasing by [`Store::use_stamp`], so the least recently used order has no ties.
    last_used: u64,
}

/// What [`Store::keep_code`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// The code is stored and held by the account; `evicted` CIDs were let go to make room.
    Yes { evicted: Vec<String> },
    /// Keeping it would exceed the account's quota even after letting go of everything that may
    /// be let go; nothing was stored.
    OverQuota { held: u64, quota: u64 },
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn holding_prefix(account: &B256) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(HOLDING);
    key.extend_from_slice(account.as_slice());
    key
}

fn holding_key(account: &B256, cid: &str) -> Vec<u8> {
    let mut key = holding_prefix(account);
    key.extend_from_slice(cid.as_bytes());
    key
}

fn holder_prefix(cid: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + cid.len() + 32);
    key.push(HOLDER);
    key.push(u8::try_from(cid.len()).unwrap_or(u8::MAX));
    key.extend_from_slice(cid.as_bytes());
    key
}

fn holder_key(cid: &str, account: &B256) -> Vec<u8> {
    let mut key = holder_prefix(cid);
    key.extend_from_slice(account.as_slice());
    key
}

fn held_bytes_key(account: &B256) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = HELD_BYTES;
    key[1..].copy_from_slice(account.as_slice());
    key
}

fn corrupt(key: &[u8], reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: format!("code/{}", hex::encode(key)),
        reason: reason.to_string(),
    }
}

impl Store {
    /// Stores `code` under its own CID, held by `account` within `quota` bytes (see the module
    /// docs); refreshes its last use if the account already holds it.
    pub fn keep_code(&self, account: &B256, code: &[u8], quota: u64) -> Result<Kept, StoreError> {
        let cid = cid_v0(code);
        let size = code.len() as u64;
        let _writing = self.code_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(holding) = self.holding(account, &cid)? {
            self.touch(account, &cid, holding)?;
            return Ok(Kept::Yes {
                evicted: Vec::new(),
            });
        }
        let held = self.held_bytes(account)?;
        let mut batch = WriteBatch::default();
        let mut freed = 0u64;
        let mut evicted = Vec::new();
        if held.saturating_add(size) > quota {
            for (old_cid, holding) in self.evictable(account)? {
                if held.saturating_add(size).saturating_sub(freed) <= quota {
                    break;
                }
                self.let_go(&mut batch, account, &old_cid)?;
                freed += holding.bytes;
                evicted.push(old_cid);
            }
            if held.saturating_add(size).saturating_sub(freed) > quota {
                return Ok(Kept::OverQuota { held, quota });
            }
        }
        let cf = self.cf(CF_CODE);
        batch.put_cf(cf, cid.as_bytes(), code);
        let holding = Holding {
            bytes: size,
            last_used: self.use_stamp(),
        };
        batch.put_cf(
            cf,
            holding_key(account, &cid),
            postcard::to_stdvec(&holding).expect("a holding serialises"),
        );
        batch.put_cf(cf, holder_key(&cid, account), []);
        batch.put_cf(
            cf,
            held_bytes_key(account),
            (held + size - freed).to_be_bytes(),
        );
        self.db.write(batch)?;
        if !evicted.is_empty() {
            metrics::counter!("lit_node_code_evicted_total").increment(evicted.len() as u64);
        }
        Ok(Kept::Yes { evicted })
    }

    /// Whether [`Store::keep_code`] would keep `code` for the account (counting what may be let
    /// go), without changing anything.
    pub fn code_fits(&self, account: &B256, code: &[u8], quota: u64) -> Result<bool, StoreError> {
        if self.holding(account, &cid_v0(code))?.is_some() {
            return Ok(true);
        }
        let bytes = code.len() as u64;
        let held = self.held_bytes(account)?;
        if held.saturating_add(bytes) <= quota {
            return Ok(true);
        }
        let evictable: u64 = self.evictable(account)?.iter().map(|(_, h)| h.bytes).sum();
        Ok(held.saturating_add(bytes).saturating_sub(evictable) <= quota)
    }

    /// Records that `account` ran the code of `cid` (by CID), for the least-recently-used order.
    pub fn touch_code(&self, account: &B256, cid: &str) -> Result<(), StoreError> {
        if let Some(holding) = self.holding(account, cid)? {
            let _writing = self.code_lock.lock().unwrap_or_else(|p| p.into_inner());
            self.touch(account, cid, holding)?;
        }
        Ok(())
    }

    /// Bytes of code the account holds.
    pub fn held_bytes(&self, account: &B256) -> Result<u64, StoreError> {
        let key = held_bytes_key(account);
        match self.db.get_pinned_cf(self.cf(CF_CODE), key)? {
            None => Ok(0),
            Some(bytes) => Ok(u64::from_be_bytes(
                bytes.as_ref().try_into().map_err(|e| corrupt(&key, e))?,
            )),
        }
    }

    /// Is code stored under `cid`? (Does not read or verify the code itself.)
    pub fn has_code(&self, cid: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_CODE), cid.as_bytes())?
            .is_some())
    }

    /// The code stored for `cid`, if any (and if it still hashes to `cid`).
    pub fn code(&self, cid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(code) = self.db.get_cf(self.cf(CF_CODE), cid.as_bytes())? else {
            return Ok(None);
        };
        if cid_v0(&code) != cid {
            return Err(StoreError::Corrupt {
                key: format!("code/{cid}"),
                reason: "content does not match its CID".into(),
            });
        }
        Ok(Some(code))
    }

    fn holding(&self, account: &B256, cid: &str) -> Result<Option<Holding>, StoreError> {
        let key = holding_key(account, cid);
        self.db
            .get_pinned_cf(self.cf(CF_CODE), &key)?
            .map(|bytes| postcard::from_bytes(&bytes).map_err(|e| corrupt(&key, e)))
            .transpose()
    }

    /// Now, in unix milliseconds, but later than every stamp handed out before.
    fn use_stamp(&self) -> u64 {
        let now = now_ms();
        let previous = self
            .code_clock
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last + 1))
            })
            .expect("the update always succeeds");
        now.max(previous + 1)
    }

    fn touch(&self, account: &B256, cid: &str, holding: Holding) -> Result<(), StoreError> {
        if now_ms().saturating_sub(holding.last_used) < TOUCH_INTERVAL_MS {
            return Ok(());
        }
        let touched = Holding {
            last_used: self.use_stamp(),
            ..holding
        };
        self.db.put_cf(
            self.cf(CF_CODE),
            holding_key(account, cid),
            postcard::to_stdvec(&touched).expect("a holding serialises"),
        )?;
        Ok(())
    }

    /// The account's held code that none of its actions references, least recently used first.
    fn evictable(&self, account: &B256) -> Result<Vec<(String, Holding)>, StoreError> {
        let prefix = holding_prefix(account);
        let mut held = Vec::new();
        let entries = self.db.iterator_cf(
            self.cf(CF_CODE),
            rocksdb::IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        );
        for entry in entries {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            let cid =
                String::from_utf8(key[prefix.len()..].to_vec()).map_err(|e| corrupt(&key, e))?;
            if self.action(account, &crate::cid::cid_hash(&cid))?.is_some() {
                continue; // referenced by one of its actions: kept
            }
            let holding: Holding = postcard::from_bytes(&value).map_err(|e| corrupt(&key, e))?;
            held.push((cid, holding));
        }
        held.sort_by_key(|(_, holding)| holding.last_used);
        Ok(held)
    }

    /// Adds to `batch` the end of `account`'s hold on `cid`, and the code itself when no other
    /// account holds it.
    fn let_go(&self, batch: &mut WriteBatch, account: &B256, cid: &str) -> Result<(), StoreError> {
        let cf = self.cf(CF_CODE);
        batch.delete_cf(cf, holding_key(account, cid));
        batch.delete_cf(cf, holder_key(cid, account));
        let prefix = holder_prefix(cid);
        let other_holder = self
            .db
            .iterator_cf(
                cf,
                rocksdb::IteratorMode::From(&prefix, rocksdb::Direction::Forward),
            )
            .map_while(Result::ok)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .any(|(key, _)| key[prefix.len()..] != *account.as_slice());
        if !other_holder {
            batch.delete_cf(cf, cid.as_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: usize, size: usize) -> Vec<u8> {
        let mut code = format!("async function main() {{ return {n}; }} //").into_bytes();
        code.resize(size, b'x');
        code
    }

    #[test]
    fn code_is_content_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let code = br#"async function main() { return "hello"; }"#;
        let account = B256::repeat_byte(1);
        assert!(matches!(
            store.keep_code(&account, code, 1 << 20).unwrap(),
            Kept::Yes { .. }
        ));
        let cid = "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6";
        assert_eq!(store.code(cid).unwrap().as_deref(), Some(&code[..]));
        assert_eq!(
            store
                .code("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")
                .unwrap(),
            None
        );
        // Keeping it again changes nothing.
        store.keep_code(&account, code, 1 << 20).unwrap();
        assert_eq!(store.held_bytes(&account).unwrap(), code.len() as u64);
    }

    #[test]
    fn an_account_keeps_at_most_its_quota_least_recently_used_going_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let quota = 3000;
        let codes: Vec<Vec<u8>> = (0..5).map(|n| code(n, 1000)).collect();
        let cids: Vec<String> = codes.iter().map(|c| cid_v0(c)).collect();
        for code in &codes[..3] {
            assert_eq!(
                store.keep_code(&a, code, quota).unwrap(),
                Kept::Yes { evicted: vec![] }
            );
        }
        // b holds the second code too: when a lets go of it, the code stays for b.
        store.keep_code(&b, &codes[1], quota).unwrap();
        // The least recently used goes first.
        assert_eq!(
            store.keep_code(&a, &codes[3], quota).unwrap(),
            Kept::Yes {
                evicted: vec![cids[0].clone()]
            }
        );
        assert!(store.code(&cids[0]).unwrap().is_none(), "nobody holds it");
        assert_eq!(
            store.keep_code(&a, &codes[4], quota).unwrap(),
            Kept::Yes {
                evicted: vec![cids[1].clone()]
            }
        );
        assert!(store.code(&cids[1]).unwrap().is_some(), "b still holds it");
        assert_eq!(store.held_bytes(&a).unwrap(), 3000);
        assert!(store.code(&cids[3]).unwrap().is_some());
        // Code larger than the quota is not kept at all.
        let huge = code(9, 3001);
        assert_eq!(
            store.keep_code(&a, &huge, quota).unwrap(),
            Kept::OverQuota { held: 3000, quota }
        );
        assert!(!store.has_code(&cid_v0(&huge)).unwrap());
        assert!(store.code_fits(&a, &code(7, 3000), quota).unwrap());
        assert!(!store.code_fits(&a, &code(7, 3001), quota).unwrap());
        assert!(
            store.code_fits(&a, &codes[3], quota).unwrap(),
            "already held"
        );
        assert_eq!(store.held_bytes(&b).unwrap(), 1000);
    }

    #[test]
    fn code_an_action_of_the_account_references_is_never_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let account = B256::repeat_byte(1);
        let registered = code(1, 1000);
        let cid = cid_v0(&registered);
        store.keep_code(&account, &registered, 2000).unwrap();
        // The account's action for that CID, as the indexer writes it.
        let record = super::super::records::ActionRecord {
            cid: cid.clone(),
            name: "kept".into(),
            description: String::new(),
            seq: 1,
        };
        store
            .db
            .put_cf(
                store.cf(super::super::CF_STATE),
                super::super::keys::action(&account, &crate::cid::cid_hash(&cid)),
                super::super::records::encode(&record),
            )
            .unwrap();
        for n in 2..6 {
            assert!(matches!(
                store.keep_code(&account, &code(n, 1000), 2000).unwrap(),
                Kept::Yes { .. }
            ));
            assert!(store.code(&cid).unwrap().is_some(), "round {n}");
        }
        assert_eq!(store.held_bytes(&account).unwrap(), 2000);
        assert!(matches!(
            store.keep_code(&account, &code(9, 1001), 2000).unwrap(),
            Kept::OverQuota { .. }
        ));
    }
}
