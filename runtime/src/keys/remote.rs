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

use reqwest::Url;

use super::algorithm::Algorithm;
use super::fetch::{FetchError, Fetcher, secure_url};
use super::jwks::{self, Mode};
use super::set::KeySet;

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
    ) -> Result<Self, reqwest::Error> {
        let fetcher = Fetcher::new(refresh.timeout, refresh.max_response_bytes)?;
        let snapshot = Snapshot {
            keys: Arc::new(KeySet::new()),
            healthy: false,
            generation: 0,
            attempts: 0,
            last_attempt: None,
            last_on_demand: None,
            refresh_at: Instant::now(),
            digest: [0; 32],
        };
        let keys = Self {
            shared: Arc::new(Shared {
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

    /// The keys as they are now; starts the background refresh if it does not run.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.schedule();
        self.shared.snapshot()
    }

    /// Fetches the keys again because `seen` did not hold the one a token names, unless a fetch
    /// completed since `seen` was taken (its result is returned) or the last on-demand fetch is
    /// more recent than the minimum interval (the current keys are returned). A start-up or
    /// scheduled fetch does not count: it cannot have seen a key published after it.
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
                now.last_on_demand.is_some_and(|last| last.elapsed() < shared.refresh.min_interval);
            if recent {
                return now;
            }
            let snapshot = shared.fetch_and_store(&mut gate, Trigger::UnknownKey).await;
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
            shared.fetch_and_store(&mut gate, Trigger::Schedule).await;
        }
    }
}

/// Why a fetch happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The background task: at start, on the refresh interval, or retrying after a failure.
    Schedule,
    /// A token named a key that is not known (or none was loaded): rate limited.
    UnknownKey,
}

impl Trigger {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::UnknownKey => "unknown key",
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
        trigger: Trigger,
    ) -> Arc<Snapshot> {
        let started = Instant::now();
        let previous = self.snapshot();
        let last_on_demand =
            if trigger == Trigger::UnknownKey { Some(started) } else { previous.last_on_demand };
        let trigger = trigger.as_str();
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
                    last_on_demand,
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
                    last_on_demand,
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
                let url = self.fetcher.discover(issuer, document).await?;
                *discovered = Some(url.clone());
                url
            }
        };
        let fetched = self.fetcher.get(&url).await?;
        let keys = jwks::parse(&fetched.body, Mode::Lenient { accepted: &self.algorithms })?;
        if keys.is_empty() {
            // Garbage never replaces working keys.
            return Err(FetchError::NoUsableKey);
        }
        // A cryptographic digest because the token cache relies on it: a rotation that went
        // unnoticed would leave the tokens of a removed key cached as verified.
        Ok((keys, crate::digest::sha256(&fetched.body), fetched.max_age))
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
