//! Usage-key group lists over HTTP against `lit-node dev`: every group id a usage key is given must
//! name a group of the account (or be the 0 wildcard), so a key that may create groups cannot be
//! pre-granted a group id it then creates with the account's wallets in it.

mod common;

use common::{api, api_ok, NodeProcess};
use serde_json::{json, Value};

const LISTS: [&str; 4] = [
    "manage_ipfs_ids_in_groups",
    "add_pkp_to_groups",
    "remove_pkp_from_groups",
    "execute_in_groups",
];

fn scopes(extra: Value) -> Value {
    let mut body = json!({
        "name": "worker", "description": "",
        "can_create_groups": true, "can_delete_groups": false, "can_create_pkps": false,
        "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [], "remove_pkp_from_groups": [],
        "execute_in_groups": []
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

fn group(wallet: &str) -> Value {
    json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [wallet], "cid_hashes_permitted": []})
}

/// Expects a 404 naming `list` and group `id`.
fn assert_names(status: u16, answer: &Value, list: &str, id: u64) {
    assert_eq!(status, 404, "{list}: {answer}");
    assert_eq!(answer["code"], "not_found", "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.contains(list) && message.contains(&format!("group {id}")),
        "the message does not name {list} and group {id}: {message}"
    );
}

#[tokio::test]
async fn usage_keys_cannot_be_granted_groups_that_do_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[]).await;
    let url = node.base_url.clone();
    let account = api_ok(
        &url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "a", "account_description": ""}),
    )
    .await;
    let (key, wallet) = (
        account["api_key"].as_str().unwrap().to_string(),
        account["wallet_address"].as_str().unwrap().to_string(),
    );
    let list_keys = || {
        api(
            &url,
            "GET",
            "list_api_keys?page_number=0&page_size=10",
            Some(&key),
            Value::Null,
        )
    };

    // The escalation: a key that may create groups, pre-granted group 1 before it exists. It is
    // refused (by the node, before any transaction), in every list.
    for list in LISTS {
        let (status, answer) = api(
            &url,
            "POST",
            "add_usage_api_key",
            Some(&key),
            scopes(json!({ list: [0, 1] })),
        )
        .await;
        assert_names(status, &answer, list, 1);
    }
    assert_eq!(list_keys().await, (200, json!([])), "a key was created");

    // A key that may only create groups gains nothing from the group it creates.
    let creator = api_ok(
        &url,
        "POST",
        "add_usage_api_key",
        Some(&key),
        scopes(json!({})),
    )
    .await["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let created = api_ok(&url, "POST", "add_group", Some(&creator), group(&wallet)).await;
    assert_eq!(created["group_id"], "1");
    let (status, _) = api(
        &url,
        "POST",
        "add_pkp_to_group",
        Some(&creator),
        json!({"group_id": 1, "pkp_id": wallet}),
    )
    .await;
    assert_eq!(status, 403, "creating group 1 granted rights over it");

    // Updating a key is held to the same rule: group 2 does not exist; nor does another
    // account's group 2.
    let other = api_ok(
        &url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "b", "account_description": ""}),
    )
    .await;
    let (other_key, other_wallet) = (
        other["api_key"].as_str().unwrap(),
        other["wallet_address"].as_str().unwrap(),
    );
    for _ in 0..2 {
        api_ok(
            &url,
            "POST",
            "add_group",
            Some(other_key),
            group(other_wallet),
        )
        .await;
    }
    for list in LISTS {
        let (status, answer) = api(
            &url,
            "POST",
            "update_usage_api_key",
            Some(&key),
            scopes(json!({ "usage_api_key": creator, list: ["1", "0x2"] })),
        )
        .await;
        assert_names(status, &answer, list, 2);
    }
    let (_, keys) = list_keys().await;
    assert_eq!(keys[0]["can_execute_in_groups"], json!([]), "{keys}");

    // Groups that exist, and the 0 wildcard, are granted as asked.
    api_ok(
        &url,
        "POST",
        "update_usage_api_key",
        Some(&key),
        scopes(json!({"usage_api_key": creator, "add_pkp_to_groups": [1], "execute_in_groups": [0, 1]})),
    )
    .await;
    let (_, keys) = list_keys().await;
    assert_eq!(
        (
            &keys[0]["can_add_pkp_to_groups"],
            &keys[0]["can_execute_in_groups"]
        ),
        (&json!([1]), &json!([0, 1]))
    );
    node.stop().await;
}
