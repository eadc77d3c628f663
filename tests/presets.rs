//! Provider presets (issue 16): tokens shaped as Auth0, Keycloak, Entra ID v2, Okta, Amazon
//! Cognito and Google document them (`tests/fixtures/providers/`), signed with the RSA fixture
//! key, verified by a verifier built from the provider's [`Preset`] with that key in place of the
//! provider's, through a real axum `Router`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failed test")]

use http::StatusCode;
use jsonwebtoken::EncodingKey;
use portcullis::testing::TestIssuer;
use portcullis::{
    Key, Preset, Principal, Verifier,
    config::VerifierBuilder,
    response::{Disclosure, InvalidTokenReason},
};
use portcullis_tests::{Reply, app, assert_denied, bearer, fixture, send};
use serde_json::{Map, Value, json};

/// A provider's documented token: its header and claims, times filled in.
struct Shape {
    header: Value,
    claims: Map<String, Value>,
    document: Value,
}

fn shape(provider: &str) -> Shape {
    let document: Value =
        serde_json::from_str(&fixture(&format!("providers/{provider}.json"))).unwrap();
    Shape { header: document["header"].clone(), claims: with_times(&document["claims"]), document }
}

/// `claims` with `"now"` and `"in an hour"` replaced by times.
fn with_times(claims: &Value) -> Map<String, Value> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = claims.as_object().unwrap().clone();
    for value in claims.values_mut() {
        match value.as_str() {
            Some("now") => *value = json!(now),
            Some("in an hour") => *value = json!(now + 3600),
            _ => {}
        }
    }
    claims
}

/// Signs `header` and `claims` with the RSA fixture key (RS256).
fn sign(header: &Value, claims: &Map<String, Value>) -> String {
    use base64::Engine as _;
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let input = format!("{}.{}", encode(header), encode(&Value::Object(claims.clone())));
    let key = EncodingKey::from_rsa_pem(fixture("rsa_private.pem").as_bytes()).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::RS256).unwrap();
    format!("{input}.{signature}")
}

/// The RSA fixture key under the shape's `kid`.
fn key(shape: &Shape) -> Key {
    let key = Key::rsa_pem(fixture("rsa_public.pem")).unwrap();
    match shape.header["kid"].as_str() {
        Some(kid) => key.with_kid(kid),
        None => key,
    }
}

async fn me(builder: &VerifierBuilder, token: &str) -> Reply {
    let verifier = builder.clone().disclosure(Disclosure::Development).build().unwrap();
    send(app(verifier), bearer("/me", token)).await
}

/// The caller `builder`'s verifier reads from `token`.
fn principal(builder: &VerifierBuilder, token: &str) -> Principal {
    builder.clone().build().unwrap().verify(token).unwrap()
}

/// The roles `principal` holds, sorted.
fn roles(principal: &Principal) -> Vec<&str> {
    principal.roles().iter().collect()
}

/// The `/me` answer: 200, the subject and the granted scopes (a set: sorted, each once).
fn assert_caller(reply: &Reply, subject: &str, scopes: &[&str]) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["sub"], subject, "{reply:?}");
    let mut expected = scopes.to_vec();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(reply.body["scopes"], json!(expected), "{reply:?}");
}

