//! Hostile tokens (issue 8, item 2): tokens an attacker crafts on purpose.
//!
//! Each case is sent through a real axum `Router` in both disclosure modes and checked
//! completely: the exact status, the exact `WWW-Authenticate` value, the RFC 9457 problem
//! document, the Development sentence (which pins *why* the token was refused), and that no
//! part of the token (nor the hostile value planted in it) is echoed in any header or the body.
//!
//! Tokens are signed with the real key wherever the case allows, so that a refusal proves the
//! hostile part was refused, not merely that the signature was wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failed test")]

use std::future::IntoFuture;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer, TokenBuilder};
use portcullis::{
    Key, Verifier,
    config::{DEFAULT_MAX_TOKEN_LEN, VerifierBuilder},
    response::Disclosure,
};

/// A header edit applied to a token being minted.
type Edit = Box<dyn for<'a> Fn(TokenBuilder<'a>, &str) -> TokenBuilder<'a>>;

fn edit(edit: impl for<'a> Fn(TokenBuilder<'a>, &str) -> TokenBuilder<'a> + 'static) -> Edit {
    Box::new(edit)
}
use portcullis_tests::{
    Reply, app, assert_denied, assert_me, bearer, craft_token, fixture, send, valid_claims,
};
use serde_json::{Value, json};

// The Development sentences this file expects (SPEC §6: a closed set of fixed strings).
const MALFORMED: &str = "The access token is malformed";
const TOO_LARGE: &str = "The access token is too large";
const DISALLOWED_ALG: &str = "The access token is signed with an algorithm that is not allowed";
const UNKNOWN_KEY: &str = "The access token is signed with an unknown key";
const BAD_SIGNATURE: &str = "The access token signature is invalid";
const INVALID_CLAIMS: &str = "The access token has claims of the wrong type";

/// The Production challenge of every case here (default realm).
const INVALID_TOKEN: &str = r#"Bearer realm="api", error="invalid_token""#;

/// The kid of the Ed25519 fixture key.
const KID: &str = "ed-2026";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Signs arbitrary header and payload *bytes* with the Ed25519 fixture key, so that a case can
/// hold duplicate keys, invalid UTF-8 or any JSON no serializer would write.
struct RawSigner {
    key: EncodingKey,
}

impl RawSigner {
    fn new() -> Self {
        let key = EncodingKey::from_ed_pem(fixture("ed25519_private.pem").as_bytes())
            .expect("the Ed25519 fixture");
        Self { key }
    }

    /// The configuration that trusts this key (kid [`KID`]) for the test issuer and audience.
    fn builder(&self) -> VerifierBuilder {
        let key =
            Key::ed25519_pem(fixture("ed25519_public.pem")).expect("the fixture").with_kid(KID);
        Verifier::builder().issuer(TEST_ISSUER).audience(TEST_AUDIENCE).key(key)
    }

    fn sign_bytes(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &self.key, Algorithm::EdDSA)
                .expect("Ed25519 signing works");
        format!("{signing_input}.{signature}")
    }

    fn sign(&self, header: &str, payload: &str) -> String {
        self.sign_bytes(header.as_bytes(), payload.as_bytes())
    }

    /// The standard header, naming [`KID`].
    fn header() -> String {
        format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{KID}"}}"#)
    }

    /// Valid claims for `alice`, as text, with `extra` (`"name":value,...` or empty) prepended.
    fn claims(extra: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + 600;
        format!(
            r#"{{{extra}"sub":"alice","iss":"{TEST_ISSUER}","aud":"{TEST_AUDIENCE}","iat":{now},"exp":{exp}}}"#
        )
    }
}

/// The Development challenge for `invalid_token` with `sentence`.
fn described(sentence: &str) -> String {
    format!(r#"Bearer realm="api", error="invalid_token", error_description="{sentence}""#)
}

/// Sends `request()` to the app built from `builder` in Production, then Development mode.
async fn both_modes(
    builder: &VerifierBuilder,
    request: impl Fn() -> Request<Body>,
) -> (Reply, Reply) {
    let build = |mode| app(builder.clone().disclosure(mode).build().expect("the configuration"));
    let production = send(build(Disclosure::Production), request()).await;
    let development = send(build(Disclosure::Development), request()).await;
    (production, development)
}

/// Asserts that `reply` shows nothing of `token` (whole, any segment, any 16-byte window) and
/// none of `planted` (hostile values placed inside it).
fn assert_no_echo(reply: &Reply, token: &str, planted: &[&str]) {
    let seen = reply.visible();
    let mut needles: Vec<&str> = Vec::new();
    if token.len() >= 6 {
        needles.push(token);
    }
    needles.extend(token.split('.').filter(|segment| segment.len() >= 6));
    let bytes = token.as_bytes();
    let windows = bytes.windows(16).filter_map(|w| std::str::from_utf8(w).ok());
    needles.extend(windows);
    needles.extend(planted.iter().copied().filter(|p| !p.is_empty()));
    for needle in needles {
        assert!(!seen.contains(needle), "the response echoes {needle:?}:\n{seen}");
    }
}

/// Asserts that `token` is refused with 401 `invalid_token` in both modes, that Development names
/// the reason `sentence`, and that neither echoes the token or `planted`.
async fn refused(
    case: &str,
    builder: &VerifierBuilder,
    token: &str,
    sentence: &str,
    planted: &[&str],
) {
    eprintln!("case: {case}");
    let (production, development) = both_modes(builder, || bearer("/me", token)).await;
    assert_denied(&production, StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), None);
    assert_denied(
        &development,
        StatusCode::UNAUTHORIZED,
        Some(&described(sentence)),
        Some(sentence),
    );
    assert_no_echo(&production, token, planted);
    assert_no_echo(&development, token, planted);
}

