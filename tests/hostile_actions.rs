//! Hostile actions against the real binary (`lit-node dev` over HTTP): values that once panicked
//! the runtime (and aborted the process) passed to every timer and `Lit.Actions` function, error
//! texts larger than the response limit, code sent by keys that may not run it, and code beyond an
//! account's quota. (One account flooding the workers: `fair_share.rs`.)

mod common;

use common::{http, NodeProcess};
use serde_json::{json, Value};

struct Node {
    node: NodeProcess,
}

impl Node {
    async fn start(dir: &std::path::Path, envs: &[(&str, &str)]) -> Self {
        Self {
            node: NodeProcess::dev(dir, envs).await,
        }
    }

    async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
        common::api(&self.node.base_url, method, path, key, body).await
    }

    async fn ok(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> Value {
        common::api_ok(&self.node.base_url, method, path, key, body).await
    }

    /// A new account: (account key, default wallet).
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
            created["wallet_address"].as_str().unwrap().to_string(),
        )
    }

    async fn run(&self, key: &str, body: Value) -> (u16, Value) {
        self.call("POST", "lit_action", Some(key), body).await
    }

    /// Runs `code` and expects a 200; returns the reply.
    async fn run_ok(&self, key: &str, code: &str, params: Value) -> Value {
        let (status, reply) = self
            .run(key, json!({"code": code, "js_params": params}))
            .await;
        assert_eq!(status, 200, "{code}: {reply}");
        reply
    }

    async fn hello(&self, key: &str) {
        let reply = self
            .run_ok(
                key,
                r#"async function main() { return "hello"; }"#,
                Value::Null,
            )
            .await;
        assert_eq!(reply["response"], json!("hello"), "{reply}");
    }
}

/// The values every function gets, built inside the action.
const VALUES: &str = r#"
  const cyclic = { name: "cyclic" }; cyclic.self = cyclic; cyclic.list = [cyclic];
  const boom = () => { throw new Error("hostile getter"); };
  const throwing = {};
  for (const field of ["pkpId", "ipfsId", "response", "message", "toSign", "ciphertext", "length", "byteLength", "buffer", "then", "name"]) {
    Object.defineProperty(throwing, field, { get: boom, enumerable: true });
  }
  throwing.toString = boom; throwing.valueOf = boom; throwing[Symbol.toPrimitive] = boom;
  const proxy = new Proxy({}, { get: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, getPrototypeOf: boom });
  const huge = "a".repeat(1 << 20);
  const values = [Infinity, -Infinity, NaN, -1, -0, 1e300, -1e300, 2 ** 53 + 2, 2 ** 32, huge, cyclic,
                  throwing, proxy, Symbol("s"), 10n, -(2n ** 200n), undefined, null, () => 1, [], {},
                  "", " ", "0x", "0x" + "ff".repeat(40), new Uint8Array(0), new Uint8Array(1 << 16),
                  new Float64Array([Infinity, NaN]), new ArrayBuffer(8), new Date(NaN), /x/g];
"#;

