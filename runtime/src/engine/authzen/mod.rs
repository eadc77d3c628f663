//! A remote policy decision point that speaks OpenID AuthZEN Authorization API 1.0 (Cerbos,
//! OpenFGA, Keycloak, Topaz, …): [`AuthZen`] configures it, [`AuthZenEngine`] asks it.
//!
//! The two questions of a request (may see, may act) go in one call to
//! `access/v1/evaluations` (one call to `access/v1/evaluation` when the action is the one that
//! makes a resource visible). Decisions are kept for a short, configurable lifetime (zero: never
//! kept), under the SHA-256 of everything the decision point was told (the principal, its
//! properties, the actions, the resource and its facts); concurrent requests that ask the same
//! share one call. The calls are bounded: in time (a timeout), in size (the answer), and in
//! number (past the bound, 503 at once rather than a queue).
//!
//! A decision point that is down, slow, answers an error status or anything but AuthZEN
//! decisions (a batch with a decision missing among them) gives 503 with `Retry-After`; such a
//! failure is not kept.

mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use url::Url;

use super::{Decision, DecisionEngine, EngineFailure, EngineFuture, Question};
use crate::expiring::ExpiringCache;
use crate::in_flight::InFlight;
use crate::keys::{is_clear_text_to_network, secure_url};
use wire::{Endpoints, Request, SubjectShape};

/// The default time a decision is kept: short, so that a revoked share takes effect soon.
pub const DEFAULT_CACHE_LIFETIME: Duration = Duration::from_secs(5);
/// The default timeout of one call (connection included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The default bound on concurrent calls.
pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = 64;
/// The default number of decisions kept.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;
/// The largest answer read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why an AuthZEN engine cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthZenError {
    /// The decision point's URL breaks the URL rules of key fetching (https, or http to a
    /// loopback address).
    #[error("the AuthZEN decision point URL is refused: {0}")]
    Url(&'static str),
    /// The bearer token cannot be sent in a header.
    #[error("the AuthZEN bearer token is not a valid header value")]
    Token,
    /// A setting is out of its range.
    #[error("{0}")]
    Setting(&'static str),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The settings of an AuthZEN decision point.
///
/// ```
/// use std::time::Duration;
/// use portcullis::engine::{Engine, authzen::AuthZen};
///
/// let engine = AuthZen::new("https://pdp.example")
///     .bearer_token("a token for the decision point")
///     .cache_lifetime(Duration::from_secs(2))
///     .build()?;
/// let engine = Engine::new(engine)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AuthZen {
    url: String,
    token: Option<String>,
    discovery: bool,
    timeout: Duration,
    max_concurrent_calls: usize,
    cache_lifetime: Duration,
    cache_capacity: usize,
    subject_type: String,
    subject_claims: Vec<String>,
}

impl fmt::Debug for AuthZen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthZen")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("discovery", &self.discovery)
            .field("timeout", &self.timeout)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("cache_lifetime", &self.cache_lifetime)
            .field("cache_capacity", &self.cache_capacity)
            .field("subject_type", &self.subject_type)
            .field("subject_claims", &self.subject_claims)
            .finish()
    }
}

