//! What one signature costs, per algorithm, on the crypto backend the build enabled:
//!
//! ```text
//! cargo bench -p portcullis --bench signatures                     # aws-lc-rs (default)
//! cargo bench -p portcullis --bench signatures --no-default-features --features rust-crypto,testing,pem
//! ```
//!
//! - `signatures/{alg}/verifier`: `Verifier::verify` of a valid token with the verified-token
//!   cache off: decoding, the claims, the signature (what a cache miss costs).
//! - `signatures/{alg}/signature_alone`: `jsonwebtoken::crypto::verify` of the same signature
//!   with a key parsed once ahead: the backend's share of the above.
//!
//! Keys: Ed25519 (EdDSA), P-256 (ES256) and HS256 drawn fresh; RS256 with the 2048-bit key of
//! `tests/fixtures`. Each benchmark prints which backend it ran on.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, jwk::Jwk};
use portcullis::config::TokenCache;
use portcullis::keys::Algorithm;
use portcullis::testing::TestIssuer;

const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/rsa_public.pem");
const HMAC_SECRET: &[u8] = b"a shared secret of at least 32 bytes, for HS256";

/// The backend the crate's features select (both on: aws-lc-rs).
const BACKEND: &str = if cfg!(feature = "aws-lc-rs") { "aws-lc-rs" } else { "rust-crypto" };

/// An issuer of `algorithm` and the key that checks its signatures, parsed once.
fn issuer(algorithm: Algorithm) -> (TestIssuer, DecodingKey) {
    let from_jwk = |issuer: &TestIssuer| {
        let jwk: Jwk = serde_json::from_value(issuer.jwks()["keys"][0].clone())
            .unwrap_or_else(|error| panic!("{error}"));
        DecodingKey::from_jwk(&jwk).unwrap_or_else(|error| panic!("{error}"))
    };
    match algorithm {
        Algorithm::EdDSA => {
            let issuer = TestIssuer::eddsa();
            let key = from_jwk(&issuer);
            (issuer, key)
        }
        Algorithm::ES256 => {
            let issuer = TestIssuer::es256();
            let key = from_jwk(&issuer);
            (issuer, key)
        }
        Algorithm::HS256 => (
            TestIssuer::hs256(HMAC_SECRET).unwrap_or_else(|error| panic!("{error}")),
            DecodingKey::from_secret(HMAC_SECRET).unwrap_or_else(|error| panic!("{error}")),
        ),
        Algorithm::RS256 => (
            TestIssuer::rsa_pem(Algorithm::RS256, RSA_PRIVATE, RSA_PUBLIC)
                .unwrap_or_else(|error| panic!("{error}")),
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes())
                .unwrap_or_else(|error| panic!("{error}")),
        ),
        other => panic!("not measured: {other}"),
    }
}

fn signatures(c: &mut Criterion) {
    println!("crypto backend: {BACKEND}");
    for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA, Algorithm::HS256] {
        let (issuer, key) = issuer(algorithm);
        let verifier = issuer
            .verifier()
            .token_cache(TokenCache::disabled())
            .build()
            .unwrap_or_else(|error| panic!("{error}"));
        let token = issuer.token("alice").scopes(["docs:read"]).sign();
        let (message, signature) = token.rsplit_once('.').unwrap_or_default();
        let jwt_algorithm = algorithm_of(algorithm);
        // Sanity: both accept the token, so no error path is measured.
        assert!(verifier.verify(&token).is_ok(), "{algorithm}");
        assert!(
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, jwt_algorithm)
                .is_ok_and(|valid| valid),
            "{algorithm}"
        );

        let mut group = c.benchmark_group(format!("signatures/{algorithm}"));
        group.bench_function("verifier", |b| b.iter(|| verifier.verify(black_box(&token))));
        group.bench_function("signature_alone", |b| {
            b.iter(|| {
                jsonwebtoken::crypto::verify(
                    black_box(signature),
                    black_box(message.as_bytes()),
                    &key,
                    jwt_algorithm,
                )
            });
        });
        group.finish();
    }
}

fn algorithm_of(algorithm: Algorithm) -> jsonwebtoken::Algorithm {
    match algorithm {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        other => panic!("not measured: {other}"),
    }
}

criterion_group! {
    name = benches;
    // Short runs (about 40 s in all): the machine is shared, the spread is printed.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = signatures
}
criterion_main!(benches);
