//! Panic containment for the native (Rust) functions an action can reach. Every native is built
//! by the `native!` macro, which runs its body through [`call`]: a panic there becomes an ordinary
//! JavaScript exception for the action, and marks the worker thread's current run as broken, so
//! the engine stops it at its next interrupt check, answers `has_error: true`, and discards the
//! runtime. (Left to rquickjs, a panic is stored and re-raised at whatever later point of the
//! runtime next sees an exception — possibly in another run — and a Rust panic unwinding out of a
//! run used to leave QuickJS objects alive when the runtime was freed, which aborts the process.)

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, UnwindSafe};

use rquickjs::{Ctx, Exception};

/// What a run that hit a panic answers (the details go to the node's log, not to the action).
pub const INTERNAL_ERROR: &str =
    "internal error in the Lit Action runtime; the run was stopped (this is a bug of the node, not of your action)";

thread_local! {
    /// Set when a native function of the run on this thread panicked.
    static PANICKED: Cell<bool> = const { Cell::new(false) };
}

/// Runs a native function's body; a panic becomes a JavaScript exception and marks the run.
pub fn call<'js, T>(
    ctx: &Ctx<'js>,
    body: impl FnOnce() -> rquickjs::Result<T> + UnwindSafe,
) -> rquickjs::Result<T> {
    match catch_unwind(body) {
        Ok(result) => result,
        Err(payload) => {
            record_panic(payload.as_ref());
            Err(Exception::throw_internal(ctx, INTERNAL_ERROR))
        }
    }
}

/// Marks the current run as broken by a panic and logs what panicked.
pub fn record_panic(payload: &(dyn Any + Send)) {
    PANICKED.with(|flag| flag.set(true));
    metrics::counter!("lit_node_action_panics_total").increment(1);
    tracing::error!(
        panic = panic_text(payload),
        "a Lit Action native function panicked; the run is stopped and its runtime discarded"
    );
}

/// Whether a native function of the run on this thread panicked.
pub fn panicked() -> bool {
    PANICKED.with(Cell::get)
}

/// Clears the mark before a run starts.
pub fn reset() {
    PANICKED.with(|flag| flag.set(false));
}

/// The message of a panic payload (`&str` or `String`, as `panic!` makes them).
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
