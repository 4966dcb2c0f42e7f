//! The native (Rust) half of the Lit Actions runtime: the `host` object handed to `prelude.js`.
//! It holds one run's state — logs, response, counters of limited operations, in-flight fetches,
//! the deadline — and implements the key operations of `Lit.Actions` with permissions read from
//! the mirror. Keys are derived on demand for wallets the key may use in this action and never
//! for a wallet that is not registered to the caller's account.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use alloy::primitives::{Address, B256};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Object, TypedArray};

use super::fetch::{FetchBudget, FetchResponse, Fetcher};
use super::js_bytes::bytes_of;
use super::limits::ActionLimits;
use super::realm::EthersRealm;
use crate::keys::KeyDeriver;
use crate::store::permissions::Permissions;
use crate::store::Store;

mod fetch_start;
mod keys;
pub mod lazy;
mod subtle;
mod utils;

/// What every run shares: key derivation, the mirror, fetch, the compiled ethers bundle, and
/// where imported modules come from.
pub struct Services {
    pub keys: KeyDeriver,
    pub permissions: Permissions,
    pub store: Store,
    pub fetcher: Option<Fetcher>,
    pub ethers: Option<Arc<Vec<u8>>>,
    /// `None`: imports are refused on this node.
    pub modules: Option<super::modules::source::ModuleSource>,
}

/// One module a run loaded (`Lit.Actions.showImportDetails()`).
#[derive(Debug, Clone)]
pub struct ImportDetail {
    pub url: String,
    pub sha384: String,
    pub size: usize,
    /// "cache" or "network".
    pub from: &'static str,
    /// Read as bytecode compiled by an earlier run (not parsed again).
    pub bytecode: bool,
}

/// Pays for a run's time as it goes (billing): the first second is paid before the run starts;
/// each further second is bought when the run reaches it. `extend` buys one more second and
/// answers false when the account cannot pay for it, which stops the run.
pub trait RunCredit: Send + Sync {
    fn extend(&self) -> bool;
}

/// One run's inputs.
#[derive(Clone)]
pub struct RunInput {
    pub code: Arc<str>,
    pub cid: String,
    pub cid_hash: B256,
    pub key_hash: B256,
    /// The account the run is for (the pool's fair share is per account).
    pub account: B256,
    /// `js_params` as JSON text; `None` → `main(null)`.
    pub params_json: Option<String>,
    pub limits: ActionLimits,
    /// `Lit.Headers`: the request id and, if sent, the correlation id.
    pub headers: Vec<(String, String)>,
    /// The account's credit line when billing is on (`None`: only the time limit applies).
    pub credit: Option<Arc<dyn RunCredit>>,
    /// Cancelled when nobody waits for the reply any more (the client disconnected or its request
    /// timed out): the run is stopped at its next interrupt check (and still charged).
    pub abandoned: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for RunInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunInput")
            .field("cid", &self.cid)
            .field("key_hash", &self.key_hash)
            .field("account", &self.account)
            .field("limits", &self.limits)
            .field("billed", &self.credit.is_some())
            .finish_non_exhaustive()
    }
}

/// Longest run the engine could be asked for (limits are clamped far below it).
const MAX_RUN_TIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Run time one purchase of credit pays for.
const CREDIT_STEP: std::time::Duration = std::time::Duration::from_secs(1);

/// A JS exception to throw, by constructor.
pub enum Thrown {
    Error(String),
    Range(String),
    Type(String),
}

impl Thrown {
    fn throw(self, ctx: &Ctx<'_>) -> rquickjs::Error {
        match self {
            Thrown::Error(m) => Exception::throw_message(ctx, &m),
            Thrown::Range(m) => Exception::throw_range(ctx, &m),
            Thrown::Type(m) => Exception::throw_type(ctx, &m),
        }
    }
}

type HostResult<T> = Result<T, Thrown>;

pub type FetchDone = (u32, Result<FetchResponse, String>);

