//! Denials are logged with their precise reason and never with the token; Development
//! disclosure is logged as a warning when a verifier is built with it.
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

/// Development disclosure tells clients why they were refused: turning it on is logged once, as
/// a warning, when the verifier is built (in code or from `PORTCULLIS_DISCLOSURE`); Production
/// logs nothing.
#[test]
fn development_disclosure_is_a_warning_when_the_verifier_is_built() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let issuer = TestIssuer::new();
    let warnings = || -> Vec<String> {
        captured
            .text()
            .lines()
            .filter(|line| line.contains("portcullis::disclosure"))
            .map(str::to_owned)
            .collect()
    };

    for _ in 0..3 {
        issuer.verifier().build().unwrap();
        issuer.verifier().disclosure(portcullis::response::Disclosure::Production).build().unwrap();
    }
    assert_eq!(warnings(), Vec::<String>::new(), "Production says nothing");

    let verifier = issuer
        .verifier()
        .realm("docs")
        .disclosure(portcullis::response::Disclosure::Development)
        .build();
    let verifier = verifier.unwrap();
    let lines = warnings();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(" WARN "), "{}", lines[0]);
    assert!(lines[0].contains("realm=\"docs\""), "{}", lines[0]);
    assert!(
        lines[0].contains(
            "Development disclosure is on: every denial tells the client why \
             (error_description, detail); for a developer's machine only, never for a server \
             others can reach"
        ),
        "{}",
        lines[0]
    );
    // Once at build, not per request.
    let app = Router::new().route("/me", get(me)).with_state(verifier);
    for _ in 0..5 {
        assert_eq!(
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(send(&app, None)),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(warnings().len(), 1);

    let vars = [("PORTCULLIS_DISCLOSURE", "development")];
    issuer
        .verifier()
        .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(warnings().len(), 2);
    assert!(warnings()[1].contains("realm=\"api\""), "{:?}", warnings());
}
