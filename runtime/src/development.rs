//! **For development only**: a signing key generated in memory at start, and tokens minted with
//! it, so that an API can be tried on the developer's machine before an identity provider is
//! configured.
//!
//! A [`DevelopmentIssuer`] generates a fresh Ed25519 key when it is made; the key never leaves
//! the process and dies with it. There is no way to give it a key: it signs only with the key it
//! generated, so it cannot mint tokens that a verifier configured with real keys accepts.
//! [`DevelopmentIssuer::verifier`] is a [`VerifierBuilder`] for that key alone. Tokens minted
//! here are as good as any for the server that trusts this key: never trust it on a server that
//! others can reach, and never log the tokens (for tests, the `testing` feature's `TestIssuer`
//! has more options).
//!
//! ```
//! use std::time::Duration;
//! use portcullis::development::DevelopmentIssuer;
//!
//! let issuer = DevelopmentIssuer::generate("https://api.development.invalid", "api");
//! let verifier = issuer.verifier().role_claims(["realm_access.roles"]).build()?;
//! let token = issuer
//!     .token("alice")
//!     .scopes(["docs:read", "docs:write"])
//!     .roles_at("realm_access.roles", ["documents-admin"])
//!     .claim("email_verified", true)
//!     .expires_in(Duration::from_secs(3600))
//!     .sign();
//! let principal = verifier.verify(&token)?;
//! assert_eq!(principal.subject(), "alice");
//! assert!(principal.has_scope("docs:write"));
//! assert!(principal.has_role("documents-admin"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use jsonwebtoken::EncodingKey;
use serde_json::Value;

use crate::keys::{Algorithm, Key};
use crate::mint;
use crate::verify::VerifierBuilder;

/// The lifetime of a development token unless [`DevelopmentToken::expires_in`] says otherwise.
pub const DEVELOPMENT_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The `kid` of the development key.
const KID: &str = "development-key";

/// A signing key generated in memory, with the issuer and audience of its tokens. **For
/// development only** (see the [module](self)).
pub struct DevelopmentIssuer {
    issuer: String,
    audience: String,
    signing: EncodingKey,
    verifying: Key,
}

impl std::fmt::Debug for DevelopmentIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevelopmentIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl DevelopmentIssuer {
    /// A fresh Ed25519 key (kid `development-key`) for tokens with this `iss` and `aud`.
    pub fn generate(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        let (signing, verifying, _jwk) = mint::ed25519();
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            signing,
            verifying: verifying.with_kid(KID),
        }
    }

    /// The `iss` of minted tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` of minted tokens.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The public key that verifies minted tokens.
    pub fn verification_key(&self) -> Key {
        self.verifying.clone()
    }

    /// A verifier configuration that accepts this key's tokens: its issuer, audience and key,
    /// with roles read from the `roles` claim that [`DevelopmentToken::roles`] writes (another
    /// `.role_claims(..)` replaces it). Add the rest (realm, disclosure) as for any verifier.
    pub fn verifier(&self) -> VerifierBuilder {
        VerifierBuilder::new()
            .issuer(self.issuer.clone())
            .audience(self.audience.clone())
            .key(self.verification_key())
            .role_claims([mint::ROLES_CLAIM])
    }

    /// Starts a token for `subject`, valid for [`DEVELOPMENT_LIFETIME`], with no scopes or
    /// roles.
    pub fn token(&self, subject: impl Into<String>) -> DevelopmentToken<'_> {
        let token = mint::Token::new(
            subject.into(),
            &self.issuer,
            &self.audience,
            DEVELOPMENT_LIFETIME,
            Algorithm::EdDSA,
            Some(KID),
        );
        DevelopmentToken { issuer: self, token }
    }
}

/// A development token being minted; finish with [`DevelopmentToken::sign`].
#[derive(Debug)]
#[must_use]
pub struct DevelopmentToken<'a> {
    issuer: &'a DevelopmentIssuer,
    token: mint::Token,
}

