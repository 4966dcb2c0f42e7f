//! The state every request handler shares: what the node publishes about its chain, its payers,
//! its store and its key deriver. Built once at start by `node` (the `dev` and `serve` commands).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::primitives::Address;

use crate::chain::registry_writes::RegistryWrites;
use crate::indexer::MirrorHandle;
use crate::keys::KeyDeriver;
use crate::store::permissions::Permissions;
use crate::store::Store;

/// What `get_node_chain_config` publishes; from configuration and the deployment file.
#[derive(Debug, Clone)]
pub struct ChainInfo {
    pub chain_name: String,
    pub chain_id: u64,
    pub testnet: bool,
    pub token: String,
    pub contract_address: Address,
    pub contracts: BTreeMap<String, Address>,
    /// Published only when the operator enables `chain.publish_rpc_url`: `chain.public_rpc_url`,
    /// else the RPC's `scheme://host[:port]`.
    pub public_rpc_url: Option<String>,
}

pub struct AppContext {
    pub chain: ChainInfo,
    pub payers: Vec<Address>,
    pub admin_payer: Address,
    pub store: Store,
    pub permissions: Permissions,
    pub mirror: MirrorHandle,
    /// Sends registry calls (the chain writer in a node).
    pub writer: Arc<dyn RegistryWrites>,
    /// Runs Lit Actions.
    pub actions: crate::actions::ActionPool,
    /// Credits, payments and metering (switched off by default).
    pub billing: crate::billing::Billing,
    pub keys: KeyDeriver,
    /// Renders `/metrics`; `None` when no recorder is installed (library use).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub max_body_bytes: usize,
    pub rate_limits: crate::config::RateLimitConfig,
    pub request_timeout: std::time::Duration,
    /// Bytes of action code the node keeps per account (`actions.code_quota_bytes`).
    pub code_quota_bytes: u64,
    /// Asks contract wallets (ERC-1271) whether they signed a message.
    pub contract_wallets: crate::chain::erc1271::ContractWallets,
    /// Signs wallet registrations of self-managed accounts.
    pub node_signer: crate::chain::wallet_registration::NodeSigner,
}

pub type SharedContext = Arc<AppContext>;
