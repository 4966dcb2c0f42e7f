//! The dev chain: an anvil child process whose state lives in the data dir. anvil loads the state
//! file at start and dumps it periodically and when it receives SIGTERM, so the dev chain (and
//! every account made on it) survives a node restart.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::NodeError;
use crate::config::{ENV_ROOT_SECRET, ENV_STRIPE_SECRET_KEY};

/// Where the project's setup script installs anvil (relative to the project root): the real
/// binary of the npm package, not its Node.js launcher in `.bin/` (one process, direct signals).
const PROJECT_ANVIL: &str = ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Finds anvil: the configured path (must exist), else the project's `.tools`, else `PATH`.
pub fn locate_anvil(configured: Option<&Path>) -> Result<PathBuf, NodeError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(NodeError::AnvilMissing(format!(
                "anvil not found at {} (dev.anvil_path / LIT_NODE_DEV__ANVIL_PATH)",
                path.display()
            )))
        };
    }
    let mut candidates = vec![
        PathBuf::from(PROJECT_ANVIL),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(PROJECT_ANVIL),
    ];
    if let Some(path_var) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path_var).map(|dir| dir.join("anvil")));
    }
    candidates.into_iter().find(|c| c.is_file()).ok_or_else(|| {
        NodeError::AnvilMissing(
            "anvil not found in .tools/ or PATH: run script/setup.sh, or set LIT_NODE_DEV__ANVIL_PATH"
                .into(),
        )
    })
}

/// A running anvil. Stop it with [`AnvilProcess::stop`] so it writes its state; dropping it
/// kills it without saving (the last periodic dump survives).
pub struct AnvilProcess {
    child: Child,
    endpoint: String,
}

impl AnvilProcess {
    /// Starts anvil on a free loopback port with `state_file` as its persistent state.
    pub async fn start(
        anvil: &Path,
        chain_id: u64,
        state_file: &Path,
        state_interval_secs: u64,
        extra_args: &[String],
    ) -> Result<Self, NodeError> {
        let mut command = Command::new(anvil);
        // If this node dies without stopping anvil (even by SIGKILL), the kernel sends anvil
        // SIGTERM, so it still saves its state and never outlives the node.
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
            });
        }
        // anvil needs none of the node's settings and must never see its secrets: the root
        // secret (already gone from this process's environment, see `RootSecret::take_from_env`)
        // and the Stripe key among them.
        for (name, _) in std::env::vars_os() {
            if name.as_encoded_bytes().starts_with(b"LIT_NODE_") {
                command.env_remove(name);
            }
        }
        command
            .env_remove(ENV_ROOT_SECRET)
            .env_remove(ENV_STRIPE_SECRET_KEY);
        let mut child = command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--chain-id", &chain_id.to_string()])
            .arg("--state")
            .arg(state_file)
            .args(["--state-interval", &state_interval_secs.max(1).to_string()])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                NodeError::AnvilFailed(format!("cannot start {}: {e}", anvil.display()))
            })?;

        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let endpoint = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.trim().strip_prefix("Listening on ") {
                    return Some(format!("http://{addr}"));
                }
                seen.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten();

        let Some(endpoint) = endpoint else {
            let _ = child.start_kill();
            let mut stderr = String::new();
            if let Some(mut err) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), err.read_to_string(&mut stderr))
                        .await;
            }
            let tail: Vec<&str> = seen.iter().rev().take(5).map(String::as_str).collect();
            return Err(NodeError::AnvilFailed(format!(
                "anvil did not start: {} {}",
                stderr.trim(),
                tail.join(" | ")
            )));
        };

        // Keep draining anvil's output so it never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::trace!(target: "anvil", "{line}");
            }
        });
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::warn!(target: "anvil", "{line}");
                }
            });
        }
        Ok(Self { child, endpoint })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Asks anvil to exit (SIGTERM: it dumps its state first) and waits for it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(_) => tracing::info!("dev chain stopped; state saved"),
            Err(_) => {
                tracing::warn!("anvil did not exit within {STOP_TIMEOUT:?}; killing it");
                let _ = self.child.kill().await;
            }
        }
    }
}
