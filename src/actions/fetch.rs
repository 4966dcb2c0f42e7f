//! `fetch` for Lit Actions: HTTP(S) requests made by reqwest on the node's tokio runtime, with a
//! per-request timeout, a cap on the response body, and an SSRF guard. Unless the operator sets
//! `actions.fetch_allow_private`, the guard refuses loopback, private, link-local (which includes
//! cloud metadata at 169.254.169.254), shared, multicast and unspecified addresses — both for IP
//! literals in URLs and redirects and for every address a host name resolves to (checked in the
//! resolver itself, so DNS rebinding between check and connect is impossible).
//!
//! Bodies held outside the JavaScript heap — a request body being sent, a response body being
//! read — count against the run's [`FetchBudget`] (its memory limit), so concurrent large fetches
//! cannot make a run hold more than its limit in the node's own memory.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::config::ActionsConfig;

/// What the action asked for (already normalised by the JS `Request` class).
#[derive(Debug)]
pub struct FetchRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct FetchResponse {
    pub status: u16,
    pub status_text: String,
    pub url: String,
    pub redirected: bool,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body's share of the run's budget, released when the response is dropped (after its
    /// body was handed to the JavaScript heap, which has its own limit).
    pub held: Reservation,
}

/// The bytes of fetch bodies one run may hold outside the JavaScript heap at once.
#[derive(Debug)]
pub struct FetchBudget {
    limit: usize,
    used: AtomicUsize,
}

/// Bytes taken from a [`FetchBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<FetchBudget>,
    bytes: usize,
}

impl FetchBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes currently held.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// Takes `bytes` from the budget, or explains why it cannot.
    pub fn reserve(self: &Arc<Self>, bytes: usize) -> Result<Reservation, String> {
        let mut reservation = Reservation {
            budget: self.clone(),
            bytes: 0,
        };
        reservation.grow(bytes)?;
        Ok(reservation)
    }

    fn exceeded(&self) -> String {
        format!(
            "the bodies of this run's fetches would exceed its memory limit of {} MB",
            self.limit / (1024 * 1024)
        )
    }
}

impl Reservation {
    /// Takes `more` bytes from the budget for this reservation.
    pub fn grow(&mut self, more: usize) -> Result<(), String> {
        let budget = &self.budget;
        budget
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(more)
                    .filter(|total| *total <= budget.limit)
            })
            .map_err(|_| budget.exceeded())?;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

const MAX_REDIRECTS: usize = 10;

/// Is `ip` somewhere an action must not reach by default?
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let segments = v6.segments();
            let first = segments[0];
            let o = v6.octets();
            // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d) embed an
            // IPv4 address in their last 32 bits.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || (segments[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified())
            {
                return is_internal_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || first == 0x2002 // 6to4 (2002::/16): relays into arbitrary IPv4 networks
                || (first == 0x2001 && segments[1] == 0) // Teredo 2001::/32 embeds IPv4 too
                || (first == 0x2001 && segments[1] == 0x0db8) // documentation 2001:db8::/32
                || segments[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // AWS IPv6 metadata
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast() // 224.0.0.0/4
        || a == 0 // "this network" 0.0.0.0/8
        || a >= 240 // reserved 240.0.0.0/4
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || (a == 192 && b == 0 && c == 2) // documentation 192.0.2.0/24
        || (a == 198 && b == 51 && c == 100) // documentation 198.51.100.0/24
        || (a == 203 && b == 0 && c == 113) // documentation 203.0.113.0/24
}

/// Is `ip` one of this machine's own addresses? A service bound to 0.0.0.0 answers on every
/// interface, also on a public one, so the node's own addresses are refused like loopback.
fn is_own_address(ip: IpAddr) -> bool {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return false;
    };
    interfaces
        .filter_map(|interface| interface.address)
        .filter_map(|address| {
            address
                .as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .any(|own| own == ip)
}

/// May an action's fetch connect to `ip`?
fn refused(ip: IpAddr, allow_private: bool) -> bool {
    !allow_private && (is_internal(ip) || is_own_address(ip))
}

/// Checks a URL's scheme and, for IP literals, its address.
fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "unsupported URL scheme `{}:`; only http and https are allowed",
            url.scheme()
        ));
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(_)) => return Ok(()),
        None => return Err(format!("URL {url} has no host")),
    };
    if refused(ip, allow_private) {
        return Err(refusal(&ip.to_string()));
    }
    Ok(())
}

