//! The verified-token cache (on by default) seen from outside: what it serves, and what it never
//! serves. Its bounds and keys are unit-tested in `runtime/src/verify/cache.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use portcullis::testing::TestIssuer;
use portcullis::{Verifier, config::TokenCache, keys::KeyRefresh};
use portcullis_tests::{app, assert_me, bearer, get_request, send, with_authorization};
use serde_json::Value;

const EXPIRED: &str =
    "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The access token expired\"";

/// A 401 whose challenge is exactly `challenge`.
fn assert_refused(reply: &portcullis_tests::Reply, challenge: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert_eq!(reply.challenge(), Some(challenge), "{reply:?}");
}

/// The challenge of a development-mode 401 for `description`.
fn challenge(description: &str) -> String {
    format!("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{description}\"")
}

fn development(builder: portcullis::config::VerifierBuilder) -> Verifier {
    builder.disclosure(portcullis::response::Disclosure::Development).build().unwrap()
}

#[tokio::test]
async fn a_cached_token_still_ends_at_its_exp() {
    let issuer = TestIssuer::new();
    let verifier = development(issuer.verifier().leeway(Duration::ZERO));
    let token = issuer.token("alice").expires_in(Duration::from_secs(2)).sign();
    // Verified, then served from the cache.
    for _ in 0..3 {
        assert_me(&send(app(verifier.clone()), bearer("/me", &token)).await, "alice");
    }
    // Past its `exp`, the entry is not used: the full verification says why.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let reply = send(app(verifier.clone()), bearer("/me", &token)).await;
    assert_refused(&reply, EXPIRED);
}

