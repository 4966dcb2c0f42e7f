//! Management API benchmark (`cargo bench --bench api`): concurrent writes per second on anvil
//! (automine) through a node with the payer pool (8 payers) next to a node with one payer, in
//! the same run; and read endpoints (`list_groups`, `account_exists`) requests/s and p50/p99 at
//! 64 concurrent clients. Targets: writes scale ≥ 4× with 8 payers; reads ≥ 10k req/s.
//!
//! Environment: `BENCH_SECONDS` per measurement (default 10 for writes, 5 for reads),
//! `BENCH_WRITERS` concurrent writing clients (default 16), `BENCH_READERS` (default 64).

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
    let pool = start_node(dir_pool.path(), &[("LIT_NODE_CHAIN__PAYER_COUNT", "8")]).await?;
    let single = start_node(dir_single.path(), &[("LIT_NODE_CHAIN__PAYER_COUNT", "1")]).await?;

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
    row("1 payer", &one);
    let eight = writes(
        &client,
        &pool.url,
        writers,
        Duration::from_secs_f64(write_seconds),
    )
    .await?;
    row("8 payers", &eight);
    let scaling = eight.requests_per_second / one.requests_per_second;
    println!("  scaling: {scaling:.1}x (target ≥ 4x)");

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
        "\nsummary: writes {:.0}/s with 8 payers vs {:.0}/s with 1 ({scaling:.1}x, target ≥ 4x); reads {:.0} and {:.0} req/s (target ≥ 10000), p99 {:.2} / {:.2} ms",
        eight.requests_per_second,
        one.requests_per_second,
        list.requests_per_second,
        exists.requests_per_second,
        list.p99_ms,
        exists.p99_ms
    );
    pool.stop().await;
    single.stop().await;
    Ok(())
}
