//! The environment variables [`VerifierBuilder::from_env`](crate::VerifierBuilder::from_env)
//! reads.

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
