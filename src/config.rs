//! The node's one typed configuration: built-in defaults, then an optional TOML file
//! (`--config` / `LIT_NODE_CONFIG`), then `LIT_NODE_*` environment variables (nested keys with
//! `__`, e.g. `LIT_NODE_CHAIN__RPC_URL`), then command-line flags. Unknown keys are errors, so a
//! typo never silently falls back to a default. Secrets are not part of this struct: the root
//! secret comes from a file or `LIT_NODE_ROOT_SECRET` (see `keys::root_secret`).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// `http.max_body_bytes` unless configured: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Environment variables read directly (not part of the layered config).
pub const ENV_ROOT_SECRET: &str = "LIT_NODE_ROOT_SECRET";
pub const ENV_CONFIG_FILE: &str = "LIT_NODE_CONFIG";
/// Log filter (tracing EnvFilter syntax), read by the binary.
pub const ENV_LOG: &str = "LIT_NODE_LOG";
/// The Stripe secret key (`sk_…`), read directly so it is never part of the printable config.
pub const ENV_STRIPE_SECRET_KEY: &str = "LIT_NODE_STRIPE_SECRET_KEY";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Directory holding the mirror database, the dev chain state and (in dev) the root secret.
    pub data_dir: PathBuf,
    /// `text` (human) or `json` (one object per line).
    pub log_format: LogFormat,
    /// Root secret file (mode 0600). Dev mode defaults to `<data_dir>/root-secret`.
    pub root_secret_file: Option<PathBuf>,
    pub chain: ChainConfig,
    pub mirror: MirrorConfig,
    pub http: HttpConfig,
    pub rate_limit: RateLimitConfig,
    pub actions: ActionsConfig,
    pub billing: BillingConfig,
    pub dev: DevConfig,
}

/// Billing (spec/chain.md, "Billing"): credits on chain, payments through Stripe, metered usage.
/// Off by default (dev): nothing is charged. Prices come from the on-chain node configuration.
/// The Stripe secret key is not here: it comes from `LIT_NODE_STRIPE_SECRET_KEY` or the file
/// named by `stripe_secret_key_file`, so printing the config never shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    pub enabled: bool,
    /// Published by `billing/stripe_config` for clients' Stripe.js (`pk_…`; not a secret).
    pub stripe_publishable_key: String,
    /// File holding the Stripe secret key (used when the environment variable is not set).
    pub stripe_secret_key_file: Option<PathBuf>,
    /// Stripe's REST API base URL (tests point it at a local fake).
    pub stripe_api_base: String,
    /// Per-request timeout of calls to Stripe.
    pub stripe_timeout_ms: u64,
    /// Currency of payments and credits (cents of it).
    pub currency: String,
    /// Smallest top-up `create_payment_intent` accepts.
    pub min_payment_cents: u64,
    /// How often unsettled charges are settled on chain in one transaction per batch.
    pub settle_interval_ms: u64,
    /// Most accounts charged by one settlement transaction.
    pub max_accounts_per_settlement: usize,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            stripe_publishable_key: String::new(),
            stripe_secret_key_file: None,
            stripe_api_base: "https://api.stripe.com".into(),
            stripe_timeout_ms: 15_000,
            currency: "usd".into(),
            min_payment_cents: 500,
            settle_interval_ms: 30_000,
            max_accounts_per_settlement: 200,
        }
    }
}

