//! Opaque access tokens: RFC 7662 token introspection, cached, with one call per token at a time.
//!
//! - [`Setup`]: a checked configuration (the application configures `verify::config`'s
//!   `Introspection`, whose check makes it), with [`ClientAuthMethod`], the credentials'
//!   [`Secret`] and the pre-filter ([`Recognised`]);
//! - `client`: the HTTP side (the POST of RFC 7662 §2.1, discovery, a bounded answer, no
//!   redirect to another origin);
//! - [`Introspector`]: the answers of one verifier, cached by the SHA-256 digest of the token,
//!   never the token itself (`crate::expiring`: what is used stays, what has ended goes first),
//!   with concurrent requests for one token sharing one call (`in_flight`), and a bound on the
//!   calls in progress at once.
//!
//! What an answer *means* (the claim rules, the principal) is decided by `verify`, which hands
//! its decision to [`Introspector::resolve`]; this module only calls, keeps and times.
//!
//! May import `keys` (the URL rules), `respond`, `principal`, `digest` and `expiring`; nothing
//! imports back but `verify` (its configuration and its runtime).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod client;

use crate::in_flight::InFlight;
use client::Client;
#[cfg(fuzzing)]
pub(crate) use client::read_answer;
pub(crate) use client::{Answer, Endpoint};

use crate::expiring::ExpiringCache;

use crate::principal::Principal;
use crate::respond::InvalidTokenReason;

/// How client credentials are sent to the introspection endpoint (the `token_endpoint_auth_method`
/// names of RFC 7591 §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
pub enum ClientAuthMethod {
    /// `Authorization: Basic` with the form-encoded client id and secret (RFC 6749 §2.3.1). The
    /// default.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1, "NOT RECOMMENDED" by it,
    /// but the only method some providers accept).
    ClientSecretPost,
}

/// Which opaque tokens are worth a call: see `Introspection::opaque_token_prefix` and
/// `Introspection::opaque_token_filter`.
#[derive(Clone, Default)]
pub(crate) struct Recognised {
    /// A token must start with one of these, when there are any.
    pub(crate) prefixes: Vec<String>,
    /// A token must pass this, when there is one.
    pub(crate) filter: Option<TokenFilter>,
}

/// The predicate of `Introspection::opaque_token_filter`.
pub(crate) type TokenFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl Recognised {
    /// Whether `token` may be one of the provider's.
    pub(crate) fn accepts(&self, token: &str) -> bool {
        (self.prefixes.is_empty() || self.prefixes.iter().any(|prefix| token.starts_with(prefix)))
            && self.filter.as_ref().is_none_or(|filter| filter(token))
    }
}

impl fmt::Debug for Recognised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recognised")
            .field("prefixes", &self.prefixes)
            .field("filter", &self.filter.as_ref().map(|_| "Fn(&str) -> bool"))
            .finish()
    }
}

/// A client secret: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why an introspection-backed request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 401 `invalid_token`.
    Invalid(InvalidTokenReason),
    /// The endpoint cannot answer now: 503.
    Unavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
}

/// What a request decided about a token, for [`Introspector::resolve`] to keep.
pub(crate) enum Computed {
    /// Accepted; kept until `exp` (plus the leeway) or the maximum age.
    Active {
        principal: Principal,
        /// `exp`, in seconds since the epoch, when known.
        exp: Option<u64>,
        /// `nbf`, in seconds since the epoch, when known.
        nbf: Option<u64>,
    },
    /// Refused (401); kept for the inactive maximum age.
    Refused(InvalidTokenReason),
    /// The endpoint failed (503); kept for the retry-after time.
    Unavailable,
}

/// One cached decision.
struct Entry {
    outcome: Result<Principal, Refusal>,
    /// Milliseconds since the epoch, from which the entry may be used.
    valid_from: u64,
    /// Milliseconds since the epoch, until which (exclusive) the entry may be used.
    valid_until: u64,
}

impl Entry {
    fn is_valid_at(&self, now: u64) -> bool {
        self.valid_from <= now && now < self.valid_until
    }
}

