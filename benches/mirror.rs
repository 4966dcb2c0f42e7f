//! Mirror benchmark (`cargo bench --bench mirror`): fills a private anvil chain with registry
//! events from `contracts/bench/EventGenerator.sol`, then measures
//!   1. the raw `eth_getLogs` rate over the whole range, chunked as the indexer chunks it,
//!   2. the indexer's catch-up rate (`Indexer::sync_once` into a fresh store),
//!   3. `Permissions::can_use_wallet` latency over random hits and misses, cold then warm caches,
//!
//! and prints them next to their targets. Environment: `BENCH_EVENTS` (default 100000),
//! `BENCH_ACCOUNTS_PER_TX` (default 4; one transaction per block), `BENCH_CHECKS` (default 1000000).
//! Started without `--bench` (as `cargo test --all-targets` does) it makes a small smoke run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use anyhow::{bail, ensure, Context, Result};
use lit_node::chain::bindings::NodeConfig;
use lit_node::chain::deploy::deploy_contracts;
use lit_node::chain::Deployment;
use lit_node::config::MirrorConfig;
use lit_node::indexer::{Contracts, Indexer, IndexerConfig};
use lit_node::store::permissions::Permissions;
use lit_node::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

alloy::sol! {
    #[sol(rpc)]
    contract EventGenerator {
        function EVENTS_PER_ACCOUNT() external view returns (uint256);
        function generate(uint256 firstAccount, uint256 count) external;
        function derive(bytes32 tag, uint256 i) external pure returns (bytes32);
        function deriveWallet(bytes32 tag, uint256 i) external pure returns (address);
        function cidHash(uint256 i, uint256 k) external pure returns (bytes32);
    }
}

/// anvil's first dev key: the contracts' owner and the sender of every transaction.
const OWNER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ANVIL: &str = ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
const FORGE: &str = ".tools/node_modules/.bin/forge";
const GENERATOR_SOURCE: &str = "contracts/bench/EventGenerator.sol";
const GENERATOR_ARTIFACT: &str = "target/forge/out/EventGenerator.sol/EventGenerator.json";
const BLOCK_GAS_LIMIT: u64 = 1_000_000_000;
/// Gas limit per generated account (one uses about 1.45M).
const GAS_PER_ACCOUNT: u64 = 2_000_000;
/// Blocks per `eth_getLogs` request, as the node's indexer is configured.
const RANGE_BLOCKS: u64 = 2000;
const RUNS: usize = 3;
const SEED: u64 = 0x5eed;

const TARGET_INDEX_RATIO: f64 = 0.5;
const TARGET_P99_MICROS: f64 = 20.0;

// Tags of EventGenerator's derived identifiers.
const ACCOUNT_TAG: &str = "lit-bench/account";
const USAGE_KEY_TAG: &str = "lit-bench/usage-key";
const WALLET_1_TAG: &str = "lit-bench/wallet-1";
const WALLET_2_TAG: &str = "lit-bench/wallet-2";

struct Settings {
    events: u64,
    accounts_per_tx: u64,
    /// Empty blocks mined after each generate transaction, spreading the events over more blocks.
    empty_blocks: u64,
    checks: usize,
}

impl Settings {
    /// Full size under `cargo bench` (which passes `--bench`); a quick smoke run otherwise, since
    /// `cargo test --all-targets` runs this program too. The environment overrides both.
    fn from_env() -> Result<Self> {
        let full = std::env::args().any(|arg| arg == "--bench");
        let (events, checks) = if full {
            (100_000, 1_000_000)
        } else {
            (200, 10_000)
        };
        if !full {
            println!("smoke run (not started by `cargo bench`): {events} events, {checks} checks");
        }
        Ok(Self {
            events: env_u64("BENCH_EVENTS", events)?,
            accounts_per_tx: env_u64("BENCH_ACCOUNTS_PER_TX", 4)?.max(1),
            empty_blocks: env_u64("BENCH_EMPTY_BLOCKS", 0)?,
            checks: env_u64("BENCH_CHECKS", checks)?.max(1) as usize,
        })
    }
}

fn env_u64(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("{name}={value} is not a number")),
        Err(_) => Ok(default),
    }
}

fn project_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------- the generator's identifiers

/// `EventGenerator.derive`: keccak256(abi.encode(bytes32(tag), i)).
fn derive(tag: &str, i: u64) -> B256 {
    keccak256((B256::right_padding_from(tag.as_bytes()), U256::from(i)).abi_encode())
}

