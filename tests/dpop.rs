//! DPoP (RFC 9449) through real routers: a token bound to a key (`cnf.jkt`) is never a bearer
//! token, whatever the mode; proofs are checked on every request, cache hit or not.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use portcullis::config::{Dpop, DpopError, ResourceMetadata};
use portcullis::testing::{DpopKey, TestIssuer};
use portcullis::{
    ConfigError, Verifier,
    dpop::{DpopMode, DpopNonces, ReplayStore, ReplayStoreError},
    layer::RequireAuthLayer,
    response::{Disclosure, DpopNonceReason, DpopProofReason, InvalidTokenReason},
};
use portcullis_tests::{app, assert_denied, assert_me, bearer, get_request, me, send};
use serde_json::json;

const ORIGIN: &str = "https://api.example";
const URL: &str = "https://api.example/me";
const ALGS: &str = "ES256 ES384 RS256 PS256 EdDSA";

/// A replay store of the tests: every key it was given, forever.
#[derive(Debug, Default)]
struct Remembered(Mutex<HashSet<[u8; 32]>>);

impl ReplayStore for Remembered {
    fn remember(
        &self,
        key: [u8; 32],
        _ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + '_>> {
        let new = self.0.lock().unwrap().insert(key);
        Box::pin(async move { Ok(new) })
    }
}

/// A replay store that cannot be reached.
#[derive(Debug)]
struct Unreachable;

impl ReplayStore for Unreachable {
    fn remember(
        &self,
        _key: [u8; 32],
        _ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + '_>> {
        Box::pin(async { Err(ReplayStoreError("connection refused".into())) })
    }
}

#[portcullis::requires_scope("docs:write")]
async fn write(principal: portcullis::Principal) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "sub": principal.subject(), "dpop": principal.is_dpop() }))
}

fn verifier(issuer: &TestIssuer, mode: DpopMode, store: impl ReplayStore) -> Verifier {
    issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .dpop(Dpop::new(mode).origin(ORIGIN).replay_store(store))
        .build()
        .unwrap()
}

fn router(verifier: Verifier) -> Router {
    Router::new().route("/me", get(me)).route("/write", get(write)).with_state(verifier)
}

/// A `GET` with `Authorization: DPoP <token>` and each of `proofs` as a `DPoP` header.
fn dpop(uri: &str, token: &str, proofs: &[&str]) -> Request<Body> {
    let mut builder = Request::get(uri).header(AUTHORIZATION, format!("DPoP {token}"));
    for proof in proofs {
        builder = builder.header("DPoP", *proof);
    }
    builder.body(Body::empty()).unwrap()
}

/// The development-mode DPoP challenge for `error` with `description`.
fn dpop_challenge(error: &str, description: &str) -> String {
    format!(
        "DPoP realm=\"api\", error=\"{error}\", error_description=\"{description}\", algs=\"{ALGS}\""
    )
}

/// Asserts a 401 `invalid_dpop_proof` for `reason`.
fn assert_bad_proof(reply: &portcullis_tests::Reply, reason: DpopProofReason) {
    let challenge = dpop_challenge("invalid_dpop_proof", reason.description());
    assert_denied(reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(reason.description()));
}

