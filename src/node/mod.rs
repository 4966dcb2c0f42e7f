//! Running a node: `dev` (embedded anvil chain, self-deployed contracts) and `serve` (configured
//! RPC and deployment file) share one start-up path once the chain is known.

mod anvil;
mod connections;
mod dev_command;
mod listeners;
mod serve_command;

use std::net::SocketAddr;

pub use dev_command::{run_dev, DEV_RPC_URL_FILE};
pub use serve_command::run_serve;

/// The root secret of a configured node: `from_env` (taken from the environment at start-up),
/// else the configured file (never created here).
pub fn load_root_secret(
    config: &Config,
    from_env: Option<crate::keys::RootSecret>,
) -> Result<crate::keys::RootSecret, NodeError> {
    serve_command::load_root_secret(config, from_env, false)
}

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::{AppContext, ChainInfo};
use crate::chain::payers::PayerKeys;
use crate::chain::writer::{ChainWriter, TopUp, WriterConfig};
use crate::chain::{ChainError, Deployment};
use crate::config::Config;
use crate::config::ConfigError;
use crate::indexer::{Contracts, Indexer, IndexerConfig};
use crate::keys::KeyDeriver;
use crate::keys::RootSecretError;
use crate::store::permissions::Permissions;
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
    #[error(transparent)]
    Billing(#[from] crate::billing::BillingSetupError),
}

/// Everything a node needs once its chain is known (from dev or serve start-up).
struct NodeParts {
    config: Config,
    deployment: Deployment,
    rpc_url: String,
    ws_url: Option<String>,
    keys: KeyDeriver,
    payer_keys: PayerKeys,
    /// Signs wallet registrations of self-managed accounts.
    node_signer: crate::chain::wallet_registration::NodeSigner,
    store: Store,
    listener: tokio::net::TcpListener,
}

/// The Lit Action worker pool, with ethers compiled to bytecode once for every run.
fn start_actions(
    config: &Config,
    keys: &KeyDeriver,
    permissions: &Permissions,
    store: &Store,
) -> Result<crate::actions::ActionPool, NodeError> {
    let started = std::time::Instant::now();
    let ethers = crate::actions::ethers::compile().map_err(NodeError::Setup)?;
    tracing::info!(
        bytecode_bytes = ethers.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "compiled the ethers bundle for Lit Actions"
    );
    let services = crate::actions::Services {
        keys: keys.clone(),
        permissions: permissions.clone(),
        store: store.clone(),
        fetcher: Some(
            crate::actions::fetch::Fetcher::new(&config.actions).map_err(NodeError::Setup)?,
        ),
        ethers: Some(Arc::new(ethers)),
        modules: Some(module_source(config, store)?),
    };
    crate::actions::ActionPool::new(
        Arc::new(services),
        crate::actions::PoolLimits {
            workers: config.actions.workers,
            queue: config.actions.queue,
            max_workers_per_account: config.actions.max_workers_per_account,
            max_queued_per_account: config.actions.max_queued_per_account,
            max_parked: config.actions.max_parked,
            max_parked_per_account: config.actions.max_parked_per_account,
            warm_ethers: config.actions.warm_ethers,
        },
    )
    .map_err(|e| NodeError::Setup(format!("cannot start the Lit Action workers: {e}")))
}

/// Where imported modules come from: `actions.modules_cdn`, which must be a bare http(s) origin.
fn module_source(
    config: &Config,
    store: &Store,
) -> Result<crate::actions::modules::source::ModuleSource, NodeError> {
    use crate::actions::modules::source::{ModuleSettings, ModuleSource};
    let text = &config.actions.modules_cdn;
    let cdn = url::Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .filter(|u| u.path() == "/" && u.query().is_none() && u.fragment().is_none())
        .ok_or_else(|| {
            NodeError::Setup(format!(
                "actions.modules_cdn must be an http(s) origin such as https://cdn.jsdelivr.net, not {text:?}"
            ))
        })?;
    ModuleSource::new(
        ModuleSettings {
            cdn,
            cache_bytes: config.actions.module_cache_bytes,
        },
        store.clone(),
    )
    .map_err(NodeError::Setup)
}

