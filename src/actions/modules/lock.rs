//! The lock file of module pins (`lit-node modules export|import`): the URL → SHA-384 pins a node
//! trusts, so operators can pre-seed a node or share pins between nodes. A pinned URL is only
//! ever accepted with bytes of that hash.
//!
//! ```json
//! {"lock_version": 1, "modules": {"https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm": "sha384-…"}}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::integrity;
use crate::store::Store;

/// The lock file's format version.
pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub lock_version: u32,
    /// Pins by module URL (sorted, so the file diffs well).
    pub modules: BTreeMap<String, String>,
}

/// Every pin of the store.
pub fn export(store: &Store) -> Result<LockFile, String> {
    let pins = store
        .module_pins()
        .map_err(|e| format!("cannot read the module pins: {e}"))?;
    Ok(LockFile {
        lock_version: LOCK_VERSION,
        modules: pins
            .into_iter()
            .map(|(url, pin)| (url, pin.integrity))
            .collect(),
    })
}

/// Pins every module of `lock` (replacing the store's pin of the same URL). Checks the whole
/// file first, so a bad entry pins nothing. Returns how many pins were written.
pub fn import(store: &Store, lock: &LockFile) -> Result<usize, String> {
    if lock.lock_version != LOCK_VERSION {
        return Err(format!(
            "lock_version {} is not supported (this node reads version {LOCK_VERSION})",
            lock.lock_version
        ));
    }
    // Messages name a module without its scheme: the command line reduces URLs in its errors
    // to their endpoint (they may carry credentials), which would hide which module is meant.
    let shown = |url: &str| {
        url.trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string()
    };
    for (url, integrity) in &lock.modules {
        let parsed = url::Url::parse(url)
            .map_err(|e| format!("module {:?} is not a URL: {e}", shown(url)))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.fragment().is_some() {
            return Err(format!(
                "module {:?} is not an http(s) URL without a fragment",
                shown(url)
            ));
        }
        if integrity::parse(integrity).is_none() {
            return Err(format!(
                "the pin of module {} ({integrity:?}) is not sha384-<base64 of 48 bytes>",
                shown(url)
            ));
        }
    }
    for (url, integrity) in &lock.modules {
        store
            .set_module_pin(url, integrity)
            .map_err(|e| format!("cannot pin {url}: {e}"))?;
    }
    Ok(lock.modules.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_file_moves_pins_between_stores_and_a_bad_entry_pins_nothing() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (from, to) = (
            Store::open(a.path()).unwrap(),
            Store::open(b.path()).unwrap(),
        );
        let zod = integrity::sha384_of(b"zod");
        from.set_module_pin("https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm", &zod)
            .unwrap();
        let lock = export(&from).unwrap();
        let text = serde_json::to_string(&lock).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"lock_version":1,"modules":{{"https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm":"{zod}"}}}}"#
            )
        );
        assert_eq!(import(&to, &serde_json::from_str(&text).unwrap()), Ok(1));
        assert_eq!(export(&to).unwrap(), lock);

        let mut bad = lock.clone();
        bad.modules.insert(
            "https://cdn.jsdelivr.net/npm/uuid@9.0.1/+esm".into(),
            "sha384-short".into(),
        );
        bad.modules.insert(
            "https://cdn.jsdelivr.net/npm/a@1.0.0/+esm".into(),
            integrity::sha384_of(b"a"),
        );
        let fresh_dir = tempfile::tempdir().unwrap();
        let fresh = Store::open(fresh_dir.path()).unwrap();
        assert!(import(&fresh, &bad).unwrap_err().contains("uuid@9.0.1"));
        assert!(fresh.module_pins().unwrap().is_empty(), "nothing pinned");
        let mut future = lock;
        future.lock_version = 2;
        assert!(import(&fresh, &future)
            .unwrap_err()
            .contains("lock_version 2"));
    }
}
