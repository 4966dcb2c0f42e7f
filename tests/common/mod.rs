//! Shared helpers for integration tests: start the real `lit-node` binary (dev or serve mode) on a
//! free port, a real anvil, and the project's pinned tools. Every process started here is stopped
//! when its handle drops.
#![allow(dead_code)]

pub mod chain_writer;
pub mod engine;
pub mod fake_stripe;
pub mod hold;
pub mod in_process;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool installed by script/setup.sh (forge, anvil, cast, node packages).
pub fn tool(name: &str) -> PathBuf {
    // The real binaries of the npm packages, not their Node.js launchers in .bin/.
    let path = project_root()
        .join(".tools/node_modules/@foundry-rs")
        .join(format!("{name}-linux-amd64/bin/{name}"));
    assert!(
        path.is_file(),
        "{} missing: run script/setup.sh",
        path.display()
    );
    path
}

/// A running `lit-node` process and the base URL it printed.
pub struct NodeProcess {
    child: Child,
    pub base_url: String,
    pub stdout_line: String,
    /// The `/metrics` URL of a separate metrics listener, when the node printed one.
    pub metrics_url: Option<String>,
    /// Every line the node wrote to stderr (its logs) so far.
    pub stderr_lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Output of a node that exited instead of serving.
#[derive(Debug)]
pub struct Exited {
    pub code: Option<i32>,
    pub stderr: String,
}

/// `lit-node grant-credit` against the dev node whose data dir is `data_dir` (root secret
/// `root_secret`): the process's output (check `status.success()`).
pub async fn grant_credit(
    data_dir: &Path,
    root_secret: &str,
    account: &str,
    cents: u64,
) -> std::process::Output {
    node_command(
        &[
            "grant-credit",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--account",
            account,
            "--cents",
            &cents.to_string(),
        ],
        &[("LIT_NODE_ROOT_SECRET", root_secret)],
    )
    .output()
    .await
    .unwrap()
}

pub fn node_command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lit-node"));
    command
        .args(args)
        .env_remove("LIT_NODE_ROOT_SECRET")
        .env("LIT_NODE_LOG", "warn")
        // Building every worker's ethers realm before ready costs each node start ~1 s of CPU
        // in test builds; tests that are about it turn it back on.
        .env("LIT_NODE_ACTIONS__WARM_ETHERS", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in envs {
        command.env(key, value);
    }
    command
}

impl NodeProcess {
    /// Starts `lit-node ARGS` and waits for its "listening on" line; on exit returns its stderr.
    /// Its stderr is read from the start, so a node logging a lot (debug) never blocks on a full
    /// pipe before it is ready.
    pub async fn start(args: &[&str], envs: &[(&str, &str)]) -> Result<Self, Exited> {
        let mut child = node_command(args, envs).spawn().expect("spawn lit-node");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = stderr_lines.clone();
        let stderr_reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[lit-node] {line}");
                kept.lock().unwrap().push(line);
            }
        });
        let mut lines = BufReader::new(stdout).lines();
        let mut metrics_url = None;
        let ready = tokio::time::timeout(Duration::from_secs(120), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("metrics on ").nth(1) {
                    metrics_url = rest.split_whitespace().next().map(str::to_string);
                }
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap().to_string();
                    return Some((url, line));
                }
            }
            None
        })
        .await
        .expect("lit-node did not become ready within 120 s");
        match ready {
            Some((base_url, stdout_line)) => {
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                Ok(Self {
                    child,
                    base_url,
                    stdout_line,
                    metrics_url,
                    stderr_lines,
                })
            }
            None => {
                let mut exited = wait_exit(child).await;
                let _ = tokio::time::timeout(Duration::from_secs(30), stderr_reader).await;
                exited.stderr = stderr_lines.lock().unwrap().join("\n");
                Err(exited)
            }
        }
    }

    pub async fn dev(data_dir: &Path, envs: &[(&str, &str)]) -> Self {
        let dir = data_dir.to_str().unwrap();
        Self::start(&["dev", "--listen", "127.0.0.1:0", "--data-dir", dir], envs)
            .await
            .unwrap_or_else(|e| panic!("dev node failed to start: {e:?}"))
    }

    /// The node's `/metrics` text (from its metrics listener when it has one).
    pub async fn metrics(&self) -> String {
        let url = self
            .metrics_url
            .clone()
            .unwrap_or_else(|| self.url("/metrics"));
        http().get(url).send().await.unwrap().text().await.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The node's process id (while it runs).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the node is running")
    }

    /// SIGKILL: the node gets no chance to clean up.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, then wait for a clean exit (dev mode stops its anvil, which saves its state).
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            )
            .ok();
        }
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("lit-node did not stop within 30 s after SIGTERM")
            .unwrap();
        assert!(
            status.success(),
            "lit-node exited with {status} after SIGTERM"
        );
    }
}

/// Runs `lit-node ARGS` expecting it to fail; returns its exit code and stderr.
pub async fn expect_start_failure(args: &[&str], envs: &[(&str, &str)]) -> Exited {
    match NodeProcess::start(args, envs).await {
        Ok(node) => panic!(
            "lit-node started at {} but should have failed",
            node.base_url
        ),
        Err(exited) => exited,
    }
}

