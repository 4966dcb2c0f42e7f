//! Lit Actions benchmark (`cargo bench --bench actions`): requests/s and p50/p99 latency of a
//! hello-world action and an ethers signing action at 1/16/64 concurrent clients, through the
//! HTTP API of a real `lit-node dev`, side by side with a Node.js baseline serving the same
//! actions in two modes (`benches/node-baseline/server.mjs`): a fresh `vm` context per request
//! (isolated, like us) and one ethers shared by all requests (not isolated). Also native
//! `Lit.Actions.signMessage` against ethers' `wallet.signMessage` inside one action, and
//! hello-world on a node with billing on next to the same on a node with billing off, and
//! ethers signing in the first seconds after a node reports ready, with and without warm workers.
//! And hello-world at 16 clients alone, then while `BENCH_WAITERS` runs (default 500) each wait
//! 5 s on a slow local HTTP server (parked: they hold no worker), with the node's memory per
//! waiting run.
//! The Node.js baselines run one process per core (node:cluster), as lit-node uses every core.
//!
//! Environment: `BENCH_SECONDS` per measurement (default 5), `BENCH_CLIENTS` (default "1,16,64"),
//! `BENCH_WAITERS` (default 500), `BENCH_ONLY=waiting` for the waiting-runs part alone,
//! `BENCH_ONLY=hello` for lit-node's hello-world cells alone (for A/B runs of two binaries).
//! Started without `--bench` (as `cargo test --all-targets` would) it makes a short smoke run.

mod support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use support::{
    env_f64, env_list, full_run, measure, new_account_key, project_root, row, set_node_config,
    start, start_node, Request, Server,
};
use tokio::process::Command;

const HELLO: &str = r#"async function main() { return "hello"; }"#;
const ETHERS_SIGN: &str = r#"async function main() {
  const wallet = new ethers.Wallet("0x0000000000000000000000000000000000000000000000000000000000000001");
  return await wallet.signMessage("Chipotle Rocks!");
}"#;
const SIGNATURE: &str = "0x32f33b786e068af9852b348d79b0470dcfc0d7e0de6ed92a2e0070c84f44f68454e37318ad9f80cc81f613217ed49de72012bf6cf02a3fef039ec234c5f35d151c";

/// N signatures in one run, native and through ethers, timed inside the action with
/// `performance.now()` (1 µs resolution: under 0.01% of the shortest batch, where `Date.now()`'s
/// 1 ms was up to 7% of it); `rounds` times, the ways interleaved, so the caller can take medians.
const SIGN_LOOP: &str = r#"async function main({ pkpId, n, rounds }) {
  const key = await Lit.Actions.getPrivateKey({ pkpId });
  const wallet = new ethers.Wallet(key);
  await wallet.signMessage("warm up");
  const ways = {
    // The native call.
    native: (m) => Lit.Actions.signMessage({ pkpId, message: m }),
    // One ethers wallet kept and reused.
    reused: (m) => wallet.signMessage(m),
    // What an action written for ethers does: `new ethers.Wallet(pk).signMessage(m)`.
    perAction: (m) => new ethers.Wallet(key).signMessage(m),
    // The same from a pkpId: the key, a wallet, a signature.
    fromPkp: async (m) => new ethers.Wallet(await Lit.Actions.getPrivateKey({ pkpId })).signMessage(m),
  };
  const ms = { native: [], reused: [], perAction: [], fromPkp: [] };
  const signatures = new Set();
  for (let r = 0; r < rounds; r++) {
    for (const [name, sign] of Object.entries(ways)) {
      const t = performance.now();
      let last;
      for (let i = 0; i < n; i++) last = await sign("m" + i);
      ms[name].push(performance.now() - t);
      signatures.add(last);
    }
  }
  return { ms, same: signatures.size === 1 };
}"#;

async fn start_baseline(mode: &str) -> Result<Server> {
    let mut command = Command::new("node");
    command
        .arg(project_root().join("benches/node-baseline/server.mjs"))
        .args(["--mode", mode, "--port", "0"]); // one process per core (node:cluster)
    start(command, &format!("node baseline ({mode})")).await
}

