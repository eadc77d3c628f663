//! A token as a JWS in compact serialization (RFC 7515 §7.1): its header, its claims, and the
//! check of its signature. `jsonwebtoken` decodes the header and checks the signature; its types
//! and errors stay in this file.

use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

use crate::keys::{Algorithm, Key};
use crate::respond::InvalidTokenReason;

/// Pins the crypto backend portcullis was built and measured with; if another crate enabled a
/// second backend, `jsonwebtoken` would otherwise refuse to pick one at verification time.
pub(crate) fn install_crypto_provider() {
    // An error means a provider is installed already: ours, or the application's own choice.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// A token whose header and claims were decoded, and whose signature is not checked yet.
pub(crate) struct Unverified<'a> {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) claims: Map<String, Value>,
    /// `header.payload`, what the signature signs.
    message: &'a str,
    signature: &'a str,
}

impl<'a> Unverified<'a> {
    /// Decodes `token`, refusing it when it is longer than `max_len`, is not a JWS with a JSON
    /// header and claims set, names a critical extension, or uses an algorithm outside
    /// `allowed`.
    pub(crate) fn decode(
        token: &'a str,
        max_len: usize,
        allowed: &[Algorithm],
    ) -> Result<Self, InvalidTokenReason> {
        if token.len() > max_len {
            return Err(InvalidTokenReason::TooLarge);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| InvalidTokenReason::Malformed)?;
        // No extension is understood, so every critical one must be refused (RFC 7515 §4.1.11).
        if header.crit.is_some() {
            return Err(InvalidTokenReason::UnsupportedCriticalHeader);
        }
        let alg = Algorithm::ALL
            .into_iter()
            .find(|alg| alg.to_jsonwebtoken() == header.alg)
            .filter(|alg| allowed.contains(alg))
            .ok_or(InvalidTokenReason::DisallowedAlgorithm)?;
        let (message, signature) = token.rsplit_once('.').ok_or(InvalidTokenReason::Malformed)?;
        let (_, payload) = message.rsplit_once('.').ok_or(InvalidTokenReason::Malformed)?;
        let claims = decode_claims(payload)?;
        Ok(Self { kid: header.kid, alg, claims, message, signature })
    }

    /// Checks the signature with `key`.
    pub(crate) fn verify_signature(&self, key: &Key) -> Result<(), InvalidTokenReason> {
        match jsonwebtoken::crypto::verify(
            self.signature,
            self.message.as_bytes(),
            key.decoding_key(),
            self.alg.to_jsonwebtoken(),
        ) {
            Ok(true) => Ok(()),
            Ok(false) => Err(InvalidTokenReason::BadSignature),
            Err(error) => Err(invalid_token_reason(error.kind())),
        }
    }
}

/// The claims of a token: base64url without padding (RFC 7515 §2), holding a JSON object whose
/// names are unique.
fn decode_claims(payload: &str) -> Result<Map<String, Value>, InvalidTokenReason> {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| InvalidTokenReason::Malformed)?;
    serde_json::from_slice::<UniqueClaims>(&json)
        .map(|claims| claims.0)
        .map_err(|_| InvalidTokenReason::Malformed)
}

/// A claims set that refuses a repeated claim name. RFC 7519 §4 allows keeping the last one
/// instead, but another component reading the first would then see another token.
struct UniqueClaims(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueClaims;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object with unique names")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueClaims, A::Error> {
                let mut claims = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if claims.contains_key(&name) {
                        return Err(serde::de::Error::custom("a claim name is repeated"));
                    }
                    claims.insert(name, value);
                }
                Ok(UniqueClaims(claims))
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

/// Maps `jsonwebtoken`'s error to the closed set of reasons; its message is never shown.
fn invalid_token_reason(kind: &ErrorKind) -> InvalidTokenReason {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => InvalidTokenReason::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName => InvalidTokenReason::DisallowedAlgorithm,
        ErrorKind::ExpiredSignature => InvalidTokenReason::Expired,
        ErrorKind::ImmatureSignature => InvalidTokenReason::NotYetValid,
        ErrorKind::InvalidIssuer => InvalidTokenReason::WrongIssuer,
        ErrorKind::InvalidAudience => InvalidTokenReason::WrongAudience,
        ErrorKind::MissingRequiredClaim(_) => InvalidTokenReason::MissingClaim,
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::InvalidSubject => {
            InvalidTokenReason::InvalidClaims
        }
        _ => InvalidTokenReason::Malformed,
    }
}
