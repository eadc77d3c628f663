//! Verification keys, each bound to the algorithms it may verify.
//!
//! The binding is what defeats algorithm confusion: an HMAC algorithm can only select a key made
//! from a shared secret, an asymmetric one only a public key of its family, and a key that
//! declares its `alg` (a JWK's `alg`, or [`Key::with_algorithm`]) only that one.

use std::path::Path;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use crate::denial::InvalidTokenReason;

/// A key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM text is not a public key of the expected type.
    #[error("the PEM text is not a valid {0} public key")]
    InvalidPem(&'static str),
    /// An HMAC secret shorter than the hash it feeds (RFC 7518 §3.2).
    #[error("an HMAC secret must be at least 32 bytes long (RFC 7518 §3.2); this one has {0}")]
    WeakSecret(usize),
    /// An algorithm that does not belong to the key's type.
    #[error("the algorithm {algorithm:?} cannot be used with a {family} key")]
    AlgorithmMismatch {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// The key's type.
        family: &'static str,
    },
    /// The JWKS document is not a JSON Web Key Set.
    #[error("the JWKS document is not a valid JSON Web Key Set")]
    InvalidJwks,
    /// A JWK that claims to be a signature key cannot be used.
    #[error("the JWK{} is not a usable public key: {reason}", kid_suffix(.kid))]
    InvalidJwk {
        /// The key's `kid`, if any.
        kid: Option<String>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A JWKS holds a symmetric (`oct`) key; shared secrets are configured with [`Key::hmac`].
    #[error("the JWKS holds a symmetric (`oct`) key{}; configure shared secrets with Key::hmac", kid_suffix(.0))]
    SymmetricKeyInJwks(Option<String>),
    /// Two keys share one `kid`, so a token could not say which one signed it.
    #[error("two keys share the kid {0:?}")]
    DuplicateKid(String),
    /// A key file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
}

fn kid_suffix(kid: &Option<String>) -> String {
    kid.as_ref().map(|kid| format!(" {kid:?}")).unwrap_or_default()
}

/// One verification key and the algorithms it may verify.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    family: AlgorithmFamily,
    algorithms: Vec<Algorithm>,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Key {
    // Key material stays out of logs, even public keys: they identify deployments.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// The shortest secret each HMAC algorithm accepts: the size of its hash (RFC 7518 §3.2).
const fn hmac_min_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

const fn family_name(family: AlgorithmFamily) -> &'static str {
    match family {
        AlgorithmFamily::Hmac => "HMAC",
        AlgorithmFamily::Rsa => "RSA",
        AlgorithmFamily::Ec => "EC",
        AlgorithmFamily::Ed => "Ed25519",
    }
}

impl Key {
    pub(crate) fn from_parts(
        family: AlgorithmFamily,
        algorithms: Vec<Algorithm>,
        decoding: DecodingKey,
    ) -> Self {
        Self { kid: None, family, algorithms, decoding }
    }

    /// A shared secret for HS256, and for HS384/HS512 when it is long enough for them.
    ///
    /// ```
    /// let key = portcullis::Key::hmac(b"a secret of at least thirty-two bytes")?;
    /// # Ok::<(), portcullis::KeyError>(())
    /// ```
    pub fn hmac(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        let algorithms: Vec<Algorithm> = AlgorithmFamily::Hmac
            .algorithms()
            .iter()
            .copied()
            .filter(|&alg| secret.len() >= hmac_min_len(alg))
            .collect();
        if algorithms.is_empty() {
            return Err(KeyError::WeakSecret(secret.len()));
        }
        Ok(Self::from_parts(AlgorithmFamily::Hmac, algorithms, DecodingKey::from_secret(secret)))
    }

    /// An RSA public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`), for RS* and PS*.
    pub fn rsa_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding =
            DecodingKey::from_rsa_pem(pem.as_ref()).map_err(|_| KeyError::InvalidPem("RSA"))?;
        Ok(Self::from_parts(
            AlgorithmFamily::Rsa,
            AlgorithmFamily::Rsa.algorithms().to_vec(),
            decoding,
        ))
    }

    /// An EC public key in PEM, for ES256 or ES384. Pin the one your issuer uses with
    /// [`Key::with_algorithm`].
    pub fn ec_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding =
            DecodingKey::from_ec_pem(pem.as_ref()).map_err(|_| KeyError::InvalidPem("EC"))?;
        Ok(Self::from_parts(
            AlgorithmFamily::Ec,
            AlgorithmFamily::Ec.algorithms().to_vec(),
            decoding,
        ))
    }

    /// An Ed25519 public key in PEM, for EdDSA.
    pub fn ed25519_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding =
            DecodingKey::from_ed_pem(pem.as_ref()).map_err(|_| KeyError::InvalidPem("Ed25519"))?;
        Ok(Self::from_parts(AlgorithmFamily::Ed, vec![Algorithm::EdDSA], decoding))
    }

    /// One JWK; refuses symmetric keys and keys not meant for signature verification.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let kid = jwk.common.key_id.clone();
        let invalid = |reason| KeyError::InvalidJwk { kid: kid.clone(), reason };
        if let Some(usage) = &jwk.common.public_key_use
            && *usage != PublicKeyUse::Signature
        {
            return Err(invalid("its `use` is not `sig`"));
        }
        if let Some(operations) = &jwk.common.key_operations
            && !operations.contains(&KeyOperations::Verify)
        {
            return Err(invalid("its `key_ops` do not include `verify`"));
        }
        let (family, implied) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => {
                (AlgorithmFamily::Rsa, AlgorithmFamily::Rsa.algorithms().to_vec())
            }
            AlgorithmParameters::EllipticCurve(params) => match params.curve {
                EllipticCurve::P256 => (AlgorithmFamily::Ec, vec![Algorithm::ES256]),
                EllipticCurve::P384 => (AlgorithmFamily::Ec, vec![Algorithm::ES384]),
                _ => return Err(invalid("its curve is not supported (P-256 and P-384 are)")),
            },
            AlgorithmParameters::OctetKeyPair(params) => match params.curve {
                EllipticCurve::Ed25519 => (AlgorithmFamily::Ed, vec![Algorithm::EdDSA]),
                _ => return Err(invalid("its curve is not supported (Ed25519 is)")),
            },
            AlgorithmParameters::OctetKey(_) => return Err(KeyError::SymmetricKeyInJwks(kid)),
            _ => return Err(invalid("its key type is not supported")),
        };
        let decoding =
            DecodingKey::from_jwk(jwk).map_err(|_| invalid("its parameters are invalid"))?;
        let mut key = Self::from_parts(family, implied, decoding);
        key.kid = kid.clone();
        match jwk.common.key_algorithm {
            None => Ok(key),
            Some(declared) => {
                let algorithm = signature_algorithm(declared)
                    .ok_or_else(|| invalid("its `alg` is not a signature algorithm"))?;
                key.with_algorithm(algorithm)
            }
        }
    }

    /// Sets the key id that tokens name in their `kid` header.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Removes the key id: the key then verifies tokens by algorithm alone.
    #[must_use]
    pub fn without_kid(mut self) -> Self {
        self.kid = None;
        self
    }

    /// Binds the key to exactly one algorithm.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Result<Self, KeyError> {
        let fits = self.algorithms.contains(&algorithm);
        if !fits {
            return Err(KeyError::AlgorithmMismatch {
                algorithm,
                family: family_name(self.family),
            });
        }
        self.algorithms = vec![algorithm];
        Ok(self)
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn allows(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    pub(crate) fn restrict_to(&mut self, allowed: &[Algorithm]) {
        self.algorithms.retain(|alg| allowed.contains(alg));
    }
}

