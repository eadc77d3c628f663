//! Keys fetched from an identity provider: a JWKS URL, or the `jwks_uri` of an issuer's OpenID
//! Connect discovery document.
//!
//! The keys are served from memory. A background task refreshes them on an interval, or sooner
//! when the response's `Cache-Control: max-age` says so; a token naming an unknown `kid` triggers
//! one refresh, rate limited, and concurrent misses share that one fetch. When the identity
//! provider is down or answers garbage, the keys already known keep working; a token whose key
//! is not known then gets 503 with `Retry-After`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use crate::keys::{Key, KeyError, KeySet};

/// The algorithms accepted from a remote key set when none are configured: every asymmetric
/// one. A remote set is public, so shared-secret algorithms never apply.
pub(crate) const REMOTE_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How remote keys are fetched and refreshed.
///
/// ```
/// use std::time::Duration;
/// use portcullis::KeyRefresh;
///
/// let refresh = KeyRefresh::default()
///     .interval(Duration::from_secs(600))
///     .min_interval(Duration::from_secs(30));
/// let verifier = portcullis::Verifier::builder()
///     .oidc_issuer("https://login.example.com")
///     .audience("documents-api")
///     .key_refresh(refresh)
///     .build()?;
/// # Ok::<(), portcullis::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRefresh {
    interval: Duration,
    min_interval: Duration,
    max_interval: Duration,
    timeout: Duration,
    max_response_bytes: usize,
}

impl Default for KeyRefresh {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5 * 60),
            min_interval: Duration::from_secs(10),
            max_interval: Duration::from_secs(24 * 60 * 60),
            timeout: Duration::from_secs(5),
            max_response_bytes: 512 * 1024,
        }
    }
}

impl KeyRefresh {
    /// How often the keys are fetched again when the response has no `Cache-Control: max-age`
    /// (default 5 minutes).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The shortest time between two fetches (default 10 seconds, at least 10 milliseconds):
    /// bounds the refreshes that tokens with unknown `kid`s trigger, the retries while the
    /// provider is down, and a short `max-age`.
    #[must_use]
    pub fn min_interval(mut self, min_interval: Duration) -> Self {
        // Zero would turn the retries of an outage into a busy loop against the provider.
        self.min_interval = min_interval.max(Duration::from_millis(10));
        self
    }

    /// The longest time a `max-age` may keep the keys without a fetch (default 24 hours).
    #[must_use]
    pub fn max_interval(mut self, max_interval: Duration) -> Self {
        self.max_interval = max_interval;
        self
    }

    /// The time one fetch may take, connection included (default 5 seconds).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest document accepted (default 512 KiB).
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// When to fetch again after a success, given the response's `max-age`.
    fn next_interval(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.interval)
            .clamp(self.min_interval, self.max_interval.max(self.min_interval))
    }
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeyLocation {
    /// A JWKS document.
    Jwks(Url),
    /// An issuer whose discovery document names the JWKS.
    Discovery {
        /// The issuer, exactly as configured: the discovered `issuer` must equal it.
        issuer: String,
        /// `{issuer}/.well-known/openid-configuration`.
        document: Url,
    },
}

impl KeyLocation {
    /// A JWKS URL; `https`, or `http` to a loopback address only.
    pub(crate) fn jwks(url: &str) -> Result<Self, &'static str> {
        Ok(Self::Jwks(secure_url(url)?))
    }

    /// OIDC discovery for `issuer`.
    pub(crate) fn discovery(issuer: &str) -> Result<Self, &'static str> {
        let document = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        Ok(Self::Discovery { issuer: issuer.to_owned(), document: secure_url(&document)? })
    }
}

/// Parses `url`, refusing anything but `https` (and `http` to a loopback address, for tests
/// and local identity providers): keys fetched in clear text could be swapped by anyone on the
/// path.
fn secure_url(url: &str) -> Result<Url, &'static str> {
    let url = Url::parse(url).map_err(|_| "the URL is not valid")?;
    if is_secure(&url) {
        Ok(url)
    } else {
        Err("the URL must use https (http only to a loopback address)")
    }
}

