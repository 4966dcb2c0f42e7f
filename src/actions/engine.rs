//! Runs Lit Actions (spec/actions.md, "Request and reply") on a worker's QuickJS runtime: a fresh
//! context per run (its own globals, so nothing an action defines survives it), the prelude, the
//! action's top-level code as a classic script, `main(js_params)`, then an event loop that runs
//! promise jobs, fires timers and delivers fetch results until everything settled or a limit is
//! broken. Time is enforced by the interrupt handler while JS runs and by the loop while it waits;
//! memory by the runtime's limit; stack by its stack limit.
//!
//! A worker keeps its runtimes from one run to the next (one of them holds the worker's frozen
//! ethers realm, see `realm`); a run that broke a limit, was interrupted, or left jobs queued takes
//! its runtime (and realm) with it, so the next run starts from a new one.

use std::mem::ManuallyDrop;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Function, Object, Persistent, Runtime, Value};
use serde_json::Value as Json;

use super::bytecode::{self, load_script};
use super::fetch::FetchResponse;
use super::host::{host_object, FetchDone, Host, RunInput, Services};
use super::js_bytes::uint8_array;
use super::realm::EthersRealm;

/// QuickJS's own stack limit; worker threads get a larger OS stack (see `pool`).
pub const JS_STACK_BYTES: usize = 4 * 1024 * 1024;

/// The reply of spec/actions.md: `{response, logs, has_error}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ActionOutcome {
    pub response: Json,
    pub logs: String,
    pub has_error: bool,
    /// Wall time of the run (set by the worker; what billing charges for).
    pub run_time: std::time::Duration,
}

impl ActionOutcome {
    fn failed(message: String, logs: String) -> Self {
        Self {
            response: Json::String(message),
            logs,
            has_error: true,
            run_time: std::time::Duration::ZERO,
        }
    }
}

/// Runs `input` on a runtime of its own and returns the reply (a worker of one run).
pub fn run_action(services: Arc<Services>, input: RunInput) -> ActionOutcome {
    ActionWorker::new(services).run(input)
}

/// Memory a run may find still held by garbage of earlier runs on the same runtime: the collector
/// runs once that much has accumulated, and a run's memory limit leaves room for it.
const CARRIED_GARBAGE_BYTES: usize = 4 * 1024 * 1024;

/// The QuickJS runtimes of one worker thread, reused by its runs: one for actions that use ethers,
/// with the worker's ethers realm, and one for the others. Two, because the collector walks every
/// object of its runtime: a run that does not need ethers should not pay for walking it.
pub struct ActionWorker {
    services: Arc<Services>,
    /// `[for actions that do not use ethers, for those that do]`, created on first use.
    runtimes: [Option<WorkerRuntime>; 2],
    /// Which runtime the last run used (the one [`ActionWorker::prepare`] prepares).
    last_used_ethers: bool,
}

/// A context no action has touched yet, with the prelude's install function loaded into it.
struct SpareContext {
    install: Persistent<Function<'static>>,
    context: Context,
}

impl SpareContext {
    fn new(runtime: &Runtime) -> Result<Self, String> {
        let context = Context::full(runtime).map_err(|e| e.to_string())?;
        let install = context.with(|ctx| {
            load_script(&ctx, bytecode::prelude()?)
                .map(|install| Persistent::save(&ctx, install))
                .map_err(|e| exception_text(&ctx, None, e))
        })?;
        Ok(Self { install, context })
    }
}

struct WorkerRuntime {
    /// A fresh context with the prelude loaded, made after the last reply went out (see
    /// [`ActionWorker::prepare`]).
    spare: Option<SpareContext>,
    realm: Option<Rc<EthersRealm>>,
    /// Bytes held between runs (the runtime itself, and the realm once built).
    base_bytes: usize,
    /// Freed by `Drop` only once nothing of it is left alive (see there).
    runtime: ManuallyDrop<Runtime>,
}