/// Asserts a 401 `invalid_token` with the DPoP challenge for `reason`.
fn assert_bad_token(reply: &portcullis_tests::Reply, reason: InvalidTokenReason) {
    let challenge = dpop_challenge("invalid_token", reason.description());
    assert_denied(reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(reason.description()));
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused_when_dpop_is_off() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().disclosure(Disclosure::Development).build().unwrap();
    let router = app(verifier);
    let key = DpopKey::new();
    let bound = issuer.token("alice").bound_to(&key).sign();
    let reason = InvalidTokenReason::DpopBoundAsBearer;
    let challenge = format!(
        "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{}\"",
        reason.description()
    );
    // Twice: the second time the token's verification is a cache hit, and the binding still
    // refuses it.
    for _ in 0..2 {
        let reply = send(router.clone(), bearer("/me", &bound)).await;
        assert_denied(
            &reply,
            StatusCode::UNAUTHORIZED,
            Some(&challenge),
            Some(reason.description()),
        );
    }
    // A malformed binding, or another kind of binding, is a binding too
    // (`every_cnf_is_a_binding_in_every_mode_on_every_path`).
    let odd = issuer.token("alice").claim("cnf", json!({"jkt": 7})).sign();
    let reply = send(router.clone(), bearer("/me", &odd)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // With DPoP off, the DPoP scheme is just another scheme: no credentials.
    let proof = key.proof("GET", URL, &bound).sign();
    let reply = send(router, dpop("/me", &bound, &[&proof])).await;
    assert_eq!(reply.challenge(), Some("Bearer realm=\"api\""));
}

#[tokio::test]
async fn allowed_mode_accepts_dpop_and_bearer_and_challenges_with_both() {
    let issuer = TestIssuer::new();
    let router = router(verifier(&issuer, DpopMode::Allowed, Remembered::default()));
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    // The second request's token is a cache hit; its new proof is checked all the same.
    for _ in 0..2 {
        let proof = key.proof("GET", URL, &token).sign();
        assert_me(&send(router.clone(), dpop("/me", &token, &[&proof])).await, "alice");
    }
    let proof = key.proof("GET", URL, &token).htu("https://API.example:443/me?page=2").sign();
    assert_me(&send(router.clone(), dpop("/me", &token, &[&proof])).await, "alice");
    // Bearer tokens are still accepted; bound ones are not.
    let plain = issuer.token("bob").sign();
    assert_me(&send(router.clone(), bearer("/me", &plain)).await, "bob");
    // … as bearer tokens: no key was proven.
    let writer = issuer.token("bob").scopes(["docs:write"]).sign();
    let reply = send(router.clone(), bearer("/write", &writer)).await;
    assert_eq!(reply.body, json!({"sub": "bob", "dpop": false}), "{reply:?}");
    let reply = send(router.clone(), bearer("/me", &token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // No credentials: both challenges.
    let reply = send(router.clone(), get_request("/me")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> =
        reply.headers.get_all(WWW_AUTHENTICATE).iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(
        challenges,
        ["Bearer realm=\"api\"", &format!("DPoP realm=\"api\", algs=\"{ALGS}\"")]
    );
    // A 403 to a DPoP request carries the DPoP challenge.
    let url = "https://api.example/write";
    let proof = key.proof("GET", url, &token).sign();
    let reply = send(router, dpop("/write", &token, &[&proof])).await;
    let challenge = format!(
        "DPoP realm=\"api\", error=\"insufficient_scope\", error_description=\"The access token lacks a required scope\", scope=\"docs:write\", algs=\"{ALGS}\""
    );
    assert_denied(
        &reply,
        StatusCode::FORBIDDEN,
        Some(&challenge),
        Some("The access token lacks a required scope; required: docs:write"),
    );
}

#[tokio::test]
async fn required_mode_accepts_only_dpop() {
    let issuer = TestIssuer::es256();
    let router = router(verifier(&issuer, DpopMode::Required, Remembered::default()));
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).scopes(["docs:write"]).sign();
    let proof = key.proof("GET", "https://api.example/write", &token).sign();
    let reply = send(router.clone(), dpop("/write", &token, &[&proof])).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, json!({"sub": "alice", "dpop": true}));
    let plain = issuer.token("bob").sign();
    for token in [&plain, &token] {
        assert_bad_token(
            &send(router.clone(), bearer("/me", token)).await,
            InvalidTokenReason::DpopRequired,
        );
    }
    let reply = send(router, get_request("/me")).await;
    assert_eq!(reply.challenge(), Some(format!("DPoP realm=\"api\", algs=\"{ALGS}\"").as_str()));
}

#[tokio::test]
async fn every_bad_proof_is_invalid_dpop_proof() {
    let issuer = TestIssuer::new();
    let router = router(verifier(&issuer, DpopMode::Allowed, Remembered::default()));
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proof = || key.proof("GET", URL, &token);
    let private = {
        let mut jwk = key.jwk().clone();
        jwk["d"] = json!("AAAA");
        jwk
    };
    let cases = [
        ("not a jws".to_owned(), DpopProofReason::Malformed),
        (proof().header("typ", "JWT").sign(), DpopProofReason::WrongType),
        (proof().header("alg", "HS256").sign(), DpopProofReason::DisallowedAlgorithm),
        (proof().header("alg", "none").sign(), DpopProofReason::DisallowedAlgorithm),
        (proof().header("jwk", private).sign(), DpopProofReason::PrivateKey),
        (
            proof().header("jwk", json!({"kty": "oct", "k": "c2VjcmV0"})).sign(),
            DpopProofReason::PrivateKey,
        ),
        (proof().header("jwk", DpopKey::new().jwk().clone()).sign(), DpopProofReason::BadSignature),
        (proof().without_claim("jti").sign(), DpopProofReason::MissingClaim),
        (proof().without_claim("ath").sign(), DpopProofReason::MissingClaim),
        (key.proof("POST", URL, &token).sign(), DpopProofReason::WrongMethod),
        // `htm` is compared as the method is: case-sensitively (RFC 9110 §9.1).
        (key.proof("get", URL, &token).sign(), DpopProofReason::WrongMethod),
        // A proof must carry its public key, usable with its `alg`.
        (proof().without_header("jwk").sign(), DpopProofReason::InvalidKey),
        (proof().header("jwk", "a key").sign(), DpopProofReason::InvalidKey),
        (
            proof().header("jwk", json!({"kty": "EC", "crv": "P-256"})).sign(),
            DpopProofReason::InvalidKey,
        ),
        (
            proof().header("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})).sign(),
            DpopProofReason::InvalidKey,
        ),
        (proof().htu("https://api.example/other").sign(), DpopProofReason::WrongUri),
        (proof().htu("https://evil.example/me").sign(), DpopProofReason::WrongUri),
        (proof().iat_offset(-600).sign(), DpopProofReason::Stale),
        (proof().iat_offset(600).sign(), DpopProofReason::Stale),
        // An `exp` that is there is kept (RFC 9449 needs none).
        (proof().claim("exp", json!(1)).sign(), DpopProofReason::Stale),
        (proof().claim("exp", json!("tomorrow")).sign(), DpopProofReason::Malformed),
        (key.proof("GET", URL, "another-token").sign(), DpopProofReason::WrongTokenHash),
    ];
    for (proof, reason) in cases {
        assert_bad_proof(&send(router.clone(), dpop("/me", &token, &[&proof])).await, reason);
    }
    assert_bad_proof(
        &send(router.clone(), dpop("/me", &token, &[])).await,
        DpopProofReason::Missing,
    );
    // Replayed: the same proof twice, or another proof with the same jti and key.
    let once = proof().jti("only-once").sign();
    assert_me(&send(router.clone(), dpop("/me", &token, &[&once])).await, "alice");
    assert_bad_proof(
        &send(router.clone(), dpop("/me", &token, &[&once])).await,
        DpopProofReason::Replayed,
    );
    let again = proof().jti("only-once").iat_offset(-1).sign();
    assert_bad_proof(
        &send(router.clone(), dpop("/me", &token, &[&again])).await,
        DpopProofReason::Replayed,
    );
    // Two DPoP headers, even two valid proofs: `invalid_dpop_proof` (RFC 9449 §4.3's first
    // check, with §7.1), not a malformed request.
    let (a, b) = (proof().sign(), proof().sign());
    assert_bad_proof(
        &send(router.clone(), dpop("/me", &token, &[&a, &b])).await,
        DpopProofReason::SeveralHeaders,
    );
    assert_bad_proof(
        &send(router, dpop("/me", &token, &[&a, "not a proof"])).await,
        DpopProofReason::SeveralHeaders,
    );
}

#[tokio::test]
async fn the_token_must_be_bound_to_the_proofs_key() {
    let issuer = TestIssuer::new();
    let router = router(verifier(&issuer, DpopMode::Allowed, Remembered::default()));
    let (key, other) = (DpopKey::new(), DpopKey::new());
    let token = issuer.token("alice").bound_to(&other).sign();
    let proof = key.proof("GET", URL, &token).sign();
    assert_bad_token(
        &send(router.clone(), dpop("/me", &token, &[&proof])).await,
        InvalidTokenReason::DpopKeyMismatch,
    );
    let unbound = issuer.token("alice").sign();
    let proof = key.proof("GET", URL, &unbound).sign();
    assert_bad_proof(
        &send(router.clone(), dpop("/me", &unbound, &[&proof])).await,
        DpopProofReason::UnboundToken,
    );
    // An invalid token is refused with the DPoP challenge.
    let expired = issuer.token("alice").bound_to(&key).expired(Duration::from_secs(600)).sign();
    let proof = key.proof("GET", URL, &expired).sign();
    assert_bad_token(
        &send(router, dpop("/me", &expired, &[&proof])).await,
        InvalidTokenReason::Expired,
    );
}

#[tokio::test]
async fn an_unreachable_replay_store_is_503_never_an_accepted_proof() {
    let issuer = TestIssuer::new();
    let router = router(verifier(&issuer, DpopMode::Required, Unreachable));
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proof = key.proof("GET", URL, &token).sign();
    let reply = send(router, dpop("/me", &token, &[&proof])).await;
    assert_denied(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        Some("The DPoP proof cannot be checked for replay right now; retry later"),
    );
    assert_eq!(reply.headers[RETRY_AFTER], "5");
    assert!(!reply.visible().contains("connection refused"));
}

#[test]
fn dpop_needs_an_origin_and_remembers_proofs_in_memory_by_default() {
    let issuer = TestIssuer::new();
    let on = |dpop: Dpop| issuer.verifier().dpop(dpop).build();
    // Without a store of one's own, the process's memory.
    assert!(on(Dpop::allowed().origin(ORIGIN)).is_ok());
    assert!(matches!(
        on(Dpop::allowed().replay_store(Remembered::default())),
        Err(ConfigError::Dpop(DpopError::NeedsOrigin))
    ));
    assert!(matches!(
        on(Dpop::allowed().replay_store(Remembered::default()).origin("https://a/?x")),
        Err(ConfigError::Dpop(DpopError::InvalidOrigin(_)))
    ));
    assert!(matches!(
        on(Dpop::allowed()
            .replay_store(Remembered::default())
            .origin(ORIGIN)
            .algorithms([portcullis::keys::Algorithm::HS256])),
        Err(ConfigError::Dpop(DpopError::InvalidAlgorithms))
    ));
    let vars = [("PORTCULLIS_DPOP", "sometimes")];
    let from_env = portcullis::config::VerifierBuilder::new()
        .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()));
    assert!(matches!(from_env, Err(ConfigError::Env(error)) if error.var() == "PORTCULLIS_DPOP"));
}

/// Without a store of one's own, proofs are remembered in the process's memory: a replay is
/// refused there too.
#[tokio::test]
async fn the_default_store_refuses_a_replay() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .dpop(Dpop::allowed().origin(ORIGIN))
        .build()
        .unwrap();
    let router = router(verifier);
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proof = key.proof("GET", URL, &token).sign();
    assert_me(&send(router.clone(), dpop("/me", &token, &[&proof])).await, "alice");
    assert_bad_proof(
        &send(router.clone(), dpop("/me", &token, &[&proof])).await,
        DpopProofReason::Replayed,
    );
}