/// Asserts that `token` is accepted in both modes as `subject`.
async fn accepted(case: &str, builder: &VerifierBuilder, token: &str, subject: &str) {
    eprintln!("case: {case}");
    let (production, development) = both_modes(builder, || bearer("/me", token)).await;
    assert_me(&production, subject);
    assert_me(&development, subject);
}

/// Every spelling of `word` in upper and lower case letters.
fn every_case(word: &str) -> Vec<String> {
    let letters: Vec<char> = word.chars().collect();
    (0..1u32 << letters.len())
        .map(|mask| {
            letters
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if mask & (1 << i) == 0 {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// alg: none, and algorithms that do not fit the key
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn alg_none_is_refused_in_every_letter_case() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let genuine = signer.sign(&RawSigner::header(), &RawSigner::claims(""));
    let genuine_signature = genuine.rsplit('.').next().unwrap();
    let spellings = every_case("none");
    assert_eq!(spellings.len(), 16);
    for alg in &spellings {
        let claims: Value = serde_json::from_str(&RawSigner::claims("")).unwrap();
        for header in [json!({ "alg": alg }), json!({ "alg": alg, "typ": "JWT", "kid": KID })] {
            for signature in ["", genuine_signature] {
                let token = craft_token(&header, &claims, signature);
                // `none` is never an allowed algorithm, whatever its spelling.
                let case = format!("{header} / {signature:?}");
                refused(&case, &builder, &token, DISALLOWED_ALG, &[]).await;
            }
            // Signed for real, with the `none` header: the signature covers the header, but the
            // algorithm is still refused.
            let token = signer.sign(&header.to_string(), &RawSigner::claims(""));
            refused(&format!("{header} signed"), &builder, &token, DISALLOWED_ALG, &[]).await;
        }
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_pem_is_refused() {
    let rsa_public = fixture("rsa_public.pem");
    let rsa = TestIssuer::rsa_pem(
        portcullis::keys::Algorithm::RS256,
        fixture("rsa_private.pem"),
        &rsa_public,
    )
    .unwrap()
    .with_kid(Some("rsa-1"));
    let claims = valid_claims(&rsa, "mallory");
    // The PEM as published, without its final newline, and its body only: attackers try all.
    let body: String = rsa_public.lines().filter(|l| !l.starts_with("-----")).collect();
    let secrets = [rsa_public.clone(), rsa_public.trim_end().to_owned(), body];
    for secret in &secrets {
        for kid in [None, Some("rsa-1")] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid.map(str::to_owned);
            let token = jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
            )
            .unwrap();
            refused("HS256 with the RSA PEM", &rsa.verifier(), &token, DISALLOWED_ALG, &[]).await;
        }
    }
    // A verifier that also holds a (different) shared secret allows HS256, but only with that
    // secret: the PEM as secret is a bad signature, never a key confusion.
    let mixed = rsa.verifier().key(Key::hmac([7u8; 32]).unwrap().with_kid("hmac-1"));
    for kid in ["hmac-1", "rsa-1"] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(rsa_public.as_bytes()).unwrap(),
        )
        .unwrap();
        let sentence = if kid == "hmac-1" { BAD_SIGNATURE } else { DISALLOWED_ALG };
        refused(&format!("mixed, kid {kid}"), &mixed, &token, sentence, &[]).await;
    }
}

#[tokio::test]
async fn an_algorithm_that_does_not_match_the_key_is_refused() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let claims = RawSigner::claims("");
    // The Ed25519 signature is genuine; only the header's `alg` lies about it.
    for alg in ["RS256", "PS256", "ES256", "ES384", "HS256", "HS512", "RS512"] {
        let header = format!(r#"{{"alg":"{alg}","kid":"{KID}"}}"#);
        let token = signer.sign(&header, &claims);
        refused(alg, &builder, &token, DISALLOWED_ALG, &[]).await;
    }
    // Names no library knows, and the right name in the wrong case: no allowed algorithm
    // (`Ed25519`, RFC 9864's name of EdDSA over Ed25519, is accepted: identity_providers.rs).
    for alg in ["EDDSA", "eddsa", "ed25519", "RS1", "HS128", "", " EdDSA"] {
        let header = format!(r#"{{"alg":"{alg}","kid":"{KID}"}}"#);
        let token = signer.sign(&header, &claims);
        refused(&format!("alg {alg:?}"), &builder, &token, DISALLOWED_ALG, &[]).await;
    }
    // `alg` of the wrong type, or absent.
    for header in [
        format!(r#"{{"alg":null,"kid":"{KID}"}}"#),
        format!(r#"{{"alg":["EdDSA"],"kid":"{KID}"}}"#),
        format!(r#"{{"alg":1,"kid":"{KID}"}}"#),
        format!(r#"{{"kid":"{KID}"}}"#),
    ] {
        let token = signer.sign(&header, &claims);
        refused(&header, &builder, &token, MALFORMED, &[]).await;
    }
    // The honest header passes, so the refusals above are about `alg` alone.
    accepted("honest", &builder, &signer.sign(&RawSigner::header(), &claims), "alice").await;

    // An ES256 key pinned to ES256 refuses ES384, and an RSA key pinned to RS256 refuses PS256.
    let es256 = TestIssuer::es256();
    let es384 = TestIssuer::es384();
    refused("ES384 vs ES256", &es256.verifier(), &es384.token("a").sign(), DISALLOWED_ALG, &[])
        .await;
    let rsa_public = fixture("rsa_public.pem");
    let rs256 = TestIssuer::rsa_pem(
        portcullis::keys::Algorithm::RS256,
        fixture("rsa_private.pem"),
        &rsa_public,
    )
    .unwrap();
    let ps256 = TestIssuer::rsa_pem(
        portcullis::keys::Algorithm::PS256,
        fixture("rsa_private.pem"),
        &rsa_public,
    )
    .unwrap();
    refused("PS256 vs RS256 pin", &rs256.verifier(), &ps256.token("a").sign(), DISALLOWED_ALG, &[])
        .await;
}

// ---------------------------------------------------------------------------------------------
// Hostile kid values
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn hostile_kids_are_unknown_and_never_echoed() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let claims = RawSigner::claims("");
    let huge = "K".repeat(5000);
    let kids: Vec<String> = vec![
        huge.clone(),
        "../../../../etc/passwd".to_owned(),
        format!("../{KID}"),
        format!("{KID}/../{KID}"),
        "..\\..\\windows\\win.ini".to_owned(),
        "\u{0}".to_owned(),
        format!("{KID}\u{0}"),
        format!("{KID}\u{0}evil"),
        format!("\u{0}{KID}"),
        "ĸíď-ünïcödé-🔑".to_owned(),
        // A Cyrillic "е" in place of the Latin "e": looks like the real kid.
        KID.replace('e', "\u{435}"),
        format!("{KID}\u{202e}"),
        KID.to_ascii_uppercase(),
        format!(" {KID}"),
        format!("{KID} "),
        "\"; DROP TABLE keys; --".to_owned(),
        "<script>alert(1)</script>".to_owned(),
        "\r\nX-Injected: 1".to_owned(),
        String::new(),
    ];
    for kid in &kids {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}).to_string();
        let token = signer.sign(&header, &claims);
        let shown: String = kid.chars().take(40).collect();
        let planted: Vec<&str> =
            if kid.len() >= 4 && kid != KID { vec![kid.as_str()] } else { vec![] };
        refused(&format!("kid {shown:?}"), &builder, &token, UNKNOWN_KEY, &planted).await;
    }
    // A kid of the wrong type does not parse.
    for kid in [json!(1), json!([KID]), json!({"kid": KID}), json!(true)] {
        let header = json!({"alg": "EdDSA", "kid": kid}).to_string();
        refused(&format!("kid {kid}"), &builder, &signer.sign(&header, &claims), MALFORMED, &[])
            .await;
    }
    // A kid of null is no kid: once keys are named, a token must name one.
    let header = json!({"alg": "EdDSA", "kid": null}).to_string();
    refused("kid null", &builder, &signer.sign(&header, &claims), UNKNOWN_KEY, &[]).await;
    // The real kid passes, so the refusals are about the kid alone.
    accepted("real kid", &builder, &signer.sign(&RawSigner::header(), &claims), "alice").await;
}

// ---------------------------------------------------------------------------------------------
// jku, x5u, jwk, x5c: never followed
// ---------------------------------------------------------------------------------------------

/// A listener on the loopback that records whether anyone connected.
struct Trap {
    listener: TcpListener,
}

impl Trap {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        Self { listener }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Asserts that no connection was made (a connection is queued in the backlog even if
    /// nobody accepts it, so it is seen here whenever it happened).
    fn assert_untouched(&self, case: &str) {
        // Give a connection attempted in the background time to land.
        std::thread::sleep(Duration::from_millis(200));
        match self.listener.accept() {
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("{case}: the verifier connected to the attacker from {peer}"),
            Err(error) => panic!("{case}: the trap failed: {error}"),
        }
    }
}

#[tokio::test]
async fn key_location_headers_never_cause_a_request() {
    let trap = Trap::new();
    let port = trap.port();
    let issuer = TestIssuer::eddsa();
    let builder = issuer.verifier();
    let attacker = TestIssuer::eddsa();
    let mut attacker_jwk = attacker.jwks()["keys"][0].clone();
    // The attacker's key claims the victim's kid.
    attacker_jwk["kid"] = json!("test-key");
    let urls = [
        format!("http://127.0.0.1:{port}/jwks.json"),
        format!("https://127.0.0.1:{port}/jwks.json"),
        format!("http://localhost:{port}/.well-known/jwks.json"),
    ];
    // A certificate chain is never parsed either: this one is the attacker's bytes.
    let x5c = vec![URL_SAFE_NO_PAD.encode(b"not a certificate, attacker controlled")];

    for url in &urls {
        for (name, edit) in [
            ("jku", edit(|t, u| t.header("jku", u))),
            ("x5u", edit(|t, u| t.header("x5u", u))),
            ("jku+x5u+jwk+x5c", {
                let jwk = attacker_jwk.clone();
                let x5c = x5c.clone();
                edit(move |t, u| {
                    t.header("jku", u)
                        .header("x5u", u)
                        .header("jwk", jwk.clone())
                        .header("x5c", x5c.clone())
                })
            }),
        ] {
            // Signed by the attacker, naming the victim's kid: checked against the configured
            // key only.
            let forged = edit(attacker.token("mallory"), url).sign();
            refused(&format!("{name} {url}, victim kid"), &builder, &forged, BAD_SIGNATURE, &[url])
                .await;
            // Naming a kid nobody configured: an unknown key must not send the verifier
            // looking for it at the attacker's address.
            let forged = edit(attacker.token("mallory").kid(Some("attacker-kid")), url).sign();
            refused(&format!("{name} {url}, unknown kid"), &builder, &forged, UNKNOWN_KEY, &[url])
                .await;
            // Without a kid.
            let forged = edit(attacker.token("mallory").kid(None), url).sign();
            refused(&format!("{name} {url}, no kid"), &builder, &forged, UNKNOWN_KEY, &[url]).await;
            // An honest token carrying the headers is accepted without looking at them.
            let honest = edit(issuer.token("alice"), url).sign();
            accepted(&format!("{name} {url}, honest"), &builder, &honest, "alice").await;
        }
    }
    // The embedded key and chain alone (no URL).
    let forged = attacker
        .token("mallory")
        .header("jwk", attacker_jwk.clone())
        .header("x5c", x5c.clone())
        .sign();
    refused("jwk+x5c", &builder, &forged, BAD_SIGNATURE, &[]).await;
    trap.assert_untouched("every key location header");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_remote_keys_only_the_configured_jwks_url_is_fetched() {
    // The configured JWKS endpoint, counting its requests, and the attacker's trap.
    let issuer = TestIssuer::eddsa();
    let jwks = issuer.jwks().to_string();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let endpoint = Router::new().route(
        "/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { ([(CONTENT_TYPE, "application/json")], jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(axum::serve(listener, endpoint).into_future());
    let trap = Trap::new();
    let hostile = format!("http://127.0.0.1:{}/jwks.json", trap.port());
    let builder = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .jwks_url(format!("http://127.0.0.1:{port}/jwks.json"));

    let attacker = TestIssuer::eddsa();
    let mut attacker_jwk = attacker.jwks()["keys"][0].clone();
    attacker_jwk["kid"] = json!("attacker-kid");
    let honest = issuer.token("alice").header("jku", hostile.clone()).sign();
    accepted("honest, jku", &builder, &honest, "alice").await;
    // An unknown kid makes the verifier refresh its keys: from the configured URL only.
    let forged = attacker
        .token("mallory")
        .kid(Some("attacker-kid"))
        .header("jku", hostile.clone())
        .header("x5u", hostile.clone())
        .header("jwk", attacker_jwk.clone())
        .sign();
    refused("unknown kid, jku+x5u+jwk", &builder, &forged, UNKNOWN_KEY, &[&hostile]).await;
    let forged = attacker.token("mallory").header("jku", hostile.clone()).sign();
    refused("victim kid, jku", &builder, &forged, BAD_SIGNATURE, &[&hostile]).await;
    trap.assert_untouched("remote keys");
    assert!(fetches.load(Ordering::SeqCst) >= 1, "the configured JWKS was never fetched");
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// The size limit
// ---------------------------------------------------------------------------------------------

/// A token of exactly `len` bytes signed by `signer`, for `alice`.
fn token_of_len(signer: &RawSigner, len: usize) -> String {
    portcullis_tests::token_of_len(len, |filler, pad| {
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","pad":"{filler}","kid":"{KID}"}}"#);
        signer.sign(&header, &RawSigner::claims(&format!(r#""pad":"{}","#, "p".repeat(pad))))
    })
}

#[tokio::test]
async fn tokens_just_under_at_and_over_the_size_limit() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    for len in [DEFAULT_MAX_TOKEN_LEN - 2, DEFAULT_MAX_TOKEN_LEN - 1, DEFAULT_MAX_TOKEN_LEN] {
        let token = token_of_len(&signer, len);
        assert_eq!(token.len(), len);
        accepted(&format!("{len} bytes"), &builder, &token, "alice").await;
    }
    for len in [DEFAULT_MAX_TOKEN_LEN + 1, DEFAULT_MAX_TOKEN_LEN + 2, 4 * DEFAULT_MAX_TOKEN_LEN] {
        let token = token_of_len(&signer, len);
        refused(&format!("{len} bytes"), &builder, &token, TOO_LARGE, &[]).await;
    }
    // A megabyte of grammatical garbage is refused by its length alone.
    let huge = "A".repeat(1 << 20);
    refused("1 MiB", &builder, &huge, TOO_LARGE, &[]).await;
    // Just under the limit, a valid-looking but forged token is still verified and refused.
    let mut forged = token_of_len(&signer, DEFAULT_MAX_TOKEN_LEN - 1).into_bytes();
    let last = forged.len() - 5;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    refused("limit - 1, forged", &builder, &forged, BAD_SIGNATURE, &[]).await;
    // A configured limit is honoured exactly, one byte either side.
    let token = token_of_len(&signer, 600);
    accepted("configured 600", &builder.clone().max_token_len(600), &token, "alice").await;
    refused("configured 599", &builder.clone().max_token_len(599), &token, TOO_LARGE, &[]).await;
}

// ---------------------------------------------------------------------------------------------
// Claims of the wrong type
// ---------------------------------------------------------------------------------------------

/// Valid claims for `alice` with `name` replaced by `value` (`None`: removed).
fn claims_with(name: &str, value: Option<Value>) -> String {
    let mut claims: Value = serde_json::from_str(&RawSigner::claims("")).unwrap();
    let object = claims.as_object_mut().unwrap();
    match value {
        Some(value) => object.insert(name.to_owned(), value),
        None => object.remove(name),
    };
    claims.to_string()
}

#[tokio::test]
async fn claims_of_the_wrong_type_are_refused() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let far = jsonwebtoken::get_current_timestamp() + 3600;
    // Every registered claim portcullis checks, and the claims it reads itself, with a value of
    // the wrong type: never "absent", never a crash, always a claims error.
    let cases: Vec<(&str, Value)> = vec![
        ("exp", json!(far.to_string())),
        ("exp", json!("never")),
        ("exp", json!(true)),
        ("exp", json!([far])),
        ("exp", json!({"$date": far})),
        ("exp", json!(null)),
        ("exp", json!(-1)),
        ("nbf", json!("0")),
        ("nbf", json!([0])),
        ("nbf", json!(-5)),
        ("aud", json!(42)),
        ("aud", json!({"aud": TEST_AUDIENCE})),
        ("aud", json!([42])),
        ("aud", json!([TEST_AUDIENCE, 42])),
        ("iss", json!(7)),
        ("iss", json!({"iss": TEST_ISSUER})),
        ("iss", json!([TEST_ISSUER])),
        ("sub", json!(1)),
        ("sub", json!({"id": "alice"})),
        ("sub", json!(["alice"])),
        ("scope", json!({"docs:read": true})),
        ("scope", json!(["docs:read"])),
        ("scope", json!(3)),
        ("scope", json!(true)),
    ];
    for (name, value) in cases {
        let token = signer.sign(&RawSigner::header(), &claims_with(name, Some(value.clone())));
        refused(&format!("{name}: {value}"), &builder, &token, INVALID_CLAIMS, &[]).await;
    }
    // The same claims with the right types pass.
    let token =
        signer.sign(&RawSigner::header(), &claims_with("scope", Some(json!("docs:read a:b"))));
    accepted("scope string", &builder, &token, "alice").await;
    let token = signer.sign(&RawSigner::header(), &claims_with("nbf", Some(json!(0))));
    accepted("nbf number", &builder, &token, "alice").await;
}

#[tokio::test]
async fn claim_values_are_never_echoed() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let planted = "sEcReT-claim-value-91f3";
    for name in ["sub", "scope", "iss", "aud", "exp", "nbf"] {
        let token =
            signer.sign(&RawSigner::header(), &claims_with(name, Some(json!({"nested": planted}))));
        let (production, development) = both_modes(&builder, || bearer("/me", &token)).await;
        assert_eq!(production.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_no_echo(&production, &token, &[planted]);
        assert_no_echo(&development, &token, &[planted]);
    }
}

// ---------------------------------------------------------------------------------------------
// Duplicate JSON keys (RFC 7515 §4, RFC 7519 §4: reject, or take the last one consistently)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn duplicate_keys_in_the_header_are_refused() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let claims = RawSigner::claims("");
    for header in [
        format!(r#"{{"alg":"EdDSA","alg":"none","kid":"{KID}"}}"#),
        format!(r#"{{"alg":"none","alg":"EdDSA","kid":"{KID}"}}"#),
        format!(r#"{{"alg":"HS256","alg":"EdDSA","kid":"{KID}"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{KID}","kid":"other"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"other","kid":"{KID}"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{KID}","crit":[],"crit":null}}"#),
    ] {
        refused(&header, &builder, &signer.sign(&header, &claims), MALFORMED, &[]).await;
    }
}

#[tokio::test]
async fn duplicate_registered_claims_are_refused() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let now = jsonwebtoken::get_current_timestamp();
    let (past, future) = (now - 3600, now + 3600);
    for extra in [
        // Whichever `exp` a reader picks, the token is ambiguous: refused either way.
        format!(r#""exp":{past},"#),
        format!(r#""exp":{future},"#),
        r#""sub":"mallory","#.to_owned(),
        r#""iss":"https://attacker.example","#.to_owned(),
        r#""aud":"another-api","#.to_owned(),
        format!(r#""nbf":{future},"nbf":0,"#),
    ] {
        let token = signer.sign(&RawSigner::header(), &RawSigner::claims(&extra));
        refused(&extra, &builder, &token, MALFORMED, &["mallory", "attacker"]).await;
    }
}

#[tokio::test]
async fn any_duplicate_claim_is_refused() {
    // Claims that only portcullis reads (`scope`) or only the application reads: a reader that
    // took the first and another that took the last would see two different tokens.
    let signer = RawSigner::new();
    let builder = signer.builder();
    for extra in [
        r#""scope":"admin","scope":"docs:read","#,
        r#""scope":"docs:read","scope":"admin","#,
        r#""tenant":"a","tenant":"b","#,
        r#""role":null,"role":"admin","#,
    ] {
        let token = signer.sign(&RawSigner::header(), &RawSigner::claims(extra));
        refused(extra, &builder, &token, MALFORMED, &["admin"]).await;
    }
    // Names that differ only in case, or in escaping, are different names... unless escaping
    // makes them equal: `"s\u0063ope"` is `"scope"`.
    let escaped = RawSigner::claims(r#""scope":"docs:read","s\u0063ope":"admin","#);
    let token = signer.sign(&RawSigner::header(), &escaped);
    refused("escaped duplicate", &builder, &token, MALFORMED, &[]).await;
    let cased = RawSigner::claims(r#""scope":"docs:read","Scope":"admin","#);
    let verifier = builder.build().unwrap();
    let principal = verifier.verify(&signer.sign(&RawSigner::header(), &cased)).unwrap();
    assert!(principal.has_scope("docs:read") && !principal.has_scope("admin"));
}

// ---------------------------------------------------------------------------------------------
// Bytes that are not UTF-8
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn non_utf8_bytes_are_malformed() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let header = RawSigner::header();
    let claims = RawSigner::claims("");

    // In the Authorization field itself (obs-text): not a b64token.
    let token = signer.sign(&header, &claims);
    for value in [
        format!("Bearer {token}\u{80}").into_bytes(),
        [b"Bearer \xff".as_slice(), token.as_bytes()].concat(),
        [b"Bearer ".as_slice(), token.as_bytes(), b"\xc3\x28"].concat(),
        b"Bearer \xc0\xaf\xc0\xaf".to_vec(),
    ] {
        let request = || {
            Request::get("/me")
                .header(
                    AUTHORIZATION,
                    HeaderValue::from_bytes(&value).expect("obs-text is allowed"),
                )
                .body(Body::empty())
                .unwrap()
        };
        let (production, development) = both_modes(&builder, request).await;
        assert_denied(&production, StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), None);
        assert_denied(
            &development,
            StatusCode::UNAUTHORIZED,
            Some(&described(MALFORMED)),
            Some(MALFORMED),
        );
        assert_no_echo(&production, &token, &[]);
        assert_no_echo(&development, &token, &[]);
    }

    // Inside the signed segments: genuinely signed, so only the bytes can be the reason.
    let bad_header: Vec<Vec<u8>> = vec![
        format!(r#"{{"alg":"EdDSA","kid":"{KID}","typ":"JW"#)
            .into_bytes()
            .into_iter()
            .chain(*b"\xff\"}")
            .collect(),
        [b"\xef\xbb\xbf".as_slice(), header.as_bytes()].concat(),
        header.replace("EdDSA", "Ed\u{0}DSA").into_bytes(),
        header.as_bytes().iter().map(|&b| if b == b'E' { 0xc5 } else { b }).collect(),
    ];
    for bytes in &bad_header {
        let token = signer.sign_bytes(bytes, claims.as_bytes());
        refused(&format!("header {bytes:?}"), &builder, &token, MALFORMED, &[]).await;
    }
    let bad_claims: Vec<Vec<u8>> = vec![
        claims
            .replace("alice", "al\u{1}ice")
            .into_bytes()
            .iter()
            .map(|&b| if b == 1 { 0xff } else { b })
            .collect(),
        claims.replace("alice", "\\ud800").into_bytes(),
        claims.replace("alice", "\\udc00\\ud800").into_bytes(),
        [b"\xef\xbb\xbf".as_slice(), claims.as_bytes()].concat(),
        [claims.as_bytes(), b"\x00"].concat(),
        [claims.as_bytes(), b" {}"].concat(),
        claims.as_bytes()[..claims.len() - 1].to_vec(),
    ];
    for bytes in &bad_claims {
        let token = signer.sign_bytes(header.as_bytes(), bytes);
        refused(
            &format!("claims {:?}", String::from_utf8_lossy(bytes)),
            &builder,
            &token,
            MALFORMED,
            &[],
        )
        .await;
    }
    // The segments themselves must be base64url: standard base64's `+` and `/`, padding, and
    // whitespace inside a segment are not.
    let token = signer.sign(&header, &claims);
    let (head, rest) = token.split_once('.').unwrap();
    for mangled in [
        format!("{}.{rest}", head.replace('-', "+").replace('_', "/") + "+/"),
        format!("{head}==.{rest}"),
        format!("{head}.{rest}=="),
    ] {
        refused(&mangled, &builder, &mangled, MALFORMED, &[]).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Deeply nested JSON
// ---------------------------------------------------------------------------------------------

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_exhausting_the_stack() {
    let signer = RawSigner::new();
    let builder = signer.builder();
    let header = RawSigner::header();
    // Moderate nesting in an unrelated claim is fine.
    let token = signer.sign(&header, &RawSigner::claims(&format!(r#""x":{},"#, nested(100))));
    accepted("depth 100", &builder, &token, "alice").await;
    // Past serde_json's recursion limit (128), within the default size limit.
    for depth in [129, 1000, 2500] {
        let claims = RawSigner::claims(&format!(r#""x":{},"#, nested(depth)));
        let token = signer.sign(&header, &claims);
        assert!(token.len() <= DEFAULT_MAX_TOKEN_LEN, "{depth}: {}", token.len());
        refused(&format!("claims depth {depth}"), &builder, &token, MALFORMED, &[]).await;
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        let token = signer.sign(&header, &RawSigner::claims(&format!(r#""x":{objects},"#)));
        if token.len() <= DEFAULT_MAX_TOKEN_LEN {
            refused(&format!("objects depth {depth}"), &builder, &token, MALFORMED, &[]).await;
        }
        let deep_header = format!(r#"{{"alg":"EdDSA","kid":"{KID}","x":{}}}"#, nested(depth));
        let token = signer.sign(&deep_header, &RawSigner::claims(""));
        refused(&format!("header depth {depth}"), &builder, &token, MALFORMED, &[]).await;
        // In a claim portcullis itself reads.
        let claims = RawSigner::claims(&format!(r#""scope":{},"#, nested(depth)));
        refused(
            &format!("scope depth {depth}"),
            &builder,
            &signer.sign(&header, &claims),
            MALFORMED,
            &[],
        )
        .await;
    }
    // With the size limit raised to 4 MiB, a million levels still cost no stack.
    let roomy = builder.clone().max_token_len(4 << 20);
    let claims = RawSigner::claims(&format!(r#""x":{},"#, nested(1_000_000)));
    let token = signer.sign(&header, &claims);
    refused("depth 1e6", &roomy, &token, MALFORMED, &[]).await;
    let deep_header = format!(r#"{{"alg":"EdDSA","kid":"{KID}","x":{}}}"#, nested(1_000_000));
    let token = signer.sign(&deep_header, &RawSigner::claims(""));
    refused("header depth 1e6", &roomy, &token, MALFORMED, &[]).await;
}

// ---------------------------------------------------------------------------------------------
// Malleability: one token, one spelling
// ---------------------------------------------------------------------------------------------

/// The base64url alphabet, in value order.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[tokio::test]
async fn non_canonical_base64_spellings_of_a_valid_token_are_refused() {
    // The last character of an unpadded base64url segment whose length is not a multiple of 4
    // carries unused low bits. A lenient decoder maps several spellings to the same bytes, so a
    // refused (revoked, logged, cached) token could come back under another spelling.
    let signer = RawSigner::new();
    let builder = signer.builder();
    let token = signer.sign(&RawSigner::header(), &RawSigner::claims(""));
    accepted("canonical", &builder, &token, "alice").await;
    let segments: Vec<&str> = token.split('.').collect();
    let mut tried = 0;
    for index in 0..3 {
        let segment = segments[index];
        // Bits of data in the last character: 2 when len % 4 == 2, 4 when len % 4 == 3.
        let unused = match segment.len() % 4 {
            2 => 4,
            3 => 2,
            _ => continue,
        };
        let last = *segment.as_bytes().last().unwrap();
        let value = ALPHABET.iter().position(|&c| c == last).unwrap();
        for low in 1..(1 << unused) {
            let other = ALPHABET[(value & !((1 << unused) - 1)) | low] as char;
            let mut parts: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
            parts[index] = format!("{}{other}", &segment[..segment.len() - 1]);
            let respelled = parts.join(".");
            assert_ne!(respelled, token);
            let (production, _) = both_modes(&builder, || bearer("/me", &respelled)).await;
            assert_eq!(production.status, StatusCode::UNAUTHORIZED, "segment {index}, {other}");
            assert_denied(&production, StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), None);
            tried += 1;
        }
    }
    assert!(tried > 0, "no segment had spare bits; the test proves nothing");
}

/// The echo check itself catches an echo, whole or in part.
#[test]
fn the_echo_check_catches_echoes() {
    let reply = |text: &str| Reply {
        status: StatusCode::UNAUTHORIZED,
        headers: http::HeaderMap::new(),
        bytes: text.to_owned().into(),
        body: Value::Null,
    };
    let token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
    assert_no_echo(&reply("nothing to see"), token, &["planted"]);
    for leak in [token, "eyJzdWIiOiJhbGljZSJ9", "OiJFZERTQSJ9.eyJz", "a planted value"] {
        let caught = std::panic::catch_unwind(|| assert_no_echo(&reply(leak), token, &["planted"]));
        assert!(caught.is_err(), "{leak:?} was not caught");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile tokens sent twice: the request is refused before any of them is looked at
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn hostile_tokens_sent_twice_are_an_invalid_request() {
    const SEVERAL_HEADERS: &str = "The request has more than one Authorization header";
    const SEVERAL_TRANSPORTS: &str = "The request carries more than one access token";
    const INVALID_REQUEST: &str = r#"Bearer realm="api", error="invalid_request""#;
    let signer = RawSigner::new();
    let builder = signer.builder().dangerous().allow_query_token();
    let claims = RawSigner::claims("");
    let none = craft_token(&json!({"alg": "none"}), &serde_json::from_str(&claims).unwrap(), "");
    let huge_kid =
        signer.sign(&json!({"alg": "EdDSA", "kid": "K".repeat(3000)}).to_string(), &claims);
    let genuine = signer.sign(&RawSigner::header(), &claims);
    for (first, second) in [(&none, &genuine), (&genuine, &huge_kid), (&huge_kid, &none)] {
        let request = || {
            Request::get("/me")
                .header(AUTHORIZATION, format!("Bearer {first}"))
                .header(AUTHORIZATION, format!("Bearer {second}"))
                .body(Body::empty())
                .unwrap()
        };
        let (production, development) = both_modes(&builder, request).await;
        let described = format!(
            r#"Bearer realm="api", error="invalid_request", error_description="{SEVERAL_HEADERS}""#
        );
        assert_denied(
            &production,
            StatusCode::BAD_REQUEST,
            Some(INVALID_REQUEST),
            Some(SEVERAL_HEADERS),
        );
        assert_denied(
            &development,
            StatusCode::BAD_REQUEST,
            Some(&described),
            Some(SEVERAL_HEADERS),
        );
        for reply in [&production, &development] {
            assert_no_echo(reply, first, &[]);
            assert_no_echo(reply, second, &[]);
        }
        // One in the header, one in the query.
        let uri = format!("/me?access_token={second}");
        let request = || bearer(&uri, first);
        let (production, development) = both_modes(&builder, request).await;
        let described = format!(
            r#"Bearer realm="api", error="invalid_request", error_description="{SEVERAL_TRANSPORTS}""#
        );
        assert_denied(
            &production,
            StatusCode::BAD_REQUEST,
            Some(INVALID_REQUEST),
            Some(SEVERAL_TRANSPORTS),
        );
        assert_denied(
            &development,
            StatusCode::BAD_REQUEST,
            Some(&described),
            Some(SEVERAL_TRANSPORTS),
        );
        for reply in [&production, &development] {
            assert_no_echo(reply, first, &[]);
            assert_no_echo(reply, second, &[]);
        }
    }
}