fn derive_wallet(tag: &str, i: u64) -> Address {
    Address::from_word(derive(tag, i))
}

fn cid_hash(i: u64, k: u64) -> B256 {
    keccak256(format!("bench-{i}-{k}"))
}

/// Fails if the identifiers above drifted from the contract's.
async fn check_derivations(
    generator: &EventGenerator::EventGeneratorInstance<DynProvider>,
) -> Result<()> {
    let i = 7;
    let tag = B256::right_padding_from(ACCOUNT_TAG.as_bytes());
    let wallet_tag = B256::right_padding_from(WALLET_2_TAG.as_bytes());
    ensure!(
        generator.derive(tag, U256::from(i)).call().await? == derive(ACCOUNT_TAG, i),
        "derive() drifted"
    );
    ensure!(
        generator
            .deriveWallet(wallet_tag, U256::from(i))
            .call()
            .await?
            == derive_wallet(WALLET_2_TAG, i),
        "deriveWallet() drifted"
    );
    ensure!(
        generator
            .cidHash(U256::from(i), U256::from(2))
            .call()
            .await?
            == cid_hash(i, 2),
        "cidHash() drifted"
    );
    Ok(())
}

// ---------------------------------------------------------------- chain set-up

/// The chain under test: anvil (stopped on drop), the deployment and the generator.
struct Chain {
    _anvil: AnvilInstance,
    rpc_url: String,
    provider: DynProvider,
    owner: Address,
    deployment: Deployment,
    generator: Address,
}

impl Chain {
    fn contracts(&self) -> Result<Contracts> {
        Ok(Contracts {
            registry: self.deployment.contract_address,
            node_config: self.deployment.node_config()?,
        })
    }
}

/// anvil on a free port, with room for large `generate` transactions.
fn spawn_anvil() -> Result<AnvilInstance> {
    Anvil::at(project_root().join(ANVIL))
        .args(["--gas-limit", &BLOCK_GAS_LIMIT.to_string()])
        // Keep no historical states: anvil otherwise spills them to disk (tens of GB for this chain).
        .arg("--prune-history")
        .try_spawn()
        .context("cannot start anvil (run script/setup.sh)")
}

async fn set_up_chain() -> Result<Chain> {
    let anvil = spawn_anvil()?;
    let rpc_url = anvil.endpoint();
    let owner: PrivateKeySigner = OWNER_KEY.parse()?;
    let owner_address = owner.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(rpc_url.parse()?)
        .erased();
    let deployment = deploy_contracts(&rpc_url, owner, owner_address, &[], &[]).await?;
    let generator = deploy_generator(&provider, deployment.contract_address).await?;
    let receipt = NodeConfig::new(deployment.node_config()?, &provider)
        .addPayer(generator)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(receipt.status(), "addPayer(generator) reverted");
    Ok(Chain {
        _anvil: anvil,
        rpc_url,
        provider,
        owner: owner_address,
        deployment,
        generator,
    })
}

