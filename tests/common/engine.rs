//! Running actions through the real engine without HTTP in front (for the runtime's own tests):
//! the compiled ethers bundle once per test process, and a run on a thread with a worker-sized
//! stack, as the node's pool runs it.

use std::sync::{Arc, OnceLock};

use lit_node::actions::{run_action, ActionOutcome, RunInput, Services};

/// The ethers bundle compiled to bytecode, once per test process.
pub fn ethers_bytecode() -> Arc<Vec<u8>> {
    static BYTECODE: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    BYTECODE
        .get_or_init(|| Arc::new(lit_node::actions::ethers::compile().expect("ethers compiles")))
        .clone()
}

/// Runs `input` on a thread with a worker-sized stack, as the node's pool does.
pub fn run_on_worker_stack(services: &Arc<Services>, input: RunInput) -> ActionOutcome {
    let services = services.clone();
    std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || run_action(services, input))
        .unwrap()
        .join()
        .unwrap()
}
