//! The settings that weaken verification, behind one door: `builder.dangerous()`, which a
//! reviewer finds with one search, as rustls does with its `dangerous()` configuration.

use super::builder::VerifierBuilder;
use super::settings::Expect;

impl VerifierBuilder {
    /// The settings that weaken verification: each one accepts tokens, URLs or callers that the
    /// default configuration refuses, for a reason this crate cannot check. Every use is worth a
    /// comment saying why it is safe where it is.
    ///
    /// ```
    /// use portcullis::{Key, Verifier};
    ///
    /// // A development set-up: Keycloak on the compose network, without TLS.
    /// let verifier = Verifier::builder()
    ///     .issuer("http://keycloak:8080/realms/dev")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .dangerous()
    ///     .allow_http()
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dangerous(self) -> Dangerous {
        Dangerous { builder: self }
    }
}

/// The settings that weaken verification, from [`VerifierBuilder::dangerous`]; each gives the
/// builder back.
#[derive(Debug)]
#[must_use]
pub struct Dangerous {
    builder: VerifierBuilder,
}

impl Dangerous {
    /// Accepts tokens from any issuer, or without `iss` (`PORTCULLIS_ISSUER=*`).
    ///
    /// Dangerous: any party that holds a key the verifier trusts can then mint tokens that are
    /// accepted, whoever it says issued them; only safe with one key set that a single issuer
    /// holds. Refused beside issuers with keys of their own.
    pub fn any_issuer(mut self) -> VerifierBuilder {
        self.builder.issuer = Expect::Any;
        self.builder
    }

    /// Accepts tokens for any audience, or without `aud`.
    ///
    /// Dangerous: a token the same issuer minted for another API (another client, another
    /// service of the organisation) is accepted here too, so that any of them can replay its
    /// callers' tokens against this API (RFC 8725 §3.9).
    pub fn any_audience(mut self) -> VerifierBuilder {
        self.builder.audience = Expect::Any;
        self.builder
    }

    /// Allows plain `http://` URLs to hosts that are not loopback: JWKS and discovery URLs, the
    /// introspection endpoint, the resource identifier (`PORTCULLIS_ALLOW_HTTP=true`). A warning
    /// is logged at start. A redirect from `https` to `http` is refused even so.
    ///
    /// Dangerous: keys (or introspection answers) fetched in clear text can be swapped by
    /// anyone on the path, who then signs (or vouches for) any token. For development set-ups
    /// only (`http://keycloak:8080` in a `docker compose` file).
    pub fn allow_http(mut self) -> VerifierBuilder {
        self.builder.allow_http = true;
        self.builder
    }

    /// Also accepts the token in the `access_token` query parameter (RFC 6750 §2.3). A request
    /// that uses both the header and the query parameter is refused with 400.
    ///
    /// Dangerous: URLs are logged by proxies, servers and browsers' histories, and sent in
    /// `Referer` headers: tokens in them leak. Only for clients that cannot set a header
    /// (a server-sent events stream opened by a browser, say).
    pub fn allow_query_token(mut self) -> VerifierBuilder {
        self.builder.sources.query = true;
        self.builder
    }

    /// Identifies callers for ownership ([`Principal::id`](crate::Principal::id)) by their
    /// subject alone, even when several issuers are accepted (by default, the pair (issuer,
    /// subject) is their identity then). For several spellings of one issuer (Google's
    /// `accounts.google.com` and `https://accounts.google.com`, which
    /// [`Preset::google`](super::Preset::google) sets this for).
    ///
    /// Dangerous: with two issuers that are really two identity providers, the `sub` one of them
    /// gives a user can be another's user at the other, who then owns that user's resources.
    /// Refused beside issuers with keys of their own.
    pub fn identity_by_subject_only(mut self) -> VerifierBuilder {
        self.builder.identity_by_issuer = Some(false);
        self.builder
    }
}

#[cfg(test)]
mod tests {
    use crate::keys::Key;
    use crate::respond::DenialKind;
    use crate::verify::Verifier;
    use crate::verify::config::settings::Expect;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn each_setting_takes_effect() {
        let base = || Verifier::builder().key(Key::hmac(SECRET).unwrap());
        let builder = base().dangerous().any_issuer().dangerous().any_audience();
        assert!(builder.issuer == Expect::Any && builder.audience == Expect::Any);
        assert!(builder.build().is_ok(), "neither issuer nor audience is required");
        assert!(base().dangerous().allow_http().allow_http);
        let http = base().issuer("i").audience("a").resource_metadata(
            crate::verify::config::ResourceMetadata::new().resource("http://api.example"),
        );
        assert!(http.clone().build().is_err());
        assert!(http.dangerous().allow_http().build().is_ok());
        // The token in the query is read only behind the door.
        let (parts, ()) = http::Request::get("/?access_token=abc").body(()).unwrap().into_parts();
        let strict = base().issuer("i").audience("a").build().unwrap();
        let denial = strict.authenticate(&parts).await.unwrap_err();
        assert!(matches!(denial.kind(), DenialKind::MissingCredentials), "{:?}", denial.kind());
        let lenient =
            base().issuer("i").audience("a").dangerous().allow_query_token().build().unwrap();
        let denial = lenient.authenticate(&parts).await.unwrap_err();
        assert!(matches!(denial.kind(), DenialKind::InvalidToken(_)), "{:?}", denial.kind());
        // Two spellings of one issuer, one identity.
        let builder = base().dangerous().identity_by_subject_only();
        assert_eq!(builder.identity_by_issuer, Some(false));
    }
}
