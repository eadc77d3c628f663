//! Identity providers as they really are (issue 16): token types and RFC 9068's profile,
//! repeated JSON names and `crit`, RFC 9864's `Ed25519`.
//!
//! Every case goes through a real axum `Router` (`GET /me` takes a `Principal`) and is checked
//! completely: status, `WWW-Authenticate`, the problem document and, in Development mode, the
//! fixed sentence that pins why the token was refused.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failed test")]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::EncodingKey;
use portcullis::config::IssuerError;
use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer};
use portcullis::{
    ConfigError, Key, Preset, Verifier,
    config::{TokenProfile, TrustedIssuer, VerifierBuilder},
    keys::KeySet,
    response::{Disclosure, InvalidTokenReason},
};
use portcullis_tests::{Reply, app, assert_denied, assert_me, bearer, fixture, send};
use serde_json::{Value, json};

const WRONG_TYPE: &str = "The token is not an access token of an accepted type";
const MISSING_CLAIM: &str = "The access token lacks a required claim";
const INVALID_CLAIMS: &str = "The access token has claims of the wrong type";
const NOT_YET_VALID: &str = "The access token is not valid yet";
const MALFORMED: &str = "The access token is malformed";
const UNSUPPORTED_CRIT: &str = "The access token uses an unsupported critical header";
const DISALLOWED_ALG: &str = "The access token is signed with an algorithm that is not allowed";
const INVALID_TOKEN: &str = r#"Bearer realm="api", error="invalid_token""#;

/// The kid of the Ed25519 fixture key.
const KID: &str = "ed-2026";

fn described(sentence: &str) -> String {
    format!(r#"Bearer realm="api", error="invalid_token", error_description="{sentence}""#)
}

/// `token` refused with `sentence`: 401 `invalid_token` in Production (no description, no
/// detail) and in Development (the sentence in both places).
async fn assert_refused(case: &str, builder: &VerifierBuilder, token: &str, sentence: &str) {
    eprintln!("case: {case}");
    let production = send_to(builder, Disclosure::Production, token).await;
    assert_denied(&production, StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), None);
    let development = send_to(builder, Disclosure::Development, token).await;
    assert_denied(
        &development,
        StatusCode::UNAUTHORIZED,
        Some(&described(sentence)),
        Some(sentence),
    );
}

/// `token` accepted for `subject` in both modes.
async fn assert_accepted(case: &str, builder: &VerifierBuilder, token: &str, subject: &str) {
    eprintln!("case: {case}");
    for mode in [Disclosure::Production, Disclosure::Development] {
        assert_me(&send_to(builder, mode, token).await, subject);
    }
}

async fn send_to(builder: &VerifierBuilder, mode: Disclosure, token: &str) -> Reply {
    let verifier = builder.clone().disclosure(mode).build().expect("the configuration builds");
    send(app(verifier), bearer("/me", token)).await
}

// ---------------------------------------------------------------------------------------------
// 1. Token types (RFC 8725 §3.11) and RFC 9068's profile
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_default_profile_accepts_access_token_types_and_refuses_others() {
    let issuer = TestIssuer::eddsa();
    let builder = issuer.verifier();
    let absent = issuer.token("alice").without_header("typ").sign();
    assert_accepted("typ absent", &builder, &absent, "alice").await;
    for typ in ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"] {
        let token = issuer.token("alice").header("typ", typ).sign();
        assert_accepted(typ, &builder, &token, "alice").await;
    }
    for typ in ["dpop+jwt", "logout+jwt", "secevent+jwt", "JOSE", "application/jose", "", "at+jwt "]
    {
        let token = issuer.token("alice").header("typ", typ).sign();
        assert_refused(typ, &builder, &token, WRONG_TYPE).await;
    }
    // `null` is no `typ`, like `kid`'s; a `typ` of another type is no JWS header.
    let null = issuer.token("alice").header("typ", json!(null)).sign();
    assert_accepted("typ null", &builder, &null, "alice").await;
    for typ in [json!(["JWT"]), json!(1)] {
        let token = issuer.token("alice").header("typ", typ.clone()).sign();
        assert_refused(&typ.to_string(), &builder, &token, MALFORMED).await;
    }
}

