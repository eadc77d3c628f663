//! `GET /ready`: 200 with the keys held when the verifier can verify tokens; 503 with a problem
//! document and `Retry-After`, naming no key source, while its keys cannot be fetched.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::body::Body;
use documents::{AppState, Store, router};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::Verifier;
use portcullis::testing::TestIssuer;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn get_ready(verifier: Verifier) -> (StatusCode, http::HeaderMap, Value) {
    let app = router(AppState { verifier, store: Store::in_memory().unwrap() });
    let response = app.oneshot(Request::get("/ready").body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn ready_with_usable_keys() {
    let issuer = TestIssuer::new();
    let (status, headers, body) = get_ready(issuer.verifier().build().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(body, json!({"status": "ready", "keys": 1}));
}

#[tokio::test]
async fn not_ready_while_the_keys_cannot_be_fetched_and_the_answer_names_no_source() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://user:secret-password@{closed}/jwks?key=secret-query");
    let verifier = Verifier::builder()
        .issuer("https://issuer.example")
        .audience("documents")
        .jwks_url(&url)
        .build()
        .unwrap();
    // Once the start-up fetch failed too: still not ready, and now failing.
    verifier.check_issuers().await.unwrap();
    let readiness = verifier.readiness();
    assert!(!readiness.is_ready());
    let source = &readiness.key_sources()[0];
    assert!(source.failing_since().is_some());
    // The source as an operator sees it: without credentials and query.
    assert_eq!(source.source(), format!("http://{closed}/jwks"));

    let (status, headers, body) = get_ready(verifier).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(headers[header::RETRY_AFTER], "5");
    assert_eq!(
        body,
        json!({
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The signing keys of the identity provider are not available yet",
        })
    );
    let text = body.to_string();
    for secret in ["127.0.0.1", "secret", "jwks", "user"] {
        assert!(!text.contains(secret), "{text}");
    }
}
