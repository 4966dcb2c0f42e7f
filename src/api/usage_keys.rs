//! Usage keys: `add_usage_api_key`, `update_usage_api_key`, `remove_usage_api_key`,
//! `update_usage_api_key_metadata` (account key only: a usage key that could rewrite keys could
//! grant itself anything) and `list_api_keys` (any key of the account; never plaintext). A key's
//! group lists may name only groups of the account, or 0 for every group.

use alloy::primitives::U256;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use super::fields::check_text;
use super::ids::{GroupId, KeyRef};
use super::pagination::PageQuery;
use super::replies::{Success, SUCCESS};
use super::self_managed::Manager;
use crate::app::SharedContext;
use crate::chain::bindings::{ILitRegistry, LitRegistry};
use crate::keys::api_key::NewApiKey;
use crate::store::keys::group_id_u64;

/// The scopes of a usage key, as `add_usage_api_key` / `update_usage_api_key` take them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Scopes {
    #[schema(schema_with = super::wire_schema::text)]
    pub name: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub description: String,
    pub can_create_groups: bool,
    pub can_delete_groups: bool,
    pub can_create_pkps: bool,
    pub manage_ipfs_ids_in_groups: Vec<GroupId>,
    pub add_pkp_to_groups: Vec<GroupId>,
    pub remove_pkp_from_groups: Vec<GroupId>,
    pub execute_in_groups: Vec<GroupId>,
}

impl Scopes {
    fn on_chain(self) -> Result<ILitRegistry::UsageKey, ApiError> {
        check_text("name", &self.name)?;
        check_text("description", &self.description)?;
        let ids = |list: Vec<GroupId>| list.into_iter().map(|g| U256::from(g.0)).collect();
        Ok(ILitRegistry::UsageKey {
            name: self.name,
            description: self.description,
            expiration: 0,
            canCreateGroups: self.can_create_groups,
            canDeleteGroups: self.can_delete_groups,
            canCreatePkps: self.can_create_pkps,
            manageIpfsIdsInGroups: ids(self.manage_ipfs_ids_in_groups),
            addPkpToGroups: ids(self.add_pkp_to_groups),
            removePkpFromGroups: ids(self.remove_pkp_from_groups),
            executeInGroups: ids(self.execute_in_groups),
        })
    }
}

