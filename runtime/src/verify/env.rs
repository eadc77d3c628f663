//! The environment variables [`VerifierBuilder::from_env`](crate::VerifierBuilder::from_env)
//! reads.

use super::builder::ConfigError;

/// The expected `iss`.
pub const ISSUER: &str = "PORTCULLIS_ISSUER";
/// The accepted `aud` values, comma-separated.
pub const AUDIENCE: &str = "PORTCULLIS_AUDIENCE";
/// A JWKS URL to fetch keys from. Without it, and without keys configured in code, keys
/// are found by OpenID Connect discovery from [`ISSUER`].
pub const JWKS_URL: &str = "PORTCULLIS_JWKS_URL";
/// The realm of the `WWW-Authenticate` challenges.
pub const REALM: &str = "PORTCULLIS_REALM";
/// `production` (the default) or `development`.
pub const DISCLOSURE: &str = "PORTCULLIS_DISCLOSURE";

// --- introspection (issue 17) ---

/// The RFC 7662 introspection endpoint, for opaque access tokens. Without it, and with
/// [`INTROSPECTION_CLIENT_ID`] set, the endpoint is the `introspection_endpoint` of the discovery
/// document of [`ISSUER`].
pub const INTROSPECTION_URL: &str = "PORTCULLIS_INTROSPECTION_URL";
/// The client id this API authenticates to the introspection endpoint with.
pub const INTROSPECTION_CLIENT_ID: &str = "PORTCULLIS_INTROSPECTION_CLIENT_ID";
/// The client secret that goes with [`INTROSPECTION_CLIENT_ID`]; never logged.
pub const INTROSPECTION_CLIENT_SECRET: &str = "PORTCULLIS_INTROSPECTION_CLIENT_SECRET";

/// The value of `var` through `lookup`, trimmed: `None` when unset, an error naming the variable
/// when it is set but empty or not UTF-8.
pub(super) fn read(
    lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
    var: &'static str,
) -> Result<Option<String>, ConfigError> {
    let Some(value) = lookup(var) else { return Ok(None) };
    let value = value
        .into_string()
        .map_err(|_| ConfigError::Env { var, problem: "the value is not UTF-8" })?;
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::Env { var, problem: "the value is empty" });
    }
    Ok(Some(value.to_owned()))
}
