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
use portcullis::testing::{DpopKey, TestIssuer};
use portcullis::{
    ConfigError, Disclosure, DpopMode, DpopNonceReason, DpopNonces, DpopProofReason,
    InvalidTokenReason, ReplayStore, ReplayStoreError, RequireAuthLayer, Verifier,
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
        .dpop(mode)
        .dpop_origin(ORIGIN)
        .dpop_replay_store(store)
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
    // A malformed binding is a binding too.
    let odd = issuer.token("alice").claim("cnf", json!({"jkt": 7})).sign();
    let reply = send(router.clone(), bearer("/me", &odd)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // A `cnf` without `jkt` (an mTLS binding, say) is not refused here.
    let unbound = issuer.token("alice").claim("cnf", json!({"x5t#S256": "abc"})).sign();
    assert_me(&send(router.clone(), bearer("/me", &unbound)).await, "alice");
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
    // Two DPoP headers: 400.
    let (a, b) = (proof().sign(), proof().sign());
    let reply = send(router, dpop("/me", &token, &[&a, &b])).await;
    let description = "The request has more than one DPoP header";
    let challenge = dpop_challenge("invalid_request", description);
    assert_denied(&reply, StatusCode::BAD_REQUEST, Some(&challenge), Some(description));
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
    assert_bad_token(
        &send(router.clone(), dpop("/me", &unbound, &[&proof])).await,
        InvalidTokenReason::DpopUnbound,
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
    let on = || issuer.verifier().dpop(DpopMode::Allowed);
    // Without a store of one's own, the process's memory.
    assert!(on().dpop_origin(ORIGIN).build().is_ok());
    assert!(matches!(
        on().dpop_replay_store(Remembered::default()).build(),
        Err(ConfigError::DpopNeedsOrigin)
    ));
    assert!(matches!(
        on().dpop_replay_store(Remembered::default()).dpop_origin("https://a/?x").build(),
        Err(ConfigError::InvalidDpopOrigin(_))
    ));
    assert!(matches!(
        on().dpop_replay_store(Remembered::default())
            .dpop_origin(ORIGIN)
            .dpop_algorithms([portcullis::Algorithm::HS256])
            .build(),
        Err(ConfigError::InvalidDpopAlgorithms)
    ));
    let vars = [("PORTCULLIS_DPOP", "sometimes")];
    let from_env = portcullis::VerifierBuilder::new()
        .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()));
    assert!(matches!(from_env, Err(ConfigError::Env { var: "PORTCULLIS_DPOP", .. })));
}

/// Without a store of one's own, proofs are remembered in the process's memory: a replay is
/// refused there too.
#[tokio::test]
async fn the_default_store_refuses_a_replay() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .dpop(DpopMode::Allowed)
        .dpop_origin(ORIGIN)
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
        .dpop(DpopMode::Required)
        .dpop_origin(ORIGIN)
        .dpop_nonces(nonces)
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
    let denial = verifier.deny(portcullis::DenialKind::UseDpopNonce(DpopNonceReason::Missing));
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
    let on = || issuer.verifier().dpop(DpopMode::Allowed).dpop_origin(ORIGIN);
    for lifetime in [Duration::ZERO, Duration::from_millis(999), Duration::from_secs(3_601)] {
        assert!(matches!(
            on().dpop_nonces(DpopNonces::new().lifetime(lifetime)).build(),
            Err(ConfigError::InvalidDpopNonceLifetime)
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
        portcullis::VerifierBuilder::new()
            .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
            .map(|builder| builder.key(issuer.verification_key()))
    };
    assert!(from_env("TRUE").unwrap().build().unwrap().dpop_nonce().is_some());
    assert!(from_env("false").unwrap().build().unwrap().dpop_nonce().is_none());
    assert!(matches!(from_env("yes"), Err(ConfigError::Env { var: "PORTCULLIS_DPOP_NONCE", .. })));
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
        .dpop(DpopMode::Allowed)
        .resource("https://api.example/v1")
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
