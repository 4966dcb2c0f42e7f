//! `Idempotency-Key` on writes (spec/api.md, "Writes and consistency"): a retry with the same key
//! returns the first reply instead of writing twice — also after a restart.
//!
//! - Keys are scoped to the account (of the API key used; `new_account`, which has none, shares
//!   one anonymous scope), and a retry must be the same request: same API key, method, path,
//!   query and body. The same key with another request is refused (422), never replayed.
//! - The first attempt is recorded (synced) before it runs. Its reply is kept when the write
//!   reached the chain — a success, or an error after a transaction was sent (reverted, not mined
//!   in time, mirror behind) — and replayed to retries, marked `Idempotent-Replayed: true`. A first
//!   attempt that failed before sending anything (bad input, no credit, chain down) is forgotten,
//!   so its retry runs afresh.
//! - A retry while the first attempt runs waits for it. A record left "in progress" by a node
//!   that stopped mid-write answers 409 `idempotency_key_interrupted`: whether that write happened
//!   is unknown to the node, and writing again could write twice.
//! - Replies are kept encrypted (they can hold new API keys) under a key derived from the root
//!   secret, the scope and the client's Idempotency-Key, which the store never holds. Records are
//!   kept 25 hours (at least the 24 the spec promises), then expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::auth::api_key_hash;
use super::error::{ApiError, TransactionSent};
use crate::app::SharedContext;
use crate::keys::aead;
use crate::store::idempotency::{record_key, IdempotencyRecord, KeptReply};
use crate::store::permissions::KeyState;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// How long a record is kept.
pub const RECORD_LIFETIME: Duration = Duration::from_secs(25 * 3600);
const MAX_KEY_LEN: usize = 255;
/// The scope of writes made without an API key (`new_account`).
const ANONYMOUS_SCOPE: [u8; 32] = [0; 32];

type RecordKey = [u8; 65];

/// The middleware's state: the node, and the first attempts running in this process.
pub struct Idempotency {
    ctx: SharedContext,
    running: Mutex<HashMap<RecordKey, watch::Receiver<()>>>,
}

impl Idempotency {
    pub fn new(ctx: SharedContext) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            running: Mutex::default(),
        })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<RecordKey, watch::Receiver<()>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn invalid_key(message: &str) -> ApiError {
    ApiError::bad_request("invalid_idempotency_key", message)
}

/// The client's key: 1 to 255 visible ASCII characters.
fn client_key(value: &HeaderValue) -> Result<Vec<u8>, ApiError> {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN {
        return Err(invalid_key(
            "the Idempotency-Key header must be 1 to 255 characters (a UUID is a good choice)",
        ));
    }
    if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(invalid_key(
            "the Idempotency-Key header must be visible ASCII characters without spaces",
        ));
    }
    Ok(bytes.to_vec())
}

/// What a retry must repeat exactly.
fn fingerprint(
    caller: Option<[u8; 32]>,
    request: &axum::http::request::Parts,
    body: &[u8],
) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(caller.unwrap_or_default());
    hash.update(request.method.as_str().as_bytes());
    hash.update([0]);
    hash.update(request.uri.path().as_bytes());
    hash.update([0]);
    hash.update(request.uri.query().unwrap_or("").as_bytes());
    hash.update([0]);
    hash.update(body);
    hash.finalize().into()
}

/// What a request found for its key.
enum Claim {
    /// A first attempt runs in this process: wait for it, then look again.
    Wait(watch::Receiver<()>),
    /// A record of an earlier attempt.
    Found(IdempotencyRecord),
    /// This request is the first attempt; the sender is dropped when it is done.
    First(watch::Sender<()>),
}

/// Middleware on write routes.
pub async fn replay(
    State(this): State<Arc<Idempotency>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(value) = request.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    let key = match client_key(value) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let ctx = &this.ctx;
    let caller = api_key_hash(request.headers());
    let scope = match caller {
        Some(hash) => {
            // Resolved by the rate limiter already, when it could (one resolution per request).
            let state = match request.extensions().get::<KeyState>() {
                Some(state) => state.clone(),
                None => match ctx.permissions.resolve(&hash) {
                    Ok(state) => state,
                    Err(error) => return ApiError::from(error).into_response(),
                },
            };
            match state {
                KeyState::Live(grant) => grant.account.0,
                // Unknown or expired key: the handler answers 401 and nothing is recorded.
                KeyState::Expired | KeyState::Unknown => return next.run(request).await,
            }
        }
        None if request.uri().path().ends_with("/new_account") => ANONYMOUS_SCOPE,
        None => return next.run(request).await,
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, ctx.max_body_bytes).await else {
        return ApiError::payload_too_large(format!(
            "request body is too large; the limit is {} bytes",
            ctx.max_body_bytes
        ))
        .into_response();
    };
    let fingerprint = fingerprint(caller.map(|hash| hash.0), &parts, &body);
    let record = record_key(&scope, &Sha256::digest(&key).into());
    loop {
        let claim = match this.claim(&record) {
            Ok(claim) => claim,
            Err(error) => return error.into_response(),
        };
        match claim {
            Claim::Wait(mut done) => {
                // Returns when the first attempt's sender is dropped.
                let _ = done.changed().await;
            }
            Claim::Found(found) => return this.answer_retry(found, fingerprint, &scope, &key),
            Claim::First(done) => {
                let created = super::unix_now();
                let started = IdempotencyRecord {
                    created,
                    fingerprint,
                    reply: None,
                };
                let response = match ctx.store.put_idempotency_record(&record, &started) {
                    Ok(()) => {
                        let response = next.run(Request::from_parts(parts, Body::from(body))).await;
                        this.keep(&record, started, &scope, &key, response).await
                    }
                    Err(error) => ApiError::from(error).into_response(),
                };
                this.running().remove(&record);
                drop(done);
                return response;
            }
        }
    }
}

