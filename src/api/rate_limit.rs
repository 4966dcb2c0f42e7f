//! Rate limits of spec/api.md: every request carrying an API key is limited per key, and
//! `new_account` (unauthenticated, costs gas) per client IP, so nobody can drain the payers or
//! starve other users. Over the limit → 429 with `Retry-After` (seconds).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::error::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained requests per second allowed for one API key…
    pub per_key_per_second: u32,
    /// …with bursts up to this many.
    pub per_key_burst: u32,
    /// `new_account` calls per minute allowed from one IP address…
    pub new_account_per_ip_per_minute: u32,
    /// …with bursts up to this many.
    pub new_account_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_key_per_second: 200,
            per_key_burst: 400,
            new_account_per_ip_per_minute: 120,
            new_account_burst: 60,
        }
    }
}

/// The limiters shared by all requests.
pub struct RateLimits {
    per_key: DefaultKeyedRateLimiter<u64>,
    new_account: DefaultKeyedRateLimiter<IpAddr>,
    /// For `Retry-After`. Built once: creating a clock calibrates the TSC, which cost ~30% of
    /// the node's CPU under load when it was done per request.
    clock: DefaultClock,
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
    pub fn new(config: &RateLimitConfig) -> Arc<Self> {
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
            clock: DefaultClock::default(),
        })
    }
}

/// The raw key from either auth header, hashed cheaply (the limiter never stores keys).
fn key_fingerprint(request: &Request) -> Option<u64> {
    let headers = request.headers();
    let value = headers
        .get("x-api-key")
        .or_else(|| headers.get(header::AUTHORIZATION))?;
    let mut hasher = DefaultHasher::new();
    value.as_bytes().hash(&mut hasher);
    Some(hasher.finish())
}

fn too_many(wait: std::time::Duration, what: &str) -> Response {
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
    request: Request,
    next: Next,
) -> Response {
    let clock = &limits.clock;
    if request.uri().path().ends_with("/new_account") {
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Err(not_until) = limits.new_account.check_key(&ip) {
            return too_many(
                not_until.wait_time_from(clock.now()),
                "creating accounts from this address",
            );
        }
    }
    if let Some(key) = key_fingerprint(&request) {
        if let Err(not_until) = limits.per_key.check_key(&key) {
            return too_many(not_until.wait_time_from(clock.now()), "for this API key");
        }
    }
    next.run(request).await
}
