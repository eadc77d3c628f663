//! The metrics themselves: one function per event, each a no-op without the `metrics` feature.
//! Every label value is a `&'static str` of a closed set, or configuration (a key source).

#[cfg(feature = "metrics")]
use std::time::Instant;

#[cfg(feature = "metrics")]
use super::metric;
use super::{Outcome, Stage};

/// When a guard started deciding: a clock read with the `metrics` feature, nothing without.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started {
    #[cfg(feature = "metrics")]
    at: Instant,
}

impl Started {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            at: Instant::now(),
        }
    }
}

/// A guard decided: one decision, and its duration.
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(super) fn decided(
    stage: Stage,
    outcome: Outcome,
    reason: &'static str,
    cache_hit: bool,
    started: Started,
) {
    #[cfg(feature = "metrics")]
    {
        let seconds = started.at.elapsed().as_secs_f64();
        metrics::counter!(
            metric::GUARD_DECISIONS,
            "portcullis.stage" => stage.as_str(),
            "portcullis.outcome" => outcome.as_str(),
            "portcullis.reason" => reason,
        )
        .increment(1);
        metrics::histogram!(
            metric::GUARD_DURATION,
            "portcullis.outcome" => outcome.as_str(),
            "portcullis.token.cache" => if cache_hit { "hit" } else { "miss" },
        )
        .record(seconds);
    }
}

/// An extractor refused the request's shape: `reason` is the rejection's code; `failed` for a
/// server-side mismatch (500).
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn shape_refused(reason: &'static str, failed: bool) {
    #[cfg(feature = "metrics")]
    {
        let outcome = if failed { Outcome::Failed } else { Outcome::Denied };
        metrics::counter!(
            metric::GUARD_DECISIONS,
            "portcullis.stage" => Stage::Shape.as_str(),
            "portcullis.outcome" => outcome.as_str(),
            "portcullis.reason" => reason,
        )
        .increment(1);
    }
}

/// A key source's fetch ended; `source` is its configured issuer or URL.
#[cfg(feature = "jwks")]
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn key_refresh(source: &str, success: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        metric::KEYS_REFRESHES,
        "portcullis.key_source" => source.to_owned(),
        "portcullis.result" => if success { "success" } else { "failure" },
    )
    .increment(1);
}

/// A key source holds `keys` usable keys now.
#[cfg(feature = "jwks")]
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn keys_held(source: &str, keys: usize) {
    #[cfg(feature = "metrics")]
    {
        #[allow(clippy::cast_precision_loss, reason = "a key count is far below 2^52")]
        let keys = keys as f64;
        metrics::gauge!(metric::KEYS_HELD, "portcullis.key_source" => source.to_owned()).set(keys);
    }
}

/// The introspection endpoint answered `active`, `inactive` (or a refused answer), or `error`.
#[cfg(feature = "introspection")]
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn introspection_call(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(metric::INTROSPECTION_CALLS, "portcullis.result" => result).increment(1);
}

/// A request needed an introspection call and none of the allowed ones was free.
#[cfg(feature = "introspection")]
#[inline]
pub(crate) fn introspection_saturated() {
    #[cfg(feature = "metrics")]
    metrics::counter!(metric::INTROSPECTION_SATURATED).increment(1);
}

/// A DPoP proof was checked: `accepted`, `refused`, `replayed` or `store_error`.
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn dpop_proof(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(metric::DPOP_PROOFS, "portcullis.result" => result).increment(1);
}
