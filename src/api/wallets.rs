//! Wallets (PKPs): `GET create_wallet` and `GET list_wallets`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::accounts::check_text;
use super::auth::Caller;
use super::error::ApiError;
use super::pagination::PageQuery;
use super::self_managed::Manager;
use crate::app::SharedContext;
use crate::chain::bindings::LitRegistry;

/// Optional query of `create_wallet`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateWalletQuery {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateWalletResponse {
    pub wallet_address: String,
}

/// One wallet of `list_wallets`: `id` is its 1-based ordinal in the account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WalletItem {
    pub id: String,
    pub name: String,
    pub description: String,
    pub wallet_address: String,
}

impl WalletItem {
    pub fn new(
        address: alloy::primitives::Address,
        record: crate::store::records::WalletRecord,
    ) -> Self {
        Self {
            id: record.ordinal.to_string(),
            name: record.name,
            description: record.description,
            wallet_address: format!("{address:#x}"),
        }
    }
}

/// Mints a PKP: a random derivation id registered on chain; the address of the key it derives.
/// Usage keys need `can_create_pkps` (checked here first, then by the contract).
#[utoipa::path(
    get,
    path = "/core/v1/create_wallet",
    tag = "wallets",
    summary = "Mint a wallet (PKP)",
    params(("name" = Option<String>, Query), ("description" = Option<String>, Query)),
    responses((status = 200, description = "success", body = CreateWalletResponse)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create_wallet(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    query: Result<Query<CreateWalletQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CreateWalletResponse>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    if caller.usage.as_ref().is_some_and(|u| !u.can_create_pkps) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this usage key may not create wallets (it lacks can_create_pkps)",
        ));
    }
    let name = query.name.unwrap_or_default();
    let description = query.description.unwrap_or_default();
    check_text("name", &name)?;
    check_text("description", &description)?;
    let (derivation_id, wallet) = ctx.keys.mint_wallet();
    super::billing::charged_write(
        &ctx,
        &caller,
        &LitRegistry::registerWalletCall {
            callerKeyHash: caller.key_hash,
            wallet,
            derivationId: derivation_id,
            name,
            description,
        },
    )
    .await?;
    Ok(Json(CreateWalletResponse {
        wallet_address: format!("{wallet:#x}"),
    }))
}

/// The account's wallets in creation order (any key of the account may list them).
#[utoipa::path(
    get,
    path = "/core/v1/list_wallets",
    tag = "wallets",
    summary = "The account's wallets",
    params(("page_number" = u64, Query, description = "0-based page"), ("page_size" = u64, Query, description = "1..=1000")),
    responses((status = 200, description = "success", body = Vec<WalletItem>)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_wallets(
    State(ctx): State<SharedContext>,
    caller: Caller,
    PageQuery(page): PageQuery,
) -> Result<Json<Vec<WalletItem>>, ApiError> {
    let wallets = ctx.store.wallets(&caller.account, page)?;
    Ok(Json(
        wallets
            .into_iter()
            .map(|(address, record)| WalletItem::new(address, record))
            .collect(),
    ))
}