/// EventGenerator's creation bytecode from the forge artifact (built first when missing or stale).
fn generator_bytecode() -> Result<Vec<u8>> {
    let root = project_root();
    let artifact = root.join(GENERATOR_ARTIFACT);
    if is_stale(&artifact, &root.join(GENERATOR_SOURCE)) {
        forge_build(root)?;
    }
    let text = std::fs::read_to_string(&artifact)
        .with_context(|| format!("cannot read {}", artifact.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let object = json["bytecode"]["object"]
        .as_str()
        .context("artifact has no bytecode.object")?;
    Ok(hex::decode(object.trim_start_matches("0x"))?)
}

fn is_stale(artifact: &Path, source: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match (modified(artifact), modified(source)) {
        (Some(built), Some(edited)) => edited > built,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

fn forge_build(root: &Path) -> Result<()> {
    let pinned = root.join(FORGE);
    let forge = if pinned.exists() {
        pinned
    } else {
        PathBuf::from("forge")
    };
    println!("building the contracts ({} build)", forge.display());
    let status = Command::new(&forge)
        .arg("build")
        .current_dir(root)
        .status()
        .context("cannot run forge")?;
    ensure!(status.success(), "forge build failed");
    Ok(())
}

async fn deploy_generator(provider: &DynProvider, registry: Address) -> Result<Address> {
    let mut code = generator_bytecode()?;
    code.extend_from_slice(&registry.abi_encode());
    let tx = TransactionRequest::default().with_deploy_code(code);
    let receipt = provider.send_transaction(tx).await?.get_receipt().await?;
    ensure!(receipt.status(), "deploying EventGenerator reverted");
    receipt
        .contract_address
        .context("no address for EventGenerator")
}

// ---------------------------------------------------------------- event generation

/// What generation put on the chain.
struct Generated {
    accounts: u64,
    events: u64,
    transactions: u64,
}

/// Creates enough accounts for `settings.events` events, `accounts_per_tx` per transaction and
/// one transaction per block (automining is off meanwhile, so the layout is deterministic).
async fn generate_events(chain: &Chain, settings: &Settings) -> Result<Generated> {
    let generator = EventGenerator::new(chain.generator, chain.provider.clone());
    check_derivations(&generator).await?;
    let per_account: u64 = generator.EVENTS_PER_ACCOUNT().call().await?.try_into()?;
    // At least two, so a check can name another account's wallet.
    let accounts = settings.events.div_ceil(per_account).max(2);
    let mut nonce = chain.provider.get_transaction_count(chain.owner).await?;
    let mut transactions = 0;
    chain.provider.anvil_set_auto_mine(false).await?;
    let started = Instant::now();
    for first in (0..accounts).step_by(settings.accounts_per_tx as usize) {
        let count = settings.accounts_per_tx.min(accounts - first);
        send_batch(chain, &generator, first, count, nonce).await?;
        if settings.empty_blocks > 0 {
            chain
                .provider
                .anvil_mine(Some(settings.empty_blocks), None)
                .await?;
        }
        nonce += 1;
        transactions += 1;
        if transactions % 100 == 0 {
            let done = first + count;
            eprintln!(
                "  {done}/{accounts} accounts after {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    chain.provider.anvil_set_auto_mine(true).await?;
    Ok(Generated {
        accounts,
        events: accounts * per_account,
        transactions,
    })
}

/// One `generate(first, count)` transaction in a block of its own.
async fn send_batch(
    chain: &Chain,
    generator: &EventGenerator::EventGeneratorInstance<DynProvider>,
    first: u64,
    count: u64,
    nonce: u64,
) -> Result<()> {
    let pending = generator
        .generate(U256::from(first), U256::from(count))
        .gas(GAS_PER_ACCOUNT * count)
        .nonce(nonce)
        .send()
        .await?;
    chain.provider.evm_mine(None).await?;
    let receipt = chain
        .provider
        .get_transaction_receipt(*pending.tx_hash())
        .await?
        .with_context(|| format!("generate({first}, {count}) was not mined"))?;
    ensure!(receipt.status(), "generate({first}, {count}) reverted");
    Ok(())
}

// ---------------------------------------------------------------- throughput

/// One timed pass over the chain.
#[derive(Clone, Copy)]
struct Run {
    events: u64,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// The run with the median rate.
fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    sorted[sorted.len() / 2]
}

/// `[from, to]` in chunks of at most `size` blocks, as the indexer walks it.
fn chunks(from: u64, to: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    (from..=to)
        .step_by(size as usize)
        .map(move |start| (start, to.min(start + size - 1)))
}

/// `eth_getLogs` for both contracts over `[from, to]`, without decoding any event.
async fn fetch_raw(
    provider: &DynProvider,
    contracts: &Contracts,
    from: u64,
    to: u64,
) -> Result<Run> {
    let started = Instant::now();
    let mut events = 0;
    for (start, end) in chunks(from, to, RANGE_BLOCKS) {
        let filter = Filter::new()
            .address(vec![contracts.registry, contracts.node_config])
            .from_block(start)
            .to_block(end);
        events += provider.get_logs(&filter).await?.len() as u64;
    }
    Ok(Run {
        events,
        elapsed: started.elapsed(),
    })
}

fn indexer_config(chain: &Chain) -> Result<IndexerConfig> {
    let defaults = MirrorConfig::default();
    Ok(IndexerConfig {
        rpc_url: chain.rpc_url.clone(),
        ws_url: None,
        contracts: chain.contracts()?,
        deployment_block: chain.deployment.deployment_block,
        reorg_depth: defaults.reorg_depth,
        poll_interval: Duration::from_millis(defaults.poll_interval_ms),
        range_blocks: RANGE_BLOCKS,
        max_lag_blocks: defaults.max_lag_blocks,
        max_rpc_silence: Duration::from_secs(defaults.max_rpc_silence_secs),
    })
}

/// A mirror built by one indexing run (its directory is deleted on drop).
struct Mirror {
    _dir: tempfile::TempDir,
    permissions: Permissions,
}

/// Indexes the chain from scratch into a fresh store; times `sync_once` only.
async fn index_fresh(config: &IndexerConfig) -> Result<(Run, Mirror)> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let permissions = Permissions::new(store.clone());
    let indexer = Indexer::new(store, permissions.clone(), config.clone())?;
    let started = Instant::now();
    let report = indexer.sync_once().await?;
    let run = Run {
        events: report.events,
        elapsed: started.elapsed(),
    };
    Ok((
        run,
        Mirror {
            _dir: dir,
            permissions,
        },
    ))
}

fn print_run(what: &str, run: &Run) {
    println!(
        "{what}: {} events in {:.3} s",
        run.events,
        run.elapsed.as_secs_f64()
    );
}

/// Median of RUNS raw fetches.
async fn measure_raw(
    provider: &DynProvider,
    contracts: &Contracts,
    from: u64,
    to: u64,
) -> Result<Run> {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let run = fetch_raw(provider, contracts, from, to).await?;
        print_run("raw fetch", &run);
        runs.push(run);
    }
    Ok(median(&runs))
}

/// Median of RUNS indexing runs, each into a fresh store; keeps the last mirror.
async fn measure_indexing(config: &IndexerConfig, chain_events: u64) -> Result<(Run, Mirror)> {
    let mut runs = Vec::new();
    let mut mirror = None;
    for _ in 0..RUNS {
        drop(mirror.take());
        let (run, built) = index_fresh(config).await?;
        print_run("indexing", &run);
        ensure!(
            run.events == chain_events,
            "indexed {} events, the chain has {chain_events}",
            run.events
        );
        runs.push(run);
        mirror = Some(built);
    }
    Ok((median(&runs), mirror.context("no indexing run")?))
}

// ---------------------------------------------------------------- permission latency

/// One `can_use_wallet` question and the answer the generator's layout implies.
struct Check {
    key: B256,
    cid: B256,
    wallet: Address,
    expected: bool,
}

/// A random check about account `i`: its account or usage key; one of its three cids or a random
/// hash; its wallet 1 or 2, another account's wallet or a random address. Only the account key
/// may use wallet 2 or cid 2; nobody may use a wallet of another account.
fn random_check(rng: &mut StdRng, accounts: u64) -> Check {
    let i = rng.gen_range(0..accounts);
    let by_account_key = rng.gen_bool(0.5);
    let key = derive(
        if by_account_key {
            ACCOUNT_TAG
        } else {
            USAGE_KEY_TAG
        },
        i,
    );
    let cid_index = rng.gen_range(0..4u64);
    let cid = if cid_index < 3 {
        cid_hash(i, cid_index)
    } else {
        B256::from(rng.gen::<[u8; 32]>())
    };
    let (wallet, own_wallet) = match rng.gen_range(0..4) {
        0 => (derive_wallet(WALLET_1_TAG, i), Some(1)),
        1 => (derive_wallet(WALLET_2_TAG, i), Some(2)),
        2 => (
            derive_wallet(
                WALLET_1_TAG,
                (i + rng.gen_range(1..accounts.max(2))) % accounts,
            ),
            None,
        ),
        _ => (Address::from(rng.gen::<[u8; 20]>()), None),
    };
    let in_group = own_wallet == Some(1) && cid_index < 2;
    let expected = own_wallet.is_some() && (by_account_key || in_group);
    Check {
        key,
        cid,
        wallet,
        expected,
    }
}

/// Latency of each check, in nanoseconds; fails on a wrong answer (checked outside the timing).
fn time_checks(permissions: &Permissions, checks: &[Check]) -> Result<Vec<u64>> {
    let mut nanos = Vec::with_capacity(checks.len());
    for check in checks {
        let started = Instant::now();
        let allowed = permissions.can_use_wallet(&check.key, &check.cid, &check.wallet)?;
        nanos.push(started.elapsed().as_nanos() as u64);
        if allowed != check.expected {
            bail!(
                "can_use_wallet({}, {}, {}) = {allowed}, expected {}",
                check.key,
                check.cid,
                check.wallet,
                check.expected
            );
        }
    }
    Ok(nanos)
}

/// p50, p99 and p99.9 in microseconds.
struct Percentiles([f64; 3]);

impl Percentiles {
    fn of(mut nanos: Vec<u64>) -> Self {
        nanos.sort_unstable();
        let at = |p: f64| nanos[((nanos.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
        Self([at(0.50), at(0.99), at(0.999)])
    }
}

struct Latency {
    hit_rate: f64,
    cold: Percentiles,
    warm: Percentiles,
}

/// Cold pass (caches empty after indexing), then the same checks again on warm caches.
fn measure_latency(permissions: &Permissions, accounts: u64, count: usize) -> Result<Latency> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let checks: Vec<Check> = (0..count)
        .map(|_| random_check(&mut rng, accounts))
        .collect();
    let hits = checks.iter().filter(|c| c.expected).count();
    let cold = Percentiles::of(time_checks(permissions, &checks)?);
    let warm = Percentiles::of(time_checks(permissions, &checks)?);
    Ok(Latency {
        hit_rate: hits as f64 / count as f64,
        cold,
        warm,
    })
}

// ---------------------------------------------------------------- report

struct Results {
    generated: Generated,
    blocks: u64,
    generation: Duration,
    raw: Run,
    indexing: Run,
    latency: Latency,
    checks: usize,
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn print_table(r: &Results) {
    let ratio = r.indexing.rate() / r.raw.rate();
    let (cold, warm) = (&r.latency.cold.0, &r.latency.warm.0);
    println!();
    println!(
        "mirror benchmark: {} events ({} accounts) in {} blocks, {} generate txs; {} cores; medians of {RUNS}",
        r.raw.events,
        r.generated.accounts,
        r.blocks,
        r.generated.transactions,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("{:<44} {:>22} {:>10}", "measure", "value", "target");
    let row =
        |name: &str, value: String, target: &str| println!("{name:<44} {value:>22} {target:>10}");
    row(
        "generation (anvil, once)",
        format!("{:.1} s", r.generation.as_secs_f64()),
        "",
    );
    row(
        "raw eth_getLogs",
        format!("{:.0} events/s", r.raw.rate()),
        "",
    );
    row(
        "indexing, sync_once into a fresh store",
        format!("{:.0} events/s", r.indexing.rate()),
        "",
    );
    row(
        "indexing / raw",
        format!(
            "{:.0}% {}",
            ratio * 100.0,
            verdict(ratio >= TARGET_INDEX_RATIO)
        ),
        ">= 50%",
    );
    let checks = format!(
        "can_use_wallet x {}, {:.0}% hits",
        r.checks,
        r.latency.hit_rate * 100.0
    );
    println!("{checks}: cold / warm caches, µs");
    for (i, name) in ["p50", "p99", "p99.9"].iter().enumerate() {
        let target = if i == 1 { "< 20 µs" } else { "" };
        let value = format!("{:.2} / {:.2}", cold[i], warm[i]);
        let value = if i == 1 {
            format!("{value} {}", verdict(warm[i] < TARGET_P99_MICROS))
        } else {
            value
        };
        row(&format!("  {name}"), value, target);
    }
}

// ---------------------------------------------------------------- main

async fn run_benchmark(settings: &Settings) -> Result<Results> {
    let chain = set_up_chain().await?;
    let started = Instant::now();
    let generated = generate_events(&chain, settings).await?;
    let generation = started.elapsed();
    let head = chain.provider.get_block_number().await?;
    let from = chain.deployment.deployment_block;
    println!(
        "generated {} events ({} accounts, {} txs, blocks {from}..={head}) in {:.1} s",
        generated.events,
        generated.accounts,
        generated.transactions,
        generation.as_secs_f64()
    );

    let raw = measure_raw(&chain.provider, &chain.contracts()?, from, head).await?;
    ensure!(
        raw.events >= generated.events,
        "only {} events on the chain, expected {}",
        raw.events,
        generated.events
    );
    let (indexing, mirror) = measure_indexing(&indexer_config(&chain)?, raw.events).await?;

    let latency = measure_latency(&mirror.permissions, generated.accounts, settings.checks)?;
    Ok(Results {
        generated,
        blocks: head - from + 1,
        generation,
        raw,
        indexing,
        latency,
        checks: settings.checks,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    let results = run_benchmark(&settings).await?;
    print_table(&results);
    Ok(())
}
