//! Actions: `add_action`, `delete_action`, `update_action_metadata` (account key only),
//! `add_action_to_group` / `remove_action_from_group` (scope `manage_ipfs_ids_in_groups`) and
//! `list_actions`.

use std::collections::HashMap;

use alloy::primitives::U256;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, GroupScope};
use super::error::ApiError;
use super::extract::ApiJson;
use super::fields::{check_cid, check_text};
use super::ids::{group_id_query, GroupId, HashedCid};
use super::ownership::require_group;
use super::pagination::PageQuery;
use super::replies::{Success, SUCCESS};
use super::self_managed::Manager;
use crate::app::SharedContext;
use crate::chain::bindings::LitRegistry;
use crate::cid::cid_v0;
use crate::store::code::Kept;

fn code_quota_exceeded(quota: u64) -> ApiError {
    ApiError::payload_too_large(format!(
        "this account's code kept on the node would exceed its quota of {quota} bytes \
         (actions.code_quota_bytes): delete actions you no longer need, or register the action \
         without `code` and send the code with each run"
    ))
}

fn require_action(
    ctx: &SharedContext,
    caller: &Caller,
    cid_hash: &HashedCid,
) -> Result<(), ApiError> {
    match ctx.store.action(&caller.account, &cid_hash.0)? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!(
            "action {:#x} does not exist in this account",
            cid_hash.0
        ))),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddActionRequest {
    #[schema(schema_with = super::wire_schema::cid_v0)]
    pub action_ipfs_cid: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub name: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub description: String,
    /// The action's code; must hash to `action_ipfs_cid`. Kept so the action can be run by CID.
    #[serde(default)]
    pub code: Option<String>,
}

/// Registers (or renames) an action; with `code`, verifies it against the CID and keeps it.
#[utoipa::path(
    post,
    path = "/core/v1/add_action",
    tag = "actions",
    summary = "Register (or rename) an action",
    request_body = AddActionRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn add_action(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<AddActionRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("register actions")?;
    check_cid("action_ipfs_cid", &request.action_ipfs_cid)?;
    check_text("name", &request.name)?;
    check_text("description", &request.description)?;
    if let Some(code) = &request.code {
        let actual = cid_v0(code.as_bytes());
        if actual != request.action_ipfs_cid {
            return Err(ApiError::bad_request(
                "cid_mismatch",
                format!(
                    "`code` hashes to {actual}, not to action_ipfs_cid {}",
                    request.action_ipfs_cid
                ),
            ));
        }
        if !ctx
            .store
            .code_fits(&caller.account, code.as_bytes(), ctx.code_quota_bytes)?
        {
            return Err(code_quota_exceeded(ctx.code_quota_bytes));
        }
    }
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::addActionCall {
            callerKeyHash: caller.key_hash,
            cid: request.action_ipfs_cid,
            name: request.name,
            description: request.description,
        },
    )
    .await?;
    if let Some(code) = request.code {
        // Checked above; only a concurrent request of the same account can have used the room.
        if let Kept::OverQuota { .. } =
            ctx.store
                .keep_code(&caller.account, code.as_bytes(), ctx.code_quota_bytes)?
        {
            return Err(code_quota_exceeded(ctx.code_quota_bytes));
        }
    }
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteActionRequest {
    pub hashed_cid: HashedCid,
}

