//! The Redis replay store against a real `redis-server`, started here on a free loopback port
//! and killed when its test ends. These tests never skip: `.ci/run` installs `redis-server`.
//! The in-memory store's bounds, expiry and atomicity are unit-tested in
//! `runtime/src/dpop/memory.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{AUTHORIZATION, RETRY_AFTER};
use http::{Request, StatusCode};
use portcullis::config::Dpop;
use portcullis::testing::{DpopKey, TestIssuer};
use portcullis::{
    Verifier,
    dpop::{MemoryReplayStore, RedisReplayStore, ReplayStore, ReplayStoreError},
    response::Disclosure,
};
use portcullis_tests::{assert_denied, assert_me, me, send};

const TTL: Duration = Duration::from_secs(120);

/// A `redis-server` of this test's own, without persistence; killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// On a free port, with `args` added to its command line.
    fn start_with(args: &[&str]) -> Self {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            if let Some(server) = Self::start_on(port, args) {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// On `port`; `None` if it exits before accepting connections (the port was taken).
    fn start_on(port: u16, args: &[&str]) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) if error.kind() == ErrorKind::NotFound => panic!(
                "redis-server is not installed: `.ci/run` installs it \
                 (apt-get install redis-server); these tests never skip"
            ),
            Err(error) => panic!("redis-server did not start: {error}"),
        };
        let mut server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if server.child.try_wait().unwrap().is_some() {
                return None;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("redis-server did not listen on port {port} within 10 s");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One inline command's first line of reply, e.g. `:1` for `EXISTS` of a key there.
    fn command(&self, line: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        reply.trim_end().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

/// The store's `answer`, which must come within `limit`, whichever it is.
async fn within<T>(
    limit: Duration,
    answer: impl Future<Output = Result<T, ReplayStoreError>>,
) -> Result<T, ReplayStoreError> {
    let started = Instant::now();
    let answer = tokio::time::timeout(limit, answer).await.expect("the store hung");
    assert!(started.elapsed() <= limit);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_new_once() {
    let server = RedisServer::start();
    let store = RedisReplayStore::connect(&server.url()).await.unwrap();
    assert!(store.remember(key(1), TTL).await.unwrap());
    assert!(!store.remember(key(1), TTL).await.unwrap());
    assert!(store.remember(key(2), TTL).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_set_nx_px_per_proof_under_the_prefix() {
    let server = RedisServer::start();
    let store = RedisReplayStore::connect(&server.url()).await.unwrap();
    assert!(store.remember([0xab; 32], TTL).await.unwrap());
    let name = format!("portcullis:dpop:{}", "ab".repeat(32));
    assert_eq!(server.command(&format!("GET {name}")), "$1");
    let pttl: u64 = server.command(&format!("PTTL {name}"))[1..].parse().unwrap();
    assert!((110_000..=120_000).contains(&pttl), "{pttl}");
    assert_eq!(server.command("DBSIZE"), ":1");
    assert!(format!("{store:?}").contains("portcullis:dpop:"), "{store:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_new_again_after_its_ttl() {
    let server = RedisServer::start();
    let store = RedisReplayStore::connect(&server.url()).await.unwrap();
    let ttl = Duration::from_millis(100);
    assert!(store.remember(key(1), ttl).await.unwrap());
    assert!(!store.remember(key(1), ttl).await.unwrap());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(store.remember(key(1), ttl).await.unwrap());
    assert!(!store.remember(key(1), ttl).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_a_server_see_each_others_keys() {
    let server = RedisServer::start();
    let first = RedisReplayStore::connect(&server.url()).await.unwrap();
    let second = RedisReplayStore::connect(&server.url()).await.unwrap();
    assert!(first.remember(key(1), TTL).await.unwrap());
    assert!(!second.remember(key(1), TTL).await.unwrap(), "a replay against another instance");
    assert!(second.remember(key(2), TTL).await.unwrap());
    assert!(!first.remember(key(2), TTL).await.unwrap());

    // Another prefix is another API: its keys are its own.
    let other = RedisReplayStore::builder().key_prefix("other-api:");
    let other = other.connect(&server.url()).await.unwrap();
    assert!(other.remember(key(1), TTL).await.unwrap());
    assert!(!other.remember(key(1), TTL).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_for_one_key_see_one_new() {
    let server = RedisServer::start();
    let stores = [
        Arc::new(RedisReplayStore::connect(&server.url()).await.unwrap()),
        Arc::new(RedisReplayStore::connect(&server.url()).await.unwrap()),
    ];
    for round in 0..20 {
        let calls: Vec<_> = (0..32)
            .map(|n| {
                let store = Arc::clone(&stores[n % 2]);
                tokio::spawn(async move { store.remember(key(round), TTL).await.unwrap() })
            })
            .collect();
        let mut new = 0;
        for call in calls {
            new += usize::from(call.await.unwrap());
        }
        assert_eq!(new, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_gone_is_an_error_within_the_timeout_then_it_reconnects() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(300);
    let store = RedisReplayStore::builder().timeout(timeout).connect(&server.url()).await.unwrap();
    assert!(store.remember(key(1), TTL).await.unwrap());

    server.kill();
    let limit = timeout + Duration::from_millis(500);
    for n in 2..5 {
        let error = within(limit, store.remember(key(n), TTL)).await.unwrap_err();
        assert!(error.to_string().starts_with("the DPoP replay store is unavailable: "), "{error}");
    }

    // The same port again: the store reconnects by itself (the new server is empty).
    let _server = RedisServer::start_on(server.port, &[]).expect("the port is free again");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match within(limit, store.remember(key(1), TTL)).await {
            Ok(new) => break assert!(new),
            Err(error) if Instant::now() > deadline => panic!("no reconnection: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(!store.remember(key(1), TTL).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_is_an_error_within_the_timeout() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let timeout = Duration::from_millis(300);
    let url = format!("redis://:s3cret-pw@127.0.0.1:{port}");
    let connect = RedisReplayStore::builder().timeout(timeout).connect(&url);
    let error = within(timeout + Duration::from_millis(500), connect).await.unwrap_err();
    assert!(!error.to_string().contains("s3cret-pw"), "{error}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")), "{error}");

    let invalid = RedisReplayStore::connect("http://:s3cret-pw@127.0.0.1/").await.unwrap_err();
    assert!(!invalid.to_string().contains("s3cret-pw"), "{invalid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_used_and_never_shown() {
    let mut server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let url = |password: &str| format!("redis://:{password}@127.0.0.1:{}/0", server.port);

    let wrong = RedisReplayStore::connect(&url("wrong-pw")).await.unwrap_err();
    assert!(!wrong.to_string().contains("wrong-pw"), "{wrong}");

    let store = RedisReplayStore::connect(&url("s3cret-pw")).await.unwrap();
    assert!(store.remember(key(1), TTL).await.unwrap());
    assert!(!store.remember(key(1), TTL).await.unwrap());
    assert!(!format!("{store:?}").contains("s3cret-pw"), "{store:?}");

    server.kill();
    let error = store.remember(key(2), TTL).await.unwrap_err();
    assert!(!error.to_string().contains("s3cret-pw"), "{error}");
}

/// What a shared store is for: one proof presented to two instances of an API (two verifiers,
/// one Redis) is accepted by the first and refused by the second as a replay; a new proof of the
/// same key is accepted by the second.
#[tokio::test]
async fn a_proof_replayed_against_another_instance_is_refused() {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
    use http::{Request, StatusCode};
    use portcullis::config::Dpop;
    use portcullis::response::DpopProofReason;
    use portcullis::testing::{DpopKey, TestIssuer};
    use portcullis_tests::{me, send};

    const ORIGIN: &str = "https://api.example";
    let server = RedisServer::start();
    let issuer = TestIssuer::new();
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let store = RedisReplayStore::connect(&server.url()).await.unwrap();
        let verifier = issuer
            .verifier()
            .dpop(Dpop::allowed().origin(ORIGIN).replay_store(store))
            .build()
            .unwrap();
        instances.push(Router::new().route("/me", get(me)).with_state(verifier));
    }
    let request = |proof: &str| {
        Request::get("/me")
            .header(AUTHORIZATION, format!("DPoP {token}"))
            .header("DPoP", proof)
            .body(Body::empty())
            .unwrap()
    };
    let proof = key.proof("GET", &format!("{ORIGIN}/me"), &token).sign();
    let first = send(instances[0].clone(), request(&proof)).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.body["sub"], "alice");

    let replay = send(instances[1].clone(), request(&proof)).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{replay:?}");
    let challenge = replay.headers.get(WWW_AUTHENTICATE).unwrap().to_str().unwrap();
    assert!(challenge.starts_with("DPoP realm="), "{challenge}");
    assert!(challenge.contains(r#"error="invalid_dpop_proof""#), "{challenge}");
    assert_eq!(replay.headers.get("content-type").unwrap(), "application/problem+json");
    assert_eq!(replay.body["status"], 401);
    assert_eq!(DpopProofReason::Replayed.code(), "dpop_proof_replayed");

    let fresh = key.proof("GET", &format!("{ORIGIN}/me"), &token).sign();
    assert_eq!(send(instances[1].clone(), request(&fresh)).await.status, StatusCode::OK);
}

/// Key `n` of a volume test: distinct for every `n`.
fn numbered(n: u32) -> [u8; 32] {
    let mut key = [0x5a; 32];
    key[..4].copy_from_slice(&n.to_be_bytes());
    key
}

/// `remember` of keys `range` on `store`, 64 calls in flight at a time; each answer in order.
async fn remember_all(
    store: &RedisReplayStore,
    numbers: impl IntoIterator<Item = u32>,
) -> Vec<Result<bool, ReplayStoreError>> {
    use futures_util::StreamExt;
    futures_util::stream::iter(numbers)
        .map(|n| store.remember(numbered(n), TTL))
        .buffered(64)
        .collect()
        .await
}

/// Every one of 50 000 proofs is refused as a replay for its window, from either of two
/// instances: Redis keeps each key for its whole ttl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_a_busy_window_is_remembered() {
    let server = RedisServer::start();
    let first = RedisReplayStore::connect(&server.url()).await.unwrap();
    let second = RedisReplayStore::connect(&server.url()).await.unwrap();
    let answers = remember_all(&first, 0..50_000).await;
    assert!(answers.iter().all(|answer| matches!(answer, Ok(true))));
    let again = remember_all(&second, 0..50_000).await;
    let forgotten = again.iter().filter(|answer| !matches!(answer, Ok(false))).count();
    assert_eq!(forgotten, 0, "keys forgotten within their window");
    assert_eq!(server.command("DBSIZE"), ":50000");
}

/// A server with a memory limit and `noeviction` fills up: then new proofs are refused with an
/// error (503), and every key it took is still a replay. It never forgets one to make room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_fails_closed_and_forgets_nothing() {
    let server =
        RedisServer::start_with(&["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"]);
    let store = RedisReplayStore::connect(&server.url()).await.unwrap();
    let answers = remember_all(&store, 0..100_000).await;
    // Near the limit, a few keys may still fit after the first refusal (the server's memory use
    // moves a little): every accepted key counts, wherever it came.
    let taken: Vec<u32> = (0..100_000u32)
        .zip(&answers)
        .filter_map(|(n, answer)| matches!(answer, Ok(true)).then_some(n))
        .collect();
    assert!(taken.len() > 1_000, "only {} keys fit", taken.len());
    let refused = answers.iter().filter(|answer| answer.is_err()).count();
    assert!(refused > 0, "3 MB held 100 000 keys: raise the volume");
    assert_eq!(taken.len() + refused, answers.len(), "a new proof was called a replay");
    let message = answers.iter().find_map(|answer| answer.as_ref().err()).unwrap().to_string();
    assert!(message.contains("OOM"), "{message}");
    // Every key taken is still there, and none of them passes again: a full server answers even
    // a replay's `SET NX` with the OOM error (a 503), never with a new key.
    assert_eq!(server.command("DBSIZE"), format!(":{}", taken.len()), "a key was evicted");
    let again = remember_all(&store, taken.iter().copied()).await;
    assert!(again.iter().all(|answer| !matches!(answer, Ok(true))), "a replay was accepted");
}

/// A server that may evict keys to make room is refused at connection, whichever policy: each
/// of them could evict a live proof's key (the `volatile-*` ones too, as every key has a ttl).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_may_evict_is_refused() {
    for policy in ["allkeys-lru", "volatile-ttl", "allkeys-random", "volatile-lfu"] {
        let server =
            RedisServer::start_with(&["--maxmemory", "64mb", "--maxmemory-policy", policy]);
        let error = RedisReplayStore::connect(&server.url()).await.unwrap_err().to_string();
        assert!(error.contains(policy) && error.contains("noeviction"), "{error}");
    }
    // An eviction policy without a memory limit evicts nothing: accepted.
    let server =
        RedisServer::start_with(&["--maxmemory", "0", "--maxmemory-policy", "allkeys-lru"]);
    assert!(RedisReplayStore::connect(&server.url()).await.is_ok());
}

/// A router whose DPoP proofs are remembered in `store`.
fn dpop_router(issuer: &TestIssuer, store: impl ReplayStore) -> Router {
    let verifier: Verifier = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .dpop(Dpop::required().origin("https://api.example").replay_store(store))
        .build()
        .unwrap();
    Router::new().route("/me", get(me)).with_state(verifier)
}

fn dpop_request(token: &str, proof: &str) -> Request<Body> {
    Request::get("/me")
        .header(AUTHORIZATION, format!("DPoP {token}"))
        .header("DPoP", proof)
        .body(Body::empty())
        .unwrap()
}

/// Through a real router, the in-memory store holding 400 proofs: every one of them is refused
/// when replayed after all 400 arrived, and the 401st new proof, with the store full of live
/// keys, is a 503 with `Retry-After`: never accepted, never a forgotten older proof.
#[tokio::test]
async fn a_full_memory_store_is_a_503_and_forgets_no_proof() {
    const CAPACITY: usize = 400;
    let issuer = TestIssuer::new();
    let router = dpop_router(&issuer, MemoryReplayStore::with_capacity(CAPACITY));
    let key = DpopKey::new();
    let token = issuer.token("alice").bound_to(&key).sign();
    let proofs: Vec<String> =
        (0..=CAPACITY).map(|_| key.proof("GET", "https://api.example/me", &token).sign()).collect();
    for proof in &proofs[..CAPACITY] {
        assert_me(&send(router.clone(), dpop_request(&token, proof)).await, "alice");
    }
    let full = send(router.clone(), dpop_request(&token, &proofs[CAPACITY])).await;
    assert_denied(
        &full,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        Some("The DPoP proof cannot be checked for replay right now; retry later"),
    );
    assert_eq!(full.headers[RETRY_AFTER], "5");
    assert!(!full.visible().contains("full"), "the store's message is logged, never sent");
    for proof in &proofs[..CAPACITY] {
        let replay = send(router.clone(), dpop_request(&token, proof)).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "a replay passed: {replay:?}");
        assert!(replay.challenge().unwrap().contains("invalid_dpop_proof"), "{replay:?}");
    }
}