fn is_secure(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Why a fetch failed. Logged, never sent to a client.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("the request timed out")]
    Timeout,
    #[error("the server answered {0}")]
    Status(reqwest::StatusCode),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the discovery document is not valid: {0}")]
    InvalidDiscovery(&'static str),
    #[error("the discovery document names the issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("the key set is not usable: {0}")]
    Keys(#[from] KeyError),
    #[error("the key set holds no usable key")]
    NoUsableKey,
}

impl From<reqwest::Error> for FetchError {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() { Self::Timeout } else { Self::Request(error) }
    }
}

/// The keys as last fetched, and what the last attempt found.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The keys; empty until the first successful fetch (a fetch that finds no usable key
    /// fails).
    pub(crate) keys: Arc<KeySet>,
    /// Whether the last attempt succeeded.
    pub(crate) healthy: bool,
    /// Changes whenever the keys change (a cache of verified tokens keys on it).
    pub(crate) generation: u64,
    /// How many attempts completed: tells a waiting request that a fetch happened meanwhile.
    attempts: u64,
    /// When the last attempt started.
    last_attempt: Option<Instant>,
    /// When the background task fetches next.
    refresh_at: Instant,
    /// A digest of the last document, to tell a rotation from a refresh that changed nothing.
    digest: [u8; 32],
}

impl Snapshot {
    /// Whether a fetch ever succeeded.
    pub(crate) fn loaded(&self) -> bool {
        !self.keys.is_empty()
    }
}

/// Keys fetched from a URL and kept fresh. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RemoteKeys {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    location: KeyLocation,
    refresh: KeyRefresh,
    /// The algorithms the verifier accepts: keys are restricted to them.
    algorithms: Vec<Algorithm>,
    client: reqwest::Client,
    current: RwLock<Arc<Snapshot>>,
    /// Held while fetching: one fetch at a time, and the URL found by discovery.
    gate: tokio::sync::Mutex<Option<Url>>,
    /// Whether the background refresh task runs.
    scheduled: AtomicBool,
    /// Wakes the background task when a request's fetch moved the next refresh.
    rescheduled: Arc<tokio::sync::Notify>,
}

impl RemoteKeys {
    pub(crate) fn new(
        location: KeyLocation,
        refresh: KeyRefresh,
        algorithms: Vec<Algorithm>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(refresh.timeout)
            .connect_timeout(refresh.timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 3 || !is_secure(attempt.url()) {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let snapshot = Snapshot {
            keys: Arc::new(KeySet::new()),
            healthy: false,
            generation: 0,
            attempts: 0,
            last_attempt: None,
            refresh_at: Instant::now(),
            digest: [0; 32],
        };
        let keys = Self {
            shared: Arc::new(Shared {
                location,
                refresh,
                algorithms,
                client,
                current: RwLock::new(Arc::new(snapshot)),
                gate: tokio::sync::Mutex::new(None),
                scheduled: AtomicBool::new(false),
                rescheduled: Arc::new(tokio::sync::Notify::new()),
            }),
        };
        // Inside a runtime, the first fetch starts now rather than with the first request.
        if tokio::runtime::Handle::try_current().is_ok() {
            keys.schedule();
        }
        Ok(keys)
    }

    /// The keys as they are now; starts the background refresh if it does not run.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.schedule();
        self.shared.snapshot()
    }

    /// Fetches the keys again because `seen` did not hold the one a token names, unless a fetch
    /// completed since `seen` was taken (its result is returned) or the last attempt is more
    /// recent than the minimum interval (the current keys are returned).
    pub(crate) async fn refresh_for(&self, seen: &Snapshot) -> Arc<Snapshot> {
        let shared = Arc::clone(&self.shared);
        let seen = seen.attempts;
        let refresh = async move {
            let mut gate = shared.gate.lock().await;
            let now = shared.snapshot();
            if now.attempts != seen {
                return now;
            }
            let recent =
                now.last_attempt.is_some_and(|last| last.elapsed() < shared.refresh.min_interval);
            if recent {
                return now;
            }
            let snapshot = shared.fetch_and_store(&mut gate, "unknown key").await;
            // The background task may be asleep until a later time than this fetch set (a
            // short `max-age`, or a retry after a failure): it must wake to follow it.
            shared.rescheduled.notify_one();
            snapshot
        };
        // In a task of its own: a request that is cancelled (a client gone, a timeout layer)
        // must not cancel the fetch before it is recorded, or every cancelled request would
        // start a new one and the rate limit would not hold.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime.spawn(refresh).await.unwrap_or_else(|_| self.shared.snapshot()),
            Err(_) => refresh.await,
        }
    }