/// A token with every claim RFC 9068 §2.2 requires.
fn rfc9068_token(issuer: &TestIssuer) -> portcullis::testing::TokenBuilder<'_> {
    issuer.token("alice").header("typ", "at+jwt").claim("client_id", "cli").claim("jti", "j-1")
}

#[tokio::test]
async fn the_rfc9068_profile_requires_at_jwt_and_its_claims() {
    let issuer = TestIssuer::eddsa();
    let builder = issuer.verifier().token_profile(TokenProfile::Rfc9068);
    assert_accepted("complete", &builder, &rfc9068_token(&issuer).sign(), "alice").await;
    let long = rfc9068_token(&issuer).header("typ", "application/at+jwt").sign();
    assert_accepted("application/at+jwt", &builder, &long, "alice").await;
    for typ in [Some("JWT"), None, Some("dpop+jwt")] {
        let token = match typ {
            Some(typ) => rfc9068_token(&issuer).header("typ", typ),
            None => rfc9068_token(&issuer).without_header("typ"),
        }
        .sign();
        assert_refused(&format!("typ {typ:?}"), &builder, &token, WRONG_TYPE).await;
    }
    for claim in ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"] {
        let token = rfc9068_token(&issuer).without_claim(claim).sign();
        assert_refused(&format!("without {claim}"), &builder, &token, MISSING_CLAIM).await;
    }
    let numeric_jti = rfc9068_token(&issuer).claim("jti", 7).sign();
    assert_refused("numeric jti", &builder, &numeric_jti, INVALID_CLAIMS).await;
    // The same tokens pass the default profile, which requires none of this.
    let plain = issuer.token("alice").sign();
    assert_accepted("default profile", &issuer.verifier(), &plain, "alice").await;
    assert_refused("typ JWT under rfc9068", &builder, &plain, WRONG_TYPE).await;
}

#[tokio::test]
async fn the_profile_comes_from_the_environment() {
    let issuer = TestIssuer::eddsa();
    let vars = [("PORTCULLIS_TOKEN_PROFILE", "rfc9068")];
    let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into());
    let builder = issuer.verifier().with_env(lookup).unwrap();
    assert_refused("env rfc9068", &builder, &issuer.token("alice").sign(), WRONG_TYPE).await;
    assert_accepted("env rfc9068", &builder, &rfc9068_token(&issuer).sign(), "alice").await;
    let bad = [("PORTCULLIS_TOKEN_PROFILE", "strict")];
    let err = issuer
        .verifier()
        .with_env(|name: &str| bad.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
        .unwrap_err();
    assert_eq!(err.to_string(), "PORTCULLIS_TOKEN_PROFILE: the value must be `jwt` or `rfc9068`");
}

#[tokio::test]
async fn iat_beyond_the_leeway_in_the_future_is_refused() {
    let issuer = TestIssuer::eddsa();
    let builder = issuer.verifier();
    let now = jsonwebtoken::get_current_timestamp();
    let soon = issuer.token("alice").claim("iat", now + 20).sign();
    assert_accepted("iat within the leeway", &builder, &soon, "alice").await;
    let later = issuer.token("alice").claim("iat", now + 3600).sign();
    assert_refused("iat an hour ahead", &builder, &later, NOT_YET_VALID).await;
    let text = issuer.token("alice").claim("iat", "now").sign();
    assert_refused("iat a string", &builder, &text, INVALID_CLAIMS).await;
}

#[tokio::test]
async fn a_refused_type_is_never_cached() {
    // Refused, then the same verifier (one cache) still refuses it: nothing was stored.
    let issuer = TestIssuer::eddsa();
    let router = app(issuer.verifier().disclosure(Disclosure::Development).build().unwrap());
    let token = issuer.token("alice").header("typ", "dpop+jwt").sign();
    for _ in 0..2 {
        let reply = send(router.clone(), bearer("/me", &token)).await;
        assert_denied(
            &reply,
            StatusCode::UNAUTHORIZED,
            Some(&described(WRONG_TYPE)),
            Some(WRONG_TYPE),
        );
    }
    let good = issuer.token("alice").sign();
    for _ in 0..2 {
        assert_me(&send(router.clone(), bearer("/me", &good)).await, "alice");
    }
}

