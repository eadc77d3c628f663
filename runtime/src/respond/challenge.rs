//! The RFC 6750 `WWW-Authenticate: Bearer …` challenge builder.
//!
//! The builder can only produce header values that parse back under the RFC 9110 auth-param
//! grammar: every parameter is a field (so it appears at most once), and every value is checked
//! against the RFC 6750 §3 character set when it is set, so no quoting or escaping is ever needed.

use std::fmt;

use http::HeaderValue;

use crate::scope::{is_scope_char, is_scope_token};

/// The `error` attribute of a bearer challenge (RFC 6750 §3.1).
///
/// Each code belongs to exactly one HTTP status; [`ErrorCode::status`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed (for example, two `Authorization` headers): 400.
    InvalidRequest,
    /// The access token is expired, revoked, malformed or otherwise invalid: 401.
    InvalidToken,
    /// The access token lacks a scope the resource requires: 403.
    InsufficientScope,
    /// The DPoP proof is missing, invalid or replayed (RFC 9449 §7.1): 401.
    InvalidDpopProof,
    /// The DPoP proof lacks a nonce this server issued recently (RFC 9449 §9): 401, with a
    /// fresh nonce in the `DPoP-Nonce` header.
    UseDpopNonce,
    /// The user's sign-in behind the access token is not strong or recent enough (RFC 9470
    /// §3): 401, with `acr_values` and/or `max_age`.
    InsufficientUserAuthentication,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InsufficientUserAuthentication => "insufficient_user_authentication",
        }
    }

    /// The HTTP status RFC 6750 §3.1 pairs with this code.
    pub const fn status(self) -> http::StatusCode {
        match self {
            Self::InvalidRequest => http::StatusCode::BAD_REQUEST,
            Self::InvalidToken
            | Self::InvalidDpopProof
            | Self::UseDpopNonce
            | Self::InsufficientUserAuthentication => http::StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => http::StatusCode::FORBIDDEN,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value was refused by the [`Challenge`] builder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The realm or description holds a character outside `%x20-21 / %x23-5B / %x5D-7E`.
    #[error("the {0} may only hold printable ASCII other than '\"' and '\\'")]
    InvalidText(&'static str),
    /// A scope is empty or holds a character outside the RFC 6749 `scope-token` set.
    #[error(
        "each scope must be a non-empty RFC 6749 scope-token (printable ASCII except space, '\"' and '\\')"
    )]
    InvalidScope,
    /// The `error_uri` or `resource_metadata` URL is empty or holds a character outside
    /// `%x21 / %x23-5B / %x5D-7E`.
    #[error(
        "the error_uri and resource_metadata may only hold printable ASCII other than space, '\"' and '\\'"
    )]
    InvalidUri,
    /// An `acr_values` entry is empty or holds a character outside `%x21 / %x23-5B / %x5D-7E`.
    #[error(
        "each acr value must be a non-empty run of printable ASCII other than space, '\"' and '\\'"
    )]
    InvalidAcrValue,
}