fn refusal(host: &str) -> String {
    format!("refusing to connect to {host}: loopback, private, link-local, metadata, reserved and the node's own addresses are not reachable from Lit Actions on this node")
}

/// DNS resolution that drops internal addresses (unless allowed) and fails when none remain.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| !refused(addr.ip(), allow_private))
                .collect();
            if allowed.is_empty() {
                return Err(refusal(&host).into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Makes the requests of every action of this node. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    max_response_bytes: usize,
    timeout: Duration,
    runtime: tokio::runtime::Handle,
}

impl Fetcher {
    /// Must be called inside the node's tokio runtime (requests run on it).
    pub fn new(config: &ActionsConfig) -> Result<Self, String> {
        let allow_private = config.fetch_allow_private;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(reason) => attempt.error(reason),
            }
        });
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .no_proxy()
            .user_agent(concat!(
                "lit-node/",
                env!("CARGO_PKG_VERSION"),
                " (Lit Action fetch)"
            ))
            .build()
            .map_err(|e| format!("cannot build the fetch client: {e}"))?;
        Ok(Self {
            client,
            allow_private,
            max_response_bytes: config.fetch_max_response_bytes,
            timeout: Duration::from_millis(config.fetch_timeout_ms),
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|_| "the fetch client needs a tokio runtime".to_string())?,
        })
    }

    /// Starts `request` on the runtime; `done` receives the outcome (an error text on failure).
    /// `time_left` bounds the request together with the configured per-request timeout.
    /// `budget` is the run's: the request body must already be reserved from it (`sending`), and
    /// the response body is read into it. Aborting the returned handle drops the request.
    pub fn spawn(
        &self,
        request: FetchRequest,
        sending: Reservation,
        time_left: Duration,
        done: impl FnOnce(Result<FetchResponse, String>) + Send + 'static,
    ) -> tokio::task::AbortHandle {
        let this = self.clone();
        let timeout = self.timeout.min(time_left);
        let task = self.runtime.spawn(async move {
            let budget = sending.budget.clone();
            let fetched = this.fetch(request, &budget);
            let outcome = match tokio::time::timeout(timeout, fetched).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!(
                    "the request timed out after {} ms",
                    timeout.as_millis()
                )),
            };
            drop(sending);
            done(outcome);
        });
        task.abort_handle()
    }

    async fn fetch(
        &self,
        request: FetchRequest,
        budget: &Arc<FetchBudget>,
    ) -> Result<FetchResponse, String> {
        let url =
            Url::parse(&request.url).map_err(|e| format!("invalid URL {}: {e}", request.url))?;
        check_url(&url, self.allow_private)?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("invalid HTTP method {}", request.method))?;
        let mut builder = self.client.request(method, url.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(describe)?;
        let status = response.status();
        let final_url = response.url().to_string();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let too_large = || {
            format!(
                "the response body is larger than {} bytes",
                self.max_response_bytes
            )
        };
        // The budget is charged for the buffer's capacity, not just the bytes in it; a declared
        // length is reserved up front, so an oversized body is refused before it is read.
        let declared = match response.content_length() {
            Some(length) if length > self.max_response_bytes as u64 => return Err(too_large()),
            Some(length) => length as usize,
            None => 0,
        };
        let mut held = budget.reserve(declared)?;
        let mut body = Vec::with_capacity(declared);
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            let needed = body.len() + chunk.len();
            if needed > self.max_response_bytes {
                return Err(too_large());
            }
            if needed > body.capacity() {
                let capacity = needed.max(body.capacity() * 2).min(self.max_response_bytes);
                held.grow(capacity - body.capacity())?;
                body.reserve_exact(capacity - body.len());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status: status.as_u16(),
            status_text: status.canonical_reason().unwrap_or("").to_string(),
            redirected: final_url != url.as_str(),
            url: final_url,
            headers,
            body,
            held,
        })
    }
}