impl AuthZen {
    /// The decision point at `url` (its base: the endpoints are `access/v1/evaluation` and
    /// `access/v1/evaluations` under it, unless [`discovery`](Self::discovery) reads them).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            discovery: false,
            timeout: DEFAULT_TIMEOUT,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            cache_lifetime: DEFAULT_CACHE_LIFETIME,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            subject_type: "user".to_owned(),
            subject_claims: Vec::new(),
        }
    }

    /// Sends `Authorization: Bearer <token>` with every call.
    #[must_use]
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Reads the endpoints from `/.well-known/authzen-configuration` (AuthZEN 1.0 §9) before
    /// the first call; the document must name this decision point. A failed read is retried
    /// with the next request (which gets 503 meanwhile).
    #[must_use]
    pub fn discovery(mut self, on: bool) -> Self {
        self.discovery = on;
        self
    }

    /// The timeout of one call, connection included (default 2 seconds).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// At most this many calls at once (default 64); past it, 503 at once.
    #[must_use]
    pub fn max_concurrent_calls(mut self, calls: usize) -> Self {
        self.max_concurrent_calls = calls;
        self
    }

    /// How long a decision is kept (default 5 seconds): a revoked share or a changed policy
    /// takes effect within it. Zero keeps none, and every request calls.
    #[must_use]
    pub fn cache_lifetime(mut self, lifetime: Duration) -> Self {
        self.cache_lifetime = lifetime;
        self
    }

    /// How many decisions are kept at most (default 10 000).
    #[must_use]
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// The subject's `type` (default `user`).
    #[must_use]
    pub fn subject_type(mut self, kind: impl Into<String>) -> Self {
        self.subject_type = kind.into();
        self
    }

    /// Claims of the token (dotted paths) sent among the subject's properties, beside `iss`,
    /// `scopes` and `roles`, which always are.
    #[must_use]
    pub fn subject_claims<I: IntoIterator<Item = S>, S: Into<String>>(mut self, claims: I) -> Self {
        self.subject_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The engine, with its HTTP client (the one key fetching uses).
    pub fn build(self) -> Result<AuthZenEngine, AuthZenError> {
        let base = secure_url(&self.url, false).map_err(AuthZenError::Url)?;
        if is_clear_text_to_network(&base) {
            return Err(AuthZenError::Url("the URL must use https"));
        }
        if self.max_concurrent_calls == 0 {
            return Err(AuthZenError::Setting("max_concurrent_calls must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(AuthZenError::Setting("the timeout must not be zero"));
        }
        let token = match &self.token {
            Some(token) => {
                let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| AuthZenError::Token)?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = crate::crypto::https_client()
            .map_err(AuthZenError::HttpClient)?
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            // A redirect would carry the token and the question to a server nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| AuthZenError::HttpClient(Box::new(error)))?;
        let endpoints = Endpoints::under(&base).map_err(|_| AuthZenError::Url("not a base URL"))?;
        let cached = !self.cache_lifetime.is_zero() && self.cache_capacity > 0;
        Ok(AuthZenEngine {
            shared: Arc::new(Shared {
                http,
                token,
                endpoints: if self.discovery {
                    tokio::sync::OnceCell::new()
                } else {
                    tokio::sync::OnceCell::new_with(Some(endpoints))
                },
                base,
                cache: cached.then(|| ExpiringCache::new(self.cache_capacity)),
                lifetime_ms: u64::try_from(self.cache_lifetime.as_millis()).unwrap_or(u64::MAX),
                in_flight: InFlight::default(),
                calls: tokio::sync::Semaphore::new(
                    self.max_concurrent_calls.min(tokio::sync::Semaphore::MAX_PERMITS),
                ),
                subject_type: self.subject_type,
                subject_claims: self.subject_claims,
            }),
        })
    }
}

/// An AuthZEN 1.0 decision point, asked over HTTP; cheap to clone. Built by [`AuthZen`].
#[derive(Clone)]
pub struct AuthZenEngine {
    shared: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    token: Option<HeaderValue>,
    base: Url,
    endpoints: tokio::sync::OnceCell<Endpoints>,
    /// Decisions by the SHA-256 of the request body; `None` with a zero lifetime.
    cache: Option<ExpiringCache<([u8; 32], Decision)>>,
    lifetime_ms: u64,
    in_flight: InFlight,
    calls: tokio::sync::Semaphore,
    subject_type: String,
    subject_claims: Vec<String>,
}

impl fmt::Debug for AuthZenEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthZenEngine")
            .field("url", &self.shared.base.as_str())
            .field("cached", &self.shared.cache.as_ref().map(ExpiringCache::len))
            .field("in_flight", &self.shared.in_flight.len())
            .field("in_flight", &self.shared.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl DecisionEngine for AuthZenEngine {
    fn decide<'a>(&'a self, question: &'a Question<'a>) -> EngineFuture<'a> {
        Box::pin(self.ask(question))
    }
}

impl AuthZenEngine {
    async fn ask(&self, question: &Question<'_>) -> Result<Decision, EngineFailure> {
        let shared = &self.shared;
        let shape = SubjectShape { kind: &shared.subject_type, claims: &shared.subject_claims };
        let request = Request::new(question, &shape);
        let batch = request.is_batch();
        let body = serde_json::to_vec(&request).map_err(EngineFailure::new)?;
        let Some(cache) = &shared.cache else {
            return self.call(body, batch).await;
        };
        let key = crate::crypto::sha256(&body);
        let hash = cache.hash(&key);
        let cached = || {
            cache.get(hash, unix_millis(), |(digest, decision)| {
                (*digest == key).then_some(*decision)
            })
        };
        if let Some(Some(decision)) = cached() {
            return Ok(decision);
        }
        // One call per question at a time: the others wait and find its answer.
        let place = shared.in_flight.join(&key);
        let _turn = place.turn().await;
        if let Some(Some(decision)) = cached() {
            return Ok(decision);
        }
        let decision = self.call(body, batch).await?;
        let now = unix_millis();
        cache.insert(hash, (key, decision), now.saturating_add(shared.lifetime_ms), now);
        Ok(decision)
    }

    /// One call, within the bound on concurrent calls.
    async fn call(&self, body: Vec<u8>, batch: bool) -> Result<Decision, EngineFailure> {
        let shared = &self.shared;
        let _permit = shared.calls.try_acquire().map_err(|_| {
            EngineFailure::new("every call to the decision point allowed at once is in progress")
        })?;
        let endpoints = shared.endpoints.get_or_try_init(|| self.discover()).await?;
        let url = if batch { &endpoints.evaluations } else { &endpoints.evaluation };
        let mut request = shared
            .http
            .post(url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(body);
        if let Some(token) = &shared.token {
            request = request.header(http::header::AUTHORIZATION, token.clone());
        }
        let answer = wire::read(request, MAX_RESPONSE_BYTES).await?;
        let (may_see, may_act) = wire::read_answers(&answer, batch)?;
        Ok(Decision::from_answers(may_see, may_act))
    }

    /// The endpoints the discovery document names.
    async fn discover(&self) -> Result<Endpoints, EngineFailure> {
        let shared = &self.shared;
        let document = wire::discovery_url(&shared.base).map_err(EngineFailure::new)?;
        let mut request =
            shared.http.get(document.clone()).header(http::header::ACCEPT, "application/json");
        if let Some(token) = &shared.token {
            request = request.header(http::header::AUTHORIZATION, token.clone());
        }
        let body = wire::read(request, MAX_RESPONSE_BYTES).await?;
        let endpoints = wire::read_discovery(&shared.base, &document, &body, false)?;
        tracing::info!(
            target: "portcullis::engine",
            evaluation = %endpoints.evaluation,
            evaluations = %endpoints.evaluations,
            "discovered the AuthZEN endpoints"
        );
        Ok(endpoints)
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}
