//! A bounded pool of threads that run Lit Actions. A worker executes one action at a time, each in
//! a fresh QuickJS context on a runtime of its own (see `engine`), and keeps the runs that wait
//! parked meanwhile (below).
//!
//! Runs wait in per-account queues and are dispatched with a fair-share policy, so that one
//! account cannot occupy every worker or the whole queue:
//! - an account runs on at most `max_workers_per_account` workers at once (by default all but a
//!   quarter of them, at least one left over), so the other accounts always find a worker;
//! - an account has at most `max_queued_per_account` runs waiting (by default a quarter of the
//!   queue); beyond it, or when the whole queue is full, [`PoolError::Saturated`] (HTTP 429);
//! - free workers take the next run from the accounts in turn (round robin), not first come
//!   first served, so a burst from one account does not delay everyone behind it.
//!
//! A waiting run whose client has gone is dropped without running. A run that takes long gives
//! its thread a lower CPU priority while it lasts (see `priority`), so busy loops leave the cores
//! to the short runs of the others.
//!
//! A run that has nothing to do but wait for a fetch or a timer is **parked** on its worker (see
//! `engine`): it stops counting against its account's worker share, and the thread takes other
//! runs until the run has news; then the same thread resumes it, once the account is below its
//! share again. So runs waiting on slow APIs do not hold the workers. Parked runs are bounded
//! (`max_parked`, and per account `max_parked_per_account`); beyond that a waiting run keeps its
//! thread, as it does for ethers runs beyond [`MAX_PARKED_ETHERS_PER_WORKER`] (each parked ethers
//! run holds a runtime with its own ethers realm).

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use alloy::primitives::B256;
use tokio::sync::oneshot;

use super::engine::{ActionOutcome, ActionWorker, ParkedRun, Progress, JS_STACK_BYTES};
use super::host::{RunInput, Services, Waker};

/// Ethers runs one worker keeps parked at once: each holds a runtime with an ethers realm
/// (~0.2 s of CPU to build, a few MB), so beyond this an ethers run waits holding its thread.
pub const MAX_PARKED_ETHERS_PER_WORKER: usize = 4;

/// OS stack of a worker: QuickJS's own limit plus room for the Rust frames around it.
const WORKER_STACK_BYTES: usize = JS_STACK_BYTES + 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    #[error("the node is running as many Lit Actions as it can queue; retry shortly")]
    Saturated,
    #[error(
        "this account already has {0} Lit Actions waiting to run on this node; retry when some finished"
    )]
    AccountSaturated(usize),
    #[error("the Lit Action runtime is shutting down")]
    Closed,
}

/// Sizes of the pool and the fair-share limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Worker threads (0 = twice the CPU count).
    pub workers: usize,
    /// Runs waiting for a worker, all accounts together.
    pub queue: usize,
    /// Workers one account may occupy at once (0 = all but a quarter, at least one left over).
    pub max_workers_per_account: usize,
    /// Runs one account may have waiting (0 = a quarter of the queue, at least one).
    pub max_queued_per_account: usize,
    /// Runs parked while they wait, all accounts together.
    pub max_parked: usize,
    /// Parked runs one account may have (0 = three quarters of `max_parked`, at least one).
    pub max_parked_per_account: usize,
    /// Workers build their ethers realm before taking runs, and again after a run took it
    /// with it (see [`ActionWorker::warm_up`]); [`ActionPool::warmed`] tells when all have.
    pub warm_ethers: bool,
}

impl PoolLimits {
    /// The limits with every automatic value worked out.
    fn resolved(self) -> Self {
        let workers = if self.workers == 0 {
            2 * std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            self.workers
        };
        let max_workers_per_account = match self.max_workers_per_account {
            0 => workers.saturating_sub((workers / 4).max(1)).max(1),
            n => n.min(workers),
        };
        let max_queued_per_account = match self.max_queued_per_account {
            0 => (self.queue / 4).max(1),
            n => n,
        };
        let max_parked_per_account = match self.max_parked_per_account {
            0 => (self.max_parked - self.max_parked / 4).max(1),
            n => n.min(self.max_parked),
        };
        Self {
            workers,
            queue: self.queue,
            max_workers_per_account,
            max_queued_per_account,
            max_parked: self.max_parked,
            max_parked_per_account,
            warm_ethers: self.warm_ethers,
        }
    }
}

