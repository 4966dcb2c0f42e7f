//! The `lit-node` command line: `dev` (embedded anvil chain), `serve` (configured chain),
//! `payers` (print the payer addresses a root secret gives, for `script/Deploy.s.sol`) and
//! `grant-credit` (credit an account on a dev chain).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lit_node::chain::payers::PayerKeys;
use lit_node::config::{ChainFlagOverrides, Config, FlagOverrides, LogFormat, ENV_CONFIG_FILE};
use lit_node::keys::KeyDeriver;

#[derive(Parser)]
#[command(
    name = "lit-node",
    version,
    about = "Lit Core v1 node: key management and Lit Actions behind one REST API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a local anvil chain (state kept in the data dir), deploy the contracts on first
    /// start, and serve on 127.0.0.1:8000.
    Dev(CommonArgs),
    /// Serve against a configured chain RPC and deployment file.
    Serve {
        #[command(flatten)]
        common: CommonArgs,
        /// Chain JSON-RPC URL [env: LIT_NODE_CHAIN__RPC_URL]
        #[arg(long)]
        rpc_url: Option<String>,
        /// Deployment JSON written by script/Deploy.s.sol [env: LIT_NODE_CHAIN__DEPLOYMENT_FILE]
        #[arg(long)]
        deployment: Option<PathBuf>,
    },
    /// Print the admin payer and payer addresses derived from the root secret, as JSON.
    Payers(CommonArgs),
    /// Credit an account on a development chain (anvil/Hardhat only), without a payment.
    GrantCredit {
        #[command(flatten)]
        common: CommonArgs,
        /// The account: its account API key, or that key's 0x keccak256 hash
        #[arg(long)]
        account: String,
        /// Cents of credit to add
        #[arg(long)]
        cents: u64,
        /// Chain JSON-RPC URL (default: the running dev node's chain, from the data dir)
        #[arg(long)]
        rpc_url: Option<String>,
        /// Deployment JSON (default: <data-dir>/deployment.json)
        #[arg(long)]
        deployment: Option<PathBuf>,
    },
}

#[derive(Args)]
struct CommonArgs {
    /// TOML configuration file
    #[arg(long, env = ENV_CONFIG_FILE)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8000) [env: LIT_NODE_LISTEN]
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (default ./data) [env: LIT_NODE_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Root secret file, mode 0600 [env: LIT_NODE_ROOT_SECRET_FILE; or the secret itself in LIT_NODE_ROOT_SECRET]
    #[arg(long)]
    root_secret_file: Option<PathBuf>,
    /// Log format: text or json [env: LIT_NODE_LOG_FORMAT]
    #[arg(long, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("unknown log format {other:?}: use text or json")),
    }
}

impl CommonArgs {
    fn load(
        &self,
        chain: Option<ChainFlagOverrides>,
    ) -> Result<Config, lit_node::config::ConfigError> {
        let flags = FlagOverrides {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            log_format: self.log_format,
            root_secret_file: self.root_secret_file.clone(),
            chain,
        };
        Config::load(self.config.as_deref(), &flags)
    }
}

impl CommonArgs {
    /// [`CommonArgs::load`] with the chain flags of `serve` and `grant-credit`.
    fn load_with_chain(
        &self,
        rpc_url: Option<String>,
        deployment: Option<PathBuf>,
    ) -> Result<Config, lit_node::config::ConfigError> {
        self.load(Some(ChainFlagOverrides {
            rpc_url,
            deployment_file: deployment,
        }))
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(lit_node::config::ENV_LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(common) => match common.load(None) {
            Ok(config) => {
                init_logging(config.log_format);
                lit_node::node::run_dev(config)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Serve {
            common,
            rpc_url,
            deployment,
        } => match common.load_with_chain(rpc_url, deployment) {
            Ok(config) => {
                init_logging(config.log_format);
                lit_node::node::run_serve(config)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Payers(common) => common
            .load(None)
            .map_err(|e| e.to_string())
            .and_then(print_payers),
        Command::GrantCredit {
            common,
            account,
            cents,
            rpc_url,
            deployment,
        } => match common.load_with_chain(rpc_url, deployment) {
            Ok(config) => grant_credit(config, &account, cents).await,
            Err(e) => Err(e.to_string()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lit-node: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn grant_credit(config: Config, account: &str, cents: u64) -> Result<(), String> {
    let rpc_url = match &config.chain.rpc_url {
        Some(url) => url.clone(),
        None => {
            let path = config.data_dir.join(lit_node::node::DEV_RPC_URL_FILE);
            std::fs::read_to_string(&path)
                .map(|url| url.trim().to_string())
                .map_err(|_| {
                    format!(
                        "no --rpc-url given and no running dev node's chain recorded in {}",
                        path.display()
                    )
                })?
        }
    };
    let deployment_path = config
        .chain
        .deployment_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("deployment.json"));
    let deployment =
        lit_node::chain::Deployment::load(&deployment_path).map_err(|e| e.to_string())?;
    let root = lit_node::node::load_root_secret(&config).map_err(|e| e.to_string())?;
    let payers = PayerKeys::derive(&KeyDeriver::new(&root), config.chain.payer_count);
    let payer = payers
        .payers
        .first()
        .cloned()
        .ok_or("chain.payer_count is 0: no payer can send the credit")?;
    let account = lit_node::billing::grant::parse_account(account);
    let tx = lit_node::billing::grant::grant_dev_credit(
        &rpc_url,
        deployment.contract_address,
        payer,
        account,
        cents,
    )
    .await?;
    println!(
        "{}",
        serde_json::json!({"account": format!("{account:#x}"), "cents": cents, "tx": format!("{tx:#x}")})
    );
    Ok(())
}

fn print_payers(config: Config) -> Result<(), String> {
    let root = lit_node::node::load_root_secret(&config).map_err(|e| e.to_string())?;
    let payers = PayerKeys::derive(&KeyDeriver::new(&root), config.chain.payer_count);
    let out = serde_json::json!({
        "admin_payer": format!("{:#x}", payers.admin.address()),
        "payers": payers.payer_addresses().iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(())
}
