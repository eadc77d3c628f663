//! An API that accepts opaque access tokens: it asks the authorization server about each one
//! (RFC 7662 token introspection), authenticating with its own client credentials, and keeps the
//! answer for a while (60 seconds by default, never past the token's `exp`).
//!
//! Run it with your authorization server's settings:
//!
//! ```text
//! ISSUER=https://auth.example.com INTROSPECTION_URL=https://auth.example.com/oauth2/introspect \
//! CLIENT_ID=orders-api CLIENT_SECRET=… cargo run -p portcullis --example introspection
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/orders
//! ```
//!
//! (`VerifierBuilder::from_env` reads the same settings from `PORTCULLIS_ISSUER`,
//! `PORTCULLIS_INTROSPECTION_URL`, `PORTCULLIS_INTROSPECTION_CLIENT_ID` and
//! `PORTCULLIS_INTROSPECTION_CLIENT_SECRET`.) A token the server says is inactive (revoked,
//! expired, unknown) gets 401 `invalid_token`; when the server cannot be asked, 503 with
//! `Retry-After`.

use axum::routing::get;
use axum::{Json, Router};
use portcullis::introspection::Introspection;
use portcullis::{ConfigError, Principal, Verifier};
use serde_json::{Value, json};

/// This API's name at the authorization server: active answers must name it in `aud`.
const AUDIENCE: &str = "orders-api";
const ADDR: &str = "127.0.0.1:3000";

/// Any active token: the claims of the server's answer.
#[portcullis::authenticated]
async fn me(principal: Principal) -> Json<Value> {
    Json(json!({ "sub": principal.subject(), "client_id": principal.claim("client_id") }))
}

#[portcullis::requires_scope("orders:read")]
async fn orders(principal: Principal) -> Json<Value> {
    Json(json!({ "owner": principal.subject(), "orders": [] }))
}

/// Tokens of `issuer`, introspected as `introspection` says.
fn verifier(issuer: &str, introspection: Introspection) -> Result<Verifier, ConfigError> {
    Verifier::builder()
        .realm("orders")
        .issuer(issuer)
        .audience(AUDIENCE)
        .introspection(introspection)
        .build()
}

fn app(verifier: Verifier) -> Router {
    Router::new().route("/me", get(me)).route("/orders", get(orders)).with_state(verifier)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setting = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    // `https`, or `http` to a loopback address only. The secret is sent with HTTP Basic
    // authentication (`ClientAuthMethod` names the other ways).
    let introspection = Introspection::endpoint(setting("INTROSPECTION_URL")?)
        .client_credentials(setting("CLIENT_ID")?, setting("CLIENT_SECRET")?);
    let verifier = verifier(&setting("ISSUER")?, introspection)?;

    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("curl -H \"Authorization: Bearer $TOKEN\" http://{ADDR}/orders");
    axum::serve(listener, app(verifier)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

    use super::*;
    use std::collections::HashMap;
    use std::time::{SystemTime, UNIX_EPOCH};

    use axum::body::Body;
    use axum::http::{HeaderMap, Request, StatusCode, header};
    use axum::routing::post;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const ISSUER: &str = "https://auth.example.com";
    /// `orders-api:s3cret` in HTTP Basic authentication.
    const BASIC: &str = "Basic b3JkZXJzLWFwaTpzM2NyZXQ=";

    /// The authorization server's introspection endpoint: it knows the API's credentials and
    /// two tokens.
    async fn introspect(
        headers: HeaderMap,
        form: axum::Form<HashMap<String, String>>,
    ) -> Result<Json<Value>, StatusCode> {
        if headers.get(header::AUTHORIZATION).is_none_or(|credentials| credentials != BASIC) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 600;
        let active = |scope: &str| {
            json!({
                "active": true, "sub": "alice", "scope": scope, "client_id": "shop-app",
                "iss": ISSUER, "aud": AUDIENCE, "exp": exp,
            })
        };
        Ok(Json(match form["token"].as_str() {
            "reader-token" => active("orders:read"),
            "profile-token" => active("profile"),
            _ => json!({ "active": false }),
        }))
    }

    /// The API, introspecting at an authorization server of the test's own on 127.0.0.1, with
    /// the client secret `secret`.
    async fn app_with_secret(secret: &str) -> Router {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/introspect", listener.local_addr().unwrap());
        let server = Router::new().route("/introspect", post(introspect));
        tokio::spawn(async move { axum::serve(listener, server).await });
        let introspection = Introspection::endpoint(url).client_credentials("orders-api", secret);
        app(verifier(ISSUER, introspection).unwrap())
    }

    async fn send(app: Router, path: &str, token: &str) -> (StatusCode, HeaderMap, Value) {
        let request = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
        let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn assert_refused(reply: &(StatusCode, HeaderMap, Value), status: StatusCode, challenge: &str) {
        let (got, headers, body) = reply;
        assert_eq!(*got, status, "{body}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], challenge);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body["status"], status.as_u16());
    }

    #[tokio::test]
    async fn an_active_token_with_the_scope_is_served() {
        let app = app_with_secret("s3cret").await;
        let (status, _, body) = send(app.clone(), "/orders", "reader-token").await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "owner": "alice", "orders": [] })));
        let (status, _, body) = send(app, "/me", "reader-token").await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({ "sub": "alice", "client_id": "shop-app" }))
        );
    }

    #[tokio::test]
    async fn an_inactive_token_is_401_and_a_missing_scope_403() {
        let app = app_with_secret("s3cret").await;
        let reply = send(app.clone(), "/orders", "revoked-token").await;
        assert_refused(
            &reply,
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="orders", error="invalid_token""#,
        );
        let reply = send(app, "/orders", "profile-token").await;
        let challenge = r#"Bearer realm="orders", error="insufficient_scope", scope="orders:read""#;
        assert_refused(&reply, StatusCode::FORBIDDEN, challenge);
    }

    #[tokio::test]
    async fn a_server_that_cannot_answer_is_503_with_retry_after() {
        // Wrong credentials: the server refuses the API itself, and no token can be checked.
        let app = app_with_secret("wrong").await;
        let (status, headers, body) = send(app, "/orders", "reader-token").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body["status"], 503);
    }
}
