//! Which tokens are access tokens for this API: the `typ` header (RFC 8725 §3.11) and, under
//! RFC 9068's profile, the claims such an access token must carry (RFC 9068 §2.2).
//!
//! Checked with the header and the registered claims, before any signature work; a token
//! refused here is never cached, since only verified tokens are.

use std::fmt;
use std::str::FromStr;

/// What kind of JWT is accepted as an access token.
///
/// ```
/// use portcullis::config::TokenProfile;
///
/// let profile: TokenProfile = "rfc9068".parse()?;
/// assert_eq!(profile, TokenProfile::Rfc9068);
/// assert_eq!(TokenProfile::default(), TokenProfile::Jwt);
/// # Ok::<(), portcullis::config::UnknownTokenProfile>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenProfile {
    /// The default: `typ` absent, `JWT`, `at+jwt` or `application/at+jwt` (case-insensitive,
    /// the `application/` prefix optional as RFC 7515 §4.1.9 allows). Any other type (an ID
    /// token's, `dpop+jwt`, `logout+jwt`, `secevent+jwt`, …) is refused: a JWT of another kind,
    /// signed by the same issuer, must not pass as an access token.
    #[default]
    Jwt,
    /// RFC 9068: `typ` must be `at+jwt` (or `application/at+jwt`), and `iss`, `exp`, `aud`,
    /// `sub`, `client_id`, `iat` and `jti` are required.
    Rfc9068,
}

/// The claims RFC 9068 §2.2 requires of a JWT access token.
const RFC9068_CLAIMS: [&str; 7] = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"];

impl TokenProfile {
    /// The profile's name, as `PORTCULLIS_TOKEN_PROFILE` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Rfc9068 => "rfc9068",
        }
    }

    /// Whether a header whose `typ` is `typ` (`None`: absent) is of an accepted type.
    pub(crate) fn accepts_type(self, typ: Option<&str>) -> bool {
        let Some(typ) = typ else { return self == Self::Jwt };
        // RFC 7515 §4.1.9: "application/" may be omitted, and media types are case-insensitive.
        let bare = match (typ.get(..12), typ.get(12..)) {
            (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("application/") => rest,
            _ => typ,
        };
        let at_jwt = bare.eq_ignore_ascii_case("at+jwt");
        match self {
            Self::Jwt => at_jwt || bare.eq_ignore_ascii_case("jwt"),
            Self::Rfc9068 => at_jwt,
        }
    }

    /// The claims a token must carry under this profile, beyond `exp` (always required).
    pub(crate) const fn required_claims(self) -> &'static [&'static str] {
        match self {
            Self::Jwt => &[],
            Self::Rfc9068 => &RFC9068_CLAIMS,
        }
    }
}

impl fmt::Display for TokenProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenProfile {
    type Err = UnknownTokenProfile;

    /// `jwt` or `rfc9068`, case-insensitive.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "jwt" => Ok(Self::Jwt),
            "rfc9068" => Ok(Self::Rfc9068),
            _ => Err(UnknownTokenProfile),
        }
    }
}

/// A token profile other than `jwt` or `rfc9068` was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token profile must be `jwt` or `rfc9068`")]
pub struct UnknownTokenProfile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_accepts_access_token_types_only() {
        for typ in [None, Some("JWT"), Some("jwt"), Some("at+jwt"), Some("AT+JWT")] {
            assert!(TokenProfile::Jwt.accepts_type(typ), "{typ:?}");
        }
        for typ in ["application/at+jwt", "Application/AT+JWT", "application/jwt"] {
            assert!(TokenProfile::Jwt.accepts_type(Some(typ)), "{typ}");
        }
        for typ in
            ["dpop+jwt", "logout+jwt", "secevent+jwt", "id_token+jwt", "", "JOSE", "application/"]
        {
            assert!(!TokenProfile::Jwt.accepts_type(Some(typ)), "{typ}");
        }
    }

    #[test]
    fn rfc9068_requires_at_jwt() {
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
            assert!(TokenProfile::Rfc9068.accepts_type(Some(typ)), "{typ}");
        }
        for typ in [None, Some("JWT"), Some("dpop+jwt"), Some("application/jwt")] {
            assert!(!TokenProfile::Rfc9068.accepts_type(typ), "{typ:?}");
        }
        assert_eq!(TokenProfile::Rfc9068.required_claims().len(), 7);
        assert!(TokenProfile::Jwt.required_claims().is_empty());
    }

    #[test]
    fn names_parse() {
        assert_eq!("RFC9068".parse(), Ok(TokenProfile::Rfc9068));
        assert_eq!(" jwt ".parse(), Ok(TokenProfile::Jwt));
        assert_eq!("9068".parse::<TokenProfile>(), Err(UnknownTokenProfile));
        for profile in [TokenProfile::Jwt, TokenProfile::Rfc9068] {
            assert_eq!(profile.to_string().parse(), Ok(profile));
        }
    }
}
