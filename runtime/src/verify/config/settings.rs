//! The plain settings' defaults and the two small types the builder, the values and the
//! environment share: what a claim must say ([`Expect`]) and whether keys come by discovery.
//! Imports nothing of the configuration, so that every file of it may import this one.

use std::time::Duration;

/// The realm used when none is configured.
pub const DEFAULT_REALM: &str = "api";

/// The clock skew tolerated on `exp` and `nbf` when none is configured.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The largest leeway accepted: clock skew is seconds, not days.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60 * 60);

/// Which values of a claim are accepted: unset (a configuration error), some, or any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expect {
    Unset,
    OneOf(Vec<String>),
    Any,
}

impl Expect {
    pub(super) fn add(&mut self, value: String) {
        match self {
            Self::OneOf(values) if values.contains(&value) => {}
            Self::OneOf(values) => values.push(value),
            _ => *self = Self::OneOf(vec![value]),
        }
    }
}

/// Whether the issuers' keys are found by discovery, as `PORTCULLIS_ISSUER` alone implies
/// (discovery asked for in code makes a [`TrustedIssuer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Discovery {
    Off,
    /// Implied by `PORTCULLIS_ISSUER` alone: used only when no key is configured otherwise.
    FromEnv,
}
