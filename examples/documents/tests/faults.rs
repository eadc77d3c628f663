//! Load with faults: the documents API served on a real loopback socket, its keys fetched from a
//! JWKS endpoint that goes down (503, then connection refused) and comes back twice, while
//! concurrent clients mix valid requests with expired, forged and missing tokens, bad bodies,
//! other users' documents and a missing scope.
//!
//! Every response is checked against what its request deserves; a 503 is only allowed for a
//! token whose key is unknown while the endpoint is (or just was) down. Afterwards: no panic, the
//! server still serves, and no document was lost or changed by a request that was denied.
//!
//! The test is bounded in time (five phases of [`PHASE`], about 7 s of load).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use documents::{AppState, Document, MAX_BODY_BYTES, Store, router};
use http::{HeaderMap, Method, header};
use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer};
use portcullis::{Verifier, keys::KeyRefresh, response::Disclosure};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The verifier's refresh settings: short, so that outages are noticed within the test.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
const INTERVAL: Duration = Duration::from_millis(200);
const FETCH_TIMEOUT: Duration = Duration::from_millis(500);

/// How long the endpoint must have kept one state before a request for the verifier to be sure
/// to know it: any fetch the request can rely on started at most `FETCH_TIMEOUT` (a fetch in
/// flight) or `MIN_INTERVAL` (a recent attempt) before it, plus a margin.
const SETTLE: Duration = Duration::from_millis(800);

/// The length of each of the five phases: up, down (503), up, down (refused), up.
const PHASE: Duration = Duration::from_millis(1400);

/// Concurrent client tasks; even ones act as alice, odd ones as bob.
const CLIENTS: usize = 6;

/// alice's documents that only denied requests touch.
const PROTECTED: usize = 4;

/// A pause between two requests of one client, which bounds the load on a slow machine.
const PACE: Duration = Duration::from_millis(2);

const ALL_DOCS: [&str; 3] = ["docs:read", "docs:write", "docs:delete"];
const PROBLEM_JSON: &str = "application/problem+json";
const ABSENT_ID: i64 = 999_999_999;

