//! `POST lit_action` over HTTP against the real binary (`lit-node dev`: real anvil, contracts and
//! mirror): code by CID, execute rights and wallet rights from the mirror for every kind of key,
//! wallet keys usable by ethers, native signing identical to ethers, encryption round trips,
//! `Lit.Headers`, limits read from on-chain configuration, the action key shared by nodes with
//! one root secret, and hostile actions running next to normal ones.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address};
use common::hold::Hold;
use common::{http, NodeProcess};
use serde_json::{json, Value};

const PUBLISH_RPC: (&str, &str) = ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true");
const ROOT_SECRET: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// One action doing what `js_params.op` says, so a single registered CID covers every case.
const ACTION: &str = r#"async function main({ op, pkpId, message, ciphertext }) {
  switch (op) {
    case "address": {
      const key = await Lit.Actions.getPrivateKey({ pkpId });
      return new ethers.Wallet(key).address.toLowerCase();
    }
    case "sign": {
      const native = await Lit.Actions.signMessage({ pkpId, message });
      const wallet = new ethers.Wallet(await Lit.Actions.getPrivateKey({ pkpId }));
      return {
        native,
        viaEthers: await wallet.signMessage(message),
        recovered: ethers.utils.verifyMessage(message, native).toLowerCase(),
        nativeAddress: await Lit.Actions.getWalletAddress({ pkpId }),
        publicKey: await Lit.Actions.getPublicKey({ pkpId }),
        ethersPublicKey: wallet.publicKey,
      };
    }
    case "signEcdsa": {
      const digest = ethers.utils.keccak256(ethers.utils.toUtf8Bytes(message));
      const signature = await Lit.Actions.signEcdsa({ pkpId, toSign: digest });
      return { signature, recovered: ethers.utils.recoverAddress(digest, signature).toLowerCase() };
    }
    case "encrypt": return Lit.Actions.Encrypt({ pkpId, message });
    case "decrypt": return Lit.Actions.Decrypt({ pkpId, ciphertext });
    case "headers": return Lit.Headers;
    case "actionKey": return Lit.Actions.getLitActionPrivateKey();
  }
  throw new Error("unknown op " + op);
}"#;

struct Node {
    node: NodeProcess,
}

impl Node {
    async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
        common::api(&self.node.base_url, method, path, key, body).await
    }

    async fn ok(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> Value {
        common::api_ok(&self.node.base_url, method, path, key, body).await
    }

    async fn account(&self) -> (String, String) {
        let created = self
            .ok(
                "POST",
                "new_account",
                None,
                json!({"account_name": "a", "account_description": ""}),
            )
            .await;
        (
            created["api_key"].as_str().unwrap().to_string(),
            created["wallet_address"].as_str().unwrap().to_lowercase(),
        )
    }

    async fn run(&self, key: &str, body: Value) -> (u16, Value) {
        self.call("POST", "lit_action", Some(key), body).await
    }

    /// Runs the registered action by CID; returns (has_error, response).
    async fn op(&self, key: &str, params: Value) -> (bool, Value) {
        let (status, reply) = self
            .run(key, json!({"ipfs_id": cid(ACTION), "js_params": params}))
            .await;
        assert_eq!(status, 200, "{params}: {reply}");
        (
            reply["has_error"].as_bool().unwrap(),
            reply["response"].clone(),
        )
    }
}

fn cid(code: &str) -> String {
    lit_node::cid::cid_v0(code.as_bytes())
}

fn hashed(cid: &str) -> String {
    format!("{:#x}", keccak256(cid.as_bytes()))
}