/// Every group id the key's lists name must be a group of the caller's account, or the 0
/// wildcard (404 naming the list and the id otherwise). A key must never hold rights over a
/// group id before the group exists: a key that may create groups would create it with the
/// account's wallets in it. The contract enforces the same; checking here answers before any
/// transaction is sent.
fn require_listed_groups(
    ctx: &SharedContext,
    caller: &Caller,
    key: &ILitRegistry::UsageKey,
) -> Result<(), ApiError> {
    let lists = [
        ("manage_ipfs_ids_in_groups", &key.manageIpfsIdsInGroups),
        ("add_pkp_to_groups", &key.addPkpToGroups),
        ("remove_pkp_from_groups", &key.removePkpFromGroups),
        ("execute_in_groups", &key.executeInGroups),
    ];
    for (list, ids) in lists {
        for id in ids.iter().map(|id| group_id_u64(*id)) {
            if id != 0 && ctx.store.group(&caller.account, id)?.is_none() {
                return Err(ApiError::not_found(format!(
                    "{list} names group {id}, which does not exist in this account; create \
                         the group first, or use 0 for every group"
                )));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddUsageKeyResponse {
    pub success: bool,
    #[schema(value_type = String)]
    pub usage_api_key: NewApiKey,
}

/// The usage key must exist in the caller's account (404 otherwise).
fn require_usage_key(ctx: &SharedContext, caller: &Caller, key: KeyRef) -> Result<(), ApiError> {
    match ctx.store.key(&key.0)? {
        Some(record) if record.account == caller.account && record.usage.is_some() => Ok(()),
        _ => Err(ApiError::not_found(
            "that usage key does not exist in this account",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/core/v1/add_usage_api_key",
    tag = "keys",
    summary = "Create a usage key",
    request_body = Scopes,
    responses((status = 200, description = "success", body = AddUsageKeyResponse)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn add_usage_api_key(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(scopes): ApiJson<Scopes>,
) -> Result<Json<AddUsageKeyResponse>, ApiError> {
    caller.require_account_key("create usage keys")?;
    let key = scopes.on_chain()?;
    require_listed_groups(&ctx, &caller, &key)?;
    let usage_api_key = NewApiKey::generate();
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::addUsageKeyCall {
            callerKeyHash: caller.key_hash,
            usageKeyHash: usage_api_key.hash(),
            key,
        },
    )
    .await?;
    Ok(Json(AddUsageKeyResponse {
        success: true,
        usage_api_key,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateUsageKeyRequest {
    pub usage_api_key: KeyRef,
    #[serde(flatten)]
    pub scopes: Scopes,
}

/// Replaces every scope (and the metadata) of a usage key.
#[utoipa::path(
    post,
    path = "/core/v1/update_usage_api_key",
    tag = "keys",
    summary = "Replace a usage key's scopes",
    request_body = UpdateUsageKeyRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn update_usage_api_key(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<UpdateUsageKeyRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("change usage keys")?;
    require_usage_key(&ctx, &caller, request.usage_api_key)?;
    let key = request.scopes.on_chain()?;
    require_listed_groups(&ctx, &caller, &key)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::updateUsageKeyCall {
            callerKeyHash: caller.key_hash,
            usageKeyHash: request.usage_api_key.0,
            key,
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveUsageKeyRequest {
    pub usage_api_key: KeyRef,
}

/// The key stops working at once (the write returns after the mirror applied it).
#[utoipa::path(
    post,
    path = "/core/v1/remove_usage_api_key",
    tag = "keys",
    summary = "Revoke a usage key",
    request_body = RemoveUsageKeyRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn remove_usage_api_key(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<RemoveUsageKeyRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("remove usage keys")?;
    require_usage_key(&ctx, &caller, request.usage_api_key)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::removeUsageKeyCall {
            callerKeyHash: caller.key_hash,
            usageKeyHash: request.usage_api_key.0,
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageKeyMetadataRequest {
    pub usage_api_key: KeyRef,
    #[schema(schema_with = super::wire_schema::text)]
    pub name: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub description: String,
}

#[utoipa::path(
    post,
    path = "/core/v1/update_usage_api_key_metadata",
    tag = "keys",
    summary = "Rename a usage key",
    request_body = UsageKeyMetadataRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn update_usage_api_key_metadata(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<UsageKeyMetadataRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("change usage keys")?;
    require_usage_key(&ctx, &caller, request.usage_api_key)?;
    check_text("name", &request.name)?;
    check_text("description", &request.description)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::updateUsageKeyMetadataCall {
            callerKeyHash: caller.key_hash,
            usageKeyHash: request.usage_api_key.0,
            name: request.name,
            description: request.description,
        },
    )
    .await?;
    Ok(SUCCESS)
}

/// One usage key of `list_api_keys` (`id` = `api_key_hash`; `expiration` in unix seconds as a
/// decimal string, `"0"` for none).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyItem {
    pub id: String,
    pub api_key_hash: String,
    pub name: String,
    pub description: String,
    pub expiration: String,
    pub balance: i64,
    pub can_create_groups: bool,
    pub can_delete_groups: bool,
    pub can_create_pkps: bool,
    pub can_manage_ipfs_ids_in_groups: Vec<u64>,
    pub can_add_pkp_to_groups: Vec<u64>,
    pub can_remove_pkp_from_groups: Vec<u64>,
    pub can_execute_in_groups: Vec<u64>,
}

#[utoipa::path(
    get,
    path = "/core/v1/list_api_keys",
    tag = "keys",
    summary = "The account's usage keys (hashes only)",
    params(super::pagination::PageParams),
    responses((status = 200, description = "success", body = Vec<ApiKeyItem>)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_api_keys(
    State(ctx): State<SharedContext>,
    caller: Caller,
    PageQuery(page): PageQuery,
) -> Result<Json<Vec<ApiKeyItem>>, ApiError> {
    let keys = ctx.store.usage_keys(&caller.account, page)?;
    Ok(Json(
        keys.into_iter()
            .map(|(hash, usage)| {
                let hash = format!("{hash:#x}");
                ApiKeyItem {
                    id: hash.clone(),
                    api_key_hash: hash,
                    name: usage.name,
                    description: usage.description,
                    expiration: usage.expiration.to_string(),
                    balance: 0,
                    can_create_groups: usage.can_create_groups,
                    can_delete_groups: usage.can_delete_groups,
                    can_create_pkps: usage.can_create_pkps,
                    can_manage_ipfs_ids_in_groups: usage.manage_ipfs_ids_in_groups,
                    can_add_pkp_to_groups: usage.add_pkp_to_groups,
                    can_remove_pkp_from_groups: usage.remove_pkp_from_groups,
                    can_execute_in_groups: usage.execute_in_groups,
                }
            })
            .collect(),
    ))
}