impl DevelopmentToken<'_> {
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
    /// [`roles!`](crate::roles) vocabulary. [`DevelopmentIssuer::verifier`] reads them;
    /// another verifier is told with `.role_claims(["roles"])`. For a provider's own claim, use
    /// [`roles_at`](Self::roles_at).
    ///
    /// ```
    /// use portcullis::development::DevelopmentIssuer;
    ///
    /// let issuer = DevelopmentIssuer::generate("https://api.development.invalid", "api");
    /// let verifier = issuer.verifier().build()?;
    /// let token = issuer.token("alice").roles(["documents-admin"]).sign();
    /// assert!(verifier.verify(&token)?.has_role("documents-admin"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn roles<I, T>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.roles_at(mint::ROLES_CLAIM, roles)
    }

    /// Puts these roles, as an array, at the dotted claim `path` (`realm_access.roles` becomes
    /// `{"realm_access": {"roles": [..]}}`), the way [`VerifierBuilder::role_claims`] reads
    /// them. Claims already at the path's objects are kept.
    pub fn roles_at<I, T>(mut self, path: &str, roles: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.token.roles_at(path, roles);
        self
    }

    /// Says how the user signed in, for step-up authentication
    /// ([`requires_authentication`](crate::requires_authentication)): `acr` (when given) and
    /// `auth_time` `ago` in the past.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis::development::DevelopmentIssuer;
    ///
    /// let issuer = DevelopmentIssuer::generate("https://api.development.invalid", "api");
    /// let token = issuer.token("alice").signed_in(Some("urn:documents:mfa"), Duration::ZERO).sign();
    /// let principal = issuer.verifier().build()?.verify(&token)?;
    /// assert_eq!(principal.acr_values().collect::<Vec<_>>(), ["urn:documents:mfa"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signed_in(mut self, acr: Option<&str>, ago: Duration) -> Self {
        self.token.signed_in(acr, ago);
        self
    }

    /// Sets any claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.token.claim(name, value);
        self
    }

    /// Sets `exp` to now plus `lifetime`.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.token.expires_in(lifetime);
        self
    }

    /// Signs the token with the development key.
    pub fn sign(self) -> String {
        self.token.sign(&self.issuer.signing, Algorithm::EdDSA)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn issuer() -> DevelopmentIssuer {
        DevelopmentIssuer::generate("https://dev.invalid", "documents")
    }

    #[test]
    fn its_tokens_verify_with_its_verifier_only() {
        let issuer = issuer();
        let token = issuer.token("alice").scopes(["docs:read", "docs:write"]).sign();
        let principal = issuer.verifier().build().unwrap().verify(&token).unwrap();
        assert_eq!(principal.subject(), "alice");
        assert!(principal.has_scope("docs:read") && principal.has_scope("docs:write"));
        assert_eq!(principal.claims()["iss"], "https://dev.invalid");
        assert_eq!(principal.claims()["aud"], "documents");
        // Another development key, even with the same issuer and audience, is another key.
        let other = issuer.token("alice").sign();
        assert!(self::issuer().verifier().build().unwrap().verify(&other).is_err());
    }

    #[test]
    fn roles_land_at_the_dotted_path_beside_other_claims() {
        let issuer = issuer();
        let token = issuer
            .token("admin")
            .claim("realm_access", json!({"other": 1}))
            .roles_at("realm_access.roles", ["documents-admin", "auditor"])
            .claim("email_verified", true)
            .sign();
        let verifier = issuer.verifier().role_claims(["realm_access.roles"]).build().unwrap();
        let principal = verifier.verify(&token).unwrap();
        assert!(principal.has_role("documents-admin") && principal.has_role("auditor"));
        assert_eq!(
            principal.claims()["realm_access"],
            json!({"other": 1, "roles": ["documents-admin", "auditor"]})
        );
        assert_eq!(principal.claims()["email_verified"], true);
    }

    #[test]
    fn the_lifetime_is_an_hour_unless_told_otherwise() {
        let issuer = issuer();
        let verifier = issuer.verifier().build().unwrap();
        let exp = |token: &str| verifier.verify(token).unwrap().claims()["exp"].as_u64().unwrap();
        let iat = jsonwebtoken::get_current_timestamp();
        let default = exp(&issuer.token("alice").sign());
        assert!((iat + 3600..=iat + 3602).contains(&default), "{default} from {iat}");
        let short = exp(&issuer.token("alice").expires_in(Duration::from_secs(60)).sign());
        assert!((iat + 60..=iat + 62).contains(&short), "{short} from {iat}");
    }

    #[test]
    fn debug_shows_no_key() {
        let debug = format!("{:?}", issuer());
        assert_eq!(
            debug,
            r#"DevelopmentIssuer { issuer: "https://dev.invalid", audience: "documents", .. }"#
        );
    }
}
