//! Rate limits of spec/api.md: every request carrying a known API key is limited per key, and
//! the unauthenticated endpoints that cost the node work — `new_account` (gas) and
//! `create_wallet_with_signature` (signature checks, chain calls for contract wallets) — per
//! client IP, sharing one bucket per client, so nobody can drain the payers or starve other users. Over the limit → 429 with `Retry-After` (seconds).
//!
//! Only keys the mirror knows get a bucket, keyed by the key's hash as [`auth::api_key`] reads it
//! (so every spelling of a key shares one); unknown keys are answered 401 by auth and leave no
//! state here. Clients are found by [`client_ip`] (trusted proxies, IPv6 per /64). Buckets that
//! are back to full are dropped now and then, so memory follows the active keys and clients.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::auth;
use super::client_ip::{self, ClientResolver};
use super::error::ApiError;
use crate::config::RateLimitConfig;
use crate::store::permissions::{KeyState, Permissions};

/// How often idle buckets are dropped (on the request path, by whichever request comes first).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The limiters shared by all requests.
pub struct RateLimits {
    per_key: DefaultKeyedRateLimiter<B256>,
    new_account: DefaultKeyedRateLimiter<IpAddr>,
    clients: ClientResolver,
    /// Tells known keys from unknown ones (cached for known keys only).
    permissions: Permissions,
    /// For `Retry-After`. Built once: creating a clock calibrates the TSC, which cost ~30% of
    /// the node's CPU under load when it was done per request.
    clock: DefaultClock,
    started: Instant,
    /// When idle buckets were last dropped, in ms since `started`.
    pruned_at_ms: AtomicU64,
}

fn quota(per_period: u32, burst: u32, per_second: bool) -> Quota {
    let rate = NonZeroU32::new(per_period.max(1)).expect("at least 1");
    let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
    if per_second {
        Quota::per_second(rate)
    } else {
        Quota::per_minute(rate)
    }
    .allow_burst(burst)
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig, permissions: Permissions) -> Arc<Self> {
        Arc::new(Self {
            per_key: RateLimiter::keyed(quota(
                config.per_key_per_second,
                config.per_key_burst,
                true,
            )),
            new_account: RateLimiter::keyed(quota(
                config.new_account_per_ip_per_minute,
                config.new_account_burst,
                false,
            )),
            clients: ClientResolver::new(&config.trusted_proxies),
            permissions,
            clock: DefaultClock::default(),
            started: Instant::now(),
            pruned_at_ms: AtomicU64::new(0),
        })
    }

    /// The per-key limit. `Err` holds how long to wait. Requests without a key, or with a key
    /// the mirror does not know (or that expired), pass untracked: auth answers them.
    pub fn check_key(&self, headers: &HeaderMap) -> Result<(), Duration> {
        self.check_request_key(headers).0
    }

    /// [`Self::check_key`] for a key already read and hashed.
    pub fn check_key_hash(&self, key_hash: &B256) -> Result<(), Duration> {
        let state = self.permissions.resolve(key_hash).ok();
        self.limit(key_hash, state.as_ref())
    }

    /// [`Self::check_key`], also giving what the key resolved to (for the request's auth, so
    /// the key is resolved once per request).
    fn check_request_key(&self, headers: &HeaderMap) -> (Result<(), Duration>, Option<KeyState>) {
        let Some(key_hash) = auth::api_key_hash(headers) else {
            return (Ok(()), None);
        };
        let state = self.permissions.resolve(&key_hash).ok();
        (self.limit(&key_hash, state.as_ref()), state)
    }

    /// Only live keys have a bucket.
    fn limit(&self, key_hash: &B256, state: Option<&KeyState>) -> Result<(), Duration> {
        if !matches!(state, Some(KeyState::Live(_))) {
            return Ok(());
        }
        self.per_key
            .check_key(key_hash)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// The per-client limit of `new_account`, for a request from TCP peer `peer`.
    pub fn check_new_account(&self, peer: IpAddr, headers: &HeaderMap) -> Result<(), Duration> {
        let client = client_ip::bucket(self.clients.client(peer, headers));
        self.new_account
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Drops every bucket that is back to full (indistinguishable from a new one).
    pub fn prune_idle(&self) {
        self.per_key.retain_recent();
        self.per_key.shrink_to_fit();
        self.new_account.retain_recent();
        self.new_account.shrink_to_fit();
        let (keys, clients) = self.tracked();
        metrics::gauge!("lit_node_rate_limit_buckets", "limit" => "per_key").set(keys as f64);
        metrics::gauge!("lit_node_rate_limit_buckets", "limit" => "new_account")
            .set(clients as f64);
    }

    /// [`Self::prune_idle`] when the last pruning is more than [`PRUNE_EVERY`] ago.
    fn prune_idle_when_due(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.pruned_at_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PRUNE_EVERY.as_millis() as u64
            && self
                .pruned_at_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.prune_idle();
        }
    }

    /// Buckets currently held: (API keys, client addresses).
    pub fn tracked(&self) -> (usize, usize) {
        (self.per_key.len(), self.new_account.len())
    }
}

