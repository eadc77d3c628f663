//! The one JWKS parser (RFC 7517 §5), in two modes.
//!
//! - **Strict**, for a key set the application configures ([`KeySet::from_jwks`]): a symmetric
//!   key, a repeated `kid` or a key whose `alg` contradicts its type is a configuration mistake,
//!   reported at start-up.
//! - **Lenient**, for a key set an identity provider publishes: one odd key (a symmetric one, a
//!   new key type, a repeated `kid`, an algorithm the verifier does not accept) is skipped with a
//!   warning, so that it cannot take the others down.
//!
//! In both modes, keys meant for encryption and keys of unsupported types or curves are skipped.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::algorithm::Algorithm;
use super::key::{Key, KeyError, parse_jwk};
use super::set::KeySet;

// `KeySet`'s constructors from a JWKS live beside the parser, so that the set does not import it.
impl KeySet {
    /// The keys of a JWKS document (RFC 7517 §5).
    ///
    /// Keys meant for encryption (`use: enc`, `key_ops` without `verify`) and keys of unsupported
    /// types or curves are skipped with a warning; a symmetric key is an error, since a JWKS is a
    /// public document.
    ///
    /// ```
    /// let jwks = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
    ///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    /// let keys = portcullis::keys::KeySet::from_jwks(jwks)?;
    /// assert_eq!(keys.len(), 1);
    /// # Ok::<(), portcullis::keys::KeyError>(())
    /// ```
    pub fn from_jwks(document: &str) -> Result<Self, KeyError> {
        parse(document.as_bytes(), Mode::Strict)
    }

    /// The keys of a JWKS file.
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let document = std::fs::read_to_string(path)
            .map_err(|source| KeyError::File { path: path.display().to_string(), source })?;
        Self::from_jwks(&document)
    }
}

/// How a document's flaws are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Published key sets are fetched by the `jwks` feature.
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
pub(crate) enum Mode<'a> {
    /// Configuration mistakes are errors.
    Strict,
    /// Every unusable key is skipped; keys are restricted to the accepted algorithms.
    Lenient {
        /// The algorithms the verifier accepts.
        accepted: &'a [Algorithm],
    },
}

/// The keys of a JWKS document.
pub(crate) fn parse(document: &[u8], mode: Mode<'_>) -> Result<KeySet, KeyError> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    // A JWK Set is a JSON object (RFC 7517 §5): serde would also read the struct from an array
    // (`[[…keys…]]`), a document no provider means as a key set.
    if !is_json_object(document) {
        return Err(KeyError::InvalidJwks);
    }
    let document: Document = serde_json::from_slice(document).map_err(|_| KeyError::InvalidJwks)?;
    let mut keys = KeySet::new();
    for value in document.keys {
        let jwk = match parse_jwk(&value) {
            Ok(jwk) => jwk,
            // A member that is not a JWK at all means the document is not a JWKS.
            Err(_) if mode == Mode::Strict => return Err(KeyError::InvalidJwks),
            Err(_) => {
                skipped(mode, &KeyError::InvalidJwk { kid: None, reason: "it is not a valid JWK" });
                continue;
            }
        };
        let key = Key::from_parsed_jwk(&jwk).and_then(|mut key| {
            if let Mode::Lenient { accepted } = mode {
                key.restrict_to(accepted);
                if key.algorithms().is_empty() {
                    return Err(KeyError::InvalidJwk {
                        kid: key.kid().map(str::to_owned),
                        reason: "none of its algorithms is accepted",
                    });
                }
            }
            Ok(key)
        });
        match key.and_then(|key| keys.insert(key)) {
            Ok(()) => {}
            Err(error @ KeyError::InvalidJwk { .. }) => skipped(mode, &error),
            Err(error) if mode == Mode::Strict => return Err(error),
            Err(error) => skipped(mode, &error),
        }
    }
    Ok(keys)
}

/// Whether `document` starts as a JSON object does, after JSON's whitespace: what a derived
/// `Deserialize` struct must be read from, since serde also reads one from an array.
pub(crate) fn is_json_object(document: &[u8]) -> bool {
    document.iter().find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'{')
}

fn skipped(mode: Mode<'_>, error: &KeyError) {
    match mode {
        Mode::Strict => {
            if let KeyError::InvalidJwk { kid, reason } = error {
                tracing::warn!(kid = kid.as_deref().unwrap_or(""), reason, "skipped a JWK");
            }
        }
        Mode::Lenient { .. } => {
            tracing::warn!(target: "portcullis::keys", %error, "skipped a key of the remote key set");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Found by the `jwks` fuzz target: serde read `[[]]` (and `[[jwk]]`) as a JWKS.
    #[test]
    fn a_jwks_is_an_object_never_an_array() {
        let jwk = format!(r#"{{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "{ED_X}"}}"#);
        for document in ["[[]]".to_owned(), format!("[[{jwk}]]"), format!(" \n[[{jwk}]]")] {
            assert!(
                matches!(KeySet::from_jwks(&document), Err(KeyError::InvalidJwks)),
                "{document}"
            );
            let lenient =
                parse(document.as_bytes(), Mode::Lenient { accepted: &[Algorithm::EdDSA] });
            assert!(matches!(lenient, Err(KeyError::InvalidJwks)), "{document}");
        }
        let object = format!(" \r\n\t{{\"keys\": [{jwk}]}}");
        assert_eq!(KeySet::from_jwks(&object).unwrap().len(), 1);
    }

    #[test]
    fn a_lenient_parse_skips_what_it_cannot_use() {
        let ed = format!(r#"{{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "{ED_X}"}}"#);
        let body = format!(
            r#"{{"keys": [{ed},
                {{"kty": "oct", "kid": "secret", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}},
                {{"kty": "AKP", "kid": "future", "alg": "ML-DSA-65", "pub": "AAAA"}},
                {{"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": "{ED_X}"}},
                {ed}]}}"#
        );
        let lenient = Mode::Lenient { accepted: &Algorithm::ASYMMETRIC };
        let keys = parse(body.as_bytes(), lenient).unwrap_or_else(|e| panic!("{e}"));
        let kids: Vec<_> = keys.iter().map(Key::kid).collect();
        assert_eq!(kids, [Some("ed")]);
        // Restricted to algorithms that exclude the key's: nothing usable, and no error.
        let rs256_only = Mode::Lenient { accepted: &[Algorithm::RS256] };
        assert!(parse(body.as_bytes(), rs256_only).unwrap_or_else(|e| panic!("{e}")).is_empty());
        assert!(matches!(parse(b"<html>", lenient), Err(KeyError::InvalidJwks)));
        assert!(parse(br#"{"keys": []}"#, lenient).is_ok_and(|keys| keys.is_empty()));
    }
}
