//! The JWS signature algorithms portcullis verifies (RFC 7518 §3, RFC 8037), as its own type.
//!
//! `jsonwebtoken`'s algorithm type stays inside the crate: converting at the boundary keeps
//! portcullis's public API independent of that crate's major versions.

use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm a key may verify.
///
/// ```
/// use portcullis::keys::Algorithm;
///
/// let alg: Algorithm = "ES256".parse()?;
/// assert_eq!(alg, Algorithm::ES256);
/// assert_eq!(alg.as_str(), "ES256");
/// # Ok::<(), portcullis::keys::UnknownAlgorithm>(())
/// ```
// Serialized as its JOSE name: the variant names are those names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519 (RFC 8037). Also parsed from RFC 9864's fully specified name
    /// `Ed25519`, in a token's `alg` and in a JWK's.
    EdDSA,
}

/// The kind of key an algorithm needs: an algorithm only ever selects a key of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

impl Family {
    /// The algorithms of the family.
    pub(crate) const fn algorithms(self) -> &'static [Algorithm] {
        match self {
            Self::Hmac => &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            Self::Rsa => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            Self::Ec => &[Algorithm::ES256, Algorithm::ES384],
            Self::Ed => &[Algorithm::EdDSA],
        }
    }

    /// The family's name, for error messages.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Hmac => "HMAC",
            Self::Rsa => "RSA",
            Self::Ec => "EC",
            Self::Ed => "Ed25519",
        }
    }
}

impl Algorithm {
    /// Every algorithm, in the order of RFC 7518's table.
    pub const ALL: [Self; 12] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The asymmetric algorithms: what a public key set, such as a remote JWKS, can serve.
    pub const ASYMMETRIC: [Self; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The JOSE name, as a token's `alg` header carries it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The same algorithm as `jsonwebtoken` names it.
    pub(crate) const fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as Jwt;
        match self {
            Self::HS256 => Jwt::HS256,
            Self::HS384 => Jwt::HS384,
            Self::HS512 => Jwt::HS512,
            Self::RS256 => Jwt::RS256,
            Self::RS384 => Jwt::RS384,
            Self::RS512 => Jwt::RS512,
            Self::PS256 => Jwt::PS256,
            Self::PS384 => Jwt::PS384,
            Self::PS512 => Jwt::PS512,
            Self::ES256 => Jwt::ES256,
            Self::ES384 => Jwt::ES384,
            Self::EdDSA => Jwt::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses a JOSE name exactly (names are case-sensitive, RFC 7515 §4.1.1). RFC 9864's
    /// `Ed25519` is [`Algorithm::EdDSA`]: the only curve portcullis verifies EdDSA on.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == ED25519 {
            return Ok(Self::EdDSA);
        }
        Self::ALL.into_iter().find(|alg| alg.as_str() == name).ok_or(UnknownAlgorithm)
    }
}

/// RFC 9864's fully specified name for EdDSA over Ed25519.
pub(crate) const ED25519: &str = "Ed25519";

/// A name that is not one of the supported signature algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a supported JWS signature algorithm")]
pub struct UnknownAlgorithm;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
        assert_eq!("es256".parse::<Algorithm>(), Err(UnknownAlgorithm));
        for alg in Algorithm::ALL {
            let json = serde_json::to_string(&alg).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", alg.as_str()));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).ok(), Some(alg));
        }
        assert_eq!("none".parse::<Algorithm>(), Err(UnknownAlgorithm));
        // RFC 9864: the fully specified name of EdDSA over Ed25519; Ed448 is not supported.
        assert_eq!("Ed25519".parse::<Algorithm>(), Ok(Algorithm::EdDSA));
        assert_eq!("ed25519".parse::<Algorithm>(), Err(UnknownAlgorithm));
        assert_eq!("Ed448".parse::<Algorithm>(), Err(UnknownAlgorithm));
        assert!(Algorithm::ASYMMETRIC.iter().all(|alg| !Family::Hmac.algorithms().contains(alg)));
    }
}