/// The introspection of one verifier: its client and its cache of decisions.
#[derive(Clone)]
pub(crate) struct Introspector {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    jwts: bool,
    /// Decisions by the SHA-256 digest of the token; `None` when the capacity is zero.
    /// The decisions, each with the digest of its token: the cache's hash only finds an entry,
    /// the digest is what makes it this token's.
    cache: Option<ExpiringCache<([u8; 32], Entry)>>,
    max_age_ms: u64,
    inactive_ms: u64,
    retry_after: Duration,
    /// The leeway on `exp` and `nbf`, in seconds, as the claim rules apply it.
    leeway: u64,
    /// The one issuer whose tokens the endpoint vouches for; `None` with any issuer accepted.
    issuer: Option<String>,
    /// The tokens being introspected, for one call per token at a time.
    in_flight: InFlight,
    /// One permit per call that may be in progress.
    calls: tokio::sync::Semaphore,
    max_concurrent_calls: usize,
    /// When (milliseconds since the epoch) the bound was last reported in the log.
    bound_reported: AtomicU64,
    recognised: Recognised,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("client", &self.shared.client)
            .field("jwts", &self.shared.jwts)
            .field("cached", &self.shared.cache.as_ref().map_or(0, |cache| cache.len()))
            .field("in_flight", &self.shared.in_flight.len())
            .field("max_concurrent_calls", &self.shared.max_concurrent_calls)
            .field("recognised", &self.shared.recognised)
            .finish_non_exhaustive()
    }
}

/// A checked introspection configuration: what `verify::config`'s `Introspection` makes once
/// it has checked its settings against the verifier's.
pub(crate) struct Setup {
    /// The endpoint, or the discovery document that names it.
    pub(crate) endpoint: Endpoint,
    /// The one issuer whose tokens the endpoint vouches for; `None` with any issuer accepted.
    pub(crate) issuer: Option<String>,
    pub(crate) credentials: Option<(String, Secret)>,
    pub(crate) auth: ClientAuthMethod,
    pub(crate) jwts: bool,
    pub(crate) max_age: Duration,
    pub(crate) inactive_max_age: Duration,
    pub(crate) retry_after: Duration,
    pub(crate) capacity: usize,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    /// At least one.
    pub(crate) max_concurrent_calls: usize,
    pub(crate) recognised: Recognised,
    /// The leeway on `exp` and `nbf`, in seconds.
    pub(crate) leeway: u64,
}

