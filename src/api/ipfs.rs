//! `POST get_lit_action_ipfs_id`: body is a JSON string (the action's code); the answer is the
//! JSON string CIDv0 that `ipfs add --only-hash` gives for exactly those bytes.

use axum::Json;

use super::error::ApiError;
use super::extract::ApiJson;
use crate::cid::cid_v0;

#[utoipa::path(
    post,
    path = "/core/v1/get_lit_action_ipfs_id",
    tag = "actions",
    summary = "CIDv0 of the given code",
    request_body(content = String, content_type = "application/json", description = "the action's code as a JSON string"),
    responses((status = 200, description = "success: the CIDv0", body = String, content_type = "application/json"))
)]
pub async fn get_lit_action_ipfs_id(
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<String>, ApiError> {
    let serde_json::Value::String(code) = body else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON string holding the action's code, e.g. \"async function main() {}\"",
        ));
    };
    Ok(Json(cid_v0(code.as_bytes())))
}