fn assert_refused(reply: &Reply, sentence: &str) {
    let challenge =
        format!(r#"Bearer realm="api", error="invalid_token", error_description="{sentence}""#);
    assert_denied(reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(sentence));
}

const WRONG_TYPE: &str = "The token is not an access token of an accepted type";
const WRONG_ISSUER: &str = "The access token was issued by an untrusted issuer";
const WRONG_AUDIENCE: &str = "The access token is not intended for this API";
const MISSING_CLAIM: &str = "The access token lacks a required claim";

#[tokio::test]
async fn auth0_scope_and_rbac_permissions_and_an_audience_array() {
    let shape = shape("auth0");
    let preset = Preset::auth0("acme.eu.auth0.com");
    assert_eq!(preset.issuers(), ["https://acme.eu.auth0.com/"]);
    assert_eq!(preset.jwks_location(), "https://acme.eu.auth0.com/.well-known/jwks.json");
    let builder = Verifier::builder()
        .preset(preset.key(key(&shape)))
        .audience("https://documents.example.com");
    let reply = me(&builder, &sign(&shape.header, &shape.claims)).await;
    assert_caller(
        &reply,
        "auth0|6475c7b2e3ad1d7a0f7b4a9c",
        &["openid", "profile", "docs:read", "docs:read", "docs:write"],
    );
    // No role claim: Auth0 documents none; RBAC permissions are scopes.
    let caller = principal(&builder, &sign(&shape.header, &shape.claims));
    assert!(preset_roles(Preset::auth0("acme.eu.auth0.com")).is_empty());
    assert!(caller.roles().is_empty());
    assert!(!caller.has_role("docs:write"));
    // Auth0's RFC 9068 profile: typ at+jwt, accepted too.
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "auth0-key-1"});
    assert_eq!(me(&builder, &sign(&header, &shape.claims)).await.status, StatusCode::OK);
    // The issuer without its trailing slash is another issuer.
    let mut claims = shape.claims.clone();
    claims.insert("iss".into(), json!("https://acme.eu.auth0.com"));
    assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_ISSUER);
}

#[tokio::test]
async fn keycloak_realm_issuer_and_audience_mapper() {
    let shape = shape("keycloak");
    let preset = Preset::keycloak("https://sso.example.com/", "acme");
    assert_eq!(preset.issuers(), ["https://sso.example.com/realms/acme"]);
    assert_eq!(
        preset.jwks_location(),
        "https://sso.example.com/realms/acme/protocol/openid-connect/certs"
    );
    let builder = Verifier::builder().preset(preset.key(key(&shape))).audience("documents-api");
    let token = sign(&shape.header, &shape.claims);
    assert_caller(
        &me(&builder, &token).await,
        "f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        &["openid", "profile", "email", "docs:read"],
    );
    // Realm roles from `realm_access.roles`; the `account` client's roles are not realm roles.
    let caller = principal(&builder, &token);
    assert_eq!(roles(&caller), ["default-roles-acme", "offline_access", "uma_authorization"]);
    assert!(caller.has_role("offline_access"));
    assert!(!caller.has_role("manage-account"));
    // A client's roles, named after the preset (which the list replaces).
    let with_client =
        builder.clone().role_claims(["realm_access.roles", "resource_access.account.roles"]);
    let caller = principal(&with_client, &token);
    assert!(caller.has_role("manage-account") && caller.has_role("offline_access"));
    // Without the audience mapper, Keycloak's `aud` is `account` alone.
    let mut claims = shape.claims.clone();
    claims.insert("aud".into(), json!("account"));
    assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_AUDIENCE);
}

#[tokio::test]
async fn keycloak_refuses_its_id_refresh_and_offline_tokens() {
    let shape = shape("keycloak");
    let builder = Verifier::builder()
        .preset(Preset::keycloak("https://sso.example.com", "acme").key(key(&shape)))
        .audience("documents-api");
    // The access token passes.
    let access = sign(&shape.header, &shape.claims);
    assert_caller(
        &me(&builder, &access).await,
        "f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        &["openid", "profile", "email", "docs:read"],
    );
    // The ID token of a client that is also the API: its audience is the API, its `typ` `ID`.
    let id_token = with_times(&shape.document["id_token_claims"]);
    assert_eq!(id_token["aud"], "documents-api");
    assert_refused(&me(&builder, &sign(&shape.header, &id_token)).await, WRONG_TYPE);
    // A refresh token (its audience is the realm, but its type is refused first).
    let refresh = with_times(&shape.document["refresh_token_claims"]);
    assert_refused(&me(&builder, &sign(&shape.header, &refresh)).await, WRONG_TYPE);
    // Every other type Keycloak issues, in an access token's claims, audience and all.
    for typ in ["ID", "Refresh", "Offline", "Logout", "bearer", "Bearer ", "at+jwt", ""] {
        let mut claims = shape.claims.clone();
        claims.insert("typ".into(), json!(typ));
        assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_TYPE);
    }
    for typ in [json!(["Bearer"]), json!(null), json!(1), json!({"typ": "Bearer"})] {
        let mut claims = shape.claims.clone();
        claims.insert("typ".into(), typ);
        assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_TYPE);
    }
    // Keycloak sets `typ` in every token it issues: one without it is no Keycloak access token.
    let mut unmarked = shape.claims.clone();
    unmarked.remove("typ");
    assert_refused(&me(&builder, &sign(&shape.header, &unmarked)).await, MISSING_CLAIM);
    // The public `verify` refuses the same, with the reason.
    let verifier = builder.clone().build().unwrap();
    assert_eq!(
        verifier.verify(&sign(&shape.header, &id_token)).unwrap_err(),
        InvalidTokenReason::WrongType
    );
    assert!(verifier.verify(&access).is_ok());
}

