//! The `rust-crypto` backend: pure Rust (the RustCrypto crates; graviola for TLS).

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{GeneratedKey, KeyKind, RandomUnavailable};

/// `jsonwebtoken`'s provider on this backend.
pub(super) static JWT_PROVIDER: &jsonwebtoken::crypto::CryptoProvider =
    &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;

/// The SHA-256 digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// An HMAC-SHA256 key.
pub(crate) struct HmacSha256(hmac::Hmac<Sha256>);

impl HmacSha256 {
    /// The key `secret`.
    pub(crate) fn new(secret: &[u8]) -> Self {
        // HMAC takes a key of any length (a long one is hashed first).
        Self(
            <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length")),
        )
    }

    /// The tag of `message`.
    pub(crate) fn tag(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `message`, compared in constant time.
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.verify_slice(tag).is_ok()
    }
}

pub(super) fn fill_random(bytes: &mut [u8]) -> Result<(), RandomUnavailable> {
    getrandom::fill(bytes).map_err(|_| RandomUnavailable)
}

pub(super) fn generate_key(kind: KeyKind) -> Result<GeneratedKey, RandomUnavailable> {
    use p256::pkcs8::EncodePrivateKey;
    match kind {
        KeyKind::Ed25519 => {
            let mut seed = [0u8; 32];
            fill_random(&mut seed)?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            use ed25519_dalek::pkcs8::EncodePrivateKey as _;
            let pkcs8 = key.to_pkcs8_der().map_err(|_| RandomUnavailable)?;
            Ok(GeneratedKey {
                pkcs8: pkcs8.as_bytes().to_vec(),
                public: key.verifying_key().to_bytes().to_vec(),
            })
        }
        KeyKind::P256 => {
            // A random scalar is out of range with probability about 2^-32: draw again.
            let key = loop {
                let mut scalar = [0u8; 32];
                fill_random(&mut scalar)?;
                if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&scalar) {
                    break key;
                }
            };
            let pkcs8 = key.to_pkcs8_der().map_err(|_| RandomUnavailable)?;
            let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
            Ok(GeneratedKey { pkcs8: pkcs8.as_bytes().to_vec(), public })
        }
        KeyKind::P384 => {
            let key = loop {
                let mut scalar = [0u8; 48];
                fill_random(&mut scalar)?;
                if let Ok(key) = p384::ecdsa::SigningKey::from_slice(&scalar) {
                    break key;
                }
            };
            let pkcs8 = key.to_pkcs8_der().map_err(|_| RandomUnavailable)?;
            let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
            Ok(GeneratedKey { pkcs8: pkcs8.as_bytes().to_vec(), public })
        }
    }
}

/// The HTTP client builder for key fetching and introspection: rustls on graviola's provider
/// (pure Rust), with the platform's roots, as reqwest would set it up on aws-lc-rs.
#[cfg(any(feature = "jwks", feature = "introspection", feature = "authzen"))]
pub(crate) fn https_client() -> Result<reqwest::ClientBuilder, super::HttpClientError> {
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    compile_error!(
        "portcullis's `rust-crypto` TLS (graviola) builds for x86_64 and aarch64 only: on this \
         target, use the `aws-lc-rs` backend for `jwks` and `introspection`"
    );
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = std::sync::Arc::new(rustls_graviola::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(Box::new)?
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(config))
}
