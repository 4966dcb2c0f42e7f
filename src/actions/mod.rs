//! Lit Actions (spec/actions.md): code identity (CIDs), the limits in force, and the embedded
//! QuickJS runtime — a bounded pool of worker threads, each run in a fresh runtime and context
//! with the `Lit.Actions` API, web globals, `fetch`, and a lazily loaded, natively accelerated
//! ethers v5.

/// Adds a native function `name` to a JS object (used by `host` and `ethers`).
macro_rules! native {
    ($object:expr, $ctx:expr, $name:expr, $f:expr) => {
        $object.set(
            $name,
            rquickjs::Function::new($ctx.clone(), $f)?.with_name($name)?,
        )?
    };
}

pub mod bytecode;
pub mod cid;
pub mod engine;
pub mod ethers;
pub mod fetch;
pub mod host;
pub mod limits;
pub mod pool;
pub mod realm;

pub use engine::{run_action, ActionOutcome, ActionWorker};
pub use host::{RunCredit, RunInput, Services};
pub use limits::ActionLimits;
pub use pool::{ActionPool, PoolError};