/// The Lit Actions runtime (spec/actions.md). Per-run limits come from chain configuration;
/// these are the node-local resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// Threads running actions (each owns one QuickJS runtime at a time). 0 = 2 × CPU cores.
    pub workers: usize,
    /// Actions waiting for a worker; beyond this the node answers 429.
    pub queue: usize,
    /// Workers one account may occupy at once, so other accounts always find one
    /// (0 = all but a quarter of the workers, at least one left over).
    pub max_workers_per_account: usize,
    /// Actions one account may have waiting (0 = a quarter of `queue`); beyond it, 429.
    pub max_queued_per_account: usize,
    /// Runs parked while they wait for a fetch, a timer or a module download, all accounts
    /// together: a parked run holds its own runtime but no worker thread. Beyond it a waiting
    /// run keeps its thread while it waits.
    pub max_parked: usize,
    /// Parked runs one account may have (0 = three quarters of `max_parked`).
    pub max_parked_per_account: usize,
    /// Bytes of Lit Action code the node keeps for one account (code run inline, and code given
    /// to `add_action`). Beyond it, the account's least recently used code that none of its
    /// actions references is evicted; code its actions reference is kept.
    pub code_quota_bytes: u64,
    /// Per-request timeout of `fetch` (also bounded by the run's time limit).
    pub fetch_timeout_ms: u64,
    /// Largest `fetch` response body an action may read.
    pub fetch_max_response_bytes: usize,
    /// Let `fetch` reach loopback, private, link-local and metadata addresses. Off by default:
    /// a node must not be an SSRF proxy into its own network. Tests turn it on for a local server.
    pub fetch_allow_private: bool,
    /// Build every worker's ethers realm (~0.2 s of CPU each) before the node reports ready, and
    /// again after a run that took one with it, so no request waits for one. Off: a worker builds
    /// its realm when its first ethers run arrives.
    pub warm_ethers: bool,
    /// Origin of the CDN imported modules come from (jsDelivr's layout: `/npm/<pkg>@<ver>/…`).
    /// Operators may point it at their own mirror; no other origin is ever fetched.
    pub modules_cdn: String,
    /// Bytes of verified module source the node keeps (least recently used evicted first).
    pub module_cache_bytes: u64,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            queue: 256,
            max_workers_per_account: 0,
            max_queued_per_account: 0,
            max_parked: 2048,
            max_parked_per_account: 0,
            code_quota_bytes: 64 * 1024 * 1024,
            fetch_timeout_ms: 15_000,
            fetch_max_response_bytes: 10 * 1024 * 1024,
            fetch_allow_private: false,
            warm_ethers: true,
            modules_cdn: "https://cdn.jsdelivr.net".into(),
            module_cache_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MirrorConfig {
    /// Blocks kept undoable for reorgs; a deeper reorg rebuilds the mirror.
    pub reorg_depth: u64,
    /// How often to poll for new blocks (a WebSocket subscription wakes it sooner).
    pub poll_interval_ms: u64,
    /// Most blocks per `eth_getLogs` request.
    pub range_blocks: u64,
    /// `/health` answers 503 when the mirror is more blocks behind than this…
    pub max_lag_blocks: u64,
    /// …or when the chain RPC has not answered for this long.
    pub max_rpc_silence_secs: u64,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        Self {
            reorg_depth: 64,
            poll_interval_ms: 1000,
            range_blocks: 2000,
            max_lag_blocks: 20,
            max_rpc_silence_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// JSON-RPC endpoint (`serve` requires it; `dev` starts its own anvil).
    pub rpc_url: Option<String>,
    /// WebSocket endpoint for new-head subscriptions (optional; polling otherwise).
    pub ws_url: Option<String>,
    /// Deployment JSON written by `script/Deploy.s.sol` (`serve` requires it).
    pub deployment_file: Option<PathBuf>,
    /// Published by `get_node_chain_config`.
    pub chain_name: String,
    pub testnet: bool,
    pub token: String,
    /// Whether `get_node_chain_config` includes `rpc_url`: `public_rpc_url` when set, else only
    /// the RPC's `scheme://host[:port]` (never its credentials, path or query, which often carry a
    /// provider key).
    pub publish_rpc_url: bool,
    /// The RPC URL clients should use, published as is when `publish_rpc_url` is on; it must
    /// carry nothing secret.
    pub public_rpc_url: Option<String>,
    /// Number of payer accounts (keys derived from the root secret) that send transactions.
    pub payer_count: u32,
    /// A payer below this balance (gwei) is logged as a warning.
    pub low_payer_balance_gwei: u64,
    /// The admin payer sends `top_up_amount_gwei` to a payer below `top_up_below_gwei`
    /// (both 0 = off: the operator funds payers).
    pub top_up_below_gwei: u64,
    pub top_up_amount_gwei: u64,
    /// How often payer balances are read (metrics, warnings, top-ups, dry payers).
    pub balance_check_interval_ms: u64,
    /// Writes waiting for a payer are sent together, up to this many per transaction
    /// (`LitRegistry.batch`); 1 sends every write alone.
    pub max_batch_calls: usize,
    /// Transactions a payer may have sent and not yet mined (consecutive nonces); 1 keeps a payer
    /// from sending again until its transaction is mined.
    pub max_in_flight_per_payer: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest accepted request body; larger → 413.
    pub max_body_bytes: usize,
    /// Whole-request timeout for API handlers.
    pub request_timeout_secs: u64,
    /// A client must send a request's complete head (request line and headers) within this
    /// long; an idle keep-alive connection is closed after it too (slowloris defence).
    pub header_read_timeout_ms: u64,
    /// Open client connections at most (per listener); connections beyond it are closed at once.
    pub max_connections: usize,
    /// Serve `/metrics` on this address instead of the API listener (which then answers 404
    /// there), for operators who keep metrics off the public interface.
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevConfig {
    /// anvil executable; default: `.tools/node_modules/.bin/anvil` of the project, then `PATH`.
    pub anvil_path: Option<PathBuf>,
    pub chain_id: u64,
    /// Seconds between anvil state dumps into the data dir (it also dumps on shutdown).
    pub state_interval_secs: u64,
    /// Extra anvil arguments. The default, `--prune-history=64`, keeps only the newest 64 states in
    /// memory (a dev node never reads older ones), which makes every mined block ~20% cheaper on a
    /// growing chain than full history. Keeping none at all (`--prune-history` alone) made any
    /// client's read of "latest" fail now and then with `BlockOutOfRangeError` when a block was
    /// mined while the read ran.
    pub anvil_args: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: PathBuf::from("data"),
            log_format: LogFormat::Text,
            root_secret_file: None,
            chain: ChainConfig::default(),
            mirror: MirrorConfig::default(),
            http: HttpConfig::default(),
            rate_limit: Default::default(),
            actions: ActionsConfig::default(),
            billing: BillingConfig::default(),
            dev: DevConfig::default(),
        }
    }
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            rpc_url: None,
            ws_url: None,
            deployment_file: None,
            chain_name: "anvil".into(),
            testnet: true,
            token: "ETH".into(),
            publish_rpc_url: false,
            public_rpc_url: None,
            payer_count: 8,
            low_payer_balance_gwei: 10_000_000, // 0.01 ETH
            top_up_below_gwei: 0,
            top_up_amount_gwei: 0,
            balance_check_interval_ms: 30_000,
            max_batch_calls: 64,
            max_in_flight_per_payer: 16,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout_secs: 120,
            header_read_timeout_ms: 10_000,
            max_connections: 1024,
            metrics_listen: None,
        }
    }
}

