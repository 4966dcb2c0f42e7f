//! Writes at chain speed (`cargo bench --bench writes`): a dev node on anvil with `--block-time 2`
//! (its default 30M block gas limit) and 8 payers, 256 concurrent writing clients for 60 s — three
//! quarters `add_group` (from 48 accounts), an eighth `new_account`, an eighth `create_wallet` —
//! while 64 clients read (`list_groups`) for a third of the time. Two nodes in the same run: the
//! node as configured by default (writes gathered into `batch` transactions, several transactions
//! in flight per payer) and the path before (`chain.max_batch_calls = 1`,
//! `chain.max_in_flight_per_payer = 1`: a transaction per write, a payer waits for each receipt).
//!
//! Printed per node: writes/s, p50/p95 latency, gas per write (gas of the blocks mined during
//! the run / writes answered), the chain's ceiling (block gas limit / gas per write / block time)
//! and the share of it reached, reads/s while writing; then medians over `BENCH_RUNS` runs and the
//! ratio to the path before. Targets: ≥ 70% of the ceiling, p50 ≤ 2 block times, p95 ≤ 3, reads
//! ≥ 10k req/s during writes.
//!
//! Environment: `BENCH_SECONDS` (default 60; 4 when not run by `cargo bench`), `BENCH_WRITERS`
//! (256), `BENCH_READERS` (64), `BENCH_RUNS` (1), `BENCH_BLOCK_TIME` (2 s).

mod support;

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::providers::{Provider, ProviderBuilder};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use support::{
    env_f64, full_run, measure, measure_each, new_account_key, start_node, Load, Request,
};

const ADD_GROUP: &str = r#"{"group_name":"bench","group_description":"","pkp_ids_permitted":[],"cid_hashes_permitted":[]}"#;
const NEW_ACCOUNT: &str = r#"{"account_name":"bench","account_description":""}"#;
const ACCOUNTS: usize = 48;

/// Any successful write: add_group, new_account and create_wallet all answer 200 with an object.
fn write_ok(status: u16, reply: &Value) -> bool {
    status == 200 && reply.is_object() && reply["success"] != json!(false)
}

struct Settings {
    seconds: f64,
    writers: usize,
    readers: usize,
    block_time: u64,
}

/// What one node did in one run.
#[derive(Debug, Clone, Copy)]
struct Figures {
    writes: Load,
    reads: Load,
    gas_per_write: f64,
    /// Writes/s the chain could carry at that gas per write.
    ceiling: f64,
}

impl Figures {
    fn share_of_ceiling(&self) -> f64 {
        self.writes.requests_per_second / self.ceiling
    }
}

/// The writing clients: three quarters add a group (spread over `ACCOUNTS` accounts), an eighth
/// create accounts, an eighth create wallets.
async fn writers(client: &reqwest::Client, url: &str, count: usize) -> Result<Vec<Request>> {
    let keys =
        futures_util::future::try_join_all((0..ACCOUNTS).map(|_| new_account_key(client, url)))
            .await?;
    Ok((0..count)
        .map(|i| match i % 8 {
            0 => Request {
                method: reqwest::Method::POST,
                url: format!("{url}/core/v1/new_account"),
                key: None,
                body: Some(Arc::new(NEW_ACCOUNT.as_bytes().to_vec())),
            },
            1 => Request {
                method: reqwest::Method::GET,
                url: format!("{url}/core/v1/create_wallet"),
                key: Some(keys[i % ACCOUNTS].clone()),
                body: None,
            },
            _ => Request {
                method: reqwest::Method::POST,
                url: format!("{url}/core/v1/add_group"),
                key: Some(keys[i % ACCOUNTS].clone()),
                body: Some(Arc::new(ADD_GROUP.as_bytes().to_vec())),
            },
        })
        .collect())
}

/// Gas used by the blocks after `from` up to `to`, and the block gas limit.
async fn gas_between(provider: &impl Provider, from: u64, to: u64) -> Result<(u64, u64)> {
    let mut used = 0;
    let mut limit = 0;
    for number in from + 1..=to {
        let block = provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await?
            .context("a mined block is missing")?;
        used += block.header.gas_used;
        limit = block.header.gas_limit;
    }
    Ok((used, limit))
}

