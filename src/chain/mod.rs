//! Everything that talks to the EVM chain: contract bindings, the deployment file, deploying the
//! registry (dev mode), and checks that a configured chain is the one the deployment describes.

pub mod applied_blocks;
pub mod bindings;
pub mod config_keys;
pub mod deploy;
pub mod deployment;
pub mod erc1271;
pub mod payers;
pub mod registry_writes;
pub mod wallet_registration;
pub mod writer;

use alloy::primitives::Address;

pub use deployment::Deployment;

/// Chain-layer failure. Messages say which endpoint or address was involved; an endpoint is
/// shown as `scheme://host[:port]` only, never with the key its URL may carry (see
/// [`crate::redact`]).
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("cannot reach the chain RPC at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the RPC at {url} serves chain id {actual}, but the deployment file says {expected}")]
    WrongChainId {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("no contract code at {address} on chain id {chain_id}: is the deployment file for this chain?")]
    NoCode { address: Address, chain_id: u64 },
    #[error("deployment failed at step '{step}': {reason}")]
    Deploy { step: &'static str, reason: String },
    #[error("deployment file {path}: {reason}")]
    DeploymentFile { path: String, reason: String },
}
