//! Runs that wait do not hold a worker (issue 17, part 2), against the real binary over HTTP: a
//! node with one worker thread keeps many runs waiting on fetches and timers at once and still
//! answers a hello-world; parked runs keep their time limit, memory limit and isolation, and stop
//! when their client leaves; an account's parked runs resume only within its worker share.

mod common;

use std::time::{Duration, Instant};

use common::hold::Hold;
use common::NodeProcess;
use futures_util::future::join_all;
use serde_json::{json, Value};

const SLEEP: &str = "const sleep = (ms) => new Promise((r) => setTimeout(r, ms));";

async fn run(node: &NodeProcess, key: &str, code: &str, params: Value) -> Value {
    common::api_ok(
        &node.base_url,
        "POST",
        "lit_action",
        Some(key),
        json!({"code": code, "js_params": params}),
    )
    .await
}

async fn hello_ms(node: &NodeProcess, key: &str) -> u128 {
    let started = Instant::now();
    let reply = run(
        node,
        key,
        r#"async function main() { return "hello"; }"#,
        Value::Null,
    )
    .await;
    assert_eq!(reply["response"], json!("hello"), "{reply}");
    started.elapsed().as_millis()
}

async fn one_worker(dir: &std::path::Path, envs: &[(&str, &str)]) -> NodeProcess {
    let mut all = vec![
        ("LIT_NODE_ACTIONS__WORKERS", "1"),
        ("LIT_NODE_ACTIONS__FETCH_ALLOW_PRIVATE", "true"),
    ];
    all.extend_from_slice(envs);
    NodeProcess::dev(dir, &all).await
}

#[tokio::test]
async fn runs_waiting_on_fetches_and_timers_leave_the_only_worker_free() {
    let dir = tempfile::tempdir().unwrap();
    let node = one_worker(dir.path(), &[]).await;
    let (waiter, _) = common::new_account(&node.base_url, "waiter").await;
    let (other, _) = common::new_account(&node.base_url, "other").await;
    let mut hold = Hold::start().await;

    // 20 runs await a fetch that does not answer yet, plain and next to ethers. With one worker
    // they can only all be at the server together if each gave the thread up while it waits.
    let fetching = format!(
        "async function main({{ n }}) {{ const r = await fetch('{}'); return (await r.text()) + n; }}",
        hold.url
    );
    let fetching_ethers = format!(
        "async function main({{ n }}) {{ const r = await fetch('{}'); return ethers.utils.id(await r.text()) + n; }}",
        hold.url
    );
    let waiting = join_all((0..20).map(|n| {
        let code = if n < 3 { &fetching_ethers } else { &fetching };
        run(&node, &waiter, code, json!({ "n": n }))
    }));
    let meanwhile = async {
        hold.wait_for_arrivals(20).await;

        // Meanwhile the worker serves others, and the same account, at once.
        for key in [&other, &waiter] {
            let ms = hello_ms(&node, key).await;
            assert!(
                ms < 2_000,
                "a hello-world took {ms} ms next to 20 waiting runs"
            );
        }

        // Ten runs each sleeping 1 s finish together, not one after the other (10 s).
        let sleeping =
            format!("{SLEEP} async function main({{ n }}) {{ await sleep(1000); return n; }}");
        let started = Instant::now();
        let slept =
            join_all((0..10).map(|n| run(&node, &other, &sleeping, json!({ "n": n })))).await;
        let took = started.elapsed();
        for (n, reply) in slept.iter().enumerate() {
            assert_eq!(reply["response"], json!(n), "{reply}");
        }
        assert!(
            took < Duration::from_secs(5),
            "10 runs sleeping 1 s took {took:?}"
        );
        hold.release();
    };
    let (replies, ()) = tokio::join!(waiting, meanwhile);

    let released_id = format!("{:#x}", alloy::primitives::keccak256(b"released"));
    for (n, reply) in replies.iter().enumerate() {
        let expected = if n < 3 {
            format!("{released_id}{n}")
        } else {
            format!("released{n}")
        };
        assert_eq!(
            (reply["has_error"].clone(), reply["response"].clone()),
            (json!(false), json!(expected)),
            "{reply}"
        );
    }
    node.stop().await;
}

