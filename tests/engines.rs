//! The engine stage on real routers, with an engine of the test's own: each decision (allow,
//! not visible, forbidden, no answer) through `#[authorize]` and through `EngineLayer`, the
//! order (scopes first, the body never read on a denial), what the engine is told (the path's
//! id and the application's facts, nothing of the body), and the refusal of an unknown action.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{StatusCode, header};
use portcullis::engine::{
    Decision, DecisionEngine, Engine, EngineFailure, EngineFuture, EngineLayer, EngineResource,
    Question, ResourceFacts, ResourceRef,
};
use portcullis::testing::TestIssuer;
use portcullis::{Owned, OwnedResource, Verifier, layer::RequireAuthLayer};
use portcullis_tests::{Reply, assert_denied, send};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
struct Doc {
    owner: String,
    body: String,
    shared_with: Vec<String>,
}

#[derive(Clone, Default)]
struct Store {
    docs: Arc<Mutex<HashMap<u64, Doc>>>,
    loads: Arc<AtomicUsize>,
}

impl OwnedResource for Doc {
    type State = Store;
    type Id = u64;
    type Error = Infallible;

    async fn load(id: u64, store: &Store) -> Result<Option<Self>, Infallible> {
        store.loads.fetch_add(1, Ordering::SeqCst);
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

/// How the test engine answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Owners may do everything, a subject the document is shared with may read it.
    Rules,
    /// No answer.
    Down,
}

/// An engine of the test's own: it keeps every question it is asked.
#[derive(Clone)]
struct ScriptedEngine {
    mode: Arc<Mutex<Mode>>,
    asked: Arc<Mutex<Vec<(String, String, ResourceRef)>>>,
    known: Option<&'static [&'static str]>,
}

impl ScriptedEngine {
    fn new() -> Self {
        Self { mode: Arc::new(Mutex::new(Mode::Rules)), asked: Arc::default(), known: None }
    }

    fn asked(&self) -> usize {
        self.asked.lock().unwrap().len()
    }
}

impl DecisionEngine for ScriptedEngine {
    fn decide<'a>(&'a self, question: &'a Question<'a>) -> EngineFuture<'a> {
        let principal = question.principal.id().to_string();
        self.asked.lock().unwrap().push((
            principal.clone(),
            question.action.to_owned(),
            question.resource.clone(),
        ));
        let mode = *self.mode.lock().unwrap();
        Box::pin(async move {
            if mode == Mode::Down {
                return Err(EngineFailure::new("connection refused"));
            }
            let facts = &question.resource.facts;
            let owner = facts.owner.as_deref() == Some(principal.as_str());
            let shared = facts.attributes["shared_with"]
                .as_array()
                .is_some_and(|subjects| subjects.iter().any(|s| s == principal.as_str()));
            let may_see = owner || shared;
            let may_act = owner || (shared && question.action == "read");
            Ok(Decision::from_answers(may_see, may_act))
        })
    }

    fn knows_action(&self, name: &str) -> Option<bool> {
        self.known.map(|known| known.contains(&name))
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

#[portcullis::authorize(Doc, action = "share", id = "doc")]
async fn share(body: Bytes) -> Json<Value> {
    Json(json!({"bytes": body.len()}))
}

struct Fixture {
    issuer: TestIssuer,
    engine: ScriptedEngine,
    store: Store,
    app: Router,
}

fn fixture() -> Fixture {
    let issuer = TestIssuer::new().with_issuer("https://issuer.test").with_audience("docs");
    let verifier = issuer.verifier().realm("docs").build().unwrap();
    let engine = ScriptedEngine::new();
    let store = Store::default();
    store.docs.lock().unwrap().insert(
        1,
        Doc {
            owner: "alice".into(),
            body: "alice's secret".into(),
            shared_with: vec!["bob".into()],
        },
    );
    store
        .docs
        .lock()
        .unwrap()
        .insert(2, Doc { owner: "carol".into(), body: "carol's".into(), shared_with: vec![] });
    let state =
        AppState { verifier, engine: Engine::new(engine.clone()).unwrap(), store: store.clone() };
    let app = Router::new()
        .route("/docs/{id}", get(read).put(write))
        .route("/docs/{doc}/share", post(share))
        .with_state(state);
    Fixture { issuer, engine, store, app }
}

fn request(method: &str, uri: &str, token: &str, body: Body) -> http::Request<Body> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body)
        .unwrap()
}