/// Removes the action from the account and from every group of the account.
#[utoipa::path(
    post,
    path = "/core/v1/delete_action",
    tag = "actions",
    summary = "Delete an action (and from every group)",
    request_body = DeleteActionRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn delete_action(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<DeleteActionRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("delete actions")?;
    require_action(&ctx, &caller, &request.hashed_cid)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::deleteActionCall {
            callerKeyHash: caller.key_hash,
            cidHash: request.hashed_cid.0,
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionMetadataRequest {
    pub hashed_cid: HashedCid,
    #[schema(schema_with = super::wire_schema::text)]
    pub name: String,
    #[schema(schema_with = super::wire_schema::text)]
    pub description: String,
}

#[utoipa::path(
    post,
    path = "/core/v1/update_action_metadata",
    tag = "actions",
    summary = "Rename an action",
    request_body = ActionMetadataRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn update_action_metadata(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<ActionMetadataRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("change actions")?;
    require_action(&ctx, &caller, &request.hashed_cid)?;
    check_text("name", &request.name)?;
    check_text("description", &request.description)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::updateActionMetadataCall {
            callerKeyHash: caller.key_hash,
            cidHash: request.hashed_cid.0,
            name: request.name,
            description: request.description,
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddActionToGroupRequest {
    pub group_id: GroupId,
    #[schema(schema_with = super::wire_schema::cid_v0)]
    pub action_ipfs_cid: String,
}

#[utoipa::path(
    post,
    path = "/core/v1/add_action_to_group",
    tag = "actions",
    summary = "Add an action to a group",
    request_body = AddActionToGroupRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn add_action_to_group(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<AddActionToGroupRequest>,
) -> Result<Json<Success>, ApiError> {
    let group = request.group_id.0;
    caller.require_group_scope(GroupScope::ManageIpfsIds, group)?;
    check_cid("action_ipfs_cid", &request.action_ipfs_cid)?;
    require_group(&ctx, &caller, group)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::addActionToGroupCall {
            callerKeyHash: caller.key_hash,
            groupId: U256::from(group),
            cidHash: crate::cid::cid_hash(&request.action_ipfs_cid),
        },
    )
    .await?;
    Ok(SUCCESS)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveActionFromGroupRequest {
    pub group_id: GroupId,
    pub hashed_cid: HashedCid,
}

#[utoipa::path(
    post,
    path = "/core/v1/remove_action_from_group",
    tag = "actions",
    summary = "Remove an action from a group",
    request_body = RemoveActionFromGroupRequest,
    responses((status = 200, description = "success", body = Success)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn remove_action_from_group(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<RemoveActionFromGroupRequest>,
) -> Result<Json<Success>, ApiError> {
    let group = request.group_id.0;
    caller.require_group_scope(GroupScope::ManageIpfsIds, group)?;
    require_group(&ctx, &caller, group)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::removeActionFromGroupCall {
            callerKeyHash: caller.key_hash,
            groupId: U256::from(group),
            cidHash: request.hashed_cid.0,
        },
    )
    .await?;
    Ok(SUCCESS)
}

/// One action of `list_actions`; `id` is the hashed CID (passed back as `hashed_cid`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionItem {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// All actions of the account (no `group_id`, or 0), or the actions in one group's set (hashes
/// not registered as actions are listed with empty metadata; the zero-hash wildcard is not).
#[utoipa::path(
    get,
    path = "/core/v1/list_actions",
    tag = "actions",
    summary = "The account's (or a group's) actions",
    params(("group_id" = Option<String>, Query, description = "omit or 0 for all actions"), super::pagination::PageParams),
    responses((status = 200, description = "success", body = Vec<ActionItem>)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_actions(
    State(ctx): State<SharedContext>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    PageQuery(page): PageQuery,
) -> Result<Json<Vec<ActionItem>>, ApiError> {
    let group = match params.get("group_id") {
        Some(value) => group_id_query(Some(value))?.0,
        None => 0,
    };
    let items = if group == 0 {
        ctx.store
            .actions(&caller.account, page)?
            .into_iter()
            .map(|(hash, a)| ActionItem {
                id: format!("{hash:#x}"),
                name: a.name,
                description: a.description,
            })
            .collect()
    } else {
        require_group(&ctx, &caller, group)?;
        let mut items = Vec::new();
        for hash in ctx
            .store
            .listed_group_actions(&caller.account, group, page)?
        {
            let record = ctx.store.action(&caller.account, &hash)?;
            let (name, description) = record.map(|a| (a.name, a.description)).unwrap_or_default();
            items.push(ActionItem {
                id: format!("{hash:#x}"),
                name,
                description,
            });
        }
        items
    };
    Ok(Json(items))
}