/// Starts a node with `envs`, loads it, stops it.
async fn run_node(
    client: &reqwest::Client,
    settings: &Settings,
    envs: &[(&str, &str)],
) -> Result<Figures> {
    let dir = tempfile::tempdir()?;
    let anvil_args = format!(
        r#"["--prune-history", "--block-time", "{}"]"#,
        settings.block_time
    );
    let mut all = vec![
        ("LIT_NODE_DEV__ANVIL_ARGS", anvil_args.as_str()),
        ("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true"),
        ("LIT_NODE_CHAIN__PAYER_COUNT", "8"),
    ];
    all.extend_from_slice(envs);
    let node = start_node(dir.path(), &all).await?;
    let chain: Value = client
        .get(format!("{}/core/v1/get_node_chain_config", node.url))
        .send()
        .await?
        .json()
        .await?;
    let provider = ProviderBuilder::new().connect_http(
        chain["rpc_url"]
            .as_str()
            .context("no RPC URL published")?
            .parse()?,
    );
    let requests = writers(client, &node.url, settings.writers).await?;
    let reader_key = new_account_key(client, &node.url).await?;
    let read = Request {
        method: reqwest::Method::GET,
        url: format!(
            "{}/core/v1/list_groups?page_number=0&page_size=10",
            node.url
        ),
        key: Some(reader_key),
        body: None,
    };

    let duration = Duration::from_secs_f64(settings.seconds);
    let first_block = provider.get_block_number().await?;
    let readers = settings.readers;
    let reads = tokio::spawn(async move {
        tokio::time::sleep(duration / 3).await;
        measure(&read, readers, duration / 3, |status, reply| {
            status == 200 && reply.is_array()
        })
        .await
    });
    let writes = measure_each(requests, duration, write_ok).await?;
    let reads = reads.await??;
    let last_block = provider.get_block_number().await?;
    let (gas_used, gas_limit) = gas_between(&provider, first_block, last_block).await?;
    let answered = writes.requests_per_second * settings.seconds;
    let gas_per_write = gas_used as f64 / answered.max(1.0);
    node.stop().await;
    Ok(Figures {
        writes,
        reads,
        gas_per_write,
        ceiling: gas_limit as f64 / gas_per_write / settings.block_time as f64,
    })
}

fn print_row(name: &str, f: &Figures) {
    println!(
        "  {name:<30} {:>7.1} writes/s   p50 {:>6.2} s   p95 {:>6.2} s   {:>7.0} gas/write   ceiling {:>6.1}/s ({:>3.0}%)   reads {:>6.0} req/s",
        f.writes.requests_per_second,
        f.writes.p50_ms / 1000.0,
        f.writes.p95_ms / 1000.0,
        f.gas_per_write,
        f.ceiling,
        f.share_of_ceiling() * 100.0,
        f.reads.requests_per_second,
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> Result<()> {
    let full = full_run();
    let settings = Settings {
        seconds: env_f64("BENCH_SECONDS", if full { 60.0 } else { 4.0 }),
        writers: env_f64("BENCH_WRITERS", 256.0) as usize,
        readers: env_f64("BENCH_READERS", 64.0) as usize,
        block_time: env_f64("BENCH_BLOCK_TIME", 2.0) as u64,
    };
    let runs = env_f64("BENCH_RUNS", 1.0).max(1.0) as usize;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    println!(
        "\nwrites at chain speed: {cores} cores; anvil --block-time {} (30M gas blocks), 8 payers; {} writers for {} s ({} reading for a third of it); {runs} run(s)",
        settings.block_time, settings.writers, settings.seconds, settings.readers
    );
    let before = [
        ("LIT_NODE_CHAIN__MAX_BATCH_CALLS", "1"),
        ("LIT_NODE_CHAIN__MAX_IN_FLIGHT_PER_PAYER", "1"),
    ];
    let mut gathered = Vec::new();
    let mut single = Vec::new();
    for run in 1..=runs {
        println!("\nrun {run}");
        let now = run_node(&client, &settings, &[]).await?;
        print_row("gathered, pipelined (default)", &now);
        let old = run_node(&client, &settings, &before).await?;
        print_row("a tx per write, 1 per payer", &old);
        gathered.push(now);
        single.push(old);
    }
    let med = |of: &[Figures], pick: fn(&Figures) -> f64| median(of.iter().map(pick).collect());
    let block = settings.block_time as f64;
    let (rate, old_rate) = (
        med(&gathered, |f| f.writes.requests_per_second),
        med(&single, |f| f.writes.requests_per_second),
    );
    println!(
        "\nsummary (medians of {runs}): {rate:.1} writes/s gathered vs {old_rate:.1} a tx per write ({:.1}x); {:.0}% of the chain's ceiling ({:.1}/s at {:.0} gas/write; target ≥ 70%); p50 {:.2} s = {:.2} blocks (target ≤ 2), p95 {:.2} s = {:.2} blocks (target ≤ 3); reads during writes {:.0} req/s (target ≥ 10000)",
        rate / old_rate,
        med(&gathered, Figures::share_of_ceiling) * 100.0,
        med(&gathered, |f| f.ceiling),
        med(&gathered, |f| f.gas_per_write),
        med(&gathered, |f| f.writes.p50_ms) / 1000.0,
        med(&gathered, |f| f.writes.p50_ms) / 1000.0 / block,
        med(&gathered, |f| f.writes.p95_ms) / 1000.0,
        med(&gathered, |f| f.writes.p95_ms) / 1000.0 / block,
        med(&gathered, |f| f.reads.requests_per_second),
    );
    Ok(())
}
