//! The mirror's typed mutations: what each registry and NodeConfig event changes, as operations on
//! a [`StateWriter`] (one block's batch). The indexer maps events to these calls and never builds a
//! raw key; the key encodings stay in `keys.rs`, the record shapes in `records.rs`.

use alloy::primitives::{Address, B256};

use super::keys;
use super::records::{
    decode, encode, AccountRecord, ActionRecord, GroupRecord, KeyRecord, UsageKeyRecord,
    WalletRecord,
};
use super::write::StateWriter;
use super::StoreError;

impl StateWriter<'_> {
    fn read<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.get(key)?.map(|bytes| decode(key, &bytes)).transpose()
    }

    fn must_read<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: &str,
    ) -> Result<T, StoreError> {
        self.read(key)?.ok_or_else(|| {
            StoreError::Missing(format!("{what} {} is not in the mirror", hex::encode(key)))
        })
    }

    fn put_record<T: serde::Serialize>(
        &mut self,
        key: Vec<u8>,
        value: &T,
    ) -> Result<(), StoreError> {
        self.put(key, encode(value))
    }

    fn set_flag(&mut self, key: Vec<u8>, on: bool) -> Result<(), StoreError> {
        if on {
            self.put(key, Vec::new())
        } else {
            self.delete(key)
        }
    }

    /// A new account, its account key (whose hash is the account id) and, when self-managed, its
    /// admin's index entry.
    pub fn create_account(
        &mut self,
        account: &B256,
        name: String,
        description: String,
        admin: Address,
        self_managed: bool,
    ) -> Result<(), StoreError> {
        let record = AccountRecord {
            name,
            description,
            admin,
            self_managed,
            next_key_seq: 1,
            wallet_count: 0,
            next_action_seq: 0,
            balance_cents: 0,
        };
        self.put_record(keys::account(account), &record)?;
        if self_managed {
            self.put(keys::admin_account(&admin, account), Vec::new())?;
        }
        let key = KeyRecord {
            account: *account,
            seq: 0,
            usage: None,
        };
        self.put_record(keys::key_record(account), &key)
    }

    /// The account's admin wallet (and whether it is self-managed) changed.
    pub fn set_account_admin(
        &mut self,
        account: &B256,
        admin: Address,
        self_managed: bool,
    ) -> Result<(), StoreError> {
        let key = keys::account(account);
        let mut record: AccountRecord = self.must_read(&key, "account")?;
        if record.self_managed {
            self.delete(keys::admin_account(&record.admin, account))?;
        }
        if self_managed {
            self.put(keys::admin_account(&admin, account), Vec::new())?;
        }
        record.admin = admin;
        record.self_managed = self_managed;
        self.put_record(key, &record)
    }

    /// The account key no longer authenticates; the account itself stays.
    pub fn revoke_account_key(&mut self, account: &B256) -> Result<(), StoreError> {
        self.delete(keys::key_record(account))
    }

    pub fn add_usage_key(
        &mut self,
        account: &B256,
        key_hash: &B256,
        usage: UsageKeyRecord,
    ) -> Result<(), StoreError> {
        let account_key = keys::account(account);
        let mut record: AccountRecord = self.must_read(&account_key, "account")?;
        let seq = record.next_key_seq;
        record.next_key_seq += 1;
        self.put_record(account_key, &record)?;
        let key = KeyRecord {
            account: *account,
            seq,
            usage: Some(usage),
        };
        self.put_record(keys::key_record(key_hash), &key)?;
        self.put(keys::account_key(account, seq), key_hash.to_vec())
    }

    pub fn update_usage_key(
        &mut self,
        key_hash: &B256,
        usage: UsageKeyRecord,
    ) -> Result<(), StoreError> {
        let key = keys::key_record(key_hash);
        let mut record: KeyRecord = self.must_read(&key, "usage key")?;
        record.usage = Some(usage);
        self.put_record(key, &record)
    }

    pub fn rename_usage_key(
        &mut self,
        key_hash: &B256,
        name: String,
        description: String,
    ) -> Result<(), StoreError> {
        let key = keys::key_record(key_hash);
        let mut record: KeyRecord = self.must_read(&key, "usage key")?;
        if let Some(usage) = record.usage.as_mut() {
            usage.name = name;
            usage.description = description;
        }
        self.put_record(key, &record)
    }

    pub fn remove_usage_key(&mut self, key_hash: &B256) -> Result<(), StoreError> {
        let key = keys::key_record(key_hash);
        let record: KeyRecord = self.must_read(&key, "usage key")?;
        self.delete(key)?;
        self.delete(keys::account_key(&record.account, record.seq))
    }

    /// A wallet minted for the account; its ordinal is the account's next.
    pub fn register_wallet(
        &mut self,
        account: &B256,
        wallet: &Address,
        derivation_id: B256,
        name: String,
        description: String,
    ) -> Result<(), StoreError> {
        let account_key = keys::account(account);
        let mut record: AccountRecord = self.must_read(&account_key, "account")?;
        record.wallet_count += 1;
        let ordinal = record.wallet_count;
        self.put_record(account_key, &record)?;
        let wallet_record = WalletRecord {
            account: *account,
            derivation_id,
            name,
            description,
            ordinal,
        };
        self.put_record(keys::wallet(wallet), &wallet_record)?;
        self.put(keys::account_wallet(account, ordinal), wallet.to_vec())
    }

    /// A group added or updated: its metadata and exactly these members.
    pub fn put_group(
        &mut self,
        account: &B256,
        group: u64,
        record: GroupRecord,
        wallets: &[Address],
        cid_hashes: &[B256],
    ) -> Result<(), StoreError> {
        self.put_record(keys::group(account, group), &record)?;
        self.replace_group_members(account, group, wallets, cid_hashes)
    }

    pub fn remove_group(&mut self, account: &B256, group: u64) -> Result<(), StoreError> {
        self.delete(keys::group(account, group))?;
        self.replace_group_members(account, group, &[], &[])
    }

    fn replace_group_members(
        &mut self,
        account: &B256,
        group: u64,
        wallets: &[Address],
        cid_hashes: &[B256],
    ) -> Result<(), StoreError> {
        for key in self.keys_with_prefix(&keys::group_members_prefix(account, group))? {
            self.delete(key)?;
        }
        for wallet in wallets {
            self.add_group_wallet(account, group, wallet)?;
        }
        for cid_hash in cid_hashes {
            self.add_group_action(account, group, cid_hash)?;
        }
        Ok(())
    }

    pub fn add_group_action(
        &mut self,
        account: &B256,
        group: u64,
        cid_hash: &B256,
    ) -> Result<(), StoreError> {
        self.put(keys::group_action(account, group, cid_hash), Vec::new())
    }

    pub fn remove_group_action(
        &mut self,
        account: &B256,
        group: u64,
        cid_hash: &B256,
    ) -> Result<(), StoreError> {
        self.delete(keys::group_action(account, group, cid_hash))
    }

    pub fn add_group_wallet(
        &mut self,
        account: &B256,
        group: u64,
        wallet: &Address,
    ) -> Result<(), StoreError> {
        self.put(keys::group_wallet(account, group, wallet), Vec::new())
    }

    pub fn remove_group_wallet(
        &mut self,
        account: &B256,
        group: u64,
        wallet: &Address,
    ) -> Result<(), StoreError> {
        self.delete(keys::group_wallet(account, group, wallet))
    }

    /// An action registered (or registered again: it keeps its place in the account's list).
    pub fn set_action(
        &mut self,
        account: &B256,
        cid_hash: &B256,
        cid: String,
        name: String,
        description: String,
    ) -> Result<(), StoreError> {
        let key = keys::action(account, cid_hash);
        let seq = match self.read::<ActionRecord>(&key)? {
            Some(existing) => existing.seq,
            None => {
                let account_key = keys::account(account);
                let mut record: AccountRecord = self.must_read(&account_key, "account")?;
                let seq = record.next_action_seq;
                record.next_action_seq += 1;
                self.put_record(account_key, &record)?;
                self.put(keys::account_action(account, seq), cid_hash.to_vec())?;
                seq
            }
        };
        let record = ActionRecord {
            cid,
            name,
            description,
            seq,
        };
        self.put_record(key, &record)
    }

    pub fn rename_action(
        &mut self,
        account: &B256,
        cid_hash: &B256,
        name: String,
        description: String,
    ) -> Result<(), StoreError> {
        let key = keys::action(account, cid_hash);
        let mut record: ActionRecord = self.must_read(&key, "action")?;
        record.name = name;
        record.description = description;
        self.put_record(key, &record)
    }

    /// The action, and its place in every group of the account.
    pub fn remove_action(&mut self, account: &B256, cid_hash: &B256) -> Result<(), StoreError> {
        let key = keys::action(account, cid_hash);
        let record: ActionRecord = self.must_read(&key, "action")?;
        self.delete(key)?;
        self.delete(keys::account_action(account, record.seq))?;
        for group_key in self.keys_with_prefix(&keys::groups_prefix(account))? {
            let group = keys::trailing_u64(&group_key);
            self.remove_group_action(account, group, cid_hash)?;
        }
        Ok(())
    }

    pub fn set_balance(&mut self, account: &B256, balance_cents: i128) -> Result<(), StoreError> {
        let key = keys::account(account);
        let mut record: AccountRecord = self.must_read(&key, "account")?;
        record.balance_cents = balance_cents;
        self.put_record(key, &record)
    }

    /// A payment credited (its id is never credited again).
    pub fn record_payment(&mut self, payment_id: &B256) -> Result<(), StoreError> {
        self.put(keys::payment(payment_id), Vec::new())
    }

    /// A usage settlement applied (its id is never applied again).
    pub fn record_settlement(&mut self, settlement_id: &B256) -> Result<(), StoreError> {
        self.put(keys::settlement(settlement_id), Vec::new())
    }

    /// A NodeConfig role (`owner`, `admin_payer`) held by `holder`.
    pub fn set_operator_role(&mut self, role: &str, holder: &Address) -> Result<(), StoreError> {
        self.put(keys::operator(role), holder.to_vec())
    }

    pub fn set_config_operator(
        &mut self,
        operator: &Address,
        allowed: bool,
    ) -> Result<(), StoreError> {
        let key = keys::operator(&format!("config_operator/{operator:#x}"));
        if allowed {
            self.put(key, operator.to_vec())
        } else {
            self.delete(key)
        }
    }

    pub fn set_payer(&mut self, payer: &Address, registered: bool) -> Result<(), StoreError> {
        self.set_flag(keys::payer(payer), registered)
    }

    pub fn set_signer(&mut self, signer: &Address, registered: bool) -> Result<(), StoreError> {
        self.set_flag(keys::signer(signer), registered)
    }

    /// A node-configuration value; an empty one removes the key.
    pub fn set_config_value(&mut self, key: &str, value: String) -> Result<(), StoreError> {
        if value.is_empty() {
            self.delete(keys::config(key))
        } else {
            self.put(keys::config(key), value.into_bytes())
        }
    }
}