// --- Server-provided nonces (RFC 9449 §9) ---

/// A verifier requiring nonces from `nonces`, DPoP required.
fn nonce_verifier(issuer: &TestIssuer, nonces: DpopNonces, disclosure: Disclosure) -> Verifier {
    issuer
        .verifier()
        .disclosure(disclosure)
        .dpop(Dpop::required().origin(ORIGIN).nonces(nonces))
        .build()
        .unwrap()
}

/// The test router of a verifier requiring nonces from `nonces`, in Development mode.
fn nonce_router(issuer: &TestIssuer, nonces: DpopNonces) -> Router {
    router(nonce_verifier(issuer, nonces, Disclosure::Development))
}

/// Asserts a 401 `use_dpop_nonce` for `reason` with one well-formed `DPoP-Nonce`; returns it.
fn assert_use_nonce(reply: &portcullis_tests::Reply, reason: DpopNonceReason) -> String {
    let challenge = dpop_challenge("use_dpop_nonce", reason.description());
    assert_denied(reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(reason.description()));
    let nonces: Vec<_> = reply.headers.get_all("DPoP-Nonce").iter().collect();
    assert_eq!(nonces.len(), 1, "one DPoP-Nonce in {reply:?}");
    let nonce = nonces[0].to_str().unwrap().to_owned();
    assert_nonce_format(&nonce);
    nonce
}

/// A nonce is 40 bytes in unpadded base64url (RFC 9449 §8.1's `1*NQCHAR`, and more).
fn assert_nonce_format(nonce: &str) {
    assert_eq!(nonce.len(), 54, "{nonce}");
    assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{nonce}");
}

#[tokio::test]
async fn with_nonces_a_proof_needs_a_recent_nonce_of_this_server() {
    let issuer = TestIssuer::new();
    let nonces = DpopNonces::with_key([3u8; 32]).unwrap();
    let router = nonce_router(&issuer, nonces.clone());
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    // No nonce: refused, with one to use.
    let proof = key.proof("GET", URL, &token).sign();
    let reply = send(router.clone(), dpop("/me", &token, &[&proof])).await;
    let nonce = assert_use_nonce(&reply, DpopNonceReason::Missing);
    // The retry with it is accepted, and carries no new nonce: this one is current.
    let proof = key.proof("GET", URL, &token).nonce(&nonce).sign();
    let reply = send(router.clone(), dpop("/me", &token, &[&proof])).await;
    assert_me(&reply, "alice");
    assert!(reply.headers.get("DPoP-Nonce").is_none(), "{reply:?}");
    // Forged, garbage, another key's, or not a string: refused as not issued here.
    let other = DpopNonces::with_key([4u8; 32]).unwrap().nonce();
    let mut forged = nonce.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [json!(forged), json!("garbage"), json!(other), json!(""), json!(42)] {
        let proof = key.proof("GET", URL, &token).claim("nonce", bad.clone()).sign();
        let reply = send(router.clone(), dpop("/me", &token, &[&proof])).await;
        assert_use_nonce(&reply, DpopNonceReason::Invalid);
    }
    // Issued here, but two lifetimes ago: expired.
    let old = nonces.nonce_at(SystemTime::now() - 2 * DpopNonces::DEFAULT_LIFETIME);
    let proof = key.proof("GET", URL, &token).nonce(&old).sign();
    let reply = send(router.clone(), dpop("/me", &token, &[&proof])).await;
    let fresh = assert_use_nonce(&reply, DpopNonceReason::Expired);
    assert_ne!(fresh, old);
    // Of the previous slot: still accepted, but about to expire.
    let previous = nonces.nonce_at(SystemTime::now() - DpopNonces::DEFAULT_LIFETIME);
    let proof = key.proof("GET", URL, &token).nonce(&previous).sign();
    assert_me(&send(router.clone(), dpop("/me", &token, &[&proof])).await, "alice");
    // In Production mode: no description, and the nonce all the same.
    let production = nonce_verifier(&issuer, nonces.clone(), Disclosure::Production);
    let proof = key.proof("GET", URL, &token).sign();
    let reply = send(crate::router(production), dpop("/me", &token, &[&proof])).await;
    assert_denied(
        &reply,
        StatusCode::UNAUTHORIZED,
        Some(&format!("DPoP realm=\"api\", error=\"use_dpop_nonce\", algs=\"{ALGS}\"")),
        None,
    );
    assert_nonce_format(reply.headers["DPoP-Nonce"].to_str().unwrap());
}