/// `(name, call)` pairs: every timer, every `Lit.Actions` function (each argument hostile in turn)
/// and the other globals an action reaches natives through.
const CALLS: &str = r#"
  const lit = Lit.Actions;
  const calls = {
    setTimeout: (v) => [setTimeout(() => {}, v), setTimeout(v), setTimeout(() => {}, 0, v), setTimeout(v, v)],
    clearTimeout: (v) => clearTimeout(v),
    queueMicrotask: (v) => queueMicrotask(v),
    setResponse: (v) => { lit.setResponse(v); lit.setResponse({ response: v }); lit.setResponse({ response: "ok" }); },
    getPrivateKey: (v) => [lit.getPrivateKey(v), lit.getPrivateKey({ pkpId: v })],
    getLitActionPrivateKey: (v) => lit.getLitActionPrivateKey(v),
    getLitActionPublicKey: (v) => [lit.getLitActionPublicKey(v), lit.getLitActionPublicKey({ ipfsId: v })],
    getLitActionWalletAddress: (v) => [lit.getLitActionWalletAddress(v), lit.getLitActionWalletAddress({ ipfsId: v })],
    Encrypt: (v) => [lit.Encrypt(v), lit.Encrypt({ pkpId: v, message: "m" }), lit.Encrypt({ pkpId: wallet, message: v })],
    Decrypt: (v) => [lit.Decrypt(v), lit.Decrypt({ pkpId: v, ciphertext: "00" }), lit.Decrypt({ pkpId: wallet, ciphertext: v })],
    showImportDetails: (v) => lit.showImportDetails(v),
    signEcdsa: (v) => [lit.signEcdsa(v), lit.signEcdsa({ pkpId: v, toSign: "00".repeat(32) }), lit.signEcdsa({ pkpId: wallet, toSign: v })],
    signMessage: (v) => [lit.signMessage(v), lit.signMessage({ pkpId: v, message: "m" }), lit.signMessage({ pkpId: wallet, message: v })],
    getPublicKey: (v) => [lit.getPublicKey(v), lit.getPublicKey({ pkpId: v })],
    getWalletAddress: (v) => [lit.getWalletAddress(v), lit.getWalletAddress({ pkpId: v })],
    console: (v) => { console.log(typeof v === "string" ? v.slice(0, 8) : v); },
    fetch: (v) => [fetch(v), fetch("http://127.0.0.1:1/", v), fetch("http://127.0.0.1:1/", { method: v, headers: v, body: v })],
    crypto: (v) => [crypto.getRandomValues(v), crypto.subtle.digest(v, v), crypto.subtle.digest("SHA-256", v)],
    text: (v) => [new TextEncoder().encode(v), new TextDecoder().decode(v), new TextDecoder(v)],
    url: (v) => [new URL(v), new URL("https://example.com/", v), new URL("https://example.com/").searchParams.append(v, v),
                 Object.assign(new URL("https://example.com/"), { port: v, host: v, hash: v, pathname: v, href: v })],
    web: (v) => [new Headers(v), new Request(v), new Response(v), atob(v), btoa(v), structuredClone(v)],
    ethers: (v) => [ethers.utils.randomBytes(v), ethers.utils.keccak256(v), ethers.utils.arrayify(v), ethers.utils.hexlify(v),
                    ethers.utils.toUtf8Bytes(v), ethers.utils.getAddress(v), new ethers.Wallet(v), ethers.utils.computePublicKey(v),
                    ethers.utils.recoverAddress(v, v), ethers.utils.id(v), ethers.BigNumber.from(v), ethers.utils.sha256(v)],
  };
"#;

#[tokio::test]
async fn hostile_values_reach_every_timer_and_lit_function_and_the_node_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::start(dir.path(), &[]).await;
    let (key, wallet) = n.account().await;

    // The two reported crashes: with ethers (the shared realm linked to the run) the process
    // aborted; without it the run answered "internal error".
    for code in [
        r#"async function main(){ ethers.utils; setTimeout(()=>{}, Infinity); return 1 }"#,
        r#"async function main(){ setTimeout(()=>{}, Infinity); return 1 }"#,
    ] {
        let reply = n.run_ok(&key, code, Value::Null).await;
        assert_eq!(reply["response"], json!(1), "{code}: {reply}");
        assert_eq!(reply["has_error"], json!(false));
    }

    let names: Vec<String> = {
        let code = format!(
            "async function main({{ wallet }}) {{ {VALUES} {CALLS} return Object.keys(calls); }}"
        );
        let reply = n.run_ok(&key, &code, json!({"wallet": wallet})).await;
        serde_json::from_value(reply["response"].clone()).unwrap()
    };
    assert!(names.len() >= 20, "{names:?}");
    for name in &names {
        // Every value through every call; each failure is caught, awaited promises included.
        let code = format!(
            r#"async function main({{ wallet, name }}) {{
                 {VALUES} {CALLS}
                 let calls_made = 0;
                 for (const v of values) {{
                   try {{
                     const result = calls[name](v);
                     for (const r of [].concat(result)) {{ try {{ await r; }} catch (e) {{}} }}
                   }} catch (e) {{}}
                   calls_made++;
                 }}
                 return calls_made;
               }}"#
        );
        let (status, reply) = n
            .run(
                &key,
                json!({"code": code, "js_params": {"wallet": wallet, "name": name}}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {reply}");
        // A limit (log or response size, key operations) may end the run: that is a clean
        // has_error, never the runtime's internal error.
        let text = reply["response"].to_string();
        assert!(!text.contains("internal error"), "{name}: {reply}");
        if reply["has_error"] == json!(false) {
            assert!(reply["response"].as_u64().unwrap() > 20, "{name}: {reply}");
        }
        // The node still answers, actions and reads alike.
        n.hello(&key).await;
    }
    let health = http().get(n.node.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        !n.node
            .stderr_lines
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains("panicked")),
        "no native function panicked"
    );
}

