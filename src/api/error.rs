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

/// The body of every error response (its wire shape, and its schema in the OpenAPI document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    /// What was wrong and what to do.
    pub error: String,
    /// Stable snake_case code, e.g. `invalid_body`, `unauthorized`, `forbidden`, `not_found`.
    pub code: &'static str,
}

/// The node's request-body limit (`http.max_body_bytes`), carried in each request's extensions
/// so that every 413 names the configured figure.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit(crate::config::DEFAULT_MAX_BODY_BYTES)
    }
}

impl BodyLimit {
    pub fn exceeded(self) -> ApiError {
        ApiError::payload_too_large(format!("request body is too large; the limit is {self}"))
    }
}

impl std::fmt::Display for BodyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            bytes if bytes % (1 << 20) == 0 => write!(f, "{} MiB", bytes >> 20),
            bytes if bytes % (1 << 10) == 0 => write!(f, "{} KiB", bytes >> 10),
            bytes => write!(f, "{bytes} bytes"),
        }
    }
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

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`: the object does not exist (in the caller's account).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The status's generic error, for responses produced outside our handlers (routing, limits).
    pub fn from_status(status: StatusCode, method: &str, path: &str, limit: BodyLimit) -> Self {
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
            StatusCode::PAYLOAD_TOO_LARGE => limit.exceeded(),
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
        let transaction_sent = self.transaction_sent;
        let body = ErrorResponse {
            error: self.message,
            code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        if transaction_sent {
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

impl From<crate::billing::MeterError> for ApiError {
    fn from(error: crate::billing::MeterError) -> Self {
        match error {
            crate::billing::MeterError::NoCredit {
                available_cents,
                needed_cents,
            } => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "no_credit",
                format!(
                    "this account has no credit for this ({}; it costs {needed_cents} cent{}): add funds \
                     with POST /core/v1/billing/create_payment_intent, pay it, then POST \
                     /core/v1/billing/confirm_payment",
                    crate::billing::display_balance(available_cents),
                    if needed_cents == 1 { "" } else { "s" }
                ),
            ),
            crate::billing::MeterError::Store(e) => e.into(),
        }
    }
}

impl From<crate::billing::payments::PaymentError> for ApiError {
    fn from(error: crate::billing::payments::PaymentError) -> Self {
        match error {
            crate::billing::payments::PaymentError::Invalid(message) => {
                ApiError::bad_request("invalid_body", message)
            }
            crate::billing::payments::PaymentError::NotFound(message) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            crate::billing::payments::PaymentError::NotPaid(message) => {
                ApiError::bad_request("payment_not_succeeded", message)
            }
            crate::billing::payments::PaymentError::Stripe(
                crate::billing::stripe::StripeError::Refused(message),
            ) => ApiError::bad_request(
                "payment_refused",
                format!("Stripe refused the payment: {message}"),
            ),
            crate::billing::payments::PaymentError::Stripe(
                crate::billing::stripe::StripeError::NotFound(message),
            ) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            crate::billing::payments::PaymentError::Stripe(
                crate::billing::stripe::StripeError::Unauthorized,
            ) => {
                tracing::error!(
                    "Stripe refused this node's secret key: check billing configuration"
                );
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payments_unavailable",
                    "payments are unavailable: this node's payment provider configuration is being fixed; retry later",
                )
            }
            crate::billing::payments::PaymentError::Stripe(
                crate::billing::stripe::StripeError::Unavailable(reason),
            ) => {
                tracing::warn!(%reason, "Stripe unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payments_unavailable",
                    "the payment provider (Stripe) is unreachable; retry later",
                )
            }
            crate::billing::payments::PaymentError::Chain(e) => e.into(),
            crate::billing::payments::PaymentError::Store(e) => e.into(),
        }
    }
}

impl From<crate::store::permissions::Denied> for ApiError {
    fn from(denied: crate::store::permissions::Denied) -> Self {
        ApiError::forbidden(denied.0)
    }
}
