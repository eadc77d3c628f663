//! Authorization beyond scopes, on real routers: roles from claim paths, policies (functions,
//! types, ready-made claim checks), resource access beyond ownership, optional credentials and
//! the router-wide layer, and the order of evaluation across every step, with a body that fails
//! if it is read.
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
use axum::extract::{FromRef, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use http::request::Parts;
use http::{StatusCode, header};
use portcullis::extract;
use portcullis::testing::TestIssuer;
use portcullis::{
    Owned, OwnedResource, Principal, Verifier,
    authorization::{AccessPolicy, PolicyRefusal, ScopeRule},
    layer::RequireAuthLayer,
    resource::{Access, AccessControl, Action},
    response::Disclosure,
};
use portcullis_tests::{Reply, assert_denied, send};
use serde::Deserialize;
use serde_json::{Value, json};

portcullis::roles! {
    /// The roles of this test API.
    pub enum Role {
        Editor = "editor",
        Admin = "documents-admin",
        Auditor = "auditor",
    }
}

const REALM: &str = "docs";
const FORBIDDEN: &str = r#"Bearer realm="docs", error="insufficient_scope""#;
const INVALID_TOKEN: &str = r#"Bearer realm="docs", error="invalid_token""#;
const INVALID_REQUEST: &str = r#"Bearer realm="docs", error="invalid_request""#;

#[derive(Clone, Debug)]
struct Doc {
    id: u64,
    owner: String,
    title: String,
    /// Who may read it besides its owner.
    readers: Vec<String>,
}

#[derive(Clone, Default)]
struct Store {
    docs: Arc<Mutex<HashMap<u64, Doc>>>,
    /// Subjects the `not_blocked` policy refuses.
    blocked: Arc<Mutex<Vec<String>>>,
    loads: Arc<AtomicUsize>,
    /// How often a user policy ran.
    policy_runs: Arc<AtomicUsize>,
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

    /// The owner does everything; a reader reads; administrators read everything; anyone else
    /// does not see it.
    fn access(&self, principal: &Principal, action: Action) -> Access {
        if self.owner == principal.id() {
            Access::Allowed
        } else if self.readers.iter().any(|reader| reader == principal.id())
            || principal.has_role("documents-admin")
        {
            if action == Action::Read { Access::Allowed } else { Access::Forbidden }
        } else {
            Access::NotVisible
        }
    }
}

/// Actions of this application's own.
enum DocAction {
    Comment,
    Publish,
}

impl AccessControl<DocAction> for Doc {
    fn access_for(&self, principal: &Principal, action: &DocAction) -> Access {
        let reader = self.readers.iter().any(|reader| reader == principal.id());
        match action {
            _ if self.owner == principal.id() => Access::Allowed,
            DocAction::Comment if reader => Access::Allowed,
            DocAction::Publish if reader => Access::Forbidden,
            _ => Access::NotVisible,
        }
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    store: Store,
}

/// An async policy with state: the subject must not be on the store's blocklist.
#[portcullis::policy]
async fn not_blocked(
    principal: &Principal,
    _head: &Parts,
    store: &Store,
) -> Result<(), PolicyRefusal> {
    store.policy_runs.fetch_add(1, Ordering::SeqCst);
    let blocked = store.blocked.lock().unwrap().iter().any(|b| b == principal.subject());
    if blocked { Err(PolicyRefusal::ACCOUNT_NOT_ELIGIBLE) } else { Ok(()) }
}

/// A sync policy on the request head.
#[portcullis::policy]
fn from_the_app(_principal: &Principal, head: &Parts) -> bool {
    head.headers.get("x-client").is_some_and(|client| client == "app")
}

/// A policy type with its own fixed reason.
struct OfficeHours;

impl AccessPolicy for OfficeHours {
    type State = Store;

    async fn check(principal: &Principal, _: &Parts, store: &Store) -> Result<(), PolicyRefusal> {
        store.policy_runs.fetch_add(1, Ordering::SeqCst);
        if principal.claim("night_shift") == Some(&json!(true)) {
            Err(PolicyRefusal::because("Outside office hours"))
        } else {
            Ok(())
        }
    }
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

/// Every step at once, with the user's extractors in an order that would read the query, the
/// path and the body first if the guard did not run before them.
#[portcullis::requires_scope("docs:write")]
#[portcullis::requires_role(Role::Editor)]
#[portcullis::requires_policy(claim_true("email_verified"), not_blocked)]
#[portcullis::owner_only(Doc, action = write)]
async fn edit(
    extract::Query(_params): extract::Query<Params>,
    extract::Path(id): extract::Path<u64>,
    State(store): State<Store>,
    doc: Owned<Doc>,
    extract::Json(patch): extract::Json<Patch>,
) -> Json<Value> {
    let mut updated = doc.into_inner();
    updated.title = patch.title;
    store.docs.lock().unwrap().insert(id, updated.clone());
    Json(json!({"id": updated.id, "title": updated.title}))
}

#[portcullis::requires_role(Role::Admin)]
async fn admin() -> Json<Value> {
    Json(json!("admin"))
}

#[portcullis::requires_role(any(Role::Admin, Role::Auditor))]
async fn audit() -> Json<Value> {
    Json(json!("audit"))
}

#[portcullis::requires_role("editor", declared_in = Role)]
#[portcullis::requires_role(any(Role::Admin, Role::Auditor))]
async fn stacked() -> Json<Value> {
    Json(json!("stacked"))
}

#[portcullis::requires_policy(
    claim_equals("tenant", "acme"),
    claim_equals("org.tier", 2),
    claim_equals("beta", true),
    claim_includes("groups", "staff", "editors")
)]
async fn claims() -> Json<Value> {
    Json(json!("claims"))
}

#[portcullis::requires_policy(from_the_app)]
async fn app_only() -> Json<Value> {
    Json(json!("app"))
}

#[portcullis::requires_scope("docs:read")]
#[portcullis::requires_policy(OfficeHours)]
async fn office(Json(value): Json<Value>) -> Json<Value> {
    Json(value)
}

#[portcullis::requires_scope("docs:read")]
#[portcullis::owner_only(Doc)]
async fn read(doc: Owned<Doc>) -> Json<Value> {
    Json(json!({"id": doc.id, "title": doc.title}))
}

#[portcullis::requires_scope("docs:write")]
#[portcullis::owner_only(Doc, action = delete)]
async fn remove(doc: Owned<Doc>, State(store): State<Store>) -> StatusCode {
    store.docs.lock().unwrap().remove(&doc.id);
    StatusCode::NO_CONTENT
}

#[portcullis::owner_only(Doc, action = DocAction::Comment)]
async fn comment(doc: Owned<Doc>) -> Json<Value> {
    Json(json!(format!("comment on {}", doc.id)))
}

#[portcullis::owner_only(Doc, action = DocAction::Publish)]
async fn publish(doc: Owned<Doc>) -> Json<Value> {
    Json(json!(format!("publish {}", doc.id)))
}

/// Credentials are optional; the parameters put the query and the body first.
#[portcullis::authenticated(optional)]
async fn whoami(
    Query(_params): Query<HashMap<String, String>>,
    principal: Option<Principal>,
    Json(_body): Json<Value>,
) -> Json<Value> {
    Json(json!({"subject": principal.as_ref().map(Principal::subject)}))
}

struct Fixture {
    issuer: TestIssuer,
    app: Router,
    store: Store,
}

fn verifier(issuer: &TestIssuer, disclosure: Disclosure) -> Verifier {
    issuer
        .verifier()
        .realm(REALM)
        .disclosure(disclosure)
        .role_claims(["realm_access.roles", "cognito:groups", "resource_access.docs.roles"])
        .dangerous()
        .allow_query_token()
        .build()
        .expect("verifier")
}

fn fixture(disclosure: Disclosure) -> Fixture {
    let issuer = TestIssuer::new();
    let verifier = verifier(&issuer, disclosure);
    let store = Store::default();
    {
        let mut docs = store.docs.lock().unwrap();
        let doc = |id, owner: &str, readers: &[&str]| Doc {
            id,
            owner: owner.into(),
            title: format!("doc {id}"),
            readers: readers.iter().map(|r| (*r).to_owned()).collect(),
        };
        docs.insert(1, doc(1, "alice", &["bob"]));
        docs.insert(2, doc(2, "carol", &[]));
    }
    let app = Router::new()
        .route("/docs/{id}", get(read).put(edit).delete(remove))
        .route("/docs/{id}/comment", post(comment))
        .route("/docs/{id}/publish", post(publish))
        .route("/admin", get(admin))
        .route("/audit", get(audit))
        .route("/stacked", get(stacked))
        .route("/claims", get(claims))
        .route("/app", get(app_only))
        .route("/office", post(office))
        .route("/whoami", post(whoami))
        .with_state(AppState { verifier, store: store.clone() });
    Fixture { issuer, app, store }
}

impl Fixture {
    /// A token for `subject` with `scopes` and the Keycloak-style `roles`, email verified.
    fn token(&self, subject: &str, scopes: &[&str], roles: &[&str]) -> String {
        self.issuer
            .token(subject)
            .scopes(scopes)
            .claim("realm_access", json!({"roles": roles}))
            .claim("email_verified", true)
            .sign()
    }
}

fn request(method: &str, uri: &str, token: Option<&str>, body: Body) -> http::Request<Body> {
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.header(header::CONTENT_TYPE, "application/json").body(body).unwrap()
}

/// A body that counts its polls and fails if it is read.
fn tripwire(polls: &Arc<AtomicUsize>) -> Body {
    let polls = Arc::clone(polls);
    Body::from_stream(futures_util::stream::poll_fn(move |_| {
        polls.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Err::<Bytes, _>(std::io::Error::other("body was read"))))
    }))
}

