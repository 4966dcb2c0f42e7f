//! Billing endpoints (`billing/*` of spec/api.md) and the metering of charged requests:
//! [`charged_write`] is how every management write reaches the chain, so none escapes its price.

use alloy::primitives::{keccak256, B256};
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::app::{AppContext, SharedContext};
use crate::billing::payments::{self, PaymentError};
use crate::billing::stripe::StripeError;
use crate::billing::{display_balance, EnabledBilling, MeterError};
use crate::chain::writer::Written;

const DISABLED: &str = "billing is not enabled on this node";

fn disabled(status: StatusCode) -> ApiError {
    ApiError::new(status, "billing_disabled", DISABLED)
}

fn enabled(ctx: &AppContext) -> Result<&EnabledBilling, ApiError> {
    ctx.billing
        .enabled()
        .ok_or_else(|| disabled(StatusCode::BAD_REQUEST))
}

/// Sends a management write for `caller`'s account, charging its price: refused with 402 before
/// anything is sent when the account cannot pay, journaled before the response once a
/// transaction was sent (it succeeded, or it was sent and reverted or is still pending: the chain
/// did the work either way). Write endpoints run detached from the client (see `detach`), so a
/// client that disconnects or times out is charged too.
pub async fn charged_write<C: SolCall>(
    ctx: &AppContext,
    caller: &Caller,
    call: &C,
) -> Result<Written, ApiError> {
    let hold = ctx.billing.reserve_write(&caller.account)?;
    let written = ctx.writer.write(call).await.map_err(ApiError::from);
    let sent = match &written {
        Ok(_) => true,
        Err(error) => error.transaction_sent,
    };
    if let (Some(hold), true) = (hold, sent) {
        let cents = hold.cents();
        hold.commit_async(cents).await?;
    }
    written
}

impl From<MeterError> for ApiError {
    fn from(error: MeterError) -> Self {
        match error {
            MeterError::NoCredit {
                available_cents,
                needed_cents,
            } => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "no_credit",
                format!(
                    "this account has no credit for this ({}; it costs {needed_cents} cent{}): add funds \
                     with POST /core/v1/billing/create_payment_intent, pay it, then POST \
                     /core/v1/billing/confirm_payment",
                    display_balance(available_cents),
                    if needed_cents == 1 { "" } else { "s" }
                ),
            ),
            MeterError::Store(e) => e.into(),
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Invalid(message) => ApiError::bad_request("invalid_body", message),
            PaymentError::NotFound(message) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            PaymentError::NotPaid(message) => {
                ApiError::bad_request("payment_not_succeeded", message)
            }
            PaymentError::Stripe(StripeError::Refused(message)) => ApiError::bad_request(
                "payment_refused",
                format!("Stripe refused the payment: {message}"),
            ),
            PaymentError::Stripe(StripeError::NotFound(message)) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            PaymentError::Stripe(StripeError::Unauthorized) => {
                tracing::error!(
                    "Stripe refused this node's secret key: check billing configuration"
                );
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payments_unavailable",
                    "payments are unavailable: this node's payment provider configuration is being fixed; retry later",
                )
            }
            PaymentError::Stripe(StripeError::Unavailable(reason)) => {
                tracing::warn!(%reason, "Stripe unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payments_unavailable",
                    "the payment provider (Stripe) is unreachable; retry later",
                )
            }
            PaymentError::Chain(e) => e.into(),
            PaymentError::Store(e) => e.into(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StripeConfigResponse {
    pub publishable_key: String,
}

/// The Stripe publishable key for clients' Stripe.js; 404 `billing_disabled` when billing is off.
#[utoipa::path(
    get,
    path = "/core/v1/billing/stripe_config",
    tag = "billing",
    summary = "Stripe publishable key (404 when billing is off)",
    responses(
        (status = 200, description = "success", body = StripeConfigResponse),
        (status = 404, description = "billing is not enabled on this node (code `billing_disabled`): no payments needed", body = super::openapi::ErrorResponse)
    )
)]
pub async fn stripe_config(
    State(ctx): State<SharedContext>,
) -> Result<Json<StripeConfigResponse>, ApiError> {
    let billing = ctx
        .billing
        .enabled()
        .ok_or_else(|| disabled(StatusCode::NOT_FOUND))?;
    Ok(Json(StripeConfigResponse {
        publishable_key: billing.config.stripe_publishable_key.clone(),
    }))
}

