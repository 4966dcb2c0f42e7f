//! Runs Lit Actions (spec/actions.md, "Request and reply") on a worker's QuickJS runtimes: a fresh
//! context per run (its own globals, so nothing an action defines survives it), the prelude, the
//! action's top-level code as a classic script (or an ES module, see `modules`), `main(js_params)`,
//! then the event loop (`event_loop`) until everything settled or a limit is broken. Time is
//! enforced by the interrupt handler while JS runs and by the loop while it waits; memory by the
//! runtime's limit; stack by its stack limit.
//!
//! A run has a runtime to itself for as long as it lives. When it has nothing to do but wait for a
//! fetch or a timer, the pool may **park** it ([`Progress::Waiting`]): the run keeps its runtime
//! and context, and the worker thread takes other runs (on other runtimes) until the run has news
//! ([`ParkedRun::ready`]) and [`ActionWorker::resume`] continues it. So every limit holds as
//! before: the memory limit is its runtime's, its deadline and credit are looked at while it is
//! parked, and no other run ever shares its runtime.
//!
//! A worker keeps the runtimes of finished runs for the next ones (those for actions that use
//! ethers hold a frozen ethers realm, see `realm`); a run that broke a limit, was interrupted, or
//! left jobs queued takes its runtime (and realm) with it.

use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use alloy::primitives::B256;
use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Function, Persistent, Runtime, Value};

use super::bytecode::{self, load_script};
use super::event_loop::{pump, wake_time, Pump};
use super::host::{host_object, FetchDone, FetchMailbox, Host, RunInput, Services, Waker};
pub use super::outcome::ActionOutcome;
use super::outcome::{exception_text, is_out_of_memory, outcome_of};
use super::realm::EthersRealm;

/// QuickJS's own stack limit; worker threads get a larger OS stack (see `pool`).
pub const JS_STACK_BYTES: usize = 4 * 1024 * 1024;

/// Runs `input` on a runtime of its own and returns the reply (a worker of one run).
pub fn run_action(services: Arc<Services>, input: RunInput) -> ActionOutcome {
    ActionWorker::new(services).run(input)
}

/// Memory a run may find still held by garbage of earlier runs on the same runtime: the collector
/// runs once that much has accumulated, and a run's memory limit leaves room for it.
const CARRIED_GARBAGE_BYTES: usize = 4 * 1024 * 1024;

/// Idle runtimes a worker keeps of each kind for its next runs. More than one, so that a run
/// parked on one does not make the next run build a runtime (or an ethers realm) of its own.
const KEPT_IDLE_RUNTIMES: usize = 2;

/// The QuickJS runtimes of one worker thread, reused by its runs: some for actions that use ethers,
/// each with an ethers realm, and some for the others. Apart, because the collector walks every
/// object of its runtime: a run that does not need ethers should not pay for walking it.
pub struct ActionWorker {
    services: Arc<Services>,
    /// Idle runtimes `[for actions that do not use ethers, for those that do]`; the last one is
    /// used next. A running or parked run holds its own.
    runtimes: [Vec<WorkerRuntime>; 2],
    /// Which kind the last run used (the one [`ActionWorker::prepare`] prepares).
    last_used_ethers: bool,
    /// Nudges the thread that owns this worker when a fetch of one of its runs completes.
    waker: Option<Waker>,
}

/// What became of a run after its worker gave it the thread.
pub enum Progress {
    Done(ActionOutcome),
    /// Waiting for a fetch or a timer, holding nothing but its own runtime; see [`ParkedRun`].
    Waiting(ParkedRun),
}

/// A run between two turns on its worker's thread. It belongs to that thread (QuickJS runtimes
/// are not `Send`); dropping it frees its runtime without an answer.
pub struct ParkedRun {
    run: Box<LiveRun>,
}

impl ParkedRun {
    pub fn account(&self) -> B256 {
        self.run.host.input.account
    }

    pub fn uses_ethers(&self) -> bool {
        self.run.ethers
    }

    /// When to look at the run again if no fetch result arrives first.
    pub fn wake_at(&self) -> Instant {
        self.run.wake_at
    }

