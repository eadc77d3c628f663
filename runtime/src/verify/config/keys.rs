//! The keys and issuers of a [`VerifierBuilder`]: keys in code, a JWKS URL, discovery, issuers
//! with keys of their own ([`TrustedIssuer`]), and the key sources `build` makes of them.

use std::sync::Arc;

use super::builder::VerifierBuilder;
use super::env;
use super::error::{ConfigError, EnvError, IssuerError, KeysError, from_var, shown_url};
use super::settings::{Discovery, Expect};
use crate::keys::{Algorithm, Key, KeySet, KeySource};
use crate::verify::issuers::{KeysByIssuer, TrustedIssuer};

impl VerifierBuilder {
    /// Adds a verification key.
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds every key of a set (for example [`KeySet::from_jwks`]).
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Fetches the keys from a JWKS URL (`https`; `http` only to a loopback address), and keeps
    /// them fresh as [`KeyRefresh`](crate::keys::KeyRefresh) says. Accepts the asymmetric algorithms
    /// unless [`algorithms`](Self::algorithms) narrows them.
    ///
    /// ```
    /// let verifier = portcullis::Verifier::builder()
    ///     .issuer("https://tenant.eu.auth0.com/")
    ///     .audience("https://api.example")
    ///     .jwks_url("https://tenant.eu.auth0.com/.well-known/jwks.json")
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Expects tokens from `issuer`, and finds its keys through discovery:
    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect), or when that is not
    /// served, `/.well-known/oauth-authorization-server{path}` (RFC 8414), names the
    /// `jwks_uri`, and must name `issuer` exactly. The document is read again on the keys'
    /// schedule, and when a token's `kid` is still unknown after the keys were fetched again
    /// (within that same rate-limited fetch), so that a changed `jwks_uri` is followed. A
    /// document fetched over `https` must name an `https` `jwks_uri`: an `http` one, loopback
    /// included, is refused as a downgrade (the keys are then unavailable: 503, and a warning
    /// `could not fetch the key set` in the log).
    ///
    /// ```
    /// let verifier = portcullis::Verifier::builder()
    ///     .oidc_issuer("https://keycloak.example/realms/acme")
    ///     .audience("documents-api")
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn oidc_issuer(self, issuer: impl Into<String>) -> Self {
        self.trusted_issuer(TrustedIssuer::new(issuer).discovery())
    }

    /// Accepts tokens of `issuer`, verified with its own keys only (RFC 8725 §3.8); call again
    /// for several issuers, each with its own key source. With more than one accepted issuer,
    /// a caller's identity for ownership is the pair (issuer, subject).
    ///
    /// ```
    /// use portcullis::{Verifier, config::TrustedIssuer};
    ///
    /// let verifier = Verifier::builder()
    ///     .trusted_issuer(TrustedIssuer::new("https://login.example.com/tenant-a").discovery())
    ///     .trusted_issuer(
    ///         TrustedIssuer::new("https://idp.partner.example")
    ///             .jwks_url("https://idp.partner.example/keys"),
    ///     )
    ///     .audience("documents-api")
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    pub fn trusted_issuer(mut self, issuer: TrustedIssuer) -> Self {
        match self.trusted.iter_mut().find(|known| known.issuer == issuer.issuer) {
            Some(known) => *known = issuer,
            None => self.trusted.push(issuer),
        }
        self
    }

    /// How remote keys are fetched and refreshed.
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn key_refresh(mut self, refresh: crate::keys::KeyRefresh) -> Self {
        self.key_refresh = refresh;
        self
    }

    /// The keys by issuer and the accepted algorithms, after checking that every accepted
    /// issuer has keys and that issuers with keys of their own stay identity domains of their
    /// own.
    pub(super) fn key_sources(&mut self) -> Result<(CheckedKeys, Vec<Algorithm>), ConfigError> {
        let mut algorithms: Vec<Algorithm> = Vec::new();
        let mut add_algorithms = |more: Vec<Algorithm>| {
            for alg in more {
                if !algorithms.contains(&alg) {
                    algorithms.push(alg);
                }
            }
        };
        let mut own = Vec::new();
        for trusted in std::mem::take(&mut self.trusted) {
            let (source, source_algorithms) = self.trusted_source(trusted.clone())?;
            add_algorithms(source_algorithms);
            own.push((trusted.issuer, source));
        }
        // An issuer with keys of its own is verified with those only.
        let shared_issuers = match std::mem::replace(&mut self.issuer, Expect::Unset) {
            Expect::OneOf(issuers) => {
                let shared: Vec<String> = issuers
                    .into_iter()
                    .filter(|issuer| own.iter().all(|(name, _)| name != issuer))
                    .collect();
                if shared.is_empty() { Expect::Unset } else { Expect::OneOf(shared) }
            }
            other => other,
        };
        let shared_keys = !self.keys.is_empty() || self.jwks_url.is_some();
        let shared = match (&shared_issuers, own.is_empty(), shared_keys) {
            (Expect::Unset, true, _) => return Err(IssuerError::IssuerNotConfigured.into()),
            // Keys for no issuer: a mistake, not a way to accept more tokens.
            (Expect::Unset, false, true) => {
                return Err(KeysError::ConflictingKeySources.into());
            }
            (Expect::Unset, false, false) => None,
            // Introspection alone: opaque tokens only, every JWT of these issuers refused.
            #[cfg(feature = "introspection")]
            (_, _, false) if self.introspection.is_some() => {
                Some(KeySource::Fixed(Arc::new(KeySet::new())))
            }
            (_, _, false) => return Err(KeysError::NoKeys.into()),
            (_, _, true) => {
                let (source, source_algorithms) = self.shared_source()?;
                add_algorithms(source_algorithms);
                Some(source)
            }
        };
        // Issuers with keys of their own are identity domains of their own: any issuer beside
        // them, or identities merged across issuers, would let one domain's `sub` be another's.
        if !own.is_empty() {
            if matches!(shared_issuers, Expect::Any) {
                return Err(IssuerError::AnyIssuerWithTrustedIssuers.into());
            }
            if self.identity_by_issuer == Some(false) {
                return Err(IssuerError::IdentityMergedAcrossTrustedIssuers.into());
            }
        }
        let issuers = match shared_issuers {
            Expect::Any => None,
            Expect::Unset => Some(own.iter().map(|(name, _)| name.clone()).collect()),
            Expect::OneOf(mut issuers) => {
                issuers.extend(own.iter().map(|(name, _)| name.clone()));
                Some(issuers)
            }
        };
        let by_issuer = KeysByIssuer { shared, own };
        Ok((CheckedKeys { by_issuer, issuers }, algorithms))
    }

    /// `PORTCULLIS_ISSUER` alone (no JWKS URL, no keys in code): each issuer is discovered on
    /// its own.
    pub(super) fn discover_env_issuers(&mut self) -> Result<(), ConfigError> {
        if self.discovery != Discovery::FromEnv || !self.keys.is_empty() || self.jwks_url.is_some()
        {
            return Ok(());
        }
        match &self.issuer {
            Expect::OneOf(issuers) => {
                for issuer in issuers {
                    if self.trusted.iter().all(|trusted| &trusted.issuer != issuer) {
                        let discovered =
                            TrustedIssuer { discovery: true, ..TrustedIssuer::new(issuer) };
                        self.trusted.push(discovered);
                    }
                }
                self.issuer = Expect::Unset;
                Ok(())
            }
            Expect::Any => Err(EnvError::value(
                env::ISSUER,
                "`*` (any issuer) has no discovery document: set PORTCULLIS_JWKS_URL too",
            )
            .into()),
            Expect::Unset => Ok(()),
        }
    }

    /// The keys shared by the issuers configured with `.issuer(..)` (or any issuer): in code,
    /// or from the JWKS URL.
    pub(super) fn shared_source(&mut self) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let keys = std::mem::take(&mut self.keys);
        match self.jwks_url.clone() {
            Some(_) if !keys.is_empty() => Err(KeysError::ConflictingKeySources.into()),
            Some(url) => self.remote_source(&url, None),
            None => self.fixed_source(keys, true),
        }
    }

    /// The keys of one issuer with keys of its own.
    pub(super) fn trusted_source(
        &self,
        trusted: TrustedIssuer,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let problem =
            |problem| KeysError::TrustedIssuerKeys { issuer: trusted.issuer.clone(), problem };
        let kinds = [!trusted.keys.is_empty(), trusted.jwks_url.is_some(), trusted.discovery];
        match kinds.iter().filter(|kind| **kind).count() {
            0 => {
                return Err(
                    problem("it has no key source: give it keys, a JWKS URL or discovery").into()
                );
            }
            1 => {}
            _ => return Err(problem("it has more than one key source: choose one").into()),
        }
        if let Some(url) = &trusted.jwks_url {
            return self.remote_source(url, None);
        }
        if trusted.discovery {
            return self.remote_source(&trusted.issuer, Some(&trusted.issuer));
        }
        self.fixed_source(trusted.keys, false)
    }

    /// Keys configured in code, restricted to the allowed algorithms. `strict`: every allowed
    /// algorithm must have a key among them (with several issuers, each has its own keys).
    fn fixed_source(
        &self,
        keys: Vec<Key>,
        strict: bool,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let mut set = KeySet::new();
        for key in keys {
            set.insert(key)?;
        }
        let algorithms = match (&self.algorithms, strict) {
            (Some(allowed), false) => {
                let usable: Vec<Algorithm> = allowed
                    .iter()
                    .copied()
                    .filter(|alg| set.iter().any(|k| k.allows(*alg)))
                    .collect();
                match allowed.first() {
                    Some(alg) if usable.is_empty() => {
                        return Err(KeysError::AlgorithmWithoutKey(*alg).into());
                    }
                    _ => {}
                }
                fixed_algorithms(&mut set, Some(usable))?
            }
            (allowed, _) => fixed_algorithms(&mut set, allowed.clone())?,
        };
        Ok((KeySource::Fixed(Arc::new(set)), algorithms))
    }

    /// Keys fetched from `url` (a JWKS), or by discovery for `issuer`.
    #[cfg(feature = "jwks")]
    fn remote_source(
        &self,
        url: &str,
        discover: Option<&str>,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        use crate::keys::KeyLocation;
        let (location, var) = match discover {
            Some(issuer) => (
                KeyLocation::discovery(issuer, self.allow_http),
                self.env_issuers.iter().any(|known| known == issuer).then_some(env::ISSUER),
            ),
            None => (
                KeyLocation::jwks(url, self.allow_http),
                self.jwks_url_var.filter(|_| self.jwks_url.as_deref() == Some(url)),
            ),
        };
        let location = location.map_err(|problem| {
            from_var(var, KeysError::InvalidKeyUrl { url: shown_url(url), problem })
        })?;
        let algorithms = match &self.algorithms {
            Some(algorithms) => {
                // A remote set is public: shared-secret algorithms can never apply.
                if let Some(alg) =
                    algorithms.iter().find(|alg| !Algorithm::ASYMMETRIC.contains(alg))
                {
                    return Err(KeysError::AlgorithmWithoutKey(*alg).into());
                }
                algorithms.clone()
            }
            None => Algorithm::ASYMMETRIC.to_vec(),
        };
        let source = KeySource::remote(location, self.key_refresh.clone(), algorithms.clone())
            .map_err(ConfigError::HttpClient)?;
        Ok((source, algorithms))
    }

    /// Without the `jwks` feature, keys are configured in code only (the methods that ask for
    /// fetched keys do not exist; a preset's JWKS URL ends here).
    #[cfg(not(feature = "jwks"))]
    #[allow(clippy::unused_self)]
    fn remote_source(
        &self,
        url: &str,
        _discover: Option<&str>,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let problem = "fetching keys needs portcullis's `jwks` feature";
        Err(from_var(None, KeysError::InvalidKeyUrl { url: shown_url(url), problem }))
    }
}

