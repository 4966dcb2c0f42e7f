//! Rate limits over HTTP: `new_account` (and `create_wallet_with_signature`) per client IP and
//! every keyed request per API key; over the limit → 429 with `Retry-After`, other keys
//! unaffected. Every spelling of one key shares its bucket; unknown keys are not tracked;
//! `X-Forwarded-For` counts only from trusted proxies, and IPv6 clients are limited per /64.

mod common;

use std::net::IpAddr;

use common::{http, NodeProcess};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

#[tokio::test]
async fn limits_per_ip_and_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let limits = [
        ("LIT_NODE_RATE_LIMIT__PER_KEY_PER_SECOND", "1"),
        ("LIT_NODE_RATE_LIMIT__PER_KEY_BURST", "3"),
        ("LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_PER_IP_PER_MINUTE", "1"),
        ("LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_BURST", "2"),
    ];
    let node = NodeProcess::dev(dir.path(), &limits).await;
    let new_account = || async {
        http()
            .post(node.url("/core/v1/new_account"))
            .json(&json!({"account_name": "a", "account_description": ""}))
            .send()
            .await
            .unwrap()
    };
    let first = new_account().await;
    assert_eq!(first.status(), 200);
    let key = first.json::<Value>().await.unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(new_account().await.status(), 200);
    let limited = new_account().await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        limited.json::<Value>().await.unwrap()["code"],
        "rate_limited"
    );
    // The other unauthenticated endpoint that costs the node work shares the client's bucket.
    let signed = http()
        .post(node.url("/core/v1/create_wallet_with_signature"))
        .json(&json!({"message": "", "signature": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 429);

    let exists = |key: String| {
        let url = node.url("/core/v1/account_exists");
        async move {
            http()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(exists(key.clone()).await.status(), 200);
    }
    let limited = exists(key.clone()).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    // Another key is not affected, and the limited key recovers.
    assert_eq!(exists("another-key".into()).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(exists(key).await.status(), 200);
    node.stop().await;
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[tokio::test]
async fn every_spelling_of_a_key_shares_one_bucket_and_unknown_keys_are_not_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let limits = [
        ("LIT_NODE_RATE_LIMIT__PER_KEY_PER_SECOND", "1"),
        ("LIT_NODE_RATE_LIMIT__PER_KEY_BURST", "4"),
    ];
    let node = NodeProcess::dev(dir.path(), &limits).await;
    let created = common::api_ok(
        &node.base_url,
        "POST",
        "new_account",
        None,
        json!({"account_name": "a", "account_description": ""}),
    )
    .await;
    let key = created["api_key"].as_str().unwrap().to_string();
    let exists = |headers: HeaderMap| {
        let url = node.url("/core/v1/account_exists");
        async move {
            let response = http().get(url).headers(headers).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let spellings = [
        headers(&[("x-api-key", &key)]),
        headers(&[("authorization", &format!("bearer {key}"))]),
        headers(&[("authorization", &format!("Bearer  {key}"))]),
        // A blank X-Api-Key does not hide the Authorization header (nor get a bucket of its own).
        headers(&[
            ("x-api-key", ""),
            ("authorization", &format!("Bearer {key}")),
        ]),
    ];
    // The burst of 4 is spent by one request of each spelling: every one reads the same key…
    for spelling in &spellings {
        assert_eq!(
            exists(spelling.clone()).await,
            (200, json!(true)),
            "{spelling:?}"
        );
    }
    // …so every spelling is now limited.
    for spelling in &spellings {
        let (status, body) = exists(spelling.clone()).await;
        assert_eq!(status, 429, "{spelling:?} was not limited: {body}");
    }

    // An unknown key gets no bucket: it is answered (false) however often it is sent.
    let unknown = headers(&[("x-api-key", "not-a-key-of-any-account")]);
    for _ in 0..8 {
        assert_eq!(exists(unknown.clone()).await, (200, json!(false)));
    }
    let mut unknown_bearer = HeaderMap::new();
    unknown_bearer.insert(AUTHORIZATION, HeaderValue::from_static("Bearer nobody"));
    for _ in 0..8 {
        assert_eq!(exists(unknown_bearer.clone()).await, (200, json!(false)));
    }
    node.stop().await;
}

/// `POST new_account` with an invalid body from `local` (a loopback address) with the given
/// `X-Forwarded-For`: 400 when the per-IP limiter let it through, 429 when it did not. Nothing
/// reaches the chain.
async fn new_account_from(node: &NodeProcess, local: &str, forwarded: Option<&str>) -> u16 {
    let client = reqwest::Client::builder()
        .local_address(local.parse::<IpAddr>().unwrap())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let mut request = client
        .post(node.url("/core/v1/new_account"))
        .json(&json!({}));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies_and_ipv6_is_limited_per_64() {
    let dir = tempfile::tempdir().unwrap();
    let limits = [
        ("LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_PER_IP_PER_MINUTE", "1"),
        ("LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_BURST", "1"),
        ("LIT_NODE_RATE_LIMIT__TRUSTED_PROXIES", r#"["127.0.0.1"]"#),
    ];
    let node = NodeProcess::dev(dir.path(), &limits).await;

    // 127.0.0.2 is not a trusted proxy: whatever it forwards, it is one client.
    let untrusted = "127.0.0.2";
    assert_eq!(
        new_account_from(&node, untrusted, Some("1.1.1.1")).await,
        400
    );
    assert_eq!(
        new_account_from(&node, untrusted, Some("2.2.2.2")).await,
        429
    );
    assert_eq!(new_account_from(&node, untrusted, None).await, 429);

    // 127.0.0.1 is: each forwarded client has its own bucket…
    let proxy = "127.0.0.1";
    assert_eq!(new_account_from(&node, proxy, Some("3.3.3.3")).await, 400);
    assert_eq!(new_account_from(&node, proxy, Some("4.4.4.4")).await, 400);
    assert_eq!(new_account_from(&node, proxy, Some("3.3.3.3")).await, 429);
    // …and the client is the right-most untrusted entry: a spoofed left part changes nothing.
    assert_eq!(
        new_account_from(&node, proxy, Some("9.9.9.9, 4.4.4.4")).await,
        429
    );
    assert_eq!(
        new_account_from(&node, proxy, Some("4.4.4.4, 5.5.5.5, 127.0.0.1")).await,
        400
    );

    // IPv6 clients share a bucket per /64.
    assert_eq!(
        new_account_from(&node, proxy, Some("2001:db8:1:2::1")).await,
        400
    );
    assert_eq!(
        new_account_from(&node, proxy, Some("2001:db8:1:2:ffff::9")).await,
        429
    );
    assert_eq!(
        new_account_from(&node, proxy, Some("2001:db8:1:3::1")).await,
        400
    );
    node.stop().await;
}
