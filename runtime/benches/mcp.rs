//! `cargo bench -p portcullis --features mcp --bench mcp`: a `tools/call` through
//! `portcullis::mcp::McpLayer`, decided from the 2026-07-28 headers (`Mcp-Method`, `Mcp-Name`)
//! against the same call decided from its body (a client without the headers), refused and
//! allowed, with arguments of 4 KiB and 64 KiB. The token is a cache hit, the inner service
//! answers at once: what is measured is the guard.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a panic is a failure")]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::response::Response;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode};
use portcullis::mcp::{McpGuard, McpLayer, McpPolicy};
use portcullis::testing::TestIssuer;
use tower::{Layer, Service, ServiceExt, service_fn};

portcullis::scopes! {
    /// The scopes of the benchmark's server.
    pub enum Scope {
        Tools = "mcp:tools",
        Admin = "mcp:admin",
    }
}

/// Runs a future that never waits: keys in code, an in-memory body, an inner service that
/// answers at once.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the guard waited"),
    }
}

type Inner =
    tower::util::ServiceFn<fn(Request<Body>) -> std::future::Ready<Result<Response, Infallible>>>;

fn answer(_: Request<Body>) -> std::future::Ready<Result<Response, Infallible>> {
    std::future::ready(Ok(Response::new(Body::empty())))
}

fn call(tool: &str, argument_bytes: usize, token: &str, headers: bool) -> Request<Body> {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": tool, "arguments": { "text": "x".repeat(argument_bytes) } }
    })
    .to_string();
    let mut builder = Request::post("/mcp")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(http::header::CONTENT_TYPE, "application/json");
    if headers {
        builder = builder.header("mcp-method", "tools/call").header("mcp-name", tool);
    }
    builder.body(Body::from(body)).unwrap()
}

fn bench(c: &mut Criterion) {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().build().unwrap();
    let policy =
        McpPolicy::builder(&[Scope::Tools]).tool("usage", &[Scope::Admin]).build().unwrap();
    let guard: McpGuard<Inner> =
        McpLayer::new(verifier, policy).layer(service_fn(answer as fn(Request<Body>) -> _));
    let token = issuer.token("alice").scopes(["mcp:tools"]).sign();
    let mut group = c.benchmark_group("mcp_tools_call");
    for (tool, expected, outcome) in
        [("usage", StatusCode::FORBIDDEN, "refused"), ("add", StatusCode::OK, "allowed")]
    {
        for kib in [4, 64] {
            for (headers, decided) in [(true, "headers"), (false, "body")] {
                // Warm the token cache, and check the outcome once.
                let response = now(guard.clone().oneshot(call(tool, kib * 1024, &token, headers)));
                assert_eq!(response.unwrap().status(), expected);
                group.bench_function(format!("{outcome}/{kib}KiB/from_{decided}"), |b| {
                    b.iter_batched(
                        || (guard.clone(), call(tool, kib * 1024, &token, headers)),
                        |(mut guard, request)| black_box(now(guard.call(request))),
                        BatchSize::SmallInput,
                    );
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
