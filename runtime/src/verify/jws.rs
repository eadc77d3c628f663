//! A token as a JWS in compact serialization (RFC 7515 §7.1): its header, its claims, and the
//! check of its signature. The header and the claims are parsed here, strictly (a name repeated
//! at any depth is refused); `jsonwebtoken` checks the signature, and its types and errors stay
//! in this file.

use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

use super::profile::TokenProfile;
use crate::keys::{Algorithm, Key};
use crate::respond::InvalidTokenReason;

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
    /// Decodes `token`, refusing it when it is longer than `max_len`, is not a JWS of three
    /// parts with a JSON object as header and as claims set (no name repeated at any depth),
    /// names a critical extension (or a `crit` that is not a non-empty array of strings), uses
    /// an algorithm outside `allowed`, or has a `typ` that `profile` does not accept.
    pub(crate) fn decode(
        token: &'a str,
        max_len: usize,
        allowed: &[Algorithm],
        profile: TokenProfile,
    ) -> Result<Self, InvalidTokenReason> {
        if token.len() > max_len {
            return Err(InvalidTokenReason::TooLarge);
        }
        let Parts { header, payload, message, signature } = split(token)?;
        let header = decode_object(header)?;
        // No extension is understood, so every critical one must be refused (RFC 7515 §4.1.11);
        // a `crit` that is not a non-empty list of names is no JWS header at all.
        match header.get("crit") {
            None => {}
            Some(Value::Array(names))
                if !names.is_empty() && names.iter().all(Value::is_string) =>
            {
                return Err(InvalidTokenReason::UnsupportedCriticalHeader);
            }
            Some(_) => return Err(InvalidTokenReason::Malformed),
        }
        let alg = match header.get("alg") {
            Some(Value::String(name)) => name
                .parse::<Algorithm>()
                .ok()
                .filter(|alg| allowed.contains(alg))
                .ok_or(InvalidTokenReason::DisallowedAlgorithm)?,
            _ => return Err(InvalidTokenReason::Malformed),
        };
        let typ = optional_string(&header, "typ")?;
        if !profile.accepts_type(typ) {
            return Err(InvalidTokenReason::WrongType);
        }
        let kid = optional_string(&header, "kid")?.map(str::to_owned);
        let claims = decode_object(payload)?;
        Ok(Self { kid, alg, claims, message, signature })
    }

    /// Checks the signature with `key`.
    pub(crate) fn verify_signature(&self, key: &Key) -> Result<(), InvalidTokenReason> {
        check_signature(self.message, self.signature, key, self.alg)
    }
}

/// A DPoP proof (RFC 9449 §4.2) whose header and claims were decoded (strictly, as a token's
/// are), and whose signature is not checked yet. What the header must say is checked by
/// `crate::dpop`.
pub(crate) struct Proof<'a> {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    message: &'a str,
    signature: &'a str,
}

impl<'a> Proof<'a> {
    /// Decodes `proof`: a JWS of three parts with JSON objects as header and claims; `None`
    /// otherwise.
    pub(crate) fn decode(proof: &'a str) -> Option<Self> {
        let Parts { header, payload, message, signature } = split(proof).ok()?;
        let header = decode_object(header).ok()?;
        let claims = decode_object(payload).ok()?;
        Some(Self { header, claims, message, signature })
    }

    /// `true` when the signature verifies with `key` and `alg`.
    pub(crate) fn signature_verifies(&self, key: &Key, alg: Algorithm) -> bool {
        check_signature(self.message, self.signature, key, alg).is_ok()
    }
}

/// The parts of a JWS in compact serialization.
struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    /// `header.payload`, what the signature signs.
    message: &'a str,
    signature: &'a str,
}

/// Splits a compact JWS into its three parts; more or fewer is malformed.
fn split(jws: &str) -> Result<Parts<'_>, InvalidTokenReason> {
    let (message, signature) = jws.rsplit_once('.').ok_or(InvalidTokenReason::Malformed)?;
    let (header, payload) = message.split_once('.').ok_or(InvalidTokenReason::Malformed)?;
    if payload.contains('.') {
        return Err(InvalidTokenReason::Malformed);
    }
    Ok(Parts { header, payload, message, signature })
}

/// Checks `signature` over `message` with `key` and `alg`.
fn check_signature(
    message: &str,
    signature: &str,
    key: &Key,
    alg: Algorithm,
) -> Result<(), InvalidTokenReason> {
    match jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        key.decoding_key(),
        alg.to_jsonwebtoken(),
    ) {
        Ok(true) => Ok(()),
        Ok(false) => Err(InvalidTokenReason::BadSignature),
        Err(error) => Err(invalid_token_reason(error.kind())),
    }
}

/// A header parameter that is a string when present; `null` is absent (as it always was for
/// `kid`), another type is a malformed header.
fn optional_string<'m>(
    header: &'m Map<String, Value>,
    name: &str,
) -> Result<Option<&'m str>, InvalidTokenReason> {
    match header.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(InvalidTokenReason::Malformed),
    }
}

/// A header or a claims set: base64url without padding (RFC 7515 §2), holding a JSON object in
/// which no object, at any depth, repeats a name.
fn decode_object(part: &str) -> Result<Map<String, Value>, InvalidTokenReason> {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| InvalidTokenReason::Malformed)?;
    match serde_json::from_slice::<Unique>(&json) {
        Ok(Unique(Value::Object(object))) => Ok(object),
        Ok(_) | Err(_) => Err(InvalidTokenReason::Malformed),
    }
}

/// A JSON value in which no object repeats a name, at any depth. RFC 7515 §4 and RFC 7519 §4
/// allow keeping the last one instead, but another component reading the first would then see
/// another token (RFC 8725 §3.1's advice: refuse). Depth is bounded by serde_json's recursion
/// limit.
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON in which no object repeats a name")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Unique, E> {
        Ok(Unique(Value::Bool(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Unique, E> {
        Ok(Unique(Value::from(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Unique, E> {
        Ok(Unique(Value::from(value)))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Unique, E> {
        Ok(Unique(Value::from(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Unique, E> {
        Ok(Unique(Value::String(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Unique, E> {
        Ok(Unique(Value::String(value)))
    }

    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut access: A) -> Result<Unique, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = access.next_element::<Unique>()? {
            items.push(item);
        }
        Ok(Unique(Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Unique, A::Error> {
        let mut object = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            let Unique(value) = access.next_value::<Unique>()?;
            if object.insert(name, value).is_some() {
                return Err(serde::de::Error::custom("a name is repeated"));
            }
        }
        Ok(Unique(Value::Object(object)))
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
