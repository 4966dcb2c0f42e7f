//! Bad input gets a 400 naming what was wrong, before anything is written: new_account bodies and
//! list paging. Needs no chain: runs the node's router in process (tests/common/in_process.rs).

mod common;

use common::in_process::InProcess;
use serde_json::{json, Value};

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_problem() {
    let n = InProcess::new();
    let key = "an-account-key-only-this-test-knows-0123456789";
    n.account(key, "Carol");
    let cases = [
        (json!({"account_description": "x"}), "account_name"),
        (
            json!({"account_name": 5, "account_description": "x"}),
            "account_name",
        ),
        (
            json!({"account_name": "a", "account_description": "x", "extra": 1}),
            "extra",
        ),
        (
            json!({"account_name": "a".repeat(2000), "account_description": "x"}),
            "account_name",
        ),
        (json!("just a string"), "invalid"),
        // The limit counts characters (as the document's maxLength does), not bytes.
        (
            json!({"account_name": "é".repeat(1025), "account_description": "x"}),
            "1025 characters",
        ),
    ];
    for (body, needle) in cases {
        let (status, answer) = n.call("POST", "new_account", None, body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{body} → {answer}"
        );
    }
    // 1024 characters pass validation: the request gets as far as the chain, which this test
    // does not have (accounts_api creates such an account on anvil).
    let at_limit =
        json!({"account_name": "é".repeat(1024), "account_description": "😀".repeat(1024)});
    let (status, answer) = n.call("POST", "new_account", None, at_limit).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (503, Some("chain_unavailable")),
        "{answer}"
    );
    for (query, needle) in [
        ("page_size=10", "page_number"),
        ("page_number=0", "page_size"),
        ("page_number=0&page_size=0", "page_size"),
        ("page_number=0&page_size=1001", "page_size"),
        ("page_number=-1&page_size=10", "page_number"),
        (
            "page_number=0&page_size=99999999999999999999999",
            "page_size",
        ),
    ] {
        let (status, answer) = n
            .call(
                "GET",
                &format!("list_wallets?{query}"),
                Some(key),
                Value::Null,
            )
            .await;
        assert_eq!(status, 400, "{query} → {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{query} → {answer}"
        );
    }
}
