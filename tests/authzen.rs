//! The AuthZEN engine on real routers: against a real decision point (the Cerbos PDP, started
//! here on loopback with the documents example's policies), and against a small server of the
//! test's own for what a real one rarely does on demand (down, slow, 500, malformed, a decision
//! missing from a batch), the cache (its lifetime, zero included, and single flight), the bound
//! on concurrent calls, the bearer token, and what is sent (never the body).
//!
//! These tests never skip: without the installed PDP they fail, saying what to do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{StatusCode, header};
use portcullis::engine::authzen::{AuthZen, AuthZenError};
use portcullis::engine::{Engine, EngineResource, ResourceFacts};
use portcullis::testing::TestIssuer;
use portcullis::{Owned, OwnedResource, Verifier};
use portcullis_tests::{Reply, assert_denied, send};
use serde_json::{Value, json};

const CERBOS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cerbos");
const POLICIES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/documents/policies/cerbos");

#[derive(Clone, Debug)]
struct Doc {
    owner: String,
    body: String,
    shared_with: Vec<String>,
}

#[derive(Clone, Default)]
struct Store {
    docs: Arc<Mutex<HashMap<u64, Doc>>>,
}

impl OwnedResource for Doc {
    type State = Store;
    type Id = u64;
    type Error = Infallible;

    async fn load(id: u64, store: &Store) -> Result<Option<Self>, Infallible> {
        Ok(store.docs.lock().unwrap().get(&id).cloned())
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

impl EngineResource for Doc {
    const KIND: &'static str = "document";

    async fn facts(id: &u64, store: &Store) -> Result<Option<ResourceFacts>, Infallible> {
        Ok(store.docs.lock().unwrap().get(id).map(|doc| {
            ResourceFacts::owned_by(doc.owner.clone())
                .attribute("shared_with", doc.shared_with.clone())
        }))
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    engine: Engine,
    store: Store,
}

#[portcullis::requires_scope("docs:read")]
#[portcullis::authorize(Doc, action = "read")]
async fn read(doc: Owned<Doc>) -> Json<Value> {
    Json(json!({"body": doc.body}))
}

#[portcullis::requires_scope("docs:write")]
#[portcullis::authorize(Doc, action = "write")]
async fn write(body: String) -> Json<Value> {
    Json(json!({"written": body}))
}

struct App {
    issuer: TestIssuer,
    store: Store,
    router: Router,
}

fn app(engine: portcullis::engine::authzen::AuthZenEngine) -> App {
    let issuer = TestIssuer::new().with_issuer("https://issuer.test").with_audience("docs");
    let verifier = issuer.verifier().realm("docs").build().unwrap();
    let store = Store::default();
    store.docs.lock().unwrap().insert(
        1,
        Doc { owner: "alice".into(), body: "alice's".into(), shared_with: vec!["bob".into()] },
    );
    let state = AppState { verifier, engine: Engine::new(engine).unwrap(), store: store.clone() };
    let router = Router::new().route("/docs/{id}", get(read).put(write)).with_state(state);
    App { issuer, store, router }
}

impl App {
    fn token(&self, subject: &str) -> String {
        self.issuer.token(subject).scopes(["docs:read", "docs:write"]).sign()
    }

    async fn call(&self, method: &str, uri: &str, subject: &str, body: Body) -> Reply {
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token(subject)))
            .body(body)
            .unwrap();
        send(self.router.clone(), request).await
    }
}

/// A body that counts its polls and fails if it is read.
fn tripwire(polls: &Arc<AtomicUsize>) -> Body {
    let polls = Arc::clone(polls);
    Body::from_stream(futures_util::stream::poll_fn(move |_| {
        polls.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Err::<Bytes, _>(std::io::Error::other("body was read"))))
    }))
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// A real decision point: Cerbos

