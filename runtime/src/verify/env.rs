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
/// The claims that hold roles: dotted paths, comma-separated (`realm_access.roles,roles`).
pub const ROLES_CLAIM: &str = "PORTCULLIS_ROLES_CLAIM";
/// `production` (the default) or `development`.
pub const DISCLOSURE: &str = "PORTCULLIS_DISCLOSURE";

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