/// The keys of a checked configuration, and the issuers accepted (`None`: any).
pub(super) struct CheckedKeys {
    pub(super) by_issuer: KeysByIssuer,
    pub(super) issuers: Option<Vec<String>>,
}

/// The algorithms accepted with keys configured in code: those asked for, each of which some
/// key must verify (the keys are restricted to them), or every algorithm of the keys.
fn fixed_algorithms(
    keys: &mut KeySet,
    algorithms: Option<Vec<Algorithm>>,
) -> Result<Vec<Algorithm>, ConfigError> {
    if keys.is_empty() {
        return Err(KeysError::NoKeys.into());
    }
    Ok(match algorithms {
        Some(algorithms) => {
            if let Some(alg) = algorithms.iter().find(|alg| !keys.iter().any(|k| k.allows(**alg))) {
                return Err(KeysError::AlgorithmWithoutKey(*alg).into());
            }
            for key in keys.iter_mut() {
                key.restrict_to(&algorithms);
            }
            algorithms
        }
        None => {
            let mut all: Vec<Algorithm> = Vec::new();
            for alg in keys.iter().flat_map(Key::algorithms) {
                if !all.contains(alg) {
                    all.push(*alg);
                }
            }
            all
        }
    })
}

#[cfg(test)]
#[cfg(feature = "jwks")]
mod tests {
    use super::*;
    use crate::verify::Verifier;
    use std::ffi::OsString;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn complete() -> VerifierBuilder {
        Verifier::builder().issuer("iss").audience("aud").key(Key::hmac(SECRET).unwrap())
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn remote_key_sources() {
        let remote = || Verifier::builder().issuer("https://i.example").audience("aud");
        const JWKS: &[(&str, &str)] = &[("PORTCULLIS_JWKS_URL", "https://i.example/jwks")];
        // A JWKS URL, or the issuer alone (discovery), is a key source.
        assert!(remote().with_env(env(JWKS)).unwrap().build().is_ok());
        const ISSUER_ONLY: &[(&str, &str)] =
            &[("PORTCULLIS_ISSUER", "https://i.example"), ("PORTCULLIS_AUDIENCE", "a")];
        assert!(Verifier::builder().with_env(env(ISSUER_ONLY)).unwrap().build().is_ok());
        assert!(remote().oidc_issuer("https://i.example").build().is_ok());
        // The issuer from the environment beside keys in code only sets the expected issuer.
        assert!(
            Verifier::builder()
                .with_env(env(ISSUER_ONLY))
                .unwrap()
                .key(Key::hmac(SECRET).unwrap())
                .build()
                .is_ok()
        );
        // Keys in code and a remote source at once are refused.
        let conflict = |err: ConfigError| {
            assert!(matches!(err, ConfigError::Keys(KeysError::ConflictingKeySources)), "{err}");
        };
        conflict(complete().with_env(env(JWKS)).unwrap().build().unwrap_err());
        conflict(
            Verifier::builder()
                .audience("aud")
                .key(Key::hmac(SECRET).unwrap())
                .oidc_issuer("https://i.example")
                .build()
                .unwrap_err(),
        );
        // Clear-text URLs other than loopback, and shared-secret algorithms, are refused.
        for url in ["http://i.example/jwks", "not a url", "file:///etc/jwks.json"] {
            let err = remote().jwks_url(url).build().unwrap_err();
            assert!(
                matches!(err, ConfigError::Keys(KeysError::InvalidKeyUrl { .. })),
                "{url}: {err}"
            );
        }
        assert!(remote().jwks_url("http://127.0.0.1:9/jwks").build().is_ok());
        let err =
            remote().jwks_url("https://i.example/jwks").algorithms([Algorithm::HS256]).build();
        assert!(matches!(
            err,
            Err(ConfigError::Keys(KeysError::AlgorithmWithoutKey(Algorithm::HS256)))
        ));
        // An issuer set in code, and an environment without key settings: no discovery.
        let err = remote().with_env(env(&[])).unwrap().build().unwrap_err();
        assert!(matches!(err, ConfigError::Keys(KeysError::NoKeys)), "{err}");
        // An issuer of `.issuer(..)` needs the shared keys; one discovered has its own.
        let two = remote().issuer("https://other.example").oidc_issuer("https://i.example");
        assert!(matches!(two.build(), Err(ConfigError::Keys(KeysError::NoKeys))));
        let both = remote().oidc_issuer("https://i.example").oidc_issuer("https://j.example");
        assert!(both.build().is_ok());
        // Several issuers from the environment: each discovered on its own.
        const TWO: &[(&str, &str)] = &[
            ("PORTCULLIS_ISSUER", "https://a.example  https://b.example/"),
            ("PORTCULLIS_AUDIENCE", "a"),
        ];
        let builder = Verifier::builder().with_env(env(TWO)).unwrap();
        assert_eq!(
            builder.issuer,
            Expect::OneOf(vec!["https://a.example".into(), "https://b.example/".into()])
        );
        assert!(builder.build().is_ok());
        // A trusted issuer has exactly one key source.
        let none = Verifier::builder()
            .audience("a")
            .trusted_issuer(TrustedIssuer::new("https://n.example"));
        let err = none.build().unwrap_err();
        assert!(matches!(err, ConfigError::Keys(KeysError::TrustedIssuerKeys { .. })), "{err}");
        assert!(
            err.to_string().starts_with("the issuer \"https://n.example\": it has no key source"),
            "{err}"
        );
        let many = Verifier::builder().audience("a").trusted_issuer(
            TrustedIssuer::new("https://n.example").key(Key::hmac(SECRET).unwrap()).discovery(),
        );
        assert!(matches!(
            many.build(),
            Err(ConfigError::Keys(KeysError::TrustedIssuerKeys { .. }))
        ));
        // Trusted issuers stay identity domains of their own.
        let trusted = || {
            Verifier::builder().audience("a").trusted_issuer(
                TrustedIssuer::new("https://t.example").key(Key::hmac(SECRET).unwrap()),
            )
        };
        assert!(matches!(
            trusted().dangerous().any_issuer().key(Key::hmac(SECRET).unwrap()).build(),
            Err(ConfigError::Issuers(IssuerError::AnyIssuerWithTrustedIssuers))
        ));
        assert!(matches!(
            trusted().dangerous().identity_by_subject_only().build(),
            Err(ConfigError::Issuers(IssuerError::IdentityMergedAcrossTrustedIssuers))
        ));
    }

    #[test]
    fn a_key_url_from_the_environment_is_named() {
        let err = Verifier::builder()
            .issuer("https://i.example")
            .audience("aud")
            .with_env(env(&[("PORTCULLIS_JWKS_URL", "http://user:pw@i.example/jwks")]))
            .unwrap()
            .build()
            .unwrap_err();
        assert!(matches!(&err, ConfigError::Env(env) if env.var() == "PORTCULLIS_JWKS_URL"));
        let shown = err.to_string();
        assert!(
            shown.starts_with(
                "PORTCULLIS_JWKS_URL: cannot fetch keys from \"http://<redacted>@i.example/jwks\""
            ),
            "{shown}"
        );
    }
}
