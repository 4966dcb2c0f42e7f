//! Store-wide metadata: the identity of the chain a store mirrors.

use alloy::primitives::Address;

use super::{Store, StoreError, CF_META};

const KEY_CHAIN_ID: &[u8] = b"chain_id";
const KEY_REGISTRY: &[u8] = b"registry";

/// Which chain and registry contract a store mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainIdentity {
    pub chain_id: u64,
    pub registry: Address,
}

impl Store {
    /// The identity recorded in this store, if any.
    pub fn chain_identity(&self) -> Result<Option<ChainIdentity>, StoreError> {
        let cf = self.cf(CF_META);
        let (Some(id), Some(registry)) = (
            self.db.get_cf(cf, KEY_CHAIN_ID)?,
            self.db.get_cf(cf, KEY_REGISTRY)?,
        ) else {
            return Ok(None);
        };
        let chain_id =
            u64::from_be_bytes(id.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                key: "meta/chain_id".into(),
                reason: format!("{} bytes, expected 8", id.len()),
            })?);
        let registry = Address::try_from(registry.as_slice()).map_err(|_| StoreError::Corrupt {
            key: "meta/registry".into(),
            reason: format!("{} bytes, expected 20", registry.len()),
        })?;
        Ok(Some(ChainIdentity { chain_id, registry }))
    }

    /// Records `expected` in a new store, or checks that an existing store mirrors the same chain.
    pub fn claim_chain(&self, expected: ChainIdentity) -> Result<(), StoreError> {
        match self.chain_identity()? {
            Some(stored) if stored == expected => Ok(()),
            Some(stored) => Err(StoreError::WrongChain {
                path: self.path.clone(),
                stored_chain_id: stored.chain_id,
                stored_registry: format!("{:#x}", stored.registry),
                chain_id: expected.chain_id,
                registry: format!("{:#x}", expected.registry),
            }),
            None => {
                let cf = self.cf(CF_META);
                let mut batch = rocksdb::WriteBatch::default();
                batch.put_cf(cf, KEY_CHAIN_ID, expected.chain_id.to_be_bytes());
                batch.put_cf(cf, KEY_REGISTRY, expected.registry.as_slice());
                self.db.write(batch)?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_claimed_once_and_refuses_another_chain() {
        let dir = tempfile::tempdir().unwrap();
        let first = ChainIdentity {
            chain_id: 31337,
            registry: Address::repeat_byte(1),
        };
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.chain_identity().unwrap(), None);
            store.claim_chain(first).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        store.claim_chain(first).unwrap();
        let other_address = ChainIdentity {
            registry: Address::repeat_byte(2),
            ..first
        };
        let err = store.claim_chain(other_address).unwrap_err();
        assert!(
            err.to_string().contains("belongs to chain id 31337"),
            "{err}"
        );
        let other_chain = ChainIdentity {
            chain_id: 8453,
            ..first
        };
        assert!(matches!(
            store.claim_chain(other_chain),
            Err(StoreError::WrongChain { chain_id: 8453, .. })
        ));
    }
}

pub(crate) const KEY_CURSOR: &[u8] = b"cursor";

/// The last block the mirror has applied (number and hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub number: u64,
    pub hash: alloy::primitives::B256,
}

impl Cursor {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.number.to_be_bytes().to_vec();
        out.extend_from_slice(self.hash.as_slice());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() != 40 {
            return Err(StoreError::Corrupt {
                key: "meta/cursor".into(),
                reason: format!("{} bytes, expected 40", bytes.len()),
            });
        }
        Ok(Self {
            number: u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
            hash: alloy::primitives::B256::from_slice(&bytes[8..]),
        })
    }
}

impl Store {
    /// The mirror's cursor; `None` before the first applied range.
    pub fn cursor(&self) -> Result<Option<Cursor>, StoreError> {
        self.db
            .get_cf(self.cf(CF_META), KEY_CURSOR)?
            .map(|bytes| Cursor::decode(&bytes))
            .transpose()
    }
}
