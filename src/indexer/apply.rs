//! Event → store mutations. Each contract event carries the full new data (chain.md), so applying
//! one never needs an RPC call. Each event becomes one typed mutation of the [`StateWriter`]
//! (`store/mirror_writes.rs`); no raw store key is built here.

use alloy::primitives::Address;
use alloy::rpc::types::Log;
use alloy::sol_types::SolEventInterface;

use super::IndexerError;
use crate::chain::bindings::{LitRegistry, NodeConfig};
use crate::store::keys::group_id_u64;
use crate::store::permissions::Touched;
use crate::store::records::{GroupRecord, UsageKeyRecord};
use crate::store::write::StateWriter;
use crate::store::StoreError;

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

/// A missing record means the mirror and the chain disagree.
fn mirror_error(error: StoreError) -> IndexerError {
    match error {
        StoreError::Missing(what) => IndexerError::Inconsistent(what),
        other => IndexerError::Store(other),
    }
}

fn apply_registry_event(
    writer: &mut StateWriter<'_>,
    event: LitRegistry::LitRegistryEvents,
    touched: &mut Touched,
) -> Result<(), IndexerError> {
    apply_registry_change(writer, event, touched).map_err(mirror_error)
}

fn apply_registry_change(
    writer: &mut StateWriter<'_>,
    event: LitRegistry::LitRegistryEvents,
    touched: &mut Touched,
) -> Result<(), StoreError> {
    use LitRegistry::LitRegistryEvents as E;
    match event {
        E::AccountCreated(e) => {
            writer.create_account(&e.account, e.name, e.description, e.admin, e.selfManaged)?;
            touched.keys.insert(e.account);
            touched.accounts.insert(e.account);
        }
        E::AccountAdminChanged(e) => {
            writer.set_account_admin(&e.account, e.admin, e.selfManaged)?;
        }
        // A batch's per-call marker: for its sender; the calls' own events carry the changes.
        E::BatchCallFinished(_) => {}
        E::AccountKeyRevoked(e) => {
            writer.revoke_account_key(&e.account)?;
            touched.keys.insert(e.account);
        }
        E::UsageKeyAdded(e) => {
            writer.add_usage_key(&e.account, &e.keyHash, usage_record(&e.key))?;
            touched.keys.insert(e.keyHash);
        }
        E::UsageKeyUpdated(e) => {
            writer.update_usage_key(&e.keyHash, usage_record(&e.key))?;
            touched.keys.insert(e.keyHash);
        }
        E::UsageKeyMetadataUpdated(e) => {
            writer.rename_usage_key(&e.keyHash, e.name, e.description)?;
            // The cached grant holds the key's record, metadata included.
            touched.keys.insert(e.keyHash);
        }
        E::UsageKeyRemoved(e) => {
            writer.remove_usage_key(&e.keyHash)?;
            touched.keys.insert(e.keyHash);
        }
        E::WalletRegistered(e) => {
            writer.register_wallet(&e.account, &e.wallet, e.derivationId, e.name, e.description)?;
            touched.wallets.insert(e.wallet);
        }
        E::GroupAdded(e) => {
            let record = GroupRecord {
                name: e.name,
                description: e.description,
            };
            let group = group_id_u64(e.groupId);
            writer.put_group(&e.account, group, record, &e.wallets, &e.cidHashes)?;
            touched.accounts.insert(e.account);
        }
        E::GroupUpdated(e) => {
            let record = GroupRecord {
                name: e.name,
                description: e.description,
            };
            let group = group_id_u64(e.groupId);
            writer.put_group(&e.account, group, record, &e.wallets, &e.cidHashes)?;
            touched.accounts.insert(e.account);
        }
        E::GroupRemoved(e) => {
            writer.remove_group(&e.account, group_id_u64(e.groupId))?;
            touched.accounts.insert(e.account);
        }
        E::GroupActionAdded(e) => {
            writer.add_group_action(&e.account, group_id_u64(e.groupId), &e.cidHash)?;
            touched.accounts.insert(e.account);
        }
        E::GroupActionRemoved(e) => {
            writer.remove_group_action(&e.account, group_id_u64(e.groupId), &e.cidHash)?;
            touched.accounts.insert(e.account);
        }
        E::GroupWalletAdded(e) => {
            writer.add_group_wallet(&e.account, group_id_u64(e.groupId), &e.wallet)?;
            touched.accounts.insert(e.account);
        }
        E::GroupWalletRemoved(e) => {
            writer.remove_group_wallet(&e.account, group_id_u64(e.groupId), &e.wallet)?;
            touched.accounts.insert(e.account);
        }
        E::ActionSet(e) => {
            writer.set_action(&e.account, &e.cidHash, e.cid, e.name, e.description)?;
        }
        E::ActionMetadataUpdated(e) => {
            writer.rename_action(&e.account, &e.cidHash, e.name, e.description)?;
        }
        E::ActionRemoved(e) => {
            writer.remove_action(&e.account, &e.cidHash)?;
            touched.accounts.insert(e.account);
        }
        E::CreditAdded(e) => {
            writer.set_balance(&e.account, balance_cents(e.newBalance)?)?;
            writer.record_payment(&e.paymentId)?;
        }
        E::UsageCharged(e) => {
            writer.set_balance(&e.account, balance_cents(e.newBalance)?)?;
            writer.record_settlement(&e.settlementId)?;
        }
    }
    Ok(())
}

fn balance_cents(balance: alloy::primitives::I256) -> Result<i128, StoreError> {
    i128::try_from(balance)
        .map_err(|_| StoreError::Missing(format!("balance {balance} does not fit 128 bits")))
}

fn apply_node_config_event(
    writer: &mut StateWriter<'_>,
    event: NodeConfig::NodeConfigEvents,
) -> Result<(), IndexerError> {
    use NodeConfig::NodeConfigEvents as E;
    let applied = match event {
        E::OwnershipTransferred(e) => writer.set_operator_role("owner", &e.newOwner),
        E::AdminPayerSet(e) => writer.set_operator_role("admin_payer", &e.adminPayer),
        E::PayerAdded(e) => writer.set_payer(&e.payer, true),
        E::PayerRemoved(e) => writer.set_payer(&e.payer, false),
        E::SignerAdded(e) => writer.set_signer(&e.signer, true),
        E::SignerRemoved(e) => writer.set_signer(&e.signer, false),
        E::ConfigOperatorSet(e) => writer.set_config_operator(&e.operator, e.allowed),
        E::ConfigSet(e) => writer.set_config_value(&e.key, e.value),
    };
    applied.map_err(mirror_error)
}
