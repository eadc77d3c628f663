//! The `metrics` feature: every stage and outcome of a guard increments its own series, the
//! duration histogram is split by cache hit and miss, key sources, introspection and DPoP count
//! what they do, and no label value ever comes from the request.
//!
//! Each test installs a recorder of its own on its thread (`metrics`' local recorder) and runs
//! on tokio's current-thread runtime, so that tests running side by side never see each
//! other's series.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{Method, Request, StatusCode, header};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use portcullis::config::Dpop;
use portcullis::dpop::MemoryReplayStore;
use portcullis::introspection::Introspection;
use portcullis::observability::{Outcome, Stage, metric};
use portcullis::resource::{Access, Action};
use portcullis::testing::{DpopKey, TestIssuer};
use portcullis::{Owned, OwnedResource, Principal, Verifier, extract};
use portcullis_tests::send;
use serde_json::{Value, json};

/// A recorder of the test's own, on this thread, with what it recorded.
struct Recorded {
    snapshotter: Snapshotter,
    /// Everything recorded so far: a snapshot drains every series, so each one is added to
    /// what the earlier ones found.
    seen: RefCell<Vec<Series>>,
    _guard: metrics::LocalRecorderGuard<'static>,
}

/// Name, labels, value.
type Series = (String, Vec<(String, String)>, DebugValue);

impl Recorded {
    fn start() -> Self {
        let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
        let snapshotter = recorder.snapshotter();
        let guard = metrics::set_default_local_recorder(recorder);
        Self { snapshotter, seen: RefCell::new(Vec::new()), _guard: guard }
    }

    /// Every series recorded so far.
    fn series(&self) -> std::cell::Ref<'_, Vec<Series>> {
        let mut seen = self.seen.borrow_mut();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let (_, key) = key.into_parts();
            let labels: Vec<(String, String)> = key
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect();
            let name = key.name().to_owned();
            let known = seen.iter_mut().find(|(n, l, _)| *n == name && *l == labels);
            match (known, value) {
                (Some((.., DebugValue::Counter(total))), DebugValue::Counter(count)) => {
                    *total += count;
                }
                (Some((.., DebugValue::Histogram(all))), DebugValue::Histogram(values)) => {
                    all.extend(values);
                }
                // A snapshot also resets gauges to 0: a 0 after a first value is that reset.
                (Some((.., DebugValue::Gauge(_))), DebugValue::Gauge(value))
                    if value.into_inner() == 0.0 => {}
                (Some((.., last)), value) => *last = value,
                (None, value) => seen.push((name, labels, value)),
            }
        }
        drop(seen);
        self.seen.borrow()
    }

    /// The counter `name` with exactly `labels` (0 when absent).
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.series().iter().find(|(n, l, _)| n == name && same_labels(l, labels)).map_or(
            0,
            |(_, _, value)| match value {
                DebugValue::Counter(count) => *count,
                other => panic!("{name} is not a counter: {other:?}"),
            },
        )
    }

    /// The guard decisions of `stage`, `outcome` and `reason`.
    fn decisions(&self, stage: Stage, outcome: Outcome, reason: &str) -> u64 {
        self.counter(
            metric::GUARD_DECISIONS,
            &[
                ("portcullis.stage", stage.as_str()),
                ("portcullis.outcome", outcome.as_str()),
                ("portcullis.reason", reason),
            ],
        )
    }

    /// How many durations the histogram holds for `outcome` and `cache`.
    fn durations(&self, outcome: Outcome, cache: &str) -> usize {
        let labels = [("portcullis.outcome", outcome.as_str()), ("portcullis.token.cache", cache)];
        self.series()
            .iter()
            .find(|(n, l, _)| n == metric::GUARD_DURATION && same_labels(l, &labels))
            .map_or(0, |(_, _, value)| match value {
                DebugValue::Histogram(values) => {
                    assert!(values.iter().all(|v| v.into_inner() >= 0.0 && v.into_inner() < 5.0));
                    values.len()
                }
                other => panic!("not a histogram: {other:?}"),
            })
    }

    /// The gauge `name` with exactly `labels`.
    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series().iter().find(|(n, l, _)| n == name && same_labels(l, labels)).map(
            |(_, _, value)| match value {
                DebugValue::Gauge(value) => value.into_inner(),
                other => panic!("{name} is not a gauge: {other:?}"),
            },
        )
    }
}