/// Frees the runtime only after everything that holds its objects is gone: the spare context, the
/// realm's link to the last run, and the realm itself. (QuickJS aborts the whole process when a
/// runtime is freed with objects of ours still alive; the test
/// `a_panic_in_the_runtime_ends_only_that_run` frees runtimes on every path a run can end by.)
impl Drop for WorkerRuntime {
    fn drop(&mut self) {
        self.spare = None;
        if let Some(realm) = self.realm.take() {
            realm.unlink();
        }
        self.runtime.set_interrupt_handler(None);
        // SAFETY: dropped exactly once, here; no field uses the runtime afterwards.
        unsafe { ManuallyDrop::drop(&mut self.runtime) };
    }
}

impl WorkerRuntime {
    fn new() -> Result<Self, String> {
        let runtime = Runtime::new().map_err(|e| e.to_string())?;
        runtime.set_max_stack_size(JS_STACK_BYTES);
        // Serves only while a run's static imports load (see modules::loader).
        runtime.set_loader(
            super::modules::loader::CdnResolver,
            super::modules::loader::CdnLoader,
        );
        let base_bytes = usize::try_from(runtime.memory_usage().malloc_size).unwrap_or(0);
        Ok(Self {
            spare: None,
            realm: None,
            base_bytes,
            runtime: ManuallyDrop::new(runtime),
        })
    }

    /// Builds the realm if not built yet. A failure is logged and the run loads its own ethers.
    fn ensure_realm(&mut self, ethers_bytecode: &[u8]) {
        if self.realm.is_some() {
            return;
        }
        self.runtime.set_memory_limit(0);
        self.runtime.set_interrupt_handler(None);
        let started = Instant::now();
        match EthersRealm::build(&self.runtime, ethers_bytecode) {
            Ok(realm) => {
                tracing::debug!(
                    bytes = realm.bytes,
                    frozen_objects = realm.frozen_objects,
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "built a worker's ethers realm"
                );
                metrics::counter!("lit_node_action_ethers_realms_built_total").increment(1);
                self.base_bytes = realm.bytes;
                self.realm = Some(Rc::new(realm));
            }
            Err(error) => tracing::error!(
                %error,
                "the shared ethers realm could not be built; runs load their own ethers"
            ),
        }
    }
}

impl ActionWorker {
    pub fn new(services: Arc<Services>) -> Self {
        Self {
            services,
            runtimes: [None, None],
            last_used_ethers: false,
        }
    }

    /// Does the start of the next run now, while nothing waits for this worker: a fresh context
    /// with the prelude loaded (~0.1 ms), in the runtime the last run used. The pool calls it after
    /// sending a reply, so a lone client's next request finds it ready. The context is new and
    /// untouched, so using it later isolates the run exactly as creating it then would.
    ///
    /// On the runtime without the realm it first collects the last run's garbage (a dead
    /// context is cyclic: only the collector frees it). Then only the runtime's own objects are
    /// alive, so the pass is short (~30 µs for a hello-world), and it falls between requests
    /// instead of pausing a later one for milliseconds at the garbage threshold. The runtime with
    /// the realm is left to its threshold: a pass there walks all of ethers.
    pub fn prepare(&mut self) {
        let ethers = self.last_used_ethers;
        if let Some(worker) = &mut self.runtimes[usize::from(ethers)] {
            if !ethers {
                worker.runtime.run_gc();
            }
            if worker.spare.is_none() {
                worker.spare = SpareContext::new(&worker.runtime).ok();
            }
        }
    }