    /// Whether the run has something to do now: a fetch result arrived, a timer is due, or it
    /// must end (time, credit, client gone). Looks at time and credit without entering JS.
    pub fn ready(&mut self) -> bool {
        let run = &mut *self.run;
        if let Some(downloads) = &mut run.downloads {
            if downloads.poll(&run.host) {
                return true;
            }
        }
        while let Ok(done) = run.fetch_rx.try_recv() {
            run.arrived.push_back(done);
        }
        if !run.arrived.is_empty() {
            return true;
        }
        let now = Instant::now();
        if now < run.wake_at {
            return false;
        }
        if run.timer_at.is_some_and(|at| at <= now) || run.host.must_stop() {
            return true;
        }
        run.wake_at = wake_time(&run.host, run.timer_at, now);
        false
    }
}

/// A run that has started: everything it needs to go on. Fields drop in order, the runtime last.
struct LiveRun {
    /// The prelude's driver (`driver(op, …)`), once `main` was called.
    driver: Option<Persistent<Function<'static>>>,
    /// However the run ends (a panic included), the realm lets go of its context.
    unlink: Option<UnlinkOnDrop>,
    context: Context,
    host: Rc<Host>,
    fetch_rx: mpsc::Receiver<FetchDone>,
    /// Fetch results taken from the channel and not yet delivered.
    arrived: VecDeque<FetchDone>,
    wake_at: Instant,
    timer_at: Option<Instant>,
    /// Module downloads the run waits for before it loads its imports again.
    downloads: Option<PendingDownloads>,
    waker: Option<Waker>,
    ethers: bool,
    runtime: WorkerRuntime,
}

/// A run's module downloads in progress (they run on the node's tokio runtime).
struct PendingDownloads {
    results: mpsc::Receiver<(String, Result<(), String>)>,
    left: usize,
    /// Stopped when the run ends first.
    tasks: Vec<tokio::task::AbortHandle>,
}

impl PendingDownloads {
    /// Records the downloads that finished in `host`; true once all have.
    fn poll(&mut self, host: &Host) -> bool {
        while let Ok((url, result)) = self.results.try_recv() {
            self.record(host, url, result);
        }
        self.left == 0
    }

    /// Waits for the next download to finish, at most until `until`.
    fn wait(&mut self, host: &Host, until: Instant) {
        let wait = until.saturating_duration_since(Instant::now());
        if let Ok((url, result)) = self.results.recv_timeout(wait) {
            self.record(host, url, result);
        }
    }

    fn record(&mut self, host: &Host, url: String, result: Result<(), String>) {
        self.left = self.left.saturating_sub(1);
        let mut downloads = host.module_downloads.borrow_mut();
        match result {
            Ok(()) => {
                downloads.fetched.insert(url);
            }
            Err(why) => {
                downloads.failed.insert(url, why);
            }
        }
    }
}

