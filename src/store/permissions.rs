//! The access policy, in one place: what a key is (live, expired or unknown), its scopes
//! (spec/api.md, "Keys and scopes"), and the execute and wallet rights of spec/actions.md
//! ("Permissions"), answered from the store plus in-memory caches. The API's auth and the actions
//! host both ask here; nothing else reads a key's record to decide what it may do. There is no time-to-live: the indexer calls [`Permissions::invalidate`] with what each
//! applied range touched. A version counter, bumped by every invalidation, keeps a reader that
//! loaded from the store before a change from caching the stale result afterwards; a reader's
//! version check and insert happen under a shared lock that invalidation takes exclusively, so
//! no invalidation can fall between them. Only facts about things that exist are cached: a
//! lookup of an unknown key or wallet leaves nothing behind (random keys cannot fill memory).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256};
use moka::sync::Cache;

use super::query::Page;
use super::records::UsageKeyRecord;
use super::{Store, StoreError};

const CACHE_CAPACITY: u64 = 1_000_000;

/// What a key is and may do: resolved once per key and cached (a request resolves it once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub key_hash: B256,
    pub account: B256,
    /// `None` for the account key; the scopes of a usage key otherwise.
    pub usage: Option<UsageKeyRecord>,
    expiration: u64,
    /// `execute_in_groups` contains 0 (every group).
    every_group: bool,
    groups: Vec<u64>,
}

/// What a presented key turned out to be.
#[derive(Debug, Clone)]
pub enum KeyState {
    Live(Arc<KeyGrant>),
    /// A usage key past its expiration.
    Expired,
    /// No account has it (never registered, or removed).
    Unknown,
}

/// Why a key may not do something (the API answers 403 with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

/// The group-scoped usage-key scopes.
#[derive(Debug, Clone, Copy)]
pub enum GroupScope {
    ManageIpfsIds,
    AddPkp,
    RemovePkp,
}

impl KeyGrant {
    pub fn is_account_key(&self) -> bool {
        self.usage.is_none()
    }

    /// Only the account key may do `what`.
    pub fn require_account_key(&self, what: &str) -> Result<(), Denied> {
        if self.is_account_key() {
            Ok(())
        } else {
            Err(Denied(format!(
                "only the account key may {what}; usage keys cannot"
            )))
        }
    }

    /// A usage key needs the boolean scope `name` (read by `granted`); the account key always may.
    pub fn require_flag(
        &self,
        name: &str,
        granted: impl Fn(&UsageKeyRecord) -> bool,
    ) -> Result<(), Denied> {
        match &self.usage {
            Some(usage) if !granted(usage) => {
                Err(Denied(format!("this API key lacks the `{name}` scope")))
            }
            _ => Ok(()),
        }
    }

