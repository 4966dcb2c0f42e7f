//! `POST lit_action` (spec/actions.md, "Request and reply") and `GET get_lit_action_client_config`.
//! The handler resolves the code (inline or by CID from the node's content-addressed store),
//! checks the execute right from the mirror, keeps inline code for later runs by CID (only once
//! the run is authorised and paid for), and hands the run to the action pool. An action
//! that throws or breaks a limit is still a 200 with `has_error: true`. With billing on, a run
//! needs credit for one started second (else 402), stops where the account's credit ends, and
//! is charged per started second before the reply is sent.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use super::auth::Caller;
use super::detach::Abandoned;
use super::error::ApiError;
use super::extract::ApiJson;
use super::middleware::{CorrelationId, RequestId};
use crate::actions::{ActionLimits, ActionOutcome, PoolError, RunInput};
use crate::app::SharedContext;
use crate::cid::cid_hash;
use crate::cid::cid_v0;
use crate::store::code::Kept;

/// `{code?, ipfs_id?, js_params?}`: the code inline or by CID (its schema: `wire_schema`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LitActionRequest {
    /// The action's JavaScript source. Takes precedence over `ipfs_id`.
    #[serde(default)]
    pub code: Option<String>,
    /// CIDv0 of code registered with `add_action` or run on this node before.
    #[serde(default)]
    pub ipfs_id: Option<String>,
    /// Passed to `main(js_params)`; absent → `null`.
    #[serde(default)]
    pub js_params: Option<serde_json::Value>,
}

impl utoipa::PartialSchema for LitActionRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::wire_schema::lit_action_request()
    }
}
impl utoipa::ToSchema for LitActionRequest {}

/// `{response, logs, has_error}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LitActionResponse {
    /// What the action returned (any JSON value).
    #[schema(schema_with = super::wire_schema::any_value)]
    pub response: serde_json::Value,
    pub logs: String,
    pub has_error: bool,
}

impl From<ActionOutcome> for LitActionResponse {
    fn from(outcome: ActionOutcome) -> Self {
        Self {
            response: outcome.response,
            logs: outcome.logs,
            has_error: outcome.has_error,
        }
    }
}

/// The code to run, its CID, and whether it came inline (and may be kept for runs by CID).
fn resolve_code(
    ctx: &SharedContext,
    request: &LitActionRequest,
    limits: &ActionLimits,
) -> Result<(Arc<str>, String, bool), ApiError> {
    if let Some(code) = request.code.as_deref().filter(|c| !c.is_empty()) {
        if code.len() as u64 > limits.max_code_length {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "code_too_long",
                format!(
                    "`code` is {} bytes; the most this node runs is max_code_length = {} bytes",
                    code.len(),
                    limits.max_code_length
                ),
            ));
        }
        let cid = cid_v0(code.as_bytes());
        return Ok((Arc::from(code), cid, true));
    }
    let Some(cid) = request
        .ipfs_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "send the action as `code` (its JavaScript source) or `ipfs_id` (the CID of code registered with add_action or run on this node before)",
        ));
    };
    match ctx.store.code(cid)? {
        Some(code) => {
            let code = String::from_utf8(code).map_err(|_| {
                ApiError::bad_request(
                    "invalid_code",
                    format!("the code stored for {cid} is not UTF-8 text"),
                )
            })?;
            Ok((Arc::from(code), cid.to_string(), false))
        }
        None => Err(ApiError::bad_request(
            "unknown_code",
            format!("No code is known for {cid}; send the code once with the request"),
        )),
    }
}

