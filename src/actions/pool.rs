//! A bounded pool of threads that run Lit Actions. Each worker runs one action at a time, each in a
//! fresh QuickJS context on the worker's runtime (see `engine`).
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

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use alloy::primitives::B256;
use tokio::sync::oneshot;

use super::engine::{ActionOutcome, ActionWorker, JS_STACK_BYTES};
use super::host::{RunInput, Services};

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
        Self {
            workers,
            queue: self.queue,
            max_workers_per_account,
            max_queued_per_account,
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
    closed: bool,
}

impl<T> Default for Queues<T> {
    fn default() -> Self {
        Self {
            waiting: HashMap::new(),
            turns: VecDeque::new(),
            running: HashMap::new(),
            queued: 0,
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
}

struct Scheduler {
    queues: Mutex<Queues<Task>>,
    /// Signalled when a run is queued, a run finishes, or the pool closes.
    changed: Condvar,
    limits: PoolLimits,
}

impl Scheduler {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues<Task>> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn submit(&self, task: Task) -> Result<(), PoolError> {
        self.lock().push(task.input.account, task, &self.limits)?;
        self.changed.notify_one();
        Ok(())
    }

    /// Blocks until there is a run for this worker; `None` once the pool is closed.
    fn take(&self) -> Option<Task> {
        let mut queues = self.lock();
        loop {
            if queues.closed {
                return None;
            }
            match queues.next(self.limits.max_workers_per_account) {
                // A client that gave up while its run waited: nothing to run or charge.
                Some((account, task))
                    if task.reply.is_closed() || task.input.abandoned.is_cancelled() =>
                {
                    queues.finished(&account);
                    metrics::counter!("lit_node_actions_abandoned_total").increment(1);
                }
                Some((_, task)) => return Some(task),
                None => {
                    queues = self
                        .changed
                        .wait(queues)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
        }
    }

    fn finished(&self, account: &B256) {
        self.lock().finished(account);
        // A worker waiting on an account that was at its share may now take its run.
        self.changed.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
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
            changed: Condvar::new(),
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

fn worker(
    services: Arc<Services>,
    scheduler: &Scheduler,
    warming: Option<Arc<tokio::sync::watch::Sender<usize>>>,
) -> Exit {
    let warm = scheduler.limits.warm_ethers;
    let mut runner = ActionWorker::new(services.clone());
    if warm && std::panic::catch_unwind(AssertUnwindSafe(|| runner.warm_up())).is_err() {
        runner = ActionWorker::new(services.clone());
    }
    if let Some(warming) = warming {
        warming.send_modify(|left| *left = left.saturating_sub(1));
    }
    while let Some(task) = scheduler.take() {
        metrics::histogram!("lit_node_action_queue_seconds")
            .record(task.queued.elapsed().as_secs_f64());
        let started = Instant::now();
        let account = task.input.account;
        let cid = task.input.cid.clone();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runner.run(task.input)))
            .unwrap_or_else(|_| {
                tracing::error!(%cid, "the Lit Action runtime panicked");
                runner = ActionWorker::new(services.clone());
                ActionOutcome {
                    response: serde_json::Value::String(super::guard::INTERNAL_ERROR.into()),
                    logs: String::new(),
                    has_error: true,
                    run_time: started.elapsed(),
                }
            });
        scheduler.finished(&account);
        let label = if outcome.has_error {
            "error"
        } else {
            "success"
        };
        metrics::counter!("lit_node_actions_total", "outcome" => label).increment(1);
        metrics::histogram!("lit_node_action_run_seconds").record(outcome.run_time.as_secs_f64());
        let _ = task.reply.send(outcome);
        if !super::priority::restore() {
            return Exit::Retired;
        }
        // The start of the next run, done while the client reads this reply (and the ethers
        // realm again, if the run took it with it).
        let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| {
            runner.prepare();
            if warm {
                runner.warm_up();
            }
        }));
        if prepared.is_err() {
            runner = ActionWorker::new(services.clone());
        }
    }
    Exit::Closed
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