/// reqwest's error with its causes (the guard's refusal is a cause of a connect error).
fn describe(error: reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "fd00:ec2::254",
            // IPv4-compatible IPv6 of internal addresses, 6to4, benchmarking, reserved,
            // "this network" and multicast.
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "2002:7f00:1::",
            "2002:0808:0808::1",
            "198.18.0.1",
            "198.19.255.254",
            "240.0.0.1",
            "250.1.2.3",
            "0.1.2.3",
            "239.255.255.250",
            "ff02::1",
            "ff05::1:3",
            "192.0.2.2",
            "198.51.100.7",
            "203.0.113.9",
            "2001:db8::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip} should be internal");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "100.128.0.1",
            "172.32.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "::8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip} should be public");
        }
    }

    /// A server the guard lets through cannot bounce a request to an internal address: the
    /// client's redirect policy checks every hop. The fixture is on loopback, which the guarded
    /// `fetch` refuses as its first URL, so this sends through the guarded fetcher's client
    /// directly (its own resolver and redirect policy, without `fetch`'s first-URL check).
    #[tokio::test]
    async fn redirects_to_internal_addresses_are_refused() {
        use axum::extract::Query;
        use axum::response::Redirect;
        let app = axum::Router::new()
            .route("/json", axum::routing::get(|| async { "{}" }))
            .route(
                "/to",
                axum::routing::get(
                    |Query(to): Query<std::collections::HashMap<String, String>>| async move {
                        Redirect::temporary(&to["url"])
                    },
                ),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let bounce = |target: &str| {
            let mut url = Url::parse(&format!("http://127.0.0.1:{port}/to")).unwrap();
            url.query_pairs_mut().append_pair("url", target);
            url
        };

        let guarded = Fetcher::new(&ActionsConfig::default()).unwrap();
        for (target, refused) in [
            (format!("http://127.0.0.1:{port}/json"), "127.0.0.1"),
            (format!("http://[::1]:{port}/json"), "::1"),
            (
                "http://169.254.169.254/latest/meta-data/".into(),
                "169.254.169.254",
            ),
            ("http://10.0.0.1/".into(), "10.0.0.1"),
        ] {
            let error = guarded
                .client
                .get(bounce(&target))
                .send()
                .await
                .unwrap_err();
            let text = describe(error);
            assert!(
                text.contains(&format!("refusing to connect to {refused}")),
                "{target}: {text}"
            );
        }

        // Control: the same redirect is followed where internal addresses are allowed.
        let open = Fetcher::new(&ActionsConfig {
            fetch_allow_private: true,
            ..ActionsConfig::default()
        })
        .unwrap();
        let target = format!("http://127.0.0.1:{port}/json");
        let response = open.client.get(bounce(&target)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.url().as_str(), target);
    }

    #[test]
    fn the_machines_own_addresses_are_refused() {
        let own: Vec<IpAddr> = nix::ifaddrs::getifaddrs()
            .unwrap()
            .filter_map(|i| i.address)
            .filter_map(|a| a.as_sockaddr_in().map(|v4| IpAddr::V4(v4.ip())))
            .collect();
        assert!(!own.is_empty(), "the machine has an IPv4 address");
        for ip in own {
            assert!(refused(ip, false), "{ip}");
            assert!(
                !refused(ip, true),
                "{ip}: allowed when the operator says so"
            );
        }
        assert!(!refused("8.8.8.8".parse().unwrap(), false));
    }

    #[test]
    fn a_budget_holds_at_most_its_limit_and_is_given_back() {
        let budget = FetchBudget::new(100);
        let mut first = budget.reserve(60).unwrap();
        assert!(budget.reserve(41).unwrap_err().contains("memory limit"));
        let second = budget.reserve(40).unwrap();
        assert!(first.grow(1).is_err());
        assert_eq!(budget.used(), 100);
        drop(second);
        first.grow(40).unwrap();
        assert_eq!(budget.used(), 100);
        drop(first);
        assert_eq!(budget.used(), 0);
        assert!(budget.reserve(usize::MAX).is_err());
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_address() {
        let check = |u: &str, allow| check_url(&Url::parse(u).unwrap(), allow);
        assert!(check("http://127.0.0.1:8080/", false)
            .unwrap_err()
            .contains("refusing"));
        assert!(check("http://[::1]/", false).is_err());
        assert!(check("http://[::127.0.0.1]:8080/", false).is_err());
        assert!(check("http://[2002:a00:1::]/", false).is_err());
        assert!(check("http://198.18.0.1/", false).is_err());
        assert!(check("http://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check("http://127.0.0.1:8080/", true).is_ok());
        assert!(check("https://example.com/", false).is_ok());
        assert!(check("file:///etc/passwd", true)
            .unwrap_err()
            .contains("scheme"));
    }
}