/// Keeps inline code for later runs by CID, within the account's code quota (only once the run
/// is authorised and paid for: a refused request stores nothing).
fn keep_code(
    ctx: &SharedContext,
    caller: &Caller,
    code: &str,
    inline: bool,
) -> Result<(), ApiError> {
    if inline {
        if let Kept::OverQuota { held, quota } =
            ctx.store
                .keep_code(&caller.account, code.as_bytes(), ctx.code_quota_bytes)?
        {
            metrics::counter!("lit_node_code_not_kept_total").increment(1);
            tracing::debug!(held, quota, "action code not kept: the account's code quota is full of code its actions reference");
        }
    } else {
        ctx.store
            .touch_code(&caller.account, &cid_v0(code.as_bytes()))?;
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/core/v1/lit_action",
    tag = "actions",
    summary = "Run a Lit Action",
    description = "Runs the code (or the code stored for `ipfs_id`) with `main(js_params)`. A failing action is still a 200 with `has_error: true`, the error text as `response`, and the logs written so far.",
    request_body = LitActionRequest,
    responses(
        (status = 200, description = "the action ran (check has_error)", body = LitActionResponse),
        (status = 413, description = "`code` is longer than max_code_length (code `code_too_long`), or the account's kept code would exceed its quota", body = super::error::ErrorResponse),
        (status = 429, description = "every worker and queue place is taken (code `overloaded`), for the node or for this account; retry shortly", body = super::error::ErrorResponse),
        (status = 503, description = "the node is shutting down (code `shutting_down`)", body = super::error::ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn lit_action(
    State(ctx): State<SharedContext>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    correlation: Option<Extension<CorrelationId>>,
    abandoned: Option<Extension<Abandoned>>,
    ApiJson(request): ApiJson<LitActionRequest>,
) -> Result<Json<LitActionResponse>, ApiError> {
    let limits = ActionLimits::current(&ctx.store)?;
    let (code, cid, inline) = resolve_code(&ctx, &request, &limits)?;
    let hashed = cid_hash(&cid);
    if !ctx.permissions.grant_can_execute(&caller.grant, &hashed)? {
        return Err(ApiError::forbidden(format!("this API key may not execute the action {cid}: add the action to a group in the key's execute_in_groups, or use the account key"),
        ));
    }
    let mut headers = vec![("x-request-id".to_string(), request_id.0)];
    if let Some(Extension(CorrelationId(value))) = correlation {
        if let Ok(value) = value.to_str() {
            headers.push(("x-correlation-id".to_string(), value.to_string()));
        }
    }
    let params_json = match request.js_params {
        None | Some(serde_json::Value::Null) => None,
        Some(params) => Some(params.to_string()),
    };
    // Billing: the first second is paid for before anything runs (else 402).
    let credit = ctx.billing.action_credit(&caller.account)?;
    keep_code(&ctx, &caller, &code, inline)?;
    let input = RunInput {
        code,
        cid,
        cid_hash: hashed,
        key_hash: caller.key_hash,
        account: caller.account,
        params_json,
        limits,
        headers,
        credit: credit
            .clone()
            .map(|c| c as Arc<dyn crate::actions::RunCredit>),
        abandoned: abandoned
            .map(|Extension(Abandoned(token))| token)
            .unwrap_or_default(),
    };
    // This handler runs detached from the client's connection (see `detach`): a run whose client
    // left is stopped at its next interrupt check, and charged here all the same.
    match ctx.actions.run(input).await {
        Ok(outcome) => {
            if let Some(credit) = credit {
                credit.charge(outcome.run_time).await?;
            }
            Ok(Json(outcome.into()))
        }
        Err(error @ (PoolError::Saturated | PoolError::AccountSaturated(_))) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            error.to_string(),
        )),
        Err(PoolError::Closed) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            PoolError::Closed.to_string(),
        )),
    }
}

/// The limits in force for Lit Actions (spec/api.md) and the limits of their imports.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ClientConfig {
    #[serde(flatten)]
    pub limits: ActionLimits,
    /// The origin imported modules come from; `null` when this node refuses imports.
    pub module_cdn: Option<String>,
    /// Largest module source accepted, in bytes.
    pub max_module_bytes: u64,
    /// Most modules one run may load (its own imports and theirs).
    pub max_modules_per_run: u64,
    /// Longest one module download may take; downloads also count against `timeout_ms`.
    pub module_fetch_timeout_ms: u64,
}

#[utoipa::path(
    get,
    path = "/core/v1/get_lit_action_client_config",
    tag = "actions",
    summary = "The Lit Action limits in force",
    responses((status = 200, description = "success", body = ClientConfig))
)]
pub async fn get_lit_action_client_config(
    State(ctx): State<SharedContext>,
) -> Result<Json<ClientConfig>, ApiError> {
    use crate::actions::modules::source::{FETCH_TIMEOUT, MAX_MODULES_PER_RUN, MAX_MODULE_BYTES};
    let module_cdn = ctx
        .actions
        .services()
        .modules
        .as_ref()
        .map(|modules| modules.cdn().origin().ascii_serialization());
    Ok(Json(ClientConfig {
        limits: ActionLimits::current(&ctx.store)?,
        module_cdn,
        max_module_bytes: MAX_MODULE_BYTES as u64,
        max_modules_per_run: MAX_MODULES_PER_RUN as u64,
        module_fetch_timeout_ms: FETCH_TIMEOUT.as_millis() as u64,
    }))
}
