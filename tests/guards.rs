//! The attribute macros on real routers: the fixed order of evaluation (credentials, scopes,
//! ownership, request shape), the identical 404, and the body that is never read.
#![allow(
    deprecated,
    reason = "guarded handlers here take axum's own extractors on purpose, to test the order \
              of evaluation with them (the warning about them is ui/fail/axum_extractors_warned.rs)"
)]
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
use axum::extract::{FromRef, Path, Query};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::testing::TestIssuer;
use portcullis::{Owned, OwnedResource, Principal, Verifier, response::Disclosure};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

portcullis::scopes! {
    /// The vocabulary of this test API.
    pub enum Scope {
        DocsRead = "docs:read",
        DocsWrite = "docs:write",
        AdminRead = "admin:read",
        DocsAdmin = "docs:admin",
    }
}

#[derive(Clone, Debug)]
struct Doc {
    id: u64,
    owner: String,
    title: String,
}

#[derive(Clone, Default)]
struct Store {
    docs: Arc<Mutex<HashMap<u64, Doc>>>,
    /// Counts lookups, to prove the resource is loaded once.
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

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    store: Store,
}

#[derive(Deserialize)]
struct Patch {
    title: String,
}

#[derive(Deserialize)]
struct Params {
    #[allow(dead_code)]
    notify: bool,
}

#[portcullis::authenticated]
async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

#[portcullis::requires_scope(Scope::DocsRead)]
#[portcullis::owner_only(Doc)]
async fn read(doc: Owned<Doc>) -> Json<Value> {
    Json(json!({"id": doc.id, "title": doc.title}))
}

/// The user's extractors come in an order that would parse the query and the path before the
/// ownership check if the guard did not run first.
#[portcullis::requires_scope("docs:write", declared_in = Scope)]
#[portcullis::owner_only(Doc, id = "id")]
async fn update(
    Query(_params): Query<Params>,
    Path(id): Path<u64>,
    doc: Owned<Doc>,
    State(store): axum::extract::State<Store>,
    Json(patch): Json<Patch>,
) -> Json<Value> {
    let mut updated = doc.into_inner();
    updated.title = patch.title;
    store.docs.lock().unwrap().insert(id, updated.clone());
    Json(json!({"id": updated.id, "title": updated.title}))
}

use axum::extract::State;

/// A resource found gone by the handler itself (archived meanwhile, say): it answers the
/// guard's own 404 from the principal, without the router state.
#[portcullis::requires_scope(Scope::DocsRead)]
#[portcullis::owner_only(Doc)]
async fn archived(
    doc: Owned<Doc>,
    principal: Principal,
) -> Result<Json<Value>, portcullis::Denial> {
    if doc.title == "archived" {
        return Ok(Json(json!({"id": doc.id})));
    }
    Err(principal.not_found())
}

#[portcullis::requires_scope("docs:write")]
async fn create(Json(patch): Json<Patch>) -> (StatusCode, String) {
    (StatusCode::CREATED, patch.title)
}

#[portcullis::requires_scope(any("admin:read", "docs:admin"))]
async fn stats() -> &'static str {
    "stats"
}

#[portcullis::requires_scope("docs:read")]
#[portcullis::requires_scope(any(Scope::AdminRead, Scope::DocsAdmin))]
async fn audit() -> &'static str {
    "audit"
}

struct Fixture {
    issuer: TestIssuer,
    app: Router,
    store: Store,
}

fn fixture(disclosure: Disclosure) -> Fixture {
    let issuer = TestIssuer::new();
    let verifier =
        issuer.verifier().realm("docs").disclosure(disclosure).build().expect("verifier");
    let store = Store::default();
    store.docs.lock().unwrap().insert(1, Doc { id: 1, owner: "alice".into(), title: "A".into() });
    store.docs.lock().unwrap().insert(2, Doc { id: 2, owner: "bob".into(), title: "B".into() });
    let app = Router::new()
        .route("/me", get(me))
        .route("/docs", post(create))
        .route("/docs/{id}", get(read).put(update))
        .route("/docs/{id}/archived", get(archived))
        .route("/stats", get(stats))
        .route("/audit", get(audit))
        .with_state(AppState { verifier, store: store.clone() });
    Fixture { issuer, app, store }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).expect("a JSON body")
    }

    fn challenge(&self) -> Option<&str> {
        self.headers.get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap())
    }

    fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status);
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/problem+json");
        let body = self.json();
        assert_eq!(body["status"], status.as_u16());
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], status.canonical_reason().unwrap());
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    Reply { status, headers, bytes }
}