#[tokio::test]
async fn entra_id_refuses_id_tokens_and_v1_tokens_and_accepts_app_only_tokens() {
    let shape = shape("entra-id");
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let builder = Verifier::builder()
        .preset(Preset::entra_id([tenant]).key(key(&shape)))
        .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3");
    // A delegated access token passes.
    let delegated = sign(&shape.header, &shape.claims);
    assert_caller(
        &me(&builder, &delegated).await,
        "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        &["access_as_user"],
    );
    // So does an app-only one: `roles`, no `scp`, `idtyp: app`.
    let app_only = sign(&shape.header, &with_times(&shape.document["app_token_claims"]));
    let reply = me(&builder, &app_only).await;
    assert_caller(&reply, "5a1f3c2e-8b7d-4e6f-9a0b-1c2d3e4f5a6b", &[]);
    let caller = principal(&builder, &app_only);
    assert_eq!(roles(&caller), ["Documents.Read.All"]);
    // The ID token of a registration that is also the API: same issuer, same audience, same
    // keys, `ver` 2.0, but neither `scp` nor `roles`.
    let id_token = with_times(&shape.document["id_token_claims"]);
    assert_eq!(id_token["aud"], shape.claims["aud"]);
    assert_refused(&me(&builder, &sign(&shape.header, &id_token)).await, WRONG_TYPE);
    // With an empty `scp` it would be an access token of the API, granting nothing.
    let mut no_grant = shape.claims.clone();
    no_grant.remove("scp");
    assert_refused(&me(&builder, &sign(&shape.header, &no_grant)).await, WRONG_TYPE);
    // A v1.0 token at the v2.0 issuer, or no version at all.
    let mut v1 = shape.claims.clone();
    v1.insert("ver".into(), json!("1.0"));
    assert_refused(&me(&builder, &sign(&shape.header, &v1)).await, WRONG_TYPE);
    v1.insert("ver".into(), json!(2.0));
    assert_refused(&me(&builder, &sign(&shape.header, &v1)).await, WRONG_TYPE);
    v1.remove("ver");
    assert_refused(&me(&builder, &sign(&shape.header, &v1)).await, MISSING_CLAIM);
    // `idtyp`: `app` and `user` are access tokens; anything else is no token type of theirs.
    for idtyp in ["user", "app"] {
        let mut claims = shape.claims.clone();
        claims.insert("idtyp".into(), json!(idtyp));
        assert_eq!(me(&builder, &sign(&shape.header, &claims)).await.status, StatusCode::OK);
    }
    for idtyp in [json!("id"), json!("App"), json!(""), json!(["app"]), json!(null)] {
        let mut claims = shape.claims.clone();
        claims.insert("idtyp".into(), idtyp);
        assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_TYPE);
    }
}