/// A body just over the 1 MiB limit.
static HUGE: LazyLock<String> =
    LazyLock::new(|| format!(r#"{{"title": "t", "body": "{}"}}"#, "x".repeat(MAX_BODY_BYTES)));

/// Panics anywhere in the process (server tasks included); the test's own checks never panic
/// before it is read.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// `if !cond { return Err(format!(..)) }`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The JWKS endpoint and the record of its outages

/// What the JWKS endpoint serves and counts.
struct JwksState {
    document: Value,
    /// Answer 503 instead of the keys.
    failing: AtomicBool,
    /// Set while the listener is closed: any request served then is a test bug.
    refusing: AtomicBool,
    served: AtomicU64,
    failed: AtomicU64,
    served_while_refusing: AtomicU64,
}

async fn jwks(State(state): State<Arc<JwksState>>) -> Response {
    if state.refusing.load(Ordering::SeqCst) {
        state.served_while_refusing.fetch_add(1, Ordering::SeqCst);
    }
    if state.failing.load(Ordering::SeqCst) {
        state.failed.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    state.served.fetch_add(1, Ordering::SeqCst);
    axum::Json(state.document.clone()).into_response()
}

/// A JWKS server on a fixed loopback port that can be stopped (connections refused) and
/// started again on the same port.
struct JwksServer {
    addr: SocketAddr,
    state: Arc<JwksState>,
    running: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
}

impl JwksServer {
    async fn start(document: Value) -> Self {
        let state = Arc::new(JwksState {
            document,
            failing: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
            served: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            served_while_refusing: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the JWKS server");
        let addr = listener.local_addr().expect("JWKS address");
        let mut server = Self { addr, state, running: None };
        server.serve(listener);
        server
    }

    fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    fn serve(&mut self, listener: TcpListener) {
        let app = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(Arc::clone(&self.state));
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        self.running = Some((stop, handle));
    }

    /// Closes the listener and every connection: fetches now get "connection refused".
    async fn stop(&mut self) {
        let (stop, handle) = self.running.take().expect("the JWKS server runs");
        let _ = stop.send(());
        // Graceful shutdown closes idle keep-alive connections at once; a fetch in flight
        // finishes within the verifier's timeout.
        match tokio::time::timeout(Duration::from_secs(3), handle).await {
            Ok(joined) => joined.expect("the JWKS server task").expect("the JWKS server"),
            Err(_) => panic!("the JWKS server did not stop within 3 s"),
        }
        self.state.refusing.store(true, Ordering::SeqCst);
    }

    /// Listens on the same port again.
    async fn restart(&mut self) {
        self.state.refusing.store(false, Ordering::SeqCst);
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("could not listen on {} again", self.addr);
    }
}

/// A change of the endpoint's state, which happened at some point in `[from, to]`.
#[derive(Debug, Clone, Copy)]
struct Transition {
    from: Instant,
    /// `None` while the change is under way.
    to: Option<Instant>,
    up: bool,
}

/// When the endpoint was up and down. It starts up.
#[derive(Default)]
struct Timeline(Mutex<Vec<Transition>>);

impl Timeline {
    fn begin(&self, up: bool) -> usize {
        let mut transitions = self.0.lock().unwrap();
        transitions.push(Transition { from: Instant::now(), to: None, up });
        transitions.len() - 1
    }

    fn end(&self, index: usize) {
        self.0.lock().unwrap()[index].to = Some(Instant::now());
    }

    /// The endpoint's state throughout `[start, end]`: `Some(up)` when it did not change then,
    /// `None` when it changed (or was changing).
    fn state_over(&self, start: Instant, end: Instant) -> Option<bool> {
        let mut up = true;
        for transition in self.0.lock().unwrap().iter() {
            match transition.to {
                Some(to) if to <= start => up = transition.up,
                _ if transition.from >= end => break,
                _ => return None,
            }
        }
        Some(up)
    }
}

// ---------------------------------------------------------------------------------------------
// Requests, replies and their checks

/// What a request is, for the expectations and the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// alice or bob on their own documents.
    Valid,
    /// A token of the right issuer whose `exp` passed an hour ago.
    Expired,
    /// Signed by another key under the known kid, or a valid signature on other claims.
    ForgedSameKid,
    /// Signed by another key under an unknown kid, or without a kid.
    ForgedUnknownKid,
    /// No `Authorization` header.
    Missing,
    /// alice, valid token, with a body that is not a document.
    BadBody,
    /// bob on alice's documents.
    Foreign,
    /// carol (`docs:read` only) writing or deleting.
    Scope,
}

/// One response, as the client saw it.
struct Reply {
    class: Class,
    method: Method,
    path: String,
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
    sent: Instant,
    received: Instant,
}

impl Reply {
    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.bytes);
        let body: String = body.chars().take(300).collect();
        format!("{:?} {} {} -> {}: {body}", self.class, self.method, self.path, self.status)
    }

    /// The header's value; an error when it appears twice or is not text.
    fn header(&self, name: header::HeaderName) -> Result<Option<&str>, String> {
        let mut values = self.headers.get_all(&name).iter();
        let Some(first) = values.next() else { return Ok(None) };
        ensure!(values.next().is_none(), "{name} appears more than once");
        first.to_str().map(Some).map_err(|_| format!("{name} is not text"))
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.bytes).map_err(|error| format!("unexpected body: {error}"))
    }

    /// A 200/201 JSON document answer.
    fn document(&self, status: StatusCode) -> Result<Document, String> {
        ensure!(self.status == status, "expected {status}");
        ensure!(
            self.header(header::CONTENT_TYPE)? == Some("application/json"),
            "not application/json"
        );
        self.json()
    }

    fn documents(&self) -> Result<Vec<Document>, String> {
        ensure!(self.status == StatusCode::OK, "expected 200");
        ensure!(
            self.header(header::CONTENT_TYPE)? == Some("application/json"),
            "not application/json"
        );
        self.json()
    }

    /// An RFC 9457 problem of `status`; its members.
    fn problem(&self, status: StatusCode) -> Result<Value, String> {
        ensure!(self.status == status, "expected {status}");
        ensure!(self.header(header::CONTENT_TYPE)? == Some(PROBLEM_JSON), "not a problem document");
        let body: Value = self.json()?;
        ensure!(body["type"] == "about:blank", "problem type");
        ensure!(body["title"] == status.canonical_reason().unwrap_or_default(), "problem title");
        ensure!(body["status"] == status.as_u16(), "problem status");
        Ok(body)
    }

    /// 401 with the Production body and `Bearer realm="documents"`, with `invalid_token` unless
    /// the token was missing.
    fn unauthorized(&self, invalid_token: bool) -> Result<(), String> {
        let body = self.problem(StatusCode::UNAUTHORIZED)?;
        ensure!(
            body == json!({"type": "about:blank", "title": "Unauthorized", "status": 401}),
            "the 401 says more than Production should"
        );
        let expected = if invalid_token {
            r#"Bearer realm="documents", error="invalid_token""#
        } else {
            r#"Bearer realm="documents""#
        };
        ensure!(self.header(header::WWW_AUTHENTICATE)? == Some(expected), "challenge");
        ensure!(self.header(header::RETRY_AFTER)?.is_none(), "a 401 with Retry-After");
        Ok(())
    }

    /// 503: keys unavailable, `Retry-After` in whole seconds (at least 1, at most the minimum
    /// interval rounded up), a problem document, no challenge.
    fn unavailable(&self) -> Result<(), String> {
        let body = self.problem(StatusCode::SERVICE_UNAVAILABLE)?;
        ensure!(body["detail"].is_string(), "the 503 does not say why");
        let retry = self.header(header::RETRY_AFTER)?.ok_or("a 503 without Retry-After")?;
        let seconds: u64 =
            retry.parse().map_err(|_| format!("Retry-After {retry:?} is not whole seconds"))?;
        let most = MIN_INTERVAL.as_secs() + u64::from(MIN_INTERVAL.subsec_nanos() > 0);
        ensure!((1..=most.max(1)).contains(&seconds), "Retry-After {seconds}");
        ensure!(self.header(header::WWW_AUTHENTICATE)?.is_none(), "a 503 with a challenge");
        Ok(())
    }

    /// A token whose key is unknown: 401 while the endpoint is up, 503 while it is down, either
    /// around a change.
    fn unknown_key(&self, timeline: &Timeline) -> Result<(), String> {
        let since = self.sent.checked_sub(SETTLE).unwrap_or(self.sent);
        match timeline.state_over(since, self.received) {
            Some(true) => self.unauthorized(true).map_err(|e| format!("endpoint up: {e}")),
            Some(false) => self.unavailable().map_err(|e| format!("endpoint down: {e}")),
            None if self.status == StatusCode::SERVICE_UNAVAILABLE => self.unavailable(),
            None => self.unauthorized(true),
        }
    }

    /// 400 whose `invalid-params` are exactly `params`.
    fn invalid(&self, params: &[(&str, &str)]) -> Result<(), String> {
        let body = self.problem(StatusCode::BAD_REQUEST)?;
        let expected: Vec<Value> =
            params.iter().map(|(name, reason)| json!({"name": name, "reason": reason})).collect();
        ensure!(body["invalid-params"] == Value::Array(expected), "invalid-params {body}");
        ensure!(self.header(header::WWW_AUTHENTICATE)?.is_none(), "a 400 with a challenge");
        Ok(())
    }

    /// 403 naming the missing scope.
    fn forbidden(&self, scope: &str) -> Result<(), String> {
        self.problem(StatusCode::FORBIDDEN)?;
        let expected =
            format!(r#"Bearer realm="documents", error="insufficient_scope", scope="{scope}""#);
        ensure!(self.header(header::WWW_AUTHENTICATE)? == Some(expected.as_str()), "challenge");
        Ok(())
    }

    /// The very 404 an absent document gets: status, headers (but `date`) and bytes.
    fn like_absent(&self, absent: &Reply) -> Result<(), String> {
        self.problem(StatusCode::NOT_FOUND)?;
        let strip = |headers: &HeaderMap| {
            let mut headers = headers.clone();
            headers.remove(header::DATE);
            headers
        };
        ensure!(strip(&self.headers) == strip(&absent.headers), "headers differ from absent");
        ensure!(self.bytes == absent.bytes, "body differs from absent");
        Ok(())
    }
}

/// A request body.
enum Payload {
    Empty,
    Json(Value),
    Raw(&'static str, String),
    Huge,
}

/// The tokens of the load.
struct Tokens {
    alice: String,
    bob: String,
    carol: String,
    expired: String,
    /// Another key, published nowhere, under the known kid `test-key`.
    same_kid: String,
    /// bob's header and claims under alice's signature.
    spliced: String,
    /// Another key under the kid `rogue-key`.
    unknown_kid: String,
    /// Another key, no kid at all.
    no_kid: String,
}

impl Tokens {
    fn new(issuer: &TestIssuer) -> Self {
        let alice = issuer.token("alice").scopes(ALL_DOCS).sign();
        let bob = issuer.token("bob").scopes(ALL_DOCS).sign();
        let carol = issuer.token("carol").scopes(["docs:read"]).sign();
        let expired =
            issuer.token("alice").scopes(ALL_DOCS).expired(Duration::from_secs(3600)).sign();
        let same_kid = TestIssuer::new().token("alice").scopes(ALL_DOCS).sign();
        // bob with an admin scope, carrying alice's (valid, but not for these bytes) signature.
        let admin = issuer.token("bob").scopes(["docs:read", "docs:write", "docs:admin"]).sign();
        let (message, _) = admin.rsplit_once('.').unwrap();
        let (_, signature) = alice.rsplit_once('.').unwrap();
        let spliced = format!("{message}.{signature}");
        let rogue = TestIssuer::new().with_kid(Some("rogue-key"));
        let unknown_kid = rogue.token("alice").scopes(ALL_DOCS).sign();
        let no_kid = TestIssuer::new().with_kid(None).token("alice").scopes(ALL_DOCS).sign();
        Self { alice, bob, carol, expired, same_kid, spliced, unknown_kid, no_kid }
    }
}

/// Everything the clients share.
struct Load {
    base: String,
    client: reqwest::Client,
    tokens: Tokens,
    timeline: Arc<Timeline>,
    /// alice's documents that only denied requests touch, as created.
    protected: Vec<Document>,
    /// bob's 404s for an absent document, by method.
    absent: BTreeMap<String, Reply>,
    outcomes: Mutex<Vec<(Class, u16, Instant, Instant)>>,
    failures: Mutex<Vec<String>>,
    /// Set when the load should stop.
    done: AtomicBool,
}

impl Load {
    /// Sends one request and records its status; `None` (and a failure) when no response came.
    async fn send(
        &self,
        class: Class,
        method: Method,
        path: &str,
        token: Option<&str>,
        payload: Payload,
    ) -> Option<Reply> {
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request = match payload {
            Payload::Empty => request,
            Payload::Json(value) => {
                request.header(header::CONTENT_TYPE, "application/json").body(value.to_string())
            }
            Payload::Raw(content_type, body) => {
                request.header(header::CONTENT_TYPE, content_type).body(body)
            }
            Payload::Huge => {
                request.header(header::CONTENT_TYPE, "application/json").body(HUGE.as_str())
            }
        };
        let sent = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                self.fail(format!("{class:?} {method} {path}: no response: {error}"));
                return None;
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes.to_vec(),
            Err(error) => {
                self.fail(format!("{class:?} {method} {path} -> {status}: body lost: {error}"));
                return None;
            }
        };
        let received = Instant::now();
        self.outcomes.lock().unwrap().push((class, status.as_u16(), sent, received));
        Some(Reply { class, method, path: path.to_owned(), status, headers, bytes, sent, received })
    }

    fn fail(&self, failure: String) {
        self.failures.lock().unwrap().push(failure);
    }

    /// Records a failed check of `reply`; the checked value otherwise.
    fn verdict<T>(&self, reply: &Reply, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(format!("{error}: {}", reply.describe()));
                None
            }
        }
    }

    fn protected_path(&self, rng: &mut Rng) -> String {
        format!("/documents/{}", self.protected[rng.below(self.protected.len())].id)
    }

    /// A request that must be refused before anything is read: a route of alice's protected
    /// documents (mostly) or of the collection.
    fn denied_target(&self, rng: &mut Rng) -> (Method, String, Payload) {
        let document = json!({"title": "taken over", "body": "by someone else"});
        match rng.below(8) {
            0 => (Method::GET, "/documents".into(), Payload::Empty),
            1 => (Method::POST, "/documents".into(), Payload::Json(document)),
            2 => (Method::GET, "/documents/search?q=protected".into(), Payload::Empty),
            3 | 4 => (Method::PUT, self.protected_path(rng), Payload::Json(document)),
            5 | 6 => (Method::DELETE, self.protected_path(rng), Payload::Empty),
            _ => (Method::GET, self.protected_path(rng), Payload::Empty),
        }
    }
}

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// The clients

