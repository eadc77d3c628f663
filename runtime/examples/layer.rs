//! One guard for a whole router: [`RequireAuthLayer`] refuses every request without a valid
//! token granting `items:read`, before any handler or extractor runs, and [`AccessLogLayer`]
//! writes one log line per request (the route's template and the refusal's reason, never the
//! path or the token). A route can still require more: `POST /items` needs `items:write` on top,
//! with the attribute guard, which reuses the principal the layer verified.
//!
//! Run it with the issuer and audience in `PORTCULLIS_*` variables (read by
//! `VerifierBuilder::from_env`; the issuer's keys are found by OpenID Connect discovery):
//!
//! ```text
//! PORTCULLIS_ISSUER=https://auth.example.com PORTCULLIS_AUDIENCE=items-api \
//!     cargo run -p portcullis --example layer
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/items
//! curl http://127.0.0.1:3000/health
//! ```

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use portcullis::authorization::ScopeRule;
use portcullis::config::VerifierBuilder;
use portcullis::layer::{AccessLogLayer, RequireAuthLayer};
use portcullis::{Principal, Verifier};
use serde_json::{Value, json};

const ADDR: &str = "127.0.0.1:3000";

/// Behind the layer: a `Principal` is always there.
async fn list_items(principal: Principal) -> Json<Value> {
    Json(json!({ "owner": principal.subject(), "items": ["lamp", "desk"] }))
}

#[portcullis::requires_scope("items:write")]
async fn add_item(principal: Principal) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({ "added_by": principal.subject() })))
}

async fn health() -> &'static str {
    "ok"
}

fn app(verifier: Verifier) -> Router {
    // Every route added before `route_layer` is guarded; `/health`, added after, is not.
    // `route_layer` (not `layer`) keeps unknown paths a 404 rather than a 401.
    let read = RequireAuthLayer::new(verifier.clone()).scopes(&[ScopeRule::All(&["items:read"])]);
    Router::new()
        .route("/items", get(list_items).post(add_item))
        .route_layer(read)
        .route("/health", get(health))
        // Outermost, so that it sees every answer, the layer's refusals and 404s included.
        .layer(AccessLogLayer::new())
        .with_state(verifier)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The access log is a `tracing` event (target `portcullis::access`): print them.
    tracing_subscriber::fmt().init();
    let verifier = VerifierBuilder::from_env()?.realm("items").build()?;

    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("curl -H \"Authorization: Bearer $TOKEN\" http://{ADDR}/items");
    axum::serve(listener, app(verifier)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

    use super::*;
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::{HeaderMap, Request, header};
    use http_body_util::BodyExt;
    use portcullis::testing::TestIssuer;
    use tower::ServiceExt;

    fn issuer_and_app() -> (TestIssuer, Router) {
        let issuer = TestIssuer::new();
        let app = app(issuer.verifier().realm("items").build().unwrap());
        (issuer, app)
    }

    async fn send(
        app: &Router,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
        (parts.status, parts.headers, body)
    }

    fn assert_refused(reply: &(StatusCode, HeaderMap, Value), status: StatusCode, challenge: &str) {
        let (got, headers, body) = reply;
        assert_eq!(*got, status, "{body}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], challenge);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body["status"], status.as_u16());
    }

    #[tokio::test]
    async fn the_layer_guards_every_route_before_it() {
        let (issuer, app) = issuer_and_app();
        let reader = issuer.token("alice").scopes(["items:read"]).sign();
        let (status, _, body) = send(&app, "GET", "/items", Some(&reader)).await;
        let expected = json!({ "owner": "alice", "items": ["lamp", "desk"] });
        assert_eq!((status, body), (StatusCode::OK, expected));
        assert_eq!(send(&app, "GET", "/health", None).await.2, "ok");

        let reply = send(&app, "GET", "/items", None).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, r#"Bearer realm="items""#);
        let nobody = issuer.token("bob").scopes(["profile"]).sign();
        let reply = send(&app, "GET", "/items", Some(&nobody)).await;
        let challenge = r#"Bearer realm="items", error="insufficient_scope", scope="items:read""#;
        assert_refused(&reply, StatusCode::FORBIDDEN, challenge);
        assert_eq!(send(&app, "GET", "/elsewhere", None).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_route_can_require_more_than_the_layer() {
        let (issuer, app) = issuer_and_app();
        let writer = issuer.token("alice").scopes(["items:read", "items:write"]).sign();
        let (status, _, body) = send(&app, "POST", "/items", Some(&writer)).await;
        assert_eq!((status, body), (StatusCode::CREATED, json!({ "added_by": "alice" })));
        let reader = issuer.token("bob").scopes(["items:read"]).sign();
        let reply = send(&app, "POST", "/items", Some(&reader)).await;
        let challenge = r#"Bearer realm="items", error="insufficient_scope", scope="items:write""#;
        assert_refused(&reply, StatusCode::FORBIDDEN, challenge);
    }

    /// Everything a `tracing` subscriber writes, kept for the test to read.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_access_log_names_the_route_and_the_refusal() {
        let (issuer, app) = issuer_and_app();
        let log = Log::default();
        let writer = log.clone();
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false);
        // For this thread only; the other tests' threads have none, and a callsite reached
        // there first must not stay disabled here: a second dispatcher makes tracing ask both.
        let _guard = tracing::subscriber::set_default(subscriber.finish());
        let _other = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        tracing::callsite::rebuild_interest_cache();

        let token = issuer.token("alice").scopes(["items:read"]).sign();
        send(&app, "GET", "/items", Some(&token)).await;
        send(&app, "GET", "/items", None).await;
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> =
            text.lines().filter(|line| line.contains("portcullis::access")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains(r#"method=GET route="/items" status=200 denied="-""#), "{text}");
        assert!(lines[1].contains(r#"status=401 denied="missing_credentials""#), "{text}");
        assert!(!text.contains(&token), "{text}");
    }
}