impl Drop for PendingDownloads {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
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
            runtimes: [Vec::new(), Vec::new()],
            last_used_ethers: false,
            waker: None,
        }
    }

    /// A worker whose runs' fetch results also call `waker` (the pool's thread waits on it while
    /// runs are parked).
    pub fn with_waker(mut self, waker: Waker) -> Self {
        self.waker = Some(waker);
        self
    }

    /// Does the start of the next run now, while nothing waits for this worker: a fresh context
    /// with the prelude loaded (~0.1 ms), in the runtime the last run used. The pool calls it after
    /// sending a reply, so a lone client's next request finds it ready. The context is new and
    /// untouched, so using it later isolates the run exactly as creating it then would.
    ///
    /// On a runtime without a realm it first collects the last run's garbage (a dead
    /// context is cyclic: only the collector frees it). Then only the runtime's own objects are
    /// alive, so the pass is short (~30 µs for a hello-world), and it falls between requests
    /// instead of pausing a later one for milliseconds at the garbage threshold. A runtime with
    /// a realm is left to its threshold: a pass there walks all of ethers.
    pub fn prepare(&mut self) {
        let ethers = self.last_used_ethers;
        if let Some(worker) = self.runtimes[usize::from(ethers)].last_mut() {
            if !ethers {
                worker.runtime.run_gc();
            }
            if worker.spare.is_none() {
                worker.spare = SpareContext::new(&worker.runtime).ok();
            }
        }
    }

    /// Builds what the first run of either kind needs, so no request waits for it: a runtime of
    /// each kind, each with its spare context, and the ethers realm (~0.2 s of CPU). The pool
    /// calls it when a worker starts and after each reply; it does nothing when all is there,
    /// and rebuilds what a run that broke a limit (or is parked) holds.
    pub fn warm_up(&mut self) {
        let ethers = self.services.ethers.clone();
        for (idle, with_ethers) in self.runtimes.iter_mut().zip([false, true]) {
            if idle.is_empty() {
                match WorkerRuntime::new() {
                    Ok(runtime) => idle.push(runtime),
                    Err(error) => {
                        tracing::error!(%error, "a Lit Action runtime could not start");
                        return;
                    }
                }
            }
            let worker = idle.last_mut().expect("pushed above");
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

    /// Bytes allocated in the runtime the next action that does not use ethers gets (for tests).
    pub fn plain_runtime_bytes(&self) -> Option<i64> {
        self.runtimes[0]
            .last()
            .map(|r| r.runtime.memory_usage().malloc_size)
    }

    /// Whether the runtime the next ethers action gets holds a built realm (for tests).
    pub fn has_ethers_realm(&self) -> bool {
        self.runtimes[1].last().is_some_and(|r| r.realm.is_some())
    }

    /// Runs `input` to its end, waiting in place for its fetches and timers, and returns the
    /// reply. Never panics on anything the action does.
    pub fn run(&mut self, input: RunInput) -> ActionOutcome {
        match self.start(input, &mut |_| false) {
            Progress::Done(outcome) => outcome,
            Progress::Waiting(_) => unreachable!("a run that may not park waits in place"),
        }
    }

    /// Starts `input` and runs it until it ends or, when it has to wait and `may_park(uses
    /// ethers)` agrees, until it is parked. Never panics on anything the action does.
    pub fn start(&mut self, input: RunInput, may_park: &mut dyn FnMut(bool) -> bool) -> Progress {
        // An action that names `ethers` runs next to a shared realm; one that reaches it
        // otherwise (`globalThis["eth" + "ers"]`) loads its own copy, slower but the same library.
        let ethers = self
            .services
            .ethers
            .clone()
            .filter(|_| input.code.contains("ethers"));
        self.last_used_ethers = ethers.is_some();
        let mut runtime = match self.runtimes[usize::from(ethers.is_some())].pop() {
            Some(runtime) => runtime,
            None => match WorkerRuntime::new() {
                Ok(runtime) => runtime,
                Err(e) => {
                    return Progress::Done(ActionOutcome::failed(
                        format!("the action runtime could not start: {e}"),
                        String::new(),
                    ))
                }
            },
        };
        if let Some(bytecode) = &ethers {
            runtime.ensure_realm(bytecode);
        }
        // The run's time (its limit, and what billing charges) starts now: building the realm is
        // the node's cost, not the action's.
        let started = Instant::now();
        let waker = self.waker.clone();
        let uses_ethers = ethers.is_some();
        self.turn(started, |worker| {
            let (mut live, install) = match LiveRun::new(
                &worker.services,
                runtime,
                input,
                started,
                waker,
                uses_ethers,
            ) {
                Ok(started) => started,
                Err(outcome) => return Progress::Done(outcome),
            };
            match live.begin(install) {
                Ok(Begun::Running) => worker.advance(live, may_park),
                Ok(Begun::Missing(missing)) => {
                    live.download(missing);
                    worker.advance(live, may_park)
                }
                Err(error) => Progress::Done(worker.finish(live, Err(error))),
            }
        })
    }

    /// Continues a parked run (see [`ParkedRun::ready`]) until it ends or parks again.
    pub fn resume(
        &mut self,
        parked: ParkedRun,
        may_park: &mut dyn FnMut(bool) -> bool,
    ) -> Progress {
        let started = parked.run.host.started;
        self.turn(started, |worker| worker.advance(parked.run, may_park))
    }

    /// One turn of a run on this thread, with panics contained: a run that panicked answers the
    /// internal error, and its runtime is freed (it unwinds with the run).
    fn turn(&mut self, started: Instant, body: impl FnOnce(&mut Self) -> Progress) -> Progress {
        super::guard::reset();
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| body(self)));
        ran.unwrap_or_else(|payload| {
            super::guard::record_panic(payload.as_ref());
            let mut outcome =
                ActionOutcome::failed(super::guard::INTERNAL_ERROR.into(), String::new());
            outcome.run_time = started.elapsed();
            Progress::Done(outcome)
        })
    }

    /// Runs the event loop until the run ends, or parks it when it has to wait and may.
    /// Otherwise it waits here, holding the thread.
    fn advance(
        &mut self,
        mut live: Box<LiveRun>,
        may_park: &mut dyn FnMut(bool) -> bool,
    ) -> Progress {
        loop {
            live.host.begin_slice();
            if let Some(downloads) = &mut live.downloads {
                if !downloads.poll(&live.host) {
                    if live.host.must_stop() {
                        let stopped = Err("the run stopped while its modules downloaded".into());
                        return Progress::Done(self.finish(live, stopped));
                    }
                    live.wake_at = wake_time(&live.host, None, Instant::now());
                    live.timer_at = None;
                    if may_park(live.ethers) {
                        return Progress::Waiting(ParkedRun { run: live });
                    }
                    let until = live.wake_at;
                    if let Some(downloads) = &mut live.downloads {
                        downloads.wait(&live.host, until);
                    }
                    continue;
                }
                live.downloads = None;
                match live.restart() {
                    Ok(Begun::Running) => {}
                    Ok(Begun::Missing(missing)) => {
                        live.download(missing);
                        continue;
                    }
                    Err(error) => return Progress::Done(self.finish(live, Err(error))),
                }
            }
            match live.pump() {
                Err(error) => return Progress::Done(self.finish(live, Err(error))),
                Ok(Step::Settled(result)) => return Progress::Done(self.finish(live, Ok(result))),
                Ok(Step::Wait {
                    until,
                    timer_at,
                    in_flight,
                }) => {
                    live.wake_at = until;
                    live.timer_at = timer_at;
                    if may_park(live.ethers) {
                        return Progress::Waiting(ParkedRun { run: live });
                    }
                    let wait = until.saturating_duration_since(Instant::now());
                    if in_flight {
                        if let Ok(done) = live.fetch_rx.recv_timeout(wait) {
                            live.arrived.push_back(done);
                        }
                    } else {
                        std::thread::sleep(wait);
                    }
                }
            }
        }
    }

    /// The reply of an ended run; its runtime goes back to the idle ones if it is fit for more.
    fn finish(
        &mut self,
        live: Box<LiveRun>,
        result: Result<Option<(bool, String)>, String>,
    ) -> ActionOutcome {
        let LiveRun {
            driver,
            unlink,
            context,
            host,
            fetch_rx,
            arrived,
            downloads,
            ethers,
            runtime,
            ..
        } = *live;
        drop(driver);
        drop(unlink);
        drop(context);
        drop((fetch_rx, arrived, downloads));
        runtime.runtime.set_interrupt_handler(None);
        let clean = !host.timed_out.get()
            && !host.out_of_credit.get()
            && !host.abandoned.get()
            && host.breach.borrow().is_none()
            && !matches!(&result, Err(error) if is_out_of_memory(error))
            && !runtime.runtime.is_job_pending()
            && !super::guard::panicked();
        let mut outcome = outcome_of(&host, &host.input.limits, result);
        outcome.run_time = host.started.elapsed();
        let idle = &mut self.runtimes[usize::from(ethers)];
        if clean && idle.len() < KEPT_IDLE_RUNTIMES {
            idle.push(runtime);
        }
        outcome
    }
}

