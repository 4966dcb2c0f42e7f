//! Read queries over the mirrored state, used by the API and by action permission checks.
//! Lists are in creation order and paginated: page `number` (0-based) of `size` items; past the
//! end is an empty list.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256};

use super::records::{
    decode, AccountRecord, ActionRecord, GroupRecord, KeyRecord, UsageKeyRecord, WalletRecord,
};
use super::{keys, Store, StoreError, CF_STATE};

/// A page of a list: items `[number*size, (number+1)*size)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u64,
    pub size: u64,
}

impl Page {
    pub const ALL: Page = Page {
        number: 0,
        size: u64::MAX,
    };

    fn skip(&self) -> usize {
        usize::try_from(self.number.saturating_mul(self.size)).unwrap_or(usize::MAX)
    }

    fn take(&self) -> usize {
        usize::try_from(self.size).unwrap_or(usize::MAX)
    }
}

impl Store {
    fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        self.db
            .get_pinned_cf(self.cf(CF_STATE), key)?
            .map(|bytes| decode(key, &bytes))
            .transpose()
    }

    fn exists(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.db.get_pinned_cf(self.cf(CF_STATE), key)?.is_some())
    }

    /// Values of an index table (`prefix ‖ seq → value`) for one page.
    fn page_of(&self, prefix: &[u8], page: Page) -> Result<Vec<Box<[u8]>>, StoreError> {
        self.scan_prefix(prefix)
            .skip(page.skip())
            .take(page.take())
            .map(|entry| entry.map(|(_, value)| value).map_err(StoreError::from))
            .collect()
    }

    /// Keys under `prefix` for one page, leaving out the all-zero member (a group's wildcard).
    fn page_members(&self, prefix: &[u8], page: Page) -> Result<Vec<Box<[u8]>>, StoreError> {
        self.scan_prefix(prefix)
            .filter(|entry| {
                !matches!(entry, Ok((key, _)) if key[prefix.len()..].iter().all(|b| *b == 0))
            })
            .skip(page.skip())
            .take(page.take())
            .map(|entry| entry.map(|(key, _)| key).map_err(StoreError::from))
            .collect()
    }

    /// Keys under `prefix` for one page (for set tables, whose members are in the key).
    fn page_keys(&self, prefix: &[u8], page: Page) -> Result<Vec<Box<[u8]>>, StoreError> {
        self.scan_prefix(prefix)
            .skip(page.skip())
            .take(page.take())
            .map(|entry| entry.map(|(key, _)| key).map_err(StoreError::from))
            .collect()
    }

    pub fn account(&self, account: &B256) -> Result<Option<AccountRecord>, StoreError> {
        self.get_record(&keys::account(account))
    }

    /// Up to `limit` self-managed accounts whose admin is `admin`, in account-id order.
    pub fn self_managed_accounts_of(
        &self,
        admin: &Address,
        limit: usize,
    ) -> Result<Vec<B256>, StoreError> {
        let prefix = keys::admin_accounts_prefix(admin);
        self.scan_prefix(&prefix)
            .take(limit)
            .map(|entry| {
                entry
                    .map(|(key, _)| B256::from_slice(&key[prefix.len()..]))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    /// The account and scopes of a key (account key or usage key), by its hash.
    pub fn key(&self, key_hash: &B256) -> Result<Option<KeyRecord>, StoreError> {
        self.get_record(&keys::key_record(key_hash))
    }

    /// The account's usage keys in creation order.
    pub fn usage_keys(
        &self,
        account: &B256,
        page: Page,
    ) -> Result<Vec<(B256, UsageKeyRecord)>, StoreError> {
        let mut out = Vec::new();
        for hash in self.page_of(&keys::account_keys_prefix(account), page)? {
            let key_hash = B256::from_slice(&hash);
            if let Some(KeyRecord {
                usage: Some(usage), ..
            }) = self.key(&key_hash)?
            {
                out.push((key_hash, usage));
            }
        }
        Ok(out)
    }

    pub fn wallet(&self, wallet: &Address) -> Result<Option<WalletRecord>, StoreError> {
        self.get_record(&keys::wallet(wallet))
    }

    /// The wallet if it belongs to `account` (a foreign wallet is as good as unknown).
    pub fn wallet_of(
        &self,
        account: &B256,
        wallet: &Address,
    ) -> Result<Option<WalletRecord>, StoreError> {
        Ok(self.wallet(wallet)?.filter(|w| &w.account == account))
    }

    /// The account's wallets in creation order.
    pub fn wallets(
        &self,
        account: &B256,
        page: Page,
    ) -> Result<Vec<(Address, WalletRecord)>, StoreError> {
        let mut out = Vec::new();
        for raw in self.page_of(&keys::account_wallets_prefix(account), page)? {
            let address = Address::from_slice(&raw);
            if let Some(record) = self.wallet(&address)? {
                out.push((address, record));
            }
        }
        Ok(out)
    }

    pub fn group(&self, account: &B256, group: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.get_record(&keys::group(account, group))
    }

    /// The account's groups in id (= creation) order.
    pub fn groups(
        &self,
        account: &B256,
        page: Page,
    ) -> Result<Vec<(u64, GroupRecord)>, StoreError> {
        self.scan_prefix(&keys::groups_prefix(account))
            .skip(page.skip())
            .take(page.take())
            .map(|entry| {
                let (key, value) = entry?;
                Ok((keys::trailing_u64(&key), decode(&key, &value)?))
            })
            .collect()
    }

    /// The hashed CIDs in a group's action set (the zero hash = any action).
    pub fn group_actions(
        &self,
        account: &B256,
        group: u64,
        page: Page,
    ) -> Result<Vec<B256>, StoreError> {
        let prefix = keys::group_actions_prefix(account, group);
        Ok(self
            .page_keys(&prefix, page)?
            .iter()
            .map(|key| B256::from_slice(&key[prefix.len()..]))
            .collect())
    }

    /// The addresses in a group's wallet set (the zero address = any wallet of the account).
    pub fn group_wallets(
        &self,
        account: &B256,
        group: u64,
        page: Page,
    ) -> Result<Vec<Address>, StoreError> {
        let prefix = keys::group_wallets_prefix(account, group);
        Ok(self
            .page_keys(&prefix, page)?
            .iter()
            .map(|key| Address::from_slice(&key[prefix.len()..]))
            .collect())
    }

    /// [`Store::group_actions`] without the "any action" wildcard, which is no item of a list:
    /// left out before paging, so every page is full.
    pub fn listed_group_actions(
        &self,
        account: &B256,
        group: u64,
        page: Page,
    ) -> Result<Vec<B256>, StoreError> {
        let prefix = keys::group_actions_prefix(account, group);
        Ok(self
            .page_members(&prefix, page)?
            .iter()
            .map(|key| B256::from_slice(&key[prefix.len()..]))
            .collect())
    }

    /// [`Store::group_wallets`] without the "any wallet" wildcard, likewise.
    pub fn listed_group_wallets(
        &self,
        account: &B256,
        group: u64,
        page: Page,
    ) -> Result<Vec<Address>, StoreError> {
        let prefix = keys::group_wallets_prefix(account, group);
        Ok(self
            .page_members(&prefix, page)?
            .iter()
            .map(|key| Address::from_slice(&key[prefix.len()..]))
            .collect())
    }

    pub fn group_has_action(
        &self,
        account: &B256,
        group: u64,
        cid_hash: &B256,
    ) -> Result<bool, StoreError> {
        self.exists(&keys::group_action(account, group, cid_hash))
    }

    pub fn group_has_wallet(
        &self,
        account: &B256,
        group: u64,
        wallet: &Address,
    ) -> Result<bool, StoreError> {
        self.exists(&keys::group_wallet(account, group, wallet))
    }

    pub fn action(
        &self,
        account: &B256,
        cid_hash: &B256,
    ) -> Result<Option<ActionRecord>, StoreError> {
        self.get_record(&keys::action(account, cid_hash))
    }

    /// The account's actions in creation order.
    pub fn actions(
        &self,
        account: &B256,
        page: Page,
    ) -> Result<Vec<(B256, ActionRecord)>, StoreError> {
        let mut out = Vec::new();
        for raw in self.page_of(&keys::account_actions_prefix(account), page)? {
            let cid_hash = B256::from_slice(&raw);
            if let Some(record) = self.action(account, &cid_hash)? {
                out.push((cid_hash, record));
            }
        }
        Ok(out)
    }

    /// Node configuration values set on chain.
    pub fn config_values(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let prefix = keys::config_prefix();
        self.scan_prefix(&prefix)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((
                    String::from_utf8_lossy(&key[prefix.len()..]).into_owned(),
                    String::from_utf8_lossy(&value).into_owned(),
                ))
            })
            .collect()
    }

    pub fn config_value(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .get_cf(self.cf(CF_STATE), keys::config(name))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The payer set registered in NodeConfig.
    /// Whether NodeConfig lists `signer` as a node signer.
    pub fn is_signer(&self, signer: &Address) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get_cf(self.cf(CF_STATE), keys::signer(signer))?
            .is_some())
    }

    pub fn payers(&self) -> Result<Vec<Address>, StoreError> {
        let prefix = keys::payers_prefix();
        Ok(self
            .page_keys(&prefix, Page::ALL)?
            .iter()
            .map(|key| Address::from_slice(&key[prefix.len()..]))
            .collect())
    }

    /// The NodeConfig admin payer or owner (`role` = `admin_payer` / `owner`).
    pub fn operator(&self, role: &str) -> Result<Option<Address>, StoreError> {
        Ok(self
            .db
            .get_cf(self.cf(CF_STATE), keys::operator(role))?
            .filter(|v| v.len() == 20)
            .map(|v| Address::from_slice(&v)))
    }

    /// On-chain credit of the account in cents (positive = credit); `None` for unknown accounts.
    pub fn balance_cents(&self, account: &B256) -> Result<Option<i128>, StoreError> {
        Ok(self.account(account)?.map(|a| a.balance_cents))
    }

    pub fn payment_credited(&self, payment_id: &B256) -> Result<bool, StoreError> {
        self.exists(&keys::payment(payment_id))
    }

    pub fn settlement_applied(&self, settlement_id: &B256) -> Result<bool, StoreError> {
        self.exists(&keys::settlement(settlement_id))
    }

    /// The account's mirrored balance and, for each of `settlements`, whether the mirror has
    /// applied it — read from one snapshot, so a settlement is either in the balance and marked
    /// applied, or neither (the indexer writes both in one batch).
    pub fn balance_with_settlements(
        &self,
        account: &B256,
        settlements: &[B256],
    ) -> Result<(Option<i128>, Vec<bool>), StoreError> {
        let snapshot = self.db.snapshot();
        let cf = self.cf(CF_STATE);
        let key = keys::account(account);
        let balance = snapshot
            .get_cf(cf, &key)?
            .map(|bytes| decode::<AccountRecord>(&key, &bytes).map(|a| a.balance_cents))
            .transpose()?;
        let applied = settlements
            .iter()
            .map(|id| Ok(snapshot.get_cf(cf, keys::settlement(id))?.is_some()))
            .collect::<Result<Vec<bool>, StoreError>>()?;
        Ok((balance, applied))
    }
}
