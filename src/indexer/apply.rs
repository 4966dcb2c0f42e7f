//! Event → store mutations. Each contract event carries the full new data (chain.md), so applying
//! one never needs an RPC call: it reads and writes only through the [`StateWriter`].

use alloy::primitives::{Address, B256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEventInterface;

use super::IndexerError;
use crate::chain::bindings::{LitRegistry, NodeConfig};
use crate::store::keys::{self, group_id_u64};
use crate::store::permissions::Touched;
use crate::store::records::{
    decode, encode, AccountRecord, ActionRecord, GroupRecord, KeyRecord, UsageKeyRecord,
    WalletRecord,
};
use crate::store::write::StateWriter;

/// The contracts whose events are mirrored.
#[derive(Debug, Clone, Copy)]
pub struct Contracts {
    pub registry: Address,
    pub node_config: Address,
}

/// Applies one log; records what it touched for cache invalidation.
pub fn apply_log(
    writer: &mut StateWriter<'_>,
    contracts: &Contracts,
    log: &Log,
    touched: &mut Touched,
) -> Result<(), IndexerError> {
    let decode_err = |e: alloy::sol_types::Error| IndexerError::Decode {
        block: log.block_number.unwrap_or_default(),
        reason: e.to_string(),
    };
    if log.address() == contracts.registry {
        let event = LitRegistry::LitRegistryEvents::decode_log(&log.inner).map_err(decode_err)?;
        apply_registry_event(writer, event.data, touched)
    } else if log.address() == contracts.node_config {
        let event = NodeConfig::NodeConfigEvents::decode_log(&log.inner).map_err(decode_err)?;
        apply_node_config_event(writer, event.data)
    } else {
        Ok(())
    }
}

fn read<T: serde::de::DeserializeOwned>(
    writer: &StateWriter<'_>,
    key: &[u8],
) -> Result<Option<T>, IndexerError> {
    Ok(writer
        .get(key)?
        .map(|bytes| decode(key, &bytes))
        .transpose()?)
}

fn must_read<T: serde::de::DeserializeOwned>(
    writer: &StateWriter<'_>,
    key: &[u8],
    what: &str,
) -> Result<T, IndexerError> {
    read(writer, key)?.ok_or_else(|| {
        IndexerError::Inconsistent(format!("{what} {} is not in the mirror", hex::encode(key)))
    })
}

fn put<T: serde::Serialize>(
    writer: &mut StateWriter<'_>,
    key: Vec<u8>,
    value: &T,
) -> Result<(), IndexerError> {
    Ok(writer.put(key, encode(value))?)
}

fn groups_u64(ids: &[alloy::primitives::U256]) -> Vec<u64> {
    ids.iter().copied().map(group_id_u64).collect()
}

fn usage_record(key: &crate::chain::bindings::ILitRegistry::UsageKey) -> UsageKeyRecord {
    UsageKeyRecord {
        name: key.name.clone(),
        description: key.description.clone(),
        expiration: key.expiration,
        can_create_groups: key.canCreateGroups,
        can_delete_groups: key.canDeleteGroups,
        can_create_pkps: key.canCreatePkps,
        manage_ipfs_ids_in_groups: groups_u64(&key.manageIpfsIdsInGroups),
        add_pkp_to_groups: groups_u64(&key.addPkpToGroups),
        remove_pkp_from_groups: groups_u64(&key.removePkpFromGroups),
        execute_in_groups: groups_u64(&key.executeInGroups),
    }
}

fn replace_group_members(
    writer: &mut StateWriter<'_>,
    account: &B256,
    group: u64,
    wallets: &[Address],
    cid_hashes: &[B256],
) -> Result<(), IndexerError> {
    for key in writer.keys_with_prefix(&keys::group_members_prefix(account, group))? {
        writer.delete(key)?;
    }
    for wallet in wallets {
        writer.put(keys::group_wallet(account, group, wallet), Vec::new())?;
    }
    for cid in cid_hashes {
        writer.put(keys::group_action(account, group, cid), Vec::new())?;
    }
    Ok(())
}

fn apply_registry_event(
    writer: &mut StateWriter<'_>,
    event: LitRegistry::LitRegistryEvents,
    touched: &mut Touched,
) -> Result<(), IndexerError> {
    use LitRegistry::LitRegistryEvents as E;
    match event {
        E::AccountCreated(e) => {
            let record = AccountRecord {
                name: e.name,
                description: e.description,
                admin: e.admin,
                self_managed: e.selfManaged,
                next_key_seq: 1,
                wallet_count: 0,
                next_action_seq: 0,
                balance_cents: 0,
            };
            put(writer, keys::account(&e.account), &record)?;
            if e.selfManaged {
                writer.put(keys::admin_account(&e.admin, &e.account), Vec::new())?;
            }
            let key = KeyRecord {
                account: e.account,
                seq: 0,
                usage: None,
            };
            put(writer, keys::key_record(&e.account), &key)?;
            touched.keys.insert(e.account);
            touched.accounts.insert(e.account);
        }
        E::AccountAdminChanged(e) => {
            let key = keys::account(&e.account);
            let mut record: AccountRecord = must_read(writer, &key, "account")?;
            if record.self_managed {
                writer.delete(keys::admin_account(&record.admin, &e.account))?;
            }
            if e.selfManaged {
                writer.put(keys::admin_account(&e.admin, &e.account), Vec::new())?;
            }
            record.admin = e.admin;
            record.self_managed = e.selfManaged;
            put(writer, key, &record)?;
        }
        // A batch's per-call marker: for its sender; the calls' own events carry the changes.
        E::BatchCallFinished(_) => {}
        E::AccountKeyRevoked(e) => {
            // The account key no longer authenticates; the account itself stays.
            writer.delete(keys::key_record(&e.account))?;
            touched.keys.insert(e.account);
        }
        E::UsageKeyAdded(e) => {
            let account_key = keys::account(&e.account);
            let mut account: AccountRecord = must_read(writer, &account_key, "account")?;
            let seq = account.next_key_seq;
            account.next_key_seq += 1;
            put(writer, account_key, &account)?;
            let record = KeyRecord {
                account: e.account,
                seq,
                usage: Some(usage_record(&e.key)),
            };
            put(writer, keys::key_record(&e.keyHash), &record)?;
            writer.put(keys::account_key(&e.account, seq), e.keyHash.to_vec())?;
            touched.keys.insert(e.keyHash);
        }
        E::UsageKeyUpdated(e) => {
            let key = keys::key_record(&e.keyHash);
            let mut record: KeyRecord = must_read(writer, &key, "usage key")?;
            record.usage = Some(usage_record(&e.key));
            put(writer, key, &record)?;
            touched.keys.insert(e.keyHash);
        }
        E::UsageKeyMetadataUpdated(e) => {
            let key = keys::key_record(&e.keyHash);
            let mut record: KeyRecord = must_read(writer, &key, "usage key")?;
            if let Some(usage) = record.usage.as_mut() {
                usage.name = e.name;
                usage.description = e.description;
            }
            put(writer, key, &record)?;
        }
        E::UsageKeyRemoved(e) => {
            let key = keys::key_record(&e.keyHash);
            let record: KeyRecord = must_read(writer, &key, "usage key")?;
            writer.delete(key)?;
            writer.delete(keys::account_key(&record.account, record.seq))?;
            touched.keys.insert(e.keyHash);
        }
        E::WalletRegistered(e) => {
            let account_key = keys::account(&e.account);
            let mut account: AccountRecord = must_read(writer, &account_key, "account")?;
            account.wallet_count += 1;
            let ordinal = account.wallet_count;
            put(writer, account_key, &account)?;
            let record = WalletRecord {
                account: e.account,
                derivation_id: e.derivationId,
                name: e.name,
                description: e.description,
                ordinal,
            };
            put(writer, keys::wallet(&e.wallet), &record)?;
            writer.put(keys::account_wallet(&e.account, ordinal), e.wallet.to_vec())?;
            touched.wallets.insert(e.wallet);
        }
        E::GroupAdded(e) => {
            let group = group_id_u64(e.groupId);
            put(
                writer,
                keys::group(&e.account, group),
                &GroupRecord {
                    name: e.name,
                    description: e.description,
                },
            )?;
            replace_group_members(writer, &e.account, group, &e.wallets, &e.cidHashes)?;
            touched.accounts.insert(e.account);
        }
        E::GroupUpdated(e) => {
            let group = group_id_u64(e.groupId);
            put(
                writer,
                keys::group(&e.account, group),
                &GroupRecord {
                    name: e.name,
                    description: e.description,
                },
            )?;
            replace_group_members(writer, &e.account, group, &e.wallets, &e.cidHashes)?;
            touched.accounts.insert(e.account);
        }
        E::GroupRemoved(e) => {
            let group = group_id_u64(e.groupId);
            writer.delete(keys::group(&e.account, group))?;
            replace_group_members(writer, &e.account, group, &[], &[])?;
            touched.accounts.insert(e.account);
        }
        E::GroupActionAdded(e) => {
            writer.put(
                keys::group_action(&e.account, group_id_u64(e.groupId), &e.cidHash),
                Vec::new(),
            )?;
            touched.accounts.insert(e.account);
        }
        E::GroupActionRemoved(e) => {
            writer.delete(keys::group_action(
                &e.account,
                group_id_u64(e.groupId),
                &e.cidHash,
            ))?;
            touched.accounts.insert(e.account);
        }
        E::GroupWalletAdded(e) => {
            writer.put(
                keys::group_wallet(&e.account, group_id_u64(e.groupId), &e.wallet),
                Vec::new(),
            )?;
            touched.accounts.insert(e.account);
        }
        E::GroupWalletRemoved(e) => {
            writer.delete(keys::group_wallet(
                &e.account,
                group_id_u64(e.groupId),
                &e.wallet,
            ))?;
            touched.accounts.insert(e.account);
        }
        E::ActionSet(e) => {
            let key = keys::action(&e.account, &e.cidHash);
            let seq = match read::<ActionRecord>(writer, &key)? {
                Some(existing) => existing.seq,
                None => {
                    let account_key = keys::account(&e.account);
                    let mut account: AccountRecord = must_read(writer, &account_key, "account")?;
                    let seq = account.next_action_seq;
                    account.next_action_seq += 1;
                    put(writer, account_key, &account)?;
                    writer.put(keys::account_action(&e.account, seq), e.cidHash.to_vec())?;
                    seq
                }
            };
            put(
                writer,
                key,
                &ActionRecord {
                    cid: e.cid,
                    name: e.name,
                    description: e.description,
                    seq,
                },
            )?;
        }
        E::ActionMetadataUpdated(e) => {
            let key = keys::action(&e.account, &e.cidHash);
            let mut record: ActionRecord = must_read(writer, &key, "action")?;
            record.name = e.name;
            record.description = e.description;
            put(writer, key, &record)?;
        }
        E::ActionRemoved(e) => {
            let key = keys::action(&e.account, &e.cidHash);
            let record: ActionRecord = must_read(writer, &key, "action")?;
            writer.delete(key)?;
            writer.delete(keys::account_action(&e.account, record.seq))?;
            let groups_prefix = keys::groups_prefix(&e.account);
            for group_key in writer.keys_with_prefix(&groups_prefix)? {
                let group = keys::trailing_u64(&group_key);
                writer.delete(keys::group_action(&e.account, group, &e.cidHash))?;
            }
            touched.accounts.insert(e.account);
        }
        E::CreditAdded(e) => {
            set_balance(writer, &e.account, e.newBalance)?;
            writer.put(keys::payment(&e.paymentId), Vec::new())?;
        }
        E::UsageCharged(e) => {
            set_balance(writer, &e.account, e.newBalance)?;
            writer.put(keys::settlement(&e.settlementId), Vec::new())?;
        }
    }
    Ok(())
}

fn set_balance(
    writer: &mut StateWriter<'_>,
    account: &B256,
    balance: alloy::primitives::I256,
) -> Result<(), IndexerError> {
    let key = keys::account(account);
    let mut record: AccountRecord = must_read(writer, &key, "account")?;
    record.balance_cents = i128::try_from(balance).map_err(|_| {
        IndexerError::Inconsistent(format!("balance {balance} does not fit 128 bits"))
    })?;
    put(writer, key, &record)
}

fn apply_node_config_event(
    writer: &mut StateWriter<'_>,
    event: NodeConfig::NodeConfigEvents,
) -> Result<(), IndexerError> {
    use NodeConfig::NodeConfigEvents as E;
    match event {
        E::OwnershipTransferred(e) => writer.put(keys::operator("owner"), e.newOwner.to_vec())?,
        E::AdminPayerSet(e) => writer.put(keys::operator("admin_payer"), e.adminPayer.to_vec())?,
        E::PayerAdded(e) => writer.put(keys::payer(&e.payer), Vec::new())?,
        E::PayerRemoved(e) => writer.delete(keys::payer(&e.payer))?,
        E::SignerAdded(e) => writer.put(keys::signer(&e.signer), Vec::new())?,
        E::SignerRemoved(e) => writer.delete(keys::signer(&e.signer))?,
        E::ConfigOperatorSet(e) => {
            let key = keys::operator(&format!("config_operator/{:#x}", e.operator));
            if e.allowed {
                writer.put(key, e.operator.to_vec())?
            } else {
                writer.delete(key)?
            }
        }
        E::ConfigSet(e) => {
            if e.value.is_empty() {
                writer.delete(keys::config(&e.key))?
            } else {
                writer.put(keys::config(&e.key), e.value.into_bytes())?
            }
        }
    }
    Ok(())
}