struct Task {
    input: RunInput,
    reply: oneshot::Sender<ActionOutcome>,
    queued: Instant,
}

/// The per-account queues of waiting runs `T`, guarded by the scheduler's mutex.
struct Queues<T> {
    waiting: HashMap<B256, VecDeque<T>>,
    /// Accounts with waiting runs, in the order they are served.
    turns: VecDeque<B256>,
    running: HashMap<B256, usize>,
    queued: usize,
    /// Parked runs, by account and in all.
    parked: HashMap<B256, usize>,
    parked_total: usize,
    /// Workers waiting in [`Scheduler::take`], each on its own condition variable (so news for
    /// one worker's parked run wakes only that worker).
    sleepers: Vec<Arc<Condvar>>,
    closed: bool,
}

impl<T> Default for Queues<T> {
    fn default() -> Self {
        Self {
            waiting: HashMap::new(),
            turns: VecDeque::new(),
            running: HashMap::new(),
            queued: 0,
            parked: HashMap::new(),
            parked_total: 0,
            sleepers: Vec::new(),
            closed: false,
        }
    }
}

impl<T> Queues<T> {
    /// Queues `task` for `account`, within the pool's and the account's queue limits.
    fn push(&mut self, account: B256, task: T, limits: &PoolLimits) -> Result<(), PoolError> {
        if self.closed {
            return Err(PoolError::Closed);
        }
        if self.queued >= limits.queue {
            return Err(PoolError::Saturated);
        }
        let waiting = self.waiting.entry(account).or_default();
        if waiting.len() >= limits.max_queued_per_account {
            return Err(PoolError::AccountSaturated(waiting.len()));
        }
        waiting.push_back(task);
        if waiting.len() == 1 {
            self.turns.push_back(account);
        }
        self.queued += 1;
        Ok(())
    }

    /// The next run a free worker should take: the first account in turn that is below its
    /// worker share. It goes to the back of the line if it has more runs waiting.
    fn next(&mut self, max_per_account: usize) -> Option<(B256, T)> {
        for turn in 0..self.turns.len() {
            let account = self.turns[turn];
            if self.running.get(&account).copied().unwrap_or(0) >= max_per_account {
                continue;
            }
            let queue = self.waiting.get_mut(&account).expect("a turn has a queue");
            let task = queue.pop_front().expect("a turn has a waiting run");
            self.turns.remove(turn);
            if queue.is_empty() {
                self.waiting.remove(&account);
            } else {
                self.turns.push_back(account);
            }
            self.queued -= 1;
            *self.running.entry(account).or_default() += 1;
            return Some((account, task));
        }
        None
    }

    fn finished(&mut self, account: &B256) {
        if let Some(running) = self.running.get_mut(account) {
            *running -= 1;
            if *running == 0 {
                self.running.remove(account);
            }
        }
    }

    /// A running run of `account` wants to park: it may if parked runs are below both limits;
    /// then it no longer counts against the account's worker share.
    fn park(&mut self, account: &B256, limits: &PoolLimits) -> bool {
        let parked = self.parked.get(account).copied().unwrap_or(0);
        if self.parked_total >= limits.max_parked || parked >= limits.max_parked_per_account {
            return false;
        }
        *self.parked.entry(*account).or_default() += 1;
        self.parked_total += 1;
        metrics::gauge!("lit_node_actions_parked").set(self.parked_total as f64);
        self.finished(account);
        true
    }