/// The Cerbos PDP on loopback, stopped when dropped.
struct Cerbos {
    child: Child,
    url: String,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Cerbos {
    async fn start() -> Self {
        let binary =
            Path::new(CERBOS_DIR).join("node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64");
        assert!(
            binary.exists(),
            "the Cerbos PDP is not installed: run `npm ci` in tests/cerbos (.ci/run does); \
             the AuthZEN tests never skip"
        );
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("portcullis-cerbos-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (http, grpc) = (free_port(), free_port());
        let config = format!(
            "server:\n  httpListenAddr: \"127.0.0.1:{http}\"\n  grpcListenAddr: \"127.0.0.1:{grpc}\"\n\
             storage:\n  driver: disk\n  disk:\n    directory: \"{POLICIES}\"\n    watchForChanges: false\n\
             telemetry:\n  disabled: true\n"
        );
        let config_path = dir.join("config.yaml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(&binary)
            .arg("server")
            .arg(format!("--config={}", config_path.display()))
            .env("CERBOS_NO_TELEMETRY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{http}");
        let cerbos = Self { child, url, _dir: TempDir(dir) };
        // Cerbos listens once its policies are compiled.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", http)).await.is_ok() {
                return cerbos;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the Cerbos PDP did not start on {}", cerbos.url);
    }
}

impl Drop for Cerbos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_real_decision_point_decides_each_answer_through_the_router() {
    let cerbos = Cerbos::start().await;
    for discovery in [false, true] {
        let engine = AuthZen::new(&cerbos.url)
            .discovery(discovery)
            .cache_lifetime(Duration::ZERO)
            .build()
            .unwrap();
        let app = app(engine);
        let reply = app.call("GET", "/docs/1", "alice", Body::empty()).await;
        assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!({"body": "alice's"})));
        let reply = app.call("PUT", "/docs/1", "alice", Body::from("new")).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let reply = app.call("GET", "/docs/1", "bob", Body::empty()).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

        let polls = Arc::new(AtomicUsize::new(0));
        let reply = app.call("PUT", "/docs/1", "bob", tripwire(&polls)).await;
        assert_denied(&reply, StatusCode::FORBIDDEN, None, None);
        let hidden = app.call("PUT", "/docs/1", "mallory", tripwire(&polls)).await;
        let absent = app.call("PUT", "/docs/2", "mallory", tripwire(&polls)).await;
        assert_denied(&hidden, StatusCode::NOT_FOUND, None, None);
        assert_eq!((&hidden.headers, &hidden.bytes), (&absent.headers, &absent.bytes));
        assert_eq!(polls.load(Ordering::SeqCst), 0, "a denied request's body was read");

        // With a lifetime of zero, a revoked share takes effect at once.
        app.store.docs.lock().unwrap().get_mut(&1).unwrap().shared_with.clear();
        let reply = app.call("GET", "/docs/1", "bob", Body::empty()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        app.store.docs.lock().unwrap().get_mut(&1).unwrap().shared_with.push("bob".into());
    }
}

#[tokio::test]
async fn a_decision_point_that_stops_gives_503_with_retry_after() {
    let mut cerbos = Cerbos::start().await;
    let app = app(AuthZen::new(&cerbos.url).cache_lifetime(Duration::ZERO).build().unwrap());
    assert_eq!(app.call("GET", "/docs/1", "alice", Body::empty()).await.status, StatusCode::OK);
    cerbos.child.kill().unwrap();
    cerbos.child.wait().unwrap();
    let reply = app.call("GET", "/docs/1", "alice", Body::empty()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert_eq!(reply.headers.get(header::RETRY_AFTER).unwrap(), "5");
}

// ---------------------------------------------------------------------------------------------
// A decision point of the test's own, for the faults

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    /// Owners may do everything, a subject a document is shared with reads.
    None,
    Slow,
    Status500,
    Malformed,
    MissingDecision,
    ExtraDecision,
    StringDecision,
}

/// A request body and its `Authorization` header.
type Seen = (Value, Option<String>);

#[derive(Clone)]
struct Pdp {
    fault: Arc<Mutex<Fault>>,
    calls: Arc<AtomicUsize>,
    /// Every request body and `Authorization` header received.
    seen: Arc<Mutex<Vec<Seen>>>,
    delay: Duration,
}

async fn evaluations(
    State(pdp): State<Pdp>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    pdp.calls.fetch_add(1, Ordering::SeqCst);
    let authorization =
        headers.get(header::AUTHORIZATION).map(|value| value.to_str().unwrap().to_owned());
    pdp.seen.lock().unwrap().push((body.clone(), authorization));
    tokio::time::sleep(pdp.delay).await;
    let decide = |action: &str| {
        let subject = &body["subject"]["id"];
        let properties = &body["resource"]["properties"];
        let owner = &properties["owner"] == subject;
        let shared = properties["shared_with"].as_array().is_some_and(|s| s.contains(subject));
        owner || (shared && action == "read")
    };
    let Some(evaluations) = body["evaluations"].as_array() else {
        return Json(json!({"decision": decide(body["action"]["name"].as_str().unwrap())}));
    };
    let answers: Vec<Value> = evaluations
        .iter()
        .map(|evaluation| json!({"decision": decide(evaluation["action"]["name"].as_str().unwrap())}))
        .collect();
    Json(json!({"evaluations": answers}))
}

async fn faulty(
    State(pdp): State<Pdp>,
    headers: HeaderMap,
    body: Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let fault = *pdp.fault.lock().unwrap();
    match fault {
        Fault::None => evaluations(State(pdp), headers, body).await.into_response(),
        Fault::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            evaluations(State(pdp), headers, body).await.into_response()
        }
        Fault::Status500 => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        Fault::Malformed => "<html>not json</html>".into_response(),
        Fault::MissingDecision => {
            Json(json!({"evaluations": [{"decision": true}]})).into_response()
        }
        Fault::ExtraDecision => Json(
            json!({"evaluations": [{"decision": true}, {"decision": true}, {"decision": false}]}),
        )
        .into_response(),
        Fault::StringDecision => {
            Json(json!({"evaluations": [{"decision": "true"}, {"decision": "true"}]}))
                .into_response()
        }
    }
}

async fn serve_pdp(delay: Duration) -> (String, Pdp) {
    let pdp = Pdp {
        fault: Arc::new(Mutex::new(Fault::None)),
        calls: Arc::default(),
        seen: Arc::default(),
        delay,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({
        "policy_decision_point": url,
        "access_evaluations_endpoint": format!("{url}/custom/evaluations"),
    });
    let router = Router::new()
        .route("/access/v1/evaluations", post(faulty))
        .route("/access/v1/evaluation", post(faulty))
        .route("/custom/evaluations", post(faulty))
        .route("/.well-known/authzen-configuration", get(move || async move { Json(discovery) }))
        .with_state(pdp.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, pdp)
}

#[tokio::test]
async fn every_fault_of_the_decision_point_is_503_with_retry_after_and_never_an_allow() {
    let (url, pdp) = serve_pdp(Duration::ZERO).await;
    let engine = AuthZen::new(&url)
        .timeout(Duration::from_millis(500))
        .cache_lifetime(Duration::ZERO)
        .build()
        .unwrap();
    let app = app(engine);
    let polls = Arc::new(AtomicUsize::new(0));
    for fault in [
        Fault::Slow,
        Fault::Status500,
        Fault::Malformed,
        Fault::MissingDecision,
        Fault::ExtraDecision,
        Fault::StringDecision,
    ] {
        *pdp.fault.lock().unwrap() = fault;
        let reply = app.call("PUT", "/docs/1", "alice", tripwire(&polls)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{fault:?}: {reply:?}");
        assert_eq!(reply.headers.get(header::RETRY_AFTER).unwrap(), "5", "{fault:?}");
        assert_eq!(reply.challenge(), None);
        assert_eq!(reply.body["status"], 503);
        assert!(!reply.visible().contains("oops") && !reply.visible().contains("html"));
    }
    assert_eq!(polls.load(Ordering::SeqCst), 0);
    *pdp.fault.lock().unwrap() = Fault::None;
    assert_eq!(app.call("PUT", "/docs/1", "alice", Body::from("x")).await.status, StatusCode::OK);

    // Down: nothing listens.
    let down = AuthZen::new(format!("http://127.0.0.1:{}", free_port())).build().unwrap();
    let reply = app_with(down).call("GET", "/docs/1", "alice", Body::empty()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers.get(header::RETRY_AFTER).unwrap(), "5");
}

fn app_with(engine: portcullis::engine::authzen::AuthZenEngine) -> App {
    app(engine)
}

#[tokio::test]
async fn only_the_path_id_and_the_applications_facts_are_sent_with_the_bearer_token() {
    let (url, pdp) = serve_pdp(Duration::ZERO).await;
    let engine = AuthZen::new(&url)
        .bearer_token("pdp-secret")
        .discovery(true)
        .subject_claims(["email"])
        .build()
        .unwrap();
    let app = app(engine);
    let token = app.issuer.token("bob").scopes(["docs:write"]).claim("email", "bob@x").sign();
    let request = http::Request::builder()
        .method("PUT")
        .uri("/docs/1")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from("the request's secret body"))
        .unwrap();
    let reply = send(app.router.clone(), request).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, None, None);
    let seen = pdp.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (body, authorization) = &seen[0];
    assert_eq!(authorization.as_deref(), Some("Bearer pdp-secret"));
    assert_eq!(
        body,
        &json!({
            "subject": {
                "type": "user",
                "id": "bob",
                "properties": {"iss": "https://issuer.test", "scopes": ["docs:write"], "roles": [], "email": "bob@x"},
            },
            "resource": {
                "type": "document",
                "id": "1",
                "properties": {"owner": "alice", "shared_with": ["bob"]},
            },
            "evaluations": [{"action": {"name": "read"}}, {"action": {"name": "write"}}],
            "options": {"evaluations_semantic": "execute_all"},
        })
    );
    assert!(!body.to_string().contains("secret body") && !body.to_string().contains(&token));
}

#[tokio::test]
async fn decisions_are_kept_for_their_lifetime_and_concurrent_questions_share_one_call() {
    let (url, pdp) = serve_pdp(Duration::from_millis(200)).await;
    let engine = AuthZen::new(&url).cache_lifetime(Duration::from_millis(800)).build().unwrap();
    let app = Arc::new(app(engine));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            app.call("PUT", "/docs/1", "bob", Body::from("x")).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::FORBIDDEN);
    }
    assert_eq!(pdp.calls.load(Ordering::SeqCst), 1, "single flight");
    assert_eq!(
        app.call("PUT", "/docs/1", "bob", Body::from("x")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(pdp.calls.load(Ordering::SeqCst), 1, "kept");
    // Another principal, action or resource fact is another question.
    assert_eq!(app.call("PUT", "/docs/1", "alice", Body::from("x")).await.status, StatusCode::OK);
    assert_eq!(pdp.calls.load(Ordering::SeqCst), 2);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        app.call("PUT", "/docs/1", "bob", Body::from("x")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(pdp.calls.load(Ordering::SeqCst), 3, "the lifetime ended");
}

#[tokio::test]
async fn past_the_bound_on_concurrent_calls_a_request_gets_503_at_once() {
    let (url, pdp) = serve_pdp(Duration::from_millis(400)).await;
    let engine =
        AuthZen::new(&url).max_concurrent_calls(1).cache_lifetime(Duration::ZERO).build().unwrap();
    let app = Arc::new(app(engine));
    let first = {
        let app = Arc::clone(&app);
        tokio::spawn(async move { app.call("GET", "/docs/1", "alice", Body::empty()).await.status })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let second = app.call("GET", "/docs/1", "bob", Body::empty()).await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(250), "it waited");
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    assert_eq!(pdp.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn the_decision_point_url_follows_the_rules_of_key_fetching() {
    for refused in ["http://pdp.example", "ftp://pdp.example", "not a url", "https://"] {
        assert!(matches!(AuthZen::new(refused).build(), Err(AuthZenError::Url(_))), "{refused}");
    }
    for accepted in
        ["https://pdp.example", "http://127.0.0.1:3592", "http://localhost:1", "http://[::1]:2"]
    {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let _guard = runtime.enter();
        assert!(AuthZen::new(accepted).build().is_ok(), "{accepted}");
    }
    assert!(matches!(
        AuthZen::new("https://pdp.example").max_concurrent_calls(0).build(),
        Err(AuthZenError::Setting(_))
    ));
    let debug = format!("{:?}", AuthZen::new("https://pdp.example").bearer_token("hunter2"));
    assert!(!debug.contains("hunter2"), "{debug}");
}
