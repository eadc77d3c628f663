//! The `aws-lc-rs` backend: AWS-LC, built from C.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair,
};

use super::{GeneratedKey, KeyKind, RandomUnavailable};

/// `jsonwebtoken`'s provider on this backend.
pub(super) static JWT_PROVIDER: &jsonwebtoken::crypto::CryptoProvider =
    &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;

/// The SHA-256 digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut digested = [0; 32];
    digested.copy_from_slice(digest(&SHA256, bytes).as_ref());
    digested
}

/// An HMAC-SHA256 key.
pub(crate) struct HmacSha256(hmac::Key);

impl HmacSha256 {
    /// The key `secret`.
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The tag of `message`.
    pub(crate) fn tag(&self, message: &[u8]) -> [u8; 32] {
        let mut tag = [0; 32];
        tag.copy_from_slice(hmac::sign(&self.0, message).as_ref());
        tag
    }

    /// Whether `tag` is the tag of `message`, compared in constant time.
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, message, tag).is_ok()
    }
}

pub(super) fn fill_random(bytes: &mut [u8]) -> Result<(), RandomUnavailable> {
    SystemRandom::new().fill(bytes).map_err(|_| RandomUnavailable)
}

pub(super) fn generate_key(kind: KeyKind) -> Result<GeneratedKey, RandomUnavailable> {
    let rng = SystemRandom::new();
    let (pkcs8, public) = match kind {
        KeyKind::Ed25519 => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| RandomUnavailable)?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| RandomUnavailable)?;
            (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        KeyKind::P256 | KeyKind::P384 => {
            let signing = if kind == KeyKind::P256 {
                &ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &ECDSA_P384_SHA384_FIXED_SIGNING
            };
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(signing, &rng).map_err(|_| RandomUnavailable)?;
            let pair =
                EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).map_err(|_| RandomUnavailable)?;
            (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
    };
    Ok(GeneratedKey { pkcs8, public })
}

/// The HTTP client builder for key fetching and introspection: reqwest's own rustls setup,
/// on aws-lc-rs (reqwest's `rustls` feature), with the platform's roots.
#[cfg(any(feature = "jwks", feature = "introspection", feature = "authzen"))]
pub(crate) fn https_client() -> Result<reqwest::ClientBuilder, super::HttpClientError> {
    Ok(reqwest::Client::builder())
}