/// A 403 of an action the caller may not perform on a resource it may see: a problem document
/// and no challenge.
fn assert_action_forbidden(reply: &Reply) {
    assert_denied(reply, StatusCode::FORBIDDEN, None, None);
    assert_eq!(reply.body, json!({"type": "about:blank", "title": "Forbidden", "status": 403}));
}

// ---------------------------------------------------------------------------------------------
// Roles

#[tokio::test]
async fn a_role_from_a_claim_path_reaches_the_handler() {
    let f = fixture(Disclosure::Production);
    let token = f.token("alice", &[], &["documents-admin"]);
    let reply = send(f.app.clone(), request("GET", "/admin", Some(&token), Body::empty())).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("admin")));

    // Cognito's `cognito:groups` (a segment with `:`) and Keycloak's client roles, a
    // space-delimited string here, are read as well.
    let cognito = f.issuer.token("alice").claim("cognito:groups", json!(["auditor"])).sign();
    let client = f
        .issuer
        .token("alice")
        .claim("resource_access", json!({"docs": {"roles": "viewer auditor"}}))
        .sign();
    for token in [cognito, client] {
        let reply =
            send(f.app.clone(), request("GET", "/audit", Some(&token), Body::empty())).await;
        assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("audit")));
    }
}

#[tokio::test]
async fn a_missing_role_is_403_insufficient_scope_without_a_scope_list() {
    let f = fixture(Disclosure::Production);
    for token in [
        f.token("alice", &["docs:read", "docs:write"], &["editor"]),
        // A role claim of another shape grants nothing.
        f.issuer
            .token("alice")
            .claim("realm_access", json!({"roles": {"documents-admin": true}}))
            .sign(),
        f.issuer
            .token("alice")
            .claim("realm_access", json!({"roles": ["documents-admin", 1]}))
            .sign(),
        // Roles elsewhere than the configured paths are not roles.
        f.issuer.token("alice").claim("roles", json!(["documents-admin"])).sign(),
        // Nor is a scope of the same name.
        f.issuer.token("alice").scopes(["documents-admin"]).sign(),
    ] {
        let reply =
            send(f.app.clone(), request("GET", "/admin", Some(&token), Body::empty())).await;
        assert_denied(&reply, StatusCode::FORBIDDEN, Some(FORBIDDEN), None);
        assert_eq!(reply.body, json!({"type": "about:blank", "title": "Forbidden", "status": 403}));
    }
}