    /// Builds what the first run of either kind needs, so no request waits for it: both
    /// runtimes, each with its spare context, and the ethers realm (~0.2 s of CPU). The pool
    /// calls it when a worker starts and after each reply; it does nothing when all is there,
    /// and rebuilds what a run that broke a limit took with it.
    pub fn warm_up(&mut self) {
        let ethers = self.services.ethers.clone();
        for (slot, with_ethers) in self.runtimes.iter_mut().zip([false, true]) {
            if slot.is_none() {
                match WorkerRuntime::new() {
                    Ok(runtime) => *slot = Some(runtime),
                    Err(error) => {
                        tracing::error!(%error, "a Lit Action runtime could not start");
                        return;
                    }
                }
            }
            let worker = slot.as_mut().expect("created above");
            if with_ethers {
                if let Some(bytecode) = &ethers {
                    worker.ensure_realm(bytecode);
                }
            }
            if worker.spare.is_none() {
                worker.spare = SpareContext::new(&worker.runtime).ok();
            }
        }
    }

    /// Bytes allocated in the runtime for actions that do not use ethers (for tests).
    pub fn plain_runtime_bytes(&self) -> Option<i64> {
        self.runtimes[0]
            .as_ref()
            .map(|r| r.runtime.memory_usage().malloc_size)
    }

    /// Whether the worker currently holds a built ethers realm (for tests).
    pub fn has_ethers_realm(&self) -> bool {
        self.runtimes[1].as_ref().is_some_and(|r| r.realm.is_some())
    }

    /// Runs `input` and returns the reply. Never panics on anything the action does.
    pub fn run(&mut self, input: RunInput) -> ActionOutcome {
        // An action that names `ethers` runs next to the shared realm; one that reaches it
        // otherwise (`globalThis["eth" + "ers"]`) loads its own copy, slower but the same library.
        let ethers = self
            .services
            .ethers
            .clone()
            .filter(|_| input.code.contains("ethers"));
        self.last_used_ethers = ethers.is_some();
        let slot = &mut self.runtimes[usize::from(ethers.is_some())];
        if slot.is_none() {
            match WorkerRuntime::new() {
                Ok(runtime) => *slot = Some(runtime),
                Err(e) => {
                    return ActionOutcome::failed(
                        format!("the action runtime could not start: {e}"),
                        String::new(),
                    )
                }
            }
        }
        let worker = slot.as_mut().expect("created above");
        if let Some(bytecode) = &ethers {
            worker.ensure_realm(bytecode);
        }
        // The run's time (its limit, and what billing charges) starts now: building the realm is
        // the node's cost, not the action's.
        let started = Instant::now();
        super::guard::reset();
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            run_on(&self.services, worker, input, started)
        }));
        let (mut outcome, clean) = ran.unwrap_or_else(|payload| {
            super::guard::record_panic(payload.as_ref());
            (
                ActionOutcome::failed(super::guard::INTERNAL_ERROR.into(), String::new()),
                false,
            )
        });
        outcome.run_time = started.elapsed();
        if !clean || super::guard::panicked() {
            *slot = None;
        }
        outcome
    }
}

/// One run on `worker`. Returns the reply and whether the runtime is fit for another run.
fn run_on(
    services: &Arc<Services>,
    worker: &mut WorkerRuntime,
    input: RunInput,
    started: Instant,
) -> (ActionOutcome, bool) {
    let limits = input.limits.clone();
    let (fetch_tx, fetch_rx) = mpsc::channel::<FetchDone>();
    let host = Rc::new(Host::new(
        services.clone(),
        input,
        started,
        fetch_tx,
        worker.realm.as_ref().map(Rc::downgrade),
    ));
    let runtime = &worker.runtime;
    runtime.set_memory_limit(
        (limits.memory_limit_mb as usize)
            .saturating_mul(1024 * 1024)
            .saturating_add(worker.base_bytes + CARRIED_GARBAGE_BYTES),
    );
    runtime.set_gc_threshold(worker.base_bytes + CARRIED_GARBAGE_BYTES);
    let interrupt_host = host.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || interrupt_host.should_interrupt())));
    let spare = match worker.spare.take() {
        Some(spare) => Ok(spare),
        None => SpareContext::new(runtime),
    };
    let SpareContext { install, context } = match spare {
        Ok(spare) => spare,
        Err(e) => {
            return (
                ActionOutcome::failed(
                    format!("the action runtime failed to start: {e}"),
                    String::new(),
                ),
                false,
            )
        }
    };

    // However the run ends (a panic included), the realm lets go of its context.
    let _unlink = worker.realm.clone().map(UnlinkOnDrop);
    let result = context.with(|ctx| {
        let install = install
            .restore(&ctx)
            .map_err(|e| format!("the action runtime failed to start: {e}"))?;
        drive(&ctx, install, &host, &fetch_rx)
    });
    drop(_unlink);
    drop(context);
    runtime.set_interrupt_handler(None);
    let clean = !host.timed_out.get()
        && !host.out_of_credit.get()
        && !host.abandoned.get()
        && host.breach.borrow().is_none()
        && !matches!(&result, Err(error) if is_out_of_memory(error))
        && !runtime.is_job_pending();
    (outcome_of(&host, &limits, result), clean)
}