/// `true` for the characters RFC 6750 allows in `realm`-like text and `error_description`:
/// `%x20-21 / %x23-5B / %x5D-7E`.
pub(crate) const fn is_description_char(byte: u8) -> bool {
    matches!(byte, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// A bearer challenge, rendered as a `WWW-Authenticate` header value.
///
/// ```
/// use portcullis::response::{Challenge, ErrorCode};
///
/// let challenge = Challenge::new("documents")?
///     .error(ErrorCode::InsufficientScope)
///     .scopes(["docs:write"])?;
/// assert_eq!(
///     challenge.to_string(),
///     r#"Bearer realm="documents", error="insufficient_scope", scope="docs:write""#,
/// );
/// # Ok::<(), portcullis::response::ChallengeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    realm: String,
    error: Option<ErrorCode>,
    error_description: Option<String>,
    error_uri: Option<String>,
    scope: Option<String>,
    /// RFC 9470's `acr_values`: the accepted classes, space-separated.
    acr_values: Option<String>,
    /// RFC 9470's `max_age`, in seconds.
    max_age: Option<u64>,
    /// `Some` for a `DPoP` challenge (RFC 9449 §7.1): the accepted proof algorithms, the
    /// `algs` attribute.
    dpop_algs: Option<String>,
    /// The URL of the resource's RFC 9728 metadata document (§5.1).
    resource_metadata: Option<String>,
}

impl Challenge {
    /// A challenge with only a realm: what a request without credentials gets.
    pub fn new(realm: impl Into<String>) -> Result<Self, ChallengeError> {
        let realm = realm.into();
        check_text(&realm, "realm")?;
        Ok(Self {
            realm,
            error: None,
            error_description: None,
            error_uri: None,
            scope: None,
            acr_values: None,
            max_age: None,
            dpop_algs: None,
            resource_metadata: None,
        })
    }

    /// Sets the `error` code.
    #[must_use]
    pub fn error(mut self, code: ErrorCode) -> Self {
        self.error = Some(code);
        self
    }

    /// Sets the human-readable `error_description`.
    pub fn description(mut self, text: impl Into<String>) -> Result<Self, ChallengeError> {
        let text = text.into();
        check_text(&text, "error_description")?;
        self.error_description = Some(text);
        Ok(self)
    }

    /// Sets the `error_uri`, a page explaining the error.
    pub fn error_uri(mut self, uri: impl Into<String>) -> Result<Self, ChallengeError> {
        self.error_uri = Some(checked_uri(uri.into())?);
        Ok(self)
    }

    /// Sets the `scope` attribute: the scopes the resource requires, space-separated.
    ///
    /// An empty list removes the attribute.
    pub fn scopes<I, T>(mut self, scopes: I) -> Result<Self, ChallengeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut joined = String::new();
        for scope in scopes {
            let scope = scope.as_ref();
            if !is_scope_token(scope) {
                return Err(ChallengeError::InvalidScope);
            }
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(scope);
        }
        self.scope = (!joined.is_empty()).then_some(joined);
        Ok(self)
    }

    /// Sets the `acr_values` attribute (RFC 9470 §3): the authentication context classes the
    /// resource accepts, in order of preference, space-separated. An empty list removes it.
    ///
    /// ```
    /// use portcullis::response::{Challenge, ErrorCode};
    ///
    /// let challenge = Challenge::new("documents")?
    ///     .error(ErrorCode::InsufficientUserAuthentication)
    ///     .acr_values(["urn:documents:mfa"])?
    ///     .max_age(600);
    /// assert_eq!(
    ///     challenge.to_string(),
    ///     r#"Bearer realm="documents", error="insufficient_user_authentication", acr_values="urn:documents:mfa", max_age="600""#,
    /// );
    /// # Ok::<(), portcullis::response::ChallengeError>(())
    /// ```
    pub fn acr_values<I, T>(mut self, values: I) -> Result<Self, ChallengeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut joined = String::new();
        for value in values {
            let value = value.as_ref();
            if !is_scope_token(value) {
                return Err(ChallengeError::InvalidAcrValue);
            }
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(value);
        }
        self.acr_values = (!joined.is_empty()).then_some(joined);
        Ok(self)
    }

    /// Sets the `max_age` attribute (RFC 9470 §3): the longest time, in seconds, since the
    /// user last signed in actively that the resource accepts.
    #[must_use]
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Sets the `resource_metadata` attribute (RFC 9728 §5.1): the URL of the protected
    /// resource metadata document, where a client finds which authorization server to ask.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Result<Self, ChallengeError> {
        self.resource_metadata = Some(checked_uri(url.into())?);
        Ok(self)
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The same challenge with the `DPoP` scheme, naming the accepted proof algorithms
    /// (`algs`, space-separated JOSE names, which need no quoting).
    pub(crate) fn dpop(mut self, algs: &str) -> Self {
        self.dpop_algs = Some(algs.to_owned());
        self
    }

    /// The header value. Infallible: every part was checked when it was set.
    pub fn to_header_value(&self) -> HeaderValue {
        // Every byte was checked to be visible ASCII or space, which `HeaderValue` accepts.
        HeaderValue::try_from(self.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.dpop_algs.is_some() { "DPoP" } else { "Bearer" };
        write!(f, "{scheme} realm=\"{}\"", self.realm)?;
        if let Some(code) = self.error {
            write!(f, ", error=\"{code}\"")?;
        }
        if let Some(description) = &self.error_description {
            write!(f, ", error_description=\"{description}\"")?;
        }
        if let Some(uri) = &self.error_uri {
            write!(f, ", error_uri=\"{uri}\"")?;
        }
        if let Some(scope) = &self.scope {
            write!(f, ", scope=\"{scope}\"")?;
        }
        if let Some(acr_values) = &self.acr_values {
            write!(f, ", acr_values=\"{acr_values}\"")?;
        }
        if let Some(max_age) = self.max_age {
            write!(f, ", max_age=\"{max_age}\"")?;
        }
        if let Some(algs) = &self.dpop_algs {
            write!(f, ", algs=\"{algs}\"")?;
        }
        if let Some(url) = &self.resource_metadata {
            write!(f, ", resource_metadata=\"{url}\"")?;
        }
        Ok(())
    }
}

/// `uri` when it is a non-empty run of `%x21 / %x23-5B / %x5D-7E`, which needs no quoting.
fn checked_uri(uri: String) -> Result<String, ChallengeError> {
    if uri.is_empty() || !uri.bytes().all(is_scope_char) {
        return Err(ChallengeError::InvalidUri);
    }
    Ok(uri)
}