#[tokio::test]
async fn development_mode_names_the_missing_role() {
    let f = fixture(Disclosure::Development);
    let token = f.token("alice", &[], &["editor"]);
    let reply = send(f.app.clone(), request("GET", "/admin", Some(&token), Body::empty())).await;
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(
            r#"Bearer realm="docs", error="insufficient_scope", error_description="The access token lacks a required role: documents-admin""#,
        ),
        Some("The access token lacks a required role; missing: documents-admin"),
    );
    // For an unmet `any(..)`, every alternative.
    let reply = send(f.app.clone(), request("GET", "/audit", Some(&token), Body::empty())).await;
    assert_eq!(
        reply.challenge(),
        Some(
            r#"Bearer realm="docs", error="insufficient_scope", error_description="The access token lacks a required role: documents-admin auditor""#
        )
    );
}

#[tokio::test]
async fn roles_follow_the_scope_grammar_all_any_and_stacked() {
    let f = fixture(Disclosure::Production);
    let cases: [(&[&str], StatusCode); 5] = [
        (&["editor"], StatusCode::FORBIDDEN),
        (&["auditor"], StatusCode::FORBIDDEN),
        (&["editor", "auditor"], StatusCode::OK),
        (&["editor", "documents-admin"], StatusCode::OK),
        (&["Editor", "auditor"], StatusCode::FORBIDDEN),
    ];
    for (roles, status) in cases {
        let token = f.token("alice", &[], roles);
        let reply =
            send(f.app.clone(), request("GET", "/stacked", Some(&token), Body::empty())).await;
        assert_eq!(reply.status, status, "{roles:?}");
        if status == StatusCode::FORBIDDEN {
            assert_denied(&reply, status, Some(FORBIDDEN), None);
        }
    }
}

