//! Step-up authentication (RFC 9470): how strongly and how recently the user must have signed
//! in. [`AuthenticationRequirement`] is what a handler requires (`acr` values, a maximum age of
//! the sign-in), [`AcrSource`] where the verifier reads the token's authentication context
//! classes, and `SignIn` what one token says, read once when the token is verified so that a
//! cache hit only compares.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::scope::is_scope_token;

/// How strongly and how recently the user must have signed in (RFC 9470 §2): one of the
/// accepted authentication context class references (`acr`, exact match), and an `auth_time` no
/// older than the maximum age (with the verifier's leeway). A token without the claim a
/// requirement needs does not meet it. Refused with 401 `insufficient_user_authentication`,
/// naming `acr_values` and `max_age`, right after the token is verified and before scopes, roles
/// and policies.
///
/// `#[requires_authentication]` builds one at compile time; for
/// [`RequireAuthLayer`](crate::layer::RequireAuthLayer) build it in a `const` or `static`, where
/// a value that cannot be sent in a challenge (empty, or with a space, a quote, a backslash or a
/// non-ASCII character) is a compile error.
///
/// ```
/// use std::time::Duration;
/// use portcullis::authorization::AuthenticationRequirement;
///
/// static MFA_RECENTLY: AuthenticationRequirement = AuthenticationRequirement::new()
///     .acr(&["urn:documents:mfa"])
///     .max_age(Duration::from_secs(600));
/// assert_eq!(MFA_RECENTLY.acr_values(), ["urn:documents:mfa"]);
/// assert_eq!(MFA_RECENTLY.max_age_limit(), Some(Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticationRequirement {
    acr: &'static [&'static str],
    max_age: Option<Duration>,
}

impl AuthenticationRequirement {
    /// A requirement of nothing yet: add [`acr`](Self::acr), [`max_age`](Self::max_age) or
    /// both.
    #[must_use]
    pub const fn new() -> Self {
        Self { acr: &[], max_age: None }
    }

    /// The token's `acr` must be one of `values`, in the order of preference the challenge's
    /// `acr_values` lists them in.
    ///
    /// # Panics
    ///
    /// When `values` is empty or a value is not a non-empty run of printable ASCII without
    /// space, `"` and `\` (a compile error in a `const` or `static`).
    #[must_use]
    pub const fn acr(mut self, values: &'static [&'static str]) -> Self {
        assert!(!values.is_empty(), "an acr requirement needs at least one value");
        let mut i = 0;
        while i < values.len() {
            assert!(
                is_scope_token(values[i]),
                "an acr value is a non-empty run of printable ASCII without space, '\"' and '\\'"
            );
            i += 1;
        }
        self.acr = values;
        self
    }

    /// The user must have signed in (`auth_time`) no longer than `max_age` ago; sent as
    /// `max_age` in whole seconds.
    #[must_use]
    pub const fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The accepted `acr` values; empty when any will do.
    pub const fn acr_values(&self) -> &'static [&'static str] {
        self.acr
    }

    /// The maximum age of the sign-in, if one is required.
    pub const fn max_age_limit(&self) -> Option<Duration> {
        self.max_age
    }

    /// `max_age` in whole seconds, as the challenge says it.
    pub(crate) fn max_age_secs(&self) -> Option<u64> {
        self.max_age.map(|max_age| max_age.as_secs())
    }
}

impl Default for AuthenticationRequirement {
    fn default() -> Self {
        Self::new()
    }
}

/// As the challenge names it: `acr_values="a b" max_age="600"`.
impl fmt::Display for AuthenticationRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        if !self.acr.is_empty() {
            write!(f, "acr_values=\"{}\"", self.acr.join(" "))?;
            separator = " ";
        }
        if let Some(max_age) = self.max_age_secs() {
            write!(f, "{separator}max_age=\"{max_age}\"")?;
        }
        Ok(())
    }
}

/// Where a token says how the user signed in: the authentication context classes that
/// [`AuthenticationRequirement::acr`] is compared with. The default is [`AcrSource::Acr`];
/// [`VerifierBuilder::acr_sources`](crate::config::VerifierBuilder::acr_sources) and the
/// [presets](crate::Preset) set others. A claim of another shape than the source expects adds
/// nothing and does not make the token invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcrSource {
    /// The `acr` claim, a string (OpenID Connect Core §2, RFC 9068 §2.2.1).
    Acr,
    /// A claim holding an array of class references, each one the token meets: Entra ID's
    /// `acrs` (its authentication contexts, `c1` to `c99`).
    List(String),
    /// A claim holding an array of authentication methods (`amr`, RFC 8176): when it holds
    /// `method`, the token meets the class `class`. Auth0 signals multi-factor with `mfa` in
    /// `amr`, and is asked for it with the class
    /// `http://schemas.openid.net/pape/policies/2007/06/multi-factor`.
    Method {
        /// The claim: `amr`.
        claim: String,
        /// The method it must hold: `mfa`.
        method: String,
        /// The class the method stands for.
        class: String,
    },
}