#[tokio::test]
async fn error_texts_obey_the_response_limit() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::start(dir.path(), &[]).await;
    let (key, _) = n.account().await;
    for code in [
        r#"async function main() { throw new Error("a".repeat(5e6)); }"#,
        r#"async function main() { const e = new Error("m"); e.name = "N".repeat(3e6); throw e; }"#,
        r#"async function main() { throw "s".repeat(2e6); }"#,
        r#"async function main() { throw { big: "o".repeat(1e6) }; }"#,
        r#"async function main() { return Promise.reject(new RangeError("é".repeat(1e6))); }"#,
    ] {
        let response = http()
            .post(n.node.url("/core/v1/lit_action"))
            .header("x-api-key", &key)
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        assert!(body.len() < 110 * 1024, "{code}: {} bytes", body.len());
        let reply: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply["has_error"], json!(true));
        let text = reply["response"].as_str().unwrap();
        assert!(text.len() <= 102_400, "{code}: {}", text.len());
        assert!(
            text.ends_with("the limit is 102400]") && text.contains("[truncated: "),
            "{code}: …{}",
            &text[text.len().saturating_sub(80)..]
        );
    }
    // Short errors are untouched.
    let reply = n
        .run_ok(
            &key,
            r#"async function main() { throw new Error("boom"); }"#,
            Value::Null,
        )
        .await;
    assert_eq!(reply["response"], json!("Error: boom"));
}