    /// A usage key needs `group` (or the 0 wildcard) in the group list of `scope`. Checked
    /// before the group's existence, so a missing scope is refused whether or not the group exists.
    pub fn require_group_scope(&self, scope: GroupScope, group: u64) -> Result<(), Denied> {
        let Some(usage) = &self.usage else {
            return Ok(());
        };
        let (list, name) = match scope {
            GroupScope::ManageIpfsIds => (
                &usage.manage_ipfs_ids_in_groups,
                "manage_ipfs_ids_in_groups",
            ),
            GroupScope::AddPkp => (&usage.add_pkp_to_groups, "add_pkp_to_groups"),
            GroupScope::RemovePkp => (&usage.remove_pkp_from_groups, "remove_pkp_from_groups"),
        };
        if list.contains(&0) || list.contains(&group) {
            Ok(())
        } else {
            Err(Denied(format!(
                "this API key may not change group {group} (not in its `{name}`)"
            )))
        }
    }
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
    /// Shared by a miss from its version check to its insert; exclusive for an invalidation.
    gate: Arc<RwLock<()>>,
    keys: Cache<B256, Arc<KeyGrant>>,
    /// Every group's sets of one account, loaded together.
    groups: Cache<B256, Arc<HashMap<u64, GroupSets>>>,
    /// The account of each registered wallet.
    wallets: Cache<Address, B256>,
    /// Test-only: runs between a miss's version check and its insert, to widen that window.
    #[cfg(test)]
    before_insert: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Permissions {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            version: Arc::new(AtomicU64::new(0)),
            gate: Arc::new(RwLock::new(())),
            keys: Cache::new(CACHE_CAPACITY),
            groups: Cache::new(CACHE_CAPACITY),
            wallets: Cache::new(CACHE_CAPACITY),
            #[cfg(test)]
            before_insert: None,
        }
    }

    /// Drops cached facts about what `touched` names. Called after the write is committed.
    pub fn invalidate(&self, touched: &Touched) {
        let _exclusive = self.gate.write().unwrap_or_else(|e| e.into_inner());
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
        let _exclusive = self.gate.write().unwrap_or_else(|e| e.into_inner());
        self.version.fetch_add(1, Ordering::SeqCst);
        self.keys.invalidate_all();
        self.groups.invalidate_all();
        self.wallets.invalidate_all();
    }

    /// Loads with `load` on a miss; caches a found value only if nothing was invalidated since
    /// the load began (checked and inserted with no invalidation in between). `None` (not
    /// found) is never cached.
    fn cached<K, V>(
        &self,
        cache: &Cache<K, V>,
        key: K,
        load: impl FnOnce() -> Result<Option<V>, StoreError>,
    ) -> Result<Option<V>, StoreError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(value) = cache.get(&key) {
            return Ok(Some(value));
        }
        let before = self.version.load(Ordering::SeqCst);
        let value = load()?;
        if let Some(value) = &value {
            let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
            if self.version.load(Ordering::SeqCst) == before {
                #[cfg(test)]
                if let Some(hook) = &self.before_insert {
                    hook();
                }
                cache.insert(key, value.clone());
            }
        }
        Ok(value)
    }

    /// What `key_hash` is: live (with its grant), expired or unknown. The only place a key's
    /// expiry is judged.
    pub fn resolve(&self, key_hash: &B256) -> Result<KeyState, StoreError> {
        let grant = self.cached(&self.keys, *key_hash, || {
            Ok(self.store.key(key_hash)?.map(|record| {
                let (expiration, groups) = match &record.usage {
                    Some(usage) => (usage.expiration, usage.execute_in_groups.clone()),
                    None => (0, Vec::new()),
                };
                Arc::new(KeyGrant {
                    key_hash: *key_hash,
                    account: record.account,
                    usage: record.usage,
                    expiration,
                    every_group: groups.contains(&0),
                    groups,
                })
            }))
        })?;
        Ok(match grant {
            None => KeyState::Unknown,
            Some(grant) if is_expired(grant.expiration) => KeyState::Expired,
            Some(grant) => KeyState::Live(grant),
        })
    }

    fn grant(&self, key_hash: &B256) -> Result<Option<Arc<KeyGrant>>, StoreError> {
        Ok(match self.resolve(key_hash)? {
            KeyState::Live(grant) => Some(grant),
            KeyState::Expired | KeyState::Unknown => None,
        })
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
            Ok(Some(Arc::new(groups)))
        })
        .map(Option::unwrap_or_default)
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
        if grant.is_account_key() || grant.every_group {
            return Ok(true);
        }
        let groups = self.account_groups(&grant.account)?;
        Ok(grant.groups.iter().filter_map(|g| groups.get(g)).any(test))
    }

    /// May `key_hash` run the action with `cid_hash`?
    pub fn can_execute(&self, key_hash: &B256, cid_hash: &B256) -> Result<bool, StoreError> {
        match self.grant(key_hash)? {
            Some(grant) => self.grant_can_execute(&grant, cid_hash),
            None => Ok(false),
        }
    }

    /// [`Self::can_execute`] for a key the request already resolved.
    pub fn grant_can_execute(&self, grant: &KeyGrant, cid_hash: &B256) -> Result<bool, StoreError> {
        self.granted(grant, |sets| {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::store::records::{encode, GroupRecord, KeyRecord, UsageKeyRecord};
    use crate::store::write::StateWriter;
    use crate::store::{keys, Cursor};

    const ACCOUNT: B256 = B256::repeat_byte(0xa1);
    const USAGE_KEY: B256 = B256::repeat_byte(0xb2);
    const CID: B256 = B256::repeat_byte(0xc3);
    const GROUP: u64 = 1;

    /// The indexer's write path: one committed write batch, then the invalidation of what it
    /// touched.
    fn apply(
        store: &Store,
        permissions: &Permissions,
        block: u64,
        changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        touched: Touched,
    ) {
        let mut writer = StateWriter::new(store);
        writer.begin_block(block, B256::ZERO, false);
        for (key, value) in changes {
            match value {
                Some(value) => writer.put(key, value).unwrap(),
                None => writer.delete(key).unwrap(),
            }
        }
        writer
            .commit(Cursor {
                number: block,
                hash: B256::ZERO,
            })
            .unwrap();
        permissions.invalidate(&touched);
    }

    fn usage_key(execute_in_groups: Vec<u64>) -> (Vec<u8>, Option<Vec<u8>>) {
        let record = KeyRecord {
            account: ACCOUNT,
            seq: 1,
            usage: Some(UsageKeyRecord {
                execute_in_groups,
                ..Default::default()
            }),
        };
        (keys::key_record(&USAGE_KEY), Some(encode(&record)))
    }

    fn group_action(present: bool) -> (Vec<u8>, Option<Vec<u8>>) {
        let key = keys::group_action(&ACCOUNT, GROUP, &CID);
        (key, present.then(Vec::new))
    }

    fn touched_key() -> Touched {
        Touched {
            keys: HashSet::from([USAGE_KEY]),
            ..Default::default()
        }
    }

    fn touched_account() -> Touched {
        Touched {
            accounts: HashSet::from([ACCOUNT]),
            ..Default::default()
        }
    }

    /// Threads keep checking while the key's grant and its group's action set flip through the
    /// indexer's path. Once an update has returned, no check may answer from the state before it
    /// (a reader that loaded the old state must never cache it after the invalidation).
    #[test]
    fn a_usage_key_past_its_expiration_is_expired_and_grants_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let permissions = Permissions::new(store.clone());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for (block, expiration, live) in [(1, 0, true), (2, now + 3600, true), (3, now - 1, false)]
        {
            let record = KeyRecord {
                account: ACCOUNT,
                seq: 1,
                usage: Some(UsageKeyRecord {
                    expiration,
                    execute_in_groups: vec![0],
                    ..Default::default()
                }),
            };
            let touched = Touched {
                keys: [USAGE_KEY].into(),
                ..Default::default()
            };
            let change = (keys::key_record(&USAGE_KEY), Some(encode(&record)));
            apply(&store, &permissions, block, vec![change], touched);
            let state = permissions.resolve(&USAGE_KEY).unwrap();
            assert_eq!(
                matches!(state, KeyState::Live(_)),
                live,
                "{expiration}: {state:?}"
            );
            assert_eq!(
                matches!(state, KeyState::Expired),
                !live,
                "{expiration}: {state:?}"
            );
            assert_eq!(permissions.can_execute(&USAGE_KEY, &CID).unwrap(), live);
            assert_eq!(permissions.key_account(&USAGE_KEY).unwrap().is_some(), live);
        }
        assert!(matches!(
            permissions.resolve(&B256::repeat_byte(0x99)).unwrap(),
            KeyState::Unknown
        ));
    }

    #[test]
    fn no_check_sees_the_state_before_a_completed_update() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let in_window = Arc::new(AtomicUsize::new(0));
        let mut permissions = Permissions::new(store.clone());
        permissions.before_insert = Some(Arc::new({
            let in_window = in_window.clone();
            move || {
                in_window.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(300)); // widens the race window
                in_window.fetch_sub(1, Ordering::SeqCst);
            }
        }));
        let group = (
            keys::group(&ACCOUNT, GROUP),
            Some(encode(&GroupRecord {
                name: "g".into(),
                description: String::new(),
            })),
        );
        apply(
            &store,
            &permissions,
            1,
            vec![group, usage_key(vec![GROUP]), group_action(true)],
            touched_key(),
        );
        assert!(permissions.can_execute(&USAGE_KEY, &CID).unwrap());

        // Updates begun / completed; a check is judged only when no update ran during it.
        let started = Arc::new(AtomicUsize::new(0));
        let completed = Arc::new(AtomicUsize::new(0));
        let expected = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let stale_seen = Arc::new(AtomicUsize::new(0));
        let checkers: Vec<_> = (0..3)
            .map(|_| {
                let (permissions, started, completed, expected, stop, stale_seen) = (
                    permissions.clone(),
                    started.clone(),
                    completed.clone(),
                    expected.clone(),
                    stop.clone(),
                    stale_seen.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let done = completed.load(Ordering::SeqCst);
                        let begun = started.load(Ordering::SeqCst);
                        let want = expected.load(Ordering::SeqCst);
                        let got = permissions.can_execute(&USAGE_KEY, &CID).unwrap();
                        let quiet = done == begun && started.load(Ordering::SeqCst) == begun;
                        if quiet && got != want {
                            stale_seen.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();

        let mut grant = true;
        let mut action = true;
        let mut block = 1;
        let mut stale_rounds = 0;
        let rounds = 150;
        for round in 0..rounds {
            // Two updates back to back: readers that missed after the first one are loading
            // while the second one lands.
            for _ in 0..2 {
                block += 1;
                started.fetch_add(1, Ordering::SeqCst);
                if round % 2 == 0 {
                    grant = !grant;
                    let groups = if grant { vec![GROUP] } else { vec![] };
                    apply(
                        &store,
                        &permissions,
                        block,
                        vec![usage_key(groups)],
                        touched_key(),
                    );
                } else {
                    action = !action;
                    apply(
                        &store,
                        &permissions,
                        block,
                        vec![group_action(action)],
                        touched_account(),
                    );
                }
                expected.store(grant && action, Ordering::SeqCst);
                completed.fetch_add(1, Ordering::SeqCst);
            }
            // Let every insert that was under way finish, then ask.
            let deadline = Instant::now() + Duration::from_secs(10);
            while in_window.load(Ordering::SeqCst) > 0 {
                assert!(Instant::now() < deadline, "a cache insert never finished");
                std::thread::yield_now();
            }
            if permissions.can_execute(&USAGE_KEY, &CID).unwrap() != (grant && action) {
                stale_rounds += 1;
            }
        }
        stop.store(true, Ordering::SeqCst);
        for checker in checkers {
            checker.join().unwrap();
        }
        assert_eq!(
            (stale_rounds, stale_seen.load(Ordering::SeqCst)),
            (0, 0),
            "(rounds of {rounds} ending with a stale cached answer, stale answers seen by checkers)"
        );
    }
}
