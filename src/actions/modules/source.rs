//! Where imported module source comes from: the node's cache when it holds bytes of the right
//! SHA-384, else the configured CDN — no redirects, at most [`MAX_MODULE_BYTES`], within
//! [`FETCH_TIMEOUT`] and the run's time left — checked before use:
//! - an inline `#sha384-…` on the specifier must match;
//! - otherwise the node's pin for the URL must match;
//! - a URL without a pin is fetched twice, and accepted only if both answers and the CDN's own
//!   `integrity` header (when it sends one) agree; then it is pinned (trust on first use).
//!
//! Verified source is kept in the store's bounded cache, so later runs make no request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use super::integrity;
use crate::store::Store;

/// Largest module source accepted.
pub const MAX_MODULE_BYTES: usize = 10 * 1024 * 1024;
/// Most modules one run may load (its own imports and theirs).
pub const MAX_MODULES_PER_RUN: usize = 100;
/// Longest one module download may take (also bounded by the run's time left).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A module's verified source.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: String,
    pub integrity: String,
}

/// The hash a module must have, and where that requirement comes from.
#[derive(Debug, Clone)]
pub struct Expected {
    /// `sha384-<base64>`.
    pub integrity: String,
    /// "the integrity written in the import" or "the node's pin for this URL" (for errors).
    pub what: &'static str,
    /// The URL already has a pin (a verified download does not pin it again).
    pub pinned: bool,
}

/// What the node's module settings are (`actions.modules_*`).
#[derive(Debug, Clone)]
pub struct ModuleSettings {
    /// The CDN origin modules are fetched from (`https://cdn.jsdelivr.net/` by default).
    pub cdn: Url,
    /// Bytes of verified source the node keeps.
    pub cache_bytes: u64,
}

/// Fetches, verifies, pins and caches module source. Cheap to clone.
#[derive(Clone)]
pub struct ModuleSource {
    settings: Arc<ModuleSettings>,
    client: reqwest::Client,
    store: Store,
    runtime: tokio::runtime::Handle,
}

