//! Running a node: `dev` (embedded anvil chain, self-deployed contracts) and `serve` (configured
//! RPC and deployment file) share one start-up path once the chain is known.

mod anvil;
mod dev;
mod serve;
mod server;

use std::net::SocketAddr;

pub use dev::run_dev;
pub use serve::run_serve;

/// The root secret of a configured node (env or file; never created here).
pub fn load_root_secret(config: &Config) -> Result<crate::keys::RootSecret, NodeError> {
    serve::load_root_secret(config, false)
}

use crate::app::{AppContext, ChainInfo};
use crate::chain::payers::PayerKeys;
use crate::chain::{ChainError, Deployment};
use crate::config::Config;
use crate::config::ConfigError;
use crate::keys::KeyDeriver;
use crate::keys::RootSecretError;
use crate::store::Store;
use crate::store::StoreError;

/// Why a node could not start or stopped abnormally. Printed as is; exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    RootSecret(#[from] RootSecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("{0}")]
    AnvilMissing(String),
    #[error("{0}")]
    AnvilFailed(String),
    #[error("{0}")]
    Setup(String),
}

/// The shared request context, from configuration and the chain's deployment.
fn app_context(
    config: &Config,
    deployment: &Deployment,
    rpc_url: &str,
    keys: KeyDeriver,
    payer_keys: &PayerKeys,
    store: Store,
) -> AppContext {
    AppContext {
        chain: ChainInfo {
            chain_name: config.chain.chain_name.clone(),
            chain_id: deployment.chain_id,
            testnet: config.chain.testnet,
            token: config.chain.token.clone(),
            contract_address: deployment.contract_address,
            contracts: deployment.contracts.clone(),
            public_rpc_url: config.chain.publish_rpc_url.then(|| rpc_url.to_string()),
        },
        payers: payer_keys.payer_addresses(),
        admin_payer: payer_keys.admin.address(),
        store,
        keys,
        max_body_bytes: config.http.max_body_bytes,
        request_timeout: std::time::Duration::from_secs(config.http.request_timeout_secs),
    }
}