    /// How long a client should wait before trying again while the keys are unavailable.
    pub(crate) fn retry_after(&self, snapshot: &Snapshot) -> Duration {
        let next = snapshot.last_attempt.map_or(Duration::ZERO, |last| {
            self.shared.refresh.min_interval.saturating_sub(last.elapsed())
        });
        // Whole seconds, rounded up, at least one.
        Duration::from_secs(next.as_secs() + u64::from(next.subsec_nanos() > 0))
            .max(Duration::from_secs(1))
    }

    /// Starts the background refresh task, once per runtime that still runs it.
    fn schedule(&self) {
        if self.shared.scheduled.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.shared.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        // The flag is made here and moved into the task, so that a task dropped before its
        // first poll (its runtime shutting down) still clears it.
        let flag = ScheduledFlag(Arc::downgrade(&self.shared));
        let shared = Arc::downgrade(&self.shared);
        runtime.spawn(async move {
            let _flag = flag;
            refresh_loop(shared).await;
        });
    }
}

/// Clears the `scheduled` flag when the task ends, or when its runtime drops it, so that the
/// next request on another runtime starts a new one.
struct ScheduledFlag(Weak<Shared>);

impl Drop for ScheduledFlag {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            shared.scheduled.store(false, Ordering::Release);
        }
    }
}

/// Refreshes the keys when due, for as long as the verifier exists.
async fn refresh_loop(shared: Weak<Shared>) {
    let Some(rescheduled) = shared.upgrade().map(|shared| Arc::clone(&shared.rescheduled)) else {
        return;
    };
    loop {
        let wait = match shared.upgrade() {
            Some(shared) => shared.snapshot().refresh_at.saturating_duration_since(Instant::now()),
            None => return,
        };
        // A request's fetch may have moved the next refresh earlier: wait again from there.
        if tokio::time::timeout(wait, rescheduled.notified()).await.is_ok() {
            continue;
        }
        let Some(shared) = shared.upgrade() else { return };
        let mut gate = shared.gate.lock().await;
        // A request may have refreshed the keys while this task slept.
        if shared.snapshot().refresh_at <= Instant::now() {
            shared.fetch_and_store(&mut gate, "schedule").await;
        }
    }
}

