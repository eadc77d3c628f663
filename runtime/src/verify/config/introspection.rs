//! [`Introspection`]: the RFC 7662 settings as one value that checks itself against the
//! verifier's issuers, making `introspect`'s checked `Setup` (the `PORTCULLIS_INTROSPECTION_*`
//! variables fill it in from `env.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::error::shown_url;
use super::error::{ConfigError, IntrospectionError};
use crate::introspect::{ClientAuthMethod, Endpoint, Introspector, Recognised, Secret, Setup};

/// RFC 7662 token introspection: opaque access tokens are sent to the authorization server,
/// which says whether they are active and what they grant.
///
/// A token that is a JWS (three base64url parts) is still verified locally, unless
/// [`introspect_jwts`](Self::introspect_jwts) asks for every token to be introspected (so that a
/// revoked JWT is refused within the cache's maximum age). The answer's members (`sub`, `scope`,
/// `aud`, `iss`, `exp`, `nbf`, `client_id`, …) are checked with the same rules as a JWT's claims
/// and become the [`Principal`](crate::Principal)'s claims.
///
/// ```
/// use std::time::Duration;
/// use portcullis::{Verifier, introspection::{ClientAuthMethod, Introspection}};
///
/// let introspection = Introspection::endpoint("https://login.example.com/oauth2/introspect")
///     .client_credentials("documents-api", "s3cr3t")
///     .client_auth(ClientAuthMethod::ClientSecretPost)
///     .max_age(Duration::from_secs(30));
/// let verifier = Verifier::builder()
///     .issuer("https://login.example.com")
///     .audience("documents-api")
///     .introspection(introspection)
///     .build()?;
/// # Ok::<(), portcullis::ConfigError>(())
/// ```
///
/// `Debug` never shows the client secret.
#[derive(Clone)]
#[must_use]
#[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
pub struct Introspection {
    endpoint: Option<String>,
    /// The issuer the endpoint answers for; see [`Introspection::issuer`].
    issuer: Option<String>,
    credentials: Option<(String, Secret)>,
    auth: ClientAuthMethod,
    jwts: bool,
    max_age: Duration,
    inactive_max_age: Duration,
    retry_after: Duration,
    capacity: usize,
    timeout: Duration,
    max_response_bytes: usize,
    max_concurrent_calls: usize,
    recognised: Recognised,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint.as_deref().unwrap_or("(discovered)"))
            .field("issuer", &self.issuer)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id.as_str()))
            .field("client_secret", &self.credentials.as_ref().map(|(_, secret)| secret))
            .field("auth", &self.auth)
            .field("jwts", &self.jwts)
            .field("max_age", &self.max_age)
            .field("inactive_max_age", &self.inactive_max_age)
            .field("retry_after", &self.retry_after)
            .field("capacity", &self.capacity)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("recognised", &self.recognised)
            .finish()
    }
}

impl Introspection {
    fn with_endpoint(endpoint: Option<String>) -> Self {
        Self {
            endpoint,
            issuer: None,
            credentials: None,
            auth: ClientAuthMethod::default(),
            jwts: false,
            max_age: Duration::from_secs(60),
            inactive_max_age: Duration::from_secs(5),
            retry_after: Duration::from_secs(1),
            capacity: 10_000,
            timeout: Duration::from_secs(5),
            max_response_bytes: 64 * 1024,
            max_concurrent_calls: Self::DEFAULT_MAX_CONCURRENT_CALLS,
            recognised: Recognised::default(),
        }
    }

    /// The default of [`max_concurrent_calls`](Self::max_concurrent_calls): 32.
    ///
    /// A call to a healthy authorization server takes a few milliseconds to a few tens, so 32 at
    /// once serve well over a thousand *new* tokens a second, far more than the tokens a client
    /// population starts using (a token is introspected once, then served from the cache), while
    /// one instance under a flood of made-up tokens never has more than 32 requests open at the
    /// authorization server, with the API's credentials, nor more than 32 sockets for them.
    pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = 32;

