//! The `Owned` extractor works without the attribute; a failing resource lookup is a bare 500;
//! a principal is reused only by the verifier that verified it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

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

#[tokio::test]
async fn a_principal_verified_by_one_verifier_is_not_reused_by_another() {
    let issuer = TestIssuer::new();
    let for_a = issuer.verifier().build().unwrap();
    // Same key and issuer, another audience: only a fresh verification notices.
    let for_b = Verifier::builder()
        .issuer(issuer.issuer())
        .audience("other-api")
        .key(issuer.verification_key())
        .build()
        .unwrap();
    let token = issuer.token("alice").sign();
    let (mut parts, ()) = Request::builder()
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(for_a.authenticate_once(&mut parts).await.unwrap().subject(), "alice");
    // The same verifier reuses it…
    assert!(for_a.authenticate_once(&mut parts).await.is_ok());
    // …another one verifies again, and refuses a token that is not for it.
    let denial = for_b.authenticate_once(&mut parts).await.unwrap_err();
    assert_eq!(
        denial.kind(),
        &portcullis::response::DenialKind::InvalidToken(
            portcullis::response::InvalidTokenReason::WrongAudience
        )
    );
}