impl AcrSource {
    /// The classes this source finds in `claims`.
    fn read(&self, claims: &Map<String, Value>, classes: &mut Vec<Box<str>>) {
        match self {
            Self::Acr => {
                if let Some(Value::String(acr)) = claims.get("acr")
                    && !acr.is_empty()
                {
                    classes.push(acr.as_str().into());
                }
            }
            Self::List(claim) => {
                if let Some(Value::Array(items)) = claims.get(claim) {
                    let found = items.iter().filter_map(Value::as_str).filter(|s| !s.is_empty());
                    classes.extend(found.map(Into::into));
                }
            }
            Self::Method { claim, method, class } => {
                if let Some(Value::Array(methods)) = claims.get(claim)
                    && methods.iter().any(|m| m.as_str() == Some(method))
                {
                    classes.push(class.as_str().into());
                }
            }
        }
    }
}

/// How the user behind one token signed in: its authentication context classes and
/// `auth_time`, read when the token is verified (so cache hits only compare).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SignIn {
    classes: Box<[Box<str>]>,
    /// Seconds since the epoch; `None` when absent or not a NumericDate.
    auth_time: Option<u64>,
}

impl SignIn {
    /// What `claims` say, read from `sources`.
    pub(crate) fn read(claims: &Map<String, Value>, sources: &[AcrSource]) -> Self {
        let mut classes = Vec::new();
        for source in sources {
            source.read(claims, &mut classes);
        }
        let auth_time = claims.get("auth_time").and_then(crate::numeric_date::seconds);
        Self { classes: classes.into_boxed_slice(), auth_time }
    }

    /// The authentication context classes the token meets.
    pub(crate) fn classes(&self) -> impl Iterator<Item = &str> {
        self.classes.iter().map(|class| &**class)
    }

    /// `auth_time`, in seconds since the epoch.
    pub(crate) fn auth_time(&self) -> Option<u64> {
        self.auth_time
    }

    /// `true` when this sign-in meets `required` now, on the wall clock `auth_time` is on (the
    /// coarse one a cache hit reads: its lag of a tick is nothing against a maximum age in
    /// seconds, `clock.rs`).
    #[inline]
    pub(crate) fn satisfies_now(&self, required: &AuthenticationRequirement, leeway: u64) -> bool {
        // The clock is read only for a maximum age.
        let now = match required.max_age {
            None => 0,
            Some(_) => crate::clock::coarse_unix_millis() / 1000,
        };
        self.satisfies(required, now, leeway)
    }

