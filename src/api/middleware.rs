//! Transport middleware of spec/api.md: a fresh `X-Request-Id` (UUID v4) on every response, an
//! echoed non-empty `X-Correlation-Id`, and error responses produced outside our handlers
//! (unknown route, wrong method, body limit, timeout) rewritten into the one JSON error shape.

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, BodyLimit};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub static X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// The request's id, available to handlers (e.g. `Lit.Headers` in actions) as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request's correlation id, when the client sent a non-empty one.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub HeaderValue);

pub async fn request_ids(mut request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let correlation = request
        .headers()
        .get(&X_CORRELATION_ID)
        .filter(|value| !value.as_bytes().iter().all(u8::is_ascii_whitespace))
        .cloned();
    request.extensions_mut().insert(RequestId(id.clone()));
    if let Some(value) = &correlation {
        request
            .extensions_mut()
            .insert(CorrelationId(value.clone()));
    }
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    let headers = response.headers_mut();
    headers.insert(
        X_REQUEST_ID.clone(),
        HeaderValue::from_str(&id).expect("a UUID is a valid header value"),
    );
    if let Some(value) = correlation {
        headers.insert(X_CORRELATION_ID.clone(), value);
    }
    response
}

pub async fn json_errors(State(limit): State<BodyLimit>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut rewritten = ApiError::from_status(status, &method, &path, limit).into_response();
        if let Some(allow) = response.headers().get(header::ALLOW) {
            rewritten.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return rewritten;
    }
    response
}

/// Prometheus request metrics: `lit_node_http_requests_total{endpoint,method,status}` and
/// `lit_node_http_request_duration_seconds{endpoint}`. The endpoint label is the matched route
/// (never the raw path, so unknown paths cannot explode the label set).
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("lit_node_http_requests_total", "endpoint" => endpoint.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("lit_node_http_request_duration_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    response
}