/// Sets node configuration on chain as the contracts' owner (anvil's first key) and waits until
/// `get_lit_action_client_config` shows it. The node must publish its RPC URL.
async fn set_node_config(n: &Node, values: &[(&str, &str)]) {
    common::set_chain_config(&n.node.base_url, values).await;
    // The mirror picks the change up within its poll interval.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let config = n
            .ok("GET", "get_lit_action_client_config", None, Value::Null)
            .await;
        if values
            .iter()
            .all(|(name, value)| config[*name] == json!(value.parse::<u64>().unwrap()))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "configuration not mirrored: {config}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the node's workers have taken `count` runs from the queue (its `/metrics`).
async fn wait_for_runs_started(n: &Node, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = n.node.metrics().await;
        let started = common::metric(&metrics, "lit_node_action_queue_seconds_count");
        if started.unwrap_or(0.0) >= count as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {started:?} of {count} runs started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const NOT_PERMITTED: &str = "Error: API key cannot use selected wallet in selected action";

#[tokio::test]
async fn actions_run_with_mirrored_permissions_and_wallet_keys() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node {
        node: NodeProcess::dev(dir.path(), &[PUBLISH_RPC]).await,
    };
    let (key, wallet) = n.account().await;
    let second = n.ok("GET", "create_wallet", Some(&key), Value::Null).await;
    let second = second["wallet_address"].as_str().unwrap().to_lowercase();
    let action_cid = cid(ACTION);
    n.ok(
        "POST",
        "add_action",
        Some(&key),
        json!({"action_ipfs_cid": action_cid, "name": "ops", "description": "", "code": ACTION}),
    )
    .await;
    let group = n
        .ok(
            "POST",
            "add_group",
            Some(&key),
            json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [wallet], "cid_hashes_permitted": [hashed(&action_cid)]}),
        )
        .await;
    let group: u64 = group["group_id"].as_str().unwrap().parse().unwrap();
    let scopes = |execute: Vec<u64>| {
        json!({"name": "u", "description": "", "can_create_groups": false, "can_delete_groups": false,
               "can_create_pkps": false, "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [],
               "remove_pkp_from_groups": [], "execute_in_groups": execute})
    };
    let executor = n
        .ok("POST", "add_usage_api_key", Some(&key), scopes(vec![group]))
        .await["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let wildcard = n
        .ok("POST", "add_usage_api_key", Some(&key), scopes(vec![0]))
        .await["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let idle = n
        .ok("POST", "add_usage_api_key", Some(&key), scopes(vec![]))
        .await["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let (other_key, other_wallet) = n.account().await;

    // The account key: every wallet of its account, keys identical to what ethers derives.
    for w in [&wallet, &second] {
        assert_eq!(
            n.op(&key, json!({"op": "address", "pkpId": w})).await,
            (false, json!(w))
        );
    }
    // Any case of the pkp id is accepted.
    let checksummed = wallet.parse::<Address>().unwrap().to_checksum(None);
    assert_eq!(
        n.op(&key, json!({"op": "address", "pkpId": checksummed}))
            .await,
        (false, json!(wallet))
    );

    // Native signing is byte-identical to ethers and recovers to the wallet.
    let (failed, signed) = n
        .op(
            &key,
            json!({"op": "sign", "pkpId": wallet, "message": "Chipotle Rocks!"}),
        )
        .await;
    assert!(!failed, "{signed}");
    assert_eq!(signed["native"], signed["viaEthers"]);
    assert_eq!(signed["recovered"], json!(wallet));
    assert_eq!(signed["nativeAddress"], json!(wallet));
    assert_eq!(signed["publicKey"], signed["ethersPublicKey"]);
    let (failed, ecdsa) = n
        .op(
            &key,
            json!({"op": "signEcdsa", "pkpId": wallet, "message": "digest me"}),
        )
        .await;
    assert!(!failed, "{ecdsa}");
    assert_eq!(ecdsa["recovered"], json!(wallet));
    let v = u8::from_str_radix(&ecdsa["signature"].as_str().unwrap()[130..132], 16).unwrap();
    assert!(v == 27 || v == 28);

    // Encrypt / Decrypt round trip; another wallet's key or a tampered ciphertext fails.
    let (failed, sealed) = n
        .op(
            &key,
            json!({"op": "encrypt", "pkpId": wallet, "message": "attack at dawn"}),
        )
        .await;
    assert!(!failed, "{sealed}");
    let sealed = sealed.as_str().unwrap().to_string();
    assert!(!sealed.starts_with("0x") && hex::decode(&sealed).is_ok());
    assert_eq!(
        n.op(
            &key,
            json!({"op": "decrypt", "pkpId": wallet, "ciphertext": sealed})
        )
        .await,
        (false, json!("attack at dawn"))
    );
    assert_eq!(
        n.op(
            &key,
            json!({"op": "decrypt", "pkpId": wallet, "ciphertext": format!("0x{sealed}")})
        )
        .await,
        (false, json!("attack at dawn"))
    );
    assert_eq!(
        n.op(
            &key,
            json!({"op": "decrypt", "pkpId": second, "ciphertext": sealed})
        )
        .await,
        (true, json!("Error: Decryption failed"))
    );
    let mut tampered = hex::decode(&sealed).unwrap();
    tampered[20] ^= 0x01;
    assert_eq!(
        n.op(
            &key,
            json!({"op": "decrypt", "pkpId": wallet, "ciphertext": hex::encode(tampered)})
        )
        .await,
        (true, json!("Error: Decryption failed"))
    );

    // A usage key executing in the group: the group's wallet only.
    assert_eq!(
        n.op(&executor, json!({"op": "address", "pkpId": wallet}))
            .await,
        (false, json!(wallet))
    );
    assert_eq!(
        n.op(&executor, json!({"op": "address", "pkpId": second}))
            .await,
        (true, json!(NOT_PERMITTED))
    );
    assert_eq!(
        n.op(
            &executor,
            json!({"op": "encrypt", "pkpId": second, "message": "m"})
        )
        .await,
        (true, json!(NOT_PERMITTED))
    );
    // The wildcard key: every wallet of the account, never another account's.
    assert_eq!(
        n.op(&wildcard, json!({"op": "address", "pkpId": second}))
            .await,
        (false, json!(second))
    );
    assert_eq!(
        n.op(&wildcard, json!({"op": "address", "pkpId": other_wallet}))
            .await,
        (true, json!(NOT_PERMITTED))
    );
    // Another account's key runs the (public) code but cannot touch this account's wallets.
    assert_eq!(
        n.op(&other_key, json!({"op": "address", "pkpId": wallet}))
            .await,
        (true, json!(NOT_PERMITTED))
    );
    assert_eq!(
        n.op(&other_key, json!({"op": "address", "pkpId": other_wallet}))
            .await,
        (false, json!(other_wallet))
    );

    // Execute rights: a key without them gets 403 naming the CID, for code sent inline too.
    let (status, answer) = n.run(&idle, json!({"ipfs_id": action_cid})).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains(&action_cid),
        "{answer}"
    );
    let inline = r#"async function main() { return "not in the group"; }"#;
    let (status, answer) = n.run(&executor, json!({"code": inline})).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains(&cid(inline)));
    assert_eq!(n.run(&wildcard, json!({"code": inline})).await.0, 200);
    // Revoking the key stops it at once.
    n.ok(
        "POST",
        "remove_usage_api_key",
        Some(&key),
        json!({"usage_api_key": executor}),
    )
    .await;
    assert_eq!(
        n.run(&executor, json!({"ipfs_id": action_cid})).await.0,
        401
    );

    // Keys: none or unknown → 401.
    let (status, _) = n
        .call("POST", "lit_action", None, json!({"code": inline}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(n.run("garbage", json!({"code": inline})).await.0, 401);

    // Code resolution errors.
    let unknown = cid("never sent");
    let (status, answer) = n.run(&key, json!({"ipfs_id": unknown})).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        json!(format!(
            "No code is known for {unknown}; send the code once with the request"
        ))
    );
    let (status, answer) = n.run(&key, json!({"js_params": {}})).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = n.run(&key, json!({"code": inline, "surprise": 1})).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("surprise"),
        "{answer}"
    );
    // Code run once is kept: it can be run by CID afterwards.
    let (status, answer) = n.run(&key, json!({"ipfs_id": cid(inline)})).await;
    assert_eq!(
        (status, &answer["response"]),
        (200, &json!("not in the group"))
    );

    // Lit.Headers: the response's request id, and the correlation id when sent.
    let response = http()
        .post(n.node.url("/core/v1/lit_action"))
        .header("x-api-key", &key)
        .header("x-correlation-id", "corr-7")
        .json(&json!({"ipfs_id": action_cid, "js_params": {"op": "headers"}}))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let reply: Value = response.json().await.unwrap();
    assert_eq!(
        reply["response"],
        json!({"x-request-id": request_id, "x-correlation-id": "corr-7"})
    );

    n.node.stop().await;
}

