//! Action registration over HTTP against `lit-node dev`: add (with verified code), rename,
//! group membership with the manage scope, listing (all or per group), and deletion removing the
//! action from its groups.

mod common;

use alloy::primitives::keccak256;
use common::{http, NodeProcess};
use serde_json::{json, Value};

const CODE: &str = r#"async function main() { return "hello"; }"#;
const CID: &str = "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6";
const OTHER_CID: &str = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD";

async fn call(
    node: &NodeProcess,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = node.url(&format!("/core/v1/{path}"));
    let request = match method {
        "GET" => http().get(url),
        _ => http().post(url).json(&body.unwrap_or(Value::Null)),
    };
    let response = request.header("x-api-key", key).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn hash(cid: &str) -> String {
    format!("{:#x}", keccak256(cid.as_bytes()))
}

#[tokio::test]
async fn actions_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[]).await;
    let post = |path: &'static str, key: String, body: Value| {
        let node = &node;
        async move { call(node, "POST", path, &key, Some(body)).await }
    };
    let get = |path: String, key: String| {
        let node = &node;
        async move { call(node, "GET", &path, &key, None).await }
    };
    let (_, created) = post(
        "new_account",
        String::new(),
        json!({"account_name": "a", "account_description": ""}),
    )
    .await;
    let key = created["api_key"].as_str().unwrap().to_string();

    // Code that does not hash to the CID is refused, naming both CIDs.
    let (status, answer) = post(
        "add_action",
        key.clone(),
        json!({"action_ipfs_cid": OTHER_CID, "name": "x", "description": "", "code": CODE}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains(CID), "{answer}");
    let (status, _) = post(
        "add_action",
        key.clone(),
        json!({"action_ipfs_cid": "not-a-cid", "name": "x", "description": ""}),
    )
    .await;
    assert_eq!(status, 400);

    assert_eq!(post("add_action", key.clone(), json!({"action_ipfs_cid": CID, "name": "hello", "description": "says hello", "code": CODE})).await.0, 200);
    assert_eq!(
        post(
            "add_action",
            key.clone(),
            json!({"action_ipfs_cid": OTHER_CID, "name": "other", "description": ""})
        )
        .await
        .0,
        200
    );
    let (_, actions) = get(
        "list_actions?page_number=0&page_size=10".into(),
        key.clone(),
    )
    .await;
    assert_eq!(
        actions,
        json!([{"id": hash(CID), "name": "hello", "description": "says hello"}, {"id": hash(OTHER_CID), "name": "other", "description": ""}])
    );
    // Re-adding renames in place (creation order kept).
    post(
        "add_action",
        key.clone(),
        json!({"action_ipfs_cid": CID, "name": "hello2", "description": "renamed"}),
    )
    .await;
    post(
        "update_action_metadata",
        key.clone(),
        json!({"hashed_cid": hash(OTHER_CID), "name": "other2", "description": "d"}),
    )
    .await;
    let (_, actions) = get(
        "list_actions?page_number=0&page_size=10".into(),
        key.clone(),
    )
    .await;
    assert_eq!(
        (actions[0]["name"].as_str(), actions[1]["name"].as_str()),
        (Some("hello2"), Some("other2"))
    );

    // Groups: a usage key with the manage scope for every group adds an action to group 1.
    let (_, group) = post("add_group", key.clone(), json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []})).await;
    assert_eq!(group["group_id"], "1");
    let scopes = json!({"name": "m", "description": "", "can_create_groups": false, "can_delete_groups": false, "can_create_pkps": false,
        "manage_ipfs_ids_in_groups": [0], "add_pkp_to_groups": [], "remove_pkp_from_groups": [], "execute_in_groups": []});
    let (_, usage) = post("add_usage_api_key", key.clone(), scopes).await;
    let usage = usage["usage_api_key"].as_str().unwrap().to_string();
    assert_eq!(
        post(
            "add_action_to_group",
            usage.clone(),
            json!({"group_id": 1, "action_ipfs_cid": CID})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(
            "add_action_to_group",
            usage.clone(),
            json!({"group_id": "1", "action_ipfs_cid": OTHER_CID})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(
            "add_action",
            usage.clone(),
            json!({"action_ipfs_cid": CID, "name": "x", "description": ""})
        )
        .await
        .0,
        403
    );
    let (_, in_group) = get(
        "list_actions?group_id=1&page_number=0&page_size=10".into(),
        key.clone(),
    )
    .await;
    assert_eq!(in_group.as_array().unwrap().len(), 2);
    assert_eq!(
        post(
            "remove_action_from_group",
            usage.clone(),
            json!({"group_id": 1, "hashed_cid": hash(OTHER_CID)})
        )
        .await
        .0,
        200
    );
    let (_, in_group) = get(
        "list_actions?group_id=1&page_number=0&page_size=10".into(),
        key.clone(),
    )
    .await;
    assert_eq!(
        in_group,
        json!([{"id": hash(CID), "name": "hello2", "description": "renamed"}])
    );
    let (status, _) = get(
        "list_actions?group_id=9&page_number=0&page_size=10".into(),
        key.clone(),
    )
    .await;
    assert_eq!(status, 404);

    // Deleting the action removes it from the account and from group 1.
    assert_eq!(
        post(
            "delete_action",
            key.clone(),
            json!({"hashed_cid": hash(CID)})
        )
        .await
        .0,
        200
    );
    let (_, actions) = get(
        "list_actions?group_id=0&page_number=0&page_size=10".into(),
        key.clone(),
    )
    .await;
    assert_eq!(actions.as_array().unwrap().len(), 1);
    assert_eq!(
        get(
            "list_actions?group_id=1&page_number=0&page_size=10".into(),
            key.clone()
        )
        .await
        .1,
        json!([])
    );
    assert_eq!(
        post(
            "delete_action",
            key.clone(),
            json!({"hashed_cid": hash(CID)})
        )
        .await
        .0,
        404
    );
    node.stop().await;
}
