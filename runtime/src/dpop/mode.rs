//! Whether DPoP-bound tokens are accepted, and whether bearer tokens still are.

use std::str::FromStr;

/// How a verifier treats DPoP (RFC 9449), set with
/// [`Dpop`](crate::config::Dpop) or `PORTCULLIS_DPOP`.
///
/// In every mode, `Off` included, a token with a `cnf` claim is refused with 401 `invalid_token`
/// unless its `cnf` is exactly a `jkt` that the request's DPoP proof proves: a bound token is
/// never a bearer token. A request with a `DPoP` header and a token that is not bound is refused
/// too (401 `invalid_dpop_proof`).
///
/// ```
/// use portcullis::dpop::DpopMode;
///
/// assert_eq!("allowed".parse(), Ok(DpopMode::Allowed));
/// assert_eq!(DpopMode::default(), DpopMode::Off);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DpopMode {
    /// The default: only bearer tokens; the `DPoP` scheme is not recognised.
    #[default]
    Off,
    /// Bearer tokens and DPoP-bound tokens with their proofs are both accepted.
    Allowed,
    /// Only DPoP-bound tokens with their proofs: a bearer token is 401 `invalid_token`.
    Required,
}

impl FromStr for DpopMode {
    type Err = UnknownDpopMode;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "allowed" => Ok(Self::Allowed),
            "required" => Ok(Self::Required),
            _ => Err(UnknownDpopMode),
        }
    }
}

/// A DPoP mode other than `off`, `allowed` or `required` was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the DPoP mode must be `off`, `allowed` or `required`")]
pub struct UnknownDpopMode;
