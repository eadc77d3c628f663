//! The cryptography the runtime does itself, on the backend the crate's features chose:
//! SHA-256 (`sha256`), HMAC-SHA256 (`HmacSha256`), the system's random bytes (`fill_random`),
//! fresh signing keys for the development and test issuers (`generate_key`), the backend
//! `jsonwebtoken` signs and verifies with (`ensure_jwt_provider`), and, for key fetching and
//! introspection, the TLS client configuration (`https_client`). Nothing else in the crate
//! names a backend.
//!
//! Features are additive, so both backends may be on at once (one crate in the graph asks for
//! `aws-lc-rs`, another for `rust-crypto`): `aws-lc-rs` is then used, everywhere, deterministically
//! (it is the default backend, already paid for in build time, and the faster one). With neither,
//! the crate does not compile, and the error names the fix.

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "portcullis needs a crypto backend: enable the feature `aws-lc-rs` (the default) or \
     `rust-crypto` (pure Rust, no C compiler), e.g. \
     `portcullis = { version = \"0.1\", default-features = false, features = [\"rust-crypto\"] }`"
);

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;
#[cfg(feature = "aws-lc-rs")]
use aws_lc as backend;

#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
mod rust_crypto;
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
use rust_crypto as backend;

#[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
pub(crate) use backend::{HmacSha256, sha256};

#[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
#[cfg(any(feature = "jwks", feature = "introspection", feature = "authzen"))]
pub(crate) use backend::https_client;

/// Why the HTTP client of key fetching or introspection could not be built (its TLS setup, or
/// reqwest's).
#[cfg(any(feature = "jwks", feature = "introspection", feature = "authzen"))]
pub(crate) type HttpClientError = Box<dyn std::error::Error + Send + Sync>;

/// The system's random generator failed: no key or nonce secret can be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random generator is unavailable")]
pub(crate) struct RandomUnavailable;

/// Fills `bytes` from the operating system's secure random generator.
#[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
pub(crate) fn fill_random(bytes: &mut [u8]) -> Result<(), RandomUnavailable> {
    backend::fill_random(bytes)
}

/// The kind of key [`generate_key`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Only the development issuer (Ed25519) is built without `testing`.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) enum KeyKind {
    /// Ed25519, for EdDSA.
    Ed25519,
    /// ECDSA on P-256, for ES256.
    P256,
    /// ECDSA on P-384, for ES384.
    P384,
}

/// A key pair just generated.
pub(crate) struct GeneratedKey {
    /// The private key, PKCS#8 DER (what `jsonwebtoken`'s `EncodingKey::from_ed_der` and
    /// `from_ec_der` read).
    pub(crate) pkcs8: Vec<u8>,
    /// The public key: the 32 raw bytes of an Ed25519 key, the uncompressed SEC1 point
    /// (`0x04 || x || y`) of an ECDSA key.
    pub(crate) public: Vec<u8>,
}

/// A fresh key pair of `kind`, from the system's random generator.
#[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
pub(crate) fn generate_key(kind: KeyKind) -> Result<GeneratedKey, RandomUnavailable> {
    backend::generate_key(kind)
}

/// Makes sure `jsonwebtoken` has a backend before it signs or verifies. With exactly one of its
/// backend features on it picks that one itself and this does nothing; with both on (portcullis
/// on one, another crate of the application on the other), it picks none and would panic at the
/// first signature, so portcullis's backend is installed. A provider the application installed
/// itself is never replaced. Cheap: an atomic load once installed.
pub(crate) fn ensure_jwt_provider() {
    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
        // An error means another thread installed one meanwhile: that one is used.
        let _ = backend::JWT_PROVIDER.install_default();
    }
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use super::*;

    #[test]
    fn jsonwebtoken_uses_the_chosen_backend() {
        // With both features on, jsonwebtoken would pick none: ours is installed, `aws-lc-rs`.
        ensure_jwt_provider();
        let used = jsonwebtoken::crypto::CryptoProvider::try_get_default();
        assert!(used.is_some_and(|used| std::ptr::eq(used, backend::JWT_PROVIDER)));
        #[cfg(feature = "aws-lc-rs")]
        assert!(std::ptr::eq(
            backend::JWT_PROVIDER,
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
        ));
    }

    #[test]
    fn sha256_is_sha256() {
        // FIPS 180-2, appendix B.1.
        let digest = sha256(b"abc");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hmac_sha256_is_rfc_4231() {
        // RFC 4231, test case 2.
        let key = HmacSha256::new(b"Jefe");
        let tag = key.tag(b"what do ya want for nothing?");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(key.verify(b"what do ya want for nothing?", &tag));
        let mut other = tag;
        other[31] ^= 1;
        assert!(!key.verify(b"what do ya want for nothing?", &other));
        assert!(!key.verify(b"what do ya want for nothing?", &tag[..31]));
        assert!(!HmacSha256::new(b"Jeff").verify(b"what do ya want for nothing?", &tag));
    }

    #[test]
    fn random_bytes_differ() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill_random(&mut a).unwrap();
        fill_random(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn generated_keys_sign_what_their_public_keys_verify() {
        use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
        ensure_jwt_provider();
        for (kind, algorithm, public_len) in [
            (KeyKind::Ed25519, Algorithm::EdDSA, 32),
            (KeyKind::P256, Algorithm::ES256, 65),
            (KeyKind::P384, Algorithm::ES384, 97),
        ] {
            let key = generate_key(kind).unwrap();
            assert_eq!(key.public.len(), public_len, "{kind:?}");
            let (signing, verifying) = match kind {
                KeyKind::Ed25519 => {
                    (EncodingKey::from_ed_der(&key.pkcs8), DecodingKey::from_ed_der(&key.public))
                }
                KeyKind::P256 | KeyKind::P384 => {
                    (EncodingKey::from_ec_der(&key.pkcs8), DecodingKey::from_ec_der(&key.public))
                }
            };
            let signature = jsonwebtoken::crypto::sign(b"message", &signing, algorithm).unwrap();
            assert!(
                jsonwebtoken::crypto::verify(&signature, b"message", &verifying, algorithm)
                    .unwrap(),
                "{kind:?}"
            );
            assert!(
                !jsonwebtoken::crypto::verify(&signature, b"massage", &verifying, algorithm)
                    .unwrap(),
                "{kind:?}"
            );
            assert_ne!(generate_key(kind).unwrap().public, key.public, "{kind:?}");
        }
    }
}
