//! Deploying the contracts (dev mode; operators use `script/Deploy.s.sol`, same bytecode) and
//! checking that a configured RPC serves the chain a deployment describes.

use std::collections::BTreeMap;

use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

use super::bindings::{LitRegistry, NodeConfig};
use super::{ChainError, Deployment};
use crate::redact;

fn deploy_err(step: &'static str) -> impl Fn(String) -> ChainError {
    move |reason| ChainError::Deploy {
        step,
        reason: redact::urls_in(&reason).into_owned(),
    }
}

/// The chain at `rpc_url` could not be reached: shown by its endpoint only (see [`redact`]).
fn unreachable(rpc_url: &str, reason: impl std::fmt::Display) -> ChainError {
    ChainError::Unreachable {
        url: redact::endpoint(rpc_url),
        reason: redact::urls_in(&reason.to_string()).into_owned(),
    }
}

/// `rpc_url` parsed for an HTTP provider.
fn parse_rpc_url(rpc_url: &str) -> Result<alloy::transports::http::reqwest::Url, ChainError> {
    rpc_url
        .parse()
        .map_err(|e| unreachable(rpc_url, format!("invalid URL: {e}")))
}

/// Deploys NodeConfig (owner = `owner`'s address) and LitRegistry, sets the admin payer and adds
/// every payer and every node signer. Returns the deployment description to save.
pub async fn deploy_contracts(
    rpc_url: &str,
    owner: PrivateKeySigner,
    admin_payer: Address,
    payers: &[Address],
    signers: &[Address],
) -> Result<Deployment, ChainError> {
    let url = parse_rpc_url(rpc_url)?;
    let owner_address = owner.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner))
        .connect_http(url);
    let down = |e: alloy::transports::TransportError| unreachable(rpc_url, e);
    let chain_id = provider.get_chain_id().await.map_err(down)?;
    let head = provider.get_block_number().await.map_err(down)?;

    let node_config = NodeConfig::deploy(&provider, owner_address)
        .await
        .map_err(|e| deploy_err("deploy NodeConfig")(e.to_string()))?;
    let registry = LitRegistry::deploy(&provider, *node_config.address())
        .await
        .map_err(|e| deploy_err("deploy LitRegistry")(e.to_string()))?;

    confirm("setAdminPayer", node_config.setAdminPayer(admin_payer)).await?;
    for payer in payers {
        confirm("addPayer", node_config.addPayer(*payer)).await?;
    }
    for signer in signers {
        confirm("addSigner", node_config.addSigner(*signer)).await?;
    }

    Ok(Deployment {
        chain_id,
        deployment_block: head + 1,
        contract_address: *registry.address(),
        contracts: BTreeMap::from([
            ("LitRegistry".to_string(), *registry.address()),
            ("NodeConfig".to_string(), *node_config.address()),
        ]),
        owner: owner_address,
    })
}

/// Sends one deployment step's transaction and requires it mined with success.
async fn confirm<P: Provider, C: alloy::sol_types::SolCall>(
    step: &'static str,
    call: alloy::contract::SolCallBuilder<P, C>,
) -> Result<(), ChainError> {
    let failed = |e: String| deploy_err(step)(e);
    let receipt = call
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?
        .get_receipt()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if receipt.status() {
        Ok(())
    } else {
        Err(failed(format!(
            "transaction {} reverted",
            receipt.transaction_hash
        )))
    }
}

/// Checks that `rpc_url` serves the deployment's chain id and that the registry has code there.
pub async fn verify_deployment(rpc_url: &str, deployment: &Deployment) -> Result<(), ChainError> {
    let url = parse_rpc_url(rpc_url)?;
    let provider = ProviderBuilder::new().connect_http(url);
    let down = |e: alloy::transports::TransportError| unreachable(rpc_url, e);
    let actual = provider.get_chain_id().await.map_err(down)?;
    if actual != deployment.chain_id {
        return Err(ChainError::WrongChainId {
            url: redact::endpoint(rpc_url),
            expected: deployment.chain_id,
            actual,
        });
    }
    let code = provider
        .get_code_at(deployment.contract_address)
        .await
        .map_err(down)?;
    if code.is_empty() {
        return Err(ChainError::NoCode {
            address: deployment.contract_address,
            chain_id: actual,
        });
    }
    Ok(())
}

/// Whether NodeConfig lists `signer` in its signer set (else the registry refuses the
/// registrations it signs).
pub async fn signer_registered(
    rpc_url: &str,
    deployment: &Deployment,
    signer: Address,
) -> Result<bool, ChainError> {
    let url = parse_rpc_url(rpc_url)?;
    let provider = ProviderBuilder::new().connect_http(url);
    NodeConfig::new(deployment.node_config()?, provider)
        .isSigner(signer)
        .call()
        .await
        .map_err(|e| unreachable(rpc_url, e))
}

/// The node's payers that the NodeConfig contract does not list (they cannot write).
pub async fn unregistered_payers(
    rpc_url: &str,
    deployment: &Deployment,
    payers: &[Address],
) -> Result<Vec<Address>, ChainError> {
    let url = parse_rpc_url(rpc_url)?;
    let provider = ProviderBuilder::new().connect_http(url);
    let node_config = NodeConfig::new(deployment.node_config()?, provider);
    let mut missing = Vec::new();
    for payer in payers {
        let listed = node_config
            .isPayer(*payer)
            .call()
            .await
            .map_err(|e| unreachable(rpc_url, e))?;
        if !listed {
            missing.push(*payer);
        }
    }
    Ok(missing)
}