#[test]
fn wrong_type_is_a_closed_reason() {
    assert!(InvalidTokenReason::ALL.contains(&InvalidTokenReason::WrongType));
    assert_eq!(InvalidTokenReason::WrongType.code(), "wrong_type");
    assert_eq!(InvalidTokenReason::WrongType.description(), WRONG_TYPE);
}

// ---------------------------------------------------------------------------------------------
// 2. Repeated names at any depth, and `crit`
// ---------------------------------------------------------------------------------------------

/// Signs header and payload text as given, with the Ed25519 fixture key.
fn sign_raw(header: &str, payload: &str) -> String {
    let key = EncodingKey::from_ed_pem(fixture("ed25519_private.pem").as_bytes()).unwrap();
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA).unwrap();
    format!("{input}.{signature}")
}

fn raw_builder() -> VerifierBuilder {
    let key = Key::ed25519_pem(fixture("ed25519_public.pem")).unwrap().with_kid(KID);
    Verifier::builder().issuer(TEST_ISSUER).audience(TEST_AUDIENCE).key(key)
}

/// Claims for alice, with `extra` (`"name":value,` or empty) first.
fn raw_claims(extra: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let exp = now + 600;
    format!(
        r#"{{{extra}"sub":"alice","iss":"{TEST_ISSUER}","aud":"{TEST_AUDIENCE}","iat":{now},"exp":{exp}}}"#
    )
}

