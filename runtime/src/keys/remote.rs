//! Keys fetched from an identity provider: a JWKS URL, or the `jwks_uri` of an issuer's OpenID
//! Connect discovery document.
//!
//! The keys are served from memory. A background task refreshes them on an interval, or sooner
//! when the response's `Cache-Control: max-age` says so; a token naming an unknown `kid` triggers
//! one refresh, rate limited, and concurrent misses share that one fetch. With discovery, a
//! refresh that still lacks the token's key (or fails) reads the discovery document again within
//! the same rate-limited refresh, and follows a `jwks_uri` that moved (RFC 8414 §3, OpenID
//! Connect Discovery §4). When the identity provider is down or answers garbage, the keys already
//! known keep working; a token whose key is not known then gets 503 with `Retry-After`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::observability::KeySourceReadiness;

use reqwest::Url;

use super::algorithm::Algorithm;
use super::fetch::{FetchError, Fetcher, is_clear_text_to_network, near_miss, secure_url};
use super::jwks::{self, Mode};
use super::set::KeySet;
use crate::respond::InvalidTokenReason;

/// How remote keys are fetched and refreshed.
///
/// ```
/// use std::time::Duration;
/// use portcullis::keys::KeyRefresh;
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
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
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
    /// bounds the refreshes that tokens with unknown `kid`s trigger (with discovery, such a
    /// refresh that still lacks the key also reads the discovery document once), the retries
    /// while the provider is down, and a short `max-age`.
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
    Jwks {
        /// The JWKS URL.
        url: Url,
        /// Whether plain `http` to hosts other than loopback is allowed (development only).
        allow_http: bool,
    },
    /// An issuer whose discovery document names the JWKS.
    Discovery {
        /// The issuer, exactly as configured: the discovered `issuer` must equal it.
        issuer: String,
        /// Where the document may be, in order: OpenID Connect's
        /// `{issuer}/.well-known/openid-configuration`, then RFC 8414's
        /// `{origin}/.well-known/oauth-authorization-server{path}`.
        documents: Vec<Url>,
        /// Whether plain `http` to hosts other than loopback is allowed (development only).
        allow_http: bool,
    },
}

impl KeyLocation {
    /// A JWKS URL; `https`, or `http` to a loopback address (any host with `allow_http`).
    pub(crate) fn jwks(url: &str, allow_http: bool) -> Result<Self, &'static str> {
        Ok(Self::Jwks { url: secure_url(url, allow_http)?, allow_http })
    }

    /// Discovery for `issuer`: OpenID Connect's form, then RFC 8414's.
    pub(crate) fn discovery(issuer: &str, allow_http: bool) -> Result<Self, &'static str> {
        let oidc = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let oidc = secure_url(&oidc, allow_http)?;
        let mut rfc8414 = secure_url(issuer, allow_http)?;
        let path = rfc8414.path().trim_end_matches('/').to_owned();
        rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        rfc8414.set_query(None);
        rfc8414.set_fragment(None);
        Ok(Self::Discovery {
            issuer: issuer.to_owned(),
            documents: vec![oidc, rfc8414],
            allow_http,
        })
    }

    /// The location as metrics and readiness name it: the issuer as configured, or the key set
    /// URL without credentials, query or fragment (configuration, never request data).
    fn label(&self) -> String {
        match self {
            Self::Discovery { issuer, .. } => issuer.clone(),
            Self::Jwks { url, .. } => {
                let mut url = url.clone();
                // Fails only for URLs that cannot have credentials, which then have none.
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.set_fragment(None);
                url.into()
            }
        }
    }

    fn allow_http(&self) -> bool {
        match self {
            Self::Jwks { allow_http, .. } | Self::Discovery { allow_http, .. } => *allow_http,
        }
    }

    /// Logs, once at start, that keys are fetched in clear text over the network.
    fn warn_if_clear_text(&self) {
        let url = match self {
            Self::Jwks { url, .. } => url,
            Self::Discovery { documents, .. } => match documents.first() {
                Some(url) => url,
                None => return,
            },
        };
        if is_clear_text_to_network(url) {
            tracing::warn!(
                target: "portcullis::keys",
                %url,
                "keys are fetched over plain http (PORTCULLIS_ALLOW_HTTP): anyone on the path can \
                 swap them; for development only"
            );
        }
    }
}

