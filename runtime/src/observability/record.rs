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
        if let (Stage::Complete, Outcome::Allowed) = (stage, outcome) {
            // The common case, on every allowed request: keys built once (a key built from
            // labels chosen per call is a vector and a hash of every label, each time).
            let duration = if cache_hit { &allowed::DURATION_HIT } else { &allowed::DURATION_MISS };
            metrics::with_recorder(|recorder| {
                recorder.register_counter(&allowed::DECISION, &METADATA).increment(1);
                recorder.register_histogram(duration, &METADATA).record(seconds);
            });
            return;
        }
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

/// What the `metrics` macros give the events of this module: its path, at the info level.
#[cfg(feature = "metrics")]
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The series of an allowed request, as `static`s: the same keys the macros build for it.
#[cfg(feature = "metrics")]
mod allowed {
    use metrics::{Key, Label};

    use super::super::metric;
    use super::{Outcome, Stage};

    static DECISION_LABELS: [Label; 3] = [
        Label::from_static_parts("portcullis.stage", Stage::Complete.as_str()),
        Label::from_static_parts("portcullis.outcome", Outcome::Allowed.as_str()),
        Label::from_static_parts("portcullis.reason", "none"),
    ];
    pub(super) static DECISION: Key =
        Key::from_static_parts(metric::GUARD_DECISIONS, &DECISION_LABELS);

    static HIT_LABELS: [Label; 2] = [
        Label::from_static_parts("portcullis.outcome", Outcome::Allowed.as_str()),
        Label::from_static_parts("portcullis.token.cache", "hit"),
    ];
    pub(super) static DURATION_HIT: Key =
        Key::from_static_parts(metric::GUARD_DURATION, &HIT_LABELS);

    static MISS_LABELS: [Label; 2] = [
        Label::from_static_parts("portcullis.outcome", Outcome::Allowed.as_str()),
        Label::from_static_parts("portcullis.token.cache", "miss"),
    ];
    pub(super) static DURATION_MISS: Key =
        Key::from_static_parts(metric::GUARD_DURATION, &MISS_LABELS);
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