fn same_labels(have: &[(String, String)], want: &[(&str, &str)]) -> bool {
    let have: BTreeSet<(&str, &str)> = have.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let want: BTreeSet<(&str, &str)> = want.iter().copied().collect();
    have == want
}

// ---------------------------------------------------------------------------------------------
// An API with a route per stage
// ---------------------------------------------------------------------------------------------

struct Note {
    owner: String,
}

#[derive(Clone)]
struct Notes;

impl OwnedResource for Note {
    type State = Notes;
    type Id = u32;
    type Error = std::io::Error;

    async fn load(id: u32, _: &Notes) -> Result<Option<Self>, Self::Error> {
        match id {
            1 => Ok(Some(Note { owner: "alice".into() })),
            2 => Ok(Some(Note { owner: "bob".into() })),
            // A database that fails; its message must reach no label.
            3 => Err(std::io::Error::other("EVIL-db-7.internal refused")),
            _ => Ok(None),
        }
    }

    fn owner(&self) -> &str {
        &self.owner
    }

    /// Readers read every note but change none.
    fn access(&self, principal: &Principal, action: Action) -> Access {
        if self.owner == principal.id() {
            Access::Allowed
        } else if principal.has_role("reader") {
            if action == Action::Read { Access::Allowed } else { Access::Forbidden }
        } else {
            Access::NotVisible
        }
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    notes: Notes,
}

#[portcullis::authenticated]
async fn open() -> Json<Value> {
    Json(json!("open"))
}

#[portcullis::authenticated(optional)]
async fn optional() -> Json<Value> {
    Json(json!("optional"))
}

#[portcullis::requires_scope("docs:read")]
async fn scoped() -> Json<Value> {
    Json(json!("scoped"))
}

#[portcullis::requires_role("admin")]
async fn admin() -> Json<Value> {
    Json(json!("admin"))
}

#[portcullis::requires_policy(claim_equals("tenant", "acme"))]
async fn tenant() -> Json<Value> {
    Json(json!("tenant"))
}

#[portcullis::owner_only(Note)]
async fn read_note(_note: Owned<Note>) -> Json<Value> {
    Json(json!("note"))
}

#[portcullis::owner_only(Note, action = delete)]
async fn delete_note(_note: Owned<Note>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[portcullis::authenticated]
async fn echo(extract::Json(body): extract::Json<Value>) -> Json<Value> {
    Json(body)
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/open", get(open))
        .route("/optional", get(optional))
        .route("/scoped", get(scoped))
        .route("/admin", get(admin))
        .route("/tenant", get(tenant))
        .route("/notes/{id}", get(read_note).delete(delete_note))
        .route("/echo", post(echo))
        .with_state(AppState { verifier, notes: Notes })
}

fn request(method: Method, uri: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

async fn get_status(app: &Router, uri: &str, token: Option<&str>) -> StatusCode {
    send(app.clone(), request(Method::GET, uri, token)).await.status
}

// ---------------------------------------------------------------------------------------------
// Every stage and outcome
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_stage_and_outcome_increments_its_own_series() {
    let recorded = Recorded::start();
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier().build().unwrap());
    let alice = issuer.token("alice").sign();
    let reader = issuer.token("carol").roles(["reader"]).sign();
    let full =
        issuer.token("alice").scopes(["docs:read"]).roles(["admin"]).claim("tenant", "acme").sign();
    let expired = issuer.token("alice").expired(Duration::from_secs(3600)).sign();

    let cases: [(Method, &str, Option<&str>, StatusCode); 17] = [
        (Method::GET, "/open", Some(&alice), StatusCode::OK),
        (Method::GET, "/optional", None, StatusCode::OK),
        (Method::GET, "/open", None, StatusCode::UNAUTHORIZED),
        (Method::GET, "/open", Some("not-a-jwt"), StatusCode::UNAUTHORIZED),
        (Method::GET, "/open", Some(&expired), StatusCode::UNAUTHORIZED),
        (Method::GET, "/scoped", Some(&alice), StatusCode::FORBIDDEN),
        (Method::GET, "/scoped", Some(&full), StatusCode::OK),
        (Method::GET, "/admin", Some(&alice), StatusCode::FORBIDDEN),
        (Method::GET, "/admin", Some(&full), StatusCode::OK),
        (Method::GET, "/tenant", Some(&alice), StatusCode::FORBIDDEN),
        (Method::GET, "/tenant", Some(&full), StatusCode::OK),
        (Method::GET, "/notes/1", Some(&alice), StatusCode::OK),
        (Method::GET, "/notes/2", Some(&alice), StatusCode::NOT_FOUND),
        (Method::GET, "/notes/9", Some(&alice), StatusCode::NOT_FOUND),
        (Method::GET, "/notes/x", Some(&alice), StatusCode::NOT_FOUND),
        (Method::GET, "/notes/3", Some(&alice), StatusCode::INTERNAL_SERVER_ERROR),
        (Method::DELETE, "/notes/1", Some(&reader), StatusCode::FORBIDDEN),
    ];
    for (method, uri, token, status) in cases {
        let reply = send(app.clone(), request(method.clone(), uri, token)).await;
        assert_eq!(reply.status, status, "{method} {uri}");
    }
    // Shape: an allowed request whose body is not JSON.
    let bad_body = Request::post("/echo")
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    assert_eq!(send(app.clone(), bad_body).await.status, StatusCode::BAD_REQUEST);
    let wrong_type = Request::post("/echo")
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(send(app.clone(), wrong_type).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    use Outcome::{Allowed, Denied, Failed};
    use Stage::{Complete, Credentials, Policies, Resource, Roles, Scopes, Shape};
    let expected: [(Stage, Outcome, &str, u64); 16] = [
        // /open, /scoped, /admin, /tenant, /notes/1 with the right token, and both /echo.
        (Complete, Allowed, "none", 7),
        (Credentials, Allowed, "anonymous", 1),
        (Credentials, Denied, "missing_credentials", 1),
        (Credentials, Denied, "malformed", 1),
        (Credentials, Denied, "expired", 1),
        (Scopes, Denied, "insufficient_scope", 1),
        (Roles, Denied, "missing_role", 1),
        (Policies, Denied, "claim_not_satisfied", 1),
        (Resource, Denied, "not_owner", 1),
        (Resource, Denied, "absent", 1),
        (Resource, Denied, "invalid_id", 1),
        (Resource, Failed, "lookup_failed", 1),
        (Resource, Denied, "action_not_permitted", 1),
        (Shape, Denied, "malformed_request", 1),
        (Shape, Denied, "unsupported_media_type", 1),
        (Complete, Denied, "none", 0),
    ];
    for (stage, outcome, reason, count) in expected {
        assert_eq!(
            recorded.decisions(stage, outcome, reason),
            count,
            "{} {} {reason}",
            stage.as_str(),
            outcome.as_str()
        );
    }
    // Nothing else was counted: the table above is the whole story.
    let total: u64 = recorded
        .series()
        .iter()
        .filter(|(name, ..)| name == metric::GUARD_DECISIONS)
        .map(|(.., value)| match value {
            DebugValue::Counter(count) => *count,
            other => panic!("not a counter: {other:?}"),
        })
        .sum();
    assert_eq!(total, 21);
    // One duration per guard decision (shape refusals are not the guard's), by outcome.
    let timed: usize = [Allowed, Denied, Failed]
        .into_iter()
        .flat_map(|outcome| ["hit", "miss"].map(|cache| recorded.durations(outcome, cache)))
        .sum();
    assert_eq!(timed, 19);
}

#[tokio::test]
async fn the_duration_is_split_by_cache_hit_and_miss() {
    let recorded = Recorded::start();
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier().build().unwrap());
    let token = issuer.token("alice").sign();
    for _ in 0..3 {
        assert_eq!(get_status(&app, "/open", Some(&token)).await, StatusCode::OK);
    }
    assert_eq!(recorded.durations(Outcome::Allowed, "miss"), 1);
    assert_eq!(recorded.durations(Outcome::Allowed, "hit"), 2);
    // A denial after a cache hit is timed as a hit too.
    assert_eq!(get_status(&app, "/scoped", Some(&token)).await, StatusCode::FORBIDDEN);
    assert_eq!(recorded.durations(Outcome::Denied, "hit"), 1);
    // Without a token, nothing was looked up.
    assert_eq!(get_status(&app, "/open", None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(recorded.durations(Outcome::Denied, "miss"), 1);
}

// ---------------------------------------------------------------------------------------------
// Hostile requests: no label value from the request
// ---------------------------------------------------------------------------------------------

/// The values every attribute may take: closed sets, and configuration.
fn allowed_value(key: &str, value: &str) -> bool {
    let code = |value: &str| {
        !value.is_empty() && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    };
    match key {
        "portcullis.stage" => Stage::ALL.iter().any(|stage| stage.as_str() == value),
        "portcullis.outcome" => Outcome::ALL.iter().any(|outcome| outcome.as_str() == value),
        "portcullis.token.cache" => matches!(value, "hit" | "miss"),
        "portcullis.reason" | "portcullis.result" => code(value) && value.len() <= 40,
        _ => false,
    }
}

#[tokio::test]
async fn no_label_value_comes_from_the_request() {
    let recorded = Recorded::start();
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier().build().unwrap());
    let evil = [
        issuer.token("EVIL-subject").claim("tenant", "EVIL-tenant").sign(),
        issuer.token("EVIL-subject").scopes(["EVIL-scope"]).roles(["EVIL-role"]).sign(),
        issuer.token("alice").kid(Some("EVIL-kid")).sign(),
        issuer.token("alice").expired(Duration::from_secs(60)).claim("EVIL", "EVIL").sign(),
        "EVIL.EVIL.EVIL".to_owned(),
        "EVIL-opaque-token".to_owned(),
    ];
    for token in &evil {
        for uri in ["/open", "/scoped", "/admin", "/tenant", "/notes/EVIL-path", "/notes/3"] {
            let _ = get_status(&app, uri, Some(token)).await;
        }
    }
    let alice = issuer.token("alice").sign();
    let _ = get_status(&app, "/notes/4294967296999", Some(&alice)).await;
    let reply = send(
        app.clone(),
        Request::post("/echo")
            .header(header::AUTHORIZATION, format!("Bearer {alice}"))
            .header(header::CONTENT_TYPE, "application/EVIL")
            .body(Body::from("EVIL"))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let series = recorded.series();
    assert!(series.len() > 5, "{series:?}");
    for (name, labels, _) in series.iter() {
        for (key, value) in labels {
            assert!(!value.contains("EVIL"), "{name} {key}={value}");
            assert!(allowed_value(key, value), "{name}: {key}={value}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Key sources
// ---------------------------------------------------------------------------------------------

/// Serves `jwks` at `/jwks` on a loopback port.
async fn jwks_server(jwks: Value) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/jwks", get(move || async move { Json(jwks.clone()) }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A loopback address nothing listens on.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn key_refreshes_are_counted_by_source_and_result_and_keys_held_is_a_gauge() {
    let recorded = Recorded::start();
    let issuer = TestIssuer::new();
    let addr = jwks_server(issuer.jwks()).await;
    let url = format!("http://{addr}/jwks");
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_url(&url)
        .build()
        .unwrap();
    let app = app(verifier.clone());
    let token = issuer.token("alice").sign();
    assert_eq!(get_status(&app, "/open", Some(&token)).await, StatusCode::OK);
    let source = [("portcullis.key_source", url.as_str()), ("portcullis.result", "success")];
    assert_eq!(recorded.counter(metric::KEYS_REFRESHES, &source), 1);
    assert_eq!(recorded.gauge(metric::KEYS_HELD, &[("portcullis.key_source", &url)]), Some(1.0));
    let readiness = verifier.readiness();
    assert!(readiness.is_ready());
    assert_eq!(readiness.key_sources()[0].source(), url);
    assert_eq!(readiness.key_sources()[0].keys(), 1);
    assert_eq!(readiness.key_sources()[0].failing_since(), None);

    // A provider that cannot be reached: 503, a failed refresh, no keys, not ready.
    let down = format!("http://{}/jwks?EVIL=query", closed_port());
    let shown = down.split('?').next().unwrap().to_owned();
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_url(&down)
        .build()
        .unwrap();
    let app = self::app(verifier.clone());
    let before = std::time::SystemTime::now();
    assert_eq!(get_status(&app, "/open", Some(&token)).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(recorded.decisions(Stage::Credentials, Outcome::Unavailable, "keys_unavailable"), 1);
    let failed = [("portcullis.key_source", shown.as_str()), ("portcullis.result", "failure")];
    assert!(recorded.counter(metric::KEYS_REFRESHES, &failed) >= 1);
    assert_eq!(recorded.gauge(metric::KEYS_HELD, &[("portcullis.key_source", &shown)]), Some(0.0));
    let readiness = verifier.readiness();
    assert!(!readiness.is_ready());
    let source = &readiness.key_sources()[0];
    assert_eq!(source.source(), shown);
    assert!(!source.has_usable_keys());
    let since = source.failing_since().expect("failing since the first attempt");
    assert!(since >= before - Duration::from_secs(1), "{since:?}");
}

// ---------------------------------------------------------------------------------------------
// Introspection and DPoP
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn introspection_calls_are_counted_by_result() {
    let recorded = Recorded::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoint = Router::new().route(
        "/introspect",
        post(|body: String| async move {
            let active = body.contains("token=good");
            Ok::<_, Infallible>(Json(if active {
                json!({"active": true, "sub": "alice", "iss": "https://issuer.example", "aud": "api", "exp": 4_000_000_000_u64})
            } else {
                json!({"active": false})
            }))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, endpoint).await.unwrap() });
    let verifier = |url: String| {
        Verifier::builder()
            .issuer("https://issuer.example")
            .audience("api")
            .introspection(Introspection::endpoint(url).client_credentials("api", "api-secret"))
            .build()
            .unwrap()
    };
    let up = app(verifier(format!("http://{addr}/introspect")));
    assert_eq!(get_status(&up, "/open", Some("good-opaque")).await, StatusCode::OK);
    assert_eq!(get_status(&up, "/open", Some("good-opaque")).await, StatusCode::OK);
    assert_eq!(get_status(&up, "/open", Some("bad-opaque")).await, StatusCode::UNAUTHORIZED);
    let down = app(verifier(format!("http://{}/introspect", closed_port())));
    assert_eq!(
        get_status(&down, "/open", Some("good-opaque")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let calls =
        |result| recorded.counter(metric::INTROSPECTION_CALLS, &[("portcullis.result", result)]);
    // The second request of the good token is answered by the cache: one call.
    assert_eq!((calls("active"), calls("inactive"), calls("error")), (1, 1, 1));
    assert_eq!(recorded.decisions(Stage::Credentials, Outcome::Denied, "inactive"), 1);
    assert_eq!(
        recorded.decisions(Stage::Credentials, Outcome::Unavailable, "introspection_unavailable"),
        1
    );
    assert_eq!(recorded.durations(Outcome::Allowed, "hit"), 1);
    assert_eq!(recorded.durations(Outcome::Allowed, "miss"), 1);
}

#[tokio::test]
async fn dpop_proofs_are_counted_accepted_refused_and_replayed() {
    const ORIGIN: &str = "https://api.example";
    let recorded = Recorded::start();
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .dpop(Dpop::allowed().origin(ORIGIN).replay_store(MemoryReplayStore::new()))
        .build()
        .unwrap();
    let app = app(verifier);
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let dpop = |proof: &str| {
        Request::get("/open")
            .header(header::AUTHORIZATION, format!("DPoP {token}"))
            .header("DPoP", proof)
            .body(Body::empty())
            .unwrap()
    };
    let proof = key.proof("GET", &format!("{ORIGIN}/open"), &token).sign();
    assert_eq!(send(app.clone(), dpop(&proof)).await.status, StatusCode::OK);
    assert_eq!(send(app.clone(), dpop(&proof)).await.status, StatusCode::UNAUTHORIZED);
    let elsewhere = key.proof("GET", &format!("{ORIGIN}/EVIL"), &token).sign();
    assert_eq!(send(app.clone(), dpop(&elsewhere)).await.status, StatusCode::UNAUTHORIZED);

    let proofs = |result| recorded.counter(metric::DPOP_PROOFS, &[("portcullis.result", result)]);
    assert_eq!((proofs("accepted"), proofs("replayed"), proofs("refused")), (1, 1, 1));
    assert_eq!(recorded.decisions(Stage::Credentials, Outcome::Denied, "dpop_proof_replayed"), 1);
    assert_eq!(recorded.decisions(Stage::Credentials, Outcome::Denied, "dpop_proof_wrong_uri"), 1);
}

#[tokio::test]
async fn a_source_that_fails_but_keeps_its_keys_is_ready_and_says_since_when_it_fails() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let recorded = Recorded::start();
    let issuer = TestIssuer::new();
    let down = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (jwks, is_down) = (issuer.jwks(), Arc::clone(&down));
    let router = Router::new().route(
        "/jwks",
        get(move || {
            let (jwks, down) = (jwks.clone(), is_down.load(Ordering::SeqCst));
            async move {
                if down { Err(StatusCode::INTERNAL_SERVER_ERROR) } else { Ok(Json(jwks)) }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let url = format!("http://{addr}/jwks");
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_url(&url)
        .build()
        .unwrap();
    let app = app(verifier.clone());
    let token = issuer.token("alice").sign();
    assert_eq!(get_status(&app, "/open", Some(&token)).await, StatusCode::OK);
    assert_eq!(verifier.readiness().key_sources()[0].failing_since(), None);

    down.store(true, Ordering::SeqCst);
    let before = std::time::SystemTime::now();
    // A token naming a key not held: the source is asked again, and fails.
    let rotated = issuer.token("alice").kid(Some("rotated")).sign();
    let _ = get_status(&app, "/open", Some(&rotated)).await;
    let failed = [("portcullis.key_source", url.as_str()), ("portcullis.result", "failure")];
    assert_eq!(recorded.counter(metric::KEYS_REFRESHES, &failed), 1);
    assert_eq!(recorded.gauge(metric::KEYS_HELD, &[("portcullis.key_source", &url)]), Some(1.0));
    let readiness = verifier.readiness();
    assert!(readiness.is_ready(), "the last keys still verify tokens");
    let since = readiness.key_sources()[0].failing_since().expect("failing");
    assert!(since >= before, "{since:?} {before:?}");
    // The old keys still serve.
    assert_eq!(get_status(&app, "/open", Some(&token)).await, StatusCode::OK);
}
