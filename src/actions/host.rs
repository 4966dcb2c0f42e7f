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
use rquickjs::{Ctx, Exception, Object, TypedArray, Value};
use sha2::Digest;

use super::fetch::{FetchBudget, FetchRequest, FetchResponse, Fetcher};
use super::limits::ActionLimits;
use super::realm::EthersRealm;
use crate::keys::{aead, ecdsa, KeyDeriver};
use crate::store::permissions::Permissions;
use crate::store::Store;
use zeroize::Zeroizing;

/// What every run shares: key derivation, the mirror, fetch, the compiled ethers bundle.
pub struct Services {
    pub keys: KeyDeriver,
    pub permissions: Permissions,
    pub store: Store,
    pub fetcher: Option<Fetcher>,
    pub ethers: Option<Arc<Vec<u8>>>,
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

const NOT_PERMITTED: &str = "API key cannot use selected wallet in selected action";

pub struct Host {
    pub services: Arc<Services>,
    pub input: RunInput,
    pub started: Instant,
    pub deadline: Instant,
    pub timed_out: Cell<bool>,
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
    pub in_flight: Cell<usize>,
    fetch_done: mpsc::Sender<FetchDone>,
    /// Bytes of fetch bodies held outside the JS heap, bounded by the run's memory limit.
    pub fetch_budget: Arc<FetchBudget>,
    derivation_ids: RefCell<HashMap<Address, B256>>,
    /// Wallet keys derived in this run (`SecretKey` zeroises itself when dropped).
    signing_keys: RefCell<HashMap<Address, k256::SecretKey>>,
    /// The worker's shared ethers, if built (weak: the worker owns it, and the host may be freed
    /// by the runtime's own teardown).
    realm: Option<Weak<EthersRealm>>,
}

impl Host {
    pub fn new(
        services: Arc<Services>,
        input: RunInput,
        started: Instant,
        fetch_done: mpsc::Sender<FetchDone>,
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
            credit_until: Cell::new(credit_until),
            out_of_credit: Cell::new(false),
            abandoned: Cell::new(false),
            breach: RefCell::new(None),
            logs: RefCell::new(String::new()),
            response: RefCell::new(None),
            key_ops: Cell::new(0),
            fetches: Cell::new(0),
            in_flight: Cell::new(0),
            fetch_done,
            fetch_budget: FetchBudget::new(memory_bytes),
            derivation_ids: RefCell::new(HashMap::new()),
            signing_keys: RefCell::new(HashMap::new()),
            realm,
        }
    }

    /// Milliseconds since the run started (the clock of the run's timers).
    pub fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
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
    /// stops the run. Buys the next second of credit when the paid time is used up.
    pub fn should_interrupt(&self) -> bool {
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
        if now.duration_since(self.started) >= super::priority::LONG_RUN {
            super::priority::lower();
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

    /// The wallet and its derivation id, if this key may use it in this action. The permission
    /// is checked on every call; the derivation id is remembered for the rest of the run.
    fn permitted_wallet(&self, pkp_id: &str) -> HostResult<(Address, B256)> {
        let hex = pkp_id
            .strip_prefix("0x")
            .or_else(|| pkp_id.strip_prefix("0X"))
            .unwrap_or(pkp_id);
        let wallet: Address = (hex.len() == 40)
            .then(|| hex.parse().ok())
            .flatten()
            .ok_or_else(|| {
                Thrown::Error(format!(
                    "Invalid pkpId {pkp_id:?}: expected a wallet address, 0x followed by 40 hex digits"
                ))
            })?;
        let internal = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "mirror read failed during a Lit Action");
            Thrown::Error("internal error reading the node's chain mirror".into())
        };
        let services = &self.services;
        let input = &self.input;
        if !services
            .permissions
            .can_use_wallet(&input.key_hash, &input.cid_hash, &wallet)
            .map_err(internal)?
        {
            return Err(Thrown::Error(NOT_PERMITTED.into()));
        }
        if let Some(id) = self.derivation_ids.borrow().get(&wallet) {
            return Ok((wallet, *id));
        }
        let record = services
            .store
            .wallet(&wallet)
            .map_err(internal)?
            .ok_or_else(|| Thrown::Error(NOT_PERMITTED.into()))?;
        // Never use a key for a wallet whose registered derivation does not derive its address
        // (the registry only accepts derivations the node minted, but the key is never trusted
        // to the chain alone).
        let key = services.keys.wallet_signing_key(&record.derivation_id.0);
        if !derivation_verified(wallet, record.derivation_id, &key) {
            tracing::error!(%wallet, "a registered wallet's derivation id does not derive its address");
            return Err(Thrown::Error(format!(
                "wallet {wallet:#x} cannot be used: its registered derivation does not derive its address"
            )));
        }
        self.signing_keys.borrow_mut().insert(wallet, key);
        self.derivation_ids
            .borrow_mut()
            .insert(wallet, record.derivation_id);
        Ok((wallet, record.derivation_id))
    }