#[test]
fn claim_rules_a_provider_marks_its_access_tokens_with() {
    let issuer = TestIssuer::eddsa();
    let builder = issuer
        .verifier()
        .require_any_claim(["scp", "roles"])
        .restrict_claim_values("kind", ["a", "b"]);
    let verifier = builder.build().unwrap();
    let verify =
        |token: String| verifier.verify(&token).map(|principal| principal.subject().to_owned());
    assert_eq!(verify(issuer.token("alice").claim("scp", "read").sign()).unwrap(), "alice");
    assert_eq!(verify(issuer.token("alice").claim("roles", json!(["x"])).sign()).unwrap(), "alice");
    let neither = issuer.token("alice").claim("scope", "read").sign();
    assert_eq!(verify(neither).unwrap_err(), InvalidTokenReason::WrongType);
    let kind_a = issuer.token("alice").claim("scp", "read").claim("kind", "b").sign();
    assert_eq!(verify(kind_a).unwrap(), "alice");
    let kind_c = issuer.token("alice").claim("scp", "read").claim("kind", "c").sign();
    assert_eq!(verify(kind_c).unwrap_err(), InvalidTokenReason::WrongType);
}

#[tokio::test]
async fn entra_id_v2_scp_and_a_tenant_allow_list() {
    let shape = shape("entra-id");
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let other = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
    let preset = Preset::entra_id([tenant, other]);
    assert_eq!(
        preset.issuers(),
        [
            format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            format!("https://login.microsoftonline.com/{other}/v2.0"),
        ]
    );
    let builder = Verifier::builder()
        .preset(preset.key(key(&shape)))
        .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3");
    let reply = me(&builder, &sign(&shape.header, &shape.claims)).await;
    assert_caller(&reply, "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ", &["access_as_user"]);
    // App roles assigned to the user arrive in `roles`, an array.
    let mut claims = shape.claims.clone();
    claims.insert("roles".into(), json!(["Documents.Admin", "Documents.Read"]));
    let caller = principal(&builder, &sign(&shape.header, &claims));
    assert_eq!(roles(&caller), ["Documents.Admin", "Documents.Read"]);
    assert!(caller.has_role("Documents.Admin"));
    assert!(!caller.has_role("access_as_user"), "a scope is not a role");
    assert!(principal(&builder, &sign(&shape.header, &shape.claims)).roles().is_empty());
    // Two tenants: the same subject in each is another owner.
    assert_eq!(
        reply.body["id"],
        json!([format!("https://login.microsoftonline.com/{tenant}/v2.0"), shape.claims["sub"]])
            .to_string()
    );
    // A tenant that is not on the list.
    let mut claims = shape.claims.clone();
    claims.insert(
        "iss".into(),
        json!("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0"),
    );
    assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_ISSUER);
    // A v1.0 token (`sts.windows.net` issuer) is not a v2 token.
    claims.insert("iss".into(), json!(format!("https://sts.windows.net/{tenant}/")));
    assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_ISSUER);
}

#[tokio::test]
async fn okta_scp_array() {
    let shape = shape("okta");
    let preset = Preset::okta("https://acme.okta.com", "default");
    assert_eq!(preset.issuers(), ["https://acme.okta.com/oauth2/default"]);
    assert_eq!(preset.jwks_location(), "https://acme.okta.com/oauth2/default/v1/keys");
    let builder = Verifier::builder().preset(preset.key(key(&shape))).audience("api://default");
    let reply = me(&builder, &sign(&shape.header, &shape.claims)).await;
    assert_caller(&reply, "alice@example.com", &["openid", "email", "docs:read"]);
    // Without a Groups claim on the authorization server, no groups.
    assert!(principal(&builder, &sign(&shape.header, &shape.claims)).roles().is_empty());
    // With the one Okta's guide adds, named `groups`.
    let mut claims = shape.claims.clone();
    claims.insert("groups".into(), json!(["Everyone", "documents-admin"]));
    let caller = principal(&builder, &sign(&shape.header, &claims));
    assert_eq!(roles(&caller), ["Everyone", "documents-admin"]);
    assert!(caller.has_role("documents-admin"));
}

