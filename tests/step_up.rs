//! Step-up authentication (RFC 9470) through real routers: `#[requires_authentication]` and
//! `RequireAuthLayer::authentication` answer 401 `insufficient_user_authentication` with
//! `acr_values` and `max_age` when the sign-in behind a token is too weak or too old, right
//! after the token is verified and before scopes, roles and policies; with the DPoP scheme for a
//! DPoP request, `resource_metadata` when configured, and the providers' own claims through the
//! presets.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use http::header::AUTHORIZATION;
use http::{Request, StatusCode};
use jsonwebtoken::EncodingKey;
use portcullis::authorization::{AuthenticationRequirement, ScopeRule};
use portcullis::config::{AcrSource, Dpop, ResourceMetadata};
use portcullis::dpop::DpopMode;
use portcullis::layer::RequireAuthLayer;
use portcullis::response::Disclosure;
use portcullis::testing::{DpopKey, TestIssuer};
use portcullis::{Key, Preset, Principal, Verifier};
use portcullis_tests::{assert_denied, bearer, fixture, send};
use serde_json::{Map, Value, json};

const MFA: &str = "urn:documents:mfa";
const STEP_UP: &str = r#"Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:documents:mfa", max_age="600""#;
const DESCRIPTION: &str = "The user must sign in again, more strongly or more recently";
const DETAIL: &str = r#"The user must sign in again, more strongly or more recently; required: acr_values="urn:documents:mfa" max_age="600""#;

#[portcullis::requires_scope("docs:read")]
#[portcullis::requires_authentication(acr = "urn:documents:mfa", max_age = "10m")]
async fn export(principal: Principal) -> Json<Value> {
    Json(json!({ "sub": principal.subject(), "acr": principal.acr_values().collect::<Vec<_>>() }))
}

#[portcullis::requires_authentication(acr = any("urn:hwk", "urn:documents:mfa"))]
async fn strong() -> Json<Value> {
    Json(json!("strong"))
}

#[portcullis::requires_authentication(max_age = 300)]
async fn recent() -> Json<Value> {
    Json(json!("recent"))
}

#[portcullis::requires_role("documents-admin")]
#[portcullis::requires_policy(claim_true("email_verified"))]
#[portcullis::requires_authentication(max_age = "1h", acr = "urn:documents:mfa")]
async fn admin() -> Json<Value> {
    Json(json!("admin"))
}

fn routes() -> Router<Verifier> {
    Router::new()
        .route("/export", get(export))
        .route("/strong", get(strong))
        .route("/recent", get(recent))
        .route("/admin", get(admin))
}

fn verifier(issuer: &TestIssuer, disclosure: Disclosure) -> Verifier {
    issuer.verifier().disclosure(disclosure).role_claims(["roles"]).build().unwrap()
}

fn app(verifier: Verifier) -> Router {
    routes().with_state(verifier)
}

/// Every shape of a token that fails `acr = "urn:documents:mfa", max_age = "10m"`, by name.
fn weak_tokens(issuer: &TestIssuer) -> Vec<(&'static str, String)> {
    let token = || issuer.token("alice").scopes(["docs:read"]);
    vec![
        ("no acr", token().signed_in(Duration::ZERO).sign()),
        ("another acr", token().acr("urn:documents:pwd").signed_in(Duration::ZERO).sign()),
        ("acr of another case", token().acr("URN:documents:mfa").signed_in(Duration::ZERO).sign()),
        ("acr as an array", token().claim("acr", json!([MFA])).signed_in(Duration::ZERO).sign()),
        ("no auth_time", token().acr(MFA).sign()),
        ("auth_time too old", token().acr(MFA).signed_in(Duration::from_secs(660)).sign()),
        ("auth_time as text", token().acr(MFA).claim("auth_time", "1800000000").sign()),
        (
            "auth_time in the future",
            token()
                .acr(MFA)
                .claim("auth_time", jsonwebtoken::get_current_timestamp() + 3600)
                .sign(),
        ),
    ]
}