#[tokio::test]
async fn a_nonce_expires_after_two_lifetimes_at_most() {
    let issuer = TestIssuer::new();
    let router = nonce_router(&issuer, DpopNonces::new().lifetime(Duration::from_secs(1)));
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proof = key.proof("GET", URL, &token).sign();
    let nonce = assert_use_nonce(
        &send(router.clone(), dpop("/me", &token, &[&proof])).await,
        DpopNonceReason::Missing,
    );
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let proof = key.proof("GET", URL, &token).nonce(&nonce).sign();
    let reply = send(router, dpop("/me", &token, &[&proof])).await;
    let fresh = assert_use_nonce(&reply, DpopNonceReason::Expired);
    assert_ne!(fresh, nonce);
}

#[tokio::test]
async fn instances_sharing_a_nonce_key_accept_each_others_nonces() {
    let issuer = TestIssuer::new();
    let secret = [9u8; 32];
    let first = nonce_router(&issuer, DpopNonces::with_key(secret).unwrap());
    let second = nonce_router(&issuer, DpopNonces::with_key(secret).unwrap());
    let alone = nonce_router(&issuer, DpopNonces::new());
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proof = key.proof("GET", URL, &token).sign();
    let nonce = assert_use_nonce(
        &send(first, dpop("/me", &token, &[&proof])).await,
        DpopNonceReason::Missing,
    );
    let proof = key.proof("GET", URL, &token).nonce(&nonce).sign();
    assert_me(&send(second, dpop("/me", &token, &[&proof])).await, "alice");
    let proof = key.proof("GET", URL, &token).nonce(&nonce).sign();
    assert_use_nonce(&send(alone, dpop("/me", &token, &[&proof])).await, DpopNonceReason::Invalid);
}

#[tokio::test]
async fn the_layer_sends_a_fresh_nonce_when_the_used_one_expires_soon() {
    let issuer = TestIssuer::new();
    let nonces = DpopNonces::with_key([5u8; 32]).unwrap();
    let verifier = nonce_verifier(&issuer, nonces.clone(), Disclosure::Production);
    let router = Router::new()
        .route("/me", get(me))
        .route_layer(RequireAuthLayer::new(verifier.clone()))
        .with_state(verifier.clone());
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let previous = nonces.nonce_at(SystemTime::now() - DpopNonces::DEFAULT_LIFETIME);
    let proof = key.proof("GET", URL, &token).nonce(&previous).sign();
    let reply = send(router.clone(), dpop("/me", &token, &[&proof])).await;
    assert_me(&reply, "alice");
    let fresh = reply.headers["DPoP-Nonce"].to_str().unwrap().to_owned();
    assert_nonce_format(&fresh);
    assert_ne!(fresh, previous);
    // The fresh one is current: accepted, and nothing newer is sent.
    let proof = key.proof("GET", URL, &token).nonce(&fresh).sign();
    let reply = send(router, dpop("/me", &token, &[&proof])).await;
    assert_me(&reply, "alice");
    assert!(reply.headers.get("DPoP-Nonce").is_none(), "{reply:?}");
    // The verifier hands out the current nonce too, and `deny` attaches one.
    assert_eq!(verifier.dpop_nonce().as_deref(), Some(fresh.as_str()));
    let denial =
        verifier.deny(portcullis::response::DenialKind::UseDpopNonce(DpopNonceReason::Missing));
    let response = axum::response::IntoResponse::into_response(denial);
    assert_eq!(response.headers()["DPoP-Nonce"], fresh.as_str());
}

#[tokio::test]
async fn without_nonces_a_nonce_claim_is_ignored() {
    let issuer = TestIssuer::new();
    let verifier = verifier(&issuer, DpopMode::Required, Remembered::default());
    assert_eq!(verifier.dpop_nonce(), None);
    let router = router(verifier);
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proof = key.proof("GET", URL, &token).nonce("anything at all").sign();
    let reply = send(router, dpop("/me", &token, &[&proof])).await;
    assert_me(&reply, "alice");
    assert!(reply.headers.get("DPoP-Nonce").is_none(), "{reply:?}");
}

#[test]
fn nonce_settings_are_checked_and_read_from_the_environment() {
    let issuer = TestIssuer::new();
    let on = || Dpop::allowed().origin(ORIGIN);
    for lifetime in [Duration::ZERO, Duration::from_millis(999), Duration::from_secs(3_601)] {
        assert!(matches!(
            issuer.verifier().dpop(on().nonces(DpopNonces::new().lifetime(lifetime))).build(),
            Err(ConfigError::Dpop(DpopError::InvalidNonceLifetime))
        ));
    }
    assert!(DpopNonces::with_key([0u8; 31]).is_err());
    let from_env = |value: &'static str| {
        let vars = [
            ("PORTCULLIS_ISSUER", portcullis::testing::TEST_ISSUER),
            ("PORTCULLIS_AUDIENCE", portcullis::testing::TEST_AUDIENCE),
            ("PORTCULLIS_DPOP", "required"),
            ("PORTCULLIS_RESOURCE", ORIGIN),
            ("PORTCULLIS_DPOP_NONCE", value),
        ];
        portcullis::config::VerifierBuilder::new()
            .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
            .map(|builder| builder.key(issuer.verification_key()))
    };
    assert!(from_env("TRUE").unwrap().build().unwrap().dpop_nonce().is_some());
    assert!(from_env("false").unwrap().build().unwrap().dpop_nonce().is_none());
    assert!(matches!(
        from_env("yes"),
        Err(ConfigError::Env(error)) if error.var() == "PORTCULLIS_DPOP_NONCE"
    ));
}

/// The origin a proof's `htu` is compared with comes from the resource identifier's origin: an
/// identifier with a path (`https://api.example/v1`) names the API, and the request's own path
/// is what follows the origin in `htu`.
#[tokio::test]
async fn the_resource_identifier_gives_its_origin_to_dpop() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .dpop(Dpop::allowed())
        .resource_metadata(ResourceMetadata::new().resource("https://api.example/v1"))
        .build()
        .unwrap();
    let router = router(verifier);
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proof = key.proof("GET", URL, &token).sign();
    assert_me(&send(router.clone(), dpop("/me", &token, &[&proof])).await, "alice");
    let with_path = key.proof("GET", "https://api.example/v1/me", &token).sign();
    let refused = send(router.clone(), dpop("/me", &token, &[&with_path])).await;
    let challenge = format!(
        "{}, resource_metadata=\"https://api.example/.well-known/oauth-protected-resource/v1\"",
        dpop_challenge("invalid_dpop_proof", DpopProofReason::WrongUri.description())
    );
    let detail = DpopProofReason::WrongUri.description();
    assert_denied(&refused, StatusCode::UNAUTHORIZED, Some(&challenge), Some(detail));
}

