//! Configuring a [`Verifier`](crate::Verifier): in code with [`VerifierBuilder`], or from the
//! environment ([`env`]); [`VerifierBuilder::build`] runs each setting's and value's own check.
//!
//! One file per thing the configuration holds: `settings` (the defaults, and what a claim must
//! say), `builder` (the core settings, and `build`),
//! `keys` (keys and issuers), `dpop` ([`Dpop`]), `resource` ([`ResourceMetadata`]),
//! `introspection` (`Introspection`), `preset` ([`Preset`]), `env` (the variables, and
//! `from_env`/`with_env`), `dangerous` (the settings that weaken verification, behind
//! [`VerifierBuilder::dangerous`]) and `error` ([`ConfigError`], by category).
//!
//! Imports flow one way, with no circle: `settings` and `error` import nothing of the
//! configuration; the values (`dpop`, `resource`, `introspection`) import only those two;
//! `builder` imports the values; `keys`, `env`, `dangerous` and `preset` (which add to the
//! builder) import `builder`, and `keys` imports `env`. From the rest of the crate, `verify`'s steps, `keys`, `dpop`,
//! `introspect`, `respond` and `scope`.

mod builder;
mod dangerous;
mod dpop;
pub mod env;
mod error;
#[cfg(feature = "introspection")]
mod introspection;
mod keys;
mod preset;
mod resource;
mod settings;

pub use super::cache::TokenCache;
pub use super::claims::ScopeClaim;
pub use super::issuers::TrustedIssuer;
pub use super::profile::{TokenProfile, UnknownTokenProfile};
pub use super::token::DEFAULT_MAX_TOKEN_LEN;
pub use builder::VerifierBuilder;
pub use dangerous::Dangerous;
pub use dpop::Dpop;
#[cfg(feature = "jwks")]
pub(crate) use error::from_var;
pub use error::{
    ConfigError, DpopError, EnvError, EnvProblem, IntrospectionError, IssuerError, KeysError,
    ResourceError, SettingError,
};
#[cfg(feature = "introspection")]
pub use introspection::Introspection;
pub use preset::Preset;
pub use resource::ResourceMetadata;
pub use settings::{DEFAULT_LEEWAY, DEFAULT_REALM, MAX_LEEWAY};
