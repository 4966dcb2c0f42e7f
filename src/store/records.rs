//! The values stored in the `state` column family (postcard-encoded). Field order is the encoding:
//! append new fields at the end only, and bump the store schema version when changing them.

use alloy::primitives::{Address, B256};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountRecord {
    pub name: String,
    pub description: String,
    /// The admin wallet of a self-managed account; zero for node-managed ones.
    pub admin: Address,
    pub self_managed: bool,
    /// Sequence numbers handed out for creation order.
    pub next_key_seq: u64,
    pub wallet_count: u64,
    pub next_action_seq: u64,
    /// On-chain credit in cents (positive = credit), from CreditAdded / UsageCharged.
    pub balance_cents: i128,
}

/// Scopes of a usage key, exactly as on chain (group id 0 = every group).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageKeyRecord {
    pub name: String,
    pub description: String,
    pub expiration: u64,
    pub can_create_groups: bool,
    pub can_delete_groups: bool,
    pub can_create_pkps: bool,
    pub manage_ipfs_ids_in_groups: Vec<u64>,
    pub add_pkp_to_groups: Vec<u64>,
    pub remove_pkp_from_groups: Vec<u64>,
    pub execute_in_groups: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub account: B256,
    /// Position in the account's usage-key list (0 for the account key).
    pub seq: u64,
    /// `None` for the account key itself.
    pub usage: Option<UsageKeyRecord>,
}

impl KeyRecord {
    pub fn is_account_key(&self) -> bool {
        self.usage.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletRecord {
    pub account: B256,
    pub derivation_id: B256,
    pub name: String,
    pub description: String,
    /// 1-based position in the account's wallet list.
    pub ordinal: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub cid: String,
    pub name: String,
    pub description: String,
    pub seq: u64,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("records always serialize")
}

pub fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        key: hex::encode(key),
        reason: e.to_string(),
    })
}