    /// The wallet's signing key. Derived once per run and wallet, kept only in this run's memory
    /// (zeroised when the run ends); every call is still permission-checked and counted.
    fn wallet_signing_key(&self, pkp_id: &str) -> HostResult<k256::SecretKey> {
        self.count_key_op()?;
        let (wallet, id) = self.permitted_wallet(pkp_id)?;
        if let Some(key) = self.signing_keys.borrow().get(&wallet) {
            return Ok(key.clone());
        }
        let key = self.services.keys.wallet_signing_key(&id.0);
        self.signing_keys.borrow_mut().insert(wallet, key.clone());
        Ok(key)
    }

    fn wallet_encryption_key(&self, pkp_id: &str) -> HostResult<zeroize::Zeroizing<[u8; 32]>> {
        self.count_key_op()?;
        let (_, id) = self.permitted_wallet(pkp_id)?;
        Ok(self.services.keys.wallet_encryption_key(&id.0))
    }

    fn action_key(&self, ipfs_id: Option<&str>) -> HostResult<k256::SecretKey> {
        self.count_key_op()?;
        let cid = match ipfs_id {
            None => self.input.cid.as_str(),
            Some(id) => {
                let id = id.trim();
                if id.is_empty() {
                    return Err(Thrown::Range("ipfsId must not be blank".into()));
                }
                if cid::Cid::try_from(id).is_err() {
                    return Err(Thrown::Error(format!(
                        "Invalid ipfsId {id:?}: expected an IPFS CID such as Qm…"
                    )));
                }
                id
            }
        };
        Ok(self.services.keys.action_signing_key(cid))
    }

    fn start_fetch(
        &self,
        method: String,
        url: String,
        headers: Vec<Vec<String>>,
        body: Option<Vec<u8>>,
    ) -> HostResult<u32> {
        let max = self.input.limits.max_fetch_count;
        let used = self.fetches.get() + 1;
        if used > max {
            return Err(self.breach(format!(
                "You may not send more than {max} HTTP requests per session"
            )));
        }
        self.fetches.set(used);
        let Some(fetcher) = &self.services.fetcher else {
            return Err(Thrown::Error("fetch is not available on this node".into()));
        };
        let headers = headers
            .into_iter()
            .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                Ok([k, v]) => Some((k, v)),
                Err(_) => None,
            })
            .collect();
        let sending = self
            .fetch_budget
            .reserve(body.as_ref().map_or(0, Vec::len))
            .map_err(|reason| Thrown::Type(format!("fetch failed: {reason}")))?;
        let id = used as u32;
        let sender = self.fetch_done.clone();
        let time_left = self.deadline.saturating_duration_since(Instant::now());
        fetcher.spawn(
            FetchRequest {
                method,
                url,
                headers,
                body,
            },
            sending,
            time_left,
            move |outcome| {
                let _ = sender.send((id, outcome));
            },
        );
        self.in_flight.set(self.in_flight.get() + 1);
        Ok(id)
    }
}

/// Copies a Uint8Array's bytes out of the engine.
pub fn bytes_of(array: &TypedArray<'_, u8>) -> Vec<u8> {
    // SAFETY: the slice is copied before any JavaScript runs again.
    unsafe { array.as_bytes() }
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// The bytes are copied into memory QuickJS allocates, so they count against the run's memory
/// limit (a buffer handed over by ownership would live outside it until collected).
pub fn uint8_array<'js>(ctx: &Ctx<'js>, bytes: impl AsRef<[u8]>) -> rquickjs::Result<Value<'js>> {
    Ok(TypedArray::<u8>::new_copy(ctx.clone(), bytes)?.into_value())
}

