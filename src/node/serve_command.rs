//! `lit-node serve`: runs against a configured RPC and deployment file. Checks before serving
//! that the RPC is the deployment's chain, the registry has code, and the data dir mirrors this
//! chain; warns when the node's payers are not registered (its writes would be refused).

use super::{listeners, NodeError};
use crate::chain::deploy::{signer_registered, unregistered_payers, verify_deployment};
use crate::chain::payers::PayerKeys;
use crate::chain::Deployment;
use crate::config::{Config, ENV_ROOT_SECRET};
use crate::keys::{KeyDeriver, RootSecret};
use crate::store::{ChainIdentity, Store};

/// The root secret: `from_env` (taken from `LIT_NODE_ROOT_SECRET` at start-up, see
/// [`RootSecret::take_from_env`]), else the configured file (created when `create` is set — dev
/// mode only).
pub(super) fn load_root_secret(
    config: &Config,
    from_env: Option<RootSecret>,
    create: bool,
) -> Result<RootSecret, NodeError> {
    if let Some(root) = from_env {
        return Ok(root);
    }
    let path = config.root_secret_path();
    if create {
        Ok(RootSecret::load_or_create(&path)?)
    } else if path.exists() {
        Ok(RootSecret::load(&path)?)
    } else {
        Err(NodeError::Setup(format!(
            "no root secret: set {ENV_ROOT_SECRET} or root_secret_file (looked for {})",
            path.display()
        )))
    }
}

/// Serves against the configured chain; `root_from_env` as for [`load_root_secret`].
pub async fn run_serve(config: Config, root_from_env: Option<RootSecret>) -> Result<(), NodeError> {
    let rpc_url = config.chain.rpc_url.clone().ok_or_else(|| {
        NodeError::Setup(
            "serve needs a chain RPC: pass --rpc-url or set LIT_NODE_CHAIN__RPC_URL".into(),
        )
    })?;
    let deployment_file = config.chain.deployment_file.clone().ok_or_else(|| {
        NodeError::Setup(
            "serve needs the deployment file written by script/Deploy.s.sol: pass --deployment or \
             set LIT_NODE_CHAIN__DEPLOYMENT_FILE"
                .into(),
        )
    })?;
    let root = load_root_secret(&config, root_from_env, false)?;
    let listener = listeners::bind(config.listen).await?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        NodeError::Setup(format!(
            "cannot create data dir {}: {e}",
            config.data_dir.display()
        ))
    })?;
    let store = Store::open(&config.data_dir.join("store"))?;
    let deployment = Deployment::load(&deployment_file)?;
    verify_deployment(&rpc_url, &deployment).await?;
    store.claim_chain(ChainIdentity {
        chain_id: deployment.chain_id,
        registry: deployment.contract_address,
    })?;

    let keys = KeyDeriver::new(&root);
    let payer_keys = PayerKeys::derive(&keys, config.chain.payer_count);
    let missing = unregistered_payers(&rpc_url, &deployment, &payer_keys.payer_addresses()).await?;
    if !missing.is_empty() {
        tracing::warn!(
            count = missing.len(),
            first = %missing[0],
            "some of this node's payers are not registered in NodeConfig; their writes will be refused"
        );
    }

    let node_signer = crate::chain::wallet_registration::NodeSigner::derive(&keys);
    let signer = node_signer.address();
    match signer_registered(&rpc_url, &deployment, signer).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            %signer,
            "this node's signer is not in NodeConfig's signer set: wallets it mints for self-managed \
             accounts cannot be registered until the owner or admin payer calls NodeConfig.addSigner"
        ),
        // A deployment older than the signer set: self-custody wallets need a new deployment.
        Err(error) => tracing::warn!(
            %signer,
            %error,
            "cannot read NodeConfig's signer set (a deployment without one?); self-managed accounts \
             cannot register wallets this node mints"
        ),
    }

    let ws_url = config.chain.ws_url.clone();
    let parts = super::NodeParts {
        config,
        deployment,
        rpc_url,
        ws_url,
        keys,
        payer_keys,
        node_signer,
        store,
        listener,
    };
    super::serve_node(parts, "serve").await
}
