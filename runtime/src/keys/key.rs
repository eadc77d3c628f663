//! One verification key, bound to the algorithms it may verify.
//!
//! The binding is what defeats algorithm confusion: an HMAC algorithm can only select a key made
//! from a shared secret, an asymmetric one only a public key of its family, and a key that
//! declares its `alg` (a JWK's `alg`, or [`Key::with_algorithm`]) only that one.

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use serde::Deserialize as _;
use serde_json::Value;

use super::algorithm::{Algorithm, ED25519, Family};

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
    #[error("the algorithm {algorithm} cannot be used with a {family} key")]
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
    family: Family,
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

impl Key {
    /// A key of `family` for every algorithm of the family.
    #[cfg(feature = "pem")]
    fn of_family(family: Family, decoding: DecodingKey) -> Self {
        Self::from_parts(family, family.algorithms().to_vec(), decoding)
    }

    pub(crate) fn from_parts(
        family: Family,
        algorithms: Vec<Algorithm>,
        decoding: DecodingKey,
    ) -> Self {
        Self { kid: None, family, algorithms, decoding }
    }

    /// A shared secret for HS256, and for HS384/HS512 when it is long enough for them.
    ///
    /// ```
    /// let key = portcullis::Key::hmac(b"a secret of at least thirty-two bytes")?;
    /// # Ok::<(), portcullis::keys::KeyError>(())
    /// ```
    pub fn hmac(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        let algorithms: Vec<Algorithm> = Family::Hmac
            .algorithms()
            .iter()
            .copied()
            .filter(|&alg| secret.len() >= hmac_min_len(alg))
            .collect();
        if algorithms.is_empty() {
            return Err(KeyError::WeakSecret(secret.len()));
        }
        let decoding =
            DecodingKey::from_secret(secret).map_err(|_| KeyError::WeakSecret(secret.len()))?;
        Ok(Self::from_parts(Family::Hmac, algorithms, decoding))
    }

    /// An RSA public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`), for RS* and PS*.
    #[cfg(feature = "pem")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pem")))]
    pub fn rsa_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding =
            DecodingKey::from_rsa_pem(pem.as_ref()).map_err(|_| KeyError::InvalidPem("RSA"))?;
        Ok(Self::of_family(Family::Rsa, decoding))
    }

    /// An EC public key in PEM, for ES256 or ES384. Pin the one your issuer uses with
    /// [`Key::with_algorithm`].
    #[cfg(feature = "pem")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pem")))]
    pub fn ec_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding =
            DecodingKey::from_ec_pem(pem.as_ref()).map_err(|_| KeyError::InvalidPem("EC"))?;
        Ok(Self::of_family(Family::Ec, decoding))
    }

    /// An Ed25519 public key in PEM, for EdDSA.
    #[cfg(feature = "pem")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pem")))]
    pub fn ed25519_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding =
            DecodingKey::from_ed_pem(pem.as_ref()).map_err(|_| KeyError::InvalidPem("Ed25519"))?;
        Ok(Self::of_family(Family::Ed, decoding))
    }

    /// One JWK (RFC 7517 §4), as JSON; refuses symmetric keys and keys not meant for signature
    /// verification.
    ///
    /// ```
    /// let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1",
    ///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    /// let key = portcullis::Key::from_jwk(&jwk)?;
    /// assert_eq!(key.kid(), Some("k1"));
    /// # Ok::<(), portcullis::keys::KeyError>(())
    /// ```
    pub fn from_jwk(jwk: &Value) -> Result<Self, KeyError> {
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        let parsed = parse_jwk(jwk)
            .map_err(|()| KeyError::InvalidJwk { kid, reason: "it is not a valid JWK" })?;
        Self::from_parsed_jwk(&parsed)
    }

    /// [`Key::from_jwk`] on `jsonwebtoken`'s view of the JWK, which stays inside the crate.
    pub(crate) fn from_parsed_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
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
            AlgorithmParameters::RSA(_) => (Family::Rsa, Family::Rsa.algorithms().to_vec()),
            AlgorithmParameters::EllipticCurve(params) => match params.curve {
                EllipticCurve::P256 => (Family::Ec, vec![Algorithm::ES256]),
                EllipticCurve::P384 => (Family::Ec, vec![Algorithm::ES384]),
                _ => return Err(invalid("its curve is not supported (P-256 and P-384 are)")),
            },
            AlgorithmParameters::OctetKeyPair(params) => match params.curve {
                EllipticCurve::Ed25519 => (Family::Ed, vec![Algorithm::EdDSA]),
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
        if !self.algorithms.contains(&algorithm) {
            return Err(KeyError::AlgorithmMismatch { algorithm, family: self.family.name() });
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

/// `jsonwebtoken`'s view of a JWK. RFC 9864's `alg` `Ed25519`, which that crate does not know,
/// is read as `EdDSA`: the key's curve is then checked to be Ed25519 like any EdDSA key's.
pub(crate) fn parse_jwk(jwk: &Value) -> Result<Jwk, ()> {
    if jwk.get("alg").and_then(Value::as_str) == Some(ED25519) {
        let mut renamed = jwk.clone();
        renamed["alg"] = Value::String(Algorithm::EdDSA.as_str().to_owned());
        // An Ed25519 `alg` binds the key to Ed25519: a key of another curve is refused.
        if jwk.get("crv").and_then(Value::as_str) != Some(ED25519) {
            return Err(());
        }
        return Jwk::deserialize(&renamed).map_err(|_| ());
    }
    Jwk::deserialize(jwk).map_err(|_| ())
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
    fn rfc9864_ed25519_alg_is_eddsa() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": "Ed25519", "x": x});
        assert_eq!(Key::from_jwk(&jwk).unwrap().algorithms(), [Algorithm::EdDSA]);
        let x25519 = serde_json::json!({"kty": "OKP", "crv": "X25519", "alg": "Ed25519", "x": x});
        assert!(matches!(Key::from_jwk(&x25519), Err(KeyError::InvalidJwk { .. })));
    }

    #[cfg(feature = "pem")]
    #[test]
    fn bad_pem_is_refused() {
        assert!(matches!(Key::rsa_pem("nope"), Err(KeyError::InvalidPem("RSA"))));
        assert!(matches!(Key::ec_pem("nope"), Err(KeyError::InvalidPem("EC"))));
        assert!(matches!(Key::ed25519_pem("nope"), Err(KeyError::InvalidPem("Ed25519"))));
    }
}