/// The discovery document named another issuer than the configured one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuerMismatch {
    /// The issuer as configured.
    pub(crate) configured: String,
    /// The issuer as the document names it.
    pub(crate) discovered: String,
    /// What the two have in common, when it is a near miss.
    pub(crate) hint: Option<&'static str>,
}

/// The keys as last fetched, and what the last attempt found.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The keys; empty until the first successful fetch (a fetch that finds no usable key
    /// fails).
    pub(super) keys: Arc<KeySet>,
    /// Whether the last attempt succeeded.
    pub(super) healthy: bool,
    /// Changes whenever the keys change (a cache of verified tokens keys on it).
    pub(super) generation: u64,
    /// How many attempts completed: tells a waiting request that a fetch happened meanwhile.
    attempts: u64,
    /// When the last attempt started.
    last_attempt: Option<Instant>,
    /// When the last fetch a token asked for (an unknown `kid`) started: only those count
    /// against the on-demand limit, so a key published right after the start-up fetch or a
    /// scheduled one is fetched for its first token.
    last_on_demand: Option<Instant>,
    /// When the background task fetches next.
    refresh_at: Instant,
    /// A digest of the last document, to tell a rotation from a refresh that changed nothing.
    digest: [u8; 32],
    /// The issuer the last discovery document named instead of the configured one, if it did.
    mismatch: Option<Arc<IssuerMismatch>>,
    /// When the first of the fetches failing since the last success started.
    failing_since: Option<SystemTime>,
}

