//! The `lit-node` command line: `dev` (embedded anvil chain), `serve` (configured chain),
//! `payers` (print the payer and node signer addresses a root secret gives, for
//! `script/Deploy.s.sol`),
//! `grant-credit` (credit an account on a dev chain) and `modules export|import` (the lock file of
//! the module pins in a data dir).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lit_node::chain::payers::PayerKeys;
use lit_node::config::{
    ChainFlagOverrides, Config, FlagOverrides, LogFormat, ENV_CONFIG_FILE, ENV_ROOT_SECRET,
};
use lit_node::keys::{KeyDeriver, RootSecret};

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
    /// Print the admin payer, payer and node signer addresses derived from the root secret, as JSON.
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
    /// The pins of imported modules (URL → SHA-384) as a lock file, to pre-seed a node or share
    /// pins between nodes. Run while the node is stopped (its store is open otherwise).
    #[command(subcommand)]
    Modules(ModulesCommand),
}

#[derive(Subcommand)]
enum ModulesCommand {
    /// Print the data dir's pins as a lock file (JSON) on stdout.
    Export(CommonArgs),
    /// Pin every module of a lock file (replacing pins of the same URLs); a bad entry pins nothing.
    Import {
        #[command(flatten)]
        common: CommonArgs,
        /// The lock file (`-` reads stdin)
        file: PathBuf,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    // SAFETY: no other thread exists yet (the async runtime starts below), as changing the
    // environment requires.
    let root_from_env = match unsafe { RootSecret::take_from_env(ENV_ROOT_SECRET) } {
        Ok(root) => root,
        Err(e) => return fail(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli.command, root_from_env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Prints why the command failed (any URL in it reduced to its endpoint); exit code 1.
fn fail(message: &str) -> ExitCode {
    eprintln!("lit-node: {}", lit_node::redact::urls_in(message));
    ExitCode::FAILURE
}

async fn run(command: Command, root_from_env: Option<RootSecret>) -> Result<(), String> {
    match command {
        Command::Dev(common) => {
            let config = common.load(None).map_err(|e| e.to_string())?;
            lit_node::logging::init(config.log_format);
            lit_node::node::run_dev(config, root_from_env)
                .await
                .map_err(|e| e.to_string())
        }
        Command::Serve {
            common,
            rpc_url,
            deployment,
        } => {
            let config = common
                .load_with_chain(rpc_url, deployment)
                .map_err(|e| e.to_string())?;
            lit_node::logging::init(config.log_format);
            lit_node::node::run_serve(config, root_from_env)
                .await
                .map_err(|e| e.to_string())
        }
        Command::Payers(common) => {
            let config = common.load(None).map_err(|e| e.to_string())?;
            print_payers(config, root_from_env)
        }
        Command::GrantCredit {
            common,
            account,
            cents,
            rpc_url,
            deployment,
        } => {
            let config = common
                .load_with_chain(rpc_url, deployment)
                .map_err(|e| e.to_string())?;
            grant_credit(config, root_from_env, &account, cents).await
        }
        Command::Modules(command) => modules(command),
    }
}

/// `lit-node modules export|import`.
fn modules(command: ModulesCommand) -> Result<(), String> {
    use lit_node::actions::modules::lock;
    let open = |common: &CommonArgs| {
        let config = common.load(None).map_err(|e| e.to_string())?;
        lit_node::store::Store::open(&config.data_dir).map_err(|e| e.to_string())
    };
    match command {
        ModulesCommand::Export(common) => {
            let lock = lock::export(&open(&common)?)?;
            let text = serde_json::to_string_pretty(&lock).map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(())
        }
        ModulesCommand::Import { common, file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let lock: lock::LockFile = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a module lock file: {e}", file.display()))?;
            let pinned = lock::import(&open(&common)?, &lock)?;
            println!("{}", serde_json::json!({ "pinned": pinned }));
            Ok(())
        }
    }
}

async fn grant_credit(
    config: Config,
    root_from_env: Option<RootSecret>,
    account: &str,
    cents: u64,
) -> Result<(), String> {
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
    let root =
        lit_node::node::load_root_secret(&config, root_from_env).map_err(|e| e.to_string())?;
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

fn print_payers(config: Config, root_from_env: Option<RootSecret>) -> Result<(), String> {
    let root =
        lit_node::node::load_root_secret(&config, root_from_env).map_err(|e| e.to_string())?;
    let keys = KeyDeriver::new(&root);
    let payers = PayerKeys::derive(&keys, config.chain.payer_count);
    let signer = lit_node::chain::wallet_registration::NodeSigner::derive(&keys);
    let out = serde_json::json!({
        "admin_payer": format!("{:#x}", payers.admin.address()),
        "payers": payers.payer_addresses().iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>(),
        "node_signer": format!("{:#x}", signer.address()),
    });
    println!("{out}");
    Ok(())
}
