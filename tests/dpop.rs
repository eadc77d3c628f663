//! DPoP (RFC 9449) through real routers: a token bound to a key (`cnf.jkt`) is never a bearer
//! token, whatever the mode; proofs are checked on every request.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use http::StatusCode;
use portcullis::Disclosure;
use portcullis::testing::TestIssuer;
use portcullis_tests::{app, assert_denied, assert_me, bearer, send};
use serde_json::json;

const BOUND_AS_BEARER: &str =
    "The access token is bound to a key and must be presented with the DPoP scheme";

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused_when_dpop_is_off() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().disclosure(Disclosure::Development).build().unwrap();
    let router = app(verifier);
    let bound = issuer
        .token("alice")
        .claim("cnf", json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}))
        .sign();
    let challenge = format!(
        "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{BOUND_AS_BEARER}\""
    );
    // Twice: the second time the token's verification is a cache hit, and the binding still
    // refuses it.
    for _ in 0..2 {
        let reply = send(router.clone(), bearer("/me", &bound)).await;
        assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(BOUND_AS_BEARER));
    }
    // A malformed binding is a binding too.
    let odd = issuer.token("alice").claim("cnf", json!({"jkt": 7})).sign();
    let reply = send(router.clone(), bearer("/me", &odd)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // A `cnf` without `jkt` (an mTLS binding, say) is not refused here.
    let unbound = issuer.token("alice").claim("cnf", json!({"x5t#S256": "abc"})).sign();
    assert_me(&send(router, bearer("/me", &unbound)).await, "alice");
}