fn check_text(text: &str, what: &'static str) -> Result<(), ChallengeError> {
    if text.bytes().all(is_description_char) {
        Ok(())
    } else {
        Err(ChallengeError::InvalidText(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_challenge_has_only_the_realm() {
        let challenge = Challenge::new("api").unwrap();
        assert_eq!(challenge.to_string(), r#"Bearer realm="api""#);
        assert_eq!(challenge.to_header_value(), r#"Bearer realm="api""#);
    }

    #[test]
    fn full_challenge_renders_every_param_once_in_order() {
        let challenge = Challenge::new("api")
            .and_then(|c| c.error(ErrorCode::InvalidToken).description("The access token expired"))
            .and_then(|c| c.error_uri("https://example.com/errors#expired"))
            .and_then(|c| c.scopes(["a", "b:c"]))
            .unwrap();
        assert_eq!(
            challenge.to_string(),
            r#"Bearer realm="api", error="invalid_token", error_description="The access token expired", error_uri="https://example.com/errors#expired", scope="a b:c""#
        );
        let with_metadata = challenge
            .resource_metadata("https://api.example/.well-known/oauth-protected-resource")
            .unwrap()
            .dpop("ES256");
        assert_eq!(
            with_metadata.to_string(),
            r#"DPoP realm="api", error="invalid_token", error_description="The access token expired", error_uri="https://example.com/errors#expired", scope="a b:c", algs="ES256", resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
        );
    }

    #[test]
    fn refuses_values_that_would_need_escaping() {
        assert_eq!(Challenge::new("a\"b"), Err(ChallengeError::InvalidText("realm")));
        assert_eq!(Challenge::new("a\\b"), Err(ChallengeError::InvalidText("realm")));
        assert_eq!(Challenge::new("é"), Err(ChallengeError::InvalidText("realm")));
        assert_eq!(Challenge::new("a\nb"), Err(ChallengeError::InvalidText("realm")));
        let base = Challenge::new("api").unwrap();
        assert!(base.clone().description("tab\there").is_err());
        assert_eq!(base.clone().scopes(["two words"]), Err(ChallengeError::InvalidScope));
        assert_eq!(base.clone().scopes([""]), Err(ChallengeError::InvalidScope));
        assert_eq!(base.clone().error_uri("has space"), Err(ChallengeError::InvalidUri));
        assert_eq!(base.clone().error_uri(""), Err(ChallengeError::InvalidUri));
        assert_eq!(base.clone().resource_metadata("a\"b"), Err(ChallengeError::InvalidUri));
        assert_eq!(base.resource_metadata(""), Err(ChallengeError::InvalidUri));
    }

    #[test]
    fn empty_scope_list_removes_the_attribute() {
        let challenge = Challenge::new("api").and_then(|c| c.scopes(Vec::<String>::new())).unwrap();
        assert_eq!(challenge.to_string(), r#"Bearer realm="api""#);
    }

    #[test]
    fn error_codes_match_their_status() {
        assert_eq!(ErrorCode::InvalidRequest.status(), 400);
        assert_eq!(ErrorCode::InvalidToken.status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
        assert_eq!(ErrorCode::InvalidDpopProof.status(), 401);
        assert_eq!(ErrorCode::UseDpopNonce.status(), 401);
        assert_eq!(ErrorCode::InsufficientUserAuthentication.status(), 401);
    }

    #[test]
    fn step_up_attributes_render_before_the_dpop_and_metadata_ones() {
        let challenge = Challenge::new("api")
            .map(|c| c.error(ErrorCode::InsufficientUserAuthentication))
            .and_then(|c| c.acr_values(["urn:mfa", "urn:hwk"]))
            .and_then(|c| c.resource_metadata("https://api.example/.well-known/x"))
            .map(|c| c.max_age(600).dpop("ES256"))
            .unwrap();
        assert_eq!(
            challenge.to_string(),
            r#"DPoP realm="api", error="insufficient_user_authentication", acr_values="urn:mfa urn:hwk", max_age="600", algs="ES256", resource_metadata="https://api.example/.well-known/x""#
        );
        let base = Challenge::new("api").unwrap();
        for bad in ["", "two words", "a\"b", "a\\b", "é"] {
            assert_eq!(base.clone().acr_values([bad]), Err(ChallengeError::InvalidAcrValue));
        }
        let none = base.acr_values(Vec::<String>::new()).unwrap();
        assert_eq!(none.to_string(), r#"Bearer realm="api""#);
    }

    #[test]
    fn scope_token_grammar() {
        assert!(is_scope_token("docs:write"));
        assert!(is_scope_token("!#[]~"));
        for bad in ["", " ", "a b", "a\"b", "a\\b", "é", "a\u{7f}"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }
}