#[tokio::test]
async fn a_weak_or_old_sign_in_gets_the_step_up_challenge_and_a_strong_recent_one_passes() {
    let issuer = TestIssuer::new();
    let app = app(verifier(&issuer, Disclosure::Production));
    for (case, token) in weak_tokens(&issuer) {
        // Twice: the second answer comes from a cache hit, and is the same.
        for _ in 0..2 {
            let reply = send(app.clone(), bearer("/export", &token)).await;
            assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(STEP_UP), None);
            assert!(!reply.visible().contains(&token), "{case}");
        }
    }
    // Within max_age and the default leeway (60 s), on a miss and on a hit.
    for ago in [0, 600, 630] {
        let token = issuer
            .token("alice")
            .scopes(["docs:read"])
            .acr(MFA)
            .signed_in(Duration::from_secs(ago))
            .sign();
        for _ in 0..2 {
            let reply = send(app.clone(), bearer("/export", &token)).await;
            assert_eq!(reply.status, StatusCode::OK, "{ago}: {reply:?}");
            assert_eq!(reply.body, json!({"sub": "alice", "acr": [MFA]}));
        }
    }
}

#[tokio::test]
async fn development_mode_says_what_sign_in_is_required() {
    let issuer = TestIssuer::new();
    let app = app(verifier(&issuer, Disclosure::Development));
    let token = issuer.token("alice").scopes(["docs:read"]).signed_in(Duration::ZERO).sign();
    let reply = send(app, bearer("/export", &token)).await;
    let challenge = format!(
        r#"Bearer realm="api", error="insufficient_user_authentication", error_description="{DESCRIPTION}", acr_values="urn:documents:mfa", max_age="600""#
    );
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(DETAIL));
}

#[tokio::test]
async fn acr_alone_and_max_age_alone_name_only_what_they_require() {
    let issuer = TestIssuer::new();
    let app = app(verifier(&issuer, Disclosure::Production));
    let plain = issuer.token("alice").signed_in(Duration::from_secs(3600)).sign();
    let reply = send(app.clone(), bearer("/strong", &plain)).await;
    let challenge = r#"Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:hwk urn:documents:mfa""#;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(challenge), None);
    let reply = send(app.clone(), bearer("/recent", &plain)).await;
    let challenge =
        r#"Bearer realm="api", error="insufficient_user_authentication", max_age="300""#;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(challenge), None);
    // One of the accepted classes, signed in long ago: `/strong` does not care when.
    for acr in ["urn:hwk", MFA] {
        let token = issuer.token("alice").acr(acr).signed_in(Duration::from_secs(86_400)).sign();
        let reply = send(app.clone(), bearer("/strong", &token)).await;
        assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("strong")));
    }
    // Recently, with no acr: `/recent` does not care how.
    let token = issuer.token("alice").signed_in(Duration::from_secs(299)).sign();
    let reply = send(app, bearer("/recent", &token)).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("recent")));
}

#[tokio::test]
async fn the_sign_in_is_checked_before_scopes_roles_and_policies() {
    let issuer = TestIssuer::new();
    let app = app(verifier(&issuer, Disclosure::Production));
    // Neither the scope nor the acr: the step-up 401 comes first.
    let neither = issuer.token("alice").signed_in(Duration::ZERO).sign();
    let reply = send(app.clone(), bearer("/export", &neither)).await;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(STEP_UP), None);
    // The acr but not the scope: now the scope.
    let no_scope = issuer.token("alice").acr(MFA).signed_in(Duration::ZERO).sign();
    let reply = send(app.clone(), bearer("/export", &no_scope)).await;
    let challenge = r#"Bearer realm="api", error="insufficient_scope", scope="docs:read""#;
    assert_denied(&reply, StatusCode::FORBIDDEN, Some(challenge), None);
    // No role, no verified email, no acr: the step-up first (its attribute is written last).
    let nothing = issuer.token("alice").sign();
    let reply = send(app.clone(), bearer("/admin", &nothing)).await;
    let challenge = r#"Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:documents:mfa", max_age="3600""#;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(challenge), None);
    // With the sign-in, the role, then the policy.
    let signed_in = || issuer.token("alice").acr(MFA).signed_in(Duration::ZERO);
    let reply = send(app.clone(), bearer("/admin", &signed_in().sign())).await;
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="api", error="insufficient_scope""#),
        None,
    );
    let admin = signed_in().claim("roles", json!(["documents-admin"]));
    let reply = send(app.clone(), bearer("/admin", &admin.sign())).await;
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="api", error="insufficient_scope""#),
        None,
    );
    let everything = signed_in().claim("roles", json!(["documents-admin"]));
    let reply = send(app, bearer("/admin", &everything.claim("email_verified", true).sign())).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    // Credentials still come before the sign-in: no token, 401 without an error.
    let reply =
        send(app_without_token(&issuer), Request::get("/export").body(Body::empty()).unwrap())
            .await;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="api""#), None);
}

