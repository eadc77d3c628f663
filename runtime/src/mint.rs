//! Minting signed tokens: the key generated in memory, the header, the registered claims, the
//! claims a token builder sets and the signature. What the development issuer and (feature
//! `testing`) the test issuer share; it imports neither of them. The development issuer signs
//! only with the key [`ed25519`] generated, never with a key from outside.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Map, Value, json};

use crate::crypto::{self, KeyKind};
use crate::keys::{Algorithm, Family, Key};

/// The claim [`Token::roles`] writes: the conventional name, which a verifier reads once it is
/// told to with `role_claims(["roles"])` (as the test and development issuers' verifiers are).
pub(crate) const ROLES_CLAIM: &str = "roles";

/// A fresh Ed25519 key pair: the signing key, the key that verifies its signatures, and its
/// public JWK (without `kid`).
pub(crate) fn ed25519() -> (EncodingKey, Key, Value) {
    let pair = generate(KeyKind::Ed25519);
    let public = &pair.public;
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "x": URL_SAFE_NO_PAD.encode(public)});
    let verifying =
        Key::from_parts(Family::Ed, vec![Algorithm::EdDSA], DecodingKey::from_ed_der(public));
    (EncodingKey::from_ed_der(&pair.pkcs8), verifying, jwk)
}

/// A fresh key pair of `kind`.
pub(crate) fn generate(kind: KeyKind) -> crypto::GeneratedKey {
    // Key generation from the system RNG only fails when the OS has no randomness at all,
    // which no program can recover from.
    #[allow(clippy::expect_used, reason = "no random key is no safe fallback")]
    crypto::generate_key(kind).expect("system randomness")
}

/// A token being minted: its header and claims. The token builders of the development and test
/// issuers wrap one, and add the key that signs it.
#[derive(Debug)]
pub(crate) struct Token {
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl Token {
    /// A token for `subject`: header `typ` `JWT`, `alg`, and `kid` when given; claims `sub`,
    /// `iss`, `aud`, `iat` now and `exp` after `lifetime`.
    pub(crate) fn new(
        subject: String,
        issuer: &str,
        audience: &str,
        lifetime: Duration,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Self {
        let mut header = Map::new();
        header.insert("typ".into(), Value::String("JWT".into()));
        header.insert("alg".into(), Value::String(algorithm.as_str().into()));
        if let Some(kid) = kid {
            header.insert("kid".into(), Value::String(kid.to_owned()));
        }
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(subject));
        claims.insert("iss".into(), Value::String(issuer.to_owned()));
        claims.insert("aud".into(), Value::String(audience.to_owned()));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + lifetime.as_secs()));
        Self { header, claims }
    }

    /// Sets the `scope` claim: the scopes, space-separated.
    pub(crate) fn scopes(&mut self, scopes: impl IntoIterator<Item = impl AsRef<str>>) {
        let scope = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect::<Vec<_>>();
        self.claim("scope", scope.join(" "));
    }

    /// Puts the roles, as an array of strings, at the dotted claim `path` (`roles`, or
    /// `realm_access.roles`, which becomes `{"realm_access": {"roles": [..]}}`), making or
    /// replacing with objects on the way and keeping the other claims of those objects.
    pub(crate) fn roles_at(
        &mut self,
        path: &str,
        roles: impl IntoIterator<Item = impl AsRef<str>>,
    ) {
        let roles: Vec<Value> =
            roles.into_iter().map(|role| Value::String(role.as_ref().to_owned())).collect();
        let mut segments: Vec<&str> = path.split('.').collect();
        let Some(last) = segments.pop() else { return };
        let mut object = &mut self.claims;
        for segment in segments {
            let entry = object.entry(segment).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            match entry {
                Value::Object(inner) => object = inner,
                _ => return,
            }
        }
        object.insert(last.to_owned(), Value::Array(roles));
    }

    /// Sets `exp` to now plus `lifetime`.
    pub(crate) fn expires_in(&mut self, lifetime: Duration) {
        self.claim("exp", jsonwebtoken::get_current_timestamp() + lifetime.as_secs());
    }

    /// How the user signed in (step-up authentication): `acr`, and `auth_time` `ago` in the
    /// past.
    pub(crate) fn signed_in(&mut self, acr: Option<&str>, ago: Duration) {
        if let Some(acr) = acr {
            self.claim("acr", acr);
        }
        let auth_time = jsonwebtoken::get_current_timestamp().saturating_sub(ago.as_secs());
        self.claim("auth_time", auth_time);
    }

    /// Sets any claim.
    pub(crate) fn claim(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.claims.insert(name.into(), value.into());
    }

    /// Removes a claim.
    // Only the `testing` builder offers it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn remove_claim(&mut self, name: &str) {
        self.claims.remove(name);
    }

    /// Sets a header parameter.
    // Only the `testing` builder offers it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn header(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.header.insert(name.into(), value.into());
    }

    /// Removes a header parameter.
    // Only the `testing` builder offers it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn remove_header(&mut self, name: &str) {
        self.header.remove(name);
    }

    /// The compact JWS, signed with `key` and `algorithm` (whatever the header's `alg` says).
    pub(crate) fn sign(&self, key: &EncodingKey, algorithm: Algorithm) -> String {
        sign(&self.header, &self.claims, key, algorithm)
    }
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
    crypto::ensure_jwt_provider();
    // Signing with a key of its own algorithm cannot fail; an empty signature is an invalid
    // token, which the verifier refuses.
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, algorithm.to_jsonwebtoken())
            .unwrap_or_default();
    format!("{signing_input}.{signature}")
}