fn request(method: &str, uri: &str, token: Option<&str>, body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.header(header::CONTENT_TYPE, "application/json").body(body).unwrap()
}

/// A body that records whether anyone polled it, and fails if they do.
fn tripwire_body(polls: Arc<AtomicUsize>) -> Body {
    let stream = futures_util::stream::poll_fn(move |_| {
        polls.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Err::<Bytes, _>(std::io::Error::other("body was read"))))
    });
    Body::from_stream(stream)
}

const INVALID_TOKEN: &str = r#"Bearer realm="docs", error="invalid_token""#;

#[tokio::test]
async fn authenticated_handler_sees_the_principal() {
    let f = fixture(Disclosure::Production);
    let token = f.issuer.token("alice").sign();
    let reply = send(&f.app, request("GET", "/me", Some(&token), Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.bytes, "alice");

    let reply = send(&f.app, request("GET", "/me", None, Body::empty())).await;
    reply.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(reply.challenge(), Some(r#"Bearer realm="docs""#));
    assert_eq!(
        reply.json(),
        json!({"type": "about:blank", "title": "Unauthorized", "status": 401})
    );
}

#[tokio::test]
async fn unauthenticated_request_is_refused_without_reading_the_body() {
    let f = fixture(Disclosure::Production);
    for token in [None, Some("not.a.jwt")] {
        let polls = Arc::new(AtomicUsize::new(0));
        let reply =
            send(&f.app, request("POST", "/docs", token, tripwire_body(polls.clone()))).await;
        reply.assert_problem(StatusCode::UNAUTHORIZED);
        assert_eq!(polls.load(Ordering::SeqCst), 0, "the body was polled");
    }
}

#[tokio::test]
async fn a_huge_unauthenticated_upload_gets_401_unread() {
    let f = fixture(Disclosure::Production);
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    // 50 MB, produced lazily: any read would show in the counter.
    let chunks = futures_util::stream::iter((0..50).map(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Infallible>(Bytes::from(vec![b'x'; 1024 * 1024]))
    }));
    let reply = send(&f.app, request("POST", "/docs", None, Body::from_stream(chunks))).await;
    reply.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn missing_scope_gets_403_even_with_a_malformed_body() {
    let f = fixture(Disclosure::Production);
    let token = f.issuer.token("alice").scopes(["docs:read"]).sign();
    for body in [Body::from("{not json"), Body::from(r#"{"title": 5}"#)] {
        let reply = send(&f.app, request("POST", "/docs", Some(&token), body)).await;
        reply.assert_problem(StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            Some(r#"Bearer realm="docs", error="insufficient_scope", scope="docs:write""#)
        );
        assert_eq!(reply.json().get("detail"), None);
    }
    let polls = Arc::new(AtomicUsize::new(0));
    let reply =
        send(&f.app, request("POST", "/docs", Some(&token), tripwire_body(polls.clone()))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn with_the_scope_the_body_is_parsed() {
    let f = fixture(Disclosure::Production);
    let token = f.issuer.token("alice").scopes(["docs:write"]).sign();
    let reply =
        send(&f.app, request("POST", "/docs", Some(&token), Body::from(r#"{"title":"T"}"#))).await;
    assert_eq!((reply.status, &reply.bytes[..]), (StatusCode::CREATED, &b"T"[..]));
    let reply = send(&f.app, request("POST", "/docs", Some(&token), Body::from("{"))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn any_rule_lists_every_candidate() {
    let f = fixture(Disclosure::Production);
    let reader = f.issuer.token("alice").scopes(["docs:read"]).sign();
    let reply = send(&f.app, request("GET", "/stats", Some(&reader), Body::empty())).await;
    reply.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(
        reply.challenge(),
        Some(r#"Bearer realm="docs", error="insufficient_scope", scope="admin:read docs:admin""#)
    );
    for scope in ["admin:read", "docs:admin"] {
        let token = f.issuer.token("alice").scopes([scope]).sign();
        let reply = send(&f.app, request("GET", "/stats", Some(&token), Body::empty())).await;
        assert_eq!(reply.status, StatusCode::OK, "{scope}");
    }
}

#[tokio::test]
async fn stacked_attributes_require_all_rules() {
    let f = fixture(Disclosure::Production);
    let cases = [
        (vec!["docs:read"], StatusCode::FORBIDDEN),
        (vec!["docs:admin"], StatusCode::FORBIDDEN),
        (vec!["docs:read", "docs:admin"], StatusCode::OK),
        (vec!["docs:read", "admin:read"], StatusCode::OK),
    ];
    for (scopes, status) in cases {
        let token = f.issuer.token("alice").scopes(&scopes).sign();
        let reply = send(&f.app, request("GET", "/audit", Some(&token), Body::empty())).await;
        assert_eq!(reply.status, status, "{scopes:?}");
        if status == StatusCode::FORBIDDEN {
            assert_eq!(
                reply.challenge(),
                Some(
                    r#"Bearer realm="docs", error="insufficient_scope", scope="docs:read admin:read docs:admin""#
                )
            );
        }
    }
}

#[tokio::test]
async fn owner_reads_and_the_resource_is_loaded_once() {
    let f = fixture(Disclosure::Production);
    let token = f.issuer.token("alice").scopes(["docs:read"]).sign();
    let reply = send(&f.app, request("GET", "/docs/1", Some(&token), Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"id": 1, "title": "A"}));
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_handler_answers_the_guards_own_404_without_the_state() {
    for disclosure in [Disclosure::Production, Disclosure::Development] {
        let f = fixture(disclosure);
        let token = f.issuer.token("alice").scopes(["docs:read"]).sign();
        let guard = send(&f.app, request("GET", "/docs/999", Some(&token), Body::empty())).await;
        let handler =
            send(&f.app, request("GET", "/docs/1/archived", Some(&token), Body::empty())).await;
        handler.assert_problem(StatusCode::NOT_FOUND);
        assert_eq!(handler.challenge(), None);
        assert_eq!(handler.headers, guard.headers, "{disclosure:?}");
        assert_eq!(handler.bytes, guard.bytes, "{disclosure:?}");
    }
}

#[tokio::test]
async fn absent_foreign_and_unparsable_ids_get_the_same_404() {
    for disclosure in [Disclosure::Production, Disclosure::Development] {
        let f = fixture(disclosure);
        let token = f.issuer.token("alice").scopes(["docs:read"]).sign();
        let foreign = send(&f.app, request("GET", "/docs/2", Some(&token), Body::empty())).await;
        let absent = send(&f.app, request("GET", "/docs/999", Some(&token), Body::empty())).await;
        let garbage =
            send(&f.app, request("GET", "/docs/x%20y", Some(&token), Body::empty())).await;
        for reply in [&foreign, &absent, &garbage] {
            reply.assert_problem(StatusCode::NOT_FOUND);
            assert_eq!(reply.challenge(), None);
            assert_eq!(reply.headers, foreign.headers);
            assert_eq!(reply.bytes, foreign.bytes);
        }
        if disclosure == Disclosure::Production {
            assert_eq!(
                foreign.json(),
                json!({"type": "about:blank", "title": "Not Found", "status": 404})
            );
        }
    }
}

#[tokio::test]
async fn order_matrix_for_a_guarded_update() {
    let f = fixture(Disclosure::Production);
    let writer = f.issuer.token("alice").scopes(["docs:write"]).sign();
    let reader = f.issuer.token("alice").scopes(["docs:read"]).sign();
    let expired = f
        .issuer
        .token("alice")
        .scopes(["docs:write"])
        .expired(std::time::Duration::from_secs(600))
        .sign();
    let good_body = r#"{"title":"new"}"#;
    let bad_body = "{oops";
    // (token, path, query, body) → status; every failure earlier in the order wins.
    let cases: Vec<(Option<&str>, &str, &str, &str, StatusCode)> = vec![
        (None, "/docs/2", "notify=maybe", bad_body, StatusCode::UNAUTHORIZED),
        (Some(&expired), "/docs/999", "", bad_body, StatusCode::UNAUTHORIZED),
        (Some(&reader), "/docs/2", "notify=maybe", bad_body, StatusCode::FORBIDDEN),
        (Some(&reader), "/docs/1", "notify=true", good_body, StatusCode::FORBIDDEN),
        (Some(&writer), "/docs/2", "notify=maybe", bad_body, StatusCode::NOT_FOUND),
        (Some(&writer), "/docs/999", "", bad_body, StatusCode::NOT_FOUND),
        (Some(&writer), "/docs/nope", "notify=maybe", bad_body, StatusCode::NOT_FOUND),
        (Some(&writer), "/docs/1", "notify=maybe", good_body, StatusCode::BAD_REQUEST),
        (Some(&writer), "/docs/1", "notify=true", bad_body, StatusCode::BAD_REQUEST),
        (Some(&writer), "/docs/1", "notify=true", good_body, StatusCode::OK),
    ];
    for (token, path, query, body, status) in cases {
        let uri = format!("{path}?{query}");
        let reply = send(&f.app, request("PUT", &uri, token, Body::from(body))).await;
        assert_eq!(reply.status, status, "{token:?} {uri} {body}");
        match status {
            StatusCode::UNAUTHORIZED if token.is_some() => {
                assert_eq!(reply.challenge(), Some(INVALID_TOKEN));
            }
            StatusCode::UNAUTHORIZED => {
                assert_eq!(reply.challenge(), Some(r#"Bearer realm="docs""#))
            }
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => reply.assert_problem(status),
            _ => {}
        }
    }
    // Nothing was lost: the denied requests left bob's document as it was.
    let bob = f.issuer.token("bob").scopes(["docs:read"]).sign();
    let reply = send(&f.app, request("GET", "/docs/2", Some(&bob), Body::empty())).await;
    assert_eq!(reply.json(), json!({"id": 2, "title": "B"}));
}

#[tokio::test]
async fn development_mode_explains_denials_with_fixed_sentences() {
    let f = fixture(Disclosure::Development);
    let expired = f.issuer.token("alice").expired(std::time::Duration::from_secs(600)).sign();
    let reply = send(&f.app, request("GET", "/me", Some(&expired), Body::empty())).await;
    reply.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.challenge(),
        Some(
            r#"Bearer realm="docs", error="invalid_token", error_description="The access token expired""#
        )
    );
    assert_eq!(reply.json()["detail"], "The access token expired");

    let reader = f.issuer.token("alice").scopes(["docs:read"]).sign();
    let reply = send(&f.app, request("POST", "/docs", Some(&reader), Body::from("{}"))).await;
    assert_eq!(
        reply.challenge(),
        Some(
            r#"Bearer realm="docs", error="insufficient_scope", error_description="The access token lacks a required scope", scope="docs:write""#
        )
    );
    assert_eq!(
        reply.json()["detail"],
        "The access token lacks a required scope; required: docs:write"
    );
}

#[test]
fn declared_scopes_are_an_enum() {
    assert_eq!(Scope::DocsWrite.as_str(), "docs:write");
    assert_eq!(Scope::DocsWrite.to_string(), "docs:write");
    assert_eq!(format!("{:>12}|{}", Scope::DocsRead, Scope::DocsWrite), "   docs:read|docs:write");
    assert_eq!(AsRef::<str>::as_ref(&Scope::DocsWrite), "docs:write");
    let granted: Vec<String> = Scope::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(granted.iter().filter(|scope| scope.starts_with("docs:")).count(), 3);
    assert_eq!(Scope::ALL.len(), 4);
    assert!(Scope::is_declared("admin:read"));
    assert!(!Scope::is_declared("doc:write"));
    assert_eq!(Scope::from_scope("docs:admin"), Some(Scope::DocsAdmin));
}