#[tokio::test]
async fn limits_come_from_chain_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node {
        node: NodeProcess::dev(
            dir.path(),
            &[
                PUBLISH_RPC,
                (
                    "LIT_NODE_ACTIONS__MODULES_CDN",
                    "https://mirror.example:8443",
                ),
            ],
        )
        .await,
    };
    let config = n
        .ok("GET", "get_lit_action_client_config", None, Value::Null)
        .await;
    // The spec's limits, then the limits of module imports (and the operator's CDN mirror).
    assert_eq!(
        config,
        json!({"timeout_ms": 30000, "async_timeout_ms": 30000, "memory_limit_mb": 64,
               "max_code_length": 16777216, "max_response_length": 102400,
               "max_console_log_length": 102400, "max_fetch_count": 50, "max_get_keys_count": 10,
               "max_retries": 3, "client_timeout_ms_buffer": 5000,
               "module_cdn": "https://mirror.example:8443", "max_module_bytes": 10485760,
               "max_modules_per_run": 100, "module_fetch_timeout_ms": 30000})
    );
    set_node_config(
        &n,
        &[
            ("timeout_ms", "700"),
            ("max_response_length", "20"),
            ("max_code_length", "100"),
        ],
    )
    .await;
    let (key, _) = n.account().await;
    // Code of exactly max_code_length bytes runs; one byte more is a 413 naming the limit.
    let sized = |bytes: usize| {
        let code = "async function main() { return 'ran'; } //";
        format!("{code}{}", "x".repeat(bytes - code.len()))
    };
    let (status, reply) = n.run(&key, json!({"code": sized(100)})).await;
    assert_eq!(
        (status, &reply["response"]),
        (200, &json!("ran")),
        "{reply}"
    );
    let (status, reply) = n.run(&key, json!({"code": sized(101)})).await;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(reply["code"], json!("code_too_long"));
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("max_code_length = 100"),
        "{reply}"
    );
    let reply = n
        .run(
            &key,
            json!({"code": "async function main() { while (true) {} }"}),
        )
        .await
        .1;
    assert_eq!(
        reply,
        json!({"response": "Your function exceeded the maximum runtime of 700ms and was terminated.", "logs": "", "has_error": true})
    );
    let reply = n
        .run(
            &key,
            json!({"code": "async function main() { return 'x'.repeat(21); }"}),
        )
        .await
        .1;
    assert_eq!(
        reply["response"],
        json!("Response is too long. Max length is 20 bytes")
    );
    n.node.stop().await;
}