/// Tells the worker thread that owns a run that something the run waits for has arrived, so a
/// run parked while it waits (see `engine`) is looked at again.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Where a run's fetch results go: its channel, then a nudge to its worker.
#[derive(Clone)]
pub struct FetchMailbox {
    sender: mpsc::Sender<FetchDone>,
    wake: Option<Waker>,
}

impl FetchMailbox {
    pub fn new(sender: mpsc::Sender<FetchDone>, wake: Option<Waker>) -> Self {
        Self { sender, wake }
    }

    pub fn send(&self, done: FetchDone) {
        if self.sender.send(done).is_ok() {
            if let Some(wake) = &self.wake {
                wake();
            }
        }
    }
}

const NOT_PERMITTED: &str = "API key cannot use selected wallet in selected action";

pub struct Host {
    pub services: Arc<Services>,
    pub input: RunInput,
    pub started: Instant,
    pub deadline: Instant,
    pub timed_out: Cell<bool>,
    /// When the run last got its worker's thread (it gives it up while it waits, see `engine`).
    slice_started: Cell<Instant>,
    /// Until when the run's time is paid for (billing only).
    credit_until: Cell<Option<Instant>>,
    /// The account could not pay for the next second: the run stops.
    pub out_of_credit: Cell<bool>,
    /// Nobody waits for the reply any more: the run stops.
    pub abandoned: Cell<bool>,
    /// The first limit broken; the run ends with it whatever the action does afterwards.
    pub breach: RefCell<Option<String>>,
    pub logs: RefCell<String>,
    /// The last `setResponse`: (was a string, text).
    pub response: RefCell<Option<(bool, String)>>,
    key_ops: Cell<u64>,
    fetches: Cell<u64>,
    /// Fetches started and not yet delivered, by id: aborting one stops its task.
    in_flight: RefCell<HashMap<u32, tokio::task::AbortHandle>>,
    fetch_done: FetchMailbox,
    /// Bytes of fetch bodies held outside the JS heap, bounded by the run's memory limit.
    pub fetch_budget: Arc<FetchBudget>,
    derivation_ids: RefCell<HashMap<Address, B256>>,
    /// Wallet keys derived in this run (`SecretKey` zeroises itself when dropped).
    signing_keys: RefCell<HashMap<Address, k256::SecretKey>>,
    /// The worker's shared ethers, if built (weak: the worker owns it, and the host may be freed
    /// by the runtime's own teardown).
    realm: Option<Weak<EthersRealm>>,
    /// The modules this run loaded, in order.
    pub imports: RefCell<Vec<ImportDetail>>,
    /// What the run's module downloads gave.
    pub module_downloads: RefCell<super::modules::loader::Downloads>,
}

impl Host {
    pub fn new(
        services: Arc<Services>,
        input: RunInput,
        started: Instant,
        fetch_done: FetchMailbox,
        realm: Option<Weak<EthersRealm>>,
    ) -> Self {
        // Limits are clamped when read (see `limits`); the fallback only guards the arithmetic.
        let deadline = started
            .checked_add(std::time::Duration::from_millis(input.limits.timeout_ms))
            .unwrap_or(started + MAX_RUN_TIME);
        let credit_until = input.credit.as_ref().map(|_| started + CREDIT_STEP);
        let memory_bytes = usize::try_from(input.limits.memory_limit_mb)
            .unwrap_or(usize::MAX)
            .saturating_mul(1024 * 1024);
        Self {
            services,
            input,
            started,
            deadline,
            timed_out: Cell::new(false),
            slice_started: Cell::new(started),
            credit_until: Cell::new(credit_until),
            out_of_credit: Cell::new(false),
            abandoned: Cell::new(false),
            breach: RefCell::new(None),
            logs: RefCell::new(String::new()),
            response: RefCell::new(None),
            key_ops: Cell::new(0),
            fetches: Cell::new(0),
            in_flight: RefCell::new(HashMap::new()),
            fetch_done,
            fetch_budget: FetchBudget::new(memory_bytes),
            derivation_ids: RefCell::new(HashMap::new()),
            signing_keys: RefCell::new(HashMap::new()),
            realm,
            imports: RefCell::new(Vec::new()),
            module_downloads: RefCell::default(),
        }
    }