/// A fresh `Uint8Array` of `len` (at most 65,536) bytes from the OS's random source.
pub fn random_uint8_array<'js>(ctx: &Ctx<'js>, len: usize) -> rquickjs::Result<Value<'js>> {
    use rand::RngCore;
    let mut bytes = vec![0u8; len.min(65536)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    uint8_array(ctx, bytes)
}

fn prefixed_hex(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A 32-byte digest given as hex (optional `0x`) or as bytes.
fn digest_arg(value: &Value<'_>) -> HostResult<Vec<u8>> {
    let bytes = if let Some(text) = value.as_string() {
        let text = text
            .to_string()
            .map_err(|_| Thrown::Type("toSign must be a string or bytes".into()))?;
        let text = text.trim();
        hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|_| {
            Thrown::Error("toSign must be a 32-byte digest: 64 hex digits or 32 bytes".into())
        })?
    } else if let Ok(array) = TypedArray::<u8>::from_value(value.clone()) {
        bytes_of(&array)
    } else {
        return Err(Thrown::Type(
            "toSign must be a hex string or a Uint8Array".into(),
        ));
    };
    if bytes.len() != 32 {
        return Err(Thrown::Error(format!(
            "toSign must be a 32-byte digest: 64 hex digits or 32 bytes, got {} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn url_parts<'js>(ctx: &Ctx<'js>, url: &url::Url) -> rquickjs::Result<Object<'js>> {
    use url::quirks;
    let parts = Object::new(ctx.clone())?;
    parts.set("href", quirks::href(url))?;
    parts.set("origin", quirks::origin(url))?;
    parts.set("protocol", quirks::protocol(url))?;
    parts.set("username", quirks::username(url))?;
    parts.set("password", quirks::password(url))?;
    parts.set("host", quirks::host(url))?;
    parts.set("hostname", quirks::hostname(url))?;
    parts.set("port", quirks::port(url))?;
    parts.set("pathname", quirks::pathname(url))?;
    parts.set("search", quirks::search(url))?;
    parts.set("hash", quirks::hash(url))?;
    Ok(parts)
}

fn invalid_url(ctx: &Ctx<'_>, text: &str) -> rquickjs::Error {
    Exception::throw_type(ctx, &format!("Invalid URL: {text}"))
}

/// The private key as `0x` hex, for `getPrivateKey`. Every copy this side of the engine is wiped
/// (the engine's own string is the action's to keep).
fn private_key_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    let bytes = Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
    let mut text =
        Zeroizing::new(*b"0x0000000000000000000000000000000000000000000000000000000000000000");
    hex::encode_to_slice(bytes.as_ref(), &mut text[2..]).expect("64 digits for 32 bytes");
    Zeroizing::new(String::from(
        std::str::from_utf8(text.as_ref()).expect("hex digits are ASCII"),
    ))
}

fn public_key_hex(key: &k256::SecretKey, compressed: bool) -> Zeroizing<String> {
    let bytes = Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
    Zeroizing::new(prefixed_hex(
        ecdsa::public_key_bytes(bytes.as_ref(), compressed)
            .expect("a derived key is a valid private key"),
    ))
}

fn compressed_public_key_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    public_key_hex(key, true)
}

fn uncompressed_public_key_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    public_key_hex(key, false)
}

/// Lowercase `0x` address.
fn address_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    Zeroizing::new(format!("{:#x}", crate::keys::derive::address_of(key)))
}

/// A JavaScript string of `text` (copied into the engine; `text` stays the caller's to wipe).
fn js_string<'js>(ctx: &Ctx<'js>, text: &str) -> rquickjs::Result<rquickjs::String<'js>> {
    rquickjs::String::from_str(ctx.clone(), text)
}

/// Wallet ↔ derivation pairs whose key was seen to derive the wallet's address (checked once per
/// process, not per run: the check costs a public-key computation). Bounded: cleared when full.
static VERIFIED_DERIVATIONS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashSet<(Address, B256)>>,
> = std::sync::LazyLock::new(Default::default);
const MAX_VERIFIED_DERIVATIONS: usize = 100_000;

