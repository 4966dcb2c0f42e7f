//! The node's RocksDB store. The chain indexer is its only writer of authorisation state; this
//! module owns the schema (column families, key encodings) and the queries.
//!
//! Column families:
//! - `meta`: store-wide facts — which chain and registry this store mirrors (`chain_id`,
//!   `registry`), so one data dir never mixes two chains — and the mirror's cursor.
//! - `state`: the mirrored authorisation state; tables and key encodings in [`keys`].
//! - `undo`: per block inside the reorg window, the previous value of every key it changed.
//! - `blocks`: number → hash of recent applied blocks, to find a fork point after a reorg.
//! - `code`: Lit Action code by CID and the accounts holding it, within a per-account quota
//!   (node-local content, see [`code`]).
//! - `billing`: metered charges and settlement batches not yet settled (see [`journal`]).
//! - `outbox`: transactions sent and not yet seen mined (see [`outbox`]).
//! - `idempotency`: replies of writes kept for `Idempotency-Key` retries (see [`idempotency`]).
//! - `used_messages`: hashes of wallet-signed messages already accepted (see [`used_messages`]).
//! - `modules`: pins and cached source of imported ES modules (see [`modules`]).

pub mod code;
pub mod idempotency;
pub mod journal;
pub mod keys;
mod meta;
mod mirror_writes;
pub mod modules;
pub mod outbox;
pub mod permissions;
pub mod query;
pub mod records;
pub mod used_messages;
pub mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

pub use meta::{ChainIdentity, Cursor};

pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_STATE: &str = "state";
pub(crate) const CF_UNDO: &str = "undo";
pub(crate) const CF_BLOCKS: &str = "blocks";
pub(crate) const CF_CODE: &str = "code";
pub(crate) const CF_BILLING: &str = "billing";
pub(crate) const CF_OUTBOX: &str = "outbox";
pub(crate) const CF_IDEMPOTENCY: &str = "idempotency";
pub(crate) const CF_USED_MESSAGES: &str = "used_messages";
pub(crate) const CF_MODULES: &str = "modules";
const COLUMN_FAMILIES: &[&str] = &[
    CF_META,
    CF_STATE,
    CF_UNDO,
    CF_BLOCKS,
    CF_CODE,
    CF_BILLING,
    CF_OUTBOX,
    CF_IDEMPOTENCY,
    CF_USED_MESSAGES,
    CF_MODULES,
];

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
    #[error("the billing journal failed: {0}")]
    Journal(String),
    /// A record the mirror should hold is missing (the mirror and the chain disagree).
    #[error("{0}")]
    Missing(String),
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

/// One raw `(key, value)` entry as RocksDB returns it.
pub type RawEntry = (Box<[u8]>, Box<[u8]>);
/// One owned `(key, value)` entry.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Handle to the open database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
    path: PathBuf,
    /// Serialises the read-modify-write updates of the code table's quota counters.
    code_lock: Arc<std::sync::Mutex<()>>,
    /// The last use stamp handed to held code (see `code`).
    code_clock: Arc<std::sync::atomic::AtomicU64>,
    /// Serialises the check-and-record of used signed messages.
    messages_lock: Arc<std::sync::Mutex<()>>,
    /// Serialises updates of the module cache's size counter.
    modules_lock: Arc<std::sync::Mutex<()>>,
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
            code_lock: Arc::default(),
            code_clock: Arc::default(),
            messages_lock: Arc::default(),
            modules_lock: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Committed `state` entries whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = Result<RawEntry, rocksdb::Error>> + 'a {
        self.db
            .iterator_cf(
                self.cf(CF_STATE),
                rocksdb::IteratorMode::From(prefix, rocksdb::Direction::Forward),
            )
            .take_while(move |entry| match entry {
                Ok((key, _)) => key.starts_with(prefix),
                Err(_) => true,
            })
    }

    /// Every committed `state` entry (for comparing two mirrors in tests and tools).
    pub fn dump_state(&self) -> Result<Vec<Entry>, StoreError> {
        self.scan_prefix(&[])
            .map(|entry| {
                entry
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    /// Every entry of the column family `name` (for tests and tools that inspect the store);
    /// `None` for a name the store does not have.
    pub fn dump_column(&self, name: &str) -> Option<Result<Vec<Entry>, StoreError>> {
        COLUMN_FAMILIES.contains(&name).then(|| {
            self.db
                .iterator_cf(self.cf(name), rocksdb::IteratorMode::Start)
                .map(|entry| {
                    entry
                        .map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .map_err(StoreError::from)
                })
                .collect()
        })
    }

    /// The names of the store's column families.
    pub fn column_names() -> &'static [&'static str] {
        COLUMN_FAMILIES
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created at open")
    }
}
