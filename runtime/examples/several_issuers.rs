//! An API that accepts the tokens of two issuers, each verified with its own keys only
//! ([`TrustedIssuer`]): the staff's identity provider, found by OpenID Connect discovery, and a
//! partner's, whose keys are at a JWKS URL. A token naming one issuer but signed with the other's
//! key is refused (RFC 8725 §3.8), and a caller is the pair (issuer, subject): the staff's
//! `alice` and the partner's `alice` are two principals, never the owner of each other's data.
//!
//! Run it with the two issuers:
//!
//! ```text
//! STAFF_ISSUER=https://login.example.com PARTNER_ISSUER=https://idp.partner.example \
//! PARTNER_JWKS_URL=https://idp.partner.example/keys cargo run -p portcullis --example several_issuers
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me
//! ```

use axum::routing::get;
use axum::{Json, Router};
use portcullis::config::TrustedIssuer;
use portcullis::{ConfigError, Principal, Verifier};
use serde_json::{Value, json};

/// This API's name at both issuers.
const AUDIENCE: &str = "inventory-api";
const ADDR: &str = "127.0.0.1:3000";

/// Who the caller is: `id` is what ownership compares, issuer and subject together.
#[portcullis::authenticated]
async fn me(principal: Principal) -> Json<Value> {
    Json(json!({
        "iss": principal.issuer(),
        "sub": principal.subject(),
        "id": principal.id().to_string(),
    }))
}

#[portcullis::requires_scope("stock:read")]
async fn stock() -> Json<Value> {
    Json(json!({ "bolts": 1200, "nuts": 800 }))
}

fn verifier(staff: TrustedIssuer, partner: TrustedIssuer) -> Result<Verifier, ConfigError> {
    Verifier::builder()
        .realm("inventory")
        .trusted_issuer(staff)
        .trusted_issuer(partner)
        .audience(AUDIENCE)
        .build()
}

fn app(verifier: Verifier) -> Router {
    Router::new().route("/me", get(me)).route("/stock", get(stock)).with_state(verifier)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setting = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let staff = TrustedIssuer::new(setting("STAFF_ISSUER")?).discovery();
    let partner =
        TrustedIssuer::new(setting("PARTNER_ISSUER")?).jwks_url(setting("PARTNER_JWKS_URL")?);
    let verifier = verifier(staff, partner)?;
    // A discovery document that names another issuer is a configuration error: say so now.
    verifier.check_issuers().await?;

    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("curl -H \"Authorization: Bearer $TOKEN\" http://{ADDR}/me");
    axum::serve(listener, app(verifier)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

    use super::*;
    use axum::body::Body;
    use axum::http::{HeaderMap, Request, StatusCode, header};
    use http_body_util::BodyExt;
    use portcullis::testing::TestIssuer;
    use tower::ServiceExt;

    /// The two issuers, with keys of the test's own in place of discovery and the JWKS URL.
    fn issuers_and_app() -> (TestIssuer, TestIssuer, Router) {
        let staff = TestIssuer::new().with_issuer("https://login.example.com");
        let partner = TestIssuer::es256().with_issuer("https://idp.partner.example");
        let trusted = |issuer: &TestIssuer| {
            TrustedIssuer::new(issuer.issuer()).key(issuer.verification_key())
        };
        let verifier = verifier(trusted(&staff), trusted(&partner)).unwrap();
        (staff.with_audience(AUDIENCE), partner.with_audience(AUDIENCE), app(verifier))
    }

    async fn send(app: &Router, path: &str, token: &str) -> (StatusCode, HeaderMap, Value) {
        let request = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
        let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn each_issuers_tokens_are_accepted_as_distinct_callers() {
        let (staff, partner, app) = issuers_and_app();
        let (status, _, ours) = send(&app, "/me", &staff.token("alice").sign()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (&ours["iss"], &ours["sub"]),
            (&json!("https://login.example.com"), &json!("alice"))
        );
        let (status, _, theirs) = send(&app, "/me", &partner.token("alice").sign()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(theirs["iss"], "https://idp.partner.example");
        assert_ne!(ours["id"], theirs["id"], "one subject at two issuers is two callers");

        let token = partner.token("bob").scopes(["stock:read"]).sign();
        let (status, _, body) = send(&app, "/stock", &token).await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "bolts": 1200, "nuts": 800 })));
    }

    #[tokio::test]
    async fn a_token_signed_by_the_other_issuers_key_is_401() {
        let (staff, partner, app) = issuers_and_app();
        // The partner's key, claiming to be the staff's issuer.
        let forged = partner.with_issuer(staff.issuer()).token("admin").sign();
        let unknown = TestIssuer::new().with_issuer("https://elsewhere.example");
        let stranger = unknown.with_audience(AUDIENCE).token("alice").sign();
        for token in [forged, stranger] {
            let (status, headers, body) = send(&app, "/me", &token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            let challenge = r#"Bearer realm="inventory", error="invalid_token""#;
            assert_eq!(headers[header::WWW_AUTHENTICATE], challenge);
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
            assert_eq!(body["status"], 401);
        }
    }
}