/// Whether `key` (derived from `derivation_id`) is the key of `wallet`.
fn derivation_verified(wallet: Address, derivation_id: B256, key: &k256::SecretKey) -> bool {
    let lock = || {
        VERIFIED_DERIVATIONS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if lock().contains(&(wallet, derivation_id)) {
        return true;
    }
    if crate::keys::derive::address_of(key) != wallet {
        return false;
    }
    let mut verified = lock();
    if verified.len() >= MAX_VERIFIED_DERIVATIONS {
        verified.clear();
    }
    verified.insert((wallet, derivation_id));
    true
}

/// How a key function finds its key from its string argument.
type KeyLookup = fn(&Host, &str) -> HostResult<k256::SecretKey>;

/// The wallet's signing key for `pkpId` (permission-checked and counted).
fn wallet_key(host: &Host, pkp_id: &str) -> HostResult<k256::SecretKey> {
    host.wallet_signing_key(pkp_id)
}

/// The action key of the CID `ipfsId` (counted).
fn action_key_of(host: &Host, ipfs_id: &str) -> HostResult<k256::SecretKey> {
    host.action_key(Some(ipfs_id))
}

/// Registers `name(argument)`: the key `lookup` finds for the argument, shown with `present`.
fn key_fn<'js>(
    object: &Object<'js>,
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    name: &'static str,
    lookup: KeyLookup,
    present: fn(&k256::SecretKey) -> Zeroizing<String>,
) -> rquickjs::Result<()> {
    let h = host.clone();
    native!(object, ctx, name, move |ctx: Ctx<'js>, argument: String| {
        lookup(&h, &argument)
            .map_err(|e| e.throw(&ctx))
            .and_then(|key| js_string(&ctx, &present(&key)))
    });
    Ok(())
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

    // The runtime's own scripts loaded on first use: "web" (web.js), "globals" (globals.js).
    native!(object, ctx, "load", |ctx: Ctx<'js>, name: String| {
        let bytecode = match name.as_str() {
            "web" => super::engine::web_bytecode(),
            "globals" => super::engine::globals_bytecode(),
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
    native!(object, ctx, "keys", move |ctx: Ctx<'js>| key_natives(
        &ctx, &h
    ));
    native!(object, ctx, "utils", |ctx: Ctx<'js>| util_natives(&ctx));
    Ok(object)
}

/// Text, bytes, digests and URLs for the prelude and the web classes (no run state).
fn util_natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    native!(object, ctx, "utf8Encode", |ctx: Ctx<'js>, text: String| {
        uint8_array(&ctx, text.into_bytes())
    });
    native!(
        object,
        ctx,
        "utf8Decode",
        |ctx: Ctx<'js>, bytes: TypedArray<'js, u8>, fatal: bool| {
            let bytes = bytes_of(&bytes);
            match String::from_utf8(bytes) {
                Ok(text) => Ok(text),
                Err(_) if fatal => Err(Exception::throw_type(
                    &ctx,
                    "The encoded data was not valid for encoding utf-8",
                )),
                Err(e) => Ok(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            }
        }
    );
    native!(object, ctx, "randomBytes", |ctx: Ctx<'js>, len: usize| {
        random_uint8_array(&ctx, len)
    });
    native!(
        object,
        ctx,
        "digest",
        |ctx: Ctx<'js>, algorithm: String, data: TypedArray<'js, u8>| {
            let data = bytes_of(&data);
            let out = match algorithm.as_str() {
                "sha256" => sha2::Sha256::digest(&data).to_vec(),
                "sha384" => sha2::Sha384::digest(&data).to_vec(),
                "sha512" => sha2::Sha512::digest(&data).to_vec(),
                other => {
                    return Err(Exception::throw_message(
                        &ctx,
                        &format!("unsupported digest {other}"),
                    ))
                }
            };
            uint8_array(&ctx, out)
        }
    );
    native!(
        object,
        ctx,
        "parseUrl",
        |ctx: Ctx<'js>, href: String, base: Opt<Option<String>>| {
            let parsed = match base.0.flatten() {
                Some(base) => url::Url::parse(&base).and_then(|b| b.join(&href)),
                None => url::Url::parse(&href),
            };
            match parsed {
                Ok(url) => url_parts(&ctx, &url),
                Err(_) => Err(invalid_url(&ctx, &href)),
            }
        }
    );
    native!(
        object,
        ctx,
        "setUrlPart",
        |ctx: Ctx<'js>, href: String, part: String, value: String| {
            use url::quirks;
            let mut url = url::Url::parse(&href).map_err(|_| invalid_url(&ctx, &href))?;
            match part.as_str() {
                "href" => {
                    url = url::Url::parse(&value).map_err(|_| invalid_url(&ctx, &value))?;
                }
                "protocol" => {
                    let _ = quirks::set_protocol(&mut url, &value);
                }
                "username" => {
                    let _ = quirks::set_username(&mut url, &value);
                }
                "password" => {
                    let _ = quirks::set_password(&mut url, &value);
                }
                "host" => {
                    let _ = quirks::set_host(&mut url, &value);
                }
                "hostname" => {
                    let _ = quirks::set_hostname(&mut url, &value);
                }
                "port" => {
                    let _ = quirks::set_port(&mut url, &value);
                }
                "pathname" => quirks::set_pathname(&mut url, &value),
                "search" => quirks::set_search(&mut url, &value),
                "hash" => quirks::set_hash(&mut url, &value),
                _ => {}
            }
            url_parts(&ctx, &url)
        }
    );

    Ok(object)
}

