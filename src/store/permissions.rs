//! Permission checks of spec/actions.md ("Permissions"), answered from the store plus in-memory
//! caches. There is no time-to-live: the indexer calls [`Permissions::invalidate`] with what each
//! applied range touched. A version counter, bumped by every invalidation, keeps a reader that
//! loaded from the store before a change from caching the stale result afterwards.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256};
use moka::sync::Cache;

use super::query::Page;
use super::{Store, StoreError};

const CACHE_CAPACITY: u64 = 1_000_000;

/// What a key may execute: resolved once per key and cached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyGrant {
    account: B256,
    is_account_key: bool,
    expiration: u64,
    /// `execute_in_groups` contains 0 (every group).
    every_group: bool,
    groups: Vec<u64>,
}

/// One group's action and wallet sets.
#[derive(Debug, Default)]
struct GroupSets {
    any_action: bool,
    actions: HashSet<B256>,
    any_wallet: bool,
    wallets: HashSet<Address>,
}

/// What the indexer changed in one applied range; everything derived from it is dropped.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    pub keys: HashSet<B256>,
    pub accounts: HashSet<B256>,
    pub wallets: HashSet<Address>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.accounts.is_empty() && self.wallets.is_empty()
    }
}

#[derive(Clone)]
pub struct Permissions {
    store: Store,
    version: Arc<AtomicU64>,
    keys: Cache<B256, Option<Arc<KeyGrant>>>,
    /// Every group's sets of one account, loaded together.
    groups: Cache<B256, Arc<HashMap<u64, GroupSets>>>,
    wallets: Cache<Address, Option<B256>>,
}

impl Permissions {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            version: Arc::new(AtomicU64::new(0)),
            keys: Cache::new(CACHE_CAPACITY),
            groups: Cache::new(CACHE_CAPACITY),
            wallets: Cache::new(CACHE_CAPACITY),
        }
    }

    /// Drops cached facts about what `touched` names. Called after the write is committed.
    pub fn invalidate(&self, touched: &Touched) {
        self.version.fetch_add(1, Ordering::SeqCst);
        for key in &touched.keys {
            self.keys.invalidate(key);
        }
        for wallet in &touched.wallets {
            self.wallets.invalidate(wallet);
        }
        for account in &touched.accounts {
            self.groups.invalidate(account);
        }
    }

    /// Drops everything (after a reorg rollback or a rebuild).
    pub fn invalidate_all(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
        self.keys.invalidate_all();
        self.groups.invalidate_all();
        self.wallets.invalidate_all();
    }

    /// Loads with `load` on a miss; caches the result only if nothing was invalidated meanwhile.
    fn cached<K, V>(
        &self,
        cache: &Cache<K, V>,
        key: K,
        load: impl FnOnce() -> Result<V, StoreError>,
    ) -> Result<V, StoreError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(value) = cache.get(&key) {
            return Ok(value);
        }
        let before = self.version.load(Ordering::SeqCst);
        let value = load()?;
        if self.version.load(Ordering::SeqCst) == before {
            cache.insert(key, value.clone());
        }
        Ok(value)
    }

    fn grant(&self, key_hash: &B256) -> Result<Option<Arc<KeyGrant>>, StoreError> {
        let grant = self.cached(&self.keys, *key_hash, || {
            Ok(self.store.key(key_hash)?.map(|record| {
                let (expiration, groups) = match &record.usage {
                    Some(usage) => (usage.expiration, usage.execute_in_groups.clone()),
                    None => (0, Vec::new()),
                };
                Arc::new(KeyGrant {
                    account: record.account,
                    is_account_key: record.is_account_key(),
                    expiration,
                    every_group: groups.contains(&0),
                    groups,
                })
            }))
        })?;
        Ok(grant.filter(|g| !is_expired(g.expiration)))
    }

    fn account_groups(&self, account: &B256) -> Result<Arc<HashMap<u64, GroupSets>>, StoreError> {
        self.cached(&self.groups, *account, || {
            let mut groups = HashMap::new();
            for (id, _) in self.store.groups(account, Page::ALL)? {
                let mut sets = GroupSets::default();
                for cid in self.store.group_actions(account, id, Page::ALL)? {
                    if cid.is_zero() {
                        sets.any_action = true;
                    } else {
                        sets.actions.insert(cid);
                    }
                }
                for wallet in self.store.group_wallets(account, id, Page::ALL)? {
                    if wallet.is_zero() {
                        sets.any_wallet = true;
                    } else {
                        sets.wallets.insert(wallet);
                    }
                }
                groups.insert(id, sets);
            }
            Ok(Arc::new(groups))
        })
    }

    /// The account a wallet is registered to, if any.
    pub fn wallet_account(&self, wallet: &Address) -> Result<Option<B256>, StoreError> {
        self.cached(&self.wallets, *wallet, || {
            Ok(self.store.wallet(wallet)?.map(|w| w.account))
        })
    }

    /// The account of a live key (known, not expired).
    pub fn key_account(&self, key_hash: &B256) -> Result<Option<B256>, StoreError> {
        Ok(self.grant(key_hash)?.map(|g| g.account))
    }

    /// True when the key's grant allows it outright (account key, or `execute_in_groups` holding
    /// 0), or when one of its execute groups passes `test`.
    fn granted(
        &self,
        grant: &KeyGrant,
        test: impl Fn(&GroupSets) -> bool,
    ) -> Result<bool, StoreError> {
        if grant.is_account_key || grant.every_group {
            return Ok(true);
        }
        let groups = self.account_groups(&grant.account)?;
        Ok(grant.groups.iter().filter_map(|g| groups.get(g)).any(test))
    }

    /// May `key_hash` run the action with `cid_hash`?
    pub fn can_execute(&self, key_hash: &B256, cid_hash: &B256) -> Result<bool, StoreError> {
        let Some(grant) = self.grant(key_hash)? else {
            return Ok(false);
        };
        self.granted(&grant, |sets| {
            sets.any_action || sets.actions.contains(cid_hash)
        })
    }

    /// May `key_hash`, running the action with `cid_hash`, use `wallet`? The wallet must belong
    /// to the key's account in every case.
    pub fn can_use_wallet(
        &self,
        key_hash: &B256,
        cid_hash: &B256,
        wallet: &Address,
    ) -> Result<bool, StoreError> {
        let Some(grant) = self.grant(key_hash)? else {
            return Ok(false);
        };
        if self.wallet_account(wallet)? != Some(grant.account) {
            return Ok(false);
        }
        self.granted(&grant, |sets| {
            (sets.any_action || sets.actions.contains(cid_hash))
                && (sets.any_wallet || sets.wallets.contains(wallet))
        })
    }

    /// Entries currently cached, by cache (for tests and metrics).
    pub fn cached_counts(&self) -> HashMap<&'static str, u64> {
        self.keys.run_pending_tasks();
        self.groups.run_pending_tasks();
        self.wallets.run_pending_tasks();
        HashMap::from([
            ("keys", self.keys.entry_count()),
            ("groups", self.groups.entry_count()),
            ("wallets", self.wallets.entry_count()),
        ])
    }
}

fn is_expired(expiration: u64) -> bool {
    if expiration == 0 {
        return false;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    expiration <= now
}