#[tokio::test]
async fn refused_runs_store_no_code_and_each_account_keeps_at_most_its_quota() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::start(
        dir.path(),
        &[("LIT_NODE_ACTIONS__CODE_QUOTA_BYTES", "300000")],
    )
    .await;
    let (key, _) = n.account().await;
    let code_of = |tag: &str, size: usize| {
        let mut code = format!(r#"async function main() {{ return "{tag}"; }} //"#);
        code.push_str(&"x".repeat(size - code.len()));
        code
    };
    let cid_of = |code: &str| lit_node::cid::cid_v0(code.as_bytes());

    // A usage key without any execute right: every run is refused, and its code is not kept.
    let usage = n
        .ok(
            "POST",
            "add_usage_api_key",
            Some(&key),
            json!({"name": "no-run", "description": "", "can_create_groups": false,
                   "can_delete_groups": false, "can_create_pkps": false,
                   "manage_ipfs_ids_in_groups": [], "add_pkp_to_groups": [],
                   "remove_pkp_from_groups": [], "execute_in_groups": []}),
        )
        .await["usage_api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let store_size = || fs_size(&dir.path().join("store"));
    let before = store_size();
    let mut refused = Vec::new();
    for i in 0..5 {
        let code = code_of(&format!("refused {i}"), 2 * 1024 * 1024);
        let (status, reply) = n.run(&usage, json!({ "code": code })).await;
        assert_eq!(status, 403, "{reply}");
        refused.push(cid_of(&code));
    }
    for cid in &refused {
        let (status, reply) = n.run(&key, json!({ "ipfs_id": cid })).await;
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["code"], json!("unknown_code"));
    }
    let grown = store_size().saturating_sub(before);
    assert!(
        grown < 2 * 1024 * 1024,
        "10 MB of refused code grew the store by {grown} bytes"
    );

    // Within the quota (300 kB) runs keep their code; beyond it the least recently used goes.
    let codes: Vec<String> = (0..4)
        .map(|i| code_of(&format!("kept {i}"), 100_000))
        .collect();
    for code in &codes {
        n.run_ok(&key, code, Value::Null).await;
    }
    let (status, reply) = n.run(&key, json!({ "ipfs_id": cid_of(&codes[0]) })).await;
    assert_eq!(status, 400, "the oldest code was let go: {reply}");
    for (i, code) in codes.iter().enumerate().skip(1) {
        let (status, reply) = n.run(&key, json!({ "ipfs_id": cid_of(code) })).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["response"], json!(format!("kept {i}")));
    }
    // Code of a registered action is kept whatever else the account runs.
    let registered = code_of("registered", 100_000);
    n.ok(
        "POST",
        "add_action",
        Some(&key),
        json!({"action_ipfs_cid": cid_of(&registered), "name": "r", "description": "", "code": registered}),
    )
    .await;
    for i in 0..5 {
        n.run_ok(&key, &code_of(&format!("churn {i}"), 100_000), Value::Null)
            .await;
    }
    let (status, reply) = n.run(&key, json!({ "ipfs_id": cid_of(&registered) })).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["response"], json!("registered"));
    // Registering more code than the quota can hold is refused before anything is written.
    let too_big = code_of("too big", 250_000);
    let (status, reply) = n
        .call(
            "POST",
            "add_action",
            Some(&key),
            json!({"action_ipfs_cid": cid_of(&too_big), "name": "t", "description": "", "code": too_big}),
        )
        .await;
    assert_eq!(status, 413, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("quota"),
        "{reply}"
    );
    let actions = n
        .ok(
            "GET",
            "list_actions?page_number=0&page_size=10",
            Some(&key),
            Value::Null,
        )
        .await;
    assert_eq!(actions.as_array().unwrap().len(), 1, "{actions}");
}

/// Bytes of the files under `dir`.
fn fs_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                fs_size(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

#[tokio::test]
async fn limits_from_chain_configuration_are_clamped_to_sane_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::start(dir.path(), &[("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true")]).await;
    let (key, _) = n.account().await;
    let max = u64::MAX.to_string();
    let huge = "9".repeat(40);
    common::set_chain_config(
        &n.node.base_url,
        &[
            ("timeout_ms", &max),
            ("memory_limit_mb", &huge),
            ("max_response_length", "0"),
            ("price_action_second_cents", &max),
        ],
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let config = loop {
        let config = n
            .ok("GET", "get_lit_action_client_config", None, Value::Null)
            .await;
        if config["timeout_ms"] != json!(30_000) {
            break config;
        }
        assert!(std::time::Instant::now() < deadline, "never mirrored");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(config["timeout_ms"], json!(3_600_000), "{config}");
    assert_eq!(config["memory_limit_mb"], json!(4096), "{config}");
    assert_eq!(config["max_response_length"], json!(1), "{config}");
    // Runs still work under the clamped limits (and a 1-byte response limit).
    let reply = n
        .run_ok(&key, r#"async function main() { return 7; }"#, Value::Null)
        .await;
    assert_eq!(reply["response"], json!(7), "{reply}");
    let reply = n
        .run_ok(&key, r#"async function main() { return 77; }"#, Value::Null)
        .await;
    assert_eq!(reply["has_error"], json!(true), "{reply}");
}
