//! The API's one error type: every failure leaves as `{"error": "<message>", "code": "<code>"}`
//! with the status of spec/api.md ("Errors").

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// An error answered to a client. `message` says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// A transaction was sent before the error: the write may have happened (or may still), so
    /// a retry under the same `Idempotency-Key` must get this answer, not write again.
    pub transaction_sent: bool,
}

/// Marks a response whose request sent a transaction (see [`ApiError::transaction_sent`]).
#[derive(Debug, Clone, Copy)]
pub struct TransactionSent;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            transaction_sent: false,
        }
    }

    fn after_sending(mut self) -> Self {
        self.transaction_sent = true;
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The status's generic error, for responses produced outside our handlers (routing, limits).
    pub fn from_status(status: StatusCode, method: &str, path: &str) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::new(
                status,
                "not_found",
                format!("no endpoint {method} {path}; see /core/v1/openapi.json for the API"),
            ),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                "method_not_allowed",
                format!("{path} does not accept {method}; see /core/v1/openapi.json"),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(
                "request body is too large; the limit is 10 MiB".to_string(),
            ),
            StatusCode::REQUEST_TIMEOUT => Self::new(
                status,
                "timeout",
                "the request took too long and was abandoned; retry later",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                "unsupported_media_type",
                "send the request body as JSON (Content-Type: application/json)",
            ),
            other => Self::new(
                other,
                "http_error",
                other
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_string(),
            ),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = ErrorBody {
            error: &self.message,
            code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.transaction_sent {
            response.extensions_mut().insert(TransactionSent);
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::error!(%error, "store failure");
        ApiError::internal(
            "the node's store failed; this is a bug or a disk problem, not your request",
        )
    }
}

impl From<crate::chain::writer::WriteError> for ApiError {
    fn from(error: crate::chain::writer::WriteError) -> Self {
        use crate::chain::bindings::LitRegistry::LitRegistryErrors as E;
        use crate::chain::writer::WriteError as W;
        let unavailable = |message: String| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "chain_unavailable",
                message,
            )
        };
        match error {
            W::Rejected(rejected) => match rejected {
                E::UnknownKey(_) | E::KeyExpired(_) => {
                    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown or expired API key")
                }
                E::NotAccountKey(_) => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "only the account key may do this; usage keys cannot",
                ),
                E::MissingScope(e) => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("this API key lacks the scope for that ({:?}, group {})", e.scope, e.groupId),
                ),
                E::AccountAlreadyExists(_) | E::KeyAlreadyExists(_) => {
                    ApiError::new(StatusCode::CONFLICT, "conflict", "that key is already registered")
                }
                E::WalletAlreadyRegistered(_) | E::DerivationIdAlreadyUsed(_) => {
                    ApiError::new(StatusCode::CONFLICT, "conflict", "that wallet is already registered; retry")
                }
                E::PaymentAlreadyCredited(_) | E::SettlementAlreadyApplied(_) | E::AlreadySelfManaged(_) => {
                    ApiError::new(StatusCode::CONFLICT, "conflict", "that was already done")
                }
                E::GroupNotFound(e) => ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("group {} does not exist in this account", e.groupId),
                ),
                E::UsageKeyNotFound(_) => {
                    ApiError::new(StatusCode::NOT_FOUND, "not_found", "that usage key does not exist in this account")
                }
                E::ActionNotFound(_) => {
                    ApiError::new(StatusCode::NOT_FOUND, "not_found", "that action does not exist in this account")
                }
                E::WalletNotInAccount(e) => ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("wallet {:#x} does not exist in this account", e.wallet),
                ),
                E::AccountNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such account"),
                E::NodeSignatureRequired(e) => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "self_managed",
                    format!(
                        "account {:#x} is self-managed: its admin registers wallets with \
                         registerWalletWithNodeSignature (see POST /core/v1/create_wallet_with_signature)",
                        e.account
                    ),
                ),
                E::NotPayer(_) => unavailable(
                    "this node may not write to this account (its payers are not registered in NodeConfig); \
                     ask the operator"
                        .into(),
                ),
                E::NotAccountAdmin(e) => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "self_managed",
                    format!(
                        "account {:#x} is self-managed: only its admin wallet changes it, directly on chain",
                        e.account
                    ),
                ),
                other => ApiError::bad_request("invalid_request", format!("the registry refused the request: {other:?}")),
            },
            W::Reverted(tx) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("transaction {tx} reverted: the state changed concurrently; retry"),
            )
            .after_sending(),
            W::Unavailable(reason) => unavailable(format!(
                "the chain is unavailable and nothing was sent ({}); retry later",
                crate::redact::urls_in(&reason)
            )),
            W::NotMined(tx) => unavailable(format!(
                "transaction {tx} was sent but not mined in time; this node keeps following it (re-sending if needed), \
                 so check with a read shortly before repeating the write (or repeat it with the same Idempotency-Key)"
            ))
            .after_sending(),
            W::MirrorBehind { tx, block } => unavailable(format!(
                "transaction {tx} was mined in block {block}, but this node has not caught up yet; retry the read shortly"
            ))
            .after_sending(),
        }
    }
}
