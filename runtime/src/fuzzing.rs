//! Entry points for the fuzz targets (`fuzz/`), compiled only under `cfg(fuzzing)`, which
//! cargo-fuzz and `fuzz/ci` set: the readers of documents that otherwise only arrive over HTTP
//! (a published key set, a discovery document, an introspection answer), reached without a
//! server. Hidden, and absent from every other build: not a public API.

use crate::keys::{Algorithm, JwksMode, KeyError, KeySet, parse_jwks};

/// A key set an identity provider publishes, read as the key refresh reads it: every key it
/// cannot use skipped, keys restricted to the `accepted` algorithms.
pub fn published_jwks(document: &[u8], accepted: &[Algorithm]) -> Result<KeySet, KeyError> {
    parse_jwks(document, JwksMode::Lenient { accepted })
}

/// The `jwks_uri` a discovery document `body`, served at `served_at`, names for `issuer`, as
/// key discovery reads it; the error as it is logged.
#[cfg(feature = "jwks")]
pub fn discovered_jwks_uri(
    served_at: &str,
    body: &[u8],
    issuer: &str,
    allow_http: bool,
) -> Result<String, String> {
    let url = reqwest::Url::parse(served_at).map_err(|error| error.to_string())?;
    let fetched = crate::keys::Fetched { url, body: body.to_vec(), max_age: None };
    crate::keys::jwks_uri(&fetched, issuer, allow_http)
        .map(String::from)
        .map_err(|error| error.to_string())
}

/// What `verifier` makes of an introspection answer `body` from an endpoint speaking for
/// `issuer`: `Ok(None)` for an inactive token, the principal of an active one, or why the
/// answer is refused (a failed call, or an active answer the claim rules refuse).
#[cfg(feature = "introspection")]
pub fn introspection_answer(
    verifier: &crate::Verifier,
    body: &[u8],
    issuer: Option<&str>,
) -> Result<Option<crate::Principal>, String> {
    match crate::introspect::read_answer(body) {
        None => Err("not an introspection answer".to_owned()),
        Some(crate::introspect::Answer::Inactive) => Ok(None),
        Some(crate::introspect::Answer::Active(members)) => verifier
            .accept_introspected(members, issuer)
            .map(|(principal, _)| Some(principal))
            .map_err(|reason| format!("{reason:?}")),
    }
}