// --- Bindings: any `cnf` is one, on every path (issue 23, item 4) ---

/// `/me` behind an attribute guard.
#[portcullis::authenticated]
async fn guarded(principal: portcullis::Principal) -> axum::Json<serde_json::Value> {
    me(principal).await
}

/// The three ways a route is protected: the `Principal` extractor (`/me`), an attribute guard
/// (`/guard/me`) and `RequireAuthLayer` (`/layer/me`), before the state is supplied.
fn every_path(verifier: &Verifier) -> Router<Verifier> {
    let layered = Router::new()
        .route("/layer/me", get(me))
        .route_layer(RequireAuthLayer::new(verifier.clone()));
    Router::new().route("/me", get(me)).route("/guard/me", get(guarded)).merge(layered)
}

/// The paths of [`every_path`].
const PATHS: [&str; 3] = ["/me", "/guard/me", "/layer/me"];

/// A Development-mode verifier in `mode` (with the test origin unless DPoP is off).
fn verifier_in(issuer: &TestIssuer, mode: DpopMode) -> Verifier {
    let dpop = match mode {
        DpopMode::Off => Dpop::new(mode),
        _ => Dpop::new(mode).origin(ORIGIN).replay_store(Remembered::default()),
    };
    issuer.verifier().disclosure(Disclosure::Development).dpop(dpop).build().unwrap()
}

/// Every `cnf` that is not exactly a string `jkt`: RFC 8705's certificate thumbprint, a key, a
/// key id, `jkt` beside another member, `jkt` not a string, and `cnf` not an object.
fn unsupported_bindings(key: &DpopKey) -> Vec<serde_json::Value> {
    vec![
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({"jwk": key.jwk()}),
        json!({"kid": "dfd1aa97-6d8d-4575-a0fe-34b96de2bfad"}),
        json!({"jkt": key.thumbprint(), "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({"jkt": 7}),
        json!({"jkt": [key.thumbprint()]}),
        json!({}),
        json!(key.thumbprint()),
        json!([{"jkt": key.thumbprint()}]),
        json!(null),
    ]
}

/// The Development-mode Bearer challenge for `error` with `description`.
fn bearer_challenge(error: &str, description: &str) -> String {
    format!("Bearer realm=\"api\", error=\"{error}\", error_description=\"{description}\"")
}

/// A `GET` with `Authorization: Bearer <token>` and a `DPoP` header.
fn bearer_with_proof(uri: &str, token: &str, proof: &str) -> Request<Body> {
    Request::get(uri)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header("DPoP", proof)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn every_cnf_is_a_binding_in_every_mode_on_every_path() {
    let issuer = TestIssuer::new();
    let key = DpopKey::new();
    let reason = InvalidTokenReason::UnsupportedBinding;
    let as_bearer = bearer_challenge("invalid_token", reason.description());
    for mode in [DpopMode::Off, DpopMode::Allowed, DpopMode::Required] {
        let verifier = verifier_in(&issuer, mode);
        let router = every_path(&verifier).with_state(verifier);
        for cnf in unsupported_bindings(&key) {
            let token = issuer.token("alice").claim("cnf", cnf.clone()).sign();
            for path in PATHS {
                let url = format!("{ORIGIN}{path}");
                // Twice: the second verification is a cache hit, which keeps the binding.
                for _ in 0..2 {
                    if mode != DpopMode::Required {
                        let reply = send(router.clone(), bearer(path, &token)).await;
                        let detail = Some(reason.description());
                        assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&as_bearer), detail);
                        assert!(!reply.visible().contains(&token), "{cnf}: {reply:?}");
                    }
                    if mode != DpopMode::Off {
                        // With a valid proof of the key: still no binding this server can prove.
                        let proof = key.proof("GET", &url, &token).sign();
                        let reply = send(router.clone(), dpop(path, &token, &[&proof])).await;
                        assert_bad_token(&reply, reason);
                    }
                }
            }
        }
        // A token bound exactly to a DPoP key, and an unbound one, for contrast.
        let plain = issuer.token("bob").sign();
        if mode != DpopMode::Required {
            for path in PATHS {
                assert_me(&send(router.clone(), bearer(path, &plain)).await, "bob");
            }
        }
        if mode != DpopMode::Off {
            let bound = issuer.token("carol").bound_to(&key).sign();
            for path in PATHS {
                let proof = key.proof("GET", &format!("{ORIGIN}{path}"), &bound).sign();
                assert_me(&send(router.clone(), dpop(path, &bound, &[&proof])).await, "carol");
            }
        }
    }
}

/// RFC 9449 §7.2: a DPoP-bound token sent as a bearer token is refused, with the `DPoP`
/// challenge when DPoP is on (the scheme the client must use), on every path, cache hits too.
#[tokio::test]
async fn a_bound_token_sent_as_bearer_gets_the_dpop_challenge() {
    let issuer = TestIssuer::new();
    let key = DpopKey::new();
    let bound = issuer.token("alice").bound_to(&key).sign();
    let reason = InvalidTokenReason::DpopBoundAsBearer;
    let verifier = verifier_in(&issuer, DpopMode::Allowed);
    let router = every_path(&verifier).with_state(verifier);
    for path in PATHS {
        for _ in 0..2 {
            assert_bad_token(&send(router.clone(), bearer(path, &bound)).await, reason);
            // A proof alongside does not make the `Bearer` scheme a DPoP one.
            let proof = key.proof("GET", &format!("{ORIGIN}{path}"), &bound).sign();
            let reply = send(router.clone(), bearer_with_proof(path, &bound, &proof)).await;
            assert_bad_token(&reply, reason);
        }
    }
    // DPoP off: no DPoP challenge to give; refused all the same.
    let verifier = verifier_in(&issuer, DpopMode::Off);
    let router = every_path(&verifier).with_state(verifier);
    let challenge = bearer_challenge("invalid_token", reason.description());
    for path in PATHS {
        let reply = send(router.clone(), bearer(path, &bound)).await;
        assert_denied(
            &reply,
            StatusCode::UNAUTHORIZED,
            Some(&challenge),
            Some(reason.description()),
        );
    }
}

/// The peer catalog's `rfc9449-verifier-must-reject-dpop-proof-when-access-token-is-not-dpop-bound`:
/// a proof with a token that is not DPoP-bound is refused, whatever the scheme and the mode.
#[tokio::test]
async fn a_proof_with_an_unbound_token_is_refused() {
    let issuer = TestIssuer::new();
    let key = DpopKey::new();
    let plain = issuer.token("bob").sign();
    let reason = DpopProofReason::UnboundToken;
    for mode in [DpopMode::Off, DpopMode::Allowed] {
        let verifier = verifier_in(&issuer, mode);
        let router = every_path(&verifier).with_state(verifier);
        let challenge = match mode {
            DpopMode::Off => bearer_challenge("invalid_dpop_proof", reason.description()),
            _ => dpop_challenge("invalid_dpop_proof", reason.description()),
        };
        for path in PATHS {
            // Twice: the token's verification is a cache hit the second time.
            for _ in 0..2 {
                let proof = key.proof("GET", &format!("{ORIGIN}{path}"), &plain).sign();
                let reply = send(router.clone(), bearer_with_proof(path, &plain, &proof)).await;
                let detail = Some(reason.description());
                assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), detail);
                // Any `DPoP` header counts: it says the client meant a DPoP request.
                let reply = send(router.clone(), bearer_with_proof(path, &plain, "x")).await;
                assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), detail);
            }
            // Without the proof, the very token is accepted.
            assert_me(&send(router.clone(), bearer(path, &plain)).await, "bob");
        }
    }
    // With the `DPoP` scheme too.
    let verifier = verifier_in(&issuer, DpopMode::Required);
    let router = every_path(&verifier).with_state(verifier);
    for path in PATHS {
        let proof = key.proof("GET", &format!("{ORIGIN}{path}"), &plain).sign();
        assert_bad_proof(&send(router.clone(), dpop(path, &plain, &[&proof])).await, reason);
    }
}

