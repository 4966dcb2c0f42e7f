//! Wallets (PKPs): `GET create_wallet` and `GET list_wallets`.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::ApiError;
use super::fields::check_text;
use super::pagination::PageQuery;
use super::replies::WalletItem;
use super::self_managed::Manager;
use crate::app::SharedContext;
use crate::chain::bindings::LitRegistry;

/// Optional query of `create_wallet`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateWalletQuery {
    #[serde(default)]
    #[param(max_length = 1024)]
    pub name: Option<String>,
    #[serde(default)]
    #[param(max_length = 1024)]
    pub description: Option<String>,
}

const _: () = assert!(
    super::fields::MAX_TEXT_CHARS == 1024,
    "update CreateWalletQuery's max_length"
);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateWalletResponse {
    pub wallet_address: String,
}

/// Mints a PKP: a random derivation id registered on chain; the address of the key it derives.
/// Usage keys need `can_create_pkps` (checked here first, then by the contract).
#[utoipa::path(
    get,
    path = "/core/v1/create_wallet",
    tag = "wallets",
    summary = "Mint a wallet (PKP)",
    params(CreateWalletQuery),
    responses((status = 200, description = "success", body = CreateWalletResponse)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create_wallet(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    query: Result<Query<CreateWalletQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CreateWalletResponse>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    if caller.usage().is_some_and(|u| !u.can_create_pkps) {
        return Err(ApiError::forbidden(
            "this usage key may not create wallets (it lacks can_create_pkps)",
        ));
    }
    let name = query.name.unwrap_or_default();
    let description = query.description.unwrap_or_default();
    check_text("name", &name)?;
    check_text("description", &description)?;
    let (derivation_id, wallet) = ctx.keys.mint_wallet();
    super::charged_write::charged_write(
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
    params(super::pagination::PageParams),
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
