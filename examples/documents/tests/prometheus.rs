//! The documents API's `GET /metrics`, scraped by a real Prometheus (Debian's `prometheus`
//! package, which `.ci/run` installs): requests of every outcome are made, then Prometheus's
//! HTTP API must report exactly those counts; `promtool check metrics` must accept the
//! exposition. The test starts its own Prometheus, on a free loopback port, with a
//! configuration and a storage directory of its own in a temporary directory: a system
//! Prometheus service, if one runs, plays no part.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use documents::operations::{install_metrics, metrics_router};
use documents::{AppState, DEFAULT_ROLES_CLAIM, Store, router};
use http::StatusCode;
use portcullis::Verifier;
use portcullis::testing::TestIssuer;
use serde_json::{Value, json};

const ALL_DOCS: [&str; 3] = ["docs:read", "docs:write", "docs:delete"];

/// A directory of the test's own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir()
            .join(format!("documents-prometheus-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The Prometheus process; killed when the test ends, whatever happens.
struct Prometheus {
    child: Child,
    api: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The path of a program the `prometheus` package installs.
fn program(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!("`{name}` not found: install Debian's `prometheus` package (.ci/run does)")
    })
}

/// Starts Prometheus scraping `target` every second.
fn start_prometheus(dir: &Path, target: SocketAddr) -> Prometheus {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: documents\n    metrics_path: /metrics\n    \
             static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(program("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus starts");
    Prometheus { child, api: format!("http://127.0.0.1:{port}") }
}

/// Serves `router` on a free loopback port.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// The result of an instant query, as (labels, value) pairs; empty while Prometheus is not
/// up or has no sample.
async fn query(client: &reqwest::Client, api: &str, promql: &str) -> Vec<(Value, f64)> {
    let encoded: String = promql
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let Ok(response) = client.get(format!("{api}/api/v1/query?query={encoded}")).send().await
    else {
        return Vec::new();
    };
    let Ok(body) = response.bytes().await else { return Vec::new() };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return Vec::new() };
    assert_eq!(body["status"], "success", "{promql}: {body}");
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sample| {
            let value = sample["value"][1].as_str().unwrap().parse::<f64>().unwrap();
            (sample["metric"].clone(), value)
        })
        .collect()
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

type Decisions = BTreeMap<(String, String, String), u64>;

/// `portcullis_guard_decisions_total` as Prometheus last scraped it, by stage, outcome, reason.
async fn decisions(client: &reqwest::Client, api: &str) -> Decisions {
    let promql = "sum by (portcullis_stage, portcullis_outcome, portcullis_reason) \
                  (portcullis_guard_decisions_total{job=\"documents\"})";
    query(client, api, promql)
        .await
        .into_iter()
        .map(|(labels, value)| {
            let label = |name: &str| labels[name].as_str().unwrap().to_owned();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "counts")]
            let count = value as u64;
            (
                (
                    label("portcullis_stage"),
                    label("portcullis_outcome"),
                    label("portcullis_reason"),
                ),
                count,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_counts_of_every_outcome() {
    let handle = install_metrics().expect("the only recorder of this test binary");
    let issuer = TestIssuer::new();
    let jwks = issuer.jwks();
    let jwks_addr = serve(Router::new().route(
        "/jwks",
        get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    ))
    .await;
    let verifier = Verifier::builder()
        .realm("documents")
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .role_claims([DEFAULT_ROLES_CLAIM])
        .jwks_url(format!("http://{jwks_addr}/jwks"))
        .build()
        .unwrap();
    let store = Store::in_memory().unwrap();
    let app = router(AppState { verifier, store }).merge(metrics_router(handle));
    let addr = serve(app).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    let dir = TempDir::new();
    let prometheus = start_prometheus(&dir.0, addr);

    let alice = issuer.token("alice").scopes(ALL_DOCS).claim("email_verified", true).sign();
    let unverified = issuer.token("alice").scopes(ALL_DOCS).sign();
    let bob = issuer.token("bob").scopes(ALL_DOCS).sign();
    let carol = issuer.token("carol").scopes(["docs:read"]).sign();
    let expired = issuer.token("alice").scopes(ALL_DOCS).expired(Duration::from_secs(600)).sign();
    let send = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<&str>| {
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        async move { request.send().await.unwrap() }
    };
    use reqwest::Method as M;
    let created =
        send(M::POST, "/documents", Some(&alice), Some(r#"{"title":"t","body":"b"}"#)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = json_of(created).await["id"].as_i64().unwrap();
    // Method, path, token, JSON body, expected status.
    type Case<'a> = (M, String, Option<&'a str>, Option<&'a str>, StatusCode);
    let cases: Vec<Case<'_>> = vec![
        (M::GET, "/documents".into(), Some(&alice), None, StatusCode::OK),
        (M::GET, "/documents".into(), Some(&alice), None, StatusCode::OK),
        (M::GET, format!("/documents/{id}"), Some(&alice), None, StatusCode::OK),
        (M::GET, "/documents".into(), None, None, StatusCode::UNAUTHORIZED),
        (M::GET, "/documents".into(), None, None, StatusCode::UNAUTHORIZED),
        (M::GET, "/documents".into(), Some(&expired), None, StatusCode::UNAUTHORIZED),
        (M::GET, "/documents".into(), Some("not-a-token"), None, StatusCode::UNAUTHORIZED),
        (M::POST, "/documents".into(), Some(&carol), Some("{}"), StatusCode::FORBIDDEN),
        (M::GET, "/admin/documents".into(), Some(&alice), None, StatusCode::FORBIDDEN),
        (
            M::PUT,
            format!("/documents/{id}/shares/bob"),
            Some(&unverified),
            None,
            StatusCode::FORBIDDEN,
        ),
        (M::GET, format!("/documents/{id}"), Some(&bob), None, StatusCode::NOT_FOUND),
        (M::GET, "/documents/999999".into(), Some(&alice), None, StatusCode::NOT_FOUND),
        (M::POST, "/documents".into(), Some(&alice), Some("{not json"), StatusCode::BAD_REQUEST),
        (M::GET, "/whoami".into(), None, None, StatusCode::OK),
    ];
    for (method, path, token, body, status) in cases {
        let response = send(method.clone(), &path, token, body).await;
        assert_eq!(response.status(), status, "{method} {path}");
    }
    let ready = send(M::GET, "/ready", None, None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json_of(ready).await, json!({"status": "ready", "keys": 1}));

    // The exposition is valid for Prometheus's own linter.
    let exposition = send(M::GET, "/metrics", None, None).await.text().await.unwrap();
    let mut promtool = Command::new(program("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{exposition}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let expected: Decisions = [
        (("complete", "allowed", "none"), 5),
        (("credentials", "allowed", "anonymous"), 1),
        (("credentials", "denied", "missing_credentials"), 2),
        (("credentials", "denied", "expired"), 1),
        (("credentials", "denied", "malformed"), 1),
        (("scopes", "denied", "insufficient_scope"), 1),
        (("roles", "denied", "missing_role"), 1),
        (("policies", "denied", "claim_not_satisfied"), 1),
        (("resource", "denied", "not_owner"), 1),
        (("resource", "denied", "absent"), 1),
        (("shape", "denied", "malformed_request"), 1),
    ]
    .into_iter()
    .map(|((stage, outcome, reason), count)| {
        ((stage.to_owned(), outcome.to_owned(), reason.to_owned()), count)
    })
    .collect();
    // Scraped every second: wait for a scrape after the last request.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Decisions::new();
    while Instant::now() < deadline {
        seen = decisions(&client, &prometheus.api).await;
        if seen == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = std::fs::read_to_string(dir.0.join("prometheus.log")).unwrap_or_default();
    assert_eq!(seen, expected, "prometheus log:\n{log}");

    // Every guard decision was timed (the shape refusal is not the guard's), and the key
    // source fetched its one key.
    let timed = query(
        &client,
        &prometheus.api,
        "sum(portcullis_guard_duration_seconds_count{job=\"documents\"})",
    )
    .await;
    assert_eq!(timed.first().map(|(_, value)| *value), Some(15.0), "{timed:?}");
    let held = query(&client, &prometheus.api, "portcullis_keys_held{job=\"documents\"}").await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].1, 1.0);
    assert_eq!(held[0].0["portcullis_key_source"], format!("http://{jwks_addr}/jwks"));
    let refreshed = query(
        &client,
        &prometheus.api,
        "portcullis_keys_refreshes_total{job=\"documents\", portcullis_result=\"success\"}",
    )
    .await;
    assert!(refreshed.first().is_some_and(|(_, value)| *value >= 1.0), "{refreshed:?}");
}