/// A body that counts its polls and fails if it is read.
fn tripwire(polls: &Arc<AtomicUsize>) -> Body {
    let polls = Arc::clone(polls);
    Body::from_stream(futures_util::stream::poll_fn(move |_| {
        polls.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Err::<Bytes, _>(std::io::Error::other("body was read"))))
    }))
}

fn token(f: &Fixture, subject: &str) -> String {
    f.issuer.token(subject).scopes(["docs:read", "docs:write"]).sign()
}

/// The 404 of an absent document, to compare others with byte for byte.
async fn absent(f: &Fixture, token: &str) -> Reply {
    send(f.app.clone(), request("GET", "/docs/999", token, Body::empty())).await
}

fn assert_same_response(reply: &Reply, reference: &Reply) {
    assert_eq!(reply.status, reference.status);
    assert_eq!(reply.headers, reference.headers);
    assert_eq!(reply.bytes, reference.bytes);
}

#[tokio::test]
async fn the_owner_is_allowed_and_the_resource_is_loaded_once_after_the_decision() {
    let f = fixture();
    let alice = token(&f, "alice");
    let reply = send(f.app.clone(), request("GET", "/docs/1", &alice, Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, json!({"body": "alice's secret"}));
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 1);
    let reply = send(f.app.clone(), request("PUT", "/docs/1", &alice, Body::from("new"))).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!({"written": "new"})));
    // A handler without `Owned<Doc>` costs no load.
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_engine_is_told_the_path_id_and_the_applications_facts_only() {
    let f = fixture();
    let bob = token(&f, "bob");
    let polls = Arc::new(AtomicUsize::new(0));
    let reply =
        send(f.app.clone(), request("PUT", "/docs/1", &bob, Body::from("a secret body"))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let asked = f.engine.asked.lock().unwrap().clone();
    let expected = ResourceRef {
        kind: "document",
        id: "1".into(),
        facts: ResourceFacts::owned_by("alice").attribute("shared_with", vec!["bob"]),
    };
    assert_eq!(asked, vec![("bob".to_owned(), "write".to_owned(), expected)]);
    assert!(!format!("{asked:?}").contains("a secret body"));
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_shared_reader_reads_and_gets_403_without_a_challenge_for_anything_else() {
    let f = fixture();
    let bob = token(&f, "bob");
    let reply = send(f.app.clone(), request("GET", "/docs/1", &bob, Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, json!({"body": "alice's secret"}));

    let polls = Arc::new(AtomicUsize::new(0));
    let reply = send(f.app.clone(), request("PUT", "/docs/1", &bob, tripwire(&polls))).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, None, None);
    assert_eq!(reply.body, json!({"type": "about:blank", "title": "Forbidden", "status": 403}));
    let reply = send(f.app.clone(), request("POST", "/docs/1/share", &bob, tripwire(&polls))).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, None, None);
    assert_eq!(polls.load(Ordering::SeqCst), 0, "a denied request's body was read");
}

#[tokio::test]
async fn a_resource_the_caller_may_not_see_is_the_404_of_an_absent_one_byte_for_byte() {
    let f = fixture();
    let mallory = token(&f, "mallory");
    let reference = absent(&f, &mallory).await;
    assert_denied(&reference, StatusCode::NOT_FOUND, None, None);
    let polls = Arc::new(AtomicUsize::new(0));
    for (method, uri) in [
        ("GET", "/docs/1"),
        ("PUT", "/docs/1"),
        ("POST", "/docs/1/share"),
        ("PUT", "/docs/999"),
        ("GET", "/docs/not-a-number"),
        ("POST", "/docs/2/share"),
    ] {
        let reply = send(f.app.clone(), request(method, uri, &mallory, tripwire(&polls))).await;
        assert_same_response(&reply, &reference);
    }
    assert_eq!(polls.load(Ordering::SeqCst), 0, "a denied request's body was read");
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 0, "a hidden resource was loaded");
    // Absent and malformed ids never reach the engine: 4 of the 6 requests named a document.
    assert_eq!(f.engine.asked(), 4);
}

