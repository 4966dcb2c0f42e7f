//! The OpenAPI document describes exactly the routes served (every operation with its error
//! responses), and Swagger UI is served from the binary without any external asset. Needs no
//! chain: runs the node's router in process (tests/common/in_process.rs).

mod common;

use common::in_process::InProcess;
use serde_json::Value;

#[tokio::test]
async fn openapi_matches_the_served_routes_and_swagger_ui_is_local() {
    let dir = tempfile::tempdir().unwrap();
    let node = InProcess::new();
    let (status, text) = node.raw("GET", "/core/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 31, "only {} paths documented", paths.len());

    // It is a valid OpenAPI 3 document, as judged by an independent validator (PyPI
    // openapi-spec-validator, installed by script/setup.sh).
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let validator = common::project_root().join(".tools/venv/bin/openapi-spec-validator");
    let output = std::process::Command::new(&validator)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{} missing ({e}): run script/setup.sh", validator.display()));
    assert!(
        output.status.success(),
        "the OpenAPI document is invalid:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            // Every documented operation is really served (not 404/405).
            let (status, text) = match method.as_str() {
                "get" => node.raw("GET", path, None).await,
                "post" => node.raw("POST", path, Some("{}")).await,
                other => panic!("unexpected method {other} for {path}"),
            };
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            // A 404 from a handler (e.g. billing_disabled) is served; the router's is not.
            let unrouted = status == 405 || (status == 404 && body["code"] == "not_found");
            assert!(
                !unrouted,
                "{method} {path} documented but answers {status} {body}"
            );
            // …and documents its success and error responses with the error schema.
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{path} lacks 200");
            for code in ["400", "429"] {
                let error = &responses[code]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(error, "#/components/schemas/ErrorResponse", "{path} {code}");
            }
            if operation.get("security").is_some() {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{path} lacks auth errors"
                );
            }
        }
    }

    // Every route the node serves under /core/v1 is documented, and nothing else is.
    let served = [
        "version",
        "get_node_chain_config",
        "get_chain_config_keys",
        "get_api_payers",
        "get_admin_api_payer",
        "get_lit_action_ipfs_id",
        "lit_action",
        "get_lit_action_client_config",
        "new_account",
        "account_exists",
        "create_wallet",
        "list_wallets",
        "add_group",
        "remove_group",
        "update_group",
        "add_pkp_to_group",
        "remove_pkp_from_group",
        "list_groups",
        "list_wallets_in_group",
        "add_usage_api_key",
        "update_usage_api_key",
        "remove_usage_api_key",
        "update_usage_api_key_metadata",
        "list_api_keys",
        "add_action",
        "delete_action",
        "update_action_metadata",
        "add_action_to_group",
        "remove_action_from_group",
        "list_actions",
        "billing/stripe_config",
        "billing/balance",
        "billing/create_payment_intent",
        "billing/confirm_payment",
        "create_wallet_with_signature",
        "convert_to_chain_secured_account",
        "registry_abi",
    ];
    for route in served {
        assert!(
            paths.contains_key(&format!("/core/v1/{route}")),
            "{route} is served but not documented"
        );
    }
    let documented: std::collections::BTreeSet<&str> = paths
        .keys()
        .filter_map(|path| path.strip_prefix("/core/v1/"))
        .collect();
    assert_eq!(
        documented,
        served.into_iter().collect(),
        "the documented /core/v1 routes differ from the served list above"
    );
    assert!(paths.contains_key("/health"));

    // Charged operations document 402; writes take an Idempotency-Key and may answer 409/422.
    let operation = |path: &str| {
        let item = &paths[&format!("/core/v1/{path}")];
        item.get("post")
            .or_else(|| item.get("get"))
            .unwrap()
            .clone()
    };
    for charged in [
        "add_group",
        "create_wallet",
        "lit_action",
        "convert_to_chain_secured_account",
    ] {
        assert!(
            operation(charged)["responses"].get("402").is_some(),
            "{charged} lacks 402"
        );
    }
    for free in [
        "new_account",
        "billing/create_payment_intent",
        "list_groups",
    ] {
        assert!(
            operation(free)["responses"].get("402").is_none(),
            "{free} documents 402"
        );
    }
    for write in [
        "new_account",
        "create_wallet",
        "add_group",
        "billing/confirm_payment",
    ] {
        let op = operation(write);
        let params = op["parameters"].as_array().unwrap();
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
            "{write} lacks the Idempotency-Key header"
        );
        for status in ["409", "422"] {
            assert!(
                op["responses"].get(status).is_some(),
                "{write} lacks {status}"
            );
        }
    }
    for read in ["list_groups", "lit_action", "get_lit_action_ipfs_id"] {
        let has_key = operation(read)["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
        assert!(!has_key, "{read} documents an Idempotency-Key");
    }

    // Swagger UI: the page and its assets come from the node itself.
    let (status, html) = node.raw("GET", "/core/v1/swagger-ui/", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "Swagger UI page refers to an external URL"
    );
    let (status, _) = node
        .raw("GET", "/core/v1/swagger-ui/swagger-ui.css", None)
        .await;
    assert_eq!(status, 200);
}
