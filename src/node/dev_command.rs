//! `lit-node dev`: the embedded default. Starts anvil with its state in the data dir, deploys the
//! contracts on first start (same bytecode as `script/Deploy.s.sol`), funds and registers the
//! node's payers, creates the root secret (mode 0600), then serves. Ctrl-C stops anvil too, after
//! it saved its state, so the dev chain survives restarts.

use std::path::Path;

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

use super::anvil::{locate_anvil, AnvilProcess};
use super::{listeners, NodeError};
use crate::chain::deploy::{deploy_contracts, verify_deployment};
use crate::chain::payers::PayerKeys;
use crate::chain::{ChainError, Deployment};
use crate::config::Config;
use crate::keys::{KeyDeriver, RootSecret};
use crate::store::{ChainIdentity, Store};

/// anvil's first prefunded dev account (public knowledge; dev chains only): owns the contracts.
const ANVIL_DEV_OWNER_KEY: &str =
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Gas money given to each payer on the dev chain: 10_000 ETH.
const DEV_PAYER_BALANCE_WEI: u128 = 10_000 * 10u128.pow(18);

/// File in the data dir holding the running dev chain's RPC URL.
pub const DEV_RPC_URL_FILE: &str = "dev-rpc-url";

/// Runs the dev node; `root_from_env` is the root secret taken from the environment, if any
/// (else the data dir's, created on first start).
pub async fn run_dev(config: Config, root_from_env: Option<RootSecret>) -> Result<(), NodeError> {
    create_private_dir(&config.data_dir)?;
    let root = super::serve_command::load_root_secret(&config, root_from_env, true)?;
    let listener = listeners::bind(config.listen).await?;
    let store = Store::open(&config.data_dir.join("store"))?;

    let anvil_path = locate_anvil(config.dev.anvil_path.as_deref())?;
    let anvil = AnvilProcess::start(
        &anvil_path,
        config.dev.chain_id,
        &config.data_dir.join("anvil-state.json"),
        config.dev.state_interval_secs,
        &config.dev.anvil_args,
    )
    .await?;
    tracing::info!(
        rpc_url = %crate::redact::endpoint(anvil.endpoint()),
        "dev chain (anvil) started"
    );
    // For operator tools run next to the dev node (`lit-node grant-credit`).
    if let Err(e) = std::fs::write(config.data_dir.join(DEV_RPC_URL_FILE), anvil.endpoint()) {
        tracing::warn!(error = %e, "cannot record the dev chain URL in the data dir");
    }
    let result = serve_on_dev_chain(&config, root, listener, store, anvil.endpoint()).await;
    anvil.stop().await;
    result
}

async fn serve_on_dev_chain(
    config: &Config,
    root: RootSecret,
    listener: tokio::net::TcpListener,
    store: Store,
    rpc_url: &str,
) -> Result<(), NodeError> {
    let keys = KeyDeriver::new(&root);
    let payer_keys = PayerKeys::derive(&keys, config.chain.payer_count);
    let node_signer = crate::chain::wallet_registration::NodeSigner::derive(&keys);
    let deployment = ensure_deployed(config, rpc_url, &payer_keys, node_signer.address()).await?;
    store.claim_chain(ChainIdentity {
        chain_id: deployment.chain_id,
        registry: deployment.contract_address,
    })?;

    let parts = super::NodeParts {
        config: config.clone(),
        deployment,
        rpc_url: rpc_url.to_string(),
        // anvil serves WebSocket subscriptions on the same port.
        ws_url: Some(rpc_url.replacen("http://", "ws://", 1)),
        keys,
        payer_keys,
        node_signer,
        store,
        listener,
    };
    super::serve_node(parts, "dev").await
}

/// Reuses the data dir's deployment when the dev chain still has it; deploys on first start.
async fn ensure_deployed(
    config: &Config,
    rpc_url: &str,
    payer_keys: &PayerKeys,
    signer: alloy::primitives::Address,
) -> Result<Deployment, NodeError> {
    let path = config.data_dir.join("deployment.json");
    if path.exists() {
        let deployment = Deployment::load(&path)?;
        return match verify_deployment(rpc_url, &deployment).await {
            Ok(()) => Ok(deployment),
            Err(ChainError::NoCode { .. }) | Err(ChainError::WrongChainId { .. }) => {
                Err(NodeError::Setup(format!(
                    "data dir {} holds a deployment the dev chain no longer has (anvil-state.json \
                     missing or from another chain); delete the data dir to start a fresh dev chain",
                    config.data_dir.display()
                )))
            }
            Err(other) => Err(other.into()),
        };
    }

    let owner: PrivateKeySigner = ANVIL_DEV_OWNER_KEY.parse().expect("valid anvil dev key");
    fund_dev_accounts(rpc_url, payer_keys).await?;
    let payers = payer_keys.payer_addresses();
    let deployment = deploy_contracts(
        rpc_url,
        owner,
        payer_keys.admin.address(),
        &payers,
        &[signer],
    )
    .await?;
    deployment.save(&path)?;
    tracing::info!(
        registry = %deployment.contract_address,
        payers = payers.len(),
        "deployed the contracts to the dev chain"
    );
    Ok(deployment)
}

async fn fund_dev_accounts(rpc_url: &str, payer_keys: &PayerKeys) -> Result<(), NodeError> {
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().map_err(|e| {
        NodeError::Setup(format!(
            "bad dev chain URL {}: {e}",
            crate::redact::endpoint(rpc_url)
        ))
    })?);
    let accounts = std::iter::once(payer_keys.admin.address()).chain(payer_keys.payer_addresses());
    for account in accounts {
        provider
            .raw_request::<_, ()>(
                "anvil_setBalance".into(),
                (account, U256::from(DEV_PAYER_BALANCE_WEI)),
            )
            .await
            .map_err(|e| {
                NodeError::Setup(format!(
                    "cannot fund dev payer {account}: {}",
                    crate::redact::urls_in(&e.to_string())
                ))
            })?;
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), NodeError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| NodeError::Setup(format!("cannot create data dir {}: {e}", dir.display())))
}
