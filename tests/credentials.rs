//! Credentials (SPEC §2), permissions (§3) and denial bodies (§6), driven through an axum
//! `Router` whose state is a `portcullis::Verifier`.
//!
//! Every refusal is checked completely: status, the exact `WWW-Authenticate` value (or its
//! absence), `application/problem+json`, and the parsed problem document, in both disclosure
//! modes. In Development mode the fixed sentence names the precise reason, which pins down *why*
//! a token was refused, not only that it was.

// Clippy allows unwrap/expect in `#[test]` functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failed test")]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Json;
use axum::routing::get;
use http::header::{AUTHORIZATION, RETRY_AFTER};
use http::{HeaderValue, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer, TokenBuilder};
use portcullis::{
    Claims, ConfigError, Denial, Key, Principal, Verifier,
    authorization::{ScopeRequirement, ScopeRule},
    config::{DEFAULT_MAX_TOKEN_LEN, ScopeClaim, VerifierBuilder},
    keys::KeySet,
    response::{DenialKind, Disclosure, NotFoundReason},
};
use portcullis_tests::{
    Reply, app, assert_denied, assert_me, bearer, craft_token, fixture, get_request, routes, send,
    valid_claims, with_authorization,
};
use serde::Deserialize;
use serde_json::{Value, json};

// The Development-mode sentences, one per reason (SPEC §6: a closed set of fixed strings).
const MALFORMED: &str = "The access token is malformed";
const TOO_LARGE: &str = "The access token is too large";
const DISALLOWED_ALG: &str = "The access token is signed with an algorithm that is not allowed";
const UNKNOWN_KEY: &str = "The access token is signed with an unknown key";
const BAD_SIGNATURE: &str = "The access token signature is invalid";
const EXPIRED: &str = "The access token expired";
const NOT_YET_VALID: &str = "The access token is not valid yet";
const WRONG_ISSUER: &str = "The access token was issued by an untrusted issuer";
const WRONG_AUDIENCE: &str = "The access token is not intended for this API";
const MISSING_CLAIM: &str = "The access token lacks a required claim";
const INVALID_CLAIMS: &str = "The access token has claims of the wrong type";
const UNSUPPORTED_CRIT: &str = "The access token uses an unsupported critical header";
const NO_TOKEN: &str = "The request carries no bearer access token";
const SEVERAL_HEADERS: &str = "The request has more than one Authorization header";
const SEVERAL_TRANSPORTS: &str = "The request carries more than one access token";
const LACKS_SCOPE: &str = "The access token lacks a required scope";
const NOT_FOUND_DETAIL: &str = "No resource with this id exists that the caller owns; absent and foreign resources are answered alike";
const KEYS_DOWN_DETAIL: &str =
    "The keys to verify access tokens are temporarily unavailable; retry later";

// The Production challenges for the default realm.
const BARE: &str = r#"Bearer realm="api""#;
const INVALID_TOKEN: &str = r#"Bearer realm="api", error="invalid_token""#;
const INVALID_REQUEST: &str = r#"Bearer realm="api", error="invalid_request""#;

