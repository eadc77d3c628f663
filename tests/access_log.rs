//! The runtime's access log (`AccessLogLayer`) and internal-error answer (`InternalError`).
//!
//! Alone in its own test binary: a thread-scoped subscriber can miss events from callsites that
//! concurrent tests registered first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::Router;
use axum::routing::get;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, StatusCode};
use portcullis::{InternalError, Principal, Verifier, layer::AccessLogLayer};
use portcullis_tests::{Captured, PROBLEM_JSON, bearer, get_request, send};
use serde_json::json;

/// The secret a failing store would put in its error message.
const SECRET: &str = "password=hunter2 at db.internal:5432";

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for Refused {}

#[derive(Debug)]
struct StoreDown(Refused);

impl std::fmt::Display for StoreDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the store failed ({SECRET})")
    }
}

impl std::error::Error for StoreDown {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

async fn me(principal: Principal) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "sub": principal.subject() }))
}

async fn broken(_principal: Principal) -> Result<String, InternalError> {
    Err(StoreDown(Refused))?
}

async fn broken_by_text() -> Result<String, InternalError> {
    Err(InternalError::message(SECRET))
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/broken", get(broken))
        .route("/text", get(broken_by_text))
        .layer(AccessLogLayer::new())
        .with_state(verifier)
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// The lines of the access log.
fn access_lines(logs: &str) -> Vec<&str> {
    logs.lines().filter(|line| line.contains("portcullis::access_log")).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn one_line_per_request_with_method_route_status_reason_and_duration() {
    let (captured, _guard) = capture();
    let issuer = portcullis::testing::TestIssuer::new();
    let app = app(issuer.verifier().build().unwrap());
    let token = issuer.token("alice").sign();

    let ok = send(app.clone(), bearer("/me?access_token=in-the-query", &token)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers[CONTENT_TYPE], "application/json");
    assert_eq!(ok.body, json!({"sub": "alice"}));

    let denied = send(app.clone(), get_request("/me?q=secret-query")).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert_eq!(denied.headers[CONTENT_TYPE], PROBLEM_JSON);
    assert_eq!(denied.headers[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
    assert_eq!(denied.body, json!({"type": "about:blank", "title": "Unauthorized", "status": 401}));

    let unknown = send(app.clone(), get_request("/nowhere")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let logs = captured.text();
    let lines = access_lines(&logs);
    assert_eq!(lines.len(), 3, "{logs}");
    for (line, (status, denied)) in
        lines.iter().zip([("200", "-"), ("401", "missing_credentials"), ("404", "-")])
    {
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains(&format!("method={}", Method::GET)), "{line}");
        assert!(line.contains(&format!("status={status}")), "{line}");
        assert!(line.contains(&format!("denied=\"{denied}\"")), "{line}");
        assert!(line.contains("micros="), "{line}");
    }
    assert!(lines[0].contains("route=\"/me\""), "{}", lines[0]);
    assert!(lines[1].contains("route=\"/me\""), "{}", lines[1]);
    assert!(lines[2].contains("route=\"-\""), "no route matched: {}", lines[2]);
    assert!(!logs.contains("nowhere"), "the path of an unknown route is not logged: {logs}");
    for forbidden in ["in-the-query", "secret-query", "access_token", "?", token.as_str()] {
        assert!(!logs.contains(forbidden), "the log holds {forbidden:?}: {logs}");
    }
    for part in token.split('.') {
        assert!(!logs.contains(part), "the log holds a token part: {logs}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_internal_error_is_logged_and_answered_with_the_bare_500() {
    let (captured, _guard) = capture();
    let issuer = portcullis::testing::TestIssuer::new();
    let app = app(issuer.verifier().build().unwrap());
    let token = issuer.token("alice").sign();

    for request in [bearer("/broken", &token), get_request("/text")] {
        let reply = send(app.clone(), request).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.headers[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(reply.headers[CONTENT_LENGTH], reply.bytes.len().to_string());
        assert!(reply.headers.get(WWW_AUTHENTICATE).is_none());
        assert_eq!(
            reply.body,
            json!({"type": "about:blank", "title": "Internal Server Error", "status": 500})
        );
        let visible = reply.visible();
        for leaked in [SECRET, "hunter2", "connection refused", "store failed"] {
            assert!(!visible.contains(leaked), "the response holds {leaked:?}: {visible}");
        }
    }

    let logs = captured.text();
    let internal: Vec<&str> =
        logs.lines().filter(|line| line.contains("portcullis::internal")).collect();
    assert_eq!(internal.len(), 2, "{logs}");
    assert!(internal.iter().all(|line| line.contains(" ERROR ")), "{logs}");
    assert!(
        internal[0].contains(&format!("the store failed ({SECRET}): connection refused")),
        "the error and its source: {logs}"
    );
    assert!(internal[1].contains(SECRET), "{logs}");
    let access = access_lines(&logs);
    assert_eq!(access.len(), 2, "{logs}");
    assert!(access.iter().all(|line| line.contains(" ERROR ") && line.contains("status=500")));
}

async fn user(
    principal: Principal,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "reader": principal.subject(), "user": id }))
}

/// The path names principals (`/users/{id}`): the log has the route's template, never the id,
/// whoever asks, whatever the answer, nested routes included; a path that matches no route is
/// logged as `-`, its segments unwritten.
#[tokio::test(flavor = "current_thread")]
async fn the_route_is_logged_never_the_ids_in_the_path() {
    let (captured, _guard) = capture();
    let issuer = portcullis::testing::TestIssuer::new();
    let users = Router::new()
        .route("/users/{id}", get(user))
        .route("/users/{id}/documents/{doc}", get(user_document));
    let app = Router::new()
        .route("/users/{id}", get(user))
        .nest("/v2", users)
        .layer(AccessLogLayer::new())
        .with_state(issuer.verifier().build().unwrap());
    let token = issuer.token("alice").sign();
    let ids: Vec<String> = (0..20).map(|n| format!("principal-{n}-7f3a9c")).collect();

    let mut expected = Vec::new();
    for id in &ids {
        let ok = send(app.clone(), bearer(&format!("/users/{id}"), &token)).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.body, json!({ "reader": "alice", "user": id }));
        expected.push(("/users/{id}", "200"));
        let denied = send(app.clone(), get_request(&format!("/users/{id}"))).await;
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
        assert_eq!(denied.headers[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
        expected.push(("/users/{id}", "401"));
        let nested =
            send(app.clone(), bearer(&format!("/v2/users/{id}/documents/{id}"), &token)).await;
        assert_eq!(nested.status, StatusCode::OK);
        assert_eq!(nested.body, json!({ "user": id, "document": id }));
        expected.push(("/v2/users/{id}/documents/{doc}", "200"));
        let unknown = send(app.clone(), bearer(&format!("/users/{id}/unknown"), &token)).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(unknown.bytes.is_empty());
        expected.push(("-", "404"));
    }

    let logs = captured.text();
    let lines = access_lines(&logs);
    assert_eq!(lines.len(), expected.len(), "{logs}");
    for (line, (route, status)) in lines.iter().zip(&expected) {
        assert!(line.contains(&format!("route=\"{route}\"")), "{line}");
        assert!(line.contains(&format!("status={status}")), "{line}");
        assert!(!line.contains("path="), "{line}");
    }
    for id in &ids {
        assert!(!logs.contains(id.as_str()), "the log holds the id {id}: {logs}");
    }
    assert!(!logs.contains("7f3a9c"), "{logs}");
}

async fn user_document(
    _principal: Principal,
    axum::extract::Path((id, doc)): axum::extract::Path<(String, String)>,
) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "user": id, "document": doc }))
}