impl Snapshot {
    /// Whether a fetch ever succeeded.
    pub(crate) fn loaded(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The issuer the last discovery document named instead of the configured one.
    pub(crate) fn mismatch(&self) -> Option<&IssuerMismatch> {
        self.mismatch.as_deref()
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
    /// The location as metrics and readiness name it: configuration, without credentials.
    label: String,
    refresh: KeyRefresh,
    /// The algorithms the verifier accepts: keys are restricted to them.
    algorithms: Vec<Algorithm>,
    fetcher: Fetcher,
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
    ) -> Result<Self, crate::crypto::HttpClientError> {
        let fetcher =
            Fetcher::new(refresh.timeout, refresh.max_response_bytes, location.allow_http())?;
        location.warn_if_clear_text();
        let snapshot = Snapshot {
            keys: Arc::new(KeySet::new()),
            healthy: false,
            generation: 0,
            attempts: 0,
            last_attempt: None,
            last_on_demand: None,
            refresh_at: Instant::now(),
            digest: [0; 32],
            mismatch: None,
            failing_since: None,
        };
        let keys = Self {
            shared: Arc::new(Shared {
                label: location.label(),
                location,
                refresh,
                algorithms,
                fetcher,
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

    /// Whether usable keys are held, and since when fetches fail.
    pub(crate) fn readiness(&self) -> KeySourceReadiness {
        let snapshot = self.current();
        KeySourceReadiness::new(
            self.shared.label.clone(),
            snapshot.keys.len(),
            snapshot.failing_since,
        )
    }

    /// The keys as they are now; starts the background refresh if it does not run.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.schedule();
        self.shared.snapshot()
    }

    /// Fetches the keys again because `seen` did not hold the one a token names (`kid`, `alg`),
    /// unless a fetch completed since `seen` was taken (its result is returned) or the last
    /// on-demand fetch is more recent than the minimum interval (the current keys are returned).
    /// A start-up or scheduled fetch does not count: it cannot have seen a key published after
    /// it. With discovery, a key set that still lacks the key is looked for again where the
    /// discovery document now says it is.
    pub(crate) async fn refresh_for(
        &self,
        seen: &Snapshot,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Arc<Snapshot> {
        let wanted = Wanted { kid: kid.map(str::to_owned), alg };
        self.fetch_for(seen, Trigger::UnknownKey(wanted)).await
    }

    /// Fetches the first keys for a request that found none loaded (the start-up fetch failed,
    /// or has not run), unless a fetch completed since `seen` was taken or any attempt is more
    /// recent than the minimum interval. Not an on-demand fetch: the first key set loaded
    /// never delays the refresh a new key's token asks for.
    pub(crate) async fn first_keys_for(&self, seen: &Snapshot) -> Arc<Snapshot> {
        self.fetch_for(seen, Trigger::FirstKeys).await
    }

    async fn fetch_for(&self, seen: &Snapshot, trigger: Trigger) -> Arc<Snapshot> {
        let shared = Arc::clone(&self.shared);
        let seen = seen.attempts;
        let refresh = async move {
            let mut gate = shared.gate.lock().await;
            let now = shared.snapshot();
            if now.attempts != seen {
                return now;
            }
            let last = match trigger {
                Trigger::UnknownKey(_) => now.last_on_demand,
                Trigger::FirstKeys | Trigger::Schedule => now.last_attempt,
            };
            if last.is_some_and(|last| last.elapsed() < shared.refresh.min_interval) {
                return now;
            }
            let snapshot = shared.fetch_and_store(&mut gate, trigger).await;
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

    /// The outcome of the first fetch: waits for the start-up fetch (or makes it, when none
    /// runs), bounded by the fetch timeout; returns at once if a fetch completed already.
    pub(crate) async fn first_attempt(&self) -> Arc<Snapshot> {
        let now = self.shared.snapshot();
        if now.attempts > 0 {
            return now;
        }
        let mut gate = self.shared.gate.lock().await;
        let now = self.shared.snapshot();
        if now.attempts > 0 {
            return now;
        }
        let snapshot = self.shared.fetch_and_store(&mut gate, Trigger::Schedule).await;
        self.shared.rescheduled.notify_one();
        snapshot
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
            shared.fetch_and_store(&mut gate, Trigger::Schedule).await;
        }
    }
}

/// Why a fetch happens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Trigger {
    /// The background task: at start, on the refresh interval, or retrying after a failure.
    Schedule,
    /// A token named a key that is not known: rate limited by the on-demand limit.
    UnknownKey(Wanted),
    /// A token arrived while no key set was ever loaded: rate limited by every attempt.
    FirstKeys,
}

impl Trigger {
    const fn as_str(&self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::UnknownKey(_) => "unknown key",
            Self::FirstKeys => "first keys",
        }
    }
}

/// The key a token named, which the keys known did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    kid: Option<String>,
    alg: Algorithm,
}

impl Wanted {
    /// Whether `keys` hold no key for the token: still unknown (a key found under another
    /// algorithm is found: the token is refused for its algorithm, not its key).
    fn missing_from(&self, keys: &KeySet) -> bool {
        keys.position(self.kid.as_deref(), self.alg) == Err(InvalidTokenReason::UnknownKey)
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
        trigger: Trigger,
    ) -> Arc<Snapshot> {
        let started = Instant::now();
        let started_at = SystemTime::now();
        let previous = self.snapshot();
        let last_on_demand = match trigger {
            Trigger::UnknownKey(_) => Some(started),
            Trigger::Schedule | Trigger::FirstKeys => previous.last_on_demand,
        };
        // Discovery is read again on the schedule, so that a changed `jwks_uri` is followed; a
        // token's fetch uses the URL found last, and reads discovery again only when that URL
        // lacks the token's key.
        if trigger == Trigger::Schedule {
            *discovered = None;
        }
        let wanted = match &trigger {
            Trigger::UnknownKey(wanted) => Some(wanted),
            Trigger::Schedule | Trigger::FirstKeys => None,
        };
        let outcome = self.fetch(discovered, wanted).await;
        let trigger = trigger.as_str();
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let snapshot = match outcome {
            Ok((keys, digest, max_age)) => {
                let interval = self.refresh.next_interval(max_age);
                let changed = !previous.loaded() || digest != previous.digest;
                if changed {
                    log_rotation(&previous.keys, &keys, previous.loaded());
                }
                crate::observability::key_refresh(&self.label, true);
                crate::observability::keys_held(&self.label, keys.len());
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
                    last_on_demand,
                    refresh_at: after(interval),
                    digest,
                    mismatch: None,
                    failing_since: None,
                }
            }
            Err(error) => {
                // The discovered URL may be what broke: discover again next time.
                *discovered = None;
                let mismatch = match (&error, &self.location) {
                    (FetchError::IssuerMismatch { expected, found }, _) => {
                        Some(Arc::new(IssuerMismatch {
                            configured: expected.clone(),
                            discovered: found.clone(),
                            hint: near_miss(expected, found),
                        }))
                    }
                    _ => None,
                };
                crate::observability::key_refresh(&self.label, false);
                crate::observability::keys_held(&self.label, previous.keys.len());
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
                    last_on_demand,
                    refresh_at: after(self.refresh.min_interval),
                    mismatch,
                    failing_since: previous.failing_since.or(Some(started_at)),
                    ..(*previous).clone()
                }
            }
        };
        let snapshot = Arc::new(snapshot);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&snapshot);
        snapshot
    }

