//! The node's RocksDB store. The chain indexer is its only writer of authorisation state; this
//! module owns the schema (column families, key encodings) and the queries.
//!
//! Column families:
//! - `meta`: store-wide facts — which chain and registry this store mirrors (`chain_id`,
//!   `registry`), so one data dir never mixes two chains.

mod meta;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

pub use meta::ChainIdentity;

pub(crate) const CF_META: &str = "meta";
const COLUMN_FAMILIES: &[&str] = &[CF_META];

/// Storage-layer failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("store read/write failed: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("store value for {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error(
        "data dir {path} belongs to chain id {stored_chain_id} (registry {stored_registry}), but this \
         node is configured for chain id {chain_id} (registry {registry}); use another --data-dir or \
         delete this one to rebuild it"
    )]
    WrongChain {
        path: PathBuf,
        stored_chain_id: u64,
        stored_registry: String,
        chain_id: u64,
        registry: String,
    },
}

/// Handle to the open database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, families).map_err(|source| {
            StoreError::Open {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(Self {
            db: Arc::new(db),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created at open")
    }
}
