//! Work that must finish once started, whatever the client does. Writes and action runs are
//! handled in a task of their own, detached from the client's connection: when the client
//! disconnects or its request times out, the handler goes on, so a write that reached the chain
//! is completed (and charged), and a run is charged for the time it used. The handler learns that
//! nobody waits any more through [`Abandoned`]; an action run uses it to stop at its next
//! interrupt check.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::error::ApiError;

/// Cancelled when the client stops waiting for this request's response.
#[derive(Debug, Clone, Default)]
pub struct Abandoned(pub CancellationToken);

/// Middleware: runs the rest of the request in its own task (see the module docs).
pub async fn detach(mut request: Request, next: Next) -> Response {
    let abandoned = CancellationToken::new();
    request
        .extensions_mut()
        .insert(Abandoned(abandoned.clone()));
    // Dropped (so: cancelled) when this future is dropped before the response is ready.
    let waiting = abandoned.drop_guard();
    let handled = tokio::spawn(next.run(request).instrument(tracing::Span::current()));
    let response = match handled.await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "a detached request handler failed");
            ApiError::internal("the request failed inside the node; this is a bug").into_response()
        }
    };
    waiting.disarm();
    response
}