    /// Introspects at `url` (`https`; `http` only to a loopback address, or to any host with
    /// the builder's development opt-in [`.dangerous().allow_http()`](super::Dangerous::allow_http)). The
    /// URL must not hold credentials: give them to [`client_credentials`](Self::client_credentials).
    pub fn endpoint(url: impl Into<String>) -> Self {
        Self::with_endpoint(Some(url.into()))
    }

    /// Introspects at the `introspection_endpoint` of the issuer's OpenID Connect discovery
    /// document (`{issuer}/.well-known/openid-configuration`, whose `issuer` must equal the one
    /// configured; the verifier must have exactly one issuer). The document is read at the first
    /// introspection, and again after a failure.
    pub fn discovered() -> Self {
        Self::with_endpoint(None)
    }

    /// The issuer this endpoint answers for: an active answer must name it in `iss`, and
    /// discovery reads its document. Required when the verifier accepts several issuers (an
    /// endpoint vouches for its own issuer's tokens only, as each issuer's keys verify only its
    /// own JWTs); with one issuer, that one.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The client credentials the endpoint authenticates this API with. Without them, no
    /// `Authorization` header and no client credentials are sent.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some((client_id.into(), Secret(client_secret.into())));
        self
    }

    /// How the credentials are sent. Defaults to [`ClientAuthMethod::ClientSecretBasic`].
    pub fn client_auth(mut self, method: ClientAuthMethod) -> Self {
        self.auth = method;
        self
    }

    /// Introspects JWTs too, after their local verification (signature and claims): a JWT the
    /// authorization server revoked is refused once the cached answer ends. Off by default:
    /// JWTs are verified locally only. With several issuers, only the JWTs of the endpoint's
    /// [`issuer`](Self::issuer) are sent to it: another issuer's are verified locally only, and
    /// an answer naming another issuer refuses the token.
    pub fn introspect_jwts(mut self, introspect: bool) -> Self {
        self.jwts = introspect;
        self
    }

    /// How long an active answer is used, at most (default 60 seconds): it bounds how late a
    /// revocation is seen. The token's `exp` ends it sooner if it comes first.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How long a refusal (an inactive token, or an answer the claim rules refuse) is remembered
    /// (default 5 seconds), so that a storm of one bad token is not a storm on the provider.
    pub fn inactive_max_age(mut self, max_age: Duration) -> Self {
        self.inactive_max_age = max_age;
        self
    }

    /// How long a failed introspection (the endpoint down, slow or answering garbage) is
    /// remembered for its token, and what the 503's `Retry-After` asks for (default 1 second,
    /// rounded up to whole seconds).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// How many answers are kept (default 10 000); zero keeps none (every request is
    /// introspected, and concurrent requests for one token are not joined). When it is full,
    /// answers that have ended make room first, then answers not used lately: tokens that
    /// clients keep presenting stay, however many others pass through (a working set up to
    /// about 80 % of the capacity is served from the cache).
    pub fn capacity(mut self, answers: usize) -> Self {
        self.capacity = answers;
        self
    }

    /// The time one introspection (or discovery) may take, connection included (default 5
    /// seconds); past it, the request gets 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer accepted (default 64 KiB); a larger one is a failure (503).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How many introspection calls may be in progress at once (default
    /// [`DEFAULT_MAX_CONCURRENT_CALLS`](Self::DEFAULT_MAX_CONCURRENT_CALLS), at least one;
    /// `PORTCULLIS_INTROSPECTION_MAX_CONCURRENT`). When they all are, a request whose token needs
    /// a call is answered 503 with `Retry-After` at once, without a call and without waiting, so
    /// that a flood of made-up opaque tokens cannot become a flood on the authorization server.
    /// Requests for a token already being introspected wait for that call and do not count;
    /// cached tokens never do.
    ///
    /// The bound makes a flood fail fast, but while it lasts it also refuses legitimate new
    /// tokens: keep a rate limiter in front of an API that introspects.
    pub fn max_concurrent_calls(mut self, calls: usize) -> Self {
        self.max_concurrent_calls = calls;
        self
    }

    /// Introspects only opaque tokens that start with `prefix` (`PORTCULLIS_INTROSPECTION_TOKEN_PREFIX`):
    /// for providers whose tokens say whose they are (Ory's `ory_at_`, GitHub's `gho_`, …).
    /// Called again, a token may start with any of the prefixes. Any other opaque token is
    /// refused as malformed (401 `invalid_token`) without a call, which keeps made-up tokens
    /// away from the authorization server for the price of a comparison. JWTs are not
    /// concerned: they are recognised by their form and verified locally first.
    ///
    /// ```
    /// use portcullis::introspection::Introspection;
    ///
    /// let introspection = Introspection::endpoint("https://auth.example.com/admin/oauth2/introspect")
    ///     .opaque_token_prefix("ory_at_");
    /// ```
    pub fn opaque_token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.recognised.prefixes.push(prefix.into());
        self
    }

    /// Introspects only opaque tokens that `recognises` accepts: a cheap check of their form
    /// (length, alphabet, a checksum the provider builds into its tokens). Any other opaque token
    /// is refused as malformed (401 `invalid_token`) without a call. With
    /// [`opaque_token_prefix`](Self::opaque_token_prefix) too, a token must pass both. The
    /// check runs on every opaque token, cached or not, before anything else: it must not
    /// block, and should take well under a microsecond.
    ///
    /// ```
    /// use portcullis::introspection::Introspection;
    ///
    /// // The provider's tokens: 43 characters of base64url (256 random bits).
    /// let introspection = Introspection::endpoint("https://as.example/introspect")
    ///     .opaque_token_filter(|token| {
    ///         token.len() == 43
    ///             && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    ///     });
    /// ```
    pub fn opaque_token_filter(
        mut self,
        recognises: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.recognised.filter = Some(Arc::new(recognises));
        self
    }

    /// The endpoint `PORTCULLIS_INTROSPECTION_URL` names, over the code's.
    pub(super) fn set_endpoint(&mut self, url: String) {
        self.endpoint = Some(url);
    }

    /// The prefixes `PORTCULLIS_INTROSPECTION_TOKEN_PREFIX` lists, replacing the code's.
    pub(super) fn set_prefixes(&mut self, prefixes: Vec<String>) {
        self.recognised.prefixes = prefixes;
    }

    /// The introspector of this configuration, checked against the verifier's accepted
    /// `issuers` (`None`: any), with its `leeway` and the builder's `allow_http`.
    pub(super) fn introspector(
        self,
        issuers: Option<&[String]>,
        leeway: Duration,
        allow_http: bool,
    ) -> Result<Introspector, ConfigError> {
        let setup = self.check(issuers, leeway, allow_http)?;
        Introspector::new(setup).map_err(ConfigError::HttpClient)
    }

    /// The checked configuration: which issuer the endpoint answers for, where the endpoint is,
    /// and settings that can work.
    pub(crate) fn check(
        self,
        issuers: Option<&[String]>,
        leeway: Duration,
        allow_http: bool,
    ) -> Result<Setup, IntrospectionError> {
        let issuer = match (&self.issuer, issuers) {
            (Some(issuer), Some(accepted)) if !accepted.contains(issuer) => {
                return Err(IntrospectionError::IssuerNotAccepted(issuer.clone()));
            }
            (Some(issuer), _) => Some(issuer.clone()),
            (None, Some([issuer])) => Some(issuer.clone()),
            (None, Some(_)) => return Err(IntrospectionError::NeedsIssuer),
            (None, None) => None,
        };
        let invalid =
            |url: &str, problem| IntrospectionError::InvalidUrl { url: shown_url(url), problem };
        let endpoint = match (&self.endpoint, &issuer) {
            (Some(url), _) => {
                Endpoint::configured(url, allow_http).map_err(|problem| invalid(url, problem))?
            }
            (None, Some(issuer)) => Endpoint::discovered(issuer, allow_http)
                .map_err(|problem| invalid(issuer, problem))?,
            (None, None) => return Err(IntrospectionError::NeedsIssuer),
        };
        if self.max_concurrent_calls == 0 {
            return Err(IntrospectionError::InvalidSetting {
                setting: "max_concurrent_calls",
                problem: "at least one call must be allowed",
            });
        }
        if self.recognised.prefixes.iter().any(String::is_empty) {
            return Err(IntrospectionError::InvalidSetting {
                setting: "opaque_token_prefix",
                problem: "an empty prefix would recognise every token",
            });
        }
        Ok(Setup {
            endpoint,
            issuer,
            credentials: self.credentials,
            auth: self.auth,
            jwts: self.jwts,
            max_age: self.max_age,
            inactive_max_age: self.inactive_max_age,
            retry_after: self.retry_after,
            capacity: self.capacity,
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
            max_concurrent_calls: self.max_concurrent_calls,
            recognised: self.recognised,
            leeway: leeway.as_secs(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;
    use crate::verify::Verifier;
    use crate::verify::config::VerifierBuilder;
    use std::ffi::OsString;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    fn built(vars: &'static [(&'static str, &'static str)]) -> Result<Verifier, ConfigError> {
        Verifier::builder().with_env(env(vars))?.audience("api").build()
    }

    #[test]
    fn environment() {
        // Nothing set: no introspection, and keys are required as before.
        let plain = Verifier::builder().with_env(env(&[])).unwrap().issuer("i").audience("a");
        assert!(matches!(
            plain.build(),
            Err(ConfigError::Keys(super::super::error::KeysError::NoKeys))
        ));
        // The URL alone (no keys needed), with credentials, or discovered from the issuer.
        assert!(
            built(&[
                ("PORTCULLIS_ISSUER", "https://as.example"),
                ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/introspect"),
            ])
            .is_ok()
        );
        assert!(
            Verifier::builder()
                .issuer("https://as.example")
                .audience("api")
                .with_env(env(&[
                    ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/introspect"),
                    ("PORTCULLIS_INTROSPECTION_CLIENT_ID", "api"),
                    ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "secret"),
                ]))
                .unwrap()
                .key(Key::hmac(b"0123456789abcdef0123456789abcdef").unwrap())
                .build()
                .is_ok()
        );
        let builder = Verifier::builder()
            .with_env(env(&[
                ("PORTCULLIS_ISSUER", "https://as.example"),
                ("PORTCULLIS_INTROSPECTION_CLIENT_ID", "api"),
                ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "secret-from-env"),
            ]))
            .unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("(discovered)") && !shown.contains("secret-from-env"), "{shown}");
        assert!(builder.audience("api").build().is_ok());
        // Errors name the variable.
        let cases: [(&'static [(&'static str, &'static str)], &str); 4] = [
            (
                &[("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "s")],
                "PORTCULLIS_INTROSPECTION_CLIENT_SECRET",
            ),
            (
                &[("PORTCULLIS_INTROSPECTION_CLIENT_ID", "api")],
                "PORTCULLIS_INTROSPECTION_CLIENT_SECRET",
            ),
            (
                &[
                    ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/i"),
                    ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "s"),
                ],
                "PORTCULLIS_INTROSPECTION_CLIENT_ID",
            ),
            (&[("PORTCULLIS_INTROSPECTION_URL", " ")], "PORTCULLIS_INTROSPECTION_URL"),
        ];
        for (vars, var) in cases {
            let err = VerifierBuilder::new().with_env(env(vars)).unwrap_err();
            assert!(err.to_string().starts_with(var), "{err}");
        }
        // A URL that cannot be used, and discovery without exactly one issuer.
        let err = built(&[
            ("PORTCULLIS_ISSUER", "https://as.example"),
            ("PORTCULLIS_INTROSPECTION_URL", "http://as.example/introspect"),
        ])
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::Introspection(IntrospectionError::InvalidUrl { .. })),
            "{err}"
        );
        // A URL holding credentials is refused, and the error does not repeat them.
        let err = built(&[
            ("PORTCULLIS_ISSUER", "https://as.example"),
            ("PORTCULLIS_INTROSPECTION_URL", "https://api:s3cret@as.example/introspect"),
        ])
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            matches!(err, ConfigError::Introspection(IntrospectionError::InvalidUrl { .. })),
            "{shown}"
        );
        assert!(!shown.contains("s3cret") && !shown.contains("api:"), "{shown}");
        assert!(shown.contains("https://<redacted>@as.example/introspect"), "{shown}");
        let err = Verifier::builder()
            .dangerous()
            .any_issuer()
            .dangerous()
            .any_audience()
            .introspection(Introspection::discovered())
            .build()
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::Introspection(IntrospectionError::NeedsIssuer)),
            "{err}"
        );
    }

    #[test]
    fn the_bound_and_the_prefixes_from_the_environment() {
        const URL: (&str, &str) = ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/introspect");
        const ISSUER: (&str, &str) = ("PORTCULLIS_ISSUER", "https://as.example");
        let builder = Verifier::builder()
            .with_env(env(&[
                ISSUER,
                URL,
                ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "4"),
                ("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "ory_at_, gho_"),
            ]))
            .unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("max_concurrent_calls: 4"), "{shown}");
        assert!(shown.contains(r#"prefixes: ["ory_at_", "gho_"]"#), "{shown}");
        assert!(builder.audience("api").build().is_ok());
        // They tune introspection configured in code too, the variables winning.
        let builder = Verifier::builder()
            .issuer("https://as.example")
            .introspection(
                Introspection::endpoint("https://as.example/i")
                    .max_concurrent_calls(100)
                    .opaque_token_prefix("code_"),
            )
            .with_env(env(&[
                ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "8"),
                ("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "env_"),
            ]))
            .unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("max_concurrent_calls: 8"), "{shown}");
        assert!(shown.contains(r#"prefixes: ["env_"]"#), "{shown}");
        // Errors name the variable.
        let cases: [(&'static [(&'static str, &'static str)], &str); 6] = [
            (&[URL, ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "0")], "a positive integer"),
            (&[URL, ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "-3")], "a positive integer"),
            (&[URL, ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "many")], "a positive integer"),
            (&[URL, ("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "ory_at_,,x")], "an empty prefix"),
            (&[("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "4")], "not configured"),
            (&[("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "ory_at_")], "not configured"),
        ];
        for (vars, problem) in cases {
            let err = VerifierBuilder::new().with_env(env(vars)).unwrap_err();
            let (var, _) = vars[vars.len() - 1];
            let shown = err.to_string();
            assert!(shown.starts_with(var) && shown.contains(problem), "{shown}");
        }
    }

    #[test]
    fn settings_that_cannot_work_do_not_build() {
        let build = |introspection: Introspection| {
            Verifier::builder()
                .issuer("https://as.example")
                .audience("api")
                .introspection(introspection)
                .build()
        };
        let endpoint = || Introspection::endpoint("https://as.example/i");
        let err = build(endpoint().max_concurrent_calls(0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "introspection: max_concurrent_calls: at least one call must be allowed"
        );
        let err =
            build(endpoint().opaque_token_prefix("ory_at_").opaque_token_prefix("")).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Introspection(IntrospectionError::InvalidSetting {
                    setting: "opaque_token_prefix",
                    ..
                })
            ),
            "{err}"
        );
        assert!(build(endpoint().max_concurrent_calls(1).opaque_token_prefix("x")).is_ok());
    }

    #[test]
    fn discovery_needs_one_issuer() {
        let check = |introspection: Introspection, issuers: Option<&[String]>| {
            introspection.check(issuers, Duration::ZERO, false)
        };
        let two = ["https://a.example".to_owned(), "https://b.example".to_owned()];
        assert!(matches!(
            check(Introspection::discovered(), Some(&two)),
            Err(IntrospectionError::NeedsIssuer)
        ));
        assert!(matches!(
            check(Introspection::discovered(), None),
            Err(IntrospectionError::NeedsIssuer)
        ));
        assert!(check(Introspection::discovered(), Some(&two[..1])).is_ok());
        let error = check(Introspection::discovered().issuer("https://c.example"), Some(&two));
        assert_eq!(
            error.err().map(|error| error.to_string()).as_deref(),
            Some(
                "introspection answers for \"https://c.example\", which is not an accepted issuer"
            )
        );
        for bad in ["http://as.example/i", "https://id:secret@as.example/i", "nope"] {
            assert!(
                matches!(
                    check(Introspection::endpoint(bad), None),
                    Err(IntrospectionError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
        assert!(check(Introspection::endpoint("http://as.example/i"), None).is_err());
        let http = Introspection::endpoint("http://as.example/i").check(None, Duration::ZERO, true);
        assert!(http.is_ok(), "behind the dangerous door");
    }
}
