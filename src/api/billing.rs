//! Billing endpoints (`billing/*` of spec/api.md) and the metering of charged requests:
//! [`charged_write`] is how every management write reaches the chain, so none escapes its price.

use alloy::primitives::{keccak256, B256};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::app::{AppContext, SharedContext};
use crate::billing::payments;
use crate::billing::{display_balance, EnabledBilling};

const DISABLED: &str = "billing is not enabled on this node";

fn disabled(status: StatusCode) -> ApiError {
    ApiError::new(status, "billing_disabled", DISABLED)
}

fn enabled(ctx: &AppContext) -> Result<&EnabledBilling, ApiError> {
    ctx.billing
        .enabled()
        .ok_or_else(|| disabled(StatusCode::BAD_REQUEST))
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
        (status = 404, description = "billing is not enabled on this node (code `billing_disabled`): no payments needed", body = super::error::ErrorResponse)
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
    /// At least the node's minimum top-up (`billing.min_payment_cents`, 500 unless configured),
    /// at most 99,999,999 (Stripe's limit).
    #[schema(maximum = 99_999_999)]
    #[serde(deserialize_with = "super::ids::count")]
    pub amount_cents: u64,
}

const _: () = assert!(
    payments::MAX_PAYMENT_CENTS == 99_999_999,
    "update amount_cents' maximum"
);

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
        ctx.writer.as_ref(),
        &caller.account,
        request.payment_intent_id.trim(),
    )
    .await?;
    Ok(Json(ConfirmPaymentResponse { success: true }))
}