/// Ends the realm's link to a run when dropped (also while unwinding).
struct UnlinkOnDrop(Rc<EthersRealm>);

impl Drop for UnlinkOnDrop {
    fn drop(&mut self) {
        self.0.unlink();
    }
}

/// The reply for a finished run.
fn outcome_of(
    host: &Host,
    limits: &super::limits::ActionLimits,
    result: Result<Option<(bool, String)>, String>,
) -> ActionOutcome {
    let logs = host.logs.borrow().clone();

    if super::guard::panicked() {
        return ActionOutcome::failed(super::guard::INTERNAL_ERROR.into(), logs);
    }
    // Limits first: they explain whatever error the action saw.
    if host.out_of_credit.get() {
        return ActionOutcome::failed(
            format!(
                "The account ran out of credit: its balance paid for {} s of run time and the \
                 action was stopped there. Add funds with POST /core/v1/billing/create_payment_intent \
                 and billing/confirm_payment, then run it again.",
                host.paid_seconds()
            ),
            logs,
        );
    }
    if host.abandoned.get() {
        return ActionOutcome::failed(
            "The client stopped waiting for the reply (it disconnected or its request timed out); the action was stopped.".into(),
            logs,
        );
    }
    if host.timed_out.get() {
        return ActionOutcome::failed(
            format!(
                "Your function exceeded the maximum runtime of {}ms and was terminated.",
                limits.timeout_ms
            ),
            logs,
        );
    }
    if let Some(breach) = host.breach.borrow().clone() {
        return ActionOutcome::failed(breach, logs);
    }
    match result {
        Err(error) if is_out_of_memory(&error) => ActionOutcome::failed(
            format!(
                "Your function exceeded the maximum memory of {} MB and was terminated.",
                limits.memory_limit_mb
            ),
            logs,
        ),
        // The action's own error text (and whatever it chose to throw) obeys the response limit.
        Err(error) => ActionOutcome::failed(
            truncated(
                error,
                usize::try_from(limits.max_response_length).unwrap_or(usize::MAX),
            ),
            logs,
        ),
        Ok(reply) => {
            let (is_string, text) = reply
                .or_else(|| host.response.borrow().clone())
                .unwrap_or((true, String::new()));
            let max = limits.max_response_length;
            if text.len() as u64 > max {
                return ActionOutcome::failed(
                    format!("Response is too long. Max length is {max} bytes"),
                    logs,
                );
            }
            ActionOutcome {
                response: response_value(is_string, text),
                logs,
                has_error: false,
                run_time: std::time::Duration::ZERO,
            }
        }
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), ending with a marker that says
/// how long it was, when it is longer.
pub(crate) fn truncated(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let marker = format!(" … [truncated: {} bytes, the limit is {max}]", text.len());
    let keep = max.saturating_sub(marker.len());
    let mut cut = keep.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if keep == 0 {
        // No room for the marker: the limit wins.
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        return text[..cut].to_string();
    }
    let mut out = String::with_capacity(cut + marker.len());
    out.push_str(&text[..cut]);
    out.push_str(&marker);
    out
}

fn is_out_of_memory(error: &str) -> bool {
    error.contains("out of memory")
}

/// A string that is itself JSON text goes out parsed; other strings stay strings. Non-strings
/// arrive as JSON text.
fn response_value(is_string: bool, text: String) -> Json {
    match serde_json::from_str::<Json>(&text) {
        Ok(value) => value,
        Err(_) if is_string => Json::String(text),
        Err(_) => Json::Null,
    }
}

/// The text of the pending exception.
fn exception_text<'js>(
    ctx: &Ctx<'js>,
    driver: Option<&Function<'js>>,
    error: rquickjs::Error,
) -> String {
    match error {
        rquickjs::Error::Exception => {
            let value = ctx.catch();
            if let Some(driver) = driver {
                if let Ok(text) = driver.call::<_, String>(("describe", value.clone())) {
                    return text;
                }
            }
            value
                .as_exception()
                .map(|e| format!("Error: {}", e.message().unwrap_or_default()))
                .or_else(|| value.as_string().and_then(|s| s.to_string().ok()))
                .unwrap_or_else(|| "the action threw an exception".into())
        }
        other => other.to_string(),
    }
}