async fn wait_exit(mut child: Child) -> Exited {
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("lit-node did not exit")
        .unwrap();
    Exited {
        code: status.code(),
        stderr,
    }
}

/// A real anvil on a free port, killed on drop.
pub fn start_anvil(chain_id: u64) -> alloy::node_bindings::AnvilInstance {
    alloy::node_bindings::Anvil::at(tool("anvil"))
        .chain_id(chain_id)
        .try_spawn()
        .expect("start anvil")
}

/// The admin payer and payer addresses `lit-node payers` prints for `root_secret`.
pub async fn payers_of(root_secret: &str, payer_count: u32) -> serde_json::Value {
    let output = node_command(
        &["payers"],
        &[
            ("LIT_NODE_ROOT_SECRET", root_secret),
            ("LIT_NODE_CHAIN__PAYER_COUNT", &payer_count.to_string()),
        ],
    )
    .output()
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Runs the operator's deploy script (`script/Deploy.s.sol`, real forge) against `rpc_url` as
/// anvil's first prefunded account, registering `payers` (as [`payers_of`] prints them); writes
/// the deployment JSON to `out` and returns it.
pub async fn forge_deploy(
    rpc_url: &str,
    payers: &serde_json::Value,
    out: &Path,
) -> serde_json::Value {
    let payer_list: Vec<&str> = payers["payers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let output = Command::new(tool("forge"))
        .current_dir(project_root())
        .args([
            "script",
            "script/Deploy.s.sol",
            "--rpc-url",
            rpc_url,
            "--broadcast",
            "--private-key",
            ANVIL_KEY_0,
        ])
        .env("PAYERS", payer_list.join(","))
        .env("ADMIN_PAYER", payers["admin_payer"].as_str().unwrap())
        .env("SIGNERS", payers["node_signer"].as_str().unwrap())
        .env("DEPLOYMENT_OUT", out)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "forge script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

/// anvil's first prefunded dev key (public knowledge): the contracts' owner in tests.
pub const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// `METHOD /core/v1/{path}` on the node at `base_url` with an optional API key and JSON body
/// (ignored for GET); returns the status and the JSON reply.
pub async fn api(
    base_url: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let url = format!("{base_url}/core/v1/{path}");
    let mut request = match method {
        "GET" => http().get(url),
        _ => http().post(url).json(&body),
    };
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `POST new_account` named `name` on the node at `base_url`: (account key, default wallet).
pub async fn new_account(base_url: &str, name: &str) -> (String, String) {
    let created = api_ok(
        base_url,
        "POST",
        "new_account",
        None,
        serde_json::json!({"account_name": name, "account_description": ""}),
    )
    .await;
    (
        created["api_key"].as_str().unwrap().to_string(),
        created["wallet_address"].as_str().unwrap().to_string(),
    )
}

/// [`api`], asserting a 200; returns the reply.
pub async fn api_ok(
    base_url: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, answer) = api(base_url, method, path, key, body.clone()).await;
    assert_eq!(status, 200, "{path} {body}: {answer}");
    answer
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Sets node configuration on the dev chain of the node at `base_url` as the contracts' owner
/// (anvil's first key). The node must publish its RPC URL (`LIT_NODE_CHAIN__PUBLISH_RPC_URL`).
/// Returns once the transactions are mined, with the block of the last one; the node's mirror
/// follows within its poll interval ([`wait_until_mirrored`]).
pub async fn set_chain_config(base_url: &str, values: &[(&str, &str)]) -> u64 {
    let chain = api_ok(
        base_url,
        "GET",
        "get_node_chain_config",
        None,
        serde_json::Value::Null,
    )
    .await;
    let rpc_url = chain["rpc_url"]
        .as_str()
        .expect("the node must publish its RPC URL");
    let address: alloy::primitives::Address = chain["contracts"]["NodeConfig"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let provider = chain_owner(rpc_url);
    let contract = lit_node::chain::bindings::NodeConfig::new(address, &provider);
    let mut block = 0;
    for (name, value) in values {
        let receipt = contract
            .setConfig(name.to_string(), value.to_string())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "setConfig({name}) reverted");
        block = receipt.block_number.unwrap();
    }
    block
}

/// Waits until the mirror of the node at `base_url` has applied `block` (its `/health`).
pub async fn wait_until_mirrored(base_url: &str, block: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let health: serde_json::Value = http()
            .get(format!("{base_url}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if health["mirror_block"].as_u64().unwrap() >= block {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mirror never applied block {block}: {health}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the sample `name` (with its labels, if any) in Prometheus text `metrics`.
pub fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (sample, value) = line.rsplit_once(' ')?;
        (sample == name).then(|| value.parse().unwrap())
    })
}

/// A provider for the dev chain at `rpc_url` signing as the contracts' owner (anvil's first
/// prefunded key, public knowledge).
pub fn chain_owner(rpc_url: &str) -> impl alloy::providers::Provider + Clone {
    let owner: alloy::signers::local::PrivateKeySigner =
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap();
    alloy::providers::ProviderBuilder::new()
        .wallet(owner)
        .connect_http(rpc_url.parse().unwrap())
}