impl Idempotency {
    fn claim(&self, record: &RecordKey) -> Result<Claim, ApiError> {
        let mut running = self.running();
        if let Some(done) = running.get(record) {
            return Ok(Claim::Wait(done.clone()));
        }
        match self.ctx.store.idempotency_record(record)? {
            Some(found)
                if super::unix_now().saturating_sub(found.created) < RECORD_LIFETIME.as_secs() =>
            {
                Ok(Claim::Found(found))
            }
            _ => {
                let (sender, receiver) = watch::channel(());
                running.insert(*record, receiver);
                Ok(Claim::First(sender))
            }
        }
    }

    /// A retry of an earlier attempt: its kept reply, or why there is none.
    fn answer_retry(
        &self,
        found: IdempotencyRecord,
        fingerprint: [u8; 32],
        scope: &[u8; 32],
        key: &[u8],
    ) -> Response {
        if found.fingerprint != fingerprint {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request (another API key, \
                 endpoint or body); use a new key for a new request",
            )
            .into_response();
        }
        let Some(reply) = found.reply else {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_interrupted",
                "the first request with this Idempotency-Key was interrupted by a node restart \
                 while it was writing; whether it took effect is unknown: check with the list_* \
                 endpoints before sending it again with a new key",
            )
            .into_response();
        };
        let sealed = String::from_utf8_lossy(&reply.sealed_body);
        let Ok(body) = aead::decrypt(&self.ctx.keys.idempotent_reply_key(scope, key), &sealed)
        else {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_reply_unreadable",
                "the reply kept for this Idempotency-Key cannot be read by this node (its root \
                 secret differs from the node that kept it); use a new key",
            )
            .into_response();
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() =
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(value) = reply
            .content_type
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        response
    }

    /// Keeps the first attempt's reply when the write reached the chain; forgets the attempt
    /// otherwise. Returns the reply to send.
    async fn keep(
        &self,
        record: &RecordKey,
        started: IdempotencyRecord,
        scope: &[u8; 32],
        key: &[u8],
        response: Response,
    ) -> Response {
        let store = &self.ctx.store;
        let keep = response.status().is_success()
            || response.extensions().get::<TransactionSent>().is_some();
        if !keep {
            if let Err(error) = store.remove_idempotency_record(record, started.created) {
                tracing::error!(%error, "cannot forget an idempotency record");
            }
            return response;
        }
        let (parts, body) = response.into_parts();
        let body: Bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "cannot read a reply to keep it for retries");
                return ApiError::internal("the reply could not be read; this is a bug")
                    .into_response();
            }
        };
        let sealed = aead::encrypt(&self.ctx.keys.idempotent_reply_key(scope, key), &body);
        let kept = IdempotencyRecord {
            reply: Some(KeptReply {
                status: parts.status.as_u16(),
                content_type: parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                sealed_body: sealed.into_bytes(),
            }),
            ..started
        };
        if let Err(error) = store.put_idempotency_record(record, &kept) {
            tracing::error!(%error, "cannot keep a reply for Idempotency-Key retries");
        }
        Response::from_parts(parts, Body::from(body))
    }
}

/// Deletes expired records every hour until `shutdown`.
pub async fn expire_records(
    store: crate::store::Store,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let before = super::unix_now().saturating_sub(RECORD_LIFETIME.as_secs());
        match store.expire_idempotency_records(before) {
            Ok(0) => {}
            Ok(expired) => tracing::debug!(expired, "expired idempotency records"),
            Err(error) => tracing::warn!(%error, "cannot expire idempotency records"),
        }
        // Signed messages past their window can no longer be replayed anyway.
        if let Err(error) = store.expire_used_messages(super::unix_now()) {
            tracing::warn!(%error, "cannot expire used signed messages");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(client_key(&HeaderValue::from_static(
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        ))
        .is_ok());
        for bad in ["", "has space", "tab\there"] {
            let value = HeaderValue::from_str(bad).unwrap();
            assert_eq!(
                client_key(&value).unwrap_err().code,
                "invalid_idempotency_key",
                "{bad:?}"
            );
        }
        let long = HeaderValue::from_str(&"k".repeat(256)).unwrap();
        assert!(client_key(&long).is_err());
    }
}
