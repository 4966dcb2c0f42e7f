//! Accounts: `POST new_account` and `GET account_exists`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::ApiKey;
use super::error::ApiError;
use super::extract::ApiJson;
use super::fields::check_text;
use crate::app::SharedContext;
use crate::chain::bindings::LitRegistry;
use crate::keys::api_key::NewApiKey;

/// `POST new_account` `{account_name, account_description, email?}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountRequest {
    #[schema(schema_with = super::wire_schema::text)]
    pub account_name: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub account_description: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// → `{api_key, wallet_address}`: the account key (shown once) and the default wallet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewAccountResponse {
    #[schema(value_type = String)]
    pub api_key: NewApiKey,
    pub wallet_address: String,
}

/// Creates the account on chain with its default wallet, in one transaction.
#[utoipa::path(
    post,
    path = "/core/v1/new_account",
    tag = "accounts",
    summary = "Create an account and its default wallet",
    request_body = NewAccountRequest,
    responses((status = 200, description = "success", body = NewAccountResponse))
)]
pub async fn new_account(
    State(ctx): State<SharedContext>,
    ApiJson(request): ApiJson<NewAccountRequest>,
) -> Result<Json<NewAccountResponse>, ApiError> {
    check_text("account_name", &request.account_name)?;
    check_text("account_description", &request.account_description)?;
    if let Some(email) = &request.email {
        check_text("email", email)?;
    }
    let api_key = NewApiKey::generate();
    let (derivation_id, wallet) = ctx.keys.mint_wallet();
    ctx.writer
        .write(&LitRegistry::newAccountCall {
            accountKeyHash: api_key.hash(),
            name: request.account_name,
            description: request.account_description,
            defaultWallet: wallet,
            derivationId: derivation_id,
        })
        .await?;
    Ok(Json(NewAccountResponse {
        api_key,
        wallet_address: format!("{wallet:#x}"),
    }))
}

/// `GET account_exists` → `true` if the key belongs to an existing account (account or usage
/// key), else `false`. A missing key is still a 401.
#[utoipa::path(
    get,
    path = "/core/v1/account_exists",
    tag = "accounts",
    summary = "Whether the key belongs to an account",
    description = "Any key may ask: `true` when it is the account key or a usage key of an \
                   account, `false` for any other key. Only a request without a key is refused (401).",
    responses((status = 200, description = "success", body = bool, content_type = "application/json")),
    security((), ("api_key" = []), ("bearer" = []))
)]
pub async fn account_exists(
    State(ctx): State<SharedContext>,
    ApiKey(key_hash): ApiKey,
) -> Result<Json<bool>, ApiError> {
    Ok(Json(ctx.permissions.key_account(&key_hash)?.is_some()))
}