#[test]
fn declared_roles_are_an_enum() {
    assert_eq!(Role::Admin.as_str(), "documents-admin");
    assert_eq!(Role::ALL.len(), 3);
    assert!(Role::is_declared("auditor"));
    assert!(!Role::is_declared("admin"));
    assert_eq!(Role::from_role("editor"), Some(Role::Editor));
    // Display and AsRef<str>: the role as tokens carry it, wherever a string is wanted.
    assert_eq!(Role::Admin.to_string(), "documents-admin");
    assert_eq!(format!("[{:<8}]", Role::Editor), "[editor  ]");
    assert_eq!(AsRef::<str>::as_ref(&Role::Auditor), "auditor");
    fn claim_value(roles: &[impl AsRef<str>]) -> Vec<&str> {
        roles.iter().map(AsRef::as_ref).collect()
    }
    assert_eq!(claim_value(&[Role::Editor, Role::Auditor]), ["editor", "auditor"]);
}

// ---------------------------------------------------------------------------------------------
// Policies

#[tokio::test]
async fn ready_made_claim_checks_compare_type_and_value() {
    let f = fixture(Disclosure::Production);
    let good = || {
        f.issuer
            .token("alice")
            .claim("tenant", "acme")
            .claim("org", json!({"tier": 2}))
            .claim("beta", true)
            .claim("groups", json!(["editors", "staff", "other"]))
    };
    let reply =
        send(f.app.clone(), request("GET", "/claims", Some(&good().sign()), Body::empty())).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("claims")));
    let refused = [
        good().claim("tenant", "Acme").sign(),
        good().without_claim("tenant").sign(),
        good().claim("org", json!({"tier": "2"})).sign(),
        good().claim("beta", "true").sign(),
        good().claim("groups", json!(["staff"])).sign(),
        good().claim("groups", "staff").sign(),
    ];
    for token in refused {
        let reply =
            send(f.app.clone(), request("GET", "/claims", Some(&token), Body::empty())).await;
        assert_denied(&reply, StatusCode::FORBIDDEN, Some(FORBIDDEN), None);
    }
    // Space-delimited groups include too.
    let token = good().claim("groups", "staff editors").sign();
    let reply = send(f.app.clone(), request("GET", "/claims", Some(&token), Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn a_sync_policy_sees_the_request_head() {
    let f = fixture(Disclosure::Development);
    let token = f.token("alice", &[], &[]);
    let mut ok = request("GET", "/app", Some(&token), Body::empty());
    ok.headers_mut().insert("x-client", "app".parse().unwrap());
    let reply = send(f.app.clone(), ok).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("app")));

    let reply = send(f.app.clone(), request("GET", "/app", Some(&token), Body::empty())).await;
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(
            r#"Bearer realm="docs", error="insufficient_scope", error_description="The request is not permitted by policy""#,
        ),
        Some("The request is not permitted by policy"),
    );
}

#[tokio::test]
async fn a_policy_type_gives_its_own_fixed_reason_in_development_only() {
    for disclosure in [Disclosure::Production, Disclosure::Development] {
        let f = fixture(disclosure);
        let token = f.issuer.token("alice").scopes(["docs:read"]).claim("night_shift", true).sign();
        let polls = Arc::new(AtomicUsize::new(0));
        let reply =
            send(f.app.clone(), request("POST", "/office", Some(&token), tripwire(&polls))).await;
        assert_eq!(polls.load(Ordering::SeqCst), 0, "the body was read");
        match disclosure {
            Disclosure::Production => {
                assert_denied(&reply, StatusCode::FORBIDDEN, Some(FORBIDDEN), None);
            }
            Disclosure::Development => assert_denied(
                &reply,
                StatusCode::FORBIDDEN,
                Some(
                    r#"Bearer realm="docs", error="insufficient_scope", error_description="Outside office hours""#,
                ),
                Some("Outside office hours"),
            ),
        }
        // Nothing of the claims in the answer.
        assert!(!reply.visible().contains("night_shift"));
    }
}

