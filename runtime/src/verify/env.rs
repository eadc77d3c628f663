//! The environment variables [`VerifierBuilder::from_env`](crate::config::VerifierBuilder::from_env)
//! reads.

/// The accepted issuers (`iss`), separated by spaces, or [`ANY_ISSUER`] for any issuer. Without
/// [`JWKS_URL`] and keys in code, each issuer's keys are found by its own discovery document.
pub const ISSUER: &str = "PORTCULLIS_ISSUER";
/// The value of [`ISSUER`] that accepts any issuer (with keys from [`JWKS_URL`]): `*`.
pub const ANY_ISSUER: &str = "*";
/// The accepted `aud` values, comma-separated.
pub const AUDIENCE: &str = "PORTCULLIS_AUDIENCE";
/// A JWKS URL to fetch keys from. Without it, and without keys configured in code, keys
/// are found by OpenID Connect discovery from [`ISSUER`].
pub const JWKS_URL: &str = "PORTCULLIS_JWKS_URL";
/// `true` to allow plain `http://` key and discovery URLs to hosts that are not loopback (a
/// `docker compose` set-up's `http://keycloak:8080`, say), logged as a warning at start;
/// `false` (the default) refuses them. For development only: keys fetched in clear text can be
/// swapped by anyone on the path.
pub const ALLOW_HTTP: &str = "PORTCULLIS_ALLOW_HTTP";
/// The realm of the `WWW-Authenticate` challenges.
pub const REALM: &str = "PORTCULLIS_REALM";
/// The claims that hold roles: dotted paths, comma-separated (`realm_access.roles,roles`).
pub const ROLES_CLAIM: &str = "PORTCULLIS_ROLES_CLAIM";
/// `production` (the default) or `development`.
pub const DISCLOSURE: &str = "PORTCULLIS_DISCLOSURE";
/// `jwt` (the default: `typ` absent, `JWT` or `at+jwt`) or `rfc9068` (`at+jwt` and RFC 9068's
/// claims required); see [`TokenProfile`](crate::config::TokenProfile).
pub const TOKEN_PROFILE: &str = "PORTCULLIS_TOKEN_PROFILE";

/// `off` (the default), `allowed` or `required`: whether DPoP-bound tokens (RFC 9449) are
/// accepted with their proofs, and whether bearer tokens still are; see
/// [`DpopMode`](crate::dpop::DpopMode).
pub const DPOP: &str = "PORTCULLIS_DPOP";
/// The public URL of this API (`https://api.example.com`, or with a path prefix), as clients
/// reach it: the origin a DPoP proof's `htu` is compared with (a server behind a proxy cannot
/// trust its own view of it). Required when [`DPOP`] is on.
pub const RESOURCE: &str = "PORTCULLIS_RESOURCE";
/// `true` to require server-provided nonces in DPoP proofs (RFC 9449 §9), under a key drawn
/// at random at start (or [`DPOP_NONCE_KEY`]): right for one instance, as another instance
/// refuses this one's nonces; `false` (the default) does not.
pub const DPOP_NONCE: &str = "PORTCULLIS_DPOP_NONCE";
/// The key of the DPoP nonces, base64url (padding optional), at least 32 bytes once decoded:
/// give every instance that serves one API the same key, and each accepts the nonces the others
/// issue ([`DpopNonces::with_key`](crate::dpop::DpopNonces::with_key)). Setting it turns nonces on
/// (with [`DPOP_NONCE`] absent or `true`). A secret: an error about it never shows the value.
pub const DPOP_NONCE_KEY: &str = "PORTCULLIS_DPOP_NONCE_KEY";

/// The RFC 7662 introspection endpoint, for opaque access tokens. Without it, and with
/// [`INTROSPECTION_CLIENT_ID`] set, the endpoint is the `introspection_endpoint` of the discovery
/// document of [`ISSUER`].
pub const INTROSPECTION_URL: &str = "PORTCULLIS_INTROSPECTION_URL";
/// The client id this API authenticates to the introspection endpoint with.
pub const INTROSPECTION_CLIENT_ID: &str = "PORTCULLIS_INTROSPECTION_CLIENT_ID";
/// The client secret that goes with [`INTROSPECTION_CLIENT_ID`]; never logged.
pub const INTROSPECTION_CLIENT_SECRET: &str = "PORTCULLIS_INTROSPECTION_CLIENT_SECRET";
/// How many introspection calls may be in progress at once, a positive integer (default 32);
/// past it, a request whose token needs a call gets 503 at once. See
/// [`Introspection::max_concurrent_calls`](crate::introspection::Introspection::max_concurrent_calls).
pub const INTROSPECTION_MAX_CONCURRENT: &str = "PORTCULLIS_INTROSPECTION_MAX_CONCURRENT";
/// The prefixes the provider's opaque tokens start with, comma-separated (`ory_at_`): any other
/// opaque token is refused without a call. See
/// [`Introspection::opaque_token_prefix`](crate::introspection::Introspection::opaque_token_prefix).
pub const INTROSPECTION_TOKEN_PREFIX: &str = "PORTCULLIS_INTROSPECTION_TOKEN_PREFIX";

/// Every variable above, in the order they are documented: what an application checks its
/// environment against, so that a misspelt `PORTCULLIS_*` variable (`PORTCULLIS_ISUER`) can be
/// reported instead of silently ignored. [`ANY_ISSUER`] is a value, not a variable.
pub const ALL: &[&str] = &[
    ISSUER,
    AUDIENCE,
    JWKS_URL,
    ALLOW_HTTP,
    REALM,
    ROLES_CLAIM,
    DISCLOSURE,
    TOKEN_PROFILE,
    DPOP,
    RESOURCE,
    DPOP_NONCE,
    DPOP_NONCE_KEY,
    INTROSPECTION_URL,
    INTROSPECTION_CLIENT_ID,
    INTROSPECTION_CLIENT_SECRET,
    INTROSPECTION_MAX_CONCURRENT,
    INTROSPECTION_TOKEN_PREFIX,
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn all_names_every_variable_of_this_module_once() {
        // Every `pub const` of this file whose value is a `PORTCULLIS_` name, read from the source
        // itself, so that a variable added above without being added to `ALL` fails here.
        let source = include_str!("env.rs");
        let declared: Vec<&str> = source
            .lines()
            .filter(|line| line.starts_with("pub const ") && line.contains("= \"PORTCULLIS_"))
            .filter_map(|line| line.split('"').nth(1))
            .collect();
        assert_eq!(declared.len(), 17, "{declared:?}");
        assert_eq!(ALL, declared.as_slice());
    }
}
