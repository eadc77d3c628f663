//! Signing tokens with a key generated in memory: what [`development`](crate::development) and
//! (feature `testing`) [`testing`](crate::testing) share. Never a key from outside: the
//! development module signs only with the key [`ed25519`] generated.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Map, Value, json};

use crate::keys::{Algorithm, Family, Key};

/// A fresh Ed25519 key pair: the signing key, the key that verifies its signatures, and its
/// public JWK (without `kid`).
pub(crate) fn ed25519() -> (EncodingKey, Key, Value) {
    let rng = SystemRandom::new();
    // Key generation from the system RNG only fails when the OS has no randomness at all,
    // which no program can recover from.
    #[allow(clippy::expect_used)]
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("system randomness");
    #[allow(clippy::expect_used)]
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key we just generated");
    let public = pair.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "x": URL_SAFE_NO_PAD.encode(&public)});
    let verifying =
        Key::from_parts(Family::Ed, vec![Algorithm::EdDSA], DecodingKey::from_ed_der(&public));
    (EncodingKey::from_ed_der(pkcs8.as_ref()), verifying, jwk)
}

/// The header of a token signed with `algorithm`: `typ` `JWT`, `alg`, and `kid` when given.
pub(crate) fn header(algorithm: Algorithm, kid: Option<&str>) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("typ".into(), Value::String("JWT".into()));
    header.insert("alg".into(), Value::String(algorithm.as_str().into()));
    if let Some(kid) = kid {
        header.insert("kid".into(), Value::String(kid.to_owned()));
    }
    header
}

/// The registered claims of a token for `subject`: `sub`, `iss`, `aud`, `iat` now and `exp`
/// after `lifetime`.
pub(crate) fn claims(
    subject: String,
    issuer: &str,
    audience: &str,
    lifetime: Duration,
) -> Map<String, Value> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(subject));
    claims.insert("iss".into(), Value::String(issuer.to_owned()));
    claims.insert("aud".into(), Value::String(audience.to_owned()));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + lifetime.as_secs()));
    claims
}

/// `exp` for a token that expires after `lifetime`.
pub(crate) fn expiry(lifetime: Duration) -> u64 {
    jsonwebtoken::get_current_timestamp() + lifetime.as_secs()
}

/// The `scope` claim: the scopes, space-separated.
pub(crate) fn scope<I, T>(scopes: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    scopes.into_iter().map(|s| s.as_ref().to_owned()).collect::<Vec<_>>().join(" ")
}

/// The compact JWS of `header` and `claims`, signed with `key` and `algorithm`.
pub(crate) fn sign(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    key: &EncodingKey,
    algorithm: Algorithm,
) -> String {
    let encode = |part: &Map<String, Value>| {
        // A JSON map always serializes.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(part).unwrap_or_default())
    };
    let signing_input = format!("{}.{}", encode(header), encode(claims));
    // Signing with a key of its own algorithm cannot fail; an empty signature is an invalid
    // token, which the verifier refuses.
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, algorithm.to_jsonwebtoken())
            .unwrap_or_default();
    format!("{signing_input}.{signature}")
}
