//! `portcullis-bench-server`: serves the load-benchmark routes on `BENCH_ADDR` (default
//! `127.0.0.1:3999`) until killed. Prints `listening on ADDR` once it accepts connections.
//! `bench/load.sh` builds, starts and stops it.

use std::process::ExitCode;

/// The listen address when `BENCH_ADDR` is not set.
const DEFAULT_ADDR: &str = "127.0.0.1:3999";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portcullis-bench-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let addr = std::env::var("BENCH_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let (app, _tokens) = portcullis_bench_server::app()?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
