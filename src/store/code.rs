//! Lit Action code kept by this node, content-addressed by CIDv0 (column family `code`). Code is
//! verified against its CID before it is stored and again when read, so a corrupted entry is
//! never served. This is node-local content, not authorisation state: the API writes it directly.

use super::{Store, StoreError, CF_CODE};
use crate::actions::cid::cid_v0;

impl Store {
    /// Stores `code` under its own CID; returns that CID.
    pub fn put_code(&self, code: &[u8]) -> Result<String, StoreError> {
        let cid = cid_v0(code);
        self.db.put_cf(self.cf(CF_CODE), cid.as_bytes(), code)?;
        Ok(cid)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_content_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let code = br#"async function main() { return "hello"; }"#;
        let cid = store.put_code(code).unwrap();
        assert_eq!(cid, "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6");
        assert_eq!(store.code(&cid).unwrap().as_deref(), Some(&code[..]));
        assert_eq!(
            store
                .code("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")
                .unwrap(),
            None
        );
    }
}
