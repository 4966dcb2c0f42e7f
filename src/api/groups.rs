//! Groups: `add_group`, `remove_group`, `update_group`, `list_groups`, `add_pkp_to_group`,
//! `remove_pkp_from_group`, `list_wallets_in_group`. Every write checks scope first, then
//! existence (a foreign group behaves as a missing one), then sends the transaction.

use std::collections::HashMap;

use alloy::primitives::{B256, U256};
use alloy::sol_types::SolEvent;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, GroupScope};
use super::error::ApiError;
use super::extract::ApiJson;
use super::fields::check_text;
use super::ids::{group_id_query, GroupId, HashedCid, PkpId};
use super::ownership::{require_group, require_wallets};
use super::pagination::PageQuery;
use super::replies::{Success, WalletItem, SUCCESS};
use super::self_managed::Manager;
use crate::app::SharedContext;
use crate::chain::bindings::LitRegistry;
use crate::store::keys::group_id_u64;

fn hashes(cids: &[HashedCid]) -> Vec<B256> {
    cids.iter().map(|c| c.0).collect()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddGroupRequest {
    #[schema(schema_with = super::wire_schema::text)]
    pub group_name: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub group_description: String,
    #[serde(default)]
    pub pkp_ids_permitted: Vec<PkpId>,
    #[serde(default)]
    pub cid_hashes_permitted: Vec<HashedCid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddGroupResponse {
    pub success: bool,
    pub group_id: String,
}

#[utoipa::path(
    post,
    path = "/core/v1/add_group",
    tag = "groups",
    summary = "Create a group",
    request_body = AddGroupRequest,
    responses((status = 200, description = "success", body = AddGroupResponse)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn add_group(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<AddGroupRequest>,
) -> Result<Json<AddGroupResponse>, ApiError> {
    caller.require_flag("can_create_groups", |u| u.can_create_groups)?;
    check_text("group_name", &request.group_name)?;
    check_text("group_description", &request.group_description)?;
    let wallets = require_wallets(&ctx, &caller, &request.pkp_ids_permitted)?;
    let written = super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::addGroupCall {
            callerKeyHash: caller.key_hash,
            name: request.group_name,
            description: request.group_description,
            wallets,
            cidHashes: hashes(&request.cid_hashes_permitted),
        },
    )
    .await?;
    let group_id = written
        .logs
        .iter()
        .find_map(|log| LitRegistry::GroupAdded::decode_log(&log.inner).ok())
        .map(|event| group_id_u64(event.groupId))
        .ok_or_else(|| {
            ApiError::internal("the addGroup transaction emitted no GroupAdded event")
        })?;
    Ok(Json(AddGroupResponse {
        success: true,
        group_id: group_id.to_string(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    pub group_id: GroupId,
}

#[utoipa::path(
    post,
    path = "/core/v1/remove_group",
    tag = "groups",
    summary = "Remove a group",
    request_body = GroupRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn remove_group(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<GroupRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_flag("can_delete_groups", |u| u.can_delete_groups)?;
    let group = request.group_id.0;
    require_group(&ctx, &caller, group)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::removeGroupCall {
            callerKeyHash: caller.key_hash,
            groupId: U256::from(group),
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupRequest {
    pub group_id: GroupId,
    #[schema(schema_with = super::wire_schema::text)]
    pub name: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub description: String,
    #[serde(default)]
    pub pkp_ids_permitted: Vec<PkpId>,
    #[serde(default)]
    pub cid_hashes_permitted: Vec<HashedCid>,
}

/// Account key only: replaces the group's metadata and both sets.
#[utoipa::path(
    post,
    path = "/core/v1/update_group",
    tag = "groups",
    summary = "Replace a group's metadata and sets",
    request_body = UpdateGroupRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn update_group(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<UpdateGroupRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("update groups")?;
    let group = request.group_id.0;
    require_group(&ctx, &caller, group)?;
    check_text("name", &request.name)?;
    check_text("description", &request.description)?;
    let wallets = require_wallets(&ctx, &caller, &request.pkp_ids_permitted)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::updateGroupCall {
            callerKeyHash: caller.key_hash,
            groupId: U256::from(group),
            name: request.name,
            description: request.description,
            wallets,
            cidHashes: hashes(&request.cid_hashes_permitted),
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupWalletRequest {
    pub group_id: GroupId,
    pub pkp_id: PkpId,
}

#[utoipa::path(
    post,
    path = "/core/v1/add_pkp_to_group",
    tag = "groups",
    summary = "Add a wallet to a group",
    request_body = GroupWalletRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn add_pkp_to_group(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<GroupWalletRequest>,
) -> Result<Json<Success>, ApiError> {
    let group = request.group_id.0;
    caller.require_group_scope(GroupScope::AddPkp, group)?;
    require_group(&ctx, &caller, group)?;
    let wallet = require_wallets(&ctx, &caller, &[request.pkp_id])?[0];
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::addWalletToGroupCall {
            callerKeyHash: caller.key_hash,
            groupId: U256::from(group),
            wallet,
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[utoipa::path(
    post,
    path = "/core/v1/remove_pkp_from_group",
    tag = "groups",
    summary = "Remove a wallet from a group",
    request_body = GroupWalletRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn remove_pkp_from_group(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<GroupWalletRequest>,
) -> Result<Json<Success>, ApiError> {
    let group = request.group_id.0;
    caller.require_group_scope(GroupScope::RemovePkp, group)?;
    require_group(&ctx, &caller, group)?;
    let wallet = require_wallets(&ctx, &caller, &[request.pkp_id])?[0];
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::removeWalletFromGroupCall {
            callerKeyHash: caller.key_hash,
            groupId: U256::from(group),
            wallet,
        },
    )
    .await?;
    Ok(SUCCESS)
}

/// One group of `list_groups`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupItem {
    pub id: String,
    pub name: String,
    pub description: String,
}

#[utoipa::path(
    get,
    path = "/core/v1/list_groups",
    tag = "groups",
    summary = "The account's groups",
    params(super::pagination::PageParams),
    responses((status = 200, description = "success", body = Vec<GroupItem>)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_groups(
    State(ctx): State<SharedContext>,
    caller: Caller,
    PageQuery(page): PageQuery,
) -> Result<Json<Vec<GroupItem>>, ApiError> {
    let groups = ctx.store.groups(&caller.account, page)?;
    Ok(Json(
        groups
            .into_iter()
            .map(|(id, g)| GroupItem {
                id: id.to_string(),
                name: g.name,
                description: g.description,
            })
            .collect(),
    ))
}

/// The wallets in a group's set, in address order (the zero-address wildcard is not a wallet
/// and is not listed).
#[utoipa::path(
    get,
    path = "/core/v1/list_wallets_in_group",
    tag = "groups",
    summary = "Wallets in a group",
    params(("group_id" = String, Query, description = "number, decimal or 0x hex"), super::pagination::PageParams),
    responses((status = 200, description = "success", body = Vec<WalletItem>)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_wallets_in_group(
    State(ctx): State<SharedContext>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    PageQuery(page): PageQuery,
) -> Result<Json<Vec<WalletItem>>, ApiError> {
    let group = group_id_query(params.get("group_id").map(String::as_str))?.0;
    require_group(&ctx, &caller, group)?;
    let mut items = Vec::new();
    for address in ctx
        .store
        .listed_group_wallets(&caller.account, group, page)?
    {
        if let Some(record) = ctx.store.wallet_of(&caller.account, &address)? {
            items.push(WalletItem::new(address, record));
        }
    }
    Ok(Json(items))
}