/// Stripe's customer-balance convention: negative = credit available.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BalanceResponse {
    /// Negative = credit available (−500 = $5.00), 0 = exhausted, positive = owed.
    pub balance_cents: i64,
    pub balance_display: String,
    /// False when this node charges nothing.
    pub billing_enabled: bool,
}

/// The account's credit: on-chain balance minus this node's unsettled charges.
#[utoipa::path(
    get,
    path = "/core/v1/billing/balance",
    tag = "billing",
    summary = "The account's credit",
    responses((status = 200, description = "success", body = BalanceResponse)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn balance(
    State(ctx): State<SharedContext>,
    caller: Caller,
) -> Result<Json<BalanceResponse>, ApiError> {
    let Some(billing) = ctx.billing.enabled() else {
        return Ok(Json(BalanceResponse {
            balance_cents: 0,
            balance_display: "Billing is not enabled on this node: usage is free".into(),
            billing_enabled: false,
        }));
    };
    let credit = billing.meter.balance(&caller.account)?;
    let balance_cents =
        i64::try_from(-credit).unwrap_or(if credit > 0 { i64::MIN } else { i64::MAX });
    Ok(Json(BalanceResponse {
        balance_cents,
        balance_display: display_balance(credit),
        billing_enabled: true,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentIntentRequest {
    /// At least 500 (the node's minimum top-up).
    pub amount_cents: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatePaymentIntentResponse {
    pub client_secret: String,
    pub payment_intent_id: String,
}

/// A Stripe PaymentIntent that tops up the caller's account once paid and confirmed. An
/// `Idempotency-Key` header makes retries of the same request return the same intent.
#[utoipa::path(
    post,
    path = "/core/v1/billing/create_payment_intent",
    tag = "billing",
    summary = "Start a top-up (Stripe PaymentIntent)",
    request_body = CreatePaymentIntentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the same intent")),
    responses((status = 200, description = "success", body = CreatePaymentIntentResponse)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create_payment_intent(
    State(ctx): State<SharedContext>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreatePaymentIntentRequest>,
) -> Result<Json<CreatePaymentIntentResponse>, ApiError> {
    let billing = enabled(&ctx)?;
    let idempotency_key = idempotency_key(&caller.account, &headers)?;
    let intent = payments::create(
        billing,
        &caller.account,
        request.amount_cents,
        &idempotency_key,
    )
    .await?;
    let client_secret = intent.client_secret.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "payments_unavailable",
            "Stripe returned a PaymentIntent without a client secret; retry later",
        )
    })?;
    Ok(Json(CreatePaymentIntentResponse {
        client_secret,
        payment_intent_id: intent.id,
    }))
}

/// The client's `Idempotency-Key`, scoped to its account (so two accounts never share one), or a
/// fresh one.
fn idempotency_key(account: &B256, headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(format!("lit-node-{}", uuid::Uuid::new_v4())),
        Some(value) => {
            let value = value.as_bytes();
            if value.is_empty() || value.len() > 255 {
                return Err(ApiError::bad_request(
                    "invalid_header",
                    "the Idempotency-Key header must be 1 to 255 bytes",
                ));
            }
            let scoped = keccak256([account.as_slice(), value].concat());
            Ok(format!("lit-node-{}", hex::encode(&scoped[..16])))
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPaymentRequest {
    pub payment_intent_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfirmPaymentResponse {
    pub success: bool,
}

/// Credits the caller's account for a succeeded PaymentIntent created for it, once: a repeated
/// confirm (here or on another node) credits nothing more and still answers success.
#[utoipa::path(
    post,
    path = "/core/v1/billing/confirm_payment",
    tag = "billing",
    summary = "Credit a paid top-up",
    request_body = ConfirmPaymentRequest,
    responses((status = 200, description = "success", body = ConfirmPaymentResponse)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn confirm_payment(
    State(ctx): State<SharedContext>,
    caller: Caller,
    ApiJson(request): ApiJson<ConfirmPaymentRequest>,
) -> Result<Json<ConfirmPaymentResponse>, ApiError> {
    let billing = enabled(&ctx)?;
    payments::confirm(
        billing,
        &ctx.store,
        &ctx.writer,
        &caller.account,
        request.payment_intent_id.trim(),
    )
    .await?;
    Ok(Json(ConfirmPaymentResponse { success: true }))
}