#[tokio::test]
async fn verify_refuses_bound_tokens_and_verify_dpop_proves_them() {
    use http::{Method, Uri};
    use portcullis::response::DenialKind;

    let issuer = TestIssuer::new();
    let verifier = verifier_in(&issuer, DpopMode::Allowed);
    let key = DpopKey::new();
    let bound = issuer.token("alice").bound_to(&key).sign();
    // `verify` has no proof: every bound token is refused.
    assert_eq!(verifier.verify(&bound).err(), Some(InvalidTokenReason::DpopBoundAsBearer));
    for cnf in unsupported_bindings(&key) {
        let token = issuer.token("alice").claim("cnf", cnf.clone()).sign();
        assert_eq!(
            verifier.verify(&token).err(),
            Some(InvalidTokenReason::UnsupportedBinding),
            "{cnf}"
        );
    }
    let plain = issuer.token("bob").sign();
    assert_eq!(verifier.verify(&plain).unwrap().subject(), "bob");

    // `verify_dpop`: the checks of a `DPoP` request, for another transport.
    let uri: Uri = URL.parse().unwrap();
    let get = Method::GET;
    let proof = key.proof("GET", URL, &bound).sign();
    let principal = verifier.verify_dpop(&bound, &proof, &get, &uri).await.unwrap();
    assert_eq!(principal.subject(), "alice");
    assert!(principal.is_dpop());
    // The proof was remembered: once only.
    let replayed = verifier.verify_dpop(&bound, &proof, &get, &uri).await.unwrap_err();
    assert_eq!(replayed.kind(), &DenialKind::InvalidDpopProof(DpopProofReason::Replayed));
    // A path follows the configured origin; a query is ignored, as in `htu`.
    for uri in ["/me", "/me?page=2", "https://api.example/me?page=2"] {
        let proof = key.proof("GET", URL, &bound).sign();
        let uri: Uri = uri.parse().unwrap();
        assert!(verifier.verify_dpop(&bound, &proof, &get, &uri).await.unwrap().is_dpop());
    }
    let refusal = |proof: String, token: String, method: Method, uri: &'static str| {
        let verifier = verifier.clone();
        async move {
            let uri: Uri = uri.parse().unwrap();
            verifier.verify_dpop(&token, &proof, &method, &uri).await.unwrap_err()
        }
    };
    let cases = [
        (
            refusal(key.proof("POST", URL, &bound).sign(), bound.clone(), Method::GET, URL).await,
            DenialKind::InvalidDpopProof(DpopProofReason::WrongMethod),
        ),
        (
            refusal(key.proof("GET", URL, &bound).sign(), bound.clone(), get.clone(), "/other")
                .await,
            DenialKind::InvalidDpopProof(DpopProofReason::WrongUri),
        ),
        (
            refusal(key.proof("GET", URL, &plain).sign(), plain.clone(), get.clone(), URL).await,
            DenialKind::InvalidDpopProof(DpopProofReason::UnboundToken),
        ),
        (
            refusal(
                DpopKey::new().proof("GET", URL, &bound).sign(),
                bound.clone(),
                get.clone(),
                URL,
            )
            .await,
            DenialKind::InvalidToken(InvalidTokenReason::DpopKeyMismatch),
        ),
        (
            refusal("not a proof".into(), bound.clone(), get.clone(), URL).await,
            DenialKind::InvalidDpopProof(DpopProofReason::Malformed),
        ),
        (
            refusal(key.proof("GET", URL, "x").sign(), "x".repeat(9_000), get.clone(), URL).await,
            DenialKind::InvalidToken(InvalidTokenReason::TooLarge),
        ),
    ];
    for (denial, kind) in cases {
        assert_eq!(denial.kind(), &kind);
        // Rendered, a refusal carries the `DPoP` challenge.
        let response = axum::response::IntoResponse::into_response(denial);
        let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("DPoP realm=\"api\""), "{challenge}");
    }
    for cnf in unsupported_bindings(&key) {
        let token = issuer.token("alice").claim("cnf", cnf.clone()).sign();
        let proof = key.proof("GET", URL, &token).sign();
        let denial = verifier.verify_dpop(&token, &proof, &get, &uri).await.unwrap_err();
        let expected = DenialKind::InvalidToken(InvalidTokenReason::UnsupportedBinding);
        assert_eq!(denial.kind(), &expected, "{cnf}");
    }
    // DPoP off: the `DPoP` scheme is not one this verifier reads.
    let off = verifier_in(&issuer, DpopMode::Off);
    let proof = key.proof("GET", URL, &bound).sign();
    let denial = off.verify_dpop(&bound, &proof, &get, &uri).await.unwrap_err();
    assert_eq!(denial.kind(), &DenialKind::MissingCredentials);
}

