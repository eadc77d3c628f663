//! Denials are logged with their precise reason and never with the token; the `Owned` extractor
//! works without the attribute; a failing resource lookup is a bare 500.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::FromRef;
use axum::routing::get;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::testing::TestIssuer;
use portcullis::{Owned, OwnedResource, Principal, Verifier};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

struct Note {
    owner: String,
    text: String,
}

#[derive(Clone)]
struct Notes {
    fail: bool,
}

impl OwnedResource for Note {
    type State = Notes;
    type Id = u32;
    type Error = std::io::Error;

    async fn load(id: u32, notes: &Notes) -> Result<Option<Self>, Self::Error> {
        if notes.fail {
            return Err(std::io::Error::other("connection to db-7.internal refused"));
        }
        Ok((id == 1).then(|| Note { owner: "alice".into(), text: "hi".into() }))
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    notes: Notes,
}

async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

/// No attribute: the extractor authenticates and checks ownership itself.
async fn note(note: Owned<Note>) -> String {
    note.text.clone()
}

fn app(issuer: &TestIssuer, fail: bool) -> Router {
    let verifier = issuer.verifier().build().unwrap();
    Router::new()
        .route("/me", get(me))
        .route("/notes/{id}", get(note))
        .with_state(AppState { verifier, notes: Notes { fail } })
}

async fn send(
    app: &Router,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut request = Request::builder().uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() || status == StatusCode::OK {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

#[tokio::test(flavor = "current_thread")]
async fn denials_are_logged_with_the_reason_and_without_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let issuer = TestIssuer::new();
    let app = app(&issuer, false);
    let expired = issuer.token("alice").expired(std::time::Duration::from_secs(3600)).sign();
    let (status, _, _) = send(&app, "/me", Some(&expired)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let logs = captured.text();
    assert!(logs.contains("reason=\"expired\""), "{logs}");
    assert!(logs.contains("reason=\"missing_credentials\""), "{logs}");
    assert!(logs.contains("status=401"), "{logs}");
    for part in expired.split('.') {
        assert!(!logs.contains(part), "the log holds a token part: {logs}");
    }
    assert!(!logs.contains("alice"), "the log holds a claim value: {logs}");
}

#[tokio::test]
async fn owned_extractor_checks_ownership_on_its_own() {
    let issuer = TestIssuer::new();
    let app = app(&issuer, false);
    let alice = issuer.token("alice").sign();
    let bob = issuer.token("bob").sign();
    assert_eq!(send(&app, "/notes/1", Some(&alice)).await.2, json!("hi"));
    let (status, headers, body) = send(&app, "/notes/1", Some(&bob)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(body, json!({"type": "about:blank", "title": "Not Found", "status": 404}));
    let (status, headers, _) = send(&app, "/notes/1", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], r#"Bearer realm="api""#);
}

#[tokio::test]
async fn a_failing_lookup_is_a_bare_500_that_leaks_nothing() {
    let issuer = TestIssuer::new();
    let app = app(&issuer, true);
    let alice = issuer.token("alice").sign();
    let (status, headers, body) = send(&app, "/notes/1", Some(&alice)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(
        body,
        json!({"type": "about:blank", "title": "Internal Server Error", "status": 500})
    );
}
