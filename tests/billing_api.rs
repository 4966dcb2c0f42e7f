//! Billing over HTTP against the real binary, a real anvil chain and a local fake of Stripe's
//! REST API: top-ups end to end, confirms that credit once (repeated, concurrent, on two nodes),
//! refused intents, 402 before any work for management writes and actions, an action stopped
//! when credit runs out, the dev `grant-credit` CLI, a node SIGKILLed between charging and
//! settling that settles exactly once after restart, and two nodes agreeing on balances.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, B256};
use alloy::providers::ProviderBuilder;
use common::fake_stripe::FakeStripe;
use common::{http, NodeProcess};
use lit_node::chain::bindings::LitRegistry;
use serde_json::{json, Value};

const ROOT_SECRET: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const STRIPE_SECRET: &str = "sk_test_51FakeSecretKeyForLitNodeTests0123456789";
const PUBLISHABLE: &str = "pk_test_51FakePublishableKey";

/// Environment of a node with billing on, talking to `stripe`.
fn billing_env(stripe: &FakeStripe, settle_interval_ms: &str) -> Vec<(String, String)> {
    [
        ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
        ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
        ("LIT_NODE_BILLING__ENABLED", "true"),
        ("LIT_NODE_BILLING__STRIPE_PUBLISHABLE_KEY", PUBLISHABLE),
        ("LIT_NODE_BILLING__STRIPE_API_BASE", &stripe.base_url),
        ("LIT_NODE_BILLING__SETTLE_INTERVAL_MS", settle_interval_ms),
        ("LIT_NODE_STRIPE_SECRET_KEY", STRIPE_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn as_refs(envs: &[(String, String)]) -> Vec<(&str, &str)> {
    envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

struct Node {
    node: NodeProcess,
}

impl Node {
    async fn dev(dir: &Path, envs: &[(String, String)]) -> Self {
        Self {
            node: NodeProcess::dev(dir, &as_refs(envs)).await,
        }
    }

    async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
        common::api(&self.node.base_url, method, path, key, body).await
    }

    async fn ok(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> Value {
        common::api_ok(&self.node.base_url, method, path, key, body).await
    }

    /// A new account: (account key, account id).
    async fn account(&self) -> (String, B256) {
        let created = self
            .ok(
                "POST",
                "new_account",
                None,
                json!({"account_name": "billed", "account_description": ""}),
            )
            .await;
        let key = created["api_key"].as_str().unwrap().to_string();
        let id = keccak256(key.as_bytes());
        (key, id)
    }

    async fn balance(&self, key: &str) -> (i64, String) {
        let balance = self
            .ok("GET", "billing/balance", Some(key), Value::Null)
            .await;
        (
            balance["balance_cents"].as_i64().unwrap(),
            balance["balance_display"].as_str().unwrap().to_string(),
        )
    }

    /// Waits until this node shows `cents` of balance (Stripe sign: negative = credit).
    async fn wait_for_balance(&self, key: &str, cents: i64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (balance, _) = self.balance(key).await;
            if balance == cents {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "balance stayed {balance}, expected {cents}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn run(&self, key: &str, code: &str) -> (u16, Value) {
        self.call("POST", "lit_action", Some(key), json!({ "code": code }))
            .await
    }

    async fn groups(&self, key: &str) -> (u16, Value) {
        self.call(
            "GET",
            "list_groups?page_number=0&page_size=10",
            Some(key),
            Value::Null,
        )
        .await
    }

    /// Waits until the contract holds `cents` of credit for `account` (settlement done).
    async fn wait_for_on_chain_balance(&self, account: B256, cents: i128) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let balance = self.on_chain_balance(account).await;
            if balance == cents {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "on-chain balance stayed {balance}, expected {cents}: never settled"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until this node's mirror knows the key (created through another node).
    async fn wait_until_known(&self, key: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .ok("GET", "account_exists", Some(key), Value::Null)
            .await
            != json!(true)
        {
            assert!(Instant::now() < deadline, "the key never reached this node");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn add_group(&self, key: &str) -> (u16, Value) {
        self.call(
            "POST",
            "add_group",
            Some(key),
            json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
        )
        .await
    }

    async fn rpc_url(&self) -> String {
        let chain = self
            .ok("GET", "get_node_chain_config", None, Value::Null)
            .await;
        chain["rpc_url"].as_str().unwrap().to_string()
    }

    /// The account's balance as the contract holds it (positive = credit).
    async fn on_chain_balance(&self, account: B256) -> i128 {
        let chain = self
            .ok("GET", "get_node_chain_config", None, Value::Null)
            .await;
        let registry: Address = chain["contract_address"].as_str().unwrap().parse().unwrap();
        let provider = ProviderBuilder::new().connect_http(self.rpc_url().await.parse().unwrap());
        let balance = LitRegistry::new(registry, &provider)
            .balanceOf(account)
            .call()
            .await
            .unwrap();
        i128::try_from(balance).unwrap()
    }

    /// Waits until this node has settled `cents` since it started and has no settlement open.
    async fn wait_until_settled(&self, cents: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let metrics = self.node.metrics().await;
            let settled = common::metric(&metrics, "lit_node_billing_settled_cents_total");
            let open = common::metric(&metrics, "lit_node_billing_open_settlements");
            if settled == Some(cents as f64) && open == Some(0.0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "settled {settled:?} cents with {open:?} settlements open, expected {cents} and 0"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn logs(&self) -> String {
        self.node.stderr_lines.lock().unwrap().join("\n")
    }
}

/// `lit-node grant-credit` against the dev node whose data dir is `dir`.
async fn grant_credit(dir: &Path, account: &str, cents: u64) -> (bool, String) {
    let output = common::grant_credit(dir, ROOT_SECRET, account, cents).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn create_intent(
    n: &Node,
    key: &str,
    amount: u64,
    idempotency: Option<&str>,
) -> (u16, Value) {
    let mut request = http()
        .post(n.node.url("/core/v1/billing/create_payment_intent"))
        .header("x-api-key", key)
        .json(&json!({ "amount_cents": amount }));
    if let Some(value) = idempotency {
        request = request.header("Idempotency-Key", value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn confirm(n: &Node, key: &str, id: &str) -> (u16, Value) {
    n.call(
        "POST",
        "billing/confirm_payment",
        Some(key),
        json!({ "payment_intent_id": id }),
    )
    .await
}

#[tokio::test]
async fn billing_off_charges_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node {
        node: NodeProcess::dev(
            dir.path(),
            &[
                ("LIT_NODE_ROOT_SECRET", ROOT_SECRET),
                ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
            ],
        )
        .await,
    };
    let (status, body) = n
        .call("GET", "billing/stripe_config", None, Value::Null)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error": "billing is not enabled on this node", "code": "billing_disabled"})
    );
    let (key, account) = n.account().await;
    let balance = n
        .ok("GET", "billing/balance", Some(&key), Value::Null)
        .await;
    assert_eq!(balance["billing_enabled"], json!(false));
    assert_eq!(balance["balance_cents"], json!(0));
    // Credit on chain, which a node that charged would draw on.
    let (granted, output) = grant_credit(dir.path(), &key, 5).await;
    assert!(granted, "{output}");
    assert_eq!(n.on_chain_balance(account).await, 5);
    for (path, body) in [
        (
            "billing/create_payment_intent",
            json!({"amount_cents": 1000}),
        ),
        (
            "billing/confirm_payment",
            json!({"payment_intent_id": "pi_123"}),
        ),
    ] {
        let (status, answer) = n.call("POST", path, Some(&key), body).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(answer["code"], json!("billing_disabled"), "{path}");
        assert_eq!(
            answer["error"],
            json!("billing is not enabled on this node")
        );
    }
    // With no credit at all, writes and actions still work: nothing is charged.
    let (status, _) = n.add_group(&key).await;
    assert_eq!(status, 200);
    let (status, reply) = n.run(&key, "async function main() { return 1; }").await;
    assert_eq!(status, 200, "{reply}");
    // After them: no charge recorded (charges are journaled before the answer), the balance
    // still reads 0 with billing off, and the on-chain credit is untouched.
    let metrics = n.node.metrics().await;
    let charged = common::metric(&metrics, "lit_node_billing_charged_cents_total");
    assert!(
        charged.unwrap_or(0.0) == 0.0,
        "billing off, yet {charged:?} cents charged"
    );
    let balance = n
        .ok("GET", "billing/balance", Some(&key), Value::Null)
        .await;
    assert_eq!(
        (&balance["balance_cents"], &balance["billing_enabled"]),
        (&json!(0), &json!(false)),
        "{balance}"
    );
    assert_eq!(n.on_chain_balance(account).await, 5);
    n.node.stop().await;
}

#[tokio::test]
async fn top_up_with_stripe_credits_once_and_refuses_bad_intents() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let n = Node::dev(dir.path(), &billing_env(&stripe, "200")).await;

    let config = n
        .ok("GET", "billing/stripe_config", None, Value::Null)
        .await;
    assert_eq!(config, json!({ "publishable_key": PUBLISHABLE }));

    let (key, account) = n.account().await;
    assert_eq!(n.balance(&key).await, (0, "No credits".to_string()));

    // No credit: 402 before any work, with a message saying how to add funds.
    let (status, refused) = n.add_group(&key).await;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(refused["code"], json!("no_credit"));
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("/core/v1/billing/create_payment_intent"),
        "{refused}"
    );
    let (status, groups) = n.groups(&key).await;
    assert_eq!(
        (status, groups),
        (200, json!([])),
        "the refused write did nothing"
    );
    let (status, refused) = n.run(&key, "async function main() { return 1; }").await;
    assert_eq!((status, refused["code"].clone()), (402, json!("no_credit")));

    // Amounts below the minimum, and malformed bodies, are refused by name.
    let (status, answer) = create_intent(&n, &key, 499, None).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("amount_cents"),
        "{answer}"
    );
    let (status, answer) = n
        .call(
            "POST",
            "billing/create_payment_intent",
            Some(&key),
            json!({"amount": 900}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let before = stripe.requests().len();
    assert_eq!(before, 0, "refused amounts never reach Stripe");

    // A top-up intent, with retries under one Idempotency-Key giving the same intent.
    let (status, created) = create_intent(&n, &key, 1000, Some("top-up-1")).await;
    assert_eq!(status, 200, "{created}");
    let id = created["payment_intent_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("pi_"));
    assert!(created["client_secret"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{id}_secret_")));
    let (_, again) = create_intent(&n, &key, 1000, Some("top-up-1")).await;
    assert_eq!(again["payment_intent_id"], json!(id));
    let requests = stripe.requests();
    assert_eq!(
        requests.len(),
        1,
        "the retry is answered with the node's kept reply, without asking Stripe again"
    );
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        sent.authorization.as_deref(),
        Some(&*format!("Bearer {STRIPE_SECRET}"))
    );
    let form: std::collections::HashMap<_, _> = sent.form.iter().cloned().collect();
    assert_eq!(form["amount"], "1000");
    assert_eq!(form["currency"], "usd");
    assert_eq!(
        form["metadata[lit_account_key_hash]"],
        format!("{account:#x}")
    );
    let idempotency = sent
        .idempotency_key
        .clone()
        .expect("an idempotency key is sent");
    assert_ne!(
        idempotency, "top-up-1",
        "the client's key is scoped to its account"
    );
    let (_, other) = create_intent(&n, &key, 1000, None).await;
    assert_ne!(
        other["payment_intent_id"],
        json!(id),
        "no key, a new intent"
    );

    // Not paid yet: refused, nothing credited.
    let (status, answer) = confirm(&n, &key, &id).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], json!("payment_not_succeeded"));
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("requires_payment_method"));

    // Another account cannot confirm it; unknown and malformed ids are refused.
    let (other_key, _) = n.account().await;
    stripe.set_status(&id, "succeeded");
    let (status, answer) = confirm(&n, &other_key, &id).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(n.balance(&other_key).await.0, 0);
    let (status, _) = confirm(&n, &key, "pi_doesnotexist").await;
    assert_eq!(status, 404);
    let (status, answer) = confirm(&n, &key, "ch_../../v1/charges").await;
    assert_eq!(status, 400);
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("payment_intent_id"));

    // Paid: five concurrent confirms all succeed and credit once.
    let confirms = (0..5).map(|_| confirm(&n, &key, &id));
    for (status, answer) in futures_util::future::join_all(confirms).await {
        assert_eq!((status, answer), (200, json!({"success": true})));
    }
    assert_eq!(n.balance(&key).await, (-1000, "$10.00 credit".to_string()));
    assert_eq!(
        confirm(&n, &key, &id).await.0,
        200,
        "a later confirm still succeeds"
    );
    assert_eq!(n.balance(&key).await.0, -1000);
    assert_eq!(n.on_chain_balance(account).await, 1000);

    // Cancelled, or in another currency: refused.
    let other_id = other["payment_intent_id"].as_str().unwrap().to_string();
    stripe.set_status(&other_id, "canceled");
    let (status, answer) = confirm(&n, &key, &other_id).await;
    assert_eq!(
        (status, answer["code"].clone()),
        (400, json!("payment_not_succeeded"))
    );
    let euro = stripe.insert_intent(json!({
        "id": "pi_euro0000000001", "object": "payment_intent", "amount": 5000,
        "amount_received": 5000, "currency": "eur", "status": "succeeded",
        "client_secret": "pi_euro0000000001_secret_x",
        "metadata": {"lit_account_key_hash": format!("{account:#x}")},
    }));
    let (status, answer) = confirm(&n, &key, &euro).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("eur"),
        "{answer}"
    );

    // Credit buys writes: 1 cent each by default.
    let (status, _) = n.add_group(&key).await;
    assert_eq!(status, 200);
    assert_eq!(n.balance(&key).await, (-999, "$9.99 credit".to_string()));
    // Settled on chain within the settlement interval.
    n.wait_for_on_chain_balance(account, 999).await;
    assert_eq!(n.balance(&key).await.0, -999);

    // Prices are on-chain node configuration: a write now costs 3 cents; reads stay free.
    let block =
        common::set_chain_config(&n.node.base_url, &[("price_management_write_cents", "3")]).await;
    common::wait_until_mirrored(&n.node.base_url, block).await;
    let (status, _) = n.add_group(&key).await;
    assert_eq!(status, 200);
    for _ in 0..3 {
        n.groups(&key).await;
    }
    assert_eq!(n.balance(&key).await.0, -996);

    // Operators see billing in /metrics.
    let metrics = n.node.metrics().await;
    for name in [
        "lit_node_billing_charged_cents_total",
        "lit_node_billing_credited_cents_total 1000",
        "lit_node_billing_settled_cents_total",
        "lit_node_billing_open_settlements",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }

    assert!(
        !n.logs().contains(STRIPE_SECRET),
        "the Stripe secret was logged"
    );
    n.node.stop().await;
}

#[tokio::test]
async fn stripe_refusing_the_nodes_key_is_a_503_that_never_shows_the_key() {
    let stripe = FakeStripe::start("sk_test_the_real_one").await;
    let dir = tempfile::tempdir().unwrap();
    let n = Node::dev(dir.path(), &billing_env(&stripe, "1000")).await;
    let (key, _) = n.account().await;
    let (status, answer) = create_intent(&n, &key, 1000, None).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["code"], json!("payments_unavailable"));
    let text = answer.to_string();
    assert!(
        !text.contains("sk_test") && !text.contains("0123456789"),
        "{text}"
    );
    assert!(
        !n.logs().contains(STRIPE_SECRET),
        "the Stripe secret was logged"
    );
    n.node.stop().await;
}

#[tokio::test]
async fn exhausted_credit_refuses_writes_and_stops_actions() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let n = Node::dev(dir.path(), &billing_env(&stripe, "300")).await;
    let (key, account) = n.account().await;

    let (granted, output) = grant_credit(dir.path(), &key, 3).await;
    assert!(granted, "{output}");
    n.wait_for_balance(&key, -3).await;
    for _ in 0..3 {
        let (status, answer) = n.add_group(&key).await;
        assert_eq!(status, 200, "{answer}");
    }
    let (status, answer) = n.add_group(&key).await;
    assert_eq!(status, 402, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("No credits"),
        "{answer}"
    );
    assert_eq!(n.balance(&key).await, (0, "No credits".to_string()));
    let (status, groups) = n.groups(&key).await;
    assert_eq!(status, 200);
    assert_eq!(
        groups.as_array().unwrap().len(),
        3,
        "the refused write did nothing"
    );

    // Two cents pay for two started seconds: a busy action is stopped there.
    let (granted, output) = grant_credit(dir.path(), &format!("{account:#x}"), 2).await;
    assert!(granted, "{output}");
    n.wait_for_balance(&key, -2).await;
    let started = Instant::now();
    let (status, reply) = n
        .run(
            &key,
            "async function main() { console.log('working'); while (true) {} }",
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["has_error"], json!(true));
    let message = reply["response"].as_str().unwrap();
    assert!(
        message.starts_with("The account ran out of credit: its balance paid for 2 s"),
        "{message}"
    );
    assert_eq!(reply["logs"], json!("working\n"));
    // At least the two paid seconds; well under the 30 s time limit (the machine may be loaded).
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(25),
        "{elapsed:?}"
    );
    assert_eq!(n.balance(&key).await.0, 0, "two seconds were charged");
    let (status, answer) = n.run(&key, "async function main() { return 1; }").await;
    assert_eq!((status, answer["code"].clone()), (402, json!("no_credit")));

    // A run reserves only its first second up front: three cents run three quick actions at
    // once (a reservation of the whole time limit would have let one through).
    let (granted, output) = grant_credit(dir.path(), &key, 3).await;
    assert!(granted, "{output}");
    n.wait_for_balance(&key, -3).await;
    let quick = json!({"code": "async function main() { return 1; }"});
    let runs = (0..3).map(|_| n.call("POST", "lit_action", Some(&key), quick.clone()));
    for (status, reply) in futures_util::future::join_all(runs).await {
        assert_eq!(
            (status, reply["response"].clone()),
            (200, json!(1)),
            "{reply}"
        );
    }
    assert_eq!(n.balance(&key).await.0, 0);

    // All of it settles on chain: 8 cents granted, 8 charged.
    n.wait_for_on_chain_balance(account, 0).await;

    let (granted, output) = grant_credit(dir.path(), "no-such-account-key", 5).await;
    assert!(!granted);
    assert!(output.contains("no account"), "{output}");
    n.node.stop().await;
}

#[tokio::test]
async fn a_killed_node_settles_once_after_restart_and_nodes_agree_on_balances() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let dir_a = tempfile::tempdir().unwrap();
    let a = Node::dev(dir_a.path(), &billing_env(&stripe, "300")).await;
    let rpc_url = a.rpc_url().await;
    let deployment = dir_a.path().join("deployment.json");

    // Node B serves the same chain with the same root secret (so the same payers).
    let dir_b = tempfile::tempdir().unwrap();
    let start_b = |settle_ms: &'static str| {
        let env = billing_env(&stripe, settle_ms);
        let args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--rpc-url".into(),
            rpc_url.clone(),
            "--deployment".into(),
            deployment.to_str().unwrap().into(),
            "--data-dir".into(),
            dir_b.path().to_str().unwrap().into(),
        ];
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Node {
                node: NodeProcess::start(&args, &as_refs(&env))
                    .await
                    .unwrap_or_else(|e| panic!("{e:?}")),
            }
        }
    };
    // B settles only once an hour: its charges stay in its journal.
    let b = start_b("3600000").await;

    // A payment confirmed concurrently on both nodes is credited once.
    let (key, account) = a.account().await;
    let (status, created) = create_intent(&a, &key, 600, None).await;
    assert_eq!(status, 200, "{created}");
    let id = created["payment_intent_id"].as_str().unwrap().to_string();
    stripe.set_status(&id, "succeeded");
    b.wait_until_known(&key).await;
    let (on_a, on_b) = tokio::join!(confirm(&a, &key, &id), confirm(&b, &key, &id));
    assert_eq!(on_a, (200, json!({"success": true})));
    assert_eq!(on_b, (200, json!({"success": true})));
    a.wait_for_balance(&key, -600).await;
    b.wait_for_balance(&key, -600).await;
    assert_eq!(a.on_chain_balance(account).await, 600);

    // B charges four writes, then dies before settling them.
    for _ in 0..4 {
        let (status, answer) = b.add_group(&key).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(b.balance(&key).await.0, -596);
    assert_eq!(
        a.balance(&key).await.0,
        -600,
        "B's charges are not settled yet"
    );
    b.node.kill().await;

    // Restarted, B settles what its journal kept — once.
    let b = start_b("200").await;
    a.wait_for_balance(&key, -596).await;
    assert_eq!(a.on_chain_balance(account).await, 596);
    // B has finished settling (its journal holds nothing more to send): still 596.
    b.wait_until_settled(4).await;
    assert_eq!(
        a.on_chain_balance(account).await,
        596,
        "settled exactly once"
    );
    assert_eq!(b.balance(&key).await.0, -596);

    // A charges too; after settlement both nodes show the same balance.
    for _ in 0..2 {
        let (status, answer) = a.add_group(&key).await;
        assert_eq!(status, 200, "{answer}");
    }
    a.wait_for_balance(&key, -594).await;
    b.wait_for_balance(&key, -594).await;
    a.wait_for_on_chain_balance(account, 594).await;
    assert_eq!(a.balance(&key).await, b.balance(&key).await);
    b.node.stop().await;
    a.node.stop().await;
}
