//! Binding the listener and serving the API until Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::NodeError;
use crate::app::SharedContext;

/// Binds `addr` first, so a taken port fails before anything else starts.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, NodeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| NodeError::Listen {
            addr,
            reason: if e.kind() == std::io::ErrorKind::AddrInUse {
                "the address is already in use; stop the other process or pass --listen ADDR".into()
            } else {
                e.to_string()
            },
        })
}

/// Serves until a shutdown signal; prints the address once ready (stdout, one line).
pub async fn serve(listener: TcpListener, ctx: SharedContext, mode: &str) -> Result<(), NodeError> {
    let local = listener
        .local_addr()
        .map_err(|e| NodeError::Setup(e.to_string()))?;
    let chain_id = ctx.chain.chain_id;
    let registry = ctx.chain.contract_address;
    let app = crate::api::router(ctx);
    println!(
        "lit-node {mode} listening on http://{local} (chain id {chain_id}, registry {registry:#x})"
    );
    tracing::info!(%local, chain_id, %registry, "serving");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| NodeError::Setup(format!("server failed: {e}")))
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
