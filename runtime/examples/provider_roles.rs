//! An API behind Keycloak, with roles: the [`Preset`] knows Keycloak's issuer, where its keys
//! are, that its access tokens say `typ: Bearer` and that realm roles are in
//! `realm_access.roles`; the `roles!` vocabulary names this API's roles once, and
//! `#[requires_role]` asks for them. Auth0, Entra ID, Okta, Cognito and Google have presets too.
//!
//! Run it against your Keycloak (the realm needs the roles `auditor` and `reports-admin`, and an
//! audience mapper that puts `reports-api` in the tokens' `aud`):
//!
//! ```text
//! KEYCLOAK_URL=http://localhost:8080 KEYCLOAK_REALM=acme \
//!     cargo run -p portcullis --example provider_roles
//! TOKEN=$(curl -s -d grant_type=client_credentials -d client_id=reports-cli -d client_secret=… \
//!     http://localhost:8080/realms/acme/protocol/openid-connect/token | jq -r .access_token)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/reports
//! ```
//!
//! A caller without the role gets 403 `insufficient_scope` (without `scope=`: a role is not
//! something a client can ask the authorization server for); an ID token or a refresh token of
//! the realm gets 401, though the same keys sign it.

use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis::{ConfigError, Preset, Principal, Verifier};
use serde_json::{Value, json};

/// This API's name at Keycloak: the audience its tokens must carry.
const AUDIENCE: &str = "reports-api";
const ADDR: &str = "127.0.0.1:3000";

portcullis::roles! {
    /// The realm roles this API knows.
    pub enum Role {
        Auditor = "auditor",
        Admin = "reports-admin",
    }
}

/// Any valid access token of the realm: who the caller is and which roles they hold.
#[portcullis::authenticated]
async fn me(principal: Principal) -> Json<Value> {
    let roles: Vec<&str> = principal.roles().iter().collect();
    Json(json!({ "sub": principal.subject(), "roles": roles }))
}

/// Auditors and administrators.
#[portcullis::requires_role(any(Role::Auditor, Role::Admin))]
async fn reports() -> Json<Value> {
    Json(json!({ "reports": ["2026-q3", "2026-q4"] }))
}

/// Administrators only; `declared_in` makes a misspelt literal role a compile error.
#[portcullis::requires_role(Role::Admin, declared_in = Role)]
async fn archive(principal: Principal) -> Json<Value> {
    Json(json!({ "archived_by": principal.subject() }))
}

/// A verifier for the preset's tokens issued to this API.
fn verifier(keycloak: Preset) -> Result<Verifier, ConfigError> {
    Verifier::builder().realm("reports").preset(keycloak).audience(AUDIENCE).build()
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/reports", get(reports))
        .route("/reports/archive", post(archive))
        .with_state(verifier)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setting = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    // The issuer is `{KEYCLOAK_URL}/realms/{KEYCLOAK_REALM}`; its keys are fetched (and kept
    // fresh) from the realm's certificates endpoint.
    let keycloak = Preset::keycloak(&setting("KEYCLOAK_URL")?, &setting("KEYCLOAK_REALM")?);
    println!("accepting the access tokens of {:?} for {AUDIENCE}", keycloak.issuers());
    let verifier = verifier(keycloak)?;

    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("curl -H \"Authorization: Bearer $TOKEN\" http://{ADDR}/reports");
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

    const KEYCLOAK_URL: &str = "https://sso.example.com";
    const REALM: &str = "acme";

    /// Keycloak's realm, as a key of the test's own: the preset with that key in place of the
    /// realm's, for tokens shaped as Keycloak issues them.
    fn keycloak() -> (TestIssuer, Router) {
        let preset = Preset::keycloak(KEYCLOAK_URL, REALM);
        let issuer = TestIssuer::new().with_issuer(&preset.issuers()[0]).with_audience(AUDIENCE);
        let verifier = verifier(preset.key(issuer.verification_key())).unwrap();
        (issuer, app(verifier))
    }

    /// An access token of the realm for `subject` with `roles`.
    fn access_token(issuer: &TestIssuer, subject: &str, roles: &[&str]) -> String {
        let token = issuer.token(subject).claim("typ", "Bearer");
        token.claim("realm_access", json!({ "roles": roles })).sign()
    }

    async fn send(
        app: Router,
        method: &str,
        uri: &str,
        token: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let request = Request::builder().method(method).uri(uri);
        let request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
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
    async fn roles_come_from_realm_access() {
        let (issuer, app) = keycloak();
        let admin = access_token(&issuer, "ada", &["reports-admin", "offline_access"]);
        let (status, _, body) = send(app.clone(), "GET", "/me", &admin).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "sub": "ada", "roles": ["offline_access", "reports-admin"] }));
        let (status, _, body) = send(app.clone(), "GET", "/reports", &admin).await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "reports": ["2026-q3", "2026-q4"] })));
        let (status, _, body) = send(app, "POST", "/reports/archive", &admin).await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "archived_by": "ada" })));
    }

    #[tokio::test]
    async fn a_missing_role_is_403_without_a_scope_to_ask_for() {
        let (issuer, app) = keycloak();
        let auditor = access_token(&issuer, "aud", &["auditor"]);
        let (status, _, _) = send(app.clone(), "GET", "/reports", &auditor).await;
        assert_eq!(status, StatusCode::OK);
        let reply = send(app.clone(), "POST", "/reports/archive", &auditor).await;
        let challenge = r#"Bearer realm="reports", error="insufficient_scope""#;
        assert_refused(&reply, StatusCode::FORBIDDEN, challenge);
        // No role at all: not even the reports.
        let nobody = access_token(&issuer, "bob", &[]);
        let reply = send(app, "GET", "/reports", &nobody).await;
        assert_refused(&reply, StatusCode::FORBIDDEN, challenge);
    }

    #[tokio::test]
    async fn the_realms_id_tokens_and_other_issuers_are_401() {
        let (issuer, app) = keycloak();
        let challenge = r#"Bearer realm="reports", error="invalid_token""#;
        // Signed by the realm's key, but an ID token: `typ` says so.
        let id_token = issuer.token("ada").claim("typ", "ID").sign();
        let reply = send(app.clone(), "GET", "/me", &id_token).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, challenge);
        // Another realm of the same server.
        let other = TestIssuer::new().with_issuer(format!("{KEYCLOAK_URL}/realms/other"));
        let token = access_token(&other.with_audience(AUDIENCE), "ada", &["reports-admin"]);
        let reply = send(app, "GET", "/me", &token).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, challenge);
    }
}