#[tokio::test]
async fn repeated_names_are_refused_anywhere() {
    let builder = raw_builder();
    let header = format!(r#"{{"alg":"EdDSA","kid":"{KID}"}}"#);
    let genuine = sign_raw(&header, &raw_claims(r#""tenant":{"id":1,"tags":[{"a":1}]},"#));
    assert_accepted("genuine", &builder, &genuine, "alice").await;
    for (case, header, claims) in [
        (
            "header, unregistered",
            format!(r#"{{"alg":"EdDSA","kid":"{KID}","x":1,"x":2}}"#),
            raw_claims(""),
        ),
        (
            "header, kid",
            format!(r#"{{"alg":"EdDSA","kid":"{KID}","kid":"{KID}"}}"#),
            raw_claims(""),
        ),
        (
            "header, nested",
            format!(r#"{{"alg":"EdDSA","kid":"{KID}","ext":{{"a":1,"a":1}}}}"#),
            raw_claims(""),
        ),
        ("claims, nested", header.clone(), raw_claims(r#""tenant":{"id":1,"id":2},"#)),
        ("claims, in an array", header.clone(), raw_claims(r#""t":[{"a":1},{"b":1,"b":2}],"#)),
        ("claims, deep", header.clone(), raw_claims(r#""a":{"b":{"c":{"d":1,"d":1}}},"#)),
        ("claims, top level", header.clone(), raw_claims(r#""sub":"mallory","#)),
    ] {
        let token = sign_raw(&header, &claims);
        assert_refused(case, &builder, &token, MALFORMED).await;
    }
}

#[tokio::test]
async fn crit_must_be_a_non_empty_array_of_names() {
    let builder = raw_builder();
    for crit in ["null", "[]", r#""exp""#, "[1]", "{}"] {
        let header = format!(r#"{{"alg":"EdDSA","kid":"{KID}","crit":{crit}}}"#);
        let token = sign_raw(&header, &raw_claims(""));
        assert_refused(&format!("crit {crit}"), &builder, &token, MALFORMED).await;
    }
    // A well-formed `crit` names extensions this verifier does not understand.
    let header = format!(r#"{{"alg":"EdDSA","kid":"{KID}","crit":["ext"],"ext":true}}"#);
    let token = sign_raw(&header, &raw_claims(""));
    assert_refused("crit [ext]", &builder, &token, UNSUPPORTED_CRIT).await;
}

#[tokio::test]
async fn the_header_is_a_json_object_of_three_parts() {
    let builder = raw_builder();
    let good = sign_raw(&format!(r#"{{"alg":"EdDSA","kid":"{KID}"}}"#), &raw_claims(""));
    for (case, token) in [
        ("array header", sign_raw(r#"["EdDSA"]"#, &raw_claims(""))),
        ("no alg", sign_raw(&format!(r#"{{"kid":"{KID}"}}"#), &raw_claims(""))),
        ("alg not a string", sign_raw(r#"{"alg":["EdDSA"]}"#, &raw_claims(""))),
        ("kid not a string", sign_raw(r#"{"alg":"EdDSA","kid":7}"#, &raw_claims(""))),
        ("four parts", format!("{good}.x")),
        ("array claims", sign_raw(&format!(r#"{{"alg":"EdDSA","kid":"{KID}"}}"#), "[1]")),
    ] {
        assert_refused(case, &builder, &token, MALFORMED).await;
    }
    let none = sign_raw(r#"{"alg":"none"}"#, &raw_claims(""));
    assert_refused("alg none", &builder, &none, DISALLOWED_ALG).await;
}

// ---------------------------------------------------------------------------------------------
// 3. RFC 9864: `Ed25519` is EdDSA over Ed25519
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_fully_specified_ed25519_name_is_accepted() {
    let issuer = TestIssuer::eddsa();
    let builder = issuer.verifier();
    let token = issuer.token("alice").header("alg", "Ed25519").sign();
    assert_accepted("header alg Ed25519", &builder, &token, "alice").await;
    // Still bound to keys: an Ed25519 token never selects an HMAC key.
    let hmac = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .key(Key::hmac([7u8; 32]).unwrap());
    assert_refused("Ed25519 with an HMAC key", &hmac, &token, DISALLOWED_ALG).await;
    // Other spellings stay unknown.
    let lower = issuer.token("alice").header("alg", "ed25519").sign();
    assert_refused("alg ed25519", &builder, &lower, DISALLOWED_ALG).await;
}

#[tokio::test]
async fn a_jwk_with_the_ed25519_alg_verifies_eddsa_tokens() {
    let issuer = TestIssuer::eddsa().with_kid(Some("k1"));
    let mut jwks = issuer.jwks();
    jwks["keys"][0]["alg"] = Value::from("Ed25519");
    let keys = KeySet::from_jwks(&jwks.to_string()).expect("an Ed25519 `alg` is a valid JWK");
    let builder =
        Verifier::builder().issuer(issuer.issuer()).audience(issuer.audience()).keys(keys);
    for alg in ["EdDSA", "Ed25519"] {
        let token = issuer.token("alice").header("alg", alg).sign();
        assert_accepted(alg, &builder, &token, "alice").await;
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Several issuers, each with its own keys (RFC 8725 §3.8)
// ---------------------------------------------------------------------------------------------

const ISSUER_A: &str = "https://a.example";
const ISSUER_B: &str = "https://b.example";
const UNKNOWN_KEY: &str = "The access token is signed with an unknown key";
const BAD_SIGNATURE: &str = "The access token signature is invalid";
const WRONG_ISSUER: &str = "The access token was issued by an untrusted issuer";

/// What `/me` answers for `token`, in Development mode.
async fn me(builder: &VerifierBuilder, token: &str) -> Reply {
    send_to(builder, Disclosure::Development, token).await
}

#[tokio::test]
async fn each_issuer_is_verified_with_its_own_keys_only() {
    let a = TestIssuer::eddsa().with_issuer(ISSUER_A).with_kid(Some("a-key"));
    let b = TestIssuer::eddsa().with_issuer(ISSUER_B).with_kid(Some("b-key"));
    let builder = Verifier::builder()
        .trusted_issuer(TrustedIssuer::new(ISSUER_A).key(a.verification_key()))
        .trusted_issuer(TrustedIssuer::new(ISSUER_B).key(b.verification_key()))
        .audience(TEST_AUDIENCE);
    assert_accepted("A's token", &builder, &a.token("alice").sign(), "alice").await;
    assert_accepted("B's token", &builder, &b.token("alice").sign(), "alice").await;

    // B's key signs a token that says it comes from A: A's keys do not hold B's kid...
    let forged = b.token("alice").claim("iss", ISSUER_A).sign();
    assert_refused("B signs as A", &builder, &forged, UNKNOWN_KEY).await;
    // ...and under A's kid, A's key does not verify B's signature.
    let forged = b.token("alice").claim("iss", ISSUER_A).kid(Some("a-key")).sign();
    assert_refused("B signs as A, A's kid", &builder, &forged, BAD_SIGNATURE).await;
    let foreign = TestIssuer::eddsa().with_issuer("https://c.example").token("alice").sign();
    assert_refused("another issuer", &builder, &foreign, WRONG_ISSUER).await;

    // The same key set shared by two `.issuer(..)`s accepts the forgery: what trusted issuers
    // are for.
    let shared = Verifier::builder()
        .issuer(ISSUER_A)
        .issuer(ISSUER_B)
        .key(a.verification_key())
        .key(b.verification_key())
        .audience(TEST_AUDIENCE);
    let forged = b.token("alice").claim("iss", ISSUER_A).sign();
    assert_accepted("shared keys", &shared, &forged, "alice").await;
}

#[tokio::test]
async fn with_several_issuers_the_owner_is_the_pair_of_issuer_and_subject() {
    let a = TestIssuer::eddsa().with_issuer(ISSUER_A).with_kid(Some("a-key"));
    let b = TestIssuer::eddsa().with_issuer(ISSUER_B).with_kid(Some("b-key"));
    let builder = Verifier::builder()
        .trusted_issuer(TrustedIssuer::new(ISSUER_A).key(a.verification_key()))
        .trusted_issuer(TrustedIssuer::new(ISSUER_B).key(b.verification_key()))
        .audience(TEST_AUDIENCE);
    let alice_a = me(&builder, &a.token("alice").sign()).await;
    let alice_b = me(&builder, &b.token("alice").sign()).await;
    assert_me(&alice_a, "alice");
    assert_me(&alice_b, "alice");
    assert_eq!(alice_a.body["id"], json!(r#"["https://a.example","alice"]"#));
    assert_eq!(alice_b.body["id"], json!(r#"["https://b.example","alice"]"#));
    // One issuer: the subject alone, as before.
    let one = me(&a.verifier(), &a.token("alice").sign()).await;
    assert_eq!(one.body["id"], json!("alice"));
    // Two issuers configured with `.issuer(..)` sharing keys: still two issuers, still pairs.
    let shared = Verifier::builder()
        .issuer(ISSUER_A)
        .issuer(ISSUER_B)
        .key(a.verification_key())
        .audience(TEST_AUDIENCE);
    let pair = me(&shared, &a.token("alice").sign()).await;
    assert_eq!(pair.body["id"], json!(r#"["https://a.example","alice"]"#));
}

/// Issuers with keys of their own are identity domains of their own: accepting any issuer beside
/// them, or merging identities across issuers (`.dangerous().identity_by_subject_only()`, which
/// `Preset::google()` sets for Google's two spellings), would let a token of another issuer take
/// a trusted issuer's caller's identity. Both are configuration errors.
#[test]
fn trusted_issuers_keep_their_identities_apart() {
    let a = TestIssuer::eddsa().with_issuer(ISSUER_A).with_kid(Some("a-key"));
    let any = Verifier::builder()
        .dangerous()
        .any_issuer()
        .key(TestIssuer::eddsa().verification_key())
        .trusted_issuer(TrustedIssuer::new(ISSUER_A).key(a.verification_key()))
        .audience(TEST_AUDIENCE)
        .build()
        .unwrap_err();
    assert!(matches!(any, ConfigError::Issuers(IssuerError::AnyIssuerWithTrustedIssuers)), "{any}");
    let merged = Verifier::builder()
        .preset(Preset::google())
        .trusted_issuer(TrustedIssuer::new(ISSUER_A).key(a.verification_key()))
        .audience(TEST_AUDIENCE)
        .build()
        .unwrap_err();
    assert!(
        matches!(merged, ConfigError::Issuers(IssuerError::IdentityMergedAcrossTrustedIssuers)),
        "{merged}"
    );
    // Google's preset alone still accepts its two spellings as one identity.
    assert!(Verifier::builder().preset(Preset::google()).audience(TEST_AUDIENCE).build().is_ok());
}