#[tokio::test]
async fn hostile_actions_do_not_disturb_normal_ones() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node {
        node: NodeProcess::dev(
            dir.path(),
            &[("LIT_NODE_ACTIONS__WORKERS", "12"), PUBLISH_RPC],
        )
        .await,
    };
    set_node_config(&n, &[("timeout_ms", "8000")]).await;
    let (key, _) = n.account().await;
    let hostile = [
        (
            "async function main() { while (true) {} }",
            "maximum runtime",
        ),
        (
            "async function main() { let s = 0; for (;;) { s += Math.random(); } }",
            "maximum runtime",
        ),
        (
            "async function main() { const a = []; for (;;) a.push('x'.repeat(1e6) + a.length); }",
            "maximum memory",
        ),
        (
            "function f(n) { return f(n + 1) + 1; } async function main() { return f(0); }",
            "stack",
        ),
        (
            "async function main() { for (;;) console.log('flood '.repeat(1000)); }",
            "Console.log is printing something that is too long",
        ),
    ];
    let node = &n;
    let key = &key;
    let hostile_runs =
        futures_util::future::join_all(hostile.iter().map(|(code, expected)| async move {
            let (status, reply) = node.run(key, json!({"code": code})).await;
            assert_eq!(status, 200);
            assert_eq!(reply["has_error"], json!(true), "{code}: {reply}");
            assert!(
                reply["response"].as_str().unwrap().contains(expected),
                "{code}: {reply}"
            );
            (*expected, Instant::now())
        }));
    let normal_runs = async {
        // Start once every hostile run has a worker.
        wait_for_runs_started(node, hostile.len()).await;
        let mut slowest = Duration::ZERO;
        for i in 0..20 {
            let started = Instant::now();
            let (status, reply) = node
                .run(key, json!({"code": "async function main(p) { return p.i * 2; }", "js_params": {"i": i}}))
                .await;
            slowest = slowest.max(started.elapsed());
            assert_eq!(status, 200);
            assert_eq!(
                reply,
                json!({"response": i * 2, "logs": "", "has_error": false})
            );
        }
        (slowest, Instant::now())
    };
    let (hostile_ends, (slowest, normal_end)) = tokio::join!(hostile_runs, normal_runs);
    // The normal actions ran while the busy loops were still running…
    for (expected, end) in hostile_ends {
        if expected == "maximum runtime" {
            assert!(
                normal_end < end,
                "the busy loops ended before the normal actions"
            );
        }
    }
    // …sharing two cores with them, each far faster than waiting for a hostile run's 8 s (with
    // room for a machine loaded by other tests).
    assert!(
        slowest < Duration::from_secs(4),
        "a normal action took {slowest:?} next to hostile ones"
    );
    n.node.stop().await;
}