impl Introspector {
    /// The introspector of a checked configuration; only its HTTP client can fail to build.
    pub(crate) fn new(config: Setup) -> Result<Self, crate::crypto::HttpClientError> {
        let client = Client::new(config.endpoint.clone(), &config)?;
        let millis = |duration: Duration| {
            u64::try_from(duration.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
        };
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                jwts: config.jwts,
                cache: (config.capacity > 0).then(|| ExpiringCache::new(config.capacity)),
                max_age_ms: millis(config.max_age),
                inactive_ms: millis(config.inactive_max_age),
                // Whole seconds, at least one: what `Retry-After` can say.
                retry_after: Duration::from_secs(
                    config.retry_after.as_secs() + u64::from(config.retry_after.subsec_nanos() > 0),
                )
                .max(Duration::from_secs(1)),
                leeway: config.leeway,
                issuer: config.issuer,
                in_flight: InFlight::default(),
                calls: tokio::sync::Semaphore::new(
                    config.max_concurrent_calls.min(tokio::sync::Semaphore::MAX_PERMITS),
                ),
                max_concurrent_calls: config.max_concurrent_calls,
                bound_reported: AtomicU64::new(0),
                recognised: config.recognised,
            }),
        })
    }

    /// Whether JWTs are introspected too.
    pub(crate) fn introspects_jwts(&self) -> bool {
        self.shared.jwts
    }

    /// The issuer an active answer must name, if one is set.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.shared.issuer.as_deref()
    }

    /// Whether the opaque `token` passes the configured pre-filter (prefixes, predicate): a
    /// token that does not is not the provider's, and is refused without a call.
    pub(crate) fn recognises(&self, token: &str) -> bool {
        self.shared.recognised.accepts(token)
    }

    /// The cache key of `token`: its SHA-256 digest.
    pub(crate) fn key(token: &str) -> [u8; 32] {
        crate::crypto::sha256(token.as_bytes())
    }

    /// The cache key of a JWT's decision: its digest with the generation of the keys that
    /// verified it, so that a change of keys verifies it again before its answer is reused.
    pub(crate) fn key_for_keys(token: &str, generation: u64) -> [u8; 32] {
        let mut input = Vec::with_capacity(8 + token.len());
        input.extend_from_slice(&generation.to_be_bytes());
        input.extend_from_slice(token.as_bytes());
        crate::crypto::sha256(&input)
    }

    /// A decision kept for `key`, if one is valid now. Never waits, never calls.
    pub(crate) fn cached(&self, key: &[u8; 32]) -> Option<Result<Principal, Refusal>> {
        let now = unix_millis();
        let cache = self.shared.cache.as_ref()?;
        cache.get(cache.hash(key), now, |(digest, entry)| {
            (digest == key && entry.is_valid_at(now))
                .then(|| entry.outcome.clone().map(Principal::served_from_cache))
        })?
    }

    /// The decision for the token of `key`: a kept one, the one a concurrent request for the same
    /// token is computing (waited for), or the one `compute` makes (kept).
    ///
    /// Only the request whose turn it is calls, and only with one of the bounded permits: when
    /// none is free, it is refused as unavailable at once, and that refusal is not kept (the
    /// token itself may be fine). A request that is cancelled while computing hands the
    /// computation to the next waiter.
    pub(crate) async fn resolve<F, Fut>(
        &self,
        key: &[u8; 32],
        compute: F,
    ) -> Result<Principal, Refusal>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Computed>,
    {
        let shared = &self.shared;
        let Some(cache) = &shared.cache else {
            let _permit = self.permit()?;
            return self.entry(compute().await, unix_millis()).outcome;
        };
        let place = shared.in_flight.join(key);
        let _turn = place.turn().await;
        // The request ahead may have answered meanwhile.
        if let Some(outcome) = self.cached(key) {
            return outcome;
        }
        let _permit = self.permit()?;
        let computed = compute().await;
        let now = unix_millis();
        let entry = self.entry(computed, now);
        let (outcome, ends) = (entry.outcome.clone(), entry.valid_until);
        cache.insert(cache.hash(key), (*key, entry), ends, now);
        outcome
    }

    /// A permit for one call, if the bound leaves one.
    fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Refusal> {
        let shared = &self.shared;
        shared.calls.try_acquire().map_err(|_| {
            // Once every ten seconds at most: a flood is what fills the bound.
            let now = unix_millis();
            let last = shared.bound_reported.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= 10_000
                && shared
                    .bound_reported
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::warn!(
                    target: "portcullis::introspection",
                    max_concurrent_calls = shared.max_concurrent_calls,
                    "every introspection call allowed at once is in progress: requests with \
                     tokens that need a call get 503 until one ends (a flood of unknown tokens? \
                     a rate limiter in front stops it; or raise Introspection::max_concurrent_calls)"
                );
            }
            crate::observability::introspection_saturated();
            Refusal::Unavailable { retry_after: shared.retry_after }
        })
    }

    /// POSTs `token` to the endpoint. Failures are logged here (never the token, the secret or
    /// the answer) and become `Err(())`.
    pub(crate) async fn call(&self, token: &str) -> Result<Answer, ()> {
        let answer = self.shared.client.introspect(token).await;
        crate::observability::introspection_call(match &answer {
            Ok(Answer::Inactive) => "inactive",
            Ok(_) => "active",
            Err(()) => "error",
        });
        answer
    }

    /// The entry that keeps `computed`, decided at `now` (milliseconds since the epoch).
    fn entry(&self, computed: Computed, now: u64) -> Entry {
        let shared = &self.shared;
        let millis = |seconds: u64| seconds.saturating_mul(1000);
        match computed {
            Computed::Active { principal, exp, nbf } => {
                let until_exp =
                    exp.map_or(u64::MAX, |exp| millis(exp.saturating_add(shared.leeway)));
                Entry {
                    outcome: Ok(principal),
                    valid_from: nbf.map_or(0, |nbf| millis(nbf.saturating_sub(shared.leeway))),
                    valid_until: until_exp.min(now.saturating_add(shared.max_age_ms)),
                }
            }
            Computed::Refused(reason) => Entry {
                outcome: Err(Refusal::Invalid(reason)),
                valid_from: 0,
                valid_until: now.saturating_add(shared.inactive_ms),
            },
            Computed::Unavailable => Entry {
                outcome: Err(Refusal::Unavailable { retry_after: shared.retry_after }),
                valid_from: 0,
                valid_until: now.saturating_add(
                    u64::try_from(shared.retry_after.as_millis()).unwrap_or(u64::MAX),
                ),
            },
        }
    }
}