impl Shared {
    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Fetches, then stores the outcome: new keys, or the old ones marked unhealthy.
    async fn fetch_and_store(
        &self,
        discovered: &mut Option<Url>,
        trigger: &'static str,
    ) -> Arc<Snapshot> {
        let started = Instant::now();
        let previous = self.snapshot();
        let outcome = self.fetch(discovered).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let snapshot = match outcome {
            Ok((keys, digest, max_age)) => {
                let interval = self.refresh.next_interval(max_age);
                let changed = !previous.loaded() || digest != previous.digest;
                if changed {
                    log_rotation(&previous.keys, &keys, previous.loaded());
                }
                tracing::info!(
                    target: "portcullis::keys",
                    trigger,
                    keys = keys.len(),
                    elapsed_ms,
                    next_refresh_secs = interval.as_secs(),
                    "fetched the key set"
                );
                Snapshot {
                    keys: Arc::new(keys),
                    healthy: true,
                    generation: previous.generation + u64::from(changed),
                    attempts: previous.attempts + 1,
                    last_attempt: Some(started),
                    refresh_at: after(interval),
                    digest,
                }
            }
            Err(error) => {
                // The discovered URL may be what broke: discover again next time.
                *discovered = None;
                tracing::warn!(
                    target: "portcullis::keys",
                    trigger,
                    %error,
                    elapsed_ms,
                    serving_stale = previous.loaded(),
                    retry_in_secs = self.refresh.min_interval.as_secs(),
                    "could not fetch the key set"
                );
                // The same keys, served stale.
                Snapshot {
                    healthy: false,
                    attempts: previous.attempts + 1,
                    last_attempt: Some(started),
                    refresh_at: after(self.refresh.min_interval),
                    ..(*previous).clone()
                }
            }
        };
        let snapshot = Arc::new(snapshot);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&snapshot);
        snapshot
    }

    /// The key set, a digest of its document, and the document's `max-age`.
    async fn fetch(
        &self,
        discovered: &mut Option<Url>,
    ) -> Result<(KeySet, [u8; 32], Option<Duration>), FetchError> {
        let url = match (&self.location, discovered.as_ref()) {
            (KeyLocation::Jwks(url), _) => url.clone(),
            (KeyLocation::Discovery { .. }, Some(url)) => url.clone(),
            (KeyLocation::Discovery { issuer, document }, None) => {
                let url = self.discover(issuer, document).await?;
                *discovered = Some(url.clone());
                url
            }
        };
        let (body, max_age) = self.get(&url).await?;
        let keys = parse_remote_jwks(&body, &self.algorithms)?;
        // A cryptographic digest because the token cache relies on it: a rotation that went
        // unnoticed would leave the tokens of a removed key cached as verified.
        Ok((keys, crate::cache::sha256(&body), max_age))
    }

    /// Reads the discovery document and returns its `jwks_uri`.
    async fn discover(&self, issuer: &str, document: &Url) -> Result<Url, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let (body, _) = self.get(document).await?;
        let discovery: Discovery = serde_json::from_slice(&body)
            .map_err(|_| FetchError::InvalidDiscovery("it lacks `issuer` or `jwks_uri`"))?;
        if discovery.issuer != issuer {
            return Err(FetchError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: discovery.issuer,
            });
        }
        let url = secure_url(&discovery.jwks_uri).map_err(FetchError::InvalidDiscovery)?;
        tracing::info!(target: "portcullis::keys", issuer, jwks_uri = %url, "discovered the key set");
        Ok(url)
    }

    /// GETs `url`: a 200 within the size limit, and its `max-age`.
    async fn get(&self, url: &Url) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
        let limit = self.refresh.max_response_bytes;
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(response.status()));
        }
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(FetchError::TooLarge(limit));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// The instant `duration` from now; far in the future when that is beyond what `Instant` holds
/// (a `Duration::MAX` setting means "never", not a panic).
fn after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 60 * 60)))
        .unwrap_or(now)
}

/// The freshness a `Cache-Control` value allows: `max-age`, or zero for `no-cache`/`no-store`.
fn max_age(cache_control: &str) -> Option<Duration> {
    let mut found = None;
    for directive in cache_control.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-cache" | "no-store" => return Some(Duration::ZERO),
            "max-age" => {
                found = value.trim().trim_matches('"').parse().ok().map(Duration::from_secs);
            }
            _ => {}
        }
    }
    found
}

/// The usable keys of a remote JWKS, restricted to `algorithms`.
///
/// Unlike [`KeySet::from_jwks`], a key that cannot be used is skipped with a warning rather than
/// failing the set: one odd key published by the provider (a symmetric one, a new key type, a
/// repeated `kid`) must not take the others down. A set with no usable key is an error, so that
/// garbage never replaces working keys.
fn parse_remote_jwks(body: &[u8], algorithms: &[Algorithm]) -> Result<KeySet, FetchError> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|_| FetchError::Keys(KeyError::InvalidJwks))?;
    let mut keys = KeySet::new();
    for value in document.keys {
        let key = serde_json::from_value::<Jwk>(value)
            .map_err(|_| KeyError::InvalidJwk { kid: None, reason: "it is not a valid JWK" })
            .and_then(|jwk| Key::from_jwk(&jwk))
            .map(|mut key| {
                key.restrict_to(algorithms);
                key
            });
        let outcome = match key {
            Ok(key) if key.algorithms().is_empty() => Err(KeyError::InvalidJwk {
                kid: key.kid().map(str::to_owned),
                reason: "none of its algorithms is accepted",
            }),
            Ok(key) => keys.insert(key),
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            tracing::warn!(target: "portcullis::keys", %error, "skipped a key of the remote key set");
        }
    }
    if keys.is_empty() {
        return Err(FetchError::NoUsableKey);
    }
    Ok(keys)
}

