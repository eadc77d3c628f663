//! What the operators of the API ask it: `GET /ready` (can it verify tokens now?) and
//! `GET /metrics` (portcullis's metrics, in Prometheus's text format).
//!
//! `/metrics` says how many requests each guard refused and why, and which identity provider
//! fails: serve it where only the monitoring can reach it (a port of its own, or a network
//! policy); this example serves it beside the API for simplicity.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use portcullis::observability::{describe_metrics, metric};
use portcullis::{Problem, Verifier};
use serde_json::json;

/// The guard's duration buckets, in seconds: a cache hit takes microseconds, a verification
/// tens of microseconds to milliseconds, a key fetch or an introspection call up to the fetch
/// timeout.
const DURATION_BUCKETS: [f64; 12] =
    [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1, 1.0, 5.0];

/// Installs the Prometheus recorder for the whole process (Prometheus's recommended names:
/// `portcullis_guard_decisions_total`, `portcullis_guard_duration_seconds`), describes
/// portcullis's metrics, and runs the recorder's upkeep every five seconds on the current
/// tokio runtime. Call once, before serving.
pub fn install_metrics() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(
            Matcher::Full(metric::GUARD_DURATION.to_owned()),
            &DURATION_BUCKETS,
        )?
        .install_recorder()?;
    describe_metrics();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// `GET /metrics`: the text exposition of `handle`'s recorder.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
            }
        }),
    )
}

/// `GET /ready`: 200 when every key source of the verifier holds usable keys, with how many;
/// else 503 with a problem document and `Retry-After`, which names no key source (their URLs
/// are the operators' business, not the caller's). A source that fails to refresh but keeps
/// its last keys is ready: the metrics (`portcullis_keys_refreshes_total`) tell that story.
pub async fn ready(State(verifier): State<Verifier>) -> Response {
    let readiness = verifier.readiness();
    if readiness.is_ready() {
        let keys: usize = readiness.key_sources().iter().map(|source| source.keys()).sum();
        return Json(json!({"status": "ready", "keys": keys})).into_response();
    }
    let problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .with_detail("The signing keys of the identity provider are not available yet");
    let mut response = problem.into_response();
    response.headers_mut().insert(header::RETRY_AFTER, 5.into());
    response
}
