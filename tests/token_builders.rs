//! The token builders' role and scope helpers, through real routers: a token minted with
//! `.roles(..)`, `.roles_at(..)` or `.scopes(..)` passes the guard that requires them, and one
//! without them is refused with 403, for the test issuer and the development issuer alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use portcullis::development::DevelopmentIssuer;
use portcullis::testing::TestIssuer;
use portcullis::{Principal, Verifier};
use portcullis_tests::{assert_denied, bearer, send};

portcullis::roles! {
    /// The roles of this test API.
    pub enum Role {
        Admin = "documents-admin",
        Auditor = "auditor",
    }
}

portcullis::scopes! {
    /// The scopes of this test API.
    pub enum Scope {
        Read = "docs:read",
        Write = "docs:write",
    }
}

const MISSING_ROLE: &str = r#"Bearer realm="api", error="insufficient_scope""#;
const MISSING_SCOPE: &str = r#"Bearer realm="api", error="insufficient_scope", scope="docs:write""#;

#[portcullis::requires_role(Role::Admin)]
async fn admin(principal: Principal) -> Json<String> {
    Json(principal.subject().to_owned())
}

#[portcullis::requires_scope(Scope::Write)]
async fn write(principal: Principal) -> Json<String> {
    Json(principal.subject().to_owned())
}

fn app(verifier: Verifier) -> Router {
    Router::new().route("/admin", get(admin)).route("/write", get(write)).with_state(verifier)
}

async fn get_with(router: &Router, uri: &str, token: &str) -> portcullis_tests::Reply {
    send(router.clone(), bearer(uri, token)).await
}

/// `token` passes `uri`'s guard.
async fn assert_passes(router: &Router, uri: &str, token: &str) {
    let reply = get_with(router, uri, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.body.is_string(), "{reply:?}");
}

#[tokio::test]
async fn test_tokens_with_roles_pass_requires_role_and_others_get_403() {
    let issuer = TestIssuer::new();
    // The issuer's verifier reads the `roles` claim `.roles(..)` writes, without being told.
    let router = app(issuer.verifier().build().unwrap());
    let admin = issuer.token("alice").roles(["documents-admin"]).sign();
    assert_passes(&router, "/admin", &admin).await;
    let vocabulary = issuer.token("alice").roles([Role::Auditor, Role::Admin].map(Role::as_str));
    assert_passes(&router, "/admin", &vocabulary.sign()).await;
    for other in [issuer.token("bob").roles(["auditor"]).sign(), issuer.token("bob").sign()] {
        let reply = get_with(&router, "/admin", &other).await;
        assert_denied(&reply, StatusCode::FORBIDDEN, Some(MISSING_ROLE), None);
    }
    // Another claim than the verifier reads grants nothing.
    let elsewhere = issuer.token("carol").roles_at("realm_access.roles", ["documents-admin"]);
    let reply = get_with(&router, "/admin", &elsewhere.sign()).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, Some(MISSING_ROLE), None);
}

#[tokio::test]
async fn roles_at_writes_the_nested_claim_a_provider_uses() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().role_claims(["realm_access.roles"]).build().unwrap();
    let router = app(verifier);
    let admin = issuer.token("alice").roles_at("realm_access.roles", ["documents-admin"]).sign();
    assert_passes(&router, "/admin", &admin).await;
    let reply =
        get_with(&router, "/admin", &issuer.token("bob").roles(["documents-admin"]).sign()).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, Some(MISSING_ROLE), None);
}

#[tokio::test]
async fn test_tokens_with_scopes_pass_requires_scope_and_others_get_403() {
    let issuer = TestIssuer::new();
    let router = app(issuer.verifier().build().unwrap());
    let writer = issuer.token("alice").scopes(["docs:read", "docs:write"]).sign();
    assert_passes(&router, "/write", &writer).await;
    let vocabulary = issuer.token("alice").scopes([Scope::Write].map(Scope::as_str)).sign();
    assert_passes(&router, "/write", &vocabulary).await;
    for reader in [issuer.token("bob").scopes(["docs:read"]).sign(), issuer.token("bob").sign()] {
        let reply = get_with(&router, "/write", &reader).await;
        assert_denied(&reply, StatusCode::FORBIDDEN, Some(MISSING_SCOPE), None);
    }
}

#[tokio::test]
async fn development_tokens_carry_roles_and_scopes_alike() {
    let issuer = DevelopmentIssuer::generate("https://api.development.invalid", "api");
    let router = app(issuer.verifier().build().unwrap());
    let admin = issuer.token("alice").roles(["documents-admin"]).scopes(["docs:write"]).sign();
    assert_passes(&router, "/admin", &admin).await;
    assert_passes(&router, "/write", &admin).await;
    let nobody = issuer.token("bob").roles(["auditor"]).scopes(["docs:read"]).sign();
    let reply = get_with(&router, "/admin", &nobody).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, Some(MISSING_ROLE), None);
    let reply = get_with(&router, "/write", &nobody).await;
    assert_denied(&reply, StatusCode::FORBIDDEN, Some(MISSING_SCOPE), None);

    let nested = issuer.verifier().role_claims(["realm_access.roles"]).build().unwrap();
    let token = issuer.token("carol").roles_at("realm_access.roles", ["documents-admin"]).sign();
    assert_passes(&app(nested), "/admin", &token).await;
}