/// Everything inside the context. `Ok(Some((is_string, text)))` is `main`'s return value,
/// `Ok(None)` means it returned `undefined`; `Err` is the error text of a failed run.
fn drive<'js>(
    ctx: &Ctx<'js>,
    install: Function<'js>,
    host: &Rc<Host>,
    fetch_rx: &mpsc::Receiver<FetchDone>,
) -> Result<Option<(bool, String)>, String> {
    let host_js = host_object(ctx, host).map_err(|e| exception_text(ctx, None, e))?;
    let driver: Function = install.call((host_js,)).map_err(|e| {
        format!(
            "the action runtime failed to start: {}",
            exception_text(ctx, None, e)
        )
    })?;
    let fail = |e: rquickjs::Error| exception_text(ctx, Some(&driver), e);

    #[cfg(test)]
    tests::install_panic_hook(ctx).map_err(|e| exception_text(ctx, None, e))?;

    if super::modules::looks_like_module(&host.input.code) {
        // An ES module: its static imports are loaded first, then it is evaluated, then main runs.
        let Some(modules) = &host.services.modules else {
            return Err("Error: imports are not available on this node".into());
        };
        let (evaluated, namespace) = super::modules::evaluate(ctx, host, modules).map_err(fail)?;
        let parts = rquickjs::Array::new(ctx.clone()).map_err(fail)?;
        parts.set(0, evaluated).map_err(fail)?;
        parts.set(1, namespace).map_err(fail)?;
        driver
            .call::<_, ()>(("runModule", parts, host.input.params_json.clone()))
            .map_err(fail)?;
        return finish(ctx, host, &driver, fetch_rx, fail);
    }

    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = false;
    options.filename = Some(host.input.cid.clone());
    ctx.eval_with_options::<(), _>(host.input.code.as_bytes(), options)
        .map_err(fail)?;

    // A function declaration is a property of the global object; `const main = …` is only a
    // global binding, which takes an expression to read.
    let mut main: Value = ctx.globals().get("main").map_err(fail)?;
    if main.is_undefined() {
        main = ctx
            .eval("typeof main === 'undefined' ? undefined : main")
            .map_err(fail)?;
    }
    if main.is_undefined() {
        return Err("ReferenceError: main is not defined".into());
    }
    driver
        .call::<_, ()>(("run", main, host.input.params_json.clone()))
        .map_err(fail)?;
    finish(ctx, host, &driver, fetch_rx, fail)
}

