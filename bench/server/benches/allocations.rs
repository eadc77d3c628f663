//! Heap allocations per request, for the routes of the load benchmark: what the guard allocates
//! beyond what axum itself does. `cargo bench -p portcullis-bench-server --bench allocations`.
//!
//! Requests go through the bench server's `Router` with `tower::ServiceExt::oneshot` on a
//! single-threaded runtime, so the count is exact and repeatable; hyper's own allocations (the
//! connection, the request head) are the same for every route and are not part of it. Requests are
//! built before counting starts, and each route is called a few times first, so that one-time work
//! (the first verification that fills the token cache, lazily rendered challenges) is not
//! counted either. dhat counts; it needs no `unsafe` here.

use axum::body::Body;
use http::{Request, header};
use tower::ServiceExt as _;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Requests per route counted.
const REQUESTS: u64 = 1_000;
/// Requests per route sent before counting.
const WARM_UP: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let (app, tokens) = portcullis_bench_server::app()?;
    let token = |name: &str| {
        tokens.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone()).unwrap_or_default()
    };
    // (route, path, token name; "" for none)
    let mut cases = vec![("plain".to_owned(), "/plain".to_owned(), String::new())];
    for alg in ["rs256", "es256", "eddsa", "hs256"] {
        cases.push((format!("plain + {alg} header"), "/plain".to_owned(), alg.to_owned()));
        cases.push((format!("{alg} cache hit"), format!("/{alg}/cached"), alg.to_owned()));
        cases.push((format!("{alg} bare jsonwebtoken"), format!("/{alg}/bare"), alg.to_owned()));
    }
    cases.push(("401 no token".to_owned(), "/es256/cached".to_owned(), String::new()));
    cases.push(("401 no token bare".to_owned(), "/es256/bare".to_owned(), String::new()));
    cases.push((
        "401 expired es256".to_owned(),
        "/es256/cached".to_owned(),
        "es256-expired".into(),
    ));
    cases.push((
        "403 no scope es256".to_owned(),
        "/es256/cached".to_owned(),
        "es256-noscope".into(),
    ));

    let _profiler = dhat::Profiler::builder().testing().build();
    println!("| route | status | allocations per request | bytes per request |");
    println!("| --- | --- | ---: | ---: |");
    for (name, path, token_name) in cases {
        let authorization =
            (!token_name.is_empty()).then(|| format!("Bearer {}", token(&token_name)));
        let request = || {
            let mut request = Request::get(path.as_str());
            if let Some(value) = &authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            request.body(Body::empty())
        };
        let status = runtime.block_on(async {
            let mut status = None;
            for _ in 0..WARM_UP {
                status = Some(app.clone().oneshot(request()?).await?.status());
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(status)
        })?;
        let requests = (0..REQUESTS).map(|_| request()).collect::<Result<Vec<_>, _>>()?;
        let before = dhat::HeapStats::get();
        runtime.block_on(async {
            for request in requests {
                drop(app.clone().oneshot(request).await?);
            }
            Ok::<_, std::convert::Infallible>(())
        })?;
        let after = dhat::HeapStats::get();
        let per_request = |total: u64| total as f64 / REQUESTS as f64;
        println!(
            "| {name} | {} | {:.2} | {:.0} |",
            status.map(|s| s.as_u16()).unwrap_or_default(),
            per_request(after.total_blocks - before.total_blocks),
            per_request(after.total_bytes - before.total_bytes),
        );
    }
    Ok(())
}
