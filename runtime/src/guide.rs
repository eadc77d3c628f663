//! The guide: portcullis explained one concept at a time. Every example on these pages is
//! compiled (and, where it needs no network, run) by the crate's tests.
//!
//! 1. [`quick_start`]: the dependencies, a first guarded handler, and a test for it.
//! 2. [`authorization`]: scopes, roles, policies, resource access, optional sign-in and the
//!    router-wide layer.
//! 3. [`identity_providers`]: presets for Auth0, Keycloak, Entra ID, Okta, Cognito and Google,
//!    discovery, several issuers, token types, and the checks at start.
//! 4. [`configuration`]: the builder, the `PORTCULLIS_*` environment variables, and what a
//!    refusal discloses.
//! 5. [`testing`]: tokens for your own tests, and what to assert.
//! 6. [`validated_input`](validated_input/index.html): path, query and body extractors that answer with problem documents.
//! 7. [`dpop`]: sender-constrained tokens (RFC 9449).
//! 8. [`resource_metadata`]: protected resource metadata (RFC 9728), and MCP servers.
//! 9. [`introspection`](introspection/index.html): opaque access tokens (RFC 7662; feature `introspection`).
//! 10. [`openapi`](openapi/index.html): the OpenAPI description of the guards (feature `openapi`).

#[doc = include_str!("../docs/guide/quick_start.md")]
pub mod quick_start {}

#[doc = include_str!("../docs/guide/authorization.md")]
pub mod authorization {}

#[doc = include_str!("../docs/guide/identity_providers.md")]
pub mod identity_providers {}

#[doc = include_str!("../docs/guide/configuration.md")]
pub mod configuration {}

#[doc = include_str!("../docs/guide/testing.md")]
pub mod testing {}

#[cfg(feature = "garde")]
#[cfg_attr(docsrs, doc(cfg(feature = "garde")))]
#[doc = include_str!("../docs/guide/validated_input.md")]
pub mod validated_input {}

#[doc = include_str!("../docs/guide/dpop.md")]
pub mod dpop {}

#[doc = include_str!("../docs/guide/resource_metadata.md")]
pub mod resource_metadata {}

#[cfg(feature = "introspection")]
#[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
#[doc = include_str!("../docs/guide/introspection.md")]
pub mod introspection {}

#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
#[doc = include_str!("../docs/guide/openapi.md")]
pub mod openapi {}
