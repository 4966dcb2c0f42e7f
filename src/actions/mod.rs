//! Lit Actions (spec/actions.md): code identity (CIDs), the limits in force, and the embedded
//! QuickJS runtime — a bounded pool of worker threads, each run in a fresh runtime and context
//! with the `Lit.Actions` API, web globals, `fetch`, and a lazily loaded, natively accelerated
//! ethers v5.

/// Adds a native function `name` to a JS object (used by `host`, `realm` and `ethers`). The
/// closure takes the context first and returns `rquickjs::Result`; its body runs inside
/// [`guard::call`], so a panic in it is contained (see `guard`).
macro_rules! native {
    ($object:expr, $ctx:expr, $name:expr, move |$c:ident: Ctx<$lt:lifetime $(,)?> $(, $arg:ident: $ty:ty)* $(,)?| $body:expr) => {
        $object.set(
            $name,
            rquickjs::Function::new(
                $ctx.clone(),
                move |$c: rquickjs::Ctx<$lt> $(, $arg: $ty)*| {
                    $crate::actions::guard::call(&$c.clone(), std::panic::AssertUnwindSafe(|| $body))
                },
            )?
            .with_name($name)?,
        )?
    };
    ($object:expr, $ctx:expr, $name:expr, |$c:ident: Ctx<$lt:lifetime $(,)?> $(, $arg:ident: $ty:ty)* $(,)?| $body:expr) => {
        $object.set(
            $name,
            rquickjs::Function::new(
                $ctx.clone(),
                |$c: rquickjs::Ctx<$lt> $(, $arg: $ty)*| {
                    $crate::actions::guard::call(&$c.clone(), std::panic::AssertUnwindSafe(|| $body))
                },
            )?
            .with_name($name)?,
        )?
    };
}

pub mod bytecode;
pub mod engine;
pub mod ethers;
mod event_loop;
pub mod fetch;
pub mod guard;
pub mod host;
pub mod js_bytes;
pub mod limits;
pub mod modules;
mod outcome;
pub mod pool;
pub mod priority;
pub mod realm;

pub use engine::{run_action, ActionOutcome, ActionWorker, ParkedRun, Progress};
pub use host::{RunCredit, RunInput, Services};
pub use limits::ActionLimits;
pub use pool::{ActionPool, PoolError, PoolLimits};
