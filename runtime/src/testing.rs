//! Minting signed tokens for your own tests (feature `testing`).
//!
//! A [`TestIssuer`] holds a fresh signing key, hands out a matching [`VerifierBuilder`], and signs
//! tokens with whatever subject, scopes, lifetime and claims a test needs.
//!
//! ```
//! use portcullis::testing::TestIssuer;
//!
//! let issuer = TestIssuer::new();
//! let verifier = issuer.verifier().build()?;
//! let token = issuer.token("alice").scopes(["docs:read"]).sign();
//! let principal = verifier.verify(&token)?;
//! assert_eq!(principal.subject(), "alice");
//! assert!(principal.has_scope("docs:read"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Map, Value, json};

use crate::crypto::KeyKind;
use crate::keys::{Algorithm, Family, Key, KeyError};
use crate::mint;
use crate::verify::VerifierBuilder;

/// The issuer a [`TestIssuer`] puts in `iss` unless told otherwise.
pub const TEST_ISSUER: &str = "https://issuer.test";
/// The audience a [`TestIssuer`] puts in `aud` unless told otherwise.
pub const TEST_AUDIENCE: &str = "api";
/// The lifetime of minted tokens unless told otherwise.
pub const TEST_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// A signing key with its issuer and audience, for tests and local development.
pub struct TestIssuer {
    issuer: String,
    audience: String,
    algorithm: Algorithm,
    kid: Option<String>,
    signing: EncodingKey,
    verifying: Key,
    jwk: Option<Value>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    /// A fresh Ed25519 (EdDSA) key with kid `test-key`.
    pub fn new() -> Self {
        Self::eddsa()
    }

    /// A fresh Ed25519 (EdDSA) key with kid `test-key`.
    pub fn eddsa() -> Self {
        let (signing, verifying, jwk) = mint::ed25519();
        Self::assemble(Algorithm::EdDSA, signing, verifying, Some(jwk))
    }

    /// A fresh P-256 (ES256) key with kid `test-key`.
    pub fn es256() -> Self {
        Self::ecdsa(Algorithm::ES256, KeyKind::P256, "P-256")
    }

    /// A fresh P-384 (ES384) key with kid `test-key`.
    pub fn es384() -> Self {
        Self::ecdsa(Algorithm::ES384, KeyKind::P384, "P-384")
    }

    fn ecdsa(algorithm: Algorithm, kind: KeyKind, curve: &str) -> Self {
        let pair = mint::generate(kind);
        // An uncompressed point: 0x04, then x and y of equal length.
        let point = pair.public;
        let half = (point.len() - 1) / 2;
        let jwk = json!({
            "kty": "EC", "crv": curve, "alg": algorithm.as_str(), "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..=half]),
            "y": URL_SAFE_NO_PAD.encode(&point[half + 1..]),
        });
        let verifying =
            Key::from_parts(Family::Ec, vec![algorithm], DecodingKey::from_ec_der(&point));
        Self::assemble(algorithm, EncodingKey::from_ec_der(&pair.pkcs8), verifying, Some(jwk))
    }

    /// An HMAC (HS256) issuer with the given shared secret and no kid.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        let verifying = Key::hmac(secret)?.with_algorithm(Algorithm::HS256)?;
        // No kid on either side: the tokens carry none, so the key must not require one.
        let signing =
            EncodingKey::from_secret(secret).map_err(|_| KeyError::WeakSecret(secret.len()))?;
        Ok(Self::assemble(Algorithm::HS256, signing, verifying, None).with_kid(None))
    }

    /// An RSA issuer (RS256, RS384, RS512, PS256, PS384 or PS512) from PEM keys.
    #[cfg(feature = "pem")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pem")))]
    pub fn rsa_pem(
        algorithm: Algorithm,
        private_pem: impl AsRef<[u8]>,
        public_pem: impl AsRef<[u8]>,
    ) -> Result<Self, KeyError> {
        let signing = EncodingKey::from_rsa_pem(private_pem.as_ref())
            .map_err(|_| KeyError::InvalidPem("RSA private"))?;
        let verifying = Key::rsa_pem(public_pem)?.with_algorithm(algorithm)?;
        Ok(Self::assemble(algorithm, signing, verifying, None))
    }

    fn assemble(
        algorithm: Algorithm,
        signing: EncodingKey,
        verifying: Key,
        jwk: Option<Value>,
    ) -> Self {
        let kid = "test-key".to_owned();
        Self {
            issuer: TEST_ISSUER.to_owned(),
            audience: TEST_AUDIENCE.to_owned(),
            algorithm,
            verifying: verifying.with_kid(kid.clone()),
            kid: Some(kid),
            signing,
            jwk,
        }
    }

    /// Uses another `iss`.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Uses another `aud`.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Uses another key id, or none.
    #[must_use]
    pub fn with_kid(mut self, kid: Option<&str>) -> Self {
        self.kid = kid.map(str::to_owned);
        self.verifying = match kid {
            Some(kid) => self.verifying.with_kid(kid),
            None => self.verifying.without_kid(),
        };
        self
    }

    /// The `iss` of minted tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` of minted tokens.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key that verifies minted tokens.
    pub fn verification_key(&self) -> Key {
        self.verifying.clone()
    }

    /// The public key as a JWKS document (`{"keys": [..]}`); empty for HMAC and PEM issuers.
    pub fn jwks(&self) -> Value {
        let mut keys = Vec::new();
        if let Some(jwk) = &self.jwk {
            let mut jwk = jwk.clone();
            if let (Some(kid), Some(object)) = (&self.kid, jwk.as_object_mut()) {
                object.insert("kid".into(), Value::String(kid.clone()));
            }
            keys.push(jwk);
        }
        json!({ "keys": keys })
    }

    /// A verifier configuration that accepts this issuer's tokens: issuer, audience and key set,
    /// with roles read from the `roles` claim that [`TokenBuilder::roles`] writes (another
    /// `.role_claims(..)` replaces it).
    pub fn verifier(&self) -> VerifierBuilder {
        VerifierBuilder::new()
            .issuer(self.issuer.clone())
            .audience(self.audience.clone())
            .key(self.verification_key())
            .role_claims([mint::ROLES_CLAIM])
    }

    /// Starts a token for `subject`, valid for [`TEST_LIFETIME`], with no scopes or roles.
    pub fn token(&self, subject: impl Into<String>) -> TokenBuilder<'_> {
        let token = mint::Token::new(
            subject.into(),
            &self.issuer,
            &self.audience,
            TEST_LIFETIME,
            self.algorithm,
            self.kid.as_deref(),
        );
        TokenBuilder { issuer: self, token }
    }
}