/// Runs the event loop until the run settles, then reads how it ended.
fn finish<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    driver: &Function<'js>,
    fetch_rx: &mpsc::Receiver<FetchDone>,
    fail: impl Fn(rquickjs::Error) -> String,
) -> Result<Option<(bool, String)>, String> {
    event_loop(ctx, host, driver, fetch_rx).map_err(&fail)?;

    let outcome: Vec<String> = driver.call(("outcome",)).map_err(&fail)?;
    let [how, text] = <[String; 2]>::try_from(outcome)
        .map_err(|_| "the action runtime returned a malformed outcome".to_string())?;
    match how.as_str() {
        "failed" => Err(text),
        "undefined" => Ok(None),
        other => Ok(Some((other == "string", text))),
    }
}

/// Runs jobs, timers and fetch completions until the run settles with nothing left pending,
/// or a limit stops it.
fn event_loop<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    driver: &Function<'js>,
    fetch_rx: &mpsc::Receiver<FetchDone>,
) -> rquickjs::Result<()> {
    loop {
        #[cfg(test)]
        tests::maybe_panic_in_loop();
        while ctx.execute_pending_job() {
            if stopped(host) {
                return Ok(());
            }
        }
        if stopped(host) {
            return Ok(());
        }
        let now_ms = host.now_ms();
        let next_timer: f64 = driver.call(("nextTimer",))?;
        if next_timer >= 0.0 && next_timer <= now_ms {
            driver.call::<_, ()>(("fireTimers", now_ms))?;
            continue;
        }
        while let Ok((id, outcome)) = fetch_rx.try_recv() {
            deliver(ctx, host, driver, id, outcome)?;
        }
        if ctx.execute_pending_job() {
            continue;
        }
        let in_flight = host.fetches_in_flight() > 0;
        if next_timer < 0.0 && !in_flight {
            let settled: bool = driver.call(("settled",))?;
            if !settled {
                driver.call::<_, ()>((
                    "fail",
                    "Error: main did not finish: it awaits a promise that can never resolve (nothing pending could settle it)",
                ))?;
            }
            return Ok(());
        }
        // Wait for the next fetch completion or timer, never past the deadline.
        let now = Instant::now();
        if now >= host.deadline {
            host.timed_out.set(true);
            return Ok(());
        }
        // Waits are short enough that a run whose client left is noticed promptly.
        let mut wait = host
            .next_stop()
            .saturating_duration_since(now)
            .min(MAX_IDLE_WAIT);
        if next_timer >= 0.0 {
            wait = wait.min(until_timer(next_timer, now_ms));
        }
        if in_flight {
            match fetch_rx.recv_timeout(wait) {
                Ok((id, outcome)) => deliver(ctx, host, driver, id, outcome)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        } else {
            std::thread::sleep(wait);
        }
    }
}

/// Longest the event loop sleeps without looking at the run's state (time, credit, client).
const MAX_IDLE_WAIT: Duration = Duration::from_millis(100);

/// Time until a timer due at `due_ms` of the run's clock, `now_ms` being now. Any value the JS
/// side hands back (NaN, infinite, huge) gives a valid duration: the wait is bounded by the
/// run's deadline anyway.
fn until_timer(due_ms: f64, now_ms: f64) -> Duration {
    Duration::try_from_secs_f64((due_ms - now_ms) / 1000.0).unwrap_or(if due_ms > now_ms {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// The run must stop: it timed out earlier, or a limit is broken, or the deadline passed now.
fn stopped(host: &Host) -> bool {
    host.timed_out.get() || host.should_interrupt()
}

/// Hands a fetch result to the JS side (`driver.fetchDone`).
fn deliver<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    driver: &Function<'js>,
    id: u32,
    outcome: Result<FetchResponse, String>,
) -> rquickjs::Result<()> {
    if !host.fetch_finished(id) {
        return Ok(()); // aborted: nobody waits for it
    }
    let value: Value = match outcome {
        Err(message) => rquickjs::String::from_str(ctx.clone(), &message)?.into_value(),
        Ok(response) => {
            let object = Object::new(ctx.clone())?;
            object.set("status", response.status)?;
            object.set("statusText", response.status_text)?;
            object.set("url", response.url)?;
            object.set("redirected", response.redirected)?;
            let headers = rquickjs::Array::new(ctx.clone())?;
            for (i, (name, value)) in response.headers.into_iter().enumerate() {
                headers.set(i, vec![name, value])?;
            }
            object.set("headers", headers)?;
            object.set("body", uint8_array(ctx, &response.body)?)?;
            object.into_value()
        }
    };
    driver.call(("fetchDone", id, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Set by `__testPanic("loop")`: the event loop panics (outside any native) next round.
        static PANIC_IN_LOOP: Cell<bool> = const { Cell::new(false) };
    }

    /// Test builds only: a global `__testPanic(where)` that makes the runtime's Rust side panic,
    /// inside a native function (`"native"`) or in the event loop (`"loop"`).
    pub(super) fn install_panic_hook<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<()> {
        let globals = ctx.globals();
        native!(
            globals,
            ctx,
            "__testPanic",
            |_ctx: Ctx<'js>, place: String| {
                if place == "loop" {
                    PANIC_IN_LOOP.with(|flag| flag.set(true));
                    return Ok(());
                }
                panic!("a test panic inside a native function")
            }
        );
        Ok(())
    }

    pub(super) fn maybe_panic_in_loop() {
        if PANIC_IN_LOOP.with(|flag| flag.replace(false)) {
            panic!("a test panic in the event loop");
        }
    }

    fn services() -> (tempfile::TempDir, Arc<Services>) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        let services = Services {
            keys: crate::keys::KeyDeriver::new(&crate::keys::RootSecret::from_bytes([7; 32])),
            permissions: crate::store::permissions::Permissions::new(store.clone()),
            store,
            fetcher: None,
            ethers: Some(Arc::new(super::super::ethers::compile().unwrap())),
            modules: None,
        };
        (dir, Arc::new(services))
    }

    fn input(code: &str) -> RunInput {
        let cid = crate::cid::cid_v0(code.as_bytes());
        RunInput {
            code: Arc::from(code),
            cid_hash: crate::cid::cid_hash(&cid),
            cid,
            key_hash: alloy::primitives::B256::repeat_byte(1),
            account: alloy::primitives::B256::repeat_byte(2),
            params_json: None,
            limits: super::super::ActionLimits::default(),
            headers: Vec::new(),
            credit: None,
            abandoned: Default::default(),
        }
    }

    /// Runs each code on one worker (as a pool thread does, on a worker-sized stack).
    fn run_all(codes: &[&str]) -> Vec<ActionOutcome> {
        let (_dir, services) = services();
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        std::thread::Builder::new()
            .stack_size(JS_STACK_BYTES + 4 * 1024 * 1024)
            .spawn(move || {
                let mut worker = ActionWorker::new(services);
                codes
                    .iter()
                    .map(|code| {
                        let outcome = worker.run(input(code));
                        worker.prepare();
                        outcome
                    })
                    .collect()
            })
            .unwrap()
            .join()
            .expect("a panic must never leave the worker")
    }

    #[test]
    fn a_panic_in_the_runtime_ends_only_that_run() {
        let hello = r#"async function main() { return "hello"; }"#;
        let ethers_hello = r#"async function main() { return ethers.utils.keccak256("0x"); }"#;
        let panics = [
            // In a native, uncaught; caught by the action (the run still fails); in a timer; in
            // a promise job; next to the shared ethers realm (linked to this run).
            r#"async function main() { __testPanic("native"); }"#,
            r#"async function main() { try { __testPanic("native"); } catch (e) {} return "swallowed"; }"#,
            r#"async function main() { setTimeout(() => __testPanic("native"), 1); await new Promise((r) => setTimeout(r, 20)); return "late"; }"#,
            r#"async function main() { await null; try { __testPanic("native"); } catch {} for (;;) {} }"#,
            r#"async function main() { ethers.utils.keccak256("0x"); try { __testPanic("native"); } catch {} return 1; }"#,
            // Outside any native, in the engine's own loop, with and without the realm linked.
            r#"async function main() { __testPanic("loop"); await new Promise((r) => setTimeout(r, 5)); return 1; }"#,
            r#"async function main() { ethers.utils.id("x"); __testPanic("loop"); await new Promise((r) => setTimeout(r, 5)); return 1; }"#,
        ];
        let mut codes = Vec::new();
        for panic in panics {
            codes.extend([hello, ethers_hello, panic]);
        }
        codes.extend([hello, ethers_hello]);
        let outcomes = run_all(&codes);
        for (code, outcome) in codes.iter().zip(&outcomes) {
            if panics.contains(code) {
                assert!(outcome.has_error, "{code}: {outcome:?}");
                assert_eq!(
                    outcome.response,
                    Json::String(super::super::guard::INTERNAL_ERROR.into()),
                    "{code}"
                );
            } else {
                assert!(!outcome.has_error, "{code}: {outcome:?}");
            }
        }
    }

    #[test]
    fn the_reported_infinite_timer_no_longer_panics() {
        let outcomes = run_all(&[
            r#"async function main(){ ethers.utils; setTimeout(()=>{}, Infinity); return 1 }"#,
            r#"async function main(){ setTimeout(()=>{}, Infinity); return 1 }"#,
            r#"async function main(){ let n = 0; for (const d of [NaN, -1, 1e300, -Infinity, "x", 2**31, 2**53]) setTimeout(() => n++, d); await new Promise((r) => setTimeout(r, 10)); return n; }"#,
        ]);
        assert_eq!(outcomes[0].response, Json::from(1), "{:?}", outcomes[0]);
        assert_eq!(outcomes[1].response, Json::from(1), "{:?}", outcomes[1]);
        assert_eq!(outcomes[2].response, Json::from(7), "{:?}", outcomes[2]);
    }

    #[test]
    fn long_texts_are_cut_to_the_limit_with_a_marker() {
        assert_eq!(truncated("short".into(), 100), "short");
        let cut = truncated("é".repeat(1000), 100);
        assert!(cut.len() <= 100, "{}", cut.len());
        assert!(
            cut.ends_with("[truncated: 2000 bytes, the limit is 100]"),
            "{cut}"
        );
        assert!(cut.starts_with("éé"));
        // A limit too small for the marker still holds.
        assert_eq!(truncated("abcdef".into(), 3), "abc");
        assert_eq!(truncated("ééé".into(), 3), "é");
    }

    #[test]
    fn timer_waits_are_valid_for_any_due_time() {
        assert_eq!(until_timer(f64::INFINITY, 0.0), Duration::MAX);
        assert_eq!(until_timer(f64::NAN, 5.0), Duration::ZERO);
        assert_eq!(until_timer(-1e300, 5.0), Duration::ZERO);
        assert_eq!(until_timer(1e300, 5.0), Duration::MAX);
        assert_eq!(until_timer(1005.0, 5.0), Duration::from_secs(1));
    }

    /// Each script the runtime loads compiles (a chunk that does not would only fail in the runs
    /// that first touch it).
    #[test]
    fn runtime_scripts_compile() {
        for (name, bytecode) in [
            ("prelude", bytecode::prelude()),
            ("web", bytecode::web()),
            ("globals", bytecode::globals()),
        ] {
            assert!(
                matches!(&bytecode, Ok(b) if !b.is_empty()),
                "{name}: {bytecode:?}"
            );
        }
    }
}