/// Starts the mirror, serves the API until shutdown, then stops the mirror.
async fn serve_node(parts: NodeParts, mode: &str) -> Result<(), NodeError> {
    let NodeParts {
        config,
        deployment,
        rpc_url,
        ws_url,
        keys,
        payer_keys,
        node_signer,
        store,
        listener,
    } = parts;
    // Installed first, so the mirror and the balance monitor export from their first round.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("duration_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0,
            ],
        )
        .expect("bucket list is non-empty")
        .install_recorder()
        .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
        .ok();
    let permissions = Permissions::new(store.clone());
    let billing = crate::billing::Billing::open(&config.billing, store.clone())?;
    let mirror_config = IndexerConfig {
        rpc_url: rpc_url.clone(),
        ws_url,
        contracts: Contracts {
            registry: deployment.contract_address,
            node_config: deployment.node_config()?,
        },
        deployment_block: deployment.deployment_block,
        reorg_depth: config.mirror.reorg_depth,
        poll_interval: Duration::from_millis(config.mirror.poll_interval_ms),
        range_blocks: config.mirror.range_blocks,
        max_lag_blocks: config.mirror.max_lag_blocks,
        max_rpc_silence: Duration::from_secs(config.mirror.max_rpc_silence_secs),
    };
    let indexer = Indexer::new(store.clone(), permissions.clone(), mirror_config)
        .map_err(|e| NodeError::Setup(e.to_string()))?;
    let mirror = indexer.handle();
    let writer = ChainWriter::new(
        &rpc_url,
        payer_keys.payers.clone(),
        deployment.contract_address,
        mirror.clone(),
        WriterConfig {
            max_batch_calls: config.chain.max_batch_calls.clamp(1, 256),
            max_in_flight: config.chain.max_in_flight_per_payer.clamp(1, 1024),
            ..WriterConfig::for_node(
                Duration::from_secs(config.http.request_timeout_secs),
                config.mirror.reorg_depth,
            )
        },
    )
    .map_err(|e| NodeError::Setup(e.to_string()))?
    .with_outbox(store.clone());
    let gwei = |value: u64| u128::from(value) * 1_000_000_000;
    let writer = if config.chain.top_up_below_gwei > 0 && config.chain.top_up_amount_gwei > 0 {
        writer.with_top_up(
            TopUp::new(
                &rpc_url,
                payer_keys.admin.clone(),
                gwei(config.chain.top_up_below_gwei),
                gwei(config.chain.top_up_amount_gwei),
            )
            .map_err(NodeError::Setup)?,
        )
    } else {
        writer
    };
    let shutdown = CancellationToken::new();
    let indexer_task = tokio::spawn(indexer.run(shutdown.clone()));

    let writer = Arc::new(writer);
    let balances_task = tokio::spawn({
        let (writer, shutdown) = (writer.clone(), shutdown.clone());
        let low = gwei(config.chain.low_payer_balance_gwei);
        let interval = Duration::from_millis(config.chain.balance_check_interval_ms.max(100));
        async move { writer.monitor_balances(interval, low, shutdown).await }
    });

    let outbox_task = tokio::spawn({
        let (writer, shutdown) = (writer.clone(), shutdown.clone());
        async move { writer.follow_outbox(shutdown).await }
    });
    let settlement_task = billing.enabled().map(|enabled| {
        tokio::spawn(crate::billing::settle::run(
            enabled.meter.clone(),
            store.clone(),
            writer.clone(),
            Duration::from_millis(config.billing.settle_interval_ms.max(1)),
            config.billing.max_accounts_per_settlement,
            shutdown.clone(),
        ))
    });

    let idempotency_task = tokio::spawn(crate::api::idempotency::expire_records(
        store.clone(),
        shutdown.clone(),
    ));
    let actions = start_actions(&config, &keys, &permissions, &store)?;
    let warming = std::time::Instant::now();
    actions.warmed().await;
    if config.actions.warm_ethers {
        tracing::info!(
            workers = actions.workers(),
            elapsed_ms = warming.elapsed().as_millis() as u64,
            "every Lit Action worker built its ethers realm"
        );
    }

    let ctx = AppContext {
        chain: ChainInfo {
            chain_name: config.chain.chain_name.clone(),
            chain_id: deployment.chain_id,
            testnet: config.chain.testnet,
            token: config.chain.token.clone(),
            contract_address: deployment.contract_address,
            contracts: deployment.contracts.clone(),
            public_rpc_url: config.chain.publish_rpc_url.then(|| {
                config
                    .chain
                    .public_rpc_url
                    .clone()
                    .unwrap_or_else(|| crate::redact::endpoint(&rpc_url))
            }),
        },
        payers: payer_keys.payer_addresses(),
        admin_payer: payer_keys.admin.address(),
        store,
        permissions,
        mirror,
        writer: writer.clone(),
        actions,
        billing,
        keys,
        metrics,
        max_body_bytes: config.http.max_body_bytes,
        rate_limits: config.rate_limit.clone(),
        request_timeout: Duration::from_secs(config.http.request_timeout_secs),
        code_quota_bytes: config.actions.code_quota_bytes,
        node_signer,
        contract_wallets: crate::chain::erc1271::ContractWallets::new(&rpc_url)
            .map_err(|e| NodeError::Setup(e.to_string()))?,
    };
    let result = listeners::serve(listener, Arc::new(ctx), mode, &config.http).await;
    shutdown.cancel();
    let _ = indexer_task.await;
    let _ = balances_task.await;
    let _ = outbox_task.await;
    let _ = idempotency_task.await;
    if let Some(task) = settlement_task {
        let _ = task.await;
    }
    result
}
