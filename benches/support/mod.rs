//! Shared by the benchmark programs: start a `lit-node dev` (or any server that prints
//! `listening on <url>`), and drive it with closed-loop HTTP load, reporting requests/s and
//! latency percentiles.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub mod wire;

pub fn project_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A child process that printed `listening on <url>`; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

pub async fn start(mut command: Command, what: &str) -> Result<Server> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("listening on ").nth(1) {
                return Some(rest.split_whitespace().next()?.to_string());
            }
        }
        None
    })
    .await
    .with_context(|| format!("{what} did not start"))?
    .with_context(|| format!("{what} exited"))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server { child, url })
}

impl Server {
    /// Resident memory of the process, from `/proc/<pid>/status` (Linux).
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// CPU time the process has used so far (user + system, from `/proc/<pid>/stat`; Linux).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()?)).ok()?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Some(Duration::from_secs_f64(
            ticks as f64 / per_second.max(1) as f64,
        ))
    }

    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// `lit-node dev` in `data_dir` with rate limits out of the way and extra `envs`.
pub async fn start_node(data_dir: &Path, envs: &[(&str, &str)]) -> Result<Server> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lit-node"));
    command
        .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env(
            "LIT_NODE_LOG",
            std::env::var("BENCH_NODE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env("LIT_NODE_RATE_LIMIT__PER_KEY_PER_SECOND", "1000000")
        .env("LIT_NODE_RATE_LIMIT__PER_KEY_BURST", "1000000")
        .env(
            "LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_PER_IP_PER_MINUTE",
            "1000000",
        )
        .env("LIT_NODE_RATE_LIMIT__NEW_ACCOUNT_BURST", "1000000")
        .current_dir(project_root());
    for (key, value) in envs {
        command.env(key, value);
    }
    start(command, "lit-node dev").await
}

/// A new account on the node at `url`; returns its account key.
pub async fn new_account_key(client: &reqwest::Client, url: &str) -> Result<String> {
    let created: Value = client
        .post(format!("{url}/core/v1/new_account"))
        .json(&serde_json::json!({"account_name": "bench", "account_description": ""}))
        .send()
        .await?
        .json()
        .await?;
    Ok(created["api_key"]
        .as_str()
        .context("new_account failed")?
        .to_string())
}

#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Requests that failed at the transport level (connection refused or reset); counted,
    /// not in the throughput. Wrong replies abort the measurement instead.
    pub transport_errors: usize,
}

/// One request of a load run.
#[derive(Clone)]
pub struct Request {
    pub method: reqwest::Method,
    pub url: String,
    pub key: Option<String>,
    pub body: Option<Arc<Vec<u8>>>,
}

/// Closed loop: `clients` tasks, each on its own keep-alive connection ([`wire`]), sending
/// `request` back to back for `duration`; `check`
/// validates every reply (status, JSON body). A request that fails at the transport level (an
/// overloaded baseline resetting connections) is counted in [`Load::transport_errors`].
pub async fn measure(
    request: &Request,
    clients: usize,
    duration: Duration,
    check: fn(u16, &Value) -> bool,
) -> Result<Load> {
    measure_each(vec![request.clone(); clients], duration, check).await
}

/// Like [`measure`], one client per request in `requests` (e.g. one API key each).
pub async fn measure_each(
    requests: Vec<Request>,
    duration: Duration,
    check: fn(u16, &Value) -> bool,
) -> Result<Load> {
    let started = Instant::now();
    let end = started + duration;
    let mut tasks = Vec::new();
    for request in requests {
        let prepared = wire::Prepared::new(&request)?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut transport_errors = 0;
            let mut connection = None;
            while Instant::now() < end {
                let open = match connection.take() {
                    Some(open) => Ok(open),
                    None => wire::Connection::open(prepared.address).await,
                };
                let mut open = match open {
                    Ok(open) => open,
                    Err(_) => {
                        transport_errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let sent = Instant::now();
                let (status, reply) = match open.exchange(&prepared).await {
                    Ok(reply) => (reply.status, serde_json::from_slice::<Value>(reply.body)),
                    Err(_) => {
                        // Closed or reset: count it, reconnect.
                        transport_errors += 1;
                        continue;
                    }
                };
                latencies.push(sent.elapsed());
                let Ok(reply) = reply else {
                    bail!("reply {status} is not JSON");
                };
                if !check(status, &reply) {
                    bail!("unexpected reply {status} {reply}");
                }
                connection = Some(open);
            }
            Ok::<_, anyhow::Error>((latencies, transport_errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut transport_errors = 0;
    for task in tasks {
        let (mine, errors) = task.await??;
        latencies.extend(mine);
        transport_errors += errors;
    }
    let mut load = summarize(latencies, started.elapsed());
    load.transport_errors = transport_errors;
    Ok(load)
}

pub fn summarize(mut latencies: Vec<Duration>, elapsed: Duration) -> Load {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Load {
        requests_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        transport_errors: 0,
    }
}

pub fn row(name: &str, load: &Load) {
    let errors = match load.transport_errors {
        0 => String::new(),
        n => format!("   ({n} connection errors)"),
    };
    println!(
        "  {name:<36} {:>10.0} req/s   p50 {:>8.3} ms   p99 {:>8.3} ms{errors}",
        load.requests_per_second, load.p50_ms, load.p99_ms
    );
}

pub fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

pub fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Sets node configuration on the dev chain as the contracts' owner (anvil's first key) and waits
/// until `get_lit_action_client_config` shows the first value. The node must publish its RPC URL
/// (`LIT_NODE_CHAIN__PUBLISH_RPC_URL=true`).
pub async fn set_node_config(
    client: &reqwest::Client,
    url: &str,
    values: &[(&str, &str)],
) -> Result<()> {
    use alloy::providers::ProviderBuilder;
    let chain: Value = client
        .get(format!("{url}/core/v1/get_node_chain_config"))
        .send()
        .await?
        .json()
        .await?;
    let rpc_url = chain["rpc_url"]
        .as_str()
        .context("the node does not publish its RPC URL")?;
    let address: alloy::primitives::Address = chain["contracts"]["NodeConfig"]
        .as_str()
        .context("no NodeConfig address")?
        .parse()?;
    let owner: alloy::signers::local::PrivateKeySigner =
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse()?;
    let provider = ProviderBuilder::new()
        .wallet(owner)
        .connect_http(rpc_url.parse()?);
    let contract = lit_node::chain::bindings::NodeConfig::new(address, &provider);
    for (name, value) in values {
        contract
            .setConfig(name.to_string(), value.to_string())
            .send()
            .await?
            .get_receipt()
            .await?;
    }
    let Some((name, value)) = values.first() else {
        return Ok(());
    };
    for _ in 0..100 {
        let config: Value = client
            .get(format!("{url}/core/v1/get_lit_action_client_config"))
            .send()
            .await?
            .json()
            .await?;
        if value
            .parse::<u64>()
            .ok()
            .and_then(|v| config[*name].as_u64().map(|c| c == v))
            == Some(true)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("node configuration {name} = {value} was not mirrored")
}

/// True when started by `cargo bench` (which passes `--bench`); smoke-sized otherwise.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}