/// A token being minted; finish with [`TokenBuilder::sign`].
///
/// ```
/// use portcullis::testing::TestIssuer;
///
/// let issuer = TestIssuer::new();
/// // The issuer's verifier reads the `roles` claim that `.roles(..)` writes.
/// let verifier = issuer.verifier().build()?;
/// let token = issuer
///     .token("alice")
///     .scopes(["docs:read", "docs:write"])
///     .roles(["documents-admin"])
///     .sign();
/// let principal = verifier.verify(&token)?;
/// assert!(principal.has_scope("docs:write"));
/// assert!(principal.has_role("documents-admin"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    token: mint::Token,
}

impl TokenBuilder<'_> {
    /// Sets the `scope` claim to these scopes, space-separated: string literals, or the values
    /// of a [`scopes!`](crate::scopes) vocabulary.
    pub fn scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.token.scopes(scopes);
        self
    }

    /// Sets the `roles` claim to these roles, as an array: string literals, or the values of a
    /// [`roles!`](crate::roles) vocabulary. [`TestIssuer::verifier`] reads them; another
    /// verifier is told with `.role_claims(["roles"])`. For a provider's own claim, use
    /// [`roles_at`](Self::roles_at).
    pub fn roles<I, T>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.roles_at(mint::ROLES_CLAIM, roles)
    }

    /// Puts these roles, as an array, at the dotted claim `path` (`realm_access.roles` becomes
    /// `{"realm_access": {"roles": [..]}}`), the way
    /// [`VerifierBuilder::role_claims`] reads them. Claims already at the path's objects are
    /// kept.
    pub fn roles_at<I, T>(mut self, path: &str, roles: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.token.roles_at(path, roles);
        self
    }

    /// Sets `exp` to now plus `lifetime`.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.token.expires_in(lifetime);
        self
    }

    /// Sets `exp` to `ago` in the past.
    pub fn expired(self, ago: Duration) -> Self {
        let exp = jsonwebtoken::get_current_timestamp().saturating_sub(ago.as_secs());
        self.claim("exp", exp)
    }

    /// Sets `nbf` to now plus `delay`.
    pub fn not_before(self, delay: Duration) -> Self {
        let nbf = jsonwebtoken::get_current_timestamp() + delay.as_secs();
        self.claim("nbf", nbf)
    }

    /// Sets `acr`, the authentication context class of the sign-in (step-up authentication,
    /// [`requires_authentication`](crate::requires_authentication)).
    pub fn acr(self, acr: impl Into<String>) -> Self {
        self.claim("acr", acr.into())
    }

    /// Sets `auth_time` to `ago` in the past: when the user signed in.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis::testing::TestIssuer;
    ///
    /// let issuer = TestIssuer::new();
    /// let token = issuer.token("alice").acr("urn:documents:mfa").signed_in(Duration::ZERO).sign();
    /// let principal = issuer.verifier().build()?.verify(&token)?;
    /// assert_eq!(principal.acr_values().collect::<Vec<_>>(), ["urn:documents:mfa"]);
    /// assert!(principal.auth_time().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signed_in(mut self, ago: Duration) -> Self {
        self.token.signed_in(None, ago);
        self
    }

    /// Binds the token to `key` (RFC 9449 §6.1: `cnf.jkt`, the key's thumbprint): it is then
    /// accepted only with the `DPoP` scheme and a proof signed by `key`.
    pub fn bound_to(self, key: &DpopKey) -> Self {
        self.claim("cnf", json!({ "jkt": key.thumbprint() }))
    }

    /// Sets any claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.token.claim(name, value);
        self
    }

    /// Removes a claim (for example `exp`, to test that it is required).
    pub fn without_claim(mut self, name: &str) -> Self {
        self.token.remove_claim(name);
        self
    }

    /// Sets the header's `kid`, or removes it.
    pub fn kid(self, kid: Option<&str>) -> Self {
        match kid {
            Some(kid) => self.header("kid", kid),
            None => self.without_header("kid"),
        }
    }

    /// Sets a header parameter, for tests of hostile headers (`jku`, `crit`, `typ`, …). The
    /// token is still signed with the issuer's key and algorithm, whatever `alg` says.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.token.header(name, value);
        self
    }

    /// Removes a header parameter.
    pub fn without_header(mut self, name: &str) -> Self {
        self.token.remove_header(name);
        self
    }

    /// Signs the token.
    pub fn sign(self) -> String {
        self.token.sign(&self.issuer.signing, self.issuer.algorithm)
    }
}