#[tokio::test]
async fn an_engine_without_an_answer_gives_503_with_retry_after_never_an_allow() {
    let f = fixture();
    *f.engine.mode.lock().unwrap() = Mode::Down;
    let alice = token(&f, "alice");
    let polls = Arc::new(AtomicUsize::new(0));
    for (method, uri) in [("GET", "/docs/1"), ("PUT", "/docs/1"), ("POST", "/docs/1/share")] {
        let reply = send(f.app.clone(), request(method, uri, &alice, tripwire(&polls))).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert_eq!(reply.headers.get(header::RETRY_AFTER).unwrap(), "5");
        assert_eq!(reply.challenge(), None);
        assert_eq!(reply.body["status"], 503);
        assert!(!reply.visible().contains("connection refused"), "{reply:?}");
    }
    assert_eq!(polls.load(Ordering::SeqCst), 0);
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn scopes_are_checked_before_the_engine_is_asked() {
    let f = fixture();
    let no_scopes = f.issuer.token("alice").sign();
    let polls = Arc::new(AtomicUsize::new(0));
    let reply = send(f.app.clone(), request("PUT", "/docs/1", &no_scopes, tripwire(&polls))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.challenge().unwrap().contains("insufficient_scope"));
    let reply =
        send(f.app.clone(), request("GET", "/docs/1", "not-a-token", tripwire(&polls))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(f.engine.asked(), 0);
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn many_concurrent_requests_each_get_their_own_decision() {
    let f = fixture();
    let (alice, bob, mallory) = (token(&f, "alice"), token(&f, "bob"), token(&f, "mallory"));
    let mut tasks = Vec::new();
    for round in 0..300 {
        let (app, token, expected) = match round % 3 {
            0 => (f.app.clone(), alice.clone(), StatusCode::OK),
            1 => (f.app.clone(), bob.clone(), StatusCode::FORBIDDEN),
            _ => (f.app.clone(), mallory.clone(), StatusCode::NOT_FOUND),
        };
        tasks.push(tokio::spawn(async move {
            let reply = send(app, request("PUT", "/docs/1", &token, Body::from("x"))).await;
            assert_eq!(reply.status, expected);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(f.engine.asked(), 300);
}

#[tokio::test]
async fn the_router_wide_layer_gives_the_same_answers() {
    let f = fixture();
    let verifier = f.issuer.verifier().realm("docs").build().unwrap();
    let engine = Engine::new(f.engine.clone()).unwrap();
    async fn body_len(body: Bytes) -> Json<Value> {
        Json(json!({"bytes": body.len()}))
    }
    let app: Router = Router::new()
        .route("/docs/{id}", get(body_len).put(body_len))
        .route_layer(EngineLayer::<Doc>::new(engine, verifier.clone(), f.store.clone()))
        .route_layer(RequireAuthLayer::new(verifier.clone()))
        .with_state(verifier);
    let polls = Arc::new(AtomicUsize::new(0));
    let (alice, bob, mallory) = (token(&f, "alice"), token(&f, "bob"), token(&f, "mallory"));
    let reply = send(app.clone(), request("PUT", "/docs/1", &alice, Body::from("abc"))).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!({"bytes": 3})));
    let reply = send(app.clone(), request("GET", "/docs/1", &bob, Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(app.clone(), request("PUT", "/docs/1", &bob, tripwire(&polls))).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, None, None);
    let hidden = send(app.clone(), request("PUT", "/docs/1", &mallory, tripwire(&polls))).await;
    let absent = send(app.clone(), request("PUT", "/docs/999", &mallory, tripwire(&polls))).await;
    assert_denied(&hidden, StatusCode::NOT_FOUND, None, None);
    assert_same_response(&hidden, &absent);
    let reply = send(app.clone(), request("PUT", "/docs/1", "bad", tripwire(&polls))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    *f.engine.mode.lock().unwrap() = Mode::Down;
    let reply = send(app, request("GET", "/docs/1", &alice, tripwire(&polls))).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers.get(header::RETRY_AFTER).unwrap(), "5");
    assert_eq!(polls.load(Ordering::SeqCst), 0);
    let actions: Vec<String> =
        f.engine.asked.lock().unwrap().iter().map(|(_, action, _)| action.clone()).collect();
    assert_eq!(actions, ["write", "read", "write", "write", "read"]);
}

#[test]
fn an_engine_refuses_an_action_it_does_not_know_naming_it_and_its_handler() {
    let mut engine = ScriptedEngine::new();
    engine.known = Some(&["read", "write"]);
    let error = Engine::new(engine.clone()).unwrap_err();
    assert_eq!(error.action, "share");
    assert_eq!(error.handler, "engines::share");
    assert_eq!(
        error.to_string(),
        "the action \"share\" used by `#[authorize]` on `engines::share` is not known to the decision engine"
    );
    engine.known = Some(&["read", "write", "share"]);
    assert!(Engine::new(engine).is_ok());
}