    /// A parked run of `account` has news: it may run again if the account is below its share.
    fn resume(&mut self, account: &B256, max_per_account: usize) -> bool {
        if self.running.get(account).copied().unwrap_or(0) >= max_per_account {
            return false;
        }
        self.unpark(account);
        *self.running.entry(*account).or_default() += 1;
        true
    }

    /// Wakes one waiting worker (it leaves the list, so the next call wakes another).
    fn wake_one(&mut self) {
        if let Some(sleeper) = self.sleepers.pop() {
            sleeper.notify_one();
        }
    }

    /// Wakes every waiting worker.
    fn wake_all(&mut self) {
        for sleeper in self.sleepers.drain(..) {
            sleeper.notify_one();
        }
    }

    /// A parked run is gone (resumed, or dropped when the pool closed).
    fn unpark(&mut self, account: &B256) {
        if let Some(parked) = self.parked.get_mut(account) {
            *parked -= 1;
            self.parked_total -= 1;
            metrics::gauge!("lit_node_actions_parked").set(self.parked_total as f64);
            if *parked == 0 {
                self.parked.remove(account);
            }
        }
    }
}

/// What a worker found when it looked at the scheduler.
enum Take {
    /// A new run to start.
    Task(Box<Task>),
    /// Nothing new; look at the parked runs again (news arrived, or it is time).
    Parked,
    Closed,
}

struct Scheduler {
    queues: Mutex<Queues<Task>>,
    limits: PoolLimits,
}

impl Scheduler {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues<Task>> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn submit(&self, task: Task) -> Result<(), PoolError> {
        let mut queues = self.lock();
        queues.push(task.input.account, task, &self.limits)?;
        queues.wake_one();
        Ok(())
    }