#[tokio::test]
async fn a_refused_token_is_never_cached_as_verified() {
    let issuer = TestIssuer::new();
    let verifier = development(issuer.verifier());
    // Not valid for another 90 s (beyond the 30 s leeway): refused every time.
    let early = issuer.token("alice").not_before(Duration::from_secs(90)).sign();
    let forged = {
        let other = TestIssuer::new();
        other.token("alice").sign()
    };
    for _ in 0..3 {
        let reply = send(app(verifier.clone()), bearer("/me", &early)).await;
        assert_refused(&reply, &challenge("The access token is not valid yet"));
        let reply = send(app(verifier.clone()), bearer("/me", &forged)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // A good token is unaffected.
    let good = issuer.token("alice").sign();
    assert_me(&send(app(verifier.clone()), bearer("/me", &good)).await, "alice");
}

/// The cache is consulted before the token's grammar is checked: a token that differs from a
/// cached one by a character outside the grammar, or by one within it, is a different token.
#[tokio::test]
async fn a_variant_of_a_cached_token_is_checked_in_full() {
    let issuer = TestIssuer::new();
    let verifier = development(issuer.verifier());
    let token = issuer.token("alice").sign();
    assert_me(&send(app(verifier.clone()), bearer("/me", &token)).await, "alice");
    let malformed = challenge("The access token is malformed");
    for variant in [format!("{token}!"), format!("{token} x"), format!("{token},")] {
        let reply =
            send(app(verifier.clone()), with_authorization("/me", &format!("Bearer {variant}")))
                .await;
        assert_refused(&reply, &malformed);
    }
    // Within the grammar but not the signed token: the signature check refuses it.
    let reply = send(app(verifier.clone()), bearer("/me", &format!("{token}A"))).await;
    assert_refused(&reply, &challenge("The access token signature is invalid"));
    assert_me(&send(app(verifier.clone()), bearer("/me", &token)).await, "alice");
}

/// The cache finds a token by a keyed hash of its signature, then compares the whole token: a
/// cached token's signature on another payload (the same hash) is another token, and refused.
#[tokio::test]
async fn a_cached_signature_does_not_carry_another_payload() {
    let issuer = TestIssuer::new();
    let verifier = development(issuer.verifier());
    let alice = issuer.token("alice").sign();
    assert_me(&send(app(verifier.clone()), bearer("/me", &alice)).await, "alice");
    let (_, alice_signature) = alice.rsplit_once('.').unwrap();
    // Mallory's header and payload (never sent, so never verified), under Alice's signature.
    let mallory = issuer.token("mallory").sign();
    let (mallory_signed, _) = mallory.rsplit_once('.').unwrap();
    let forged = format!("{mallory_signed}.{alice_signature}");
    for _ in 0..2 {
        let reply = send(app(verifier.clone()), bearer("/me", &forged)).await;
        assert_refused(&reply, &challenge("The access token signature is invalid"));
    }
    // Alice's token is still accepted (that her entry stays in place is unit-tested in
    // runtime/src/verify/cache.rs).
    assert_me(&send(app(verifier.clone()), bearer("/me", &alice)).await, "alice");
}

/// The same token through the other transport is the same bytes, hence the same entry; any other
/// bytes, however close, are another token.
#[tokio::test]
async fn the_query_transport_shares_the_cache_byte_for_byte() {
    let issuer = TestIssuer::new();
    let verifier = development(issuer.verifier().dangerous().allow_query_token());
    let token = issuer.token("alice").sign();
    assert_me(&send(app(verifier.clone()), bearer("/me", &token)).await, "alice");
    let query = |suffix: &str| get_request(&format!("/me?access_token={token}{suffix}"));
    assert_me(&send(app(verifier.clone()), query("")).await, "alice");
    let malformed = challenge("The access token is malformed");
    // An encoded space and a `+` (a space once form-decoded) leave the grammar; `=` padding is
    // within it, but the signature does not decode with it.
    for suffix in ["%20", "+", "+x", "="] {
        assert_refused(&send(app(verifier.clone()), query(suffix)).await, &malformed);
    }
}

#[tokio::test]
async fn with_the_cache_disabled_every_request_verifies() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().token_cache(TokenCache::disabled()).build().unwrap();
    let token = issuer.token("alice").sign();
    for _ in 0..3 {
        assert_me(&send(app(verifier.clone()), bearer("/me", &token)).await, "alice");
    }
}

/// A JWKS server on 127.0.0.1 whose document the test replaces at will.
async fn jwks_server(document: Value) -> (String, Arc<Mutex<Value>>) {
    let served = Arc::new(Mutex::new(document));
    let state = Arc::clone(&served);
    let router = Router::new().route(
        "/jwks",
        get(move || {
            let state = Arc::clone(&state);
            async move { axum::Json(state.lock().unwrap().clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_key_ends_its_cached_tokens_at_once() {
    let old = TestIssuer::new().with_kid(Some("old"));
    let new = TestIssuer::new().with_kid(Some("new"));
    let (url, served) = jwks_server(old.jwks()).await;
    let refresh = KeyRefresh::default()
        .min_interval(Duration::from_millis(50))
        .interval(Duration::from_secs(3600));
    let verifier = Verifier::builder()
        .issuer(old.issuer())
        .audience(old.audience())
        .jwks_url(url)
        .key_refresh(refresh)
        .disclosure(portcullis::response::Disclosure::Development)
        .build()
        .unwrap();
    let cached = old.token("alice").sign();
    for _ in 0..3 {
        assert_me(&send(app(verifier.clone()), bearer("/me", &cached)).await, "alice");
    }
    // The provider rotates: only the new key is published. A token of the new key makes the
    // verifier fetch the set again.
    *served.lock().unwrap() = new.jwks();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rotated = new.token("bob").sign();
    assert_me(&send(app(verifier.clone()), bearer("/me", &rotated)).await, "bob");
    // The old token was cached as verified; its key is gone, so it is refused at once.
    let reply = send(app(verifier.clone()), bearer("/me", &cached)).await;
    assert_refused(&reply, &challenge("The access token is signed with an unknown key"));
}