    /// Milliseconds since the run started (the clock of the run's timers).
    pub fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// The run holds its worker's thread again from now.
    pub fn begin_slice(&self) {
        self.slice_started.set(Instant::now());
    }

    /// Whole seconds of run time the account paid for (billing).
    pub fn paid_seconds(&self) -> u64 {
        self.credit_until
            .get()
            .map_or(0, |until| (until - self.started).as_secs())
    }

    /// When the run must next be looked at: its time limit, or the end of its paid time.
    pub fn next_stop(&self) -> Instant {
        match self.credit_until.get() {
            Some(until) => until.min(self.deadline),
            None => self.deadline,
        }
    }

    /// Called by the engine's interrupt handler while JS runs (and by its event loop): true
    /// stops the run. A run that has held its thread for long lowers the thread's priority.
    pub fn should_interrupt(&self) -> bool {
        if self.must_stop() {
            return true;
        }
        // What counts is how long the run has held the thread, not time it spent parked.
        if self.slice_started.get().elapsed() >= super::priority::LONG_RUN {
            super::priority::lower();
        }
        false
    }

    /// Whether the run must end now: a limit broken, its client gone, its time or its credit
    /// used up. Buys the next second of credit when the paid time is used up.
    pub fn must_stop(&self) -> bool {
        if self.breach.borrow().is_some()
            || self.out_of_credit.get()
            || self.abandoned.get()
            || super::guard::panicked()
        {
            return true;
        }
        if self.input.abandoned.is_cancelled() {
            self.abandoned.set(true);
            return true;
        }
        let now = Instant::now();
        if now >= self.deadline {
            self.timed_out.set(true);
            return true;
        }
        if let (Some(until), Some(credit)) = (self.credit_until.get(), &self.input.credit) {
            if now >= until {
                if !credit.extend() {
                    self.out_of_credit.set(true);
                    return true;
                }
                self.credit_until.set(Some(until + CREDIT_STEP));
            }
        }
        false
    }

    /// How many fetches are still to be delivered.
    pub fn fetches_in_flight(&self) -> usize {
        self.in_flight.borrow().len()
    }

    /// A fetch's outcome arrived: true if it is still wanted (it was not aborted).
    pub fn fetch_finished(&self, id: u32) -> bool {
        self.in_flight.borrow_mut().remove(&id).is_some()
    }

    fn abort_fetch(&self, id: u32) {
        if let Some(task) = self.in_flight.borrow_mut().remove(&id) {
            task.abort();
        }
    }

    /// Records a broken limit (the first one wins) and returns the error to throw.
    fn breach(&self, message: String) -> Thrown {
        let mut breach = self.breach.borrow_mut();
        if breach.is_none() {
            *breach = Some(message.clone());
        }
        Thrown::Error(message)
    }

    fn log(&self, text: String) -> HostResult<()> {
        let mut logs = self.logs.borrow_mut();
        if (logs.len() + text.len()) as u64 > self.input.limits.max_console_log_length {
            drop(logs);
            return Err(
                self.breach("Console.log is printing something that is too long".to_string())
            );
        }
        logs.push_str(&text);
        Ok(())
    }

    fn set_response(&self, text: String, is_string: bool) -> HostResult<()> {
        let max = self.input.limits.max_response_length;
        if text.len() as u64 > max {
            return Err(self.breach(format!("Response is too long. Max length is {max} bytes")));
        }
        *self.response.borrow_mut() = Some((is_string, text));
        Ok(())
    }

    fn count_key_op(&self) -> HostResult<()> {
        let max = self.input.limits.max_get_keys_count;
        let used = self.key_ops.get() + 1;
        if used > max {
            return Err(self.breach(format!(
                "You may not use more than {max} key operations (getPrivateKey, sign, Encrypt, Decrypt, …) per session"
            )));
        }
        self.key_ops.set(used);
        Ok(())
    }
}

