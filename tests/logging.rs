//! Denials are logged with their precise reason and never with the token.
//!
//! Alone in its own test binary: a thread-scoped subscriber can miss events from callsites that
//! concurrent tests registered first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use portcullis::Principal;
use portcullis::testing::TestIssuer;
use portcullis_tests::Captured;
use tower::ServiceExt;

async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

async fn send(app: &Router, token: Option<&str>) -> StatusCode {
    let mut request = Request::builder().uri("/me");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap().status()
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
    let app = Router::new().route("/me", get(me)).with_state(issuer.verifier().build().unwrap());
    let expired = issuer.token("alice").expired(std::time::Duration::from_secs(3600)).sign();
    assert_eq!(send(&app, Some(&expired)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, None).await, StatusCode::UNAUTHORIZED);

    let logs = captured.text();
    assert!(logs.contains("reason=\"expired\""), "{logs}");
    assert!(logs.contains("reason=\"missing_credentials\""), "{logs}");
    assert!(logs.contains("status=401"), "{logs}");
    for part in expired.split('.') {
        assert!(!logs.contains(part), "the log holds a token part: {logs}");
    }
    assert!(!logs.contains("alice"), "the log holds a claim value: {logs}");
}