/// How far starting a run got.
enum Begun {
    /// `main` was called.
    Running,
    /// Its imports need modules the node does not hold yet: (URL, inline integrity).
    Missing(Vec<(String, Option<String>)>),
}

/// What a turn of the event loop ended with.
enum Step {
    /// `Some((is_string, text))` is `main`'s value; `None` means it returned `undefined`.
    Settled(Option<(bool, String)>),
    Wait {
        until: std::time::Instant,
        timer_at: Option<Instant>,
        in_flight: bool,
    },
}

impl LiveRun {
    /// Sets up a run on `worker`: its host, limits, interrupt handler and untouched context.
    fn new(
        services: &Arc<Services>,
        mut worker: WorkerRuntime,
        input: RunInput,
        started: Instant,
        waker: Option<Waker>,
        ethers: bool,
    ) -> Result<(Box<Self>, Persistent<Function<'static>>), ActionOutcome> {
        let limits = input.limits.clone();
        let (fetch_tx, fetch_rx) = mpsc::channel::<FetchDone>();
        let host = Rc::new(Host::new(
            services.clone(),
            input,
            started,
            FetchMailbox::new(fetch_tx, waker.clone()),
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
        let SpareContext { install, context } = spare.map_err(|e| {
            ActionOutcome::failed(
                format!("the action runtime failed to start: {e}"),
                String::new(),
            )
        })?;
        let unlink = worker.realm.clone().map(UnlinkOnDrop);
        Ok((
            Box::new(Self {
                driver: None,
                unlink,
                context,
                host,
                fetch_rx,
                arrived: VecDeque::new(),
                wake_at: started,
                timer_at: None,
                downloads: None,
                waker,
                ethers,
                runtime: worker,
            }),
            install,
        ))
    }

    /// Installs the prelude, runs the action's top-level code and calls `main`; or finds the
    /// modules its imports need that the node does not hold yet.
    fn begin(&mut self, install: Persistent<Function<'static>>) -> Result<Begun, String> {
        let Self {
            context,
            host,
            driver,
            ..
        } = self;
        context.with(|ctx| {
            let install = install
                .restore(&ctx)
                .map_err(|e| format!("the action runtime failed to start: {e}"))?;
            Ok(match start_main(&ctx, install, host)? {
                Started::Main(started) => {
                    *driver = Some(Persistent::save(&ctx, started));
                    Begun::Running
                }
                Started::Missing(missing) => Begun::Missing(missing),
            })
        })
    }

    /// Starts downloading `missing` modules; the run waits for them without its thread.
    fn download(&mut self, missing: Vec<(String, Option<String>)>) {
        let Some(source) = self.host.services.modules.clone() else {
            return; // not reached: a node without imports refuses module code before this
        };
        let (sender, results) = mpsc::channel();
        let left = missing.len();
        let tasks = missing
            .into_iter()
            .map(|(url, inline)| {
                let (sender, waker, name) = (sender.clone(), self.waker.clone(), url.clone());
                source.spawn_download(url, inline, self.host.deadline, move |result| {
                    if sender.send((name, result)).is_ok() {
                        if let Some(wake) = waker {
                            wake();
                        }
                    }
                })
            })
            .collect();
        self.downloads = Some(PendingDownloads {
            results,
            left,
            tasks,
        });
    }

    /// Starts the run again in a fresh context of its runtime, now that its modules are here.
    /// Nothing of the action ran in the old one (its imports never finished loading).
    fn restart(&mut self) -> Result<Begun, String> {
        self.driver = None;
        if let Some(unlink) = &self.unlink {
            unlink.0.unlink();
        }
        let SpareContext { install, context } = SpareContext::new(&self.runtime.runtime)
            .map_err(|e| format!("the action runtime failed to start: {e}"))?;
        self.context = context;
        self.begin(install)
    }

    /// Runs the event loop until the run settles or has to wait.
    fn pump(&mut self) -> Result<Step, String> {
        let Self {
            context,
            host,
            driver,
            fetch_rx,
            arrived,
            ..
        } = self;
        let driver = driver.clone().ok_or("the action runtime lost its driver")?;
        context.with(|ctx| {
            let driver = driver.restore(&ctx).map_err(|e| e.to_string())?;
            let fail = |e: rquickjs::Error| exception_text(&ctx, Some(&driver), e);
            match pump(&ctx, host, &driver, fetch_rx, arrived).map_err(fail)? {
                Pump::Wait {
                    until,
                    timer_at,
                    in_flight,
                } => Ok(Step::Wait {
                    until,
                    timer_at,
                    in_flight,
                }),
                Pump::Settled => read_outcome(&driver).map_err(fail)?.map(Step::Settled),
            }
        })
    }
}

/// Ends the realm's link to a run when dropped (also while unwinding).
struct UnlinkOnDrop(Rc<EthersRealm>);

impl Drop for UnlinkOnDrop {
    fn drop(&mut self) {
        self.0.unlink();
    }
}

/// What [`start_main`] got to.
enum Started<'js> {
    /// `main` was called; the prelude's driver.
    Main(Function<'js>),
    /// Imports need these modules first (see [`Begun::Missing`]).
    Missing(Vec<(String, Option<String>)>),
}

/// Installs the prelude into the run's context and starts the action: its top-level code, then
/// `main(js_params)` (its result is awaited by the event loop).
fn start_main<'js>(
    ctx: &Ctx<'js>,
    install: Function<'js>,
    host: &Rc<Host>,
) -> Result<Started<'js>, String> {
    let host_js = host_object(ctx, host).map_err(|e| exception_text(ctx, None, e))?;
    let driver: Function = install.call((host_js,)).map_err(|e| {
        format!(
            "the action runtime failed to start: {}",
            exception_text(ctx, None, e)
        )
    })?;
    let fail = |e: rquickjs::Error| exception_text(ctx, Some(&driver), e);
    let chunks: Vec<Function> = driver.call(("chunks",)).map_err(fail)?;
    let chunks: [Function; 2] = chunks
        .try_into()
        .map_err(|_| "the action runtime failed to start: no chunk loaders".to_string())?;
    super::host::lazy::define(ctx, chunks).map_err(fail)?;