/// RFC 7662 answers carry `cnf` too (RFC 9449 §6.2): the principal keeps the binding, in the
/// introspection cache as well.
#[tokio::test]
async fn introspection_answers_bind_their_tokens() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use portcullis::introspection::Introspection;
    use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER};

    /// An introspection endpoint answering every token with `answer`, counting its calls.
    async fn endpoint(answer: serde_json::Value) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let app = Router::new().route(
            "/introspect",
            axum::routing::post(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                async move { axum::Json(answer) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/introspect", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, calls)
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let answer = |cnf: Option<serde_json::Value>, token_type: &str| {
        let mut answer = json!({
            "active": true, "sub": "alice", "aud": TEST_AUDIENCE, "iss": TEST_ISSUER,
            "exp": now + 600, "token_type": token_type,
        });
        if let Some(cnf) = cnf {
            answer["cnf"] = cnf;
        }
        answer
    };
    let introspecting = |url: &str| {
        Verifier::builder()
            .issuer(TEST_ISSUER)
            .audience(TEST_AUDIENCE)
            .disclosure(Disclosure::Development)
            .introspection(Introspection::endpoint(url))
            .dpop(Dpop::allowed().origin(ORIGIN).replay_store(Remembered::default()))
            .build()
            .unwrap()
    };
    let key = DpopKey::new();
    let token = "2YotnFZFEjr1zCsicMWpAA";

    // A token bound to a DPoP key: accepted with its proof, refused as a bearer token.
    let (url, calls) = endpoint(answer(Some(json!({"jkt": key.thumbprint()})), "DPoP")).await;
    let verifier = introspecting(&url);
    let router = every_path(&verifier).with_state(verifier);
    for path in PATHS {
        for _ in 0..2 {
            let proof = key.proof("GET", &format!("{ORIGIN}{path}"), token).sign();
            assert_me(&send(router.clone(), dpop(path, token, &[&proof])).await, "alice");
            assert_bad_token(
                &send(router.clone(), bearer(path, token)).await,
                InvalidTokenReason::DpopBoundAsBearer,
            );
        }
    }
    // Every later request was answered from the cache, binding included.
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Every other `cnf`: refused on every path, cache hits included.
    let reason = InvalidTokenReason::UnsupportedBinding;
    let challenge = bearer_challenge("invalid_token", reason.description());
    for cnf in unsupported_bindings(&key) {
        let (url, calls) = endpoint(answer(Some(cnf.clone()), "Bearer")).await;
        let verifier = introspecting(&url);
        let router = every_path(&verifier).with_state(verifier);
        for path in PATHS {
            let reply = send(router.clone(), bearer(path, token)).await;
            let detail = Some(reason.description());
            assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), detail);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{cnf}");
    }

    // `token_type` DPoP without a `cnf`: nothing binds the token, so it is not accepted.
    let (url, _) = endpoint(answer(None, "DPoP")).await;
    let router = every_path(&introspecting(&url)).with_state(introspecting(&url));
    let reason = InvalidTokenReason::WrongType;
    let challenge = bearer_challenge("invalid_token", reason.description());
    let reply = send(router, bearer("/me", token)).await;
    assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(reason.description()));
}

// --- DPoP as deployed (issue 23, item 5) ---

/// Under `Router::nest`, `htu` names the URI the client called, prefix included (axum's
/// `OriginalUri`), through the extractor, an attribute guard and `RequireAuthLayer`.
#[tokio::test]
async fn htu_is_the_uri_the_client_called_under_a_nested_router() {
    let issuer = TestIssuer::new();
    let verifier = verifier_in(&issuer, DpopMode::Required);
    let router = Router::new().nest("/api", every_path(&verifier)).with_state(verifier);
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    for path in PATHS {
        let called = format!("/api{path}");
        let proof = key.proof("GET", &format!("{ORIGIN}{called}"), &token).sign();
        assert_me(&send(router.clone(), dpop(&called, &token, &[&proof])).await, "alice");
        // The path the nested router sees is not the one the client called.
        let proof = key.proof("GET", &format!("{ORIGIN}{path}"), &token).sign();
        assert_bad_proof(
            &send(router.clone(), dpop(&called, &token, &[&proof])).await,
            DpopProofReason::WrongUri,
        );
    }
}

/// A NumericDate may be fractional (RFC 7519 §2): a proof's `iat` and `exp` are read, rounded
/// down, and still checked.
#[tokio::test]
async fn a_proofs_fractional_iat_and_exp_are_read() {
    let issuer = TestIssuer::new();
    let router = router(verifier(&issuer, DpopMode::Allowed, Remembered::default()));
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
    let proof = || key.proof("GET", URL, &token);
    for accepted in [
        proof().claim("iat", json!(now.floor() + 0.5)).sign(),
        proof().claim("iat", json!(now - 10.25)).claim("exp", json!(now + 60.75)).sign(),
        proof().claim("exp", json!(now + 0.5)).sign(),
    ] {
        assert_me(&send(router.clone(), dpop("/me", &token, &[&accepted])).await, "alice");
    }
    let cases = [
        (proof().claim("iat", json!(now - 600.5)).sign(), DpopProofReason::Stale),
        (proof().claim("iat", json!(now + 600.5)).sign(), DpopProofReason::Stale),
        (proof().claim("exp", json!(now - 30.5)).sign(), DpopProofReason::Stale),
        (proof().claim("iat", json!(-1.5)).sign(), DpopProofReason::MissingClaim),
        (proof().claim("iat", json!("now")).sign(), DpopProofReason::MissingClaim),
        (proof().claim("exp", json!(-0.5)).sign(), DpopProofReason::Malformed),
    ];
    for (proof, reason) in cases {
        assert_bad_proof(&send(router.clone(), dpop("/me", &token, &[&proof])).await, reason);
    }
}

/// A token over the size limit is refused before any decoding, with the challenge of the
/// scheme it came with.
#[tokio::test]
async fn an_oversized_token_gets_the_challenge_of_its_scheme() {
    let issuer = TestIssuer::new();
    let verifier = verifier_in(&issuer, DpopMode::Allowed);
    let router = every_path(&verifier).with_state(verifier);
    let huge = "a".repeat(portcullis::config::DEFAULT_MAX_TOKEN_LEN + 1);
    let key = DpopKey::new();
    let reason = InvalidTokenReason::TooLarge;
    let as_bearer = bearer_challenge("invalid_token", reason.description());
    for path in PATHS {
        let proof = key.proof("GET", &format!("{ORIGIN}{path}"), &huge).sign();
        assert_bad_token(&send(router.clone(), dpop(path, &huge, &[&proof])).await, reason);
        assert_bad_token(&send(router.clone(), dpop(path, &huge, &[])).await, reason);
        let reply = send(router.clone(), bearer(path, &huge)).await;
        assert_denied(
            &reply,
            StatusCode::UNAUTHORIZED,
            Some(&as_bearer),
            Some(reason.description()),
        );
    }
}