/// A client's DPoP key (ES256, P-256), for tests: it mints proofs (RFC 9449 §4.2) for the
/// requests of a test, with knobs to make them wrong.
///
/// ```
/// use portcullis::testing::{DpopKey, TestIssuer};
///
/// let issuer = TestIssuer::new();
/// let key = DpopKey::new();
/// let token = issuer.token("alice").bound_to(&key).sign();
/// let proof = key.proof("GET", "https://api.example/me", &token).sign();
/// // Authorization: DPoP <token>, and DPoP: <proof>
/// # let _ = proof;
/// ```
pub struct DpopKey {
    signing: EncodingKey,
    jwk: Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey").field("thumbprint", &self.thumbprint()).finish_non_exhaustive()
    }
}

impl Default for DpopKey {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopKey {
    /// A fresh P-256 key.
    pub fn new() -> Self {
        let issuer = TestIssuer::es256();
        let mut jwk = issuer.jwk.unwrap_or_default();
        if let Some(object) = jwk.as_object_mut() {
            object.retain(|name, _| matches!(name.as_str(), "kty" | "crv" | "x" | "y"));
        }
        Self { signing: issuer.signing, jwk }
    }

    /// The public key, as the proofs' `jwk` header carries it.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint of the key, base64url: what a bound token's `cnf.jkt`
    /// says.
    pub fn thumbprint(&self) -> String {
        self.jwk.as_object().and_then(crate::dpop::thumbprint).unwrap_or_default()
    }

    /// Starts a proof for a request: `method`, the request's full URL (its query and fragment
    /// are left out of `htu`), and the access token it goes with (its hash is `ath`). A fresh
    /// `jti` and `iat` now.
    pub fn proof(&self, method: &str, url: &str, token: &str) -> ProofBuilder<'_> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let htu = url.split(['?', '#']).next().unwrap_or_default();
        let ath = URL_SAFE_NO_PAD.encode(crate::crypto::sha256(token.as_bytes()));
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("alg".into(), json!("ES256"));
        header.insert("jwk".into(), self.jwk.clone());
        let mut claims = Map::new();
        let now = jsonwebtoken::get_current_timestamp();
        claims.insert("jti".into(), json!(format!("proof-{now}-{serial}-{}", std::process::id())));
        claims.insert("htm".into(), json!(method));
        claims.insert("htu".into(), json!(htu));
        claims.insert("iat".into(), json!(now));
        claims.insert("ath".into(), json!(ath));
        ProofBuilder { key: self, header, claims }
    }
}

/// A DPoP proof being minted; finish with [`ProofBuilder::sign`].
#[derive(Debug)]
#[must_use]
pub struct ProofBuilder<'a> {
    key: &'a DpopKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl ProofBuilder<'_> {
    /// Sets `jti` (to replay a proof's identifier with another proof, say).
    pub fn jti(self, jti: impl Into<String>) -> Self {
        self.claim("jti", jti.into())
    }

    /// Sets `iat` to `seconds` from now (negative: in the past).
    pub fn iat_offset(self, seconds: i64) -> Self {
        let now = jsonwebtoken::get_current_timestamp();
        self.claim("iat", now.saturating_add_signed(seconds))
    }

    /// Sets `htu`.
    pub fn htu(self, htu: impl Into<String>) -> Self {
        self.claim("htu", htu.into())
    }

    /// Sets `nonce`, a server-provided nonce (RFC 9449 §8).
    pub fn nonce(self, nonce: impl Into<String>) -> Self {
        self.claim("nonce", nonce.into())
    }

    /// Sets any claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets a header parameter (`typ`, `alg`, `jwk`, …). The proof is still signed with the
    /// key, with ES256, whatever `alg` says.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    /// Removes a header parameter (`jwk`, `typ`, …), to mint a proof that lacks it.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Signs the proof: the value of the `DPoP` header.
    pub fn sign(self) -> String {
        mint::sign(&self.header, &self.claims, &self.key.signing, Algorithm::ES256)
    }
}