/// The wall clock in milliseconds since the epoch, the clock `exp` and `nbf` are on. The coarse
/// clock: why its lag of a tick is safe is in `clock`.
fn unix_millis() -> u64 {
    crate::clock::coarse_unix_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    // The settings the application gives: their check makes the `Setup` these tests need.
    use crate::introspection::Introspection;
    use crate::principal::Principal;
    use crate::respond::Presentation;
    use crate::scope::Scopes;
    use serde_json::Map;

    fn principal() -> Principal {
        let presentation = Arc::new(Presentation::new("api").unwrap_or_else(|_| panic!()));
        Principal::new(
            "alice".into(),
            crate::principal_id::PrincipalId::of_subject("alice".into()),
            Scopes::new(Vec::<String>::new()),
            crate::role::Roles::default(),
            Map::new(),
            crate::step_up::SignIn::default(),
            presentation,
        )
    }

    fn introspector(config: Introspection) -> Introspector {
        let setup = config.check(None, Duration::from_secs(30), false);
        Introspector::new(setup.unwrap_or_else(|_| panic!("checks"))).unwrap_or_else(|_| panic!())
    }

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn active_answers_end_with_exp_or_the_maximum_age() {
        let introspector = introspector(Introspection::endpoint("https://as.example/introspect"));
        let active = |exp, nbf| Computed::Active { principal: principal(), exp, nbf };
        // The maximum age (60 s) first.
        let entry = introspector.entry(active(Some(NOW / 1000 + 3600), None), NOW);
        assert_eq!((entry.valid_from, entry.valid_until), (0, NOW + 60_000));
        // `exp` plus the leeway first.
        let entry = introspector.entry(active(Some(NOW / 1000), None), NOW);
        assert_eq!(entry.valid_until, NOW + 30_000);
        assert!(entry.is_valid_at(NOW + 29_999) && !entry.is_valid_at(NOW + 30_000));
        // No `exp`: the maximum age; `nbf` less the leeway.
        let entry = introspector.entry(active(None, Some(NOW / 1000 + 100)), NOW);
        assert_eq!((entry.valid_from, entry.valid_until), (NOW + 70_000, NOW + 60_000));
        assert!(!entry.is_valid_at(NOW));
    }

    #[test]
    fn refusals_and_failures_are_kept_briefly() {
        let introspector = introspector(
            Introspection::endpoint("https://as.example/introspect")
                .inactive_max_age(Duration::from_secs(2))
                .retry_after(Duration::from_millis(1500)),
        );
        let entry = introspector.entry(Computed::Refused(InvalidTokenReason::Inactive), NOW);
        assert_eq!(entry.valid_until, NOW + 2000);
        assert!(matches!(entry.outcome, Err(Refusal::Invalid(InvalidTokenReason::Inactive))));
        let entry = introspector.entry(Computed::Unavailable, NOW);
        // Rounded up to whole seconds, as `Retry-After` says it.
        assert_eq!(entry.valid_until, NOW + 2000);
        assert!(matches!(
            entry.outcome,
            Err(Refusal::Unavailable { retry_after }) if retry_after == Duration::from_secs(2)
        ));
    }

    #[test]
    fn the_cache_is_keyed_by_a_digest_and_bounded() {
        let small = introspector(Introspection::endpoint("https://as.example/i").capacity(50));
        let cache = small.shared.cache.as_ref().unwrap_or_else(|| panic!());
        for i in 0..5_000 {
            let entry = small.entry(Computed::Refused(InvalidTokenReason::Inactive), NOW);
            let ends = entry.valid_until;
            let key = Introspector::key(&format!("token-{i}"));
            cache.insert(cache.hash(&key), (key, entry), ends, NOW);
        }
        assert!(cache.len() <= 60, "{}", cache.len());
        assert_eq!(Introspector::key("abc"), crate::crypto::sha256(b"abc"));
        let none = introspector(Introspection::endpoint("https://as.example/i").capacity(0));
        assert!(none.shared.cache.is_none());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let config = Introspection::endpoint("https://as.example/i")
            .client_credentials("api", "hunter2-secret");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("\"api\""), "{shown}");
        let shown = format!("{:?}", introspector(config));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    /// The promise of the cache, at scale and without HTTP: after a warm-up of three times its
    /// capacity in other tokens, a working set of 80 % of its capacity replayed round-robin is
    /// computed on its first round only.
    #[tokio::test]
    async fn a_working_set_stays_through_churn() {
        const CAPACITY: usize = 50_000;
        let introspector =
            introspector(Introspection::endpoint("https://as.example/i").capacity(CAPACITY));
        let alice = principal();
        let computed = std::sync::atomic::AtomicUsize::new(0);
        let resolve = |token: String| {
            let (introspector, alice, computed) = (&introspector, alice.clone(), &computed);
            async move {
                let compute = || async {
                    computed.fetch_add(1, Ordering::Relaxed);
                    Computed::Active { principal: alice, exp: None, nbf: None }
                };
                let outcome = introspector.resolve(&Introspector::key(&token), compute).await;
                assert!(outcome.is_ok());
            }
        };
        for i in 0..3 * CAPACITY {
            resolve(format!("warm-up-{i}")).await;
        }
        let working_set = CAPACITY * 8 / 10;
        for round in 0..5 {
            let before = computed.load(Ordering::Relaxed);
            for i in 0..working_set {
                resolve(format!("working-{i}")).await;
            }
            let misses = computed.load(Ordering::Relaxed) - before;
            let expected = if round == 0 { working_set } else { 0 };
            assert_eq!(misses, expected, "round {round}");
        }
        assert_eq!(introspector.shared.in_flight.len(), 0);
    }

    /// A request cancelled while its call is in progress (the client went away) hands the
    /// computation to the next request for the token, which calls once and keeps the answer.
    #[tokio::test]
    async fn a_cancelled_call_hands_over_to_the_next_waiter() {
        let introspector = introspector(Introspection::endpoint("https://as.example/i"));
        let key = Introspector::key("the-token");
        let started = Arc::new(tokio::sync::Notify::new());
        let first = {
            let (introspector, started) = (introspector.clone(), Arc::clone(&started));
            tokio::spawn(async move {
                let compute = || async move {
                    started.notify_one();
                    std::future::pending::<Computed>().await
                };
                introspector.resolve(&key, compute).await
            })
        };
        started.notified().await;
        let second = {
            let introspector = introspector.clone();
            tokio::spawn(async move {
                let compute = || async { Computed::Refused(InvalidTokenReason::Inactive) };
                introspector.resolve(&key, compute).await
            })
        };
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the second request waits for the first one's call");
        first.abort();
        let outcome = second.await.unwrap_or_else(|_| panic!("the second request ends"));
        assert_eq!(outcome.err(), Some(Refusal::Invalid(InvalidTokenReason::Inactive)));
        // Kept: a third request does not compute.
        let third = introspector.resolve(&key, || async { panic!("computed again") }).await;
        assert_eq!(third.err(), Some(Refusal::Invalid(InvalidTokenReason::Inactive)));
        assert_eq!(introspector.shared.in_flight.len(), 0);
    }

    /// Past the bound, a request that needs a call is refused at once, and the refusal is not
    /// kept; the permit comes back when the call ends.
    #[tokio::test]
    async fn past_the_bound_a_call_is_refused_at_once_and_not_kept() {
        let introspector =
            introspector(Introspection::endpoint("https://as.example/i").max_concurrent_calls(1));
        let started = Arc::new(tokio::sync::Notify::new());
        let release = Arc::new(tokio::sync::Notify::new());
        let held = {
            let (introspector, started, release) =
                (introspector.clone(), Arc::clone(&started), Arc::clone(&release));
            tokio::spawn(async move {
                let compute = || async move {
                    started.notify_one();
                    release.notified().await;
                    Computed::Refused(InvalidTokenReason::Inactive)
                };
                introspector.resolve(&Introspector::key("held"), compute).await
            })
        };
        started.notified().await;
        let other = Introspector::key("other");
        let busy = introspector.resolve(&other, || async { panic!("called past the bound") }).await;
        let retry_after = Duration::from_secs(1);
        assert_eq!(busy.err(), Some(Refusal::Unavailable { retry_after }));
        assert!(introspector.cached(&other).is_none(), "the 503 is not kept");
        release.notify_one();
        assert!(held.await.is_ok());
        let fine = introspector
            .resolve(&other, || async { Computed::Refused(InvalidTokenReason::Expired) })
            .await;
        assert_eq!(fine.err(), Some(Refusal::Invalid(InvalidTokenReason::Expired)));
    }
}