#[tokio::test]
async fn action_keys_are_shared_by_nodes_with_one_root_secret() {
    let code = r#"async function main() { return Lit.Actions.getLitActionPrivateKey(); }"#;
    let mut keys = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let n = Node {
            node: NodeProcess::dev(dir.path(), &[("LIT_NODE_ROOT_SECRET", ROOT_SECRET)]).await,
        };
        let (key, _) = n.account().await;
        let (status, reply) = n.run(&key, json!({"code": code})).await;
        assert_eq!(status, 200);
        keys.push(reply["response"].as_str().unwrap().to_string());
        n.node.stop().await;
    }
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0].len(), 66);
}

#[tokio::test]
async fn a_saturated_pool_answers_429_and_recovers() {
    let mut hold = Hold::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = Node {
        node: NodeProcess::dev(
            dir.path(),
            &[
                ("LIT_NODE_ACTIONS__WORKERS", "1"),
                ("LIT_NODE_ACTIONS__QUEUE", "1"),
                // No parking: a run waiting on a fetch holds its worker (as it does beyond the
                // node's parked-run limit; tests/parked_runs.rs covers parking).
                ("LIT_NODE_ACTIONS__MAX_PARKED", "0"),
                // The held runs fetch from the local server until it answers.
                ("LIT_NODE_ACTIONS__FETCH_ALLOW_PRIVATE", "true"),
                ("LIT_NODE_ACTIONS__FETCH_TIMEOUT_MS", "120000"),
            ],
        )
        .await,
    };
    let (key, _) = n.account().await;
    let held = json!({"code": format!(
        "async function main() {{ return (await fetch('{}')).text(); }}",
        hold.url
    )});
    let node = &n;
    let key = &key;
    // The first run holds the only worker (it waits at /hold)…
    let first = node.run(key, held.clone());
    let rest = async {
        hold.wait_for_arrivals(1).await;
        // …so of three more sent at once, one waits in the queue and two are refused at once.
        let mut others: futures_util::stream::FuturesUnordered<_> =
            (0..3).map(|_| node.run(key, held.clone())).collect();
        let mut refused = Vec::new();
        while refused.len() < 2 {
            use futures_util::StreamExt;
            let (status, reply) = others.next().await.unwrap();
            assert_eq!(status, 429, "answered while the worker was held: {reply}");
            refused.push(reply);
        }
        hold.release();
        let (status, reply) = futures_util::StreamExt::next(&mut others).await.unwrap();
        (refused, (status, reply))
    };
    let ((status, reply), (refused, queued)) = tokio::join!(first, rest);
    assert_eq!(
        (status, &reply["response"]),
        (200, &json!("released")),
        "{reply}"
    );
    assert_eq!(
        (queued.0, &queued.1["response"]),
        (200, &json!("released")),
        "{queued:?}"
    );
    for reply in refused {
        assert_eq!(reply["code"], json!("overloaded"));
        assert!(
            reply["error"].as_str().unwrap().contains("retry"),
            "{reply}"
        );
    }
    // Once the queue drains, actions run again.
    let (status, reply) = n
        .run(key, json!({"code": "async function main() { return 1; }"}))
        .await;
    assert_eq!((status, &reply["response"]), (200, &json!(1)));
    n.node.stop().await;
}
