//! A bounded pool of threads that run Lit Actions. Each worker runs one action at a time, each in a
//! fresh QuickJS context on the worker's runtime (see `engine`); requests wait in a bounded queue and are refused with
//! [`PoolError::Saturated`] (HTTP 429) when it is full, so load never creates unbounded threads
//! or memory.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use super::engine::{ActionOutcome, ActionWorker, JS_STACK_BYTES};
use super::host::{RunInput, Services};

/// OS stack of a worker: QuickJS's own limit plus room for the Rust frames around it.
const WORKER_STACK_BYTES: usize = JS_STACK_BYTES + 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    #[error("the node is running as many Lit Actions as it can queue; retry shortly")]
    Saturated,
    #[error("the Lit Action runtime is shutting down")]
    Closed,
}

struct Task {
    input: RunInput,
    reply: oneshot::Sender<ActionOutcome>,
    queued: Instant,
}

pub struct ActionPool {
    /// `None` once shutting down (dropping it ends the workers' loops).
    sender: Option<SyncSender<Task>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ActionPool {
    /// Starts `workers` threads (0 = twice the CPU count) sharing a queue of `queue` tasks.
    pub fn new(services: Arc<Services>, workers: usize, queue: usize) -> std::io::Result<Self> {
        let workers = if workers == 0 {
            2 * std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        let (sender, receiver) = mpsc::sync_channel::<Task>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::with_capacity(workers);
        for index in 0..workers {
            let receiver = receiver.clone();
            let services = services.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("lit-action-{index}"))
                    .stack_size(WORKER_STACK_BYTES)
                    .spawn(move || worker(services, receiver))?,
            );
        }
        Ok(Self {
            sender: Some(sender),
            threads,
        })
    }

    pub fn workers(&self) -> usize {
        self.threads.len()
    }

    /// Queues `input` and waits for its outcome.
    pub async fn run(&self, input: RunInput) -> Result<ActionOutcome, PoolError> {
        let (reply, outcome) = oneshot::channel();
        let task = Task {
            input,
            reply,
            queued: Instant::now(),
        };
        let Some(sender) = &self.sender else {
            return Err(PoolError::Closed);
        };
        match sender.try_send(task) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("lit_node_actions_refused_total").increment(1);
                return Err(PoolError::Saturated);
            }
            Err(TrySendError::Disconnected(_)) => return Err(PoolError::Closed),
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
        self.sender.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn worker(services: Arc<Services>, receiver: Arc<Mutex<mpsc::Receiver<Task>>>) {
    let mut runner = ActionWorker::new(services.clone());
    loop {
        let task = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            match receiver.recv() {
                Ok(task) => task,
                Err(_) => return, // the pool was dropped
            }
        };
        metrics::histogram!("lit_node_action_queue_seconds")
            .record(task.queued.elapsed().as_secs_f64());
        let started = Instant::now();
        let cid = task.input.cid.clone();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runner.run(task.input)))
            .unwrap_or_else(|_| {
                tracing::error!(%cid, "the Lit Action runtime panicked");
                runner = ActionWorker::new(services.clone());
                ActionOutcome {
                    response: serde_json::Value::String(
                        "internal error in the Lit Action runtime".into(),
                    ),
                    logs: String::new(),
                    has_error: true,
                    run_time: started.elapsed(),
                }
            });
        let label = if outcome.has_error {
            "error"
        } else {
            "success"
        };
        metrics::counter!("lit_node_actions_total", "outcome" => label).increment(1);
        metrics::histogram!("lit_node_action_run_seconds").record(outcome.run_time.as_secs_f64());
        let _ = task.reply.send(outcome);
        // The start of the next run, done while the client reads this reply.
        if std::panic::catch_unwind(AssertUnwindSafe(|| runner.prepare())).is_err() {
            runner = ActionWorker::new(services.clone());
        }
    }
}