    /// The next run for this worker, if it takes new ones (`accept_new`). Otherwise, or when
    /// there is none: [`Take::Parked`] at once if `woken` was set (news for one of its parked runs)
    /// or `wait` is `None`; else after waiting (on `own`, this worker's condition variable) for
    /// news, a new run, or `wait`'s instant (if any).
    fn take(
        &self,
        own: &Arc<Condvar>,
        woken: &AtomicBool,
        accept_new: bool,
        wait: Option<Option<Instant>>,
    ) -> Take {
        let mut queues = self.lock();
        loop {
            if queues.closed {
                return Take::Closed;
            }
            if accept_new {
                match queues.next(self.limits.max_workers_per_account) {
                    // A client that gave up while its run waited: nothing to run or charge.
                    Some((account, task))
                        if task.reply.is_closed() || task.input.abandoned.is_cancelled() =>
                    {
                        queues.finished(&account);
                        metrics::counter!("lit_node_actions_abandoned_total").increment(1);
                        continue;
                    }
                    Some((_, task)) => return Take::Task(Box::new(task)),
                    None => {}
                }
            } else if queues.queued > 0 {
                // This worker takes no new runs: pass the signal on to one that does.
                queues.wake_one();
            }
            if woken.swap(false, Ordering::SeqCst) {
                return Take::Parked;
            }
            let until = match wait {
                None => return Take::Parked,
                Some(until) => until,
            };
            let left = until.map(|until| until.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Take::Parked;
            }
            queues.sleepers.push(own.clone());
            queues = match left {
                None => own
                    .wait(queues)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(left) => {
                    own.wait_timeout(queues, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
            queues.sleepers.retain(|sleeper| !Arc::ptr_eq(sleeper, own));
        }
    }

    /// Wakes the worker waiting on `own`: it has news for a parked run (see [`Take::Parked`]).
    /// Taking the lock first orders this after the worker's look at its `woken` flag.
    fn nudge(&self, own: &Condvar) {
        drop(self.lock());
        own.notify_one();
    }

    /// See [`Queues::park`]; a worker waiting for this account's share may now take its run.
    fn park(&self, account: &B256) -> bool {
        let mut queues = self.lock();
        let parked = queues.park(account, &self.limits);
        if parked {
            queues.wake_all();
        }
        parked
    }

    fn resume(&self, account: &B256) -> bool {
        self.lock()
            .resume(account, self.limits.max_workers_per_account)
    }

    fn unpark(&self, account: &B256) {
        self.lock().unpark(account);
    }

    fn finished(&self, account: &B256) {
        let mut queues = self.lock();
        queues.finished(account);
        // A worker waiting on an account that was at its share may now take its run.
        queues.wake_all();
    }

    fn close(&self) {
        let mut queues = self.lock();
        queues.closed = true;
        queues.wake_all();
    }
}

/// The worker threads, joined when the pool is dropped (a retired worker's successor adds
/// itself here).
type Threads = Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>;

pub struct ActionPool {
    scheduler: Arc<Scheduler>,
    threads: Threads,
    workers: usize,
    /// Workers still warming up (see [`ActionPool::warmed`]).
    warming: tokio::sync::watch::Receiver<usize>,
    services: Arc<Services>,
}

/// Starts worker `index` (see [`worker`]).
fn start_worker(
    index: usize,
    services: Arc<Services>,
    scheduler: Arc<Scheduler>,
    threads: Threads,
    warming: Option<Arc<tokio::sync::watch::Sender<usize>>>,
) -> std::io::Result<()> {
    let joined = threads.clone();
    let handle = std::thread::Builder::new()
        .name(format!("lit-action-{index}"))
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || {
            if worker(services.clone(), &scheduler, warming) == Exit::Retired {
                // This thread may not raise its priority again after a long run: a fresh
                // thread takes its place.
                if let Err(error) = start_worker(index, services, scheduler, joined, None) {
                    tracing::error!(%error, "cannot replace a Lit Action worker thread");
                }
            }
        })?;
    threads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(handle);
    Ok(())
}

impl ActionPool {
    /// Starts the workers of `limits`.
    pub fn new(services: Arc<Services>, limits: PoolLimits) -> std::io::Result<Self> {
        let limits = limits.resolved();
        let scheduler = Arc::new(Scheduler {
            queues: Mutex::new(Queues::default()),
            limits,
        });
        let threads = Threads::default();
        let to_warm = if limits.warm_ethers && services.ethers.is_some() {
            limits.workers
        } else {
            0
        };
        let (warmed, warming) = tokio::sync::watch::channel(to_warm);
        let warmed = Arc::new(warmed);
        for index in 0..limits.workers {
            let warmed = (to_warm > 0).then(|| warmed.clone());
            start_worker(
                index,
                services.clone(),
                scheduler.clone(),
                threads.clone(),
                warmed,
            )?;
        }
        Ok(Self {
            scheduler,
            threads,
            workers: limits.workers,
            warming,
            services,
        })
    }

    /// Resolves once every worker has built what ethers runs need (at once when warming is
    /// off), so the node reports ready only when a first request is served as fast as later ones.
    pub async fn warmed(&self) {
        let mut warming = self.warming.clone();
        let _ = warming.wait_for(|left| *left == 0).await;
    }

    /// What the runs share (for the API's client config).
    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The limits in force (automatic values worked out).
    pub fn limits(&self) -> PoolLimits {
        self.scheduler.limits
    }

    /// Queues `input` and waits for its outcome.
    pub async fn run(&self, input: RunInput) -> Result<ActionOutcome, PoolError> {
        let (reply, outcome) = oneshot::channel();
        let task = Task {
            input,
            reply,
            queued: Instant::now(),
        };
        if let Err(error) = self.scheduler.submit(task) {
            if error != PoolError::Closed {
                metrics::counter!("lit_node_actions_refused_total").increment(1);
            }
            return Err(error);
        }
        outcome.await.map_err(|_| PoolError::Closed)
    }
}

/// Stops the workers and waits for them (each finishes its current run first), so everything
/// they hold — the store above all — is released before the process exits. (Exiting with the
/// RocksDB handle still open in a worker thread can abort the process in RocksDB's static
/// destructors.)
impl Drop for ActionPool {
    fn drop(&mut self) {
        self.scheduler.close();
        loop {
            let next = self.threads.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match next {
                Some(thread) => {
                    let _ = thread.join();
                }
                None => break,
            }
        }
    }
}

/// Why a worker's loop ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// The pool closed.
    Closed,
    /// The thread could not get its normal priority back after a long run.
    Retired,
}

/// A run parked on this worker, with where its reply goes.
struct Parked {
    run: ParkedRun,
    reply: oneshot::Sender<ActionOutcome>,
    cid: String,
}

fn worker(
    services: Arc<Services>,
    scheduler: &Arc<Scheduler>,
    warming: Option<Arc<tokio::sync::watch::Sender<usize>>>,
) -> Exit {
    let warm = scheduler.limits.warm_ethers;
    let woken = Arc::new(AtomicBool::new(false));
    let own = Arc::new(Condvar::new());
    let waker: Waker = {
        let (woken, own, scheduler) = (woken.clone(), own.clone(), scheduler.clone());
        Arc::new(move || {
            woken.store(true, Ordering::SeqCst);
            scheduler.nudge(&own);
        })
    };
    let fresh = || ActionWorker::new(services.clone()).with_waker(waker.clone());
    let mut runner = fresh();
    if warm && std::panic::catch_unwind(AssertUnwindSafe(|| runner.warm_up())).is_err() {
        runner = fresh();
    }
    if let Some(warming) = warming {
        warming.send_modify(|left| *left = left.saturating_sub(1));
    }
    let mut parked: Vec<Parked> = Vec::new();
    // Set when this thread could not get its priority back: it takes no new runs, and ends
    // once its parked runs have.
    let mut retiring = false;
    // Parked runs are looked at when one has news (`woken`), when the earliest of them is due,
    // and after the scheduler had nothing new: not after every run, which would cost each
    // hello-world a walk over all of them.
    let mut scan = true;
    let mut next_wake: Option<Instant> = None;
    loop {
        let mut turns = 0;
        if scan
            || woken.swap(false, Ordering::SeqCst)
            || next_wake.is_some_and(|at| at <= Instant::now())
        {
            next_wake = None;
            // Parked runs with news go first, each once its account is below its share again.
            let mut index = 0;
            while index < parked.len() {
                let entry = &mut parked[index];
                if !entry.run.ready() {
                    next_wake = earliest(next_wake, entry.run.wake_at());
                    index += 1;
                    continue;
                }
                if !scheduler.resume(&entry.run.account()) {
                    // Its account is at its share: try again shortly.
                    next_wake = earliest(next_wake, Instant::now() + SHARE_RETRY);
                    index += 1;
                    continue;
                }
                let Parked { run, reply, cid } = parked.swap_remove(index);
                let account = run.account();
                let turn = Turn {
                    what: What::Resume(run),
                    account,
                    reply,
                    cid,
                };
                runner = take_turn(turn, scheduler, runner, &fresh, &mut parked);
                turns += 1;
            }
        }
        scan = false;
        if turns > 0 {
            retiring |= !super::priority::restore();
        }
        if retiring && parked.is_empty() {
            return Exit::Retired;
        }
        // Then a new run; wait only when nothing happened this round.
        let wait = (turns == 0).then_some(next_wake);
        let task = match scheduler.take(&own, &woken, !retiring, wait) {
            Take::Closed => {
                // Runs still parked end unanswered (their clients see the pool closing).
                for entry in parked.drain(..) {
                    scheduler.unpark(&entry.run.account());
                }
                return Exit::Closed;
            }
            Take::Parked => {
                scan = true;
                continue;
            }
            Take::Task(task) => *task,
        };
        metrics::histogram!("lit_node_action_queue_seconds")
            .record(task.queued.elapsed().as_secs_f64());
        let turn = Turn {
            account: task.input.account,
            cid: task.input.cid.clone(),
            what: What::Start(Box::new(task.input)),
            reply: task.reply,
        };
        runner = take_turn(turn, scheduler, runner, &fresh, &mut parked);
        if let Some(last) = parked.last() {
            next_wake = earliest(next_wake, last.run.wake_at());
        }
        retiring |= !super::priority::restore();
    }
}

fn earliest(next: Option<Instant>, at: Instant) -> Option<Instant> {
    Some(next.map_or(at, |next| next.min(at)))
}

/// How soon a parked run with news is looked at again when its account was at its share.
const SHARE_RETRY: std::time::Duration = std::time::Duration::from_millis(5);

/// Whether a run of `account` that has to wait may park (and then it is counted as parked).
/// `parked` are the worker's parked runs, counted only for an ethers run (most runs never ask).
fn may_park(scheduler: &Scheduler, account: &B256, ethers: bool, parked: &[Parked]) -> bool {
    let ethers_parked = || parked.iter().filter(|p| p.run.uses_ethers()).count();
    (!ethers || ethers_parked() < MAX_PARKED_ETHERS_PER_WORKER) && scheduler.park(account)
}

/// A run to give the thread to.
struct Turn {
    what: What,
    account: B256,
    reply: oneshot::Sender<ActionOutcome>,
    cid: String,
}

enum What {
    Start(Box<RunInput>),
    Resume(ParkedRun),
}

/// Gives the thread to a run until it ends or parks. A parked run joins `parked`; an ended one
/// is answered, and the worker prepares the next run. Returns the worker to go on with (a new one
/// if the turn panicked outside the run's own containment).
fn take_turn(
    turn: Turn,
    scheduler: &Scheduler,
    mut runner: ActionWorker,
    fresh: &dyn Fn() -> ActionWorker,
    parked: &mut Vec<Parked>,
) -> ActionWorker {
    let Turn {
        what,
        account,
        reply,
        cid,
    } = turn;
    let progress = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut may = |ethers| may_park(scheduler, &account, ethers, parked);
        match what {
            What::Start(input) => runner.start(*input, &mut may),
            What::Resume(run) => runner.resume(run, &mut may),
        }
    }));
    let outcome = match progress {
        Ok(Progress::Waiting(run)) => {
            parked.push(Parked { run, reply, cid });
            return runner;
        }
        Ok(Progress::Done(outcome)) => outcome,
        Err(_) => {
            tracing::error!(%cid, "the Lit Action runtime panicked");
            runner = fresh();
            ActionOutcome {
                response: serde_json::Value::String(super::guard::INTERNAL_ERROR.into()),
                logs: String::new(),
                has_error: true,
                run_time: std::time::Duration::ZERO,
            }
        }
    };
    scheduler.finished(&account);
    let label = if outcome.has_error {
        "error"
    } else {
        "success"
    };
    metrics::counter!("lit_node_actions_total", "outcome" => label).increment(1);
    metrics::histogram!("lit_node_action_run_seconds").record(outcome.run_time.as_secs_f64());
    let _ = reply.send(outcome);
    // The start of the next run, done while the client reads this reply (and the ethers
    // realm again, if the run took it with it).
    let warm = scheduler.limits.warm_ethers;
    let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runner.prepare();
        if warm {
            runner.warm_up();
        }
    }));
    if prepared.is_err() {
        runner = fresh();
    }
    runner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(workers: usize, queue: usize) -> PoolLimits {
        PoolLimits {
            workers,
            queue,
            max_workers_per_account: 0,
            max_queued_per_account: 0,
            max_parked: 100,
            max_parked_per_account: 0,
            warm_ethers: false,
        }
        .resolved()
    }

    #[test]
    fn accounts_are_served_in_turn_within_their_share() {
        let l = PoolLimits {
            workers: 3,
            queue: 10,
            max_workers_per_account: 2,
            max_queued_per_account: 6,
            max_parked: 3,
            max_parked_per_account: 2,
            warm_ethers: false,
        };
        let (a, b, c) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        );
        let mut q = Queues::default();
        for i in 0..6 {
            q.push(a, ("a", i), &l).unwrap();
        }
        assert_eq!(q.push(a, ("a", 6), &l), Err(PoolError::AccountSaturated(6)));
        q.push(b, ("b", 0), &l).unwrap();
        q.push(b, ("b", 1), &l).unwrap();
        q.push(c, ("c", 0), &l).unwrap();
        q.push(c, ("c", 1), &l).unwrap();
        assert_eq!(q.push(c, ("c", 2), &l), Err(PoolError::Saturated));
        // Round robin: a, b, c, then a again (a has 1 running, below its share of 2).
        let order: Vec<_> = (0..4).map(|_| q.next(2).unwrap().1).collect();
        assert_eq!(order, [("a", 0), ("b", 0), ("c", 0), ("a", 1)]);
        // a holds 2 workers: its runs wait while b and c are served.
        assert_eq!(q.next(2).unwrap().1, ("b", 1));
        assert_eq!(q.next(2).unwrap().1, ("c", 1));
        assert!(q.next(2).is_none(), "a is at its share, nobody else waits");
        q.finished(&a);
        assert_eq!(q.next(2).unwrap().1, ("a", 2));
        assert_eq!(q.queued, 3);
        q.closed = true;
        assert_eq!(q.push(b, ("b", 2), &l), Err(PoolError::Closed));
    }

    #[test]
    fn parked_runs_leave_the_worker_share_and_are_bounded() {
        let l = PoolLimits {
            workers: 2,
            queue: 10,
            max_workers_per_account: 1,
            max_queued_per_account: 10,
            max_parked: 3,
            max_parked_per_account: 2,
            warm_ethers: false,
        }
        .resolved();
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let mut q = Queues::default();
        for (account, run) in [(a, 0), (a, 1), (b, 0)] {
            q.push(account, run, &l).unwrap();
        }
        assert_eq!(q.next(1), Some((a, 0)));
        assert_eq!(q.next(1), Some((b, 0)));
        assert_eq!(q.next(1), None, "a is at its share of one worker");
        // a's running run parks: the share is free for a's next run, which parks too.
        assert!(q.park(&a, &l));
        assert_eq!(q.next(1), Some((a, 1)));
        assert!(q.park(&a, &l));
        assert_eq!((q.parked[&a], q.parked_total), (2, 2));
        // Both have news: one resumes, the other waits for the share.
        assert!(q.resume(&a, 1));
        assert!(!q.resume(&a, 1));
        assert_eq!((q.parked[&a], q.parked_total, q.running[&a]), (1, 1, 1));
        // The bounds: a second parked run of a is its limit, a third parked run the node's.
        assert!(q.park(&a, &l));
        assert!(q.park(&b, &l));
        q.push(a, 2, &l).unwrap();
        assert_eq!(q.next(1), Some((a, 2)));
        assert!(!q.park(&a, &l), "a has its 2 parked runs");
        q.push(b, 1, &l).unwrap();
        assert_eq!(q.next(1), Some((b, 1)));
        assert!(!q.park(&b, &l), "the node has its 3 parked runs");
        q.unpark(&a);
        assert!(q.park(&b, &l));
        assert_eq!(q.parked_total, 3);
    }

    #[test]
    fn automatic_shares_leave_room_for_other_accounts() {
        let l = limits(4, 256);
        assert_eq!(
            (l.max_workers_per_account, l.max_queued_per_account),
            (3, 64)
        );
        let l = limits(1, 3);
        assert_eq!(
            (l.max_workers_per_account, l.max_queued_per_account),
            (1, 1)
        );
        let l = limits(16, 256);
        assert_eq!(l.max_workers_per_account, 12);
        let explicit = PoolLimits {
            workers: 4,
            queue: 10,
            max_workers_per_account: 9,
            max_queued_per_account: 7,
            max_parked: 8,
            max_parked_per_account: 0,
            warm_ethers: false,
        }
        .resolved();
        assert_eq!(
            (
                explicit.max_workers_per_account,
                explicit.max_queued_per_account
            ),
            (4, 7)
        );
    }
}