fn lit_action(url: &str, key: Option<&str>, body: &Value) -> Request {
    Request {
        method: reqwest::Method::POST,
        url: format!("{url}/core/v1/lit_action"),
        key: key.map(str::to_string),
        body: Some(Arc::new(serde_json::to_vec(body).expect("JSON"))),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let full = full_run();
    let seconds = env_f64("BENCH_SECONDS", if full { 5.0 } else { 0.5 });
    let duration = Duration::from_secs_f64(seconds);
    let clients = env_list("BENCH_CLIENTS", if full { "1,16,64" } else { "1,4" });
    if std::env::var("BENCH_ONLY").as_deref() == Ok("waiting") {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?;
        return waiting_runs(&client, full, duration).await;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("hello") {
        return hello_only(&clients, duration).await;
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    let data = tempfile::tempdir()?;
    let node = start_node(data.path(), &[("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true")]).await?;
    let isolated = start_baseline("isolated").await?;
    let shared = start_baseline("shared").await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;

    let account: Value = client
        .post(format!("{}/core/v1/new_account", node.url))
        .json(&json!({"account_name": "bench", "account_description": ""}))
        .send()
        .await?
        .json()
        .await?;
    let key = account["api_key"]
        .as_str()
        .context("new_account")?
        .to_string();
    let wallet = account["wallet_address"]
        .as_str()
        .context("new_account")?
        .to_string();

    println!("\nLit Actions benchmark: {cores} cores, {seconds} s per cell, closed-loop clients, same machine for all servers");
    fn hello_ok(status: u16, reply: &Value) -> bool {
        status == 200 && reply["response"] == json!("hello") && reply["has_error"] == json!(false)
    }
    fn sign_ok(status: u16, reply: &Value) -> bool {
        status == 200 && reply["response"] == json!(SIGNATURE) && reply["has_error"] == json!(false)
    }
    type Check = fn(u16, &Value) -> bool;
    let actions: [(&str, &str, Check); 2] = [
        ("hello-world", HELLO, hello_ok),
        ("ethers signMessage", ETHERS_SIGN, sign_ok),
    ];
    let mut summary = Vec::new();
    for (name, code, check) in actions {
        let body = json!({"code": code});
        for &c in &clients {
            println!("\n{name}, {c} concurrent client(s)");
            let ours = measure(
                &lit_action(&node.url, Some(&key), &body),
                c,
                duration,
                check,
            )
            .await?;
            row("lit-node (QuickJS, isolated)", &ours);
            let iso = measure(&lit_action(&isolated.url, None, &body), c, duration, check).await?;
            row("node vm context/request (isolated)", &iso);
            let sha = measure(&lit_action(&shared.url, None, &body), c, duration, check).await?;
            row("node shared ethers (not isolated)", &sha);
            println!(
                "  ratio: {:.1}x the isolated baseline, {:.2}x the shared baseline",
                ours.requests_per_second / iso.requests_per_second,
                ours.requests_per_second / sha.requests_per_second
            );
            summary.push((name.to_string(), c, ours, iso, sha));
        }
    }

    // Native signMessage vs ethers inside one action (more key operations than the default 10).
    let (n, rounds) = if full { (300, 5) } else { (20, 1) };
    set_node_config(&client, &node.url, &[("max_get_keys_count", "100000")]).await?;
    let reply: Value = client
        .post(format!("{}/core/v1/lit_action", node.url))
        .header("x-api-key", &key)
        .json(&json!({"code": SIGN_LOOP, "js_params": {"pkpId": wallet, "n": n, "rounds": rounds}}))
        .send()
        .await?
        .json()
        .await?;
    let result = &reply["response"];
    if reply["has_error"] != json!(false) || result["same"] != json!(true) {
        bail!("sign loop failed: {reply}");
    }
    // (median, fastest, slowest) ms per call over the rounds.
    let per_call = |way: &str| {
        let mut ms: Vec<f64> = result["ms"][way]
            .as_array()
            .map(|runs| runs.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        ms.sort_by(f64::total_cmp);
        let each = |v: Option<&f64>| v.copied().unwrap_or(0.0).max(0.001) / n as f64;
        (
            each(ms.get(ms.len() / 2)),
            each(ms.first()),
            each(ms.last()),
        )
    };
    let (native, native_min, native_max) = per_call("native");
    println!(
        "\nsignMessage x{n} in one action, median of {rounds} interleaved rounds, timed by performance.now() (identical signatures; target: native ≥ 5x the ethers path):"
    );
    println!("  native Lit.Actions.signMessage                       {native:.3} ms each (rounds {native_min:.3}–{native_max:.3})");
    for (way, label) in [
        (
            "perAction",
            "ethers as actions use it: new Wallet(pk).signMessage",
        ),
        (
            "fromPkp",
            "ethers from the pkpId: getPrivateKey + new Wallet + sign",
        ),
        ("reused", "ethers, one wallet kept and reused"),
    ] {
        let (ms, fastest, slowest) = per_call(way);
        println!(
            "  {label:<54} {ms:.3} ms each (rounds {fastest:.3}–{slowest:.3}) → native {:.1}x faster (range {:.1}–{:.1}x)",
            ms / native,
            fastest / native_max,
            slowest / native_min
        );
    }

    // The first seconds after start: ethers signing at 16 clients on a node that just reported
    // ready, with its workers' ethers realms built before ready (the default) and without.
    let first = Duration::from_secs(1);
    println!("\nethers signMessage, 16 clients, the first second after the node reported ready (target: p99 ≤ 5x p50 with warm workers)");
    for (label, warm) in [
        ("workers warmed before ready (default)", "true"),
        ("realms built on first use", "false"),
    ] {
        let dir = tempfile::tempdir()?;
        let fresh = start_node(dir.path(), &[("LIT_NODE_ACTIONS__WARM_ETHERS", warm)]).await?;
        let fresh_key = new_account_key(&client, &fresh.url).await?;
        let load = measure(
            &lit_action(&fresh.url, Some(&fresh_key), &json!({"code": ETHERS_SIGN})),
            16,
            first,
            sign_ok,
        )
        .await?;
        row(label, &load);
        println!("  p99 / p50 = {:.1}", load.p99_ms / load.p50_ms);
        fresh.stop().await;
    }

    // What billing costs a run: the same hello-world on a node with billing on (a credit
    // reservation before the run, a synced journal write after it), next to the node above.
    let billed_dir = tempfile::tempdir()?;
    let billed = start_node(
        billed_dir.path(),
        &[
            ("LIT_NODE_BILLING__ENABLED", "true"),
            ("LIT_NODE_BILLING__STRIPE_PUBLISHABLE_KEY", "pk_test_bench"),
            ("LIT_NODE_STRIPE_SECRET_KEY", "sk_test_bench_never_used"),
            ("LIT_NODE_BILLING__SETTLE_INTERVAL_MS", "1000"),
        ],
    )
    .await?;
    let billed_key = new_account_key(&client, &billed.url).await?;
    let granted = Command::new(env!("CARGO_BIN_EXE_lit-node"))
        .args(["grant-credit", "--data-dir"])
        .arg(billed_dir.path())
        .args(["--account", &billed_key, "--cents", "100000000"])
        .output()
        .await?;
    if !granted.status.success() {
        bail!(
            "grant-credit failed: {}",
            String::from_utf8_lossy(&granted.stderr)
        );
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let body = json!({ "code": HELLO });
    let c = *clients.iter().max().unwrap_or(&16);
    println!("\nhello-world, {c} concurrent clients: billing off vs on");
    let off = measure(
        &lit_action(&node.url, Some(&key), &body),
        c,
        duration,
        hello_ok,
    )
    .await?;
    row("billing off", &off);
    let on = measure(
        &lit_action(&billed.url, Some(&billed_key), &body),
        c,
        duration,
        hello_ok,
    )
    .await?;
    row("billing on (reserve + journal)", &on);
    println!(
        "  billing on runs at {:.2}x the throughput of billing off",
        on.requests_per_second / off.requests_per_second
    );
    billed.stop().await;

    waiting_runs(&client, full, duration).await?;

    println!("\nsummary (targets: hello-world p50 < 1 ms and ≥ 3x the isolated baseline; ethers sign ≥ the shared baseline)");
    for (name, c, ours, iso, sha) in &summary {
        println!(
            "  {name:<20} c={c:<3} ours {:>7.0} req/s p50 {:>7.3} ms | isolated {:>7.0} | shared {:>7.0} | x{:.1} isolated, x{:.2} shared",
            ours.requests_per_second, ours.p50_ms, iso.requests_per_second, sha.requests_per_second,
            ours.requests_per_second / iso.requests_per_second, ours.requests_per_second / sha.requests_per_second
        );
    }
    node.stop().await;
    isolated.stop().await;
    shared.stop().await;
    drop(data);
    Ok(())
}

/// Hello-world at 16 clients on an idle node, then while `BENCH_WAITERS` runs each wait on a slow
/// local server (5 s per answer in a full run), kept up by closed-loop clients; and the node's
/// resident memory per waiting run.
async fn waiting_runs(client: &reqwest::Client, full: bool, duration: Duration) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let waiters = env_list("BENCH_WAITERS", if full { "500" } else { "40" })
        .first()
        .copied()
        .unwrap_or(500);
    let wait = Duration::from_secs(if full { 5 } else { 1 });
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || async move {
            tokio::time::sleep(wait).await;
            "slow"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slow_url = format!("http://{}/slow", listener.local_addr()?);
    let slow_server = tokio::spawn(async move { axum::serve(listener, slow).await });

    let dir = tempfile::tempdir()?;
    let node = start_node(
        dir.path(),
        &[
            ("LIT_NODE_ACTIONS__FETCH_ALLOW_PRIVATE", "true"),
            ("LIT_NODE_ACTIONS__WARM_ETHERS", "false"),
        ],
    )
    .await?;
    let hello_key = new_account_key(client, &node.url).await?;
    // The waiting runs come from their own accounts, 50 each (an account's queue share is 64).
    let mut waiter_keys = Vec::new();
    for _ in 0..waiters.div_ceil(50) {
        waiter_keys.push(new_account_key(client, &node.url).await?);
    }
    let hello = lit_action(&node.url, Some(&hello_key), &json!({ "code": HELLO }));
    fn hello_ok(status: u16, reply: &Value) -> bool {
        status == 200 && reply["response"] == json!("hello")
    }
    println!(
        "\nhello-world, 16 clients: idle, then next to {waiters} runs each waiting {} s on a slow local server (target: ≥ 80% of idle throughput, p99 < 50 ms)",
        wait.as_secs()
    );
    measure(&hello, 16, duration / 2, hello_ok).await?; // warm
    let idle = measure(&hello, 16, duration, hello_ok).await?;
    row("idle node", &idle);
    let idle_rss = node.rss_bytes();

    // Closed-loop waiters, started evenly over one wait so their answers spread out.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let waiting_code = "async function main({ url }) { return (await fetch(url)).text(); }";
    let mut tasks = Vec::new();
    for i in 0..waiters {
        let request = client
            .post(format!("{}/core/v1/lit_action", node.url))
            .header("x-api-key", &waiter_keys[i / 50])
            .json(&json!({"code": waiting_code, "js_params": {"url": slow_url}}));
        let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
        let delay = wait.mul_f64(i as f64 / waiters as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            while !stop.load(Ordering::SeqCst) {
                let reply: Option<Value> = match request.try_clone().map(|r| r.send()) {
                    Some(sent) => match sent.await {
                        Ok(response) => response.json().await.ok(),
                        Err(_) => None,
                    },
                    None => None,
                };
                if reply.is_some_and(|r| r["response"] == json!("slow")) {
                    answered.fetch_add(1, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // Wait until they are all parked.
    let deadline = std::time::Instant::now() + wait * 3;
    let mut parked = 0.0;
    while std::time::Instant::now() < deadline {
        let metrics = client
            .get(format!("{}/metrics", node.url))
            .send()
            .await?
            .text()
            .await?;
        parked = metrics
            .lines()
            .find_map(|l| l.strip_prefix("lit_node_actions_parked "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if parked >= waiters as f64 * 0.95 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let busy_rss = node.rss_bytes();
    let loaded = measure(&hello, 16, duration, hello_ok).await?;
    row(&format!("next to {waiters} waiting runs"), &loaded);
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        let _ = task.await;
    }
    println!(
        "  parked when measured: {parked:.0}; waiting runs answered {}, failed {}",
        answered.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst)
    );
    println!(
        "  throughput next to the waiting runs: {:.0}% of idle; p99 {:.2} ms (idle {:.2} ms)",
        100.0 * loaded.requests_per_second / idle.requests_per_second,
        loaded.p99_ms,
        idle.p99_ms
    );
    if let (Some(idle_rss), Some(busy_rss)) = (idle_rss, busy_rss) {
        println!(
            "  node memory (VmRSS): {:.0} MiB idle, {:.0} MiB with {parked:.0} parked → {:.0} KiB per waiting run",
            idle_rss as f64 / 1048576.0,
            busy_rss as f64 / 1048576.0,
            busy_rss.saturating_sub(idle_rss) as f64 / 1024.0 / parked.max(1.0)
        );
    }
    node.stop().await;
    slow_server.abort();
    Ok(())
}

/// lit-node's hello-world cells alone, without the baselines (`BENCH_ONLY=hello`).
async fn hello_only(clients: &[usize], duration: Duration) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = start_node(dir.path(), &[]).await?;
    let client = reqwest::Client::new();
    let key = new_account_key(&client, &node.url).await?;
    let hello = lit_action(&node.url, Some(&key), &json!({ "code": HELLO }));
    fn hello_ok(status: u16, reply: &Value) -> bool {
        status == 200 && reply["response"] == json!("hello")
    }
    measure(&hello, 16, duration / 2, hello_ok).await?; // warm
    for &c in clients {
        let cpu_before = node.cpu_time();
        let load = measure(&hello, c, duration, hello_ok).await?;
        let cpu = node.cpu_time().zip(cpu_before).map(|(a, b)| a - b);
        row(&format!("hello-world, {c} clients"), &load);
        if let Some(cpu) = cpu {
            // Less sensitive to other load on the host than req/s: what one request costs the node.
            let requests = load.requests_per_second * duration.as_secs_f64();
            println!(
                "    node CPU per request: {:.1} µs",
                cpu.as_secs_f64() * 1e6 / requests.max(1.0)
            );
        }
    }
    node.stop().await;
    Ok(())
}