#[tokio::test]
async fn cognito_audience_in_client_id_and_id_tokens_refused() {
    let shape = shape("cognito");
    let preset = Preset::cognito("us-west-2", "us-west-2_example");
    assert_eq!(preset.issuers(), ["https://cognito-idp.us-west-2.amazonaws.com/us-west-2_example"]);
    assert_eq!(
        preset.jwks_location(),
        "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_example/.well-known/jwks.json"
    );
    let builder = Verifier::builder().preset(preset.key(key(&shape))).audience("1example23456789");
    let token = sign(&shape.header, &shape.claims);
    assert_caller(
        &me(&builder, &token).await,
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        &["aws.cognito.signin.user.admin", "docs:read"],
    );
    // The user pool's groups, in `cognito:groups`.
    let caller = principal(&builder, &token);
    assert_eq!(roles(&caller), ["admin"]);
    assert!(caller.has_role("admin"));
    // Another app client's access token.
    let mut claims = shape.claims.clone();
    claims.insert("client_id".into(), json!("9other8765432"));
    assert_refused(&me(&builder, &sign(&shape.header, &claims)).await, WRONG_AUDIENCE);
    // The same user's ID token names the app client in `aud`, and says `token_use: id`.
    let id_token = with_times(&shape.document["id_token_claims"]);
    assert_refused(&me(&builder, &sign(&shape.header, &id_token)).await, WRONG_TYPE);
    let mut unmarked = shape.claims.clone();
    unmarked.remove("token_use");
    assert_refused(&me(&builder, &sign(&shape.header, &unmarked)).await, MISSING_CLAIM);
}

#[tokio::test]
async fn google_both_issuer_spellings_are_one_identity() {
    let shape = shape("google");
    let preset = Preset::google();
    assert_eq!(preset.issuers(), ["https://accounts.google.com", "accounts.google.com"]);
    assert_eq!(preset.jwks_location(), "https://www.googleapis.com/oauth2/v3/certs");
    let builder = Verifier::builder()
        .preset(preset.key(key(&shape)))
        .audience("1234987819200.apps.googleusercontent.com");
    let https = me(&builder, &sign(&shape.header, &shape.claims)).await;
    assert_caller(&https, "10769150350006150715113082367", &[]);
    let mut claims = shape.claims.clone();
    claims.insert("iss".into(), json!("accounts.google.com"));
    let bare = me(&builder, &sign(&shape.header, &claims)).await;
    assert_caller(&bare, "10769150350006150715113082367", &[]);
    assert_eq!(https.body["id"], bare.body["id"]);
    assert_eq!(https.body["id"], "10769150350006150715113082367");
    assert!(preset_roles(Preset::google()).is_empty());
}

/// The role claims `preset` sets.
fn preset_roles(preset: Preset) -> Vec<&'static str> {
    preset.role_claims().to_vec()
}

#[test]
fn presets_read_roles_where_their_provider_documents_them() {
    assert_eq!(
        preset_roles(Preset::keycloak("https://sso.example.com", "acme")),
        ["realm_access.roles"]
    );
    assert_eq!(preset_roles(Preset::entra_id(["t"])), ["roles"]);
    assert_eq!(preset_roles(Preset::cognito("us-west-2", "p")), ["cognito:groups"]);
    assert_eq!(preset_roles(Preset::okta("https://acme.okta.com", "default")), ["groups"]);
}

#[test]
fn presets_fetch_from_the_provider_unless_given_keys() {
    // Without keys, a preset's verifier fetches them (the `remote` feature is on by default).
    let verifier = Verifier::builder()
        .preset(Preset::okta("https://acme.okta.com/", "aus1a2b3c4"))
        .audience("api://documents")
        .build();
    assert!(verifier.is_ok());
    assert_eq!(Preset::okta("https://acme.okta.com/", "x").name(), "Okta");
    let mirrored = Preset::keycloak("https://sso.example.com", "acme")
        .jwks_url("https://mirror.example.com/certs");
    assert_eq!(mirrored.jwks_location(), "https://mirror.example.com/certs");
}