#[tokio::test]
async fn parked_runs_keep_their_limits_and_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let node = one_worker(dir.path(), &[]).await;
    let (key, _) = common::new_account(&node.base_url, "limits").await;

    // Two runs share the worker thread while they sleep, each with its own globals.
    let marks = format!(
        "{SLEEP} async function main({{ v }}) {{ globalThis.mark = v; Array.prototype.mine = v; await sleep(300); return [globalThis.mark, [].mine]; }}"
    );
    // One wakes up and allocates past its memory limit; the other, parked next to it, is not
    // affected.
    let hungry = format!(
        "{SLEEP} async function main() {{ await sleep(200); const a = []; for (;;) a.push(new Array(100000).fill(1)); }}"
    );
    let calm = format!("{SLEEP} async function main() {{ await sleep(600); return 'calm'; }}");
    let (a, b, hungry, calm) = tokio::join!(
        run(&node, &key, &marks, json!({"v": 1})),
        run(&node, &key, &marks, json!({"v": 2})),
        run(&node, &key, &hungry, Value::Null),
        run(&node, &key, &calm, Value::Null),
    );
    assert_eq!(a["response"], json!([1, 1]), "{a}");
    assert_eq!(b["response"], json!([2, 2]), "{b}");
    assert_eq!(hungry["has_error"], json!(true), "{hungry}");
    assert!(
        hungry["response"]
            .as_str()
            .unwrap()
            .contains("exceeded the maximum memory"),
        "{hungry}"
    );
    assert_eq!(calm["response"], json!("calm"), "{calm}");

    // A parked run's client leaves: the run ends (it would otherwise wait for /hold).
    let mut hold = Hold::start().await;
    let metrics_before = node.metrics().await;
    let ended = |metrics: &str| {
        common::metric(metrics, "lit_node_actions_total{outcome=\"error\"}").unwrap_or(0.0)
    };
    let errors_before = ended(&metrics_before);
    let gone = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap()
        .post(node.url("/core/v1/lit_action"))
        .header("x-api-key", &key)
        .json(&json!({"code": format!(
            "async function main() {{ return (await fetch('{}')).text(); }}",
            hold.url
        )}))
        .send()
        .await;
    assert!(gone.is_err(), "the held run answered: {gone:?}");
    hold.wait_for_arrivals(1).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while ended(&node.metrics().await) <= errors_before {
        assert!(
            Instant::now() < deadline,
            "a parked run whose client left did not end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.stop().await;
}

#[tokio::test]
async fn a_parked_run_times_out_at_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let node = one_worker(dir.path(), &[("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true")]).await;
    let (key, _) = common::new_account(&node.base_url, "time").await;
    let block = common::set_chain_config(&node.base_url, &[("timeout_ms", "1500")]).await;
    common::wait_until_mirrored(&node.base_url, block).await;

    let long = format!("{SLEEP} async function main() {{ await sleep(20000); return 'late'; }}");
    let started = Instant::now();
    let (late, ms) = tokio::join!(run(&node, &key, &long, Value::Null), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        hello_ms(&node, &key).await
    });
    let took = started.elapsed();
    assert_eq!(
        late["response"],
        json!("Your function exceeded the maximum runtime of 1500ms and was terminated."),
        "{late}"
    );
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert!(
        ms < 1_000,
        "a hello-world next to the parked run took {ms} ms"
    );
    node.stop().await;
}

#[tokio::test]
async fn an_accounts_parked_runs_resume_only_within_its_worker_share() {
    let dir = tempfile::tempdir().unwrap();
    // Four workers: one account may occupy three.
    let node = NodeProcess::dev(dir.path(), &[("LIT_NODE_ACTIONS__WORKERS", "4")]).await;
    let (flooder, _) = common::new_account(&node.base_url, "flooder").await;
    let (other, _) = common::new_account(&node.base_url, "other").await;
    hello_ms(&node, &other).await; // warm

    // Eight runs work 100 ms, park on a short timer, then spin until their clients give up
    // (6 s). The other account must still find a worker. (Which worker takes which run is up to
    // the threads; the rule that a parked run resumes only within its account's share is pinned
    // by `parked_runs_leave_the_worker_share_and_are_bounded` in `actions::pool`.)
    let spin = format!(
        "{SLEEP} async function main() {{ const t = Date.now(); while (Date.now() - t < 100) {{}} await sleep(500); for (;;) {{}} }}"
    );
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let request = reqwest::Client::builder()
                .timeout(Duration::from_secs(6))
                .build()
                .unwrap()
                .post(node.url("/core/v1/lit_action"))
                .header("x-api-key", &flooder)
                .json(&json!({ "code": spin }));
            tokio::spawn(async move { request.send().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(2000)).await;

    let mut latencies = Vec::new();
    for _ in 0..20 {
        latencies.push(hello_ms(&node, &other).await);
    }
    latencies.sort_unstable();
    let p90 = latencies[latencies.len() * 9 / 10 - 1];
    assert!(
        p90 < 1_000,
        "hello-world next to a flood of resumed busy loops: {latencies:?} ms"
    );
    for run in flood {
        let _ = run.await;
    }
    node.stop().await;
}

#[tokio::test]
async fn a_run_downloading_its_modules_leaves_the_only_worker_free() {
    let mut cdn = Hold::start().await;
    let dir = tempfile::tempdir().unwrap();
    let node = one_worker(
        dir.path(),
        &[("LIT_NODE_ACTIONS__MODULES_CDN", &cdn.origin)],
    )
    .await;
    let (key, _) = common::new_account(&node.base_url, "modules").await;
    let importing = r#"import { v } from "slow@1.0.0";
async function main() { return { v, from: Lit.Actions.showImportDetails().map((d) => d.from) }; }"#;
    let meanwhile = async {
        // The module's first download waits at the CDN; the worker serves a hello-world.
        cdn.wait_for_arrivals(1).await;
        let ms = hello_ms(&node, &key).await;
        assert!(
            ms < 2_000,
            "a hello-world took {ms} ms next to a module download"
        );
        cdn.release();
    };
    let (reply, ()) = tokio::join!(run(&node, &key, importing, Value::Null), meanwhile);
    assert_eq!(
        reply["response"],
        json!({"v": 42, "from": ["network"]}),
        "{reply}"
    );
    // The next run finds it in the cache, with no request.
    let again = run(&node, &key, importing, Value::Null).await;
    assert_eq!(
        again["response"],
        json!({"v": 42, "from": ["cache"]}),
        "{again}"
    );
    node.stop().await;
}
