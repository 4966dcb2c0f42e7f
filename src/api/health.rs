//! `GET /health`: 200 while the node serves. (The mirror's lag bound joins this check when the
//! indexer lands.)

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::app::SharedContext;

#[derive(Debug, Serialize)]
pub struct HealthResponse {
    pub status: &'static str,
    pub chain_id: u64,
}

pub async fn health(State(ctx): State<SharedContext>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok",
        chain_id: ctx.chain.chain_id,
    })
}
