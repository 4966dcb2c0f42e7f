//! Binding the listeners and serving the API (and `/metrics`, on its own address when
//! `http.metrics_listen` is set) until Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::connections::{self, ConnectionLimits};
use super::NodeError;
use crate::app::SharedContext;
use crate::config::HttpConfig;

/// Binds `addr` first, so a taken port fails before anything else starts.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, NodeError> {
    bind_for(addr, "pass --listen ADDR").await
}

async fn bind_for(addr: SocketAddr, other_address_hint: &str) -> Result<TcpListener, NodeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| NodeError::Listen {
            addr,
            reason: if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "the address is already in use; stop the other process or {other_address_hint}"
                )
            } else {
                e.to_string()
            },
        })
}

/// Serves until a shutdown signal; prints each address once ready (stdout, one line each: the
/// metrics address first, then the API's "listening on" line).
pub async fn serve(
    listener: TcpListener,
    ctx: SharedContext,
    mode: &str,
    http: &HttpConfig,
) -> Result<(), NodeError> {
    let local = listener
        .local_addr()
        .map_err(|e| NodeError::Setup(e.to_string()))?;
    let limits = ConnectionLimits::from(http);
    let shutdown = CancellationToken::new();

    let metrics_server = match http.metrics_listen {
        Some(addr) => {
            let metrics_listener =
                bind_for(addr, "set http.metrics_listen to another address").await?;
            let metrics_local = metrics_listener
                .local_addr()
                .map_err(|e| NodeError::Setup(e.to_string()))?;
            println!("lit-node {mode} metrics on http://{metrics_local}/metrics");
            tracing::info!(%metrics_local, "serving metrics");
            Some(tokio::spawn(connections::serve(
                metrics_listener,
                crate::api::metrics_router(ctx.clone()),
                limits,
                shutdown.clone(),
            )))
        }
        None => None,
    };

    let chain_id = ctx.chain.chain_id;
    let registry = ctx.chain.contract_address;
    let app = crate::api::router(ctx, http.metrics_listen.is_none());
    println!(
        "lit-node {mode} listening on http://{local} (chain id {chain_id}, registry {registry:#x})"
    );
    tracing::info!(%local, chain_id, %registry, "serving");
    let signal = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });
    connections::serve(listener, app, limits, shutdown).await;
    signal.abort();
    if let Some(task) = metrics_server {
        let _ = task.await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler cannot fail");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