/// The `host` object for one run.
pub fn host_object<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    let h = host.clone();
    native!(object, ctx, "log", move |ctx: Ctx<'js>, text: String| {
        h.log(text).map_err(|e| e.throw(&ctx))
    });
    let h = host.clone();
    native!(
        object,
        ctx,
        "setResponse",
        move |ctx: Ctx<'js>, text: String, is_string: bool| {
            h.set_response(text, is_string).map_err(|e| e.throw(&ctx))
        }
    );
    let h = host.clone();
    native!(object, ctx, "now", move |_ctx: Ctx<'js>| Ok(h.now_ms()));
    let h = host.clone();
    native!(object, ctx, "importDetails", move |ctx: Ctx<'js>| {
        let list = rquickjs::Array::new(ctx.clone())?;
        for (i, detail) in h.imports.borrow().iter().enumerate() {
            let item = Object::new(ctx.clone())?;
            item.set("url", detail.url.as_str())?;
            item.set("sha384", detail.sha384.as_str())?;
            item.set("size", detail.size)?;
            item.set("from", detail.from)?;
            item.set("bytecode", detail.bytecode)?;
            list.set(i, item)?;
        }
        Ok::<_, rquickjs::Error>(list)
    });
    let h = host.clone();
    native!(object, ctx, "requestHeaders", move |ctx: Ctx<'js>| {
        let headers = Object::new(ctx)?;
        for (name, value) in &h.input.headers {
            headers.set(name.as_str(), value.as_str())?;
        }
        Ok::<_, rquickjs::Error>(headers)
    });
    // fetch: started here, completed by the engine's event loop through `driver.fetchDone`.
    let h = host.clone();
    native!(object, ctx, "fetchStart", move |ctx: Ctx<'js>,
                                             method: String,
                                             url: String,
                                             headers: Vec<
        Vec<String>,
    >,
                                             body: Opt<
        Option<TypedArray<'js, u8>>,
    >| {
        let body = body.0.flatten().map(|b| bytes_of(&b));
        h.start_fetch(method, url, headers, body)
            .map_err(|e| e.throw(&ctx))
    });
    // An aborted fetch (AbortSignal): its request is dropped and its outcome never delivered.
    let h = host.clone();
    native!(object, ctx, "fetchAbort", move |_ctx: Ctx<'js>, id: u32| {
        h.abort_fetch(id);
        Ok::<_, rquickjs::Error>(())
    });

    // The runtime's own scripts loaded on first use: "web" (web.js), "globals" (globals.js),
    // "subtle" (subtle.js).
    native!(object, ctx, "load", |ctx: Ctx<'js>, name: String| {
        let bytecode = match name.as_str() {
            "web" => super::bytecode::web(),
            "globals" => super::bytecode::globals(),
            "subtle" => super::bytecode::subtle(),
            other => Err(format!("no runtime script named {other}")),
        }
        .map_err(|e| Exception::throw_internal(&ctx, &e))?;
        super::bytecode::load_script(&ctx, bytecode)
    });
    let h = host.clone();
    native!(object, ctx, "loadEthers", move |ctx: Ctx<'js>| {
        if let Some(realm) = h.realm.as_ref().and_then(Weak::upgrade) {
            realm.link(&ctx)?;
            return realm.ethers(&ctx);
        }
        match &h.services.ethers {
            Some(bytecode) => super::ethers::load(&ctx, bytecode),
            None => Err(Exception::throw_message(
                &ctx,
                "ethers is not available on this node",
            )),
        }
    });
    // Created on first use (most runs never sign nor touch the web classes): building a native
    // function costs about a microsecond, and a run pays for every one it creates.
    let h = host.clone();
    native!(object, ctx, "keys", move |ctx: Ctx<'js>| keys::key_natives(
        &ctx, &h
    ));
    native!(object, ctx, "utils", |ctx: Ctx<'js>| utils::util_natives(
        &ctx
    ));
    native!(object, ctx, "subtle", |ctx: Ctx<'js>| {
        subtle::subtle_natives(&ctx)
    });
    Ok(object)
}