/// One client: its user's own documents (tracked exactly), and every kind of bad request.
/// Returns the documents it expects to find at the end.
async fn run_client(load: Arc<Load>, index: usize) -> Vec<Document> {
    let (user, token) = if index.is_multiple_of(2) {
        ("alice", load.tokens.alice.clone())
    } else {
        ("bob", load.tokens.bob.clone())
    };
    let prefix = format!("task{index:02}:");
    let mut rng =
        Rng(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut mine: Vec<Document> = Vec::new();
    let mut counter = 0usize;
    while !load.done.load(Ordering::SeqCst) {
        counter += 1;
        let roll = rng.below(100);
        match roll {
            0..40 => valid(&load, &mut rng, user, &token, &prefix, &mut mine, counter).await,
            40..47 => {
                let (method, path, payload) = load.denied_target(&mut rng);
                let token = Some(load.tokens.expired.as_str());
                if let Some(reply) = load.send(Class::Expired, method, &path, token, payload).await
                {
                    load.verdict(&reply, reply.unauthorized(true));
                }
            }
            47..54 => {
                let (method, path, payload) = load.denied_target(&mut rng);
                let token = if roll.is_multiple_of(2) {
                    &load.tokens.same_kid
                } else {
                    &load.tokens.spliced
                };
                let class = Class::ForgedSameKid;
                if let Some(reply) = load.send(class, method, &path, Some(token), payload).await {
                    load.verdict(&reply, reply.unauthorized(true));
                }
            }
            54..61 => {
                let (method, path, payload) = load.denied_target(&mut rng);
                let token = if roll.is_multiple_of(2) {
                    &load.tokens.unknown_kid
                } else {
                    &load.tokens.no_kid
                };
                let class = Class::ForgedUnknownKid;
                if let Some(reply) = load.send(class, method, &path, Some(token), payload).await {
                    load.verdict(&reply, reply.unknown_key(&load.timeline));
                }
            }
            61..67 => {
                let (method, path, payload) = load.denied_target(&mut rng);
                if let Some(reply) = load.send(Class::Missing, method, &path, None, payload).await {
                    load.verdict(&reply, reply.unauthorized(false));
                }
            }
            67..82 => bad_body(&load, &mut rng).await,
            82..94 => foreign(&load, &mut rng).await,
            _ => {
                let (method, path, scope, payload) = match rng.below(3) {
                    0 => (
                        Method::DELETE,
                        load.protected_path(&mut rng),
                        "docs:delete",
                        Payload::Empty,
                    ),
                    1 => (
                        Method::PUT,
                        load.protected_path(&mut rng),
                        "docs:write",
                        Payload::Json(json!({"title": "carol's now", "body": ""})),
                    ),
                    _ => (
                        Method::POST,
                        "/documents".to_owned(),
                        "docs:write",
                        Payload::Json(json!({"title": "carol's", "body": ""})),
                    ),
                };
                let token = Some(load.tokens.carol.as_str());
                if let Some(reply) = load.send(Class::Scope, method, &path, token, payload).await {
                    load.verdict(&reply, reply.forbidden(scope));
                }
            }
        }
        tokio::time::sleep(PACE).await;
    }
    mine
}

/// A valid request of `user` on its own documents, checked against what the client knows.
async fn valid(
    load: &Load,
    rng: &mut Rng,
    user: &str,
    token: &str,
    prefix: &str,
    mine: &mut Vec<Document>,
    counter: usize,
) {
    let token = Some(token);
    let operation = if mine.len() < 3 { 0 } else { rng.below(12) };
    match operation {
        // Create, while the client holds fewer than 40 documents.
        0 | 1 if mine.len() < 40 => {
            let (title, body) =
                (format!("{prefix}n{counter}"), format!("body {counter} of {user}"));
            let input = json!({"title": title, "body": body});
            let Some(reply) = load
                .send(Class::Valid, Method::POST, "/documents", token, Payload::Json(input))
                .await
            else {
                return;
            };
            let created = reply.document(StatusCode::CREATED).and_then(|document| {
                let location = format!("/documents/{}", document.id);
                ensure!(reply.header(header::LOCATION)? == Some(location.as_str()), "Location");
                ensure!(document.owner == user, "owner {}", document.owner);
                ensure!(document.title == title && document.body == body, "content");
                ensure!(mine.iter().all(|d| d.id < document.id), "id {} reused", document.id);
                Ok(document)
            });
            if let Some(document) = load.verdict(&reply, created) {
                mine.push(document);
            }
        }
        // Replace.
        2..=4 => {
            let at = rng.below(mine.len());
            let previous = mine[at].clone();
            let (title, body) = (format!("{prefix}n{counter} (edited)"), format!("edit {counter}"));
            let path = format!("/documents/{}", previous.id);
            let input = json!({"title": title, "body": body});
            let Some(reply) =
                load.send(Class::Valid, Method::PUT, &path, token, Payload::Json(input)).await
            else {
                return;
            };
            let updated = reply.document(StatusCode::OK).and_then(|document| {
                ensure!(document.id == previous.id && document.owner == user, "identity");
                ensure!(document.created_at == previous.created_at, "created_at changed");
                ensure!(document.title == title && document.body == body, "content");
                Ok(document)
            });
            if let Some(document) = load.verdict(&reply, updated) {
                mine[at] = document;
            }
        }
        // Search: exactly this client's documents.
        5 | 6 => {
            let path = format!("/documents/search?q={}%3A&limit=100", &prefix[..prefix.len() - 1]);
            let Some(reply) =
                load.send(Class::Valid, Method::GET, &path, token, Payload::Empty).await
            else {
                return;
            };
            let found = reply.documents().and_then(|found| {
                ensure!(
                    found == *mine,
                    "search found {} documents, expected {}",
                    found.len(),
                    mine.len()
                );
                Ok(())
            });
            load.verdict(&reply, found);
        }
        // List, page after page: only the user's, this client's among them.
        7 => {
            let mut ours: Vec<Document> = Vec::new();
            let mut target = Some("/documents?limit=100".to_owned());
            while let Some(path) = target.take() {
                let Some(reply) =
                    load.send(Class::Valid, Method::GET, &path, token, Payload::Empty).await
                else {
                    return;
                };
                let page = reply.documents().and_then(|page| {
                    ensure!(page.iter().all(|d| d.owner == user), "another user's document listed");
                    ours.extend(page.into_iter().filter(|d| d.title.starts_with(prefix)));
                    let next = reply.header(header::LINK)?.map(|link| {
                        let next = link.strip_prefix('<').and_then(|rest| rest.split_once('>'));
                        next.map(|(next, _)| next.to_owned())
                    });
                    match next {
                        Some(None) => Err("a Link header without a target".to_owned()),
                        Some(Some(next)) => Ok(Some(next)),
                        None => {
                            ensure!(ours == *mine, "list");
                            Ok(None)
                        }
                    }
                });
                let Some(next) = load.verdict(&reply, page) else { return };
                target = next;
            }
        }
        // Delete, when there are enough to spare.
        8 if mine.len() > 5 => {
            let at = rng.below(mine.len());
            let path = format!("/documents/{}", mine[at].id);
            let Some(reply) =
                load.send(Class::Valid, Method::DELETE, &path, token, Payload::Empty).await
            else {
                return;
            };
            let deleted = (|| {
                ensure!(reply.status == StatusCode::NO_CONTENT, "expected 204");
                ensure!(reply.bytes.is_empty(), "a 204 with a body");
                Ok(())
            })();
            if load.verdict(&reply, deleted).is_some() {
                mine.remove(at);
            }
        }
        // Read one.
        _ => {
            let expected = mine[rng.below(mine.len())].clone();
            let path = format!("/documents/{}", expected.id);
            let Some(reply) =
                load.send(Class::Valid, Method::GET, &path, token, Payload::Empty).await
            else {
                return;
            };
            let read = reply.document(StatusCode::OK).and_then(|document| {
                ensure!(document == expected, "the document changed");
                Ok(())
            });
            load.verdict(&reply, read);
        }
    }
}

/// alice, valid token, a body that is not a document: to create, or to replace a protected one.
async fn bad_body(load: &Load, rng: &mut Rng) {
    let (method, path) = if rng.below(2) == 0 {
        (Method::POST, "/documents".to_owned())
    } else {
        (Method::PUT, load.protected_path(rng))
    };
    let token = Some(load.tokens.alice.as_str());
    let kind = rng.below(40);
    let payload = match kind {
        0..8 => Payload::Raw("application/json", r#"{"title": "#.into()),
        8..16 => Payload::Json(json!({"body": "no title"})),
        16..24 => Payload::Json(json!({"title": "mine", "body": "", "owner": "bob"})),
        24..30 => Payload::Json(json!({"title": "", "body": "empty title"})),
        30..36 => Payload::Raw("text/plain", r#"{"title": "t", "body": ""}"#.into()),
        // Few: each is a mebibyte.
        _ => Payload::Huge,
    };
    let Some(reply) = load.send(Class::BadBody, method, &path, token, payload).await else {
        return;
    };
    let checked = match kind {
        0..8 => reply.problem(StatusCode::BAD_REQUEST).and_then(|body| {
            let detail = body["detail"].as_str().unwrap_or_default();
            ensure!(detail.starts_with("The request body is not valid JSON"), "detail {detail:?}");
            Ok(())
        }),
        8..16 => reply.invalid(&[("title", "is required")]),
        16..24 => reply.invalid(&[("owner", "is not an accepted field")]),
        24..30 => reply.invalid(&[("title", "length is lower than 1")]),
        30..36 => reply.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE).map(drop),
        _ => reply.problem(StatusCode::PAYLOAD_TOO_LARGE).and_then(|body| {
            ensure!(body["detail"] == "The request body is too large", "detail {body}");
            Ok(())
        }),
    };
    load.verdict(&reply, checked);
}

/// bob on alice's protected documents: the 404 of an absent one, byte for byte.
async fn foreign(load: &Load, rng: &mut Rng) {
    let path = load.protected_path(rng);
    let (method, payload) = match rng.below(4) {
        0 => (Method::GET, Payload::Empty),
        1 => (Method::PUT, Payload::Json(json!({"title": "bob's now", "body": "mine"}))),
        // The guard answers before the body is read: even a broken one gets the 404.
        2 => (Method::PUT, Payload::Raw("application/json", "{".into())),
        _ => (Method::DELETE, Payload::Empty),
    };
    let token = Some(load.tokens.bob.as_str());
    let Some(reply) = load.send(Class::Foreign, method.clone(), &path, token, payload).await else {
        return;
    };
    let absent = &load.absent[method.as_str()];
    load.verdict(&reply, reply.like_absent(absent));
}

/// In a settled phase: a token with an unknown kid gets exactly what the endpoint's state says,
/// and alice's valid token works whatever it is.
async fn probe(load: &Load, up: bool) {
    let token = Some(load.tokens.unknown_kid.as_str());
    if let Some(reply) =
        load.send(Class::ForgedUnknownKid, Method::GET, "/documents", token, Payload::Empty).await
    {
        let checked = if up { reply.unauthorized(true) } else { reply.unavailable() };
        load.verdict(&reply, checked.map_err(|e| format!("probe (endpoint up: {up}): {e}")));
    }
    let expected = &load.protected[0];
    let path = format!("/documents/{}", expected.id);
    let token = Some(load.tokens.alice.as_str());
    if let Some(reply) = load.send(Class::Valid, Method::GET, &path, token, Payload::Empty).await {
        let checked = reply.document(StatusCode::OK).and_then(|document| {
            ensure!(document == *expected, "the protected document changed");
            Ok(())
        });
        load.verdict(&reply, checked.map_err(|e| format!("probe (endpoint up: {up}): {e}")));
    }
}

/// Up, down (503), up, down (connection refused), up; a probe in each phase once it settled.
async fn faults(load: &Load, jwks: &mut JwksServer) -> u64 {
    let timeline = &load.timeline;
    let settled_probe = |started: Instant, up: bool| async move {
        tokio::time::sleep_until((started + SETTLE).into()).await;
        probe(load, up).await;
        tokio::time::sleep_until((started + PHASE).into()).await;
    };
    settled_probe(Instant::now(), true).await;

    let change = timeline.begin(false);
    jwks.state.failing.store(true, Ordering::SeqCst);
    timeline.end(change);
    settled_probe(Instant::now(), false).await;

    let change = timeline.begin(true);
    jwks.state.failing.store(false, Ordering::SeqCst);
    timeline.end(change);
    settled_probe(Instant::now(), true).await;

    let change = timeline.begin(false);
    jwks.stop().await;
    timeline.end(change);
    settled_probe(Instant::now(), false).await;

    let change = timeline.begin(true);
    jwks.restart().await;
    timeline.end(change);
    let served_before_last_phase = jwks.state.served.load(Ordering::SeqCst);
    settled_probe(Instant::now(), true).await;
    served_before_last_phase
}

// ---------------------------------------------------------------------------------------------
// The test

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_holds_under_load_while_the_key_endpoint_fails() {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous_hook(info);
    }));
    let started = Instant::now();

    // The identity provider's keys, and the API fetching them.
    let issuer = TestIssuer::new();
    let mut jwks = JwksServer::start(issuer.jwks()).await;
    let verifier = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .jwks_url(jwks.url())
        .key_refresh(
            KeyRefresh::default()
                .min_interval(MIN_INTERVAL)
                .interval(INTERVAL)
                .timeout(FETCH_TIMEOUT),
        )
        .realm("documents")
        .disclosure(Disclosure::Production)
        .build()
        .expect("verifier");
    let store = Store::in_memory().expect("store");
    let app = router(AppState { verifier, store: store.clone() });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the API");
    let base = format!("http://{}", listener.local_addr().expect("API address"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
    let tokens = Tokens::new(&issuer);
    let mut load = Load {
        base,
        client,
        tokens,
        timeline: Arc::new(Timeline::default()),
        protected: Vec::new(),
        absent: BTreeMap::new(),
        outcomes: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        done: AtomicBool::new(false),
    };

    // Wait for the first key set, then create alice's protected documents.
    let alice = Some(load.tokens.alice.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = load
            .send(Class::Valid, Method::GET, "/documents", alice.as_deref(), Payload::Empty)
            .await
            .expect("the API answers");
        if reply.status == StatusCode::OK {
            break;
        }
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.describe());
        assert!(Instant::now() < deadline, "the keys were never fetched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in 0..PROTECTED {
        let input =
            json!({"title": format!("protected {n}"), "body": format!("alice's secret {n}")});
        let reply = load
            .send(Class::Valid, Method::POST, "/documents", alice.as_deref(), Payload::Json(input))
            .await
            .expect("create");
        load.protected.push(reply.document(StatusCode::CREATED).unwrap_or_else(|e| panic!("{e}")));
    }
    // What bob gets for a document that does not exist, for each method.
    let bob = load.tokens.bob.clone();
    for (method, payload) in [
        (Method::GET, Payload::Empty),
        (Method::PUT, Payload::Json(json!({"title": "bob's now", "body": "mine"}))),
        (Method::DELETE, Payload::Empty),
    ] {
        let path = format!("/documents/{ABSENT_ID}");
        let reply = load.send(Class::Foreign, method.clone(), &path, Some(&bob), payload).await;
        let reply = reply.expect("absent");
        reply.problem(StatusCode::NOT_FOUND).unwrap_or_else(|e| panic!("{e}"));
        load.absent.insert(method.to_string(), reply);
    }
    load.outcomes.lock().unwrap().clear();
    let load = Arc::new(load);

    // The load, while the endpoint fails and recovers.
    let clients: Vec<JoinHandle<Vec<Document>>> =
        (0..CLIENTS).map(|index| tokio::spawn(run_client(Arc::clone(&load), index))).collect();
    let load_started = Instant::now();
    let served_before_last_phase =
        tokio::time::timeout(Duration::from_secs(20), faults(&load, &mut jwks))
            .await
            .expect("the fault schedule ran late");
    load.done.store(true, Ordering::SeqCst);
    let mut expected_by_client = Vec::new();
    for handle in clients {
        let mine = tokio::time::timeout(Duration::from_secs(15), handle)
            .await
            .expect("a client did not stop")
            .expect("a client task panicked");
        expected_by_client.push(mine);
    }
    let load_time = load_started.elapsed();

    // The server survived and still answers.
    assert!(!server.is_finished(), "the API server stopped");
    let health = load.send(Class::Valid, Method::GET, "/health", None, Payload::Empty).await;
    assert_eq!(health.map(|reply| reply.status), Some(StatusCode::OK));
    let panics = PANICS.load(Ordering::SeqCst);

    // Nothing a denied request touched changed; nothing was lost or added.
    let mut integrity = Vec::new();
    for protected in &load.protected {
        let now = store.get(protected.id).await.expect("store");
        if now.as_ref() != Some(protected) {
            integrity
                .push(format!("protected document {}: {protected:?} is now {now:?}", protected.id));
        }
    }
    let mut expected_total = PROTECTED;
    for (index, mine) in expected_by_client.iter().enumerate() {
        let user = if index.is_multiple_of(2) { "alice" } else { "bob" };
        let prefix = format!("task{index:02}:");
        let stored: Vec<Document> = every_document_of(&store, user)
            .await
            .into_iter()
            .filter(|document| document.title.starts_with(&prefix))
            .collect();
        if stored != *mine {
            integrity.push(format!(
                "client {index} ({user}): {} documents stored, {} expected",
                stored.len(),
                mine.len()
            ));
        }
        expected_total += mine.len();
    }
    let stats = store.stats().await.expect("store");
    if stats.documents != expected_total as u64 || stats.owners != 2 {
        integrity.push(format!("{stats:?}: expected {expected_total} documents of 2 owners"));
    }

    // The summary.
    let outcomes = load.outcomes.lock().unwrap().clone();
    let timeline = Arc::clone(&load.timeline);
    let mut counts: BTreeMap<(Class, u16), usize> = BTreeMap::new();
    let mut valid_during_outage = 0usize;
    let mut unavailable_during_outage = 0usize;
    let mut stray_server_errors = Vec::new();
    for &(class, status, sent, received) in &outcomes {
        *counts.entry((class, status)).or_default() += 1;
        let down = timeline.state_over(sent, received) == Some(false);
        if down && class == Class::Valid && status < 300 {
            valid_during_outage += 1;
        }
        if down && status == 503 {
            unavailable_during_outage += 1;
        }
        if status >= 500 && !(status == 503 && class == Class::ForgedUnknownKid) {
            stray_server_errors.push((class, status));
        }
    }
    let mut summary = format!(
        "faults: {} requests from {CLIENTS} clients in {load_time:.1?} ({:.1?} in all); \
         JWKS served {} key sets and {} 503s",
        outcomes.len(),
        started.elapsed(),
        jwks.state.served.load(Ordering::SeqCst),
        jwks.state.failed.load(Ordering::SeqCst),
    );
    for ((class, status), count) in &counts {
        let _ = write!(summary, "\n  {class:?} {status}: {count}");
    }
    let _ = write!(
        summary,
        "\n  during outages: {valid_during_outage} valid requests succeeded, \
         {unavailable_during_outage} unknown-key tokens got 503"
    );
    eprintln!("{summary}");

    let failures = load.failures.lock().unwrap().clone();
    assert_eq!(panics, 0, "the server panicked");
    assert!(
        failures.is_empty(),
        "{} wrong responses; the first ones:\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        stray_server_errors.is_empty(),
        "5xx other than the keys' 503: {stray_server_errors:?}"
    );
    assert!(integrity.is_empty(), "documents lost or changed:\n{}", integrity.join("\n"));
    // The faults really happened, and the load really covered them.
    assert_eq!(
        jwks.state.served_while_refusing.load(Ordering::SeqCst),
        0,
        "the JWKS server answered while it should have refused connections"
    );
    assert!(jwks.state.failed.load(Ordering::SeqCst) > 0, "the 503 outage was never seen");
    assert!(
        jwks.state.served.load(Ordering::SeqCst) > served_before_last_phase,
        "the keys were not fetched again after the endpoint came back"
    );
    assert!(valid_during_outage >= 2, "fewer than two valid requests ran inside an outage");
    assert!(
        unavailable_during_outage >= 2,
        "fewer than two unknown-key tokens got 503 inside an outage"
    );
    for class in [
        Class::Valid,
        Class::Expired,
        Class::ForgedSameKid,
        Class::ForgedUnknownKid,
        Class::Missing,
        Class::BadBody,
        Class::Foreign,
        Class::Scope,
    ] {
        assert!(counts.keys().any(|(c, _)| *c == class), "no {class:?} request was sent");
    }
    for status in [201, 400, 413, 415] {
        assert!(counts.keys().any(|(_, s)| *s == status), "no {status} was seen");
    }
    server.abort();
}

/// Every document of `owner`, oldest first, page after page.
async fn every_document_of(store: &Store, owner: &str) -> Vec<Document> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.page(owner, after, 100).await.expect("store");
        all.extend(page.documents);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}
