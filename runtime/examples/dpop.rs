//! An API that accepts only DPoP-bound tokens (RFC 9449): each request carries, beside its
//! token, a proof signed with the client's private key for this request, so a stolen token is
//! useless without that key. Proofs are accepted once (the replay store) and must carry a nonce
//! this server handed out (RFC 9449 §9).
//!
//! Run it with your authorization server's issuer (it must issue DPoP-bound tokens, `cnf.jkt`,
//! for the audience `payments-api`; its keys are found by OpenID Connect discovery):
//!
//! ```text
//! ISSUER=https://sso.example.com/realms/acme cargo run -p portcullis --example dpop
//! ```
//!
//! A DPoP client (an OAuth library with DPoP support) makes a fresh proof for each request:
//!
//! ```text
//! curl -i -H "Authorization: DPoP $TOKEN" -H "DPoP: $PROOF" http://127.0.0.1:3000/account
//! ```
//!
//! The first proof, without a nonce, gets 401 `use_dpop_nonce` with a `DPoP-Nonce` header: the
//! client puts that nonce in its next proofs. A proof sent twice, or made for another URL, gets
//! 401 `invalid_dpop_proof`; a bearer token gets 401.

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis::config::Dpop;
use portcullis::config::VerifierBuilder;
use portcullis::dpop::{DpopNonces, MemoryReplayStore};
use portcullis::{ConfigError, Principal, Verifier};
use serde_json::{Value, json};

const AUDIENCE: &str = "payments-api";
const ADDR: &str = "127.0.0.1:3000";

/// Any DPoP-bound token with a valid proof.
#[portcullis::authenticated]
async fn account(principal: Principal) -> Json<Value> {
    Json(json!({ "sub": principal.subject(), "dpop": principal.is_dpop() }))
}

/// Also needs the scope `transfers:write`.
#[portcullis::requires_scope("transfers:write")]
async fn transfer(principal: Principal) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({ "from": principal.subject() })))
}

/// The DPoP settings on top of `issuer` (the issuer and where its keys are). `public_url` is
/// this API's URL as clients call it: a proof names it, followed by the request's path.
fn verifier(issuer: VerifierBuilder, public_url: &str) -> Result<Verifier, ConfigError> {
    issuer
        .realm("payments")
        .audience(AUDIENCE)
        .dpop(
            // Bearer tokens refused; `Dpop::allowed()` accepts both while clients move over.
            Dpop::required()
                .origin(public_url)
                // One instance remembers proofs in memory; several share a `RedisReplayStore`
                // (feature `redis`), so that a proof replayed at another instance is refused too.
                .replay_store(MemoryReplayStore::new())
                // A random key for this process; several instances share one
                // (`DpopNonces::with_key`).
                .nonces(DpopNonces::new()),
        )
        .build()
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/account", get(account))
        .route("/transfers", post(transfer))
        .with_state(verifier)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("ISSUER").map_err(|_| "set ISSUER to your issuer's URL")?;
    // Behind a proxy, the URL clients call is the proxy's: set PUBLIC_URL.
    let public_url = std::env::var("PUBLIC_URL").unwrap_or_else(|_| format!("http://{ADDR}"));
    let verifier = verifier(Verifier::builder().oidc_issuer(issuer), &public_url)?;

    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("curl -i -H \"Authorization: DPoP $TOKEN\" -H \"DPoP: $PROOF\" {public_url}/account");
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
    use portcullis::testing::{DpopKey, TestIssuer};
    use tower::ServiceExt;

    const PUBLIC_URL: &str = "https://payments.example.com";
    const ALGS: &str = r#"algs="ES256 ES384 RS256 PS256 EdDSA""#;

    fn issuer_and_app() -> (TestIssuer, Router) {
        let issuer = TestIssuer::new().with_audience(AUDIENCE);
        let app = app(verifier(issuer.verifier(), PUBLIC_URL).unwrap());
        (issuer, app)
    }

    /// `method path` with `Authorization: {scheme} {token}` and, if any, the `DPoP` proof.
    async fn send(
        app: &Router,
        (method, path): (&str, &str),
        authorization: &str,
        proof: Option<&str>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        request = request.header(header::AUTHORIZATION, authorization);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
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

    const ACCOUNT: (&str, &str) = ("GET", "/account");

    #[tokio::test]
    async fn a_bound_token_with_a_proof_and_the_servers_nonce_is_accepted_once() {
        let (issuer, app) = issuer_and_app();
        let key = DpopKey::new();
        let token = issuer.token("alice").bound_to(&key).sign();
        let dpop = format!("DPoP {token}");
        let url = format!("{PUBLIC_URL}/account");

        // The first proof has no nonce: 401, and a nonce to use.
        let reply = send(&app, ACCOUNT, &dpop, Some(&key.proof("GET", &url, &token).sign())).await;
        let challenge = format!(r#"DPoP realm="payments", error="use_dpop_nonce", {ALGS}"#);
        assert_refused(&reply, StatusCode::UNAUTHORIZED, &challenge);
        let nonce = reply.1["DPoP-Nonce"].to_str().unwrap();

        let proof = key.proof("GET", &url, &token).nonce(nonce).sign();
        let (status, _, body) = send(&app, ACCOUNT, &dpop, Some(&proof)).await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "sub": "alice", "dpop": true })));

        // The same proof again is a replay.
        let reply = send(&app, ACCOUNT, &dpop, Some(&proof)).await;
        let challenge = format!(r#"DPoP realm="payments", error="invalid_dpop_proof", {ALGS}"#);
        assert_refused(&reply, StatusCode::UNAUTHORIZED, &challenge);
        // A proof made for another URL too.
        let elsewhere = key.proof("GET", "https://evil.example/account", &token).nonce(nonce);
        let reply = send(&app, ACCOUNT, &dpop, Some(&elsewhere.sign())).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, &challenge);
    }

    #[tokio::test]
    async fn a_bearer_token_is_401() {
        let (issuer, app) = issuer_and_app();
        let token = issuer.token("alice").sign();
        let reply = send(&app, ACCOUNT, &format!("Bearer {token}"), None).await;
        assert_refused(
            &reply,
            StatusCode::UNAUTHORIZED,
            &format!(r#"DPoP realm="payments", error="invalid_token", {ALGS}"#),
        );
    }

    #[tokio::test]
    async fn a_missing_scope_is_403_naming_it() {
        let issuer = TestIssuer::new().with_audience(AUDIENCE);
        let verifier = verifier(issuer.verifier(), PUBLIC_URL).unwrap();
        // A nonce as the server hands them out (here without the first round trip).
        let nonce = verifier.dpop_nonce().unwrap();
        let app = app(verifier);
        let key = DpopKey::new();
        let token = issuer.token("alice").scopes(["transfers:read"]).bound_to(&key).sign();
        let url = format!("{PUBLIC_URL}/transfers");
        let proof = key.proof("POST", &url, &token).nonce(nonce).sign();
        let reply =
            send(&app, ("POST", "/transfers"), &format!("DPoP {token}"), Some(&proof)).await;
        let challenge = format!(
            r#"DPoP realm="payments", error="insufficient_scope", scope="transfers:write", {ALGS}"#
        );
        assert_refused(&reply, StatusCode::FORBIDDEN, &challenge);
    }
}
