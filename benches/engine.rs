//! The action engine alone (`cargo bench --bench engine`): what one hello-world run costs a worker
//! thread, without HTTP, queueing or other threads — `ActionWorker::run` then `prepare` (the next
//! run's context), as the pool does — measured in the thread's own CPU time, which other load on
//! a shared host disturbs far less than throughput. Prints the median of several rounds.
//!
//! Environment: `BENCH_RUNS` per round (default 20000; 500 when started without `--bench`).

use std::sync::Arc;
use std::time::Duration;

use lit_node::actions::{ActionLimits, ActionWorker, RunInput, Services};
use lit_node::keys::{KeyDeriver, RootSecret};
use lit_node::store::permissions::Permissions;
use lit_node::store::Store;

const HELLO: &str = r#"async function main() { return "hello"; }"#;

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn input(code: &str) -> RunInput {
    let cid = lit_node::cid::cid_v0(code.as_bytes());
    RunInput {
        code: Arc::from(code),
        cid_hash: lit_node::cid::cid_hash(&cid),
        cid,
        key_hash: alloy::primitives::B256::repeat_byte(1),
        account: alloy::primitives::B256::repeat_byte(2),
        params_json: None,
        limits: ActionLimits::default(),
        headers: Vec::new(),
        credit: None,
        abandoned: Default::default(),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 20_000 } else { 500 });
    let rounds = if full { 7 } else { 2 };
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::open(dir.path()).expect("a store");
    let services = Arc::new(Services {
        keys: KeyDeriver::new(&RootSecret::from_bytes([7; 32])),
        permissions: Permissions::new(store.clone()),
        store,
        fetcher: None,
        ethers: None,
        modules: None,
    });
    let per_run: Vec<f64> = std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            let mut worker = ActionWorker::new(services);
            let mut rounds_us = Vec::new();
            for round in 0..=rounds {
                let started = thread_cpu();
                for _ in 0..runs {
                    let outcome = worker.run(input(HELLO));
                    assert!(!outcome.has_error, "{outcome:?}");
                    worker.prepare();
                }
                let us = (thread_cpu() - started).as_secs_f64() * 1e6 / runs as f64;
                if round > 0 {
                    rounds_us.push(us); // round 0 warms up
                }
            }
            rounds_us
        })
        .expect("a thread")
        .join()
        .expect("the runs");
    let mut sorted = per_run.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "\nengine alone, hello-world: run + prepare = {:.1} µs of thread CPU per run (median of {} rounds of {runs}; rounds {})",
        sorted[sorted.len() / 2],
        sorted.len(),
        per_run
            .iter()
            .map(|us| format!("{us:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