/// A 32-byte HMAC secret.
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// The Development challenge for `code` with `sentence`, in the default realm.
fn described(code: &str, sentence: &str) -> String {
    format!(r#"Bearer realm="api", error="{code}", error_description="{sentence}""#)
}

// ---------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------

/// Custom claims for the `Claims<T>` extractor.
#[derive(Debug, Deserialize)]
struct Tenant {
    tenant_id: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn tenant(Claims(tenant): Claims<Tenant>) -> Json<Value> {
    Json(json!({ "tenant_id": tenant.tenant_id, "roles": tenant.roles }))
}

static WRITE: ScopeRequirement = ScopeRequirement::new(&[ScopeRule::All(&["docs:write"])]);
static ADMIN: ScopeRequirement = ScopeRequirement::new(&[
    ScopeRule::All(&["docs:read"]),
    ScopeRule::Any(&["admin", "docs:admin"]),
]);

/// Refuses with 403 unless `principal` satisfies `requirement`.
fn require(
    verifier: &Verifier,
    principal: &Principal,
    requirement: ScopeRequirement,
) -> Result<Json<Value>, Denial> {
    if principal.scopes().satisfy(&requirement) {
        Ok(Json(json!({ "sub": principal.subject() })))
    } else {
        Err(verifier.deny(DenialKind::InsufficientScope(requirement)))
    }
}

async fn write(
    State(verifier): State<Verifier>,
    principal: Principal,
) -> Result<Json<Value>, Denial> {
    require(&verifier, &principal, WRITE)
}

async fn admin(
    State(verifier): State<Verifier>,
    principal: Principal,
) -> Result<Json<Value>, Denial> {
    require(&verifier, &principal, ADMIN)
}

/// One document, `alice-doc`, owned by `alice`; every other id is absent.
async fn document(
    State(verifier): State<Verifier>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, Denial> {
    match id.as_str() {
        "alice-doc" if principal.id() == "alice" => Ok(Json(json!({ "id": id }))),
        "alice-doc" => Err(verifier.deny(DenialKind::NotFound(NotFoundReason::NotOwner))),
        _ => Err(verifier.deny(DenialKind::NotFound(NotFoundReason::Absent))),
    }
}

async fn keys_down(State(verifier): State<Verifier>) -> Denial {
    verifier.deny(DenialKind::KeysUnavailable { retry_after: Duration::from_secs(30) })
}

async fn keys_down_briefly(State(verifier): State<Verifier>) -> Denial {
    verifier.deny(DenialKind::KeysUnavailable { retry_after: Duration::from_millis(500) })
}

/// Every route of these tests, served with `verifier`.
fn full_app(verifier: Verifier) -> Router {
    routes()
        .route("/tenant", get(tenant))
        .route("/write", get(write))
        .route("/admin", get(admin))
        .route("/docs/{id}", get(document))
        .route("/keys-down", get(keys_down))
        .route("/keys-down-briefly", get(keys_down_briefly))
        .with_state(verifier)
}

/// Builds `builder` in disclosure mode `mode` and serves every route with it.
fn serve(builder: &VerifierBuilder, mode: Disclosure) -> Router {
    full_app(builder.clone().disclosure(mode).build().expect("the configuration builds"))
}

/// Sends `request()` to the app built from `builder`, in Production, then Development mode.
async fn in_both_modes(
    builder: &VerifierBuilder,
    request: impl Fn() -> Request<Body>,
) -> (Reply, Reply) {
    let production = send(serve(builder, Disclosure::Production), request()).await;
    let development = send(serve(builder, Disclosure::Development), request()).await;
    (production, development)
}

/// Both modes answer 401 with the bare challenge; only Development explains, in the body.
async fn expect_no_credentials(
    case: &str,
    builder: &VerifierBuilder,
    request: impl Fn() -> Request<Body>,
) {
    eprintln!("case: {case}");
    let (production, development) = in_both_modes(builder, request).await;
    assert_denied(&production, StatusCode::UNAUTHORIZED, Some(BARE), None);
    assert_denied(&development, StatusCode::UNAUTHORIZED, Some(BARE), Some(NO_TOKEN));
}

/// Both modes answer 401 `invalid_token`; Development names the reason with `sentence`.
async fn expect_invalid_token(
    case: &str,
    builder: &VerifierBuilder,
    request: impl Fn() -> Request<Body>,
    sentence: &str,
) {
    eprintln!("case: {case}");
    let (production, development) = in_both_modes(builder, request).await;
    assert_denied(&production, StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), None);
    assert_denied(
        &development,
        StatusCode::UNAUTHORIZED,
        Some(&described("invalid_token", sentence)),
        Some(sentence),
    );
}

/// [`expect_invalid_token`] for `Authorization: Bearer <token>` on `/me`.
async fn expect_token_refused(case: &str, builder: &VerifierBuilder, token: &str, sentence: &str) {
    expect_invalid_token(case, builder, || bearer("/me", token), sentence).await;
}

/// Both modes answer 400 `invalid_request`; the body explains in both, since it describes the
/// request and not the token.
async fn expect_invalid_request(
    case: &str,
    builder: &VerifierBuilder,
    request: impl Fn() -> Request<Body>,
    sentence: &str,
) {
    eprintln!("case: {case}");
    let (production, development) = in_both_modes(builder, request).await;
    assert_denied(&production, StatusCode::BAD_REQUEST, Some(INVALID_REQUEST), Some(sentence));
    assert_denied(
        &development,
        StatusCode::BAD_REQUEST,
        Some(&described("invalid_request", sentence)),
        Some(sentence),
    );
}

/// Both modes let `/me` answer 200 for `subject`.
async fn expect_accepted(
    case: &str,
    builder: &VerifierBuilder,
    request: impl Fn() -> Request<Body>,
    subject: &str,
) {
    eprintln!("case: {case}");
    let (production, development) = in_both_modes(builder, request).await;
    assert_me(&production, subject);
    assert_me(&development, subject);
}

/// A fresh EdDSA issuer and the configuration that trusts it.
fn eddsa() -> (TestIssuer, VerifierBuilder) {
    let issuer = TestIssuer::eddsa();
    let builder = issuer.verifier();
    (issuer, builder)
}

/// A request with one `Authorization` header holding `value`, byte for byte.
fn with_raw_authorization(value: &[u8]) -> Request<Body> {
    Request::get("/me")
        .header(AUTHORIZATION, HeaderValue::from_bytes(value).expect("a field value"))
        .body(Body::empty())
        .expect("a valid request")
}

/// A token of exactly `len` bytes that `issuer`'s verifier accepts, for subject `alice`.
fn token_of_len(issuer: &TestIssuer, len: usize) -> String {
    portcullis_tests::token_of_len(len, |filler, pad| {
        issuer.token("alice").claim("pad", "p".repeat(pad)).header("pad", filler).sign()
    })
}

/// Signs `claims` with `key` under `header`.
fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("signing works")
}

// ---------------------------------------------------------------------------------------------
// No credentials: 401 with the bare challenge
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_without_a_bearer_token_get_the_bare_challenge() {
    let (_, builder) = eddsa();
    expect_no_credentials("no Authorization header", &builder, || get_request("/me")).await;
    for value in [
        "Basic dXNlcjpwYXNz",
        "Digest username=\"alice\"",
        "Bearer",
        "bearer",
        "Bearer    ",
        "Bearerabc.def",
        "",
    ] {
        expect_no_credentials(value, &builder, || with_authorization("/me", value)).await;
    }
}

#[tokio::test]
async fn a_realm_of_your_own_is_named_in_every_challenge() {
    let (issuer, builder) = eddsa();
    let verifier = builder.realm("documents").build().unwrap();
    let app = full_app(verifier);

    let reply = send(app.clone(), get_request("/me")).await;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="documents""#), None);

    let reply = send(app.clone(), bearer("/me", "not-a-jwt")).await;
    assert_denied(
        &reply,
        StatusCode::UNAUTHORIZED,
        Some(r#"Bearer realm="documents", error="invalid_token""#),
        None,
    );

    let request = Request::get("/me")
        .header(AUTHORIZATION, "Bearer a")
        .header(AUTHORIZATION, "Bearer b")
        .body(Body::empty())
        .unwrap();
    let reply = send(app.clone(), request).await;
    assert_denied(
        &reply,
        StatusCode::BAD_REQUEST,
        Some(r#"Bearer realm="documents", error="invalid_request""#),
        Some(SEVERAL_HEADERS),
    );

    let token = issuer.token("alice").sign();
    let reply = send(app, bearer("/write", &token)).await;
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="documents", error="insufficient_scope", scope="docs:write""#),
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// The Authorization header's syntax
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_scheme_is_case_insensitive_and_spaces_may_repeat() {
    let (issuer, builder) = eddsa();
    let token = issuer.token("alice").sign();
    for scheme in ["Bearer ", "bearer     ", "BEARER  ", "bEaReR\u{20}\u{20}\u{20}"] {
        let value = format!("{scheme}{token}");
        expect_accepted(&value, &builder, || with_authorization("/me", &value), "alice").await;
    }
}

#[tokio::test]
async fn tokens_outside_the_b64token_grammar_are_malformed() {
    let (issuer, builder) = eddsa();
    let token = issuer.token("alice").sign();
    for value in [
        "Bearer abc$def".to_owned(),
        "Bearer a b".to_owned(),
        format!("Bearer {token} {token}"),
        format!("Bearer {token} x"),
        format!("Bearer \"{token}\""),
        format!("Bearer {token},"),
        "Bearer a,b".to_owned(),
        "Bearer =abc".to_owned(),
        "Bearer ab=c".to_owned(),
        "Bearer a\tb".to_owned(),
    ] {
        expect_invalid_token(&value, &builder, || with_authorization("/me", &value), MALFORMED)
            .await;
    }
    // Bytes outside ASCII (obs-text) are not b64token either.
    for value in [&b"Bearer caf\xc3\xa9"[..], b"Bearer \xff\xfe"] {
        let case = format!("{value:?}");
        expect_invalid_token(&case, &builder, || with_raw_authorization(value), MALFORMED).await;
    }
    // Padding at the end is grammatical; this one just is not a JWT.
    expect_invalid_token("abc==", &builder, || bearer("/me", "abc=="), MALFORMED).await;
}

#[tokio::test]
async fn strings_that_are_not_jwts_are_malformed() {
    let (issuer, builder) = eddsa();
    let token = issuer.token("alice").sign();
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, _signature) = rest.split_once('.').unwrap();
    for candidate in [
        "abcdef".to_owned(),
        "a.b.c".to_owned(),
        "a.b".to_owned(),
        "....".to_owned(),
        // `{}` as header: no `alg`.
        "e30.e30.e30".to_owned(),
        format!("{header}.{payload}"),
        format!("{header}.{payload}.sig.extra"),
        format!("{payload}.{payload}.{payload}"),
    ] {
        expect_token_refused(&candidate, &builder, &candidate, MALFORMED).await;
    }
}

#[tokio::test]
async fn the_size_limit_is_checked_first_and_is_inclusive() {
    let (issuer, builder) = eddsa();

    // The default limit: exactly at it is fine, one byte over is too large.
    let at_limit = token_of_len(&issuer, DEFAULT_MAX_TOKEN_LEN);
    assert_eq!(at_limit.len(), DEFAULT_MAX_TOKEN_LEN);
    expect_accepted("default limit", &builder, || bearer("/me", &at_limit), "alice").await;
    let over = token_of_len(&issuer, DEFAULT_MAX_TOKEN_LEN + 1);
    expect_token_refused("default limit + 1", &builder, &over, TOO_LARGE).await;

    // A configured limit.
    let token = issuer.token("alice").sign();
    let exact = builder.clone().max_token_len(token.len());
    expect_accepted("configured limit", &exact, || bearer("/me", &token), "alice").await;
    let one_short = builder.clone().max_token_len(token.len() - 1);
    expect_token_refused("configured limit - 1", &one_short, &token, TOO_LARGE).await;

    // Checked before the grammar and before any decoding: a huge value that is not even a
    // b64token is refused as too large.
    let huge_garbage = format!("Bearer {}", "a $".repeat(DEFAULT_MAX_TOKEN_LEN));
    expect_invalid_token(
        "huge garbage",
        &builder,
        || with_authorization("/me", &huge_garbage),
        TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn two_authorization_headers_are_an_invalid_request() {
    let (issuer, builder) = eddsa();
    let token = issuer.token("alice").sign();
    let pairs = [
        (format!("Bearer {token}"), format!("Bearer {token}")),
        ("Basic dXNlcjpwYXNz".to_owned(), format!("Bearer {token}")),
        ("Bearer".to_owned(), "Bearer".to_owned()),
    ];
    for (first, second) in pairs {
        let request = || {
            Request::get("/me")
                .header(AUTHORIZATION, first.as_str())
                .header(AUTHORIZATION, second.as_str())
                .body(Body::empty())
                .unwrap()
        };
        expect_invalid_request(&first, &builder, request, SEVERAL_HEADERS).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Query transport (RFC 6750 §2.3)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn query_tokens_are_ignored_by_default() {
    let (issuer, builder) = eddsa();
    let token = issuer.token("alice").sign();
    let uri = format!("/me?access_token={token}");
    expect_no_credentials("query only", &builder, || get_request(&uri)).await;
    // With the header too, the query parameter is an unrelated parameter.
    expect_accepted("header and query", &builder, || bearer(&uri, &token), "alice").await;
    let twice = format!("/me?access_token={token}&access_token={token}");
    expect_no_credentials("twice in the query", &builder, || get_request(&twice)).await;
}

#[tokio::test]
async fn query_tokens_work_when_allowed() {
    let (issuer, builder) = eddsa();
    let builder = builder.dangerous().allow_query_token();
    let token = issuer.token("alice").sign();
    let uri = format!("/me?access_token={token}");
    expect_accepted("query only", &builder, || get_request(&uri), "alice").await;
    let among_others = format!("/me?page=2&access_token={token}&sort=asc");
    expect_accepted("among other parameters", &builder, || get_request(&among_others), "alice")
        .await;
    // The header still works on its own.
    expect_accepted("header only", &builder, || bearer("/me", &token), "alice").await;

    expect_invalid_request(
        "header and query",
        &builder,
        || bearer(&uri, &token),
        SEVERAL_TRANSPORTS,
    )
    .await;
    let twice = format!("/me?access_token={token}&access_token={token}");
    expect_invalid_request(
        "twice in the query",
        &builder,
        || get_request(&twice),
        SEVERAL_TRANSPORTS,
    )
    .await;

    expect_no_credentials("empty parameter", &builder, || get_request("/me?access_token=")).await;
    expect_invalid_token(
        "space in the query token",
        &builder,
        || get_request("/me?access_token=a%20b"),
        MALFORMED,
    )
    .await;
    let expired = issuer.token("alice").expired(Duration::from_secs(3600)).sign();
    let expired_uri = format!("/me?access_token={expired}");
    expect_invalid_token("expired query token", &builder, || get_request(&expired_uri), EXPIRED)
        .await;
}

// ---------------------------------------------------------------------------------------------
// Signature, keys and algorithms
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_signed_by_another_key_has_a_bad_signature() {
    let (issuer, builder) = eddsa();
    // Same algorithm, same kid, another key.
    let impostor = TestIssuer::eddsa();
    expect_token_refused("impostor", &builder, &impostor.token("alice").sign(), BAD_SIGNATURE)
        .await;

    // A genuine signature over another payload.
    let genuine = issuer.token("alice").sign();
    let forged_payload = issuer.token("mallory").scopes(["admin"]).sign();
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged: Vec<&str> = forged_payload.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], forged[1], parts[2]);
    expect_token_refused("spliced payload", &builder, &spliced, BAD_SIGNATURE).await;

    // One character of the signature changed.
    let mut altered = genuine.clone().into_bytes();
    let middle = altered.len() - 20;
    altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    expect_token_refused("altered signature", &builder, &altered, BAD_SIGNATURE).await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let (issuer, builder) = eddsa();
    let token = issuer.token("alice").kid(Some("another-key")).sign();
    expect_token_refused("unknown kid", &builder, &token, UNKNOWN_KEY).await;
}

#[tokio::test]
async fn algorithms_are_bound_to_their_keys() {
    let (_, builder) = eddsa();

    // An HMAC token against a verifier that has only an EdDSA key.
    let hmac = TestIssuer::hs256(SECRET).unwrap();
    expect_token_refused("HS256 vs EdDSA", &builder, &hmac.token("alice").sign(), DISALLOWED_ALG)
        .await;
    // Same, naming the EdDSA key's kid.
    let named = hmac.token("alice").kid(Some("test-key")).sign();
    expect_token_refused("HS256 naming the Ed key", &builder, &named, DISALLOWED_ALG).await;

    // An ES256 token naming the EdDSA key's kid.
    let es256 = TestIssuer::es256();
    expect_token_refused("ES256 vs EdDSA", &builder, &es256.token("alice").sign(), DISALLOWED_ALG)
        .await;

    // An ES384 token against a verifier for an ES256 key.
    let es384 = TestIssuer::es384();
    expect_token_refused(
        "ES384 vs ES256",
        &es256.verifier(),
        &es384.token("alice").sign(),
        DISALLOWED_ALG,
    )
    .await;
}

#[tokio::test]
async fn hmac_signed_with_a_public_key_is_refused() {
    // The classic confusion: the attacker knows the public key and uses its bytes as an HMAC
    // secret, hoping the verifier feeds the same bytes to HMAC.
    let rsa_public = fixture("rsa_public.pem");
    let ed_public = fixture("ed25519_public.pem");
    let rsa = TestIssuer::rsa_pem(
        portcullis::keys::Algorithm::RS256,
        fixture("rsa_private.pem"),
        &rsa_public,
    )
    .unwrap();
    let ed_builder = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .key(Key::ed25519_pem(&ed_public).unwrap());
    let claims = valid_claims(&rsa, "mallory");
    for kid in [None, Some("test-key")] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid.map(str::to_owned);
        let with_rsa =
            sign(&header, &claims, &EncodingKey::from_secret(rsa_public.as_bytes()).unwrap());
        expect_token_refused("RSA PEM as secret", &rsa.verifier(), &with_rsa, DISALLOWED_ALG).await;
        let with_ed =
            sign(&header, &claims, &EncodingKey::from_secret(ed_public.as_bytes()).unwrap());
        expect_token_refused("Ed PEM as secret", &ed_builder, &with_ed, DISALLOWED_ALG).await;
    }

    // With an HMAC key configured beside the RSA key, HS256 is allowed, but only with the
    // configured secret, and never with the key a kid names.
    let mixed = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .key(Key::rsa_pem(&rsa_public).unwrap().with_kid("rsa"))
        .key(Key::hmac(SECRET).unwrap());
    let forged = sign(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(rsa_public.as_bytes()).unwrap(),
    );
    expect_token_refused("mixed, no kid", &mixed, &forged, BAD_SIGNATURE).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa".to_owned());
    let forged = sign(&header, &claims, &EncodingKey::from_secret(rsa_public.as_bytes()).unwrap());
    expect_token_refused("mixed, RSA kid", &mixed, &forged, DISALLOWED_ALG).await;
    // The honest HMAC token still passes.
    let honest =
        sign(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET).unwrap());
    expect_accepted("mixed, honest HMAC", &mixed, || bearer("/me", &honest), "mallory").await;
}

#[tokio::test]
async fn alg_none_is_refused_in_every_spelling() {
    let (issuer, builder) = eddsa();
    let genuine = issuer.token("alice").sign();
    let genuine_signature = genuine.rsplit('.').next().unwrap();
    let claims = valid_claims(&issuer, "alice");
    for alg in ["none", "None", "NONE", "nOnE"] {
        for header in [
            json!({ "alg": alg }),
            json!({ "alg": alg, "typ": "JWT" }),
            json!({ "alg": alg, "typ": "JWT", "kid": "test-key" }),
        ] {
            for signature in ["", genuine_signature] {
                let token = craft_token(&header, &claims, signature);
                eprintln!("case: {header} / {signature:?}");
                let (production, development) =
                    in_both_modes(&builder, || bearer("/me", &token)).await;
                assert_denied(&production, StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), None);
                // `none` is not an algorithm at all; calling the token malformed or its algorithm
                // disallowed are both honest.
                let malformed = described("invalid_token", MALFORMED);
                let sentence = if development.challenge() == Some(malformed.as_str()) {
                    MALFORMED
                } else {
                    DISALLOWED_ALG
                };
                assert_denied(
                    &development,
                    StatusCode::UNAUTHORIZED,
                    Some(&described("invalid_token", sentence)),
                    Some(sentence),
                );
            }
        }
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let (issuer, builder) = eddsa();
    for crit in [vec!["exp"], vec!["https://example.com/ext"]] {
        let token = issuer
            .token("alice")
            .header("crit", crit.clone())
            .header("https://example.com/ext", true)
            .sign();
        expect_token_refused(&format!("crit {crit:?}"), &builder, &token, UNSUPPORTED_CRIT).await;
    }
    // An empty `crit` is not a JWS header at all (RFC 7515 §4.1.11: "MUST NOT" be empty); more
    // cases in identity_providers.rs.
    let empty = issuer.token("alice").header("crit", json!([])).sign();
    expect_token_refused("crit []", &builder, &empty, MALFORMED).await;
}

/// The attacker's public key as a JWK, with the victim's kid.
fn attacker_jwk(attacker: &TestIssuer) -> Value {
    attacker.jwks()["keys"][0].clone()
}

#[tokio::test]
async fn key_location_headers_are_ignored() {
    let (issuer, builder) = eddsa();
    let attacker = TestIssuer::eddsa();
    let jwk = attacker_jwk(&attacker);
    fn with_hostile_headers<'a>(token: TokenBuilder<'a>, jwk: &Value) -> TokenBuilder<'a> {
        token
            .header("jku", "https://attacker.example/jwks.json")
            .header("x5u", "https://attacker.example/cert.pem")
            .header("jwk", jwk.clone())
            .header("x5c", json!(["MIIBszCCAVmgAwIBAgIUZmFrZQ=="]))
    }

    // On an otherwise valid token they change nothing: the configured key verifies it.
    let token = with_hostile_headers(issuer.token("alice"), &jwk).sign();
    expect_accepted("honest token, hostile headers", &builder, || bearer("/me", &token), "alice")
        .await;

    // A token signed by the attacker, embedding or pointing to the attacker's key, is checked
    // against the configured key only.
    let forged = with_hostile_headers(attacker.token("mallory"), &jwk).sign();
    expect_token_refused("attacker, all headers", &builder, &forged, BAD_SIGNATURE).await;
    let forged = attacker.token("mallory").header("jwk", jwk.clone()).sign();
    expect_token_refused("attacker, jwk", &builder, &forged, BAD_SIGNATURE).await;
    let forged =
        attacker.token("mallory").header("jku", "https://attacker.example/jwks.json").sign();
    expect_token_refused("attacker, jku", &builder, &forged, BAD_SIGNATURE).await;
    // Without a kid, the embedded key does not stand in for a configured one either.
    let forged = attacker.token("mallory").kid(None).header("jwk", jwk.clone()).sign();
    expect_token_refused("attacker, jwk, no kid", &builder, &forged, UNKNOWN_KEY).await;
}

// ---------------------------------------------------------------------------------------------
// Claims: exp, nbf, iss, aud, sub
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn time_claims_are_checked_with_leeway() {
    let (issuer, builder) = eddsa();
    let expired = issuer.token("alice").expired(Duration::from_secs(120)).sign();
    expect_token_refused("expired", &builder, &expired, EXPIRED).await;
    let immature = issuer.token("alice").not_before(Duration::from_secs(120)).sign();
    expect_token_refused("nbf in the future", &builder, &immature, NOT_YET_VALID).await;
    let missing_exp = issuer.token("alice").without_claim("exp").sign();
    expect_token_refused("missing exp", &builder, &missing_exp, MISSING_CLAIM).await;
    let textual_exp = issuer.token("alice").claim("exp", "tomorrow").sign();
    expect_token_refused("exp as text", &builder, &textual_exp, INVALID_CLAIMS).await;
    let past_nbf = issuer.token("alice").claim("nbf", 0).sign();
    expect_accepted("nbf in the past", &builder, || bearer("/me", &past_nbf), "alice").await;

    // Within the default leeway of 30 s…
    let recently_expired = issuer.token("alice").expired(Duration::from_secs(10)).sign();
    expect_accepted("expired 10 s ago", &builder, || bearer("/me", &recently_expired), "alice")
        .await;
    let almost_valid = issuer.token("alice").not_before(Duration::from_secs(10)).sign();
    expect_accepted("valid in 10 s", &builder, || bearer("/me", &almost_valid), "alice").await;
    // …but not without it.
    let strict = builder.clone().leeway(Duration::ZERO);
    expect_token_refused("expired 10 s ago, no leeway", &strict, &recently_expired, EXPIRED).await;
    expect_token_refused("valid in 10 s, no leeway", &strict, &almost_valid, NOT_YET_VALID).await;
}

#[tokio::test]
async fn the_issuer_must_be_the_configured_one() {
    let (issuer, builder) = eddsa();
    let wrong = issuer.token("alice").claim("iss", "https://evil.example").sign();
    expect_token_refused("wrong iss", &builder, &wrong, WRONG_ISSUER).await;
    let case = issuer.token("alice").claim("iss", "HTTPS://ISSUER.TEST").sign();
    expect_token_refused("iss in another case", &builder, &case, WRONG_ISSUER).await;
    let missing = issuer.token("alice").without_claim("iss").sign();
    expect_token_refused("missing iss", &builder, &missing, MISSING_CLAIM).await;
    // `iss` is a single StringOrURI (RFC 7519 §4.1.1): an array that merely contains the
    // configured issuer is not that issuer.
    let listed = issuer.token("alice").claim("iss", json!(["https://evil.example", TEST_ISSUER]));
    expect_token_refused("iss as an array", &builder, &listed.sign(), INVALID_CLAIMS).await;

    // Several configured issuers: any one of them.
    let both = builder.clone().issuer("https://other.example");
    let other = issuer.token("alice").claim("iss", "https://other.example").sign();
    expect_accepted("second issuer", &both, || bearer("/me", &other), "alice").await;
}

#[tokio::test]
async fn the_audience_must_name_this_api() {
    let (issuer, builder) = eddsa();
    let wrong = issuer.token("alice").claim("aud", "another-api").sign();
    expect_token_refused("wrong aud", &builder, &wrong, WRONG_AUDIENCE).await;
    let wrong_list = issuer.token("alice").claim("aud", json!(["a", "b"])).sign();
    expect_token_refused("aud array without us", &builder, &wrong_list, WRONG_AUDIENCE).await;
    let missing = issuer.token("alice").without_claim("aud").sign();
    expect_token_refused("missing aud", &builder, &missing, MISSING_CLAIM).await;
    let listed = issuer.token("alice").claim("aud", json!(["another-api", TEST_AUDIENCE])).sign();
    expect_accepted("aud array with us", &builder, || bearer("/me", &listed), "alice").await;
}

#[tokio::test]
async fn the_subject_is_required() {
    let (issuer, builder) = eddsa();
    let missing = issuer.token("alice").without_claim("sub").sign();
    expect_token_refused("missing sub", &builder, &missing, MISSING_CLAIM).await;
    let empty = issuer.token("").sign();
    expect_token_refused("empty sub", &builder, &empty, MISSING_CLAIM).await;
    let numeric = issuer.token("alice").claim("sub", 42).sign();
    expect_token_refused("numeric sub", &builder, &numeric, INVALID_CLAIMS).await;
}

#[tokio::test]
async fn the_principal_carries_subject_id_and_scopes() {
    let (issuer, app) = portcullis_tests::issuer_and_app();
    let token = issuer.token("alice").scopes(["docs:write", "docs:read", "docs:read"]).sign();
    let reply = send(app, bearer("/me", &token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({ "sub": "alice", "id": "alice", "scopes": ["docs:read", "docs:write"] })
    );
}

#[tokio::test]
async fn a_principal_id_claim_replaces_the_subject_for_ownership() {
    let (issuer, builder) = eddsa();
    let builder = builder.principal_id_claim("uid");
    let app = full_app(builder.clone().build().unwrap());
    for (uid, id) in [(json!(42), "42"), (json!("u-1"), "u-1")] {
        let token = issuer.token("alice").claim("uid", uid).sign();
        let reply = send(app.clone(), bearer("/me", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["sub"], "alice");
        assert_eq!(reply.body["id"], id);
    }
    let missing = issuer.token("alice").sign();
    expect_token_refused("missing uid", &builder, &missing, MISSING_CLAIM).await;
    let boolean = issuer.token("alice").claim("uid", true).sign();
    expect_token_refused("boolean uid", &builder, &boolean, INVALID_CLAIMS).await;

    // Ownership follows the id, not the subject.
    let owner_by_uid = issuer.token("someone").claim("uid", "alice").sign();
    let reply = send(app.clone(), bearer("/docs/alice-doc", &owner_by_uid)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let subject_only = issuer.token("alice").claim("uid", "u-2").sign();
    let reply = send(app, bearer("/docs/alice-doc", &subject_only)).await;
    assert_denied(&reply, StatusCode::NOT_FOUND, None, None);
}

// ---------------------------------------------------------------------------------------------
// Typed claims
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn typed_claims_are_extracted() {
    let (issuer, builder) = eddsa();
    let app = full_app(builder.clone().build().unwrap());
    let token = issuer.token("alice").claim("tenant_id", "t-1").claim("roles", json!(["a"]));
    let reply = send(app.clone(), bearer("/tenant", &token.sign())).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, json!({ "tenant_id": "t-1", "roles": ["a"] }));

    for (case, token) in [
        ("missing tenant_id", issuer.token("alice").sign()),
        ("numeric tenant_id", issuer.token("alice").claim("tenant_id", 7).sign()),
        (
            "roles not a list",
            issuer.token("alice").claim("tenant_id", "t").claim("roles", "a").sign(),
        ),
    ] {
        expect_invalid_token(case, &builder, || bearer("/tenant", &token), INVALID_CLAIMS).await;
    }
    // The token is verified before the claims are read.
    expect_no_credentials("no token", &builder, || get_request("/tenant")).await;
    let expired =
        issuer.token("alice").claim("tenant_id", "t-1").expired(Duration::from_secs(3600)).sign();
    expect_invalid_token("expired", &builder, || bearer("/tenant", &expired), EXPIRED).await;
}

// ---------------------------------------------------------------------------------------------
// Scopes (SPEC §3)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_missing_scope_is_403_with_the_required_scopes() {
    let (issuer, builder) = eddsa();
    for (case, scopes) in [
        ("no scope", vec![]),
        ("another scope", vec!["docs:read"]),
        ("another case", vec!["Docs:write"]),
        ("a longer scope", vec!["docs:write:all"]),
        ("a prefix", vec!["docs:writ"]),
    ] {
        eprintln!("case: {case}");
        let token = issuer.token("alice").scopes(scopes).sign();
        let (production, development) = in_both_modes(&builder, || bearer("/write", &token)).await;
        assert_denied(
            &production,
            StatusCode::FORBIDDEN,
            Some(r#"Bearer realm="api", error="insufficient_scope", scope="docs:write""#),
            None,
        );
        assert_denied(
            &development,
            StatusCode::FORBIDDEN,
            Some(&format!(
                r#"Bearer realm="api", error="insufficient_scope", error_description="{LACKS_SCOPE}", scope="docs:write""#
            )),
            Some(&format!("{LACKS_SCOPE}; required: docs:write")),
        );
    }
    let token = issuer.token("alice").scopes(["docs:read", "docs:write"]).sign();
    let reply = send(serve(&builder, Disclosure::Production), bearer("/write", &token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, json!({ "sub": "alice" }));
}

#[tokio::test]
async fn the_scope_list_can_be_switched_off() {
    let (issuer, builder) = eddsa();
    let builder = builder.advertise_scopes(false);
    let token = issuer.token("alice").scopes(["docs:read"]).sign();
    let (production, development) = in_both_modes(&builder, || bearer("/write", &token)).await;
    assert_denied(
        &production,
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="api", error="insufficient_scope""#),
        None,
    );
    assert_denied(
        &development,
        StatusCode::FORBIDDEN,
        Some(&described("insufficient_scope", LACKS_SCOPE)),
        Some(&format!("{LACKS_SCOPE}; required: docs:write")),
    );
}

#[tokio::test]
async fn all_and_any_rules_list_every_named_scope() {
    let (issuer, builder) = eddsa();
    let app = serve(&builder, Disclosure::Production);
    for scopes in [vec!["docs:read", "docs:admin"], vec!["admin", "docs:read"]] {
        let token = issuer.token("alice").scopes(&scopes).sign();
        let reply = send(app.clone(), bearer("/admin", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{scopes:?}: {reply:?}");
    }
    for scopes in [vec!["docs:read"], vec!["docs:admin", "admin"], vec![]] {
        let token = issuer.token("alice").scopes(&scopes).sign();
        let reply = send(app.clone(), bearer("/admin", &token)).await;
        assert_denied(
            &reply,
            StatusCode::FORBIDDEN,
            Some(
                r#"Bearer realm="api", error="insufficient_scope", scope="docs:read admin docs:admin""#,
            ),
            None,
        );
    }
}

#[tokio::test]
async fn scp_and_permissions_count_only_when_configured() {
    let (issuer, builder) = eddsa();
    let token = issuer
        .token("alice")
        .claim("scope", "a b")
        .claim("scp", json!(["c"]))
        .claim("permissions", json!(["docs:write"]))
        .sign();
    let scopes_with = |builder: VerifierBuilder| {
        let token = token.clone();
        async move {
            let reply = send(full_app(builder.build().unwrap()), bearer("/me", &token)).await;
            assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
            reply.body["scopes"].clone()
        }
    };
    assert_eq!(scopes_with(builder.clone()).await, json!(["a", "b"]));
    let all =
        builder.clone().scope_claims([ScopeClaim::Scope, ScopeClaim::Scp, ScopeClaim::Permissions]);
    assert_eq!(scopes_with(all.clone()).await, json!(["a", "b", "c", "docs:write"]));
    let permissions_only = builder.clone().scope_claims([ScopeClaim::Permissions]);
    assert_eq!(scopes_with(permissions_only.clone()).await, json!(["docs:write"]));

    // `permissions` grants `docs:write` only when it is read.
    let reply = send(serve(&builder, Disclosure::Production), bearer("/write", &token)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    let reply =
        send(serve(&permissions_only, Disclosure::Production), bearer("/write", &token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    // `scp` as a space-delimited string.
    let scp = builder.clone().scope_claims([ScopeClaim::Scp]);
    let token = issuer.token("alice").claim("scp", "x y").sign();
    let reply = send(serve(&scp, Disclosure::Production), bearer("/me", &token)).await;
    assert_eq!(reply.body["scopes"], json!(["x", "y"]), "{reply:?}");

    // Claims of the wrong type are refused, but only when they are read.
    let array_scope = issuer.token("alice").claim("scope", json!(["docs:write"])).sign();
    expect_token_refused("scope as an array", &builder, &array_scope, INVALID_CLAIMS).await;
    let string_permissions = issuer.token("alice").claim("permissions", "docs:write").sign();
    expect_token_refused("permissions as a string", &all, &string_permissions, INVALID_CLAIMS)
        .await;
    expect_accepted(
        "permissions as a string, not read",
        &builder,
        || bearer("/me", &string_permissions),
        "alice",
    )
    .await;
    let numeric_scp = issuer.token("alice").claim("scp", json!([1])).sign();
    expect_token_refused("scp holding a number", &scp, &numeric_scp, INVALID_CLAIMS).await;
}

// ---------------------------------------------------------------------------------------------
// 404 and 503
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn absent_and_foreign_resources_get_the_same_404() {
    let (issuer, builder) = eddsa();
    let bob = issuer.token("bob").sign();
    let alice = issuer.token("alice").sign();

    let app = serve(&builder, Disclosure::Production);
    let foreign = send(app.clone(), bearer("/docs/alice-doc", &bob)).await;
    let absent = send(app.clone(), bearer("/docs/nothing-here", &bob)).await;
    for reply in [&foreign, &absent] {
        assert_denied(reply, StatusCode::NOT_FOUND, None, None);
        assert_eq!(&reply.bytes[..], br#"{"type":"about:blank","title":"Not Found","status":404}"#);
    }
    assert_eq!(foreign.headers, absent.headers);
    let own = send(app, bearer("/docs/alice-doc", &alice)).await;
    assert_eq!(own.status, StatusCode::OK, "{own:?}");

    let app = serve(&builder, Disclosure::Development);
    let foreign = send(app.clone(), bearer("/docs/alice-doc", &bob)).await;
    let absent = send(app, bearer("/docs/nothing-here", &bob)).await;
    for reply in [&foreign, &absent] {
        assert_denied(reply, StatusCode::NOT_FOUND, None, Some(NOT_FOUND_DETAIL));
    }
    assert_eq!(foreign.bytes, absent.bytes);
    assert_eq!(foreign.headers, absent.headers);
}

#[tokio::test]
async fn unavailable_keys_are_503_with_retry_after() {
    let (_, builder) = eddsa();
    for mode in [Disclosure::Production, Disclosure::Development] {
        let reply = send(serve(&builder, mode), get_request("/keys-down")).await;
        assert_denied(&reply, StatusCode::SERVICE_UNAVAILABLE, None, Some(KEYS_DOWN_DETAIL));
        assert_eq!(reply.headers.get_all(RETRY_AFTER).iter().collect::<Vec<_>>(), ["30"]);
        // Less than a second still asks for one, never for zero.
        let reply = send(serve(&builder, mode), get_request("/keys-down-briefly")).await;
        assert_denied(&reply, StatusCode::SERVICE_UNAVAILABLE, None, Some(KEYS_DOWN_DETAIL));
        assert_eq!(reply.headers.get_all(RETRY_AFTER).iter().collect::<Vec<_>>(), ["1"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Every key type
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_test_issuer_key_type_verifies_its_own_tokens_only() {
    let issuers = [
        ("HS256", TestIssuer::hs256(SECRET).unwrap()),
        ("EdDSA", TestIssuer::eddsa()),
        ("ES256", TestIssuer::es256()),
        ("ES384", TestIssuer::es384()),
    ];
    for (name, issuer) in &issuers {
        let builder = issuer.verifier();
        let token = issuer.token("alice").scopes(["docs:write"]).sign();
        expect_accepted(name, &builder, || bearer("/me", &token), "alice").await;
        let reply = send(serve(&builder, Disclosure::Production), bearer("/write", &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {reply:?}");
    }
    // A second key of the same type and kid does not verify them.
    let impostors = [
        ("HS256", TestIssuer::hs256([7u8; 32]).unwrap()),
        ("EdDSA", TestIssuer::eddsa()),
        ("ES256", TestIssuer::es256()),
        ("ES384", TestIssuer::es384()),
    ];
    for ((name, issuer), (_, impostor)) in issuers.iter().zip(&impostors) {
        let token = impostor.token("mallory").sign();
        expect_token_refused(name, &issuer.verifier(), &token, BAD_SIGNATURE).await;
    }
}

#[tokio::test]
async fn rsa_keys_from_pem() {
    let private = fixture("rsa_private.pem");
    let public = fixture("rsa_public.pem");
    let rs256 = TestIssuer::rsa_pem(portcullis::keys::Algorithm::RS256, &private, &public).unwrap();
    let builder = rs256.verifier();
    let token = rs256.token("alice").sign();
    expect_accepted("RS256", &builder, || bearer("/me", &token), "alice").await;

    // The issuer's key is pinned to RS256: the same key with PS256 is refused.
    let ps256 = TestIssuer::rsa_pem(portcullis::keys::Algorithm::PS256, &private, &public).unwrap();
    expect_token_refused("PS256 vs RS256", &builder, &ps256.token("alice").sign(), DISALLOWED_ALG)
        .await;

    // An unpinned PEM key accepts the RSA family, and nothing else.
    let unpinned = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .key(Key::rsa_pem(&public).unwrap());
    let encoding = EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
    let claims = valid_claims(&rs256, "alice");
    for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
        let token = sign(&Header::new(alg), &claims, &encoding);
        expect_accepted(&format!("{alg:?}"), &unpinned, || bearer("/me", &token), "alice").await;
    }
    let es256 = TestIssuer::es256().with_kid(None);
    expect_token_refused("ES256 vs RSA", &unpinned, &es256.token("a").sign(), DISALLOWED_ALG).await;

    // A PEM of another type is not an RSA key.
    assert!(Key::rsa_pem(fixture("ec_p256_public.pem")).is_err());
}

#[tokio::test]
async fn ec_keys_from_pem() {
    let public = fixture("ec_p256_public.pem");
    let encoding = EncodingKey::from_ec_pem(fixture("ec_p256_private.pem").as_bytes()).unwrap();
    let builder = Verifier::builder().issuer(TEST_ISSUER).audience(TEST_AUDIENCE).key(
        Key::ec_pem(&public).unwrap().with_algorithm(portcullis::keys::Algorithm::ES256).unwrap(),
    );
    let reference = TestIssuer::es256();
    let token = sign(&Header::new(Algorithm::ES256), &valid_claims(&reference, "alice"), &encoding);
    expect_accepted("ES256 PEM", &builder, || bearer("/me", &token), "alice").await;
    let mut with_kid = Header::new(Algorithm::ES256);
    with_kid.kid = Some("unconfigured".to_owned());
    let token = sign(&with_kid, &valid_claims(&reference, "alice"), &encoding);
    // A kid-less key answers for any kid it does not know.
    expect_accepted("ES256 PEM, some kid", &builder, || bearer("/me", &token), "alice").await;

    let other = TestIssuer::es256().with_kid(None);
    expect_token_refused("another P-256 key", &builder, &other.token("a").sign(), BAD_SIGNATURE)
        .await;
    let es384 = TestIssuer::es384().with_kid(None);
    expect_token_refused(
        "ES384 vs pinned ES256",
        &builder,
        &es384.token("a").sign(),
        DISALLOWED_ALG,
    )
    .await;

    assert!(Key::ec_pem(fixture("rsa_public.pem")).is_err());
    assert!(
        Key::ec_pem(&public).unwrap().with_algorithm(portcullis::keys::Algorithm::RS256).is_err()
    );
}

#[tokio::test]
async fn ed25519_keys_from_pem() {
    let public = fixture("ed25519_public.pem");
    let encoding = EncodingKey::from_ed_pem(fixture("ed25519_private.pem").as_bytes()).unwrap();
    let builder = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .key(Key::ed25519_pem(&public).unwrap());
    let reference = TestIssuer::eddsa();
    let token = sign(&Header::new(Algorithm::EdDSA), &valid_claims(&reference, "alice"), &encoding);
    expect_accepted("EdDSA PEM", &builder, || bearer("/me", &token), "alice").await;
    let other = TestIssuer::eddsa().with_kid(None);
    expect_token_refused("another Ed25519 key", &builder, &other.token("a").sign(), BAD_SIGNATURE)
        .await;
    assert!(Key::ed25519_pem(fixture("ec_p256_public.pem")).is_err());
}

#[tokio::test]
async fn a_jwks_selects_the_key_by_kid() {
    let first = TestIssuer::eddsa().with_kid(Some("k1"));
    let second = TestIssuer::eddsa().with_kid(Some("k2"));
    let third = TestIssuer::es256().with_kid(Some("k3"));
    let keys: Vec<Value> = [&first, &second, &third]
        .iter()
        .flat_map(|issuer| issuer.jwks()["keys"].as_array().unwrap().clone())
        .collect();
    let document = json!({ "keys": keys }).to_string();
    let set = KeySet::from_jwks(&document).unwrap();
    assert_eq!(set.len(), 3);
    let kids: Vec<_> = set.iter().map(|key| key.kid().unwrap().to_owned()).collect();
    assert_eq!(kids, ["k1", "k2", "k3"]);
    let builder = Verifier::builder().issuer(TEST_ISSUER).audience(TEST_AUDIENCE).keys(set);

    for (issuer, subject) in [(&first, "one"), (&second, "two"), (&third, "three")] {
        let token = issuer.token(subject).sign();
        expect_accepted(subject, &builder, || bearer("/me", &token), subject).await;
    }
    // The kid decides which key checks the signature.
    let mislabeled = second.token("two").kid(Some("k1")).sign();
    expect_token_refused("k2's token labelled k1", &builder, &mislabeled, BAD_SIGNATURE).await;
    let across = first.token("one").kid(Some("k3")).sign();
    expect_token_refused("EdDSA token labelled k3", &builder, &across, DISALLOWED_ALG).await;
    let unknown = first.token("one").kid(Some("k9")).sign();
    expect_token_refused("unknown kid", &builder, &unknown, UNKNOWN_KEY).await;
    let kidless = first.token("one").kid(None).sign();
    expect_token_refused("no kid", &builder, &kidless, UNKNOWN_KEY).await;

    // ES384 keys come out bound to ES384.
    let es384 = TestIssuer::es384();
    let set = KeySet::from_jwks(&es384.jwks().to_string()).unwrap();
    assert_eq!(set.iter().next().unwrap().algorithms(), [portcullis::keys::Algorithm::ES384]);
    let builder = Verifier::builder().issuer(TEST_ISSUER).audience(TEST_AUDIENCE).keys(set);
    let token = es384.token("alice").sign();
    expect_accepted("ES384 JWKS", &builder, || bearer("/me", &token), "alice").await;

    // An HMAC issuer publishes nothing, and a verifier needs a key.
    let hmac = TestIssuer::hs256(SECRET).unwrap();
    let empty = KeySet::from_jwks(&hmac.jwks().to_string()).unwrap();
    assert!(empty.is_empty());
    let result =
        Verifier::builder().issuer(TEST_ISSUER).audience(TEST_AUDIENCE).keys(empty).build();
    assert!(
        matches!(result, Err(ConfigError::Keys(portcullis::config::KeysError::NoKeys))),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_support_app_works_with_the_default_configuration() {
    // `app` and `issuer_and_app` are what the other test files build on.
    let issuer = TestIssuer::eddsa();
    let app = app(issuer.verifier().build().unwrap());
    let reply = send(app.clone(), bearer("/me", &issuer.token("alice").sign())).await;
    assert_me(&reply, "alice");
    let reply = send(app, get_request("/me")).await;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(BARE), None);
}