impl Default for DevConfig {
    fn default() -> Self {
        Self {
            anvil_path: None,
            chain_id: 31337,
            state_interval_secs: 5,
            anvil_args: vec!["--prune-history=64".into()],
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_secret_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainFlagOverrides>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ChainFlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Layers defaults, `file` (if any), the process environment and `flags`.
    pub fn load(file: Option<&Path>, flags: &FlagOverrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment
            .merge(
                Env::prefixed("LIT_NODE_")
                    .ignore(&["ROOT_SECRET", "CONFIG", "LOG", "STRIPE_SECRET_KEY"])
                    .split("__"),
            )
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// The root secret file in force: the configured one, or `<data_dir>/root-secret`.
    pub fn root_secret_path(&self) -> PathBuf {
        self.root_secret_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("root-secret"))
    }
}

/// Per-key and per-IP request limits (`rate_limit.*`), enforced by `api::rate_limit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained requests per second allowed for one API key…
    pub per_key_per_second: u32,
    /// …with bursts up to this many.
    pub per_key_burst: u32,
    /// `new_account` calls per minute allowed from one IP address…
    pub new_account_per_ip_per_minute: u32,
    /// …with bursts up to this many.
    pub new_account_burst: u32,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client for
    /// the per-IP limit. Empty (the default): the TCP peer is the client, the header is ignored.
    pub trusted_proxies: Vec<TrustedProxy>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_key_per_second: 200,
            per_key_burst: 400,
            new_account_per_ip_per_minute: 120,
            new_account_burst: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

/// One trusted proxy in the configuration: an address (`10.0.0.7`, `::1`) or a CIDR block
/// (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustedProxy(IpNet);

impl TryFrom<String> for TrustedProxy {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .map(|net| Self(net.trunc()))
            .or_else(|_| text.parse::<IpAddr>().map(|ip| Self(IpNet::from(ip.to_canonical()))))
            .map_err(|_| {
                format!(
                    "trusted proxy `{text}` is not an IP address or CIDR block (e.g. `10.0.0.7` or `10.0.0.0/8`)"
                )
            })
    }
}

impl From<TrustedProxy> for String {
    fn from(proxy: TrustedProxy) -> Self {
        proxy.to_string()
    }
}

impl std::fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl TrustedProxy {
    /// The proxy's address block.
    pub fn net(&self) -> IpNet {
        self.0
    }
}

#[cfg(test)]
// figment's `Jail` closures return its (large) error type; that signature is the library's.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "node.toml",
                r#"
                listen = "127.0.0.1:9000"
                data_dir = "from-file"
                [chain]
                chain_name = "base-sepolia"
                payer_count = 3
                "#,
            )?;
            jail.set_env("LIT_NODE_DATA_DIR", "from-env");
            jail.set_env("LIT_NODE_CHAIN__TOKEN", "SEP");
            let flags = FlagOverrides {
                listen: Some("127.0.0.1:9100".parse().unwrap()),
                ..Default::default()
            };
            let config = Config::load(Some(Path::new("node.toml")), &flags).unwrap();
            assert_eq!(config.listen, "127.0.0.1:9100".parse().unwrap());
            assert_eq!(config.data_dir, PathBuf::from("from-env"));
            assert_eq!(config.chain.chain_name, "base-sepolia");
            assert_eq!(config.chain.token, "SEP");
            assert_eq!(config.chain.payer_count, 3);
            assert_eq!(config.dev.chain_id, 31337);
            Ok(())
        });
    }

    #[test]
    fn lists_come_from_the_environment_and_billing_is_off_by_default() {
        Jail::expect_with(|jail| {
            let config = Config::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(
                config.dev.anvil_args,
                vec!["--prune-history=64".to_string()]
            );
            assert!(!config.billing.enabled);
            jail.set_env("LIT_NODE_DEV__ANVIL_ARGS", r#"["--block-time", "1"]"#);
            jail.set_env("LIT_NODE_BILLING__ENABLED", "true");
            jail.set_env("LIT_NODE_STRIPE_SECRET_KEY", "sk_test_not_a_config_key");
            let config = Config::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(config.dev.anvil_args, vec!["--block-time", "1"]);
            assert!(config.billing.enabled);
            assert!(!format!("{config:?}").contains("sk_test"));
            Ok(())
        });
    }

    #[test]
    fn http_limits_and_trusted_proxies_come_from_the_environment() {
        Jail::expect_with(|jail| {
            let config = Config::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(config.http.header_read_timeout_ms, 10_000);
            assert_eq!(config.http.max_connections, 1024);
            assert_eq!(config.http.metrics_listen, None);
            assert!(config.rate_limit.trusted_proxies.is_empty());
            jail.set_env("LIT_NODE_HTTP__METRICS_LISTEN", "127.0.0.1:9100");
            jail.set_env(
                "LIT_NODE_RATE_LIMIT__TRUSTED_PROXIES",
                r#"["127.0.0.1", "10.0.0.0/8"]"#,
            );
            let config = Config::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(
                config.http.metrics_listen,
                Some("127.0.0.1:9100".parse().unwrap())
            );
            let proxies: Vec<String> = config
                .rate_limit
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(proxies, ["127.0.0.1/32", "10.0.0.0/8"]);
            jail.set_env("LIT_NODE_RATE_LIMIT__TRUSTED_PROXIES", r#"["proxy.local"]"#);
            let err = Config::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("`proxy.local`"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        Jail::expect_with(|jail| {
            jail.create_file("node.toml", "[chain]\nrpc_ulr = \"http://x\"\n")?;
            let err =
                Config::load(Some(Path::new("node.toml")), &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("rpc_ulr"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn root_secret_env_is_not_a_config_key() {
        Jail::expect_with(|jail| {
            jail.set_env("LIT_NODE_ROOT_SECRET", "ab".repeat(32));
            let config = Config::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(config.root_secret_path(), PathBuf::from("data/root-secret"));
            Ok(())
        });
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let err = Config::load(
            Some(Path::new("/nonexistent/node.toml")),
            &FlagOverrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/node.toml"));
    }
}