fn too_many(wait: Duration, what: &str) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests {what}; retry in {seconds} s"),
    )
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&seconds.max(1).to_string()).expect("digits"),
    );
    response
}

pub async fn enforce(
    State(limits): State<Arc<RateLimits>>,
    mut request: Request,
    next: Next,
) -> Response {
    limits.prune_idle_when_due();
    let path = request.uri().path();
    if path.ends_with("/new_account") || path.ends_with("/create_wallet_with_signature") {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Err(wait) = limits.check_new_account(peer, request.headers()) {
            return too_many(wait, "unauthenticated writes from this address");
        }
    }
    let (verdict, state) = limits.check_request_key(request.headers());
    if let Err(wait) = verdict {
        return too_many(wait, "for this API key");
    }
    if let Some(state) = state {
        request.extensions_mut().insert(state);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{encode, KeyRecord};
    use crate::store::write::StateWriter;
    use crate::store::{keys, Cursor, Store};
    use alloy::primitives::keccak256;

    const KNOWN_KEY: &str = "the-one-known-key";

    /// A store whose mirror knows one account key, [`KNOWN_KEY`].
    fn store_with_known_key(dir: &std::path::Path) -> Store {
        let store = Store::open(dir).unwrap();
        let hash = keccak256(KNOWN_KEY);
        let record = KeyRecord {
            account: hash,
            seq: 0,
            usage: None,
        };
        let mut writer = StateWriter::new(&store);
        writer.begin_block(1, B256::ZERO, false);
        writer
            .put(keys::key_record(&hash), encode(&record))
            .unwrap();
        writer
            .commit(Cursor {
                number: 1,
                hash: B256::ZERO,
            })
            .unwrap();
        store
    }

    fn key_header(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_str(key).unwrap());
        headers
    }

    /// 200,000 random keys through the limiter and the permission lookup auth makes: neither
    /// the limiter nor the permission caches keep anything for them. (Driven by key hash: the
    /// hash of a random key is a random hash, and keccak in a debug build would dominate. It was
    /// a million until the test suite's time mattered: each lookup reads RocksDB built without
    /// optimisation, 18 s for a million; any growth would show at 200,000 as well.)
    #[test]
    fn random_keys_leave_no_state_behind() {
        let dir = tempfile::tempdir().unwrap();
        let permissions = Permissions::new(store_with_known_key(dir.path()));
        let limits = RateLimits::new(&RateLimitConfig::default(), permissions.clone());
        for _ in 0..200_000 {
            let key_hash = B256::from(rand::random::<[u8; 32]>());
            assert!(limits.check_key_hash(&key_hash).is_ok());
            assert_eq!(permissions.key_account(&key_hash).unwrap(), None);
        }
        assert!(limits.check_key(&key_header(KNOWN_KEY)).is_ok());
        assert_eq!(limits.tracked(), (1, 0), "(key buckets, client buckets)");
        let cached = permissions.cached_counts();
        assert!(
            cached.values().all(|&count| count <= 1),
            "permission caches grew: {cached:?}"
        );
    }

    #[test]
    fn idle_buckets_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let permissions = Permissions::new(store_with_known_key(dir.path()));
        let config = RateLimitConfig {
            per_key_per_second: 1000,
            per_key_burst: 1,
            new_account_per_ip_per_minute: 60_000,
            new_account_burst: 1,
            ..Default::default()
        };
        let limits = RateLimits::new(&config, permissions);
        assert!(limits.check_key(&key_header(KNOWN_KEY)).is_ok());
        let peer = IpAddr::from([192, 0, 2, 1]);
        assert!(limits.check_new_account(peer, &HeaderMap::new()).is_ok());
        assert_eq!(limits.tracked(), (1, 1));
        // Both buckets refill within a millisecond; pruning then drops them.
        let deadline = Instant::now() + Duration::from_secs(10);
        while limits.tracked() != (0, 0) {
            assert!(
                Instant::now() < deadline,
                "idle buckets kept: {:?}",
                limits.tracked()
            );
            std::thread::sleep(Duration::from_millis(1)); // poll interval
            limits.prune_idle();
        }
    }
}