    /// The key set, a digest of its document, and the document's `max-age`.
    ///
    /// With discovery, the URL found last is used; when its key set fails or lacks the key a
    /// token asked for (`wanted`), the discovery document is read again, and a `jwks_uri` that
    /// changed is followed: its key set replaces the old one, and the old URL is not used
    /// again. Both reads are part of one on-demand refresh, so the refresh's rate limit bounds
    /// them: a flood of unknown `kid`s cannot become a flood of discovery requests.
    async fn fetch(
        &self,
        discovered: &mut Option<Url>,
        wanted: Option<&Wanted>,
    ) -> Result<KeysFetched, FetchError> {
        let (issuer, documents) = match &self.location {
            KeyLocation::Jwks { url, .. } => return self.fetch_keys(url).await,
            KeyLocation::Discovery { issuer, documents, .. } => (issuer, documents),
        };
        let Some(known) = discovered.clone() else {
            // Discovered just now: the provider's current word, not worth asking again.
            let url = self.fetcher.discover(issuer, documents).await?;
            *discovered = Some(url.clone());
            return self.fetch_keys(&url).await;
        };
        let outcome = self.fetch_keys(&known).await;
        let Some(wanted) = wanted else { return outcome };
        if outcome.as_ref().is_ok_and(|(keys, ..)| !wanted.missing_from(keys)) {
            return outcome;
        }
        let moved = match self.fetcher.discover(issuer, documents).await {
            Ok(url) if url == known => return outcome,
            Ok(url) => url,
            Err(error) => {
                tracing::warn!(
                    target: "portcullis::keys",
                    issuer,
                    %error,
                    "could not read the discovery document again; the key set stays at its last \
                     known URL"
                );
                return outcome;
            }
        };
        tracing::info!(
            target: "portcullis::keys",
            issuer,
            from = %known,
            to = %moved,
            "the discovery document names another key set: following it"
        );
        *discovered = Some(moved.clone());
        self.fetch_keys(&moved).await
    }

    /// The key set at `url`.
    async fn fetch_keys(&self, url: &Url) -> Result<KeysFetched, FetchError> {
        let fetched = self.fetcher.get(url).await?;
        let keys = jwks::parse(&fetched.body, Mode::Lenient { accepted: &self.algorithms })?;
        if keys.is_empty() {
            // Garbage never replaces working keys.
            return Err(FetchError::NoUsableKey);
        }
        // A cryptographic digest because the token cache relies on it: a rotation that went
        // unnoticed would leave the tokens of a removed key cached as verified.
        Ok((keys, crate::crypto::sha256(&fetched.body), fetched.max_age))
    }
}

/// A key set as fetched: the keys, a digest of their document, and the document's `max-age`.
type KeysFetched = (KeySet, [u8; 32], Option<Duration>);

/// The instant `duration` from now; far in the future when that is beyond what `Instant` holds
/// (a `Duration::MAX` setting means "never", not a panic).
fn after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 60 * 60)))
        .unwrap_or(now)
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

    fn documents(issuer: &str) -> Vec<String> {
        let Ok(KeyLocation::Discovery { documents, .. }) = KeyLocation::discovery(issuer, false)
        else {
            panic!("{issuer}");
        };
        documents.iter().map(Url::to_string).collect()
    }

    #[test]
    fn discovery_urls_from_issuer_oidc_then_rfc8414() {
        for issuer in ["https://tenant.auth0.com/", "https://tenant.auth0.com"] {
            assert_eq!(
                documents(issuer),
                [
                    "https://tenant.auth0.com/.well-known/openid-configuration",
                    "https://tenant.auth0.com/.well-known/oauth-authorization-server",
                ]
            );
        }
        assert_eq!(
            documents("https://kc.example/realms/acme"),
            [
                "https://kc.example/realms/acme/.well-known/openid-configuration",
                "https://kc.example/.well-known/oauth-authorization-server/realms/acme",
            ]
        );
        assert!(KeyLocation::discovery("http://keycloak:8080/realms/dev", false).is_err());
        assert!(KeyLocation::discovery("http://keycloak:8080/realms/dev", true).is_ok());
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
}