impl ModuleSource {
    /// Needs to be created inside a tokio runtime (downloads run on it).
    pub fn new(settings: ModuleSettings, store: Store) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("lit-node/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the module client: {e}"))?;
        Ok(Self {
            settings: Arc::new(settings),
            client,
            store,
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|_| "the module client needs a tokio runtime".to_string())?,
        })
    }

    pub fn cdn(&self) -> &Url {
        &self.settings.cdn
    }

    /// The hash `url` must have: the inline integrity of its specifier, else the node's pin;
    /// `None` when neither is known (trust on first use).
    pub fn expected(
        &self,
        url: &str,
        inline_integrity: Option<&str>,
    ) -> Result<Option<Expected>, String> {
        let pin = self
            .store
            .module_pin(url)
            .map_err(|e| format!("cannot read the pin of {url}: {e}"))?;
        Ok(match (inline_integrity, pin) {
            (Some(inline), pin) => {
                if integrity::parse(inline).is_none() {
                    return Err(format!(
                        "the integrity \"{inline}\" given for {url} is not sha384-<base64 of 48 bytes>"
                    ));
                }
                Some(Expected {
                    integrity: inline.to_string(),
                    what: "the integrity written in the import",
                    pinned: pin.is_some(),
                })
            }
            (None, Some(pin)) => Some(Expected {
                integrity: pin.integrity,
                what: "the node's pin for this URL",
                pinned: true,
            }),
            (None, None) => None,
        })
    }

    /// The verified source of `url`, whose hash is `expected`, if the cache holds bytes of that
    /// hash; `None` when it has to be downloaded. Never touches the network.
    pub fn cached(&self, url: &str, expected: &Expected) -> Result<Option<Loaded>, String> {
        let Expected {
            integrity, what, ..
        } = expected;
        let digest = integrity::parse(integrity)
            .ok_or_else(|| format!("{what} ({integrity}) is not a sha384 integrity"))?;
        let bytes = self
            .store
            .cached_module(&digest)
            .map_err(|e| format!("cannot read the module cache: {e}"))?;
        bytes
            .map(|bytes| {
                Ok(Loaded {
                    source: utf8(url, bytes)?,
                    integrity: integrity.clone(),
                })
            })
            .transpose()
    }

    /// Downloads `url` on the node's tokio runtime, verifies it (see the module docs), pins and
    /// caches it, then calls `done` with the outcome; by `deadline` at the latest. The worker
    /// thread does not wait for it: the run that needs it is parked meanwhile (see `engine`).
    /// Dropping the returned handle does not stop it; aborting does.
    pub fn spawn_download(
        &self,
        url: String,
        inline_integrity: Option<String>,
        deadline: Instant,
        done: impl FnOnce(Result<(), String>) + Send + 'static,
    ) -> tokio::task::AbortHandle {
        let source = self.clone();
        self.runtime
            .spawn(async move {
                let left = deadline.saturating_duration_since(Instant::now());
                let verified = tokio::time::timeout(
                    left,
                    source.download_verified(&url, inline_integrity.as_deref(), deadline),
                )
                .await
                .unwrap_or_else(|_| Err(format!("no time is left in the run to download {url}")));
                done(verified);
            })
            .abort_handle()
    }

    /// Downloads `url` and accepts it only as the module docs say; then it is pinned and cached.
    async fn download_verified(
        &self,
        url: &str,
        inline_integrity: Option<&str>,
        deadline: Instant,
    ) -> Result<(), String> {
        if let Some(Expected {
            integrity: expected,
            what,
            pinned,
        }) = self.expected(url, inline_integrity)?
        {
            let (bytes, _) = self.download(url, deadline).await?;
            let got = integrity::sha384_of(&bytes);
            if !integrity::names(&expected, &got) {
                return Err(format!(
                    "{url} does not match {what}: expected {expected}, the CDN served {got}"
                ));
            }
            is_utf8(url, &bytes)?;
            if !pinned {
                self.pin(url, &got)?;
            }
            self.keep(&bytes);
            return Ok(());
        }
        // Trust on first use: two answers and the CDN's own integrity must agree.
        let (first, header) = self.download(url, deadline).await?;
        let (second, _) = self.download(url, deadline).await?;
        let got = integrity::sha384_of(&first);
        if first != second {
            return Err(format!(
                "{url} changed between two downloads ({got}, then {}); it is not pinned",
                integrity::sha384_of(&second)
            ));
        }
        if let Some(header) = header {
            if !integrity::names(&header, &got) {
                return Err(format!(
                    "{url} does not match the integrity the CDN sent with it ({header}); it is not pinned"
                ));
            }
        }
        is_utf8(url, &first)?;
        self.pin(url, &got)?;
        self.keep(&first);
        Ok(())
    }

    fn pin(&self, url: &str, integrity: &str) -> Result<(), String> {
        self.store
            .set_module_pin(url, integrity)
            .map_err(|e| format!("cannot pin {url}: {e}"))
    }

    /// Keeps verified source; a cache failure only costs a later download.
    fn keep(&self, bytes: &[u8]) {
        if let Err(error) = self.store.keep_module(bytes, self.settings.cache_bytes) {
            tracing::warn!(%error, "an imported module could not be cached");
        }
    }

    /// One GET of `url`: its body and the CDN's `integrity` header, if any.
    async fn download(
        &self,
        url: &str,
        deadline: Instant,
    ) -> Result<(Vec<u8>, Option<String>), String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no time is left in the run to download {url}"));
        }
        let timeout = FETCH_TIMEOUT.min(left);
        match tokio::time::timeout(timeout, fetch(&self.client, url)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "downloading {url} took longer than {} ms",
                timeout.as_millis()
            )),
        }
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<(Vec<u8>, Option<String>), String> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("cannot download {url}: {e}"))?;
    let status = response.status();
    if status.is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("elsewhere");
        return Err(format!(
            "{url} redirects to {to}; redirects are refused: import the URL it names"
        ));
    }
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {status}"));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_MODULE_BYTES as u64)
    {
        return Err(too_big(url));
    }
    let header = response
        .headers()
        .get("integrity")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("cannot download {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_MODULE_BYTES {
            return Err(too_big(url));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, header))
}

fn too_big(url: &str) -> String {
    format!(
        "{url} is larger than {} MB, the most a module may be",
        MAX_MODULE_BYTES / (1024 * 1024)
    )
}

fn utf8(url: &str, bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| not_utf8(url))
}

fn is_utf8(url: &str, bytes: &[u8]) -> Result<(), String> {
    std::str::from_utf8(bytes)
        .map(drop)
        .map_err(|_| not_utf8(url))
}

fn not_utf8(url: &str) -> String {
    format!("{url} is not UTF-8 JavaScript")
}
