//! `GET /health`: 200 while the mirror keeps up with the chain; 503 with the reason when it lags
//! beyond its bound or the chain RPC has been unreachable for too long (reads are still served).
//! `GET /metrics`: Prometheus text exposition.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::app::SharedContext;
use crate::indexer::MirrorHealth;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthResponse {
    pub status: &'static str,
    pub chain_id: u64,
    pub mirror_block: u64,
    pub chain_head: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "node",
    summary = "Serving and mirror health (503 with a reason when unhealthy)",
    responses(
        (status = 200, description = "serving; the mirror is within its bound", body = HealthResponse),
        (status = 503, description = "the mirror lags beyond `mirror.max_lag_blocks` or the chain RPC has been silent too long (`status: unhealthy`, `reason`)", body = HealthResponse),
    )
)]
pub async fn health(State(ctx): State<SharedContext>) -> Response {
    let chain_id = ctx.chain.chain_id;
    match ctx.mirror.health() {
        MirrorHealth::Ok { applied, head } => Json(HealthResponse {
            status: "ok",
            chain_id,
            mirror_block: applied,
            chain_head: head,
            reason: None,
        })
        .into_response(),
        MirrorHealth::Unhealthy {
            reason,
            applied,
            head,
        } => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthResponse {
                status: "unhealthy",
                chain_id,
                mirror_block: applied,
                chain_head: head,
                // Never the RPC URL's key (see `crate::redact`).
                reason: Some(crate::redact::urls_in(&reason).into_owned()),
            }),
        )
            .into_response(),
    }
}

pub async fn metrics(State(ctx): State<SharedContext>) -> Response {
    match &ctx.metrics {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}