/// The key operations of `Lit.Actions` for this run.
fn key_natives<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    for (name, present) in [
        (
            "getPrivateKey",
            private_key_hex as fn(&k256::SecretKey) -> Zeroizing<String>,
        ),
        ("getPublicKey", uncompressed_public_key_hex),
        ("getWalletAddress", address_hex),
    ] {
        key_fn(&object, ctx, host, name, wallet_key, present)?;
    }
    let h = host.clone();
    native!(object, ctx, "getLitActionPrivateKey", move |ctx: Ctx<
        'js,
    >| {
        h.action_key(None)
            .map_err(|e| e.throw(&ctx))
            .and_then(|key| js_string(&ctx, &private_key_hex(&key)))
    });
    key_fn(
        &object,
        ctx,
        host,
        "getLitActionPublicKey",
        action_key_of,
        compressed_public_key_hex,
    )?;
    key_fn(
        &object,
        ctx,
        host,
        "getLitActionWalletAddress",
        action_key_of,
        address_hex,
    )?;
    let h = host.clone();
    native!(
        object,
        ctx,
        "signEcdsa",
        move |ctx: Ctx<'js>, pkp_id: String, to_sign: Value<'js>| {
            let run = || -> HostResult<String> {
                let digest = digest_arg(&to_sign)?;
                let key = h.wallet_signing_key(&pkp_id)?;
                let signature = ecdsa::sign_digest_ethereum(&key, &digest)
                    .map_err(|e| Thrown::Error(e.to_string()))?;
                Ok(prefixed_hex(signature))
            };
            run().map_err(|e| e.throw(&ctx))
        }
    );
    let h = host.clone();
    native!(object, ctx, "signMessage", move |ctx: Ctx<'js>,
                                              pkp_id: String,
                                              message: TypedArray<
        'js,
        u8,
    >| {
        let message = bytes_of(&message);
        h.wallet_signing_key(&pkp_id)
            .map(|key| prefixed_hex(ecdsa::sign_message(&key, &message)))
            .map_err(|e| e.throw(&ctx))
    });
    let h = host.clone();
    native!(object, ctx, "encrypt", move |ctx: Ctx<'js>,
                                          pkp_id: String,
                                          message: TypedArray<
        'js,
        u8,
    >| {
        let message = bytes_of(&message);
        h.wallet_encryption_key(&pkp_id)
            .map(|key| aead::encrypt(&key, &message))
            .map_err(|e| e.throw(&ctx))
    });
    let h = host.clone();
    native!(
        object,
        ctx,
        "decrypt",
        move |ctx: Ctx<'js>, pkp_id: String, ciphertext: String| {
            let run = || -> HostResult<String> {
                let key = h.wallet_encryption_key(&pkp_id)?;
                let plain =
                    aead::decrypt(&key, &ciphertext).map_err(|e| Thrown::Error(e.to_string()))?;
                Ok(String::from_utf8_lossy(&plain).into_owned())
            };
            run().map_err(|e| e.throw(&ctx))
        }
    );

    Ok(object)
}