fn app_without_token(issuer: &TestIssuer) -> Router {
    app(verifier(issuer, Disclosure::Production))
}

#[tokio::test]
async fn a_dpop_request_gets_the_dpop_challenge_with_resource_metadata() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .dpop(Dpop::new(DpopMode::Allowed).origin("https://api.example"))
        .resource_metadata(ResourceMetadata::new().resource("https://api.example"))
        .build()
        .unwrap();
    let app = app(verifier);
    let key = DpopKey::new();
    let token =
        issuer.token("alice").scopes(["docs:read"]).bound_to(&key).signed_in(Duration::ZERO).sign();
    let proof = key.proof("GET", "https://api.example/export", &token).sign();
    let request = Request::get("/export")
        .header(AUTHORIZATION, format!("DPoP {token}"))
        .header("DPoP", proof)
        .body(Body::empty())
        .unwrap();
    let reply = send(app.clone(), request).await;
    let algs = "ES256 ES384 RS256 PS256 EdDSA";
    let metadata = "https://api.example/.well-known/oauth-protected-resource";
    let challenge = format!(
        r#"DPoP realm="api", error="insufficient_user_authentication", acr_values="urn:documents:mfa", max_age="600", algs="{algs}", resource_metadata="{metadata}""#
    );
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), None);
    // A bearer request gets the Bearer scheme, with the metadata too.
    let bearer_token = issuer.token("alice").scopes(["docs:read"]).sign();
    let reply = send(app, bearer("/export", &bearer_token)).await;
    let challenge = format!(
        r#"Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:documents:mfa", max_age="600", resource_metadata="{metadata}""#
    );
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), None);
}

#[tokio::test]
async fn the_router_wide_layer_requires_the_sign_in_before_its_scopes() {
    const MFA_RECENTLY: AuthenticationRequirement =
        AuthenticationRequirement::new().acr(&[MFA]).max_age(Duration::from_secs(600));
    let issuer = TestIssuer::new();
    let verifier = verifier(&issuer, Disclosure::Production);
    let app: Router = Router::new()
        .route("/me", get(|principal: Principal| async move { Json(json!(principal.subject())) }))
        .route_layer(
            RequireAuthLayer::new(verifier.clone())
                .scopes(&[ScopeRule::All(&["docs:read"])])
                .authentication(MFA_RECENTLY),
        )
        .with_state(verifier);
    let neither = issuer.token("alice").signed_in(Duration::ZERO).sign();
    let reply = send(app.clone(), bearer("/me", &neither)).await;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(STEP_UP), None);
    for (case, token) in weak_tokens(&issuer) {
        let reply = send(app.clone(), bearer("/me", &token)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(reply.challenge(), Some(STEP_UP), "{case}");
    }
    let no_scope = issuer.token("alice").acr(MFA).signed_in(Duration::ZERO).sign();
    let reply = send(app.clone(), bearer("/me", &no_scope)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let good = issuer.token("alice").scopes(["docs:read"]).acr(MFA).signed_in(Duration::ZERO);
    let reply = send(app, bearer("/me", &good.sign())).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("alice")));
}