/// `PORTCULLIS_DPOP_NONCE_KEY`: instances built from one key accept each other's nonces; a key
/// that is too short or not base64url is a configuration error naming the variable, never its
/// value.
#[tokio::test]
async fn instances_share_the_nonce_key_from_the_environment() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    let issuer = TestIssuer::new();
    let from_env = |key: &str, nonce: Option<&str>| {
        let mut vars = vec![
            ("PORTCULLIS_ISSUER", portcullis::testing::TEST_ISSUER.to_owned()),
            ("PORTCULLIS_AUDIENCE", portcullis::testing::TEST_AUDIENCE.to_owned()),
            ("PORTCULLIS_DPOP", "required".to_owned()),
            ("PORTCULLIS_RESOURCE", ORIGIN.to_owned()),
            ("PORTCULLIS_DISCLOSURE", "development".to_owned()),
            ("PORTCULLIS_DPOP_NONCE_KEY", key.to_owned()),
        ];
        if let Some(nonce) = nonce {
            vars.push(("PORTCULLIS_DPOP_NONCE", nonce.to_owned()));
        }
        portcullis::config::VerifierBuilder::new()
            .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
            .map(|builder| builder.key(issuer.verification_key()))
    };
    let secret: Vec<u8> = (0u8..48).collect();
    let shared = URL_SAFE_NO_PAD.encode(&secret);
    let first = router(from_env(&shared, None).unwrap().build().unwrap());
    // Padded, and with nonces asked for explicitly: the same key.
    let second =
        router(from_env(&URL_SAFE.encode(&secret), Some("true")).unwrap().build().unwrap());
    let other = URL_SAFE_NO_PAD.encode([1u8; 32]);
    let alone = router(from_env(&other, None).unwrap().build().unwrap());
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    // `PORTCULLIS_RESOURCE` adds `resource_metadata` to the challenges.
    let metadata = "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";
    let use_nonce = |reply: portcullis_tests::Reply, reason: DpopNonceReason| {
        let challenge =
            format!("{}, {metadata}", dpop_challenge("use_dpop_nonce", reason.description()));
        let detail = Some(reason.description());
        assert_denied(&reply, StatusCode::UNAUTHORIZED, Some(&challenge), detail);
        reply.headers["DPoP-Nonce"].to_str().unwrap().to_owned()
    };
    let proof = key.proof("GET", URL, &token).sign();
    let reply = send(first.clone(), dpop("/me", &token, &[&proof])).await;
    let nonce = use_nonce(reply, DpopNonceReason::Missing);
    assert_nonce_format(&nonce);
    for instance in [first, second] {
        let proof = key.proof("GET", URL, &token).nonce(&nonce).sign();
        assert_me(&send(instance, dpop("/me", &token, &[&proof])).await, "alice");
    }
    let proof = key.proof("GET", URL, &token).nonce(&nonce).sign();
    use_nonce(send(alone, dpop("/me", &token, &[&proof])).await, DpopNonceReason::Invalid);
    // The same key in code is the same key.
    let in_code = DpopNonces::with_key(&secret).unwrap();
    assert_eq!(in_code.nonce(), nonce);

    // Refused keys: 31 bytes, not base64url (standard base64's `+` and `/`), and nonces turned
    // off beside a key. The error names the variable and never shows the value.
    let short = URL_SAFE_NO_PAD.encode([7u8; 31]);
    let standard = "ab+/cdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    for (value, nonce) in
        [(short.as_str(), None), (standard, None), (shared.as_str(), Some("false"))]
    {
        let error = from_env(value, nonce).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Env(env) if env.var() == "PORTCULLIS_DPOP_NONCE_KEY"),
            "{error:?}"
        );
        let shown = format!("{error} {error:?}");
        assert!(shown.starts_with("PORTCULLIS_DPOP_NONCE_KEY: "), "{shown}");
        assert!(!shown.contains(value), "{shown}");
    }
    assert!(portcullis::config::env::ALL.contains(&"PORTCULLIS_DPOP_NONCE_KEY"));
}

/// An attribute guard sends a fresh nonce on success, as `RequireAuthLayer` does, when the one
/// the client used expires soon; a handler's own `DPoP-Nonce` wins; behind the layer, one only.
#[tokio::test]
async fn the_guards_send_a_fresh_nonce_when_the_used_one_expires_soon() {
    #[portcullis::authenticated]
    async fn own_nonce() -> impl axum::response::IntoResponse {
        ([("DPoP-Nonce", "the-handlers-own")], axum::Json(json!("ok")))
    }
    // `?` and `return` keep their meaning in a guarded body.
    #[portcullis::requires_scope("docs:read")]
    async fn fallible(
        principal: portcullis::Principal,
    ) -> Result<axum::Json<serde_json::Value>, portcullis::Denial> {
        let subject: String = principal.subject().parse().map_err(|_| principal.not_found())?;
        if subject.is_empty() {
            return Err(principal.not_found());
        }
        Ok(axum::Json(json!(subject)))
    }

    let issuer = TestIssuer::new();
    let nonces = DpopNonces::with_key([6u8; 32]).unwrap();
    let verifier = nonce_verifier(&issuer, nonces.clone(), Disclosure::Production);
    let router = every_path(&verifier)
        .route("/own", get(own_nonce))
        .route("/fallible", get(fallible))
        .with_state(verifier);
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).scopes(["docs:read"]).sign();
    let previous = nonces.nonce_at(SystemTime::now() - DpopNonces::DEFAULT_LIFETIME);
    let current = nonces.nonce();
    let request = |path: &str, nonce: &str| {
        let proof = key.proof("GET", &format!("{ORIGIN}{path}"), &token).nonce(nonce).sign();
        dpop(path, &token, &[&proof])
    };
    let nonces_of = |reply: &portcullis_tests::Reply| -> Vec<String> {
        let values = reply.headers.get_all("DPoP-Nonce").iter();
        values.map(|v| v.to_str().unwrap().to_owned()).collect()
    };
    for path in ["/guard/me", "/layer/me"] {
        let reply = send(router.clone(), request(path, &previous)).await;
        assert_me(&reply, "alice");
        assert_eq!(nonces_of(&reply), [current.as_str()], "{path}");
        // A current nonce: nothing newer to send.
        let reply = send(router.clone(), request(path, &current)).await;
        assert_me(&reply, "alice");
        assert!(nonces_of(&reply).is_empty(), "{reply:?}");
    }
    let reply = send(router.clone(), request("/fallible", &previous)).await;
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &json!("alice")));
    assert_eq!(nonces_of(&reply), [current.as_str()]);
    let reply = send(router, request("/own", &previous)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(nonces_of(&reply), ["the-handlers-own"]);
}