#[tokio::test]
async fn a_policy_runs_after_the_scopes_and_before_the_resource() {
    let f = fixture(Disclosure::Production);
    // Without the scope, the policy never runs.
    let reader = f.issuer.token("alice").claim("night_shift", true).sign();
    let reply =
        send(f.app.clone(), request("POST", "/office", Some(&reader), Body::from("{}"))).await;
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="docs", error="insufficient_scope", scope="docs:read""#),
        None,
    );
    assert_eq!(f.store.policy_runs.load(Ordering::SeqCst), 0);

    // A policy refusal leaves the resource unloaded.
    f.store.blocked.lock().unwrap().push("alice".into());
    let token = f.token("alice", &["docs:write"], &["editor"]);
    let reply = send(
        f.app.clone(),
        request("PUT", "/docs/1?notify=true", Some(&token), Body::from(r#"{"title":"x"}"#)),
    )
    .await;
    assert_denied(&reply, StatusCode::FORBIDDEN, Some(FORBIDDEN), None);
    assert_eq!(f.store.policy_runs.load(Ordering::SeqCst), 1);
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn roles_are_checked_before_policies() {
    let f = fixture(Disclosure::Development);
    f.store.blocked.lock().unwrap().push("mallory".into());
    let role_challenge = r#"Bearer realm="docs", error="insufficient_scope", error_description="The access token lacks a required role: editor""#;
    let role_detail = "The access token lacks a required role; missing: editor";
    // Without the role, and refused by either policy too: `not_blocked` (mallory is on the
    // list) or the ready-made `email_verified` check. The role answers, and no policy runs.
    let blocked = f.token("mallory", &["docs:write"], &["auditor"]);
    let unverified = f
        .issuer
        .token("alice")
        .scopes(["docs:write"])
        .claim("realm_access", json!({"roles": ["auditor"]}))
        .claim("email_verified", false)
        .sign();
    for token in [&blocked, &unverified] {
        let polls = Arc::new(AtomicUsize::new(0));
        let reply = send(
            f.app.clone(),
            request("PUT", "/docs/1?notify=true", Some(token), tripwire(&polls)),
        )
        .await;
        assert_denied(&reply, StatusCode::FORBIDDEN, Some(role_challenge), Some(role_detail));
        assert_eq!(polls.load(Ordering::SeqCst), 0, "the body was read");
    }
    assert_eq!(f.store.policy_runs.load(Ordering::SeqCst), 0, "a policy ran before the role");
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 0);

    // With the role, the same refusals come from the policies: they were only waiting.
    let blocked = f.token("mallory", &["docs:write"], &["editor"]);
    let reply =
        send(f.app.clone(), request("PUT", "/docs/1?notify=true", Some(&blocked), Body::empty()))
            .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_ne!(reply.challenge(), Some(role_challenge));
    assert_eq!(f.store.policy_runs.load(Ordering::SeqCst), 1);
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------------
// Resource access

#[tokio::test]
async fn a_reader_reads_but_may_not_write_or_delete() {
    let f = fixture(Disclosure::Production);
    let bob = f.token("bob", &["docs:read", "docs:write"], &["editor"]);
    let reply = send(f.app.clone(), request("GET", "/docs/1", Some(&bob), Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"id": 1, "title": "doc 1"}));

    let polls = Arc::new(AtomicUsize::new(0));
    let put =
        send(f.app.clone(), request("PUT", "/docs/1?notify=true", Some(&bob), tripwire(&polls)))
            .await;
    assert_action_forbidden(&put);
    let delete = send(f.app.clone(), request("DELETE", "/docs/1", Some(&bob), Body::empty())).await;
    assert_action_forbidden(&delete);
    assert_eq!(polls.load(Ordering::SeqCst), 0, "the body was read");
    // The document is as it was.
    assert_eq!(f.store.docs.lock().unwrap()[&1].title, "doc 1");
    // One lookup per request.
    assert_eq!(f.store.loads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_stranger_gets_the_same_404_as_for_an_absent_document() {
    for disclosure in [Disclosure::Production, Disclosure::Development] {
        let f = fixture(disclosure);
        let dave = f.token("dave", &["docs:read", "docs:write"], &["editor"]);
        for method in ["GET", "DELETE"] {
            let foreign =
                send(f.app.clone(), request(method, "/docs/1", Some(&dave), Body::empty())).await;
            let absent =
                send(f.app.clone(), request(method, "/docs/9", Some(&dave), Body::empty())).await;
            assert_eq!(foreign.status, StatusCode::NOT_FOUND);
            assert_eq!(foreign.challenge(), None);
            assert_eq!(foreign.headers, absent.headers);
            assert_eq!(foreign.bytes, absent.bytes);
        }
    }
}

#[tokio::test]
async fn an_administrator_role_reads_every_document_but_changes_none() {
    let f = fixture(Disclosure::Production);
    let admin = f.token("root", &["docs:read", "docs:write"], &["documents-admin"]);
    let reply = send(f.app.clone(), request("GET", "/docs/2", Some(&admin), Body::empty())).await;
    assert_eq!(reply.body, json!({"id": 2, "title": "doc 2"}));
    let reply =
        send(f.app.clone(), request("DELETE", "/docs/2", Some(&admin), Body::empty())).await;
    assert_action_forbidden(&reply);
}

#[tokio::test]
async fn actions_of_the_applications_own_enum() {
    let f = fixture(Disclosure::Production);
    let bob = f.token("bob", &[], &[]);
    let alice = f.token("alice", &[], &[]);
    let carol = f.token("carol", &[], &[]);
    let reply =
        send(f.app.clone(), request("POST", "/docs/1/comment", Some(&bob), Body::empty())).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("comment on 1")));
    let reply =
        send(f.app.clone(), request("POST", "/docs/1/publish", Some(&bob), Body::empty())).await;
    assert_action_forbidden(&reply);
    let reply =
        send(f.app.clone(), request("POST", "/docs/1/publish", Some(&alice), Body::empty())).await;
    assert_eq!(reply.status, StatusCode::OK);
    let foreign =
        send(f.app.clone(), request("POST", "/docs/1/publish", Some(&carol), Body::empty())).await;
    let absent =
        send(f.app.clone(), request("POST", "/docs/7/publish", Some(&carol), Body::empty())).await;
    assert_denied(&foreign, StatusCode::NOT_FOUND, None, None);
    assert_eq!((foreign.headers, foreign.bytes), (absent.headers, absent.bytes));
}

// ---------------------------------------------------------------------------------------------
// Optional credentials

#[tokio::test]
async fn optional_credentials_without_a_token_reach_the_handler_with_no_principal() {
    let f = fixture(Disclosure::Production);
    for authorization in [None, Some("Basic YWxpY2U6c2VjcmV0")] {
        let mut request = request("POST", "/whoami", None, Body::from("{}"));
        if let Some(value) = authorization {
            request.headers_mut().insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        let reply = send(f.app.clone(), request).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(reply.body, json!({"subject": null}));
        assert_eq!(reply.challenge(), None);
    }
    let token = f.token("alice", &[], &[]);
    let reply =
        send(f.app.clone(), request("POST", "/whoami", Some(&token), Body::from("{}"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(reply.body, json!({"subject": "alice"}));
    assert_eq!(reply.challenge(), None);
}

#[tokio::test]
async fn optional_credentials_refuse_bad_ones_before_any_extractor() {
    let f = fixture(Disclosure::Production);
    let token = f.token("alice", &[], &[]);
    let expired = f.issuer.token("alice").expired(std::time::Duration::from_secs(600)).sign();

    let invalid = |token: &str| request("POST", "/whoami?x=1", Some(token), Body::empty());
    let two_headers = {
        let mut request = invalid(&token);
        request
            .headers_mut()
            .append(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        request
    };
    let two_transports =
        request("POST", &format!("/whoami?access_token={token}"), Some(&token), Body::empty());
    // (request, status, challenge, detail): a 400 describes the request, so Production shows
    // its detail; a 401 says nothing of the token.
    let cases = [
        (invalid("not.a.jwt"), StatusCode::UNAUTHORIZED, INVALID_TOKEN, None),
        (invalid(&expired), StatusCode::UNAUTHORIZED, INVALID_TOKEN, None),
        (
            two_headers,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Some("The request has more than one Authorization header"),
        ),
        (
            two_transports,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Some("The request carries more than one access token"),
        ),
    ];
    for (request, status, challenge, detail) in cases {
        let polls = Arc::new(AtomicUsize::new(0));
        let (parts, _) = request.into_parts();
        let request = http::Request::from_parts(parts, tripwire(&polls));
        let reply = send(f.app.clone(), request).await;
        // A problem document, Content-Type included.
        assert_denied(&reply, status, Some(challenge), detail);
        let title = status.canonical_reason().unwrap();
        let mut expected =
            json!({"type": "about:blank", "title": title, "status": status.as_u16()});
        if let Some(detail) = detail {
            expected["detail"] = json!(detail);
        }
        assert_eq!(reply.body, expected);
        assert_eq!(polls.load(Ordering::SeqCst), 0, "the body was read");
    }
}

// ---------------------------------------------------------------------------------------------
// The order of evaluation across every step

#[tokio::test]
async fn order_matrix_across_every_step() {
    let f = fixture(Disclosure::Production);
    let full = f.token("alice", &["docs:write"], &["editor"]);
    let no_scope = f.token("alice", &["docs:read"], &["editor"]);
    let no_role = f.token("alice", &["docs:write"], &["auditor"]);
    let unverified = f
        .issuer
        .token("alice")
        .scopes(["docs:write"])
        .claim("realm_access", json!({"roles": ["editor"]}))
        .claim("email_verified", false)
        .sign();
    let blocked = f.token("mallory", &["docs:write"], &["editor"]);
    f.store.blocked.lock().unwrap().push("mallory".into());
    let reader = f.token("bob", &["docs:write"], &["editor"]);
    let expired = f.issuer.token("alice").expired(std::time::Duration::from_secs(600)).sign();

    let good = r#"{"title":"new"}"#;
    let bad = "{oops";
    let scope_challenge = r#"Bearer realm="docs", error="insufficient_scope", scope="docs:write""#;
    // (token, path, query, body, status, challenge); `None` as the body is the tripwire: the
    // request must be refused without reading it. Every failure earlier in the order wins.
    type Case<'a> =
        (Option<&'a str>, &'a str, &'a str, Option<&'a str>, StatusCode, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            None,
            "/docs/2",
            "notify=maybe",
            None,
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer realm="docs""#),
        ),
        (Some(&expired), "/docs/9", "", None, StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN)),
        (
            Some(&no_scope),
            "/docs/2",
            "notify=maybe",
            None,
            StatusCode::FORBIDDEN,
            Some(scope_challenge),
        ),
        (Some(&no_role), "/docs/2", "notify=maybe", None, StatusCode::FORBIDDEN, Some(FORBIDDEN)),
        (
            Some(&unverified),
            "/docs/9",
            "notify=maybe",
            None,
            StatusCode::FORBIDDEN,
            Some(FORBIDDEN),
        ),
        (
            Some(&blocked),
            "/docs/nope",
            "notify=maybe",
            None,
            StatusCode::FORBIDDEN,
            Some(FORBIDDEN),
        ),
        (Some(&full), "/docs/2", "notify=maybe", None, StatusCode::NOT_FOUND, None),
        (Some(&full), "/docs/9", "", None, StatusCode::NOT_FOUND, None),
        (Some(&full), "/docs/nope", "notify=maybe", None, StatusCode::NOT_FOUND, None),
        (Some(&reader), "/docs/1", "notify=maybe", None, StatusCode::FORBIDDEN, None),
        (Some(&full), "/docs/1", "notify=maybe", Some(good), StatusCode::BAD_REQUEST, None),
        (Some(&full), "/docs/1", "notify=true", Some(bad), StatusCode::BAD_REQUEST, None),
        (Some(&full), "/docs/1", "notify=true", Some(good), StatusCode::OK, None),
    ];
    for (token, path, query, body, status, challenge) in cases {
        let uri = format!("{path}?{query}");
        let polls = Arc::new(AtomicUsize::new(0));
        let body = body.map_or_else(|| tripwire(&polls), |body| Body::from(body.to_owned()));
        let reply = send(f.app.clone(), request("PUT", &uri, token, body)).await;
        assert_eq!(reply.status, status, "{token:?} {uri}");
        assert_eq!(reply.challenge(), challenge, "{token:?} {uri}");
        assert_eq!(polls.load(Ordering::SeqCst), 0, "{token:?} {uri}: the body was read");
        if status != StatusCode::OK && status != StatusCode::BAD_REQUEST {
            assert_denied(&reply, status, challenge, None);
        }
    }
    assert_eq!(f.store.docs.lock().unwrap()[&1].title, "new");
    assert_eq!(f.store.docs.lock().unwrap()[&2].title, "doc 2");
}

// ---------------------------------------------------------------------------------------------
// The router-wide layer

/// What a plain handler behind the layer sees.
async fn plain(principal: Principal) -> Json<Value> {
    Json(json!(principal.subject()))
}

#[portcullis::requires_scope("docs:write")]
async fn guarded(principal: Principal, Json(value): Json<Value>) -> Json<Value> {
    Json(json!({"sub": principal.subject(), "value": value}))
}

/// Removes the credentials once the layer has seen them: a guard behind it that verified the
/// token again would find none.
async fn strip_credentials(mut request: Request, next: Next) -> Response {
    request.headers_mut().remove(header::AUTHORIZATION);
    next.run(request).await
}

fn layered(issuer: &TestIssuer) -> Router {
    let verifier = verifier(issuer, Disclosure::Production);
    Router::new()
        .route("/plain", get(plain))
        .route("/guarded", put(guarded))
        .route_layer(middleware::from_fn(strip_credentials))
        .route_layer(
            RequireAuthLayer::new(verifier.clone()).scopes(&[ScopeRule::All(&["docs:read"])]),
        )
        .with_state(verifier)
}

#[tokio::test]
async fn the_layer_guards_every_route_before_its_extractors() {
    let issuer = TestIssuer::new();
    let app = layered(&issuer);
    let token = issuer.token("alice").scopes(["docs:write"]).sign();
    let cases = [
        (None, StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="docs""#.to_owned())),
        (Some("not.a.jwt".to_owned()), StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN.to_owned())),
        (
            Some(token),
            StatusCode::FORBIDDEN,
            Some(
                r#"Bearer realm="docs", error="insufficient_scope", scope="docs:read""#.to_owned(),
            ),
        ),
    ];
    for (token, status, challenge) in cases {
        for (method, uri) in [("GET", "/plain"), ("PUT", "/guarded")] {
            let polls = Arc::new(AtomicUsize::new(0));
            let reply =
                send(app.clone(), request(method, uri, token.as_deref(), tripwire(&polls))).await;
            assert_denied(&reply, status, challenge.as_deref(), None);
            assert_eq!(polls.load(Ordering::SeqCst), 0, "the body was read");
        }
    }
    // Routes the router does not have are still 404, not 401.
    let reply = send(app.clone(), request("GET", "/nowhere", None, Body::empty())).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn guards_behind_the_layer_reuse_its_principal() {
    let issuer = TestIssuer::new();
    let app = layered(&issuer);
    let reader = issuer.token("alice").scopes(["docs:read"]).sign();
    let writer = issuer.token("bob").scopes(["docs:read", "docs:write"]).sign();
    // The credentials are gone by the time the handler runs: the principal is the layer's.
    let reply = send(app.clone(), request("GET", "/plain", Some(&reader), Body::empty())).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("alice")));
    let reply =
        send(app.clone(), request("PUT", "/guarded", Some(&writer), Body::from("[1]"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"sub": "bob", "value": [1]}));
    // The attribute's own requirement still holds.
    let polls = Arc::new(AtomicUsize::new(0));
    let reply =
        send(app.clone(), request("PUT", "/guarded", Some(&reader), tripwire(&polls))).await;
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="docs", error="insufficient_scope", scope="docs:write""#),
        None,
    );
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn no_new_denial_reflects_the_token_or_its_claims() {
    const MARK: &str = "Qx7";
    for disclosure in [Disclosure::Production, Disclosure::Development] {
        let f = fixture(disclosure);
        let marked = |subject: &str| {
            f.issuer
                .token(subject)
                .scopes(["docs:read", "docs:write", "Qx7:scope"])
                .claim("realm_access", json!({"roles": ["Qx7-role", "editor"]}))
                .claim("tenant", "Qx7-tenant")
                .claim("groups", json!(["Qx7"]))
                .claim("night_shift", true)
                .claim("email_verified", "Qx7")
                .sign()
        };
        let bob = marked("bob");
        let requests = [
            ("GET", "/admin", marked("alice")),
            ("GET", "/claims", marked("alice")),
            ("POST", "/office", marked("alice")),
            ("PUT", "/docs/1?notify=true", marked("alice")),
            ("DELETE", "/docs/1", bob.clone()),
            ("POST", "/docs/1/publish", bob),
        ];
        for (method, uri, token) in requests {
            let reply =
                send(f.app.clone(), request(method, uri, Some(&token), Body::from("{}"))).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {uri}");
            let visible = reply.visible();
            assert!(!visible.to_lowercase().contains(&MARK.to_lowercase()), "{visible}");
            assert!(!visible.contains(&token[..16]), "{visible}");
        }
    }
}
