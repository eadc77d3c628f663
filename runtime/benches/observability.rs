//! What the `metrics` feature costs the guard's hot path: the guard the macros generate for a
//! scope-only handler, as an extractor, on a verified-token cache hit (ES256), as
//! `real_guard/es256_scope_only_hit` in `guard.rs`.
//!
//! - built without the feature: `observability/guard_hit_metrics_off`;
//! - built with it (`--features metrics`): `observability/guard_hit_no_recorder` (the facade's
//!   no-op recorder) and `observability/guard_hit_prometheus_recorder` (the recorder of
//!   `metrics-exporter-prometheus`, as the documents example installs it, on this thread).
//!
//! `cargo bench -p portcullis --bench observability` then the same with `--features metrics`;
//! for instruction counts, run each under `valgrind --tool=callgrind` with `--profile-time 1`
//! and count `observability::guard_hit` with `bench/instructions.py`.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::FromRequestParts as _;
use criterion::{Criterion, criterion_group, criterion_main};
use http::request::Parts;
use portcullis::Verifier;

#[allow(dead_code, unreachable_pub)]
#[path = "../../bench/server/src/fixture.rs"]
mod fixture;

use fixture::{Alg, Fixture};

/// Runs a future that never waits (keys configured in code).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the guard waited, but keys configured in code never wait"),
    }
}

#[portcullis::requires_scope("docs:read", state = Verifier)]
async fn scope_only() {}

type ScopeOnlyGuard = portcullis::__private::Guard<
    __PortcullisRequirements_scope_only,
    (Verifier, portcullis::__private::Witness),
>;

/// One cache hit of the generated guard, never inlined, for callgrind's count.
#[inline(never)]
fn guard_hit(request: &mut Parts, verifier: &Verifier) -> bool {
    // The per-request principal removed, so that every call is a token-cache hit.
    request.extensions.clear();
    now(ScopeOnlyGuard::from_request_parts(black_box(request), verifier)).is_ok()
}

fn observability(c: &mut Criterion) {
    let _: axum::routing::MethodRouter<Verifier> = axum::routing::get(scope_only);
    let fixture = Fixture::generate(Alg::Es256).unwrap_or_else(|error| panic!("{error}"));
    let token = fixture.valid_token(3600).unwrap_or_else(|error| panic!("{error}"));
    let verifier = fixture.verifier(true).unwrap_or_else(|error| panic!("{error}"));
    let mut request = http::Request::get("/documents/1")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .unwrap_or_else(|error| panic!("{error}"))
        .into_parts()
        .0;
    assert!(guard_hit(&mut request, &verifier));
    let mut group = c.benchmark_group("observability");
    #[cfg(not(feature = "metrics"))]
    group.bench_function("guard_hit_metrics_off", |b| {
        b.iter(|| guard_hit(&mut request, &verifier));
    });
    #[cfg(feature = "metrics")]
    {
        group.bench_function("guard_hit_no_recorder", |b| {
            b.iter(|| guard_hit(&mut request, &verifier));
        });
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_recommended_naming(true)
            .build_recorder();
        let handle = recorder.handle();
        let _local = metrics::set_default_local_recorder(&recorder);
        portcullis::observability::describe_metrics();
        // Sanity: a hit is recorded, as the one series of allowed decisions.
        assert!(guard_hit(&mut request, &verifier));
        assert!(handle.render().contains(
            "portcullis_guard_decisions_total{portcullis_stage=\"complete\",portcullis_outcome=\"allowed\",portcullis_reason=\"none\"} 1"
        ));
        group.bench_function("guard_hit_prometheus_recorder", |b| {
            b.iter(|| guard_hit(&mut request, &verifier));
        });
    }
    group.finish();
}

criterion_group!(benches, observability);
criterion_main!(benches);