/// Maps a JWK `alg` to a signature algorithm; encryption algorithms map to nothing.
fn signature_algorithm(declared: KeyAlgorithm) -> Option<Algorithm> {
    Some(match declared {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// A set of keys, selected by the token's `kid` and `alg`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    /// Whether any key has a `kid`; kept up to date by `insert`, read on every selection.
    named: bool,
}

impl IntoIterator for KeySet {
    type Item = Key;
    type IntoIter = std::vec::IntoIter<Key>;

    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter()
    }
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; its `kid`, if any, must be new to the set.
    pub fn insert(&mut self, key: Key) -> Result<(), KeyError> {
        if let Some(kid) = key.kid()
            && self.keys.iter().any(|k| k.kid() == Some(kid))
        {
            return Err(KeyError::DuplicateKid(kid.to_owned()));
        }
        self.named |= key.kid.is_some();
        self.keys.push(key);
        Ok(())
    }

    /// The keys of a JWKS document (RFC 7517 §5).
    ///
    /// Keys meant for encryption (`use: enc`, `key_ops` without `verify`) and keys of unsupported
    /// types or curves are skipped with a warning; a symmetric key is an error, since a JWKS is a
    /// public document.
    ///
    /// ```
    /// let jwks = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
    ///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    /// let keys = portcullis::KeySet::from_jwks(jwks)?;
    /// assert_eq!(keys.len(), 1);
    /// # Ok::<(), portcullis::KeyError>(())
    /// ```
    pub fn from_jwks(document: &str) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_str(document).map_err(|_| KeyError::InvalidJwks)?;
        let mut keys = Self::new();
        for jwk in &set.keys {
            match Key::from_jwk(jwk) {
                Ok(key) => keys.insert(key)?,
                Err(KeyError::InvalidJwk { kid, reason }) => {
                    tracing::warn!(kid = kid.as_deref().unwrap_or(""), reason, "skipped a JWK");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(keys)
    }

    /// The keys of a JWKS file.
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let document = std::fs::read_to_string(path)
            .map_err(|source| KeyError::File { path: path.display().to_string(), source })?;
        Self::from_jwks(&document)
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// `true` when the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Key> {
        self.keys.iter_mut()
    }

    /// The key for a token with header `kid` and `alg`.
    ///
    /// A `kid` that names a key selects it, and the key must allow `alg`; a `kid` that names no
    /// key is unknown, unless no configured key has a `kid`. Without a `kid`, the keys configured
    /// without one are candidates: exactly one of them may allow `alg`. Several
    /// candidates are refused rather than tried in turn, so a token costs one verification.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&Key, InvalidTokenReason> {
        if let Some(kid) = kid {
            if let Some(key) = self.keys.iter().find(|k| k.kid() == Some(kid)) {
                return if key.allows(alg) {
                    Ok(key)
                } else {
                    Err(InvalidTokenReason::DisallowedAlgorithm)
                };
            }
            // Once keys are named, a name that matches none is unknown. Only a set without any
            // names (a single shared secret, say) ignores the token's `kid`.
            if self.named {
                return Err(InvalidTokenReason::UnknownKey);
            }
        }
        let mut candidates = self.keys.iter().filter(|k| k.kid.is_none() && k.allows(alg));
        match (candidates.next(), candidates.next()) {
            (Some(key), None) => Ok(key),
            (Some(_), Some(_)) => Err(InvalidTokenReason::UnknownKey),
            (None, _) if self.keys.iter().any(|k| k.allows(alg)) => {
                Err(InvalidTokenReason::UnknownKey)
            }
            (None, _) => Err(InvalidTokenReason::DisallowedAlgorithm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hmac_secret_length_bounds_the_algorithms() {
        assert!(matches!(Key::hmac(b"short"), Err(KeyError::WeakSecret(5))));
        assert_eq!(Key::hmac(SECRET).unwrap().algorithms(), [Algorithm::HS256]);
        assert_eq!(Key::hmac([7u8; 64]).unwrap().algorithms().len(), 3);
    }

    #[test]
    fn with_algorithm_refuses_another_family() {
        let err = Key::hmac(SECRET).unwrap().with_algorithm(Algorithm::RS256).unwrap_err();
        assert!(matches!(err, KeyError::AlgorithmMismatch { family: "HMAC", .. }));
    }

    #[test]
    fn bad_pem_is_refused() {
        assert!(matches!(Key::rsa_pem("nope"), Err(KeyError::InvalidPem("RSA"))));
        assert!(matches!(Key::ec_pem("nope"), Err(KeyError::InvalidPem("EC"))));
        assert!(matches!(Key::ed25519_pem("nope"), Err(KeyError::InvalidPem("Ed25519"))));
    }

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn jwks_binds_curves_and_declared_algorithms() {
        let doc = format!(
            r#"{{"keys": [
                {{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "{ED_X}"}},
                {{"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": "{ED_X}"}},
                {{"kty": "OKP", "crv": "Ed25519", "kid": "sign-only", "key_ops": ["sign"], "x": "{ED_X}"}},
                {{"kty": "OKP", "crv": "X25519", "kid": "x", "x": "{ED_X}"}}
            ]}}"#
        );
        let keys = KeySet::from_jwks(&doc).unwrap();
        assert_eq!(keys.len(), 1);
        let ed = keys.iter().next().unwrap();
        assert_eq!((ed.kid(), ed.algorithms()), (Some("ed"), &[Algorithm::EdDSA][..]));
    }

    #[test]
    fn jwks_refuses_symmetric_keys_duplicates_and_garbage() {
        let oct = r#"{"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}"#;
        assert!(matches!(KeySet::from_jwks(oct), Err(KeyError::SymmetricKeyInJwks(Some(_)))));
        let dup = format!(
            r#"{{"keys": [{{"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "{ED_X}"}},
                         {{"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "{ED_X}"}}]}}"#
        );
        assert!(matches!(KeySet::from_jwks(&dup), Err(KeyError::DuplicateKid(_))));
        assert!(matches!(KeySet::from_jwks("[]"), Err(KeyError::InvalidJwks)));
        let wrong_alg = format!(
            r#"{{"keys": [{{"kty": "OKP", "crv": "Ed25519", "alg": "RS256", "x": "{ED_X}"}}]}}"#
        );
        assert!(matches!(KeySet::from_jwks(&wrong_alg), Err(KeyError::AlgorithmMismatch { .. })));
    }

    #[test]
    fn selection_by_kid_then_by_algorithm() {
        let mut keys = KeySet::new();
        keys.insert(Key::hmac(SECRET).unwrap().with_kid("h")).unwrap();
        keys.insert(Key::hmac([1u8; 32]).unwrap()).unwrap();
        assert_eq!(keys.select(Some("h"), Algorithm::HS256).unwrap().kid(), Some("h"));
        assert_eq!(
            keys.select(Some("h"), Algorithm::ES256).unwrap_err(),
            InvalidTokenReason::DisallowedAlgorithm
        );
        // Once keys are named, an unknown kid is unknown.
        assert_eq!(
            keys.select(Some("zzz"), Algorithm::HS256).unwrap_err(),
            InvalidTokenReason::UnknownKey
        );
        assert_eq!(keys.select(None, Algorithm::HS256).unwrap().kid(), None);
        assert_eq!(
            keys.select(None, Algorithm::RS256).unwrap_err(),
            InvalidTokenReason::DisallowedAlgorithm
        );
        keys.insert(Key::hmac([2u8; 32]).unwrap()).unwrap();
        assert_eq!(
            keys.select(None, Algorithm::HS256).unwrap_err(),
            InvalidTokenReason::UnknownKey
        );
        assert!(matches!(
            keys.insert(Key::hmac(SECRET).unwrap().with_kid("h")),
            Err(KeyError::DuplicateKid(_))
        ));
        // A set without names ignores the token's kid.
        let mut unnamed = KeySet::new();
        unnamed.insert(Key::hmac(SECRET).unwrap()).unwrap();
        assert!(unnamed.select(Some("anything"), Algorithm::HS256).is_ok());
    }
}