#[tokio::test]
async fn under_volume_every_answer_is_the_one_its_token_calls_for() {
    let issuer = TestIssuer::new();
    let app = app(verifier(&issuer, Disclosure::Production));
    let good = issuer.token("alice").scopes(["docs:read"]).acr(MFA).signed_in(Duration::ZERO);
    let good = good.sign();
    let weak: Vec<String> = weak_tokens(&issuer).into_iter().map(|(_, token)| token).collect();
    let mut tasks = Vec::new();
    for round in 0..400 {
        let app = app.clone();
        let (token, ok) = if round % 3 == 0 {
            (good.clone(), true)
        } else {
            (weak[round % weak.len()].clone(), false)
        };
        tasks.push(tokio::spawn(async move {
            let reply = send(app, bearer("/export", &token)).await;
            if ok {
                assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
            } else {
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
                assert_eq!(reply.challenge(), Some(STEP_UP));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

// The providers' own claims, through their presets, on the tokens of tests/fixtures/providers.

fn provider_token(provider: &str, extra: &[(&str, Value)]) -> (Value, String) {
    let document: Value =
        serde_json::from_str(&fixture(&format!("providers/{provider}.json"))).unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims: Map<String, Value> = document["claims"].as_object().unwrap().clone();
    for value in claims.values_mut() {
        match value.as_str() {
            Some("now") => *value = json!(now),
            Some("in an hour") => *value = json!(now + 3600),
            _ => {}
        }
    }
    for (name, value) in extra {
        claims.insert((*name).to_owned(), value.clone());
    }
    use base64::Engine as _;
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let header = document["header"].clone();
    let input = format!("{}.{}", encode(&header), encode(&Value::Object(claims)));
    let key = EncodingKey::from_rsa_pem(fixture("rsa_private.pem").as_bytes()).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::RS256).unwrap();
    (header, format!("{input}.{signature}"))
}

fn provider_key(header: &Value) -> Key {
    let key = Key::rsa_pem(fixture("rsa_public.pem")).unwrap();
    match header["kid"].as_str() {
        Some(kid) => key.with_kid(kid),
        None => key,
    }
}

#[portcullis::requires_authentication(acr = "c1")]
async fn entra_context() -> Json<Value> {
    Json(json!("c1"))
}

#[portcullis::requires_authentication(
    acr = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
)]
async fn auth0_mfa() -> Json<Value> {
    Json(json!("mfa"))
}

#[tokio::test]
async fn entra_id_authentication_contexts_are_read_from_acrs() {
    let (header, with_c1) = provider_token("entra-id", &[("acrs", json!(["c2", "c1"]))]);
    let (_, without) = provider_token("entra-id", &[("acrs", json!(["c2"]))]);
    let (_, with_acr_only) = provider_token("entra-id", &[("acr", json!("c1"))]);
    let preset = Preset::entra_id(["72f988bf-86f1-41af-91ab-2d7cd011db47"]);
    assert_eq!(preset.acr_sources(), Some(&[AcrSource::List("acrs".into())][..]));
    let verifier = Verifier::builder()
        .preset(preset.key(provider_key(&header)))
        .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3")
        .build()
        .unwrap();
    let app: Router = Router::new().route("/", get(entra_context)).with_state(verifier);
    let reply = send(app.clone(), bearer("/", &with_c1)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let challenge =
        r#"Bearer realm="api", error="insufficient_user_authentication", acr_values="c1""#;
    for token in [without, with_acr_only] {
        let reply = send(app.clone(), bearer("/", &token)).await;
        assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(challenge), None);
    }
}

#[tokio::test]
async fn auth0_multi_factor_is_read_from_amr() {
    let (header, mfa) = provider_token("auth0", &[("amr", json!(["pwd", "mfa"]))]);
    let (_, password) = provider_token("auth0", &[("amr", json!(["pwd"]))]);
    let (_, acr) = provider_token("auth0", &[("acr", json!(Preset::AUTH0_MFA))]);
    let verifier = Verifier::builder()
        .preset(Preset::auth0("acme.eu.auth0.com").key(provider_key(&header)))
        .audience("https://documents.example.com")
        .build()
        .unwrap();
    let app: Router = Router::new().route("/", get(auth0_mfa)).with_state(verifier);
    for token in [mfa, acr] {
        let reply = send(app.clone(), bearer("/", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    let reply = send(app, bearer("/", &password)).await;
    let challenge = format!(
        r#"Bearer realm="api", error="insufficient_user_authentication", acr_values="{}""#,
        Preset::AUTH0_MFA
    );
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), None);
}

#[test]
fn acr_sources_replace_the_default() {
    let issuer = TestIssuer::new();
    let token = issuer.token("alice").acr("urn:a").claim("acrs", json!(["urn:b"])).sign();
    let read = |verifier: Verifier| -> Vec<String> {
        verifier.verify(&token).unwrap().acr_values().map(str::to_owned).collect()
    };
    assert_eq!(read(issuer.verifier().build().unwrap()), ["urn:a"]);
    let both = issuer.verifier().acr_sources([AcrSource::Acr, AcrSource::List("acrs".into())]);
    assert_eq!(read(both.build().unwrap()), ["urn:a", "urn:b"]);
    let none = issuer.verifier().acr_sources([]);
    assert!(read(none.build().unwrap()).is_empty());
}
