//! Management API benchmark (`cargo bench --bench api`): concurrent writes per second on anvil
//! (automine) through three nodes in the same run — one payer and 8 payers sending one
//! transaction per write and waiting for its receipt (`chain.max_batch_calls = 1`,
//! `chain.max_in_flight_per_payer = 1`, the path before batching), and 8 payers as configured by
//! default (writes gathered into `batch` transactions, several in flight per payer) — and read endpoints (`list_groups`,
//! `account_exists`) requests/s and p50/p99 at 64 concurrent clients. Targets: 8 payers vs 1 ≥ 4×,
//! or batched vs one transaction per write ≥ 4× (at 64 writers); reads ≥ 10k req/s.
//!
//! Environment: `BENCH_SECONDS` per measurement (default 10 for writes, 5 for reads),
//! `BENCH_WRITERS` concurrent writing clients (default 16), `BENCH_READERS` (default 64),
//! `BENCH_BATCHED_PAYERS` payers of the default node (default 8).

mod support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};
use support::{
    env_f64, full_run, measure, measure_each, new_account_key, row, start_node, Load, Request,
};

const ADD_GROUP: &str = r#"{"group_name":"bench","group_description":"","pkp_ids_permitted":[],"cid_hashes_permitted":[]}"#;

fn add_group_ok(status: u16, reply: &Value) -> bool {
    status == 200 && reply["success"] == json!(true)
}

/// Writes/s of `writers` clients (one account each) creating groups for `duration`.
async fn writes(
    client: &reqwest::Client,
    url: &str,
    writers: usize,
    duration: Duration,
) -> Result<Load> {
    let mut requests = Vec::new();
    for _ in 0..writers {
        requests.push(Request {
            method: reqwest::Method::POST,
            url: format!("{url}/core/v1/add_group"),
            key: Some(new_account_key(client, url).await?),
            body: Some(Arc::new(ADD_GROUP.as_bytes().to_vec())),
        });
    }
    measure_each(requests, duration, add_group_ok).await
}

#[tokio::main]
async fn main() -> Result<()> {
    let full = full_run();
    let write_seconds = env_f64("BENCH_SECONDS", if full { 10.0 } else { 1.0 });
    let read_seconds = env_f64("BENCH_SECONDS", if full { 5.0 } else { 0.5 });
    let writers = env_f64("BENCH_WRITERS", 16.0) as usize;
    let readers = env_f64("BENCH_READERS", if full { 64.0 } else { 8.0 }) as usize;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;

    let dir_pool = tempfile::tempdir()?;
    let dir_single = tempfile::tempdir()?;
    let dir_batched = tempfile::tempdir()?;
    let unbatched = ("LIT_NODE_CHAIN__MAX_BATCH_CALLS", "1");
    let one_in_flight = ("LIT_NODE_CHAIN__MAX_IN_FLIGHT_PER_PAYER", "1");
    let pool = start_node(
        dir_pool.path(),
        &[
            ("LIT_NODE_CHAIN__PAYER_COUNT", "8"),
            unbatched,
            one_in_flight,
        ],
    )
    .await?;
    let single = start_node(
        dir_single.path(),
        &[
            ("LIT_NODE_CHAIN__PAYER_COUNT", "1"),
            unbatched,
            one_in_flight,
        ],
    )
    .await?;
    let batched_payers = env_f64("BENCH_BATCHED_PAYERS", 8.0).to_string();
    let batched = start_node(
        dir_batched.path(),
        &[("LIT_NODE_CHAIN__PAYER_COUNT", batched_payers.as_str())],
    )
    .await?;

    println!("\nmanagement API benchmark: {cores} cores; anvil automine; {writers} writing clients, {readers} reading clients");
    println!(
        "\nwrites (add_group, each a mined transaction + mirror catch-up), {write_seconds} s each"
    );
    let one = writes(
        &client,
        &single.url,
        writers,
        Duration::from_secs_f64(write_seconds),
    )
    .await?;
    row("1 payer, a tx per write", &one);
    let eight = writes(
        &client,
        &pool.url,
        writers,
        Duration::from_secs_f64(write_seconds),
    )
    .await?;
    row("8 payers, a tx per write", &eight);
    let gathered = writes(
        &client,
        &batched.url,
        writers,
        Duration::from_secs_f64(write_seconds),
    )
    .await?;
    row("8 payers, batched", &gathered);
    let scaling = eight.requests_per_second / one.requests_per_second;
    let batching = gathered.requests_per_second / eight.requests_per_second;
    println!("  scaling: 8 payers {scaling:.1}x one payer; batched {batching:.1}x a tx per write (target: either ≥ 4x)");

    println!("\nreads, {readers} concurrent clients, {read_seconds} s each");
    let key = new_account_key(&client, &pool.url).await?;
    let read = |path: &str| Request {
        method: reqwest::Method::GET,
        url: format!("{}/core/v1/{path}", pool.url),
        key: Some(key.clone()),
        body: None,
    };
    let list = measure(
        &read("list_groups?page_number=0&page_size=10"),
        readers,
        Duration::from_secs_f64(read_seconds),
        |status, reply| status == 200 && reply.is_array(),
    )
    .await?;
    row("list_groups", &list);
    let exists = measure(
        &read("account_exists"),
        readers,
        Duration::from_secs_f64(read_seconds),
        |status, reply| status == 200 && reply == &json!(true),
    )
    .await?;
    row("account_exists", &exists);
    println!(
        "\nsummary: writes {:.0}/s batched, {:.0}/s with 8 payers and {:.0}/s with 1 sending a tx per write (batched {batching:.1}x, 8 payers {scaling:.1}x; target ≥ 4x); reads {:.0} and {:.0} req/s (target ≥ 10000), p99 {:.2} / {:.2} ms",
        gathered.requests_per_second,
        eight.requests_per_second,
        one.requests_per_second,
        list.requests_per_second,
        exists.requests_per_second,
        list.p99_ms,
        exists.p99_ms
    );
    pool.stop().await;
    single.stop().await;
    batched.stop().await;
    Ok(())
}