    /// `true` when this sign-in meets `required` at `now` (seconds since the epoch), with
    /// `leeway` seconds for the clocks' skew. A sign-in later than `now` beyond the leeway
    /// meets no maximum age.
    #[inline]
    pub(crate) fn satisfies(
        &self,
        required: &AuthenticationRequirement,
        now: u64,
        leeway: u64,
    ) -> bool {
        let acr = required.acr.is_empty()
            || self.classes.iter().any(|class| required.acr.contains(&&**class));
        let fresh = match (required.max_age_secs(), self.auth_time) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(max_age), Some(auth_time)) => {
                auth_time <= now.saturating_add(leeway)
                    && now.saturating_sub(auth_time) <= max_age.saturating_add(leeway)
            }
        };
        acr && fresh
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_800_000_000;
    static MFA: AuthenticationRequirement =
        AuthenticationRequirement::new().acr(&["urn:mfa", "urn:hwk"]);
    static RECENT: AuthenticationRequirement =
        AuthenticationRequirement::new().max_age(Duration::from_secs(600));
    static BOTH: AuthenticationRequirement =
        AuthenticationRequirement::new().acr(&["urn:mfa"]).max_age(Duration::from_secs(600));

    fn sign_in(claims: Value, sources: &[AcrSource]) -> SignIn {
        let Value::Object(claims) = claims else { unreachable!() };
        SignIn::read(&claims, sources)
    }

    #[test]
    fn acr_is_one_of_the_accepted_values_exactly() {
        let acr = |acr: Value| sign_in(json!({ "acr": acr }), &[AcrSource::Acr]);
        assert!(acr(json!("urn:mfa")).satisfies(&MFA, NOW, 0));
        assert!(acr(json!("urn:hwk")).satisfies(&MFA, NOW, 0));
        for other in [json!("urn:MFA"), json!("urn:mfa "), json!(""), json!(["urn:mfa"]), json!(2)]
        {
            assert!(!acr(other.clone()).satisfies(&MFA, NOW, 0), "{other}");
        }
        assert!(!sign_in(json!({}), &[AcrSource::Acr]).satisfies(&MFA, NOW, 0));
    }

    #[test]
    fn auth_time_must_be_within_max_age_and_leeway() {
        let at = |auth_time: Value| sign_in(json!({ "auth_time": auth_time }), &[]);
        assert!(at(json!(NOW - 600)).satisfies(&RECENT, NOW, 0));
        assert!(!at(json!(NOW - 601)).satisfies(&RECENT, NOW, 0));
        assert!(at(json!(NOW - 630)).satisfies(&RECENT, NOW, 30));
        assert!(!at(json!(NOW - 631)).satisfies(&RECENT, NOW, 30));
        // Fractional seconds are read as NumericDate.
        assert!(at(json!((NOW - 600) as f64 + 0.5)).satisfies(&RECENT, NOW, 0));
        // A sign-in in the future beyond the leeway proves nothing.
        assert!(at(json!(NOW + 30)).satisfies(&RECENT, NOW, 30));
        assert!(!at(json!(NOW + 31)).satisfies(&RECENT, NOW, 30));
        for bad in [json!("1800000000"), json!(-1), json!(null)] {
            assert!(!at(bad.clone()).satisfies(&RECENT, NOW, 30), "{bad}");
        }
        assert!(!sign_in(json!({}), &[]).satisfies(&RECENT, NOW, 30));
        // Nothing required: anything goes.
        assert!(sign_in(json!({}), &[]).satisfies(&AuthenticationRequirement::new(), NOW, 0));
    }

    #[test]
    fn both_must_hold() {
        let claims = |acr: &str, auth_time: u64| json!({ "acr": acr, "auth_time": auth_time });
        let sources = [AcrSource::Acr];
        assert!(sign_in(claims("urn:mfa", NOW - 10), &sources).satisfies(&BOTH, NOW, 0));
        assert!(!sign_in(claims("urn:pwd", NOW - 10), &sources).satisfies(&BOTH, NOW, 0));
        assert!(!sign_in(claims("urn:mfa", NOW - 700), &sources).satisfies(&BOTH, NOW, 0));
    }

    #[test]
    fn entra_lists_and_auth0_methods() {
        let entra = [AcrSource::List("acrs".into())];
        static C1: AuthenticationRequirement = AuthenticationRequirement::new().acr(&["c1"]);
        assert!(sign_in(json!({"acrs": ["c2", "c1"]}), &entra).satisfies(&C1, NOW, 0));
        assert!(!sign_in(json!({"acrs": ["c2"]}), &entra).satisfies(&C1, NOW, 0));
        assert!(!sign_in(json!({"acrs": "c1"}), &entra).satisfies(&C1, NOW, 0));
        let auth0 = [
            AcrSource::Acr,
            AcrSource::Method {
                claim: "amr".into(),
                method: "mfa".into(),
                class: "urn:multi-factor".into(),
            },
        ];
        static MULTI: AuthenticationRequirement =
            AuthenticationRequirement::new().acr(&["urn:multi-factor"]);
        assert!(sign_in(json!({"amr": ["pwd", "mfa"]}), &auth0).satisfies(&MULTI, NOW, 0));
        assert!(!sign_in(json!({"amr": ["pwd"]}), &auth0).satisfies(&MULTI, NOW, 0));
        assert!(!sign_in(json!({"amr": "mfa"}), &auth0).satisfies(&MULTI, NOW, 0));
        let read = sign_in(json!({"acr": "a", "amr": ["mfa"]}), &auth0);
        assert_eq!(read.classes().collect::<Vec<_>>(), ["a", "urn:multi-factor"]);
    }

    #[test]
    fn displays_as_the_challenge_names_it() {
        assert_eq!(MFA.to_string(), r#"acr_values="urn:mfa urn:hwk""#);
        assert_eq!(RECENT.to_string(), r#"max_age="600""#);
        assert_eq!(BOTH.to_string(), r#"acr_values="urn:mfa" max_age="600""#);
    }

    #[test]
    #[should_panic(expected = "acr value")]
    fn a_value_that_needs_quoting_is_refused() {
        let _ = AuthenticationRequirement::new().acr(&["two words"]);
    }

    #[test]
    #[should_panic(expected = "at least one value")]
    fn an_empty_set_is_refused() {
        let _ = AuthenticationRequirement::new().acr(&[]);
    }
}
