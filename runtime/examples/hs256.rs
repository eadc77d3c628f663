//! The smallest API: tokens signed with a secret shared with their issuer (HS256), one handler
//! for any authenticated caller and one that needs a scope.
//!
//! Run it, then call it with the line it prints (a token made for this run):
//!
//! ```text
//! cargo run -p portcullis --example hs256
//! curl -H 'Authorization: Bearer <the printed token>' http://127.0.0.1:3000/me
//! curl -H 'Authorization: Bearer <the printed token>' -H 'Content-Type: application/json' \
//!      -d '{"text":"hello"}' http://127.0.0.1:3000/notes
//! ```
//!
//! Without a token the API answers 401 with a `WWW-Authenticate` challenge; with a token that
//! lacks `notes:write`, `POST /notes` answers 403 `insufficient_scope`, naming the scope. Every
//! refusal is an `application/problem+json` document.

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis::config::VerifierBuilder;
use portcullis::development::DevelopmentIssuer;
use portcullis::keys::KeyError;
use portcullis::{Key, Principal, Verifier};
use serde::Deserialize;
use serde_json::{Value, json};

/// Who issues the tokens (`iss`), and this API's name at that issuer (`aud`).
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "notes-api";
/// The secret the issuer signs with. Keep it out of the source in a real program (an
/// environment variable, a secret store): whoever has it can mint tokens.
const SECRET: &[u8] = b"a shared secret of at least thirty-two bytes";
const ADDR: &str = "127.0.0.1:3000";

#[derive(Debug, Deserialize)]
struct Note {
    text: String,
}

/// Any valid token: the caller's subject and scopes.
#[portcullis::authenticated]
async fn me(principal: Principal) -> Json<Value> {
    let scopes: Vec<&str> = principal.scopes().iter().collect();
    Json(json!({ "sub": principal.subject(), "scopes": scopes }))
}

/// Only tokens granting `notes:write`. The body is read after the scope check, with
/// portcullis's `Json`, which refuses a bad body with a problem document too.
#[portcullis::requires_scope("notes:write")]
async fn create_note(
    principal: Principal,
    portcullis::extract::Json(note): portcullis::extract::Json<Note>,
) -> (StatusCode, Json<Value>) {
    let created = json!({ "author": principal.subject(), "text": note.text });
    (StatusCode::CREATED, Json(created))
}

/// The verifier's settings: realm, issuer, audience and the shared secret.
fn verifier() -> Result<VerifierBuilder, KeyError> {
    Ok(Verifier::builder().realm("notes").issuer(ISSUER).audience(AUDIENCE).key(Key::hmac(SECRET)?))
}

fn app(verifier: Verifier) -> Router {
    Router::new().route("/me", get(me)).route("/notes", post(create_note)).with_state(verifier)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Only to try the API from this machine: a key generated for this run (it dies with the
    // process) signs the token printed below, and the verifier trusts it beside the secret.
    // Drop these lines in production: your issuer signs the tokens with the secret.
    let development = DevelopmentIssuer::generate(ISSUER, AUDIENCE);
    let verifier = verifier()?.key(development.verification_key()).build()?;
    let token = development.token("alice").scopes(["notes:write"]).sign();

    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("curl -H 'Authorization: Bearer {token}' http://{ADDR}/me");
    axum::serve(listener, app(verifier)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

    use super::*;
    use axum::body::Body;
    use axum::http::{HeaderMap, Request, header};
    use http_body_util::BodyExt;
    use portcullis::testing::TestIssuer;
    use tower::ServiceExt;

    /// The issuer of the tests: the same secret, issuer and audience.
    fn issuer() -> TestIssuer {
        TestIssuer::hs256(SECRET).unwrap().with_issuer(ISSUER).with_audience(AUDIENCE)
    }

    async fn send(request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = app(verifier().unwrap().build().unwrap()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn post_note(token: &str) -> Request<Body> {
        Request::post("/notes")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"text":"hello"}"#))
            .unwrap()
    }

    /// A problem document for `status`, with `challenge` as `WWW-Authenticate`.
    fn assert_refused(reply: &(StatusCode, HeaderMap, Value), status: StatusCode, challenge: &str) {
        let (got, headers, body) = reply;
        assert_eq!(*got, status, "{body}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], challenge);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body["status"], status.as_u16());
        assert_eq!(body["title"], status.canonical_reason().unwrap());
    }

    #[tokio::test]
    async fn a_token_with_the_scope_creates_a_note() {
        let token = issuer().token("alice").scopes(["notes:write"]).sign();
        let (status, _, body) = send(post_note(&token)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body, json!({ "author": "alice", "text": "hello" }));

        let me = Request::get("/me").header(header::AUTHORIZATION, format!("Bearer {token}"));
        let (status, _, body) = send(me.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "sub": "alice", "scopes": ["notes:write"] }));
    }

    #[tokio::test]
    async fn no_token_is_401_with_a_challenge() {
        let reply = send(Request::get("/me").body(Body::empty()).unwrap()).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, r#"Bearer realm="notes""#);
    }

    #[tokio::test]
    async fn a_token_of_another_secret_is_401_invalid_token() {
        let other = TestIssuer::hs256(b"another secret, also thirty-two bytes long").unwrap();
        let token = other.with_issuer(ISSUER).with_audience(AUDIENCE).token("mallory").sign();
        let reply = send(post_note(&token)).await;
        let challenge = r#"Bearer realm="notes", error="invalid_token""#;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, challenge);
    }

    #[tokio::test]
    async fn a_token_without_the_scope_is_403_naming_it() {
        let token = issuer().token("bob").scopes(["notes:read"]).sign();
        let reply = send(post_note(&token)).await;
        let challenge = r#"Bearer realm="notes", error="insufficient_scope", scope="notes:write""#;
        assert_refused(&reply, StatusCode::FORBIDDEN, challenge);
    }

    #[test]
    fn the_printed_token_of_a_run_is_accepted() {
        let development = DevelopmentIssuer::generate(ISSUER, AUDIENCE);
        let verifier = verifier().unwrap().key(development.verification_key()).build().unwrap();
        let token = development.token("alice").scopes(["notes:write"]).sign();
        assert!(verifier.verify(&token).unwrap().has_scope("notes:write"));
        // And the secret's tokens still are.
        assert_eq!(verifier.verify(&issuer().token("bob").sign()).unwrap().subject(), "bob");
    }
}