    #[cfg(test)]
    tests::install_panic_hook(ctx).map_err(|e| exception_text(ctx, None, e))?;

    if super::modules::looks_like_module(&host.input.code) {
        // An ES module: its static imports are loaded first, then it is evaluated, then main runs.
        let Some(modules) = &host.services.modules else {
            return Err("Error: imports are not available on this node".into());
        };
        let (evaluated, namespace) = match super::modules::evaluate(ctx, host, modules)
            .map_err(fail)?
        {
            super::modules::Evaluated::Started(evaluated, namespace) => (evaluated, namespace),
            super::modules::Evaluated::Missing(missing) => return Ok(Started::Missing(missing)),
        };
        let parts = rquickjs::Array::new(ctx.clone()).map_err(fail)?;
        parts.set(0, evaluated).map_err(fail)?;
        parts.set(1, namespace).map_err(fail)?;
        driver
            .call::<_, ()>(("runModule", parts, host.input.params_json.clone()))
            .map_err(fail)?;
        return Ok(Started::Main(driver));
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
    Ok(Started::Main(driver))
}

/// How the settled run ended (`driver("outcome")`): `Ok(Ok(main's value))` or `Ok(Err(error))`.
fn read_outcome(driver: &Function<'_>) -> rquickjs::Result<Result<Option<(bool, String)>, String>> {
    let outcome: Vec<String> = driver.call(("outcome",))?;
    let Ok([how, text]) = <[String; 2]>::try_from(outcome) else {
        return Ok(Err("the action runtime returned a malformed outcome".into()));
    };
    Ok(match how.as_str() {
        "failed" => Err(text),
        "undefined" => Ok(None),
        other => Ok(Some((other == "string", text))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

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
                    super::super::event_loop::tests::panic_next_round();
                    return Ok(());
                }
                panic!("a test panic inside a native function")
            }
        );
        Ok(())
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