/// Logs which key ids appeared and which disappeared.
fn log_rotation(old: &KeySet, new: &KeySet, was_loaded: bool) {
    let kids = |set: &KeySet| -> Vec<String> {
        set.iter().map(|key| key.kid().unwrap_or("(no kid)").to_owned()).collect()
    };
    let (old, new) = (kids(old), kids(new));
    let added: Vec<&String> = new.iter().filter(|kid| !old.contains(kid)).collect();
    let removed: Vec<&String> = old.iter().filter(|kid| !new.contains(kid)).collect();
    if was_loaded {
        tracing::info!(target: "portcullis::keys", ?added, ?removed, "the key set changed");
    } else {
        tracing::info!(target: "portcullis::keys", kids = ?new, "loaded the key set");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://idp.example/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]/jwks",
            "http://localhost/jwks",
        ] {
            assert!(secure_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://idp.example/jwks", "ftp://idp.example/", "file:///etc/jwks", "jwks"] {
            assert!(secure_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn discovery_url_from_issuer() {
        for issuer in ["https://tenant.auth0.com/", "https://tenant.auth0.com"] {
            let Ok(KeyLocation::Discovery { document, .. }) = KeyLocation::discovery(issuer) else {
                panic!("{issuer}");
            };
            assert_eq!(
                document.as_str(),
                "https://tenant.auth0.com/.well-known/openid-configuration"
            );
        }
        let Ok(KeyLocation::Discovery { document, .. }) =
            KeyLocation::discovery("https://kc.example/realms/acme")
        else {
            panic!()
        };
        assert_eq!(
            document.as_str(),
            "https://kc.example/realms/acme/.well-known/openid-configuration"
        );
    }

    #[test]
    fn cache_control() {
        assert_eq!(max_age("public, max-age=3600"), Some(Duration::from_secs(3600)));
        assert_eq!(max_age("Max-Age=60, must-revalidate"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("max-age=60, no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn max_age_is_clamped() {
        let refresh = KeyRefresh::default();
        assert_eq!(refresh.next_interval(None), Duration::from_secs(300));
        assert_eq!(refresh.next_interval(Some(Duration::ZERO)), Duration::from_secs(10));
        assert_eq!(
            refresh.next_interval(Some(Duration::from_secs(3600))),
            Duration::from_secs(3600)
        );
        assert_eq!(
            refresh.next_interval(Some(Duration::from_secs(10_000_000))),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn a_remote_set_skips_what_it_cannot_use() {
        let ed = r#"{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let body = format!(
            r#"{{"keys": [{ed},
                {{"kty": "oct", "kid": "secret", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}},
                {{"kty": "AKP", "kid": "future", "alg": "ML-DSA-65", "pub": "AAAA"}},
                {{"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
                {ed}]}}"#
        );
        let keys = parse_remote_jwks(body.as_bytes(), &REMOTE_ALGORITHMS)
            .unwrap_or_else(|e| panic!("{e}"));
        let kids: Vec<_> = keys.iter().map(Key::kid).collect();
        assert_eq!(kids, [Some("ed")]);
        // Restricted to algorithms that exclude the key's: nothing usable.
        assert!(matches!(
            parse_remote_jwks(body.as_bytes(), &[Algorithm::RS256]),
            Err(FetchError::NoUsableKey)
        ));
        assert!(matches!(
            parse_remote_jwks(b"<html>", &REMOTE_ALGORITHMS),
            Err(FetchError::Keys(_))
        ));
        assert!(matches!(
            parse_remote_jwks(br#"{"keys": []}"#, &REMOTE_ALGORITHMS),
            Err(FetchError::NoUsableKey)
        ));
    }
}
