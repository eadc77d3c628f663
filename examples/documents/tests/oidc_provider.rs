//! Interoperability (issues 16 and 17): the documents API against a real, independently written
//! OpenID provider, `oidc-provider` (OpenID Certified), run by Node on 127.0.0.1 from
//! `tests/oidc-provider` (`npm ci` there installs it from the committed lock file; `.ci/run`
//! does). Client-credentials tokens are RFC 9068 JWT access tokens (`typ: at+jwt`) for the
//! resource `https://documents.example`, audience `documents-api`; the keys are found through
//! the provider's discovery document. Opaque tokens for the other resources of `server.mjs` are
//! introspected at the provider's RFC 7662 endpoint.
//!
//! These tests never skip: without Node or the installed package they fail, saying what to do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use axum::body::Body;
use documents::{AppState, Store, router};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::{ConfigError, config::VerifierBuilder, keys::KeyRefresh};
use serde_json::{Value, json};
use tower::ServiceExt;

const PROVIDER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/oidc-provider");
const BINARY: &str = env!("CARGO_BIN_EXE_documents");
const RESOURCE: &str = "https://documents.example";
const AUDIENCE: &str = "documents-api";
const PROBLEM_JSON: &str = "application/problem+json";
/// Generous: a loaded machine may be slow to start Node; a passing test never waits this long.
const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------

/// `oidc-provider` in a Node process, killed when dropped.
struct Provider {
    child: Option<Child>,
    issuer: String,
    port: u16,
    state: PathBuf,
}

impl Provider {
    /// Starts on a free port with a fresh key store and the signing key `k1`.
    fn start() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let state =
            std::env::temp_dir().join(format!("portcullis-oidc-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        let mut provider = Self { child: None, issuer: String::new(), port: 0, state };
        provider.up("k1");
        provider
    }

    /// Starts (again, on the same port once it has one) with the signing keys `kids`, the one
    /// that signs first.
    fn up(&mut self, kids: &str) {
        assert!(self.child.is_none(), "the provider is already up");
        let installed = Path::new(PROVIDER_DIR).join("node_modules/oidc-provider/package.json");
        assert!(
            installed.exists(),
            "oidc-provider is not installed: run `npm ci` in tests/oidc-provider (.ci/run does); \
             the interoperability tests never skip"
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(PROVIDER_DIR)
            .env("PORT", self.port.to_string())
            .env("STATE_DIR", &self.state)
            .env("KEY_IDS", kids)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot run `node` (Node 20 or later is required): {error}")
            });
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let errors = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (lines, received) = mpsc::channel();
        // Read to the end, also once nobody listens: a closed pipe would kill the provider at
        // its next notice (it writes some on a user's first sign-in).
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines.send(line);
            }
        });
        let issuer = loop {
            match received.recv_timeout(PATIENCE) {
                Ok(line) => {
                    if let Some(issuer) = line.strip_prefix("listening ") {
                        break issuer.to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("oidc-provider did not start: {}", errors.join().unwrap());
                }
            }
        };
        self.port = issuer.rsplit(':').next().unwrap().parse().unwrap();
        self.issuer = issuer;
        self.child = Some(child);
    }

    /// Kills the process: connections are refused from now on.
    fn down(&mut self) {
        let mut child = self.child.take().expect("the provider is up");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// A client-credentials access token for `client` with `scope`: a JWT.
    async fn token(&self, client: &str, scope: &str) -> String {
        self.token_for(client, scope, RESOURCE).await
    }

    /// A client-credentials access token for `client` with `scope` and `resource`: a JWT for
    /// [`RESOURCE`], an opaque token for the others (see `server.mjs`).
    async fn token_for(&self, client: &str, scope: &str, resource: &str) -> String {
        let body = form_urlencoded(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("resource", resource),
        ]);
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(answer["token_type"], "Bearer", "{answer}");
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// Revokes `token` (RFC 7009) as `client`, the client it was issued to.
    async fn revoke(&self, client: &str, token: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_urlencoded(&[("token", token), ("token_type_hint", "access_token")]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// How many introspection requests the provider has received.
    async fn introspections(&self) -> u64 {
        let response = reqwest::get(format!("{}/test/introspections", self.issuer)).await.unwrap();
        let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        answer["introspections"].as_u64().unwrap()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// The header and claims of `token`, decoded (not verified: for assertions about its shape).
fn decode(token: &str) -> (Value, Value) {
    use base64::Engine as _;
    let part = |index: usize| {
        let text = token.split('.').nth(index).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (part(0), part(1))
}

// ---------------------------------------------------------------------------------------------
// The documents binary
// ---------------------------------------------------------------------------------------------

/// The documents binary, killed when dropped.
struct Documents {
    child: Child,
    base: String,
}

impl Drop for Documents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Documents {
    fn start(vars: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BINARY)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DOCUMENTS_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the documents binary starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let base = loop {
            let line = received.recv_timeout(PATIENCE).expect("the documents API listens");
            if let Some(rest) = line.strip_prefix("Listening on ") {
                break rest.split(' ').next().unwrap().to_owned();
            }
        };
        Self { child, base }
    }
}

/// One response, read whole.
struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.get_all(name).iter();
        let value = values.next()?;
        assert!(values.next().is_none(), "{name} repeats");
        Some(value.to_str().unwrap())
    }

    /// A denial: `status`, exactly `challenge` (`None`: no such header), a problem document
    /// whose `status` is the HTTP status.
    fn assert_denied(&self, status: StatusCode, challenge: Option<&str>) {
        assert_eq!(self.status, status, "{:?}", String::from_utf8_lossy(&self.bytes));
        assert_eq!(self.header("www-authenticate"), challenge);
        assert_eq!(self.header("content-type"), Some(PROBLEM_JSON));
        assert_eq!(self.json()["status"], json!(status.as_u16()));
    }
}

async fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> Reply {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some((content_type, body)) = body {
        request = request.header(header::CONTENT_TYPE, content_type).body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap().to_vec();
    Reply { status, headers, bytes }
}

const JSON: &str = "application/json";
const BEARER: &str = r#"Bearer realm="documents""#;
const INVALID_TOKEN: &str = r#"Bearer realm="documents", error="invalid_token""#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walk_through_against_a_real_openid_provider_with_rotation_and_an_outage() {
    let mut provider = Provider::start();
    let alice = provider.token("alice", "docs:read docs:write docs:delete").await;
    let bob = provider.token("bob", "docs:read").await;
    let admin = provider.token("admin", "admin:read").await;
    // What the provider issues: an RFC 9068 access token.
    let (head, claims) = decode(&alice);
    assert_eq!(
        (&head["typ"], &head["alg"], &head["kid"]),
        (&json!("at+jwt"), &json!("RS256"), &json!("k1"))
    );
    for claim in ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"] {
        assert!(claims.get(claim).is_some(), "{claim} in {claims}");
    }
    assert_eq!((&claims["iss"], &claims["aud"]), (&json!(provider.issuer), &json!(AUDIENCE)));

    let documents = Documents::start(&[
        ("PORTCULLIS_ISSUER", provider.issuer.as_str()),
        ("PORTCULLIS_AUDIENCE", AUDIENCE),
        ("PORTCULLIS_TOKEN_PROFILE", "rfc9068"),
    ]);
    let base = documents.base.as_str();

    // 200 and 401.
    assert_eq!(call(base, "GET", "/health", None, None).await.status, StatusCode::OK);
    call(base, "GET", "/documents", None, None)
        .await
        .assert_denied(StatusCode::UNAUTHORIZED, Some(BEARER));
    call(base, "GET", "/documents", Some("not.a.token"), None)
        .await
        .assert_denied(StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN));
    let list = call(base, "GET", "/documents", Some(&alice), None).await;
    assert_eq!((list.status, list.json()), (StatusCode::OK, json!([])));

    // 201 and 400, 415.
    let created = call(
        base,
        "POST",
        "/documents",
        Some(&alice),
        Some((JSON, r#"{"title": "Shopping list", "body": "milk, eggs"}"#)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json()["id"].as_i64().unwrap();
    let doc = format!("/documents/{id}");
    assert_eq!(created.header("location"), Some(doc.as_str()));
    let found = call(base, "GET", "/documents/search?q=Shopping", Some(&alice), None).await;
    assert_eq!((found.status, found.json()[0]["id"].as_i64()), (StatusCode::OK, Some(id)));
    let missing_q = call(base, "GET", "/documents/search", Some(&alice), None).await;
    missing_q.assert_denied(StatusCode::BAD_REQUEST, None);
    assert_eq!(missing_q.json()["invalid-params"][0]["name"], "q");
    let blank = call(
        base,
        "POST",
        "/documents",
        Some(&alice),
        Some((JSON, r#"{"title": "   ", "body": ""}"#)),
    )
    .await;
    blank.assert_denied(StatusCode::BAD_REQUEST, None);
    assert_eq!(blank.json()["invalid-params"][0]["name"], "title");
    let form = call(
        base,
        "POST",
        "/documents",
        Some(&alice),
        Some(("application/x-www-form-urlencoded", "title=form")),
    )
    .await;
    form.assert_denied(StatusCode::UNSUPPORTED_MEDIA_TYPE, None);

    // 403.
    call(base, "POST", "/documents", Some(&bob), Some((JSON, r#"{"title": "Mine", "body": ""}"#)))
        .await
        .assert_denied(
            StatusCode::FORBIDDEN,
            Some(r#"Bearer realm="documents", error="insufficient_scope", scope="docs:write""#),
        );
    call(base, "GET", "/admin/stats", Some(&alice), None).await.assert_denied(
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="documents", error="insufficient_scope", scope="admin:read docs:admin""#),
    );
    let stats = call(base, "GET", "/admin/stats", Some(&admin), None).await;
    assert_eq!(
        (stats.status, stats.json()),
        (StatusCode::OK, json!({"documents": 1, "owners": 1}))
    );

    // 404: bob's view of alice's document and of none are the same bytes.
    let foreign = call(base, "GET", &doc, Some(&bob), None).await;
    let absent = call(base, "GET", "/documents/0", Some(&bob), None).await;
    foreign.assert_denied(StatusCode::NOT_FOUND, None);
    assert_eq!(
        (foreign.bytes.clone(), foreign.headers.get("content-type")),
        (absent.bytes.clone(), absent.headers.get("content-type"))
    );

    // Key rotation: the provider restarts signing with k2 (k1 still published). A k2 token is
    // accepted on its first request: the API fetches the keys for the unknown kid.
    provider.down();
    provider.up("k2,k1");
    let alice2 = provider.token("alice", "docs:read docs:write docs:delete").await;
    let bob2 = provider.token("bob", "docs:read").await;
    assert_eq!(decode(&alice2).0["kid"], "k2");
    let read = call(base, "GET", &doc, Some(&alice2), None).await;
    assert_eq!(
        (read.status, read.json()["title"].clone()),
        (StatusCode::OK, json!("Shopping list"))
    );
    assert_eq!(call(base, "GET", "/documents", Some(&alice), None).await.status, StatusCode::OK);

    // The provider goes down: the keys already known keep working, for tokens never seen.
    provider.down();
    let list = call(base, "GET", "/documents", Some(&bob2), None).await;
    assert_eq!((list.status, list.json()), (StatusCode::OK, json!([])));
    // ...and comes back: it issues again, and its tokens are accepted.
    provider.up("k2,k1");
    let alice3 = provider.token("alice", "docs:read docs:write docs:delete").await;
    assert_eq!(
        call(base, "DELETE", &doc, Some(&alice3), None).await.status,
        StatusCode::NO_CONTENT
    );
    call(base, "GET", &doc, Some(&alice3), None).await.assert_denied(StatusCode::NOT_FOUND, None);
}

/// A router built like the example's, with the refresh settings made short, through the
/// provider's discovery: the provider down with a key the API does not know yet is 503 with
/// `Retry-After`, and once it is back the token is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_unknown_while_the_provider_is_down_is_503_until_it_is_back() {
    let mut provider = Provider::start();
    let vars = [
        ("PORTCULLIS_ISSUER", provider.issuer.clone()),
        ("PORTCULLIS_AUDIENCE", AUDIENCE.to_owned()),
        ("PORTCULLIS_TOKEN_PROFILE", "rfc9068".to_owned()),
        ("PORTCULLIS_REALM", "documents".to_owned()),
    ];
    let lookup = |name: &str| vars.iter().find(|(var, _)| *var == name).map(|(_, v)| v.into());
    let refresh = KeyRefresh::default()
        .interval(Duration::from_secs(3600))
        .min_interval(Duration::from_millis(100));
    let verifier =
        VerifierBuilder::new().with_env(lookup).unwrap().key_refresh(refresh).build().unwrap();
    verifier.check_issuers().await.unwrap();
    let app = router(AppState { verifier, store: Store::in_memory().unwrap() });
    let get = |token: String| {
        let app = app.clone();
        async move {
            let request = Request::get("/documents")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, retry_after, body)
        }
    };
    let k1 = provider.token("alice", "docs:read").await;
    assert_eq!(get(k1.clone()).await.0, StatusCode::OK);

    // A k2 token, minted while the API was not asking; then the provider goes down.
    provider.down();
    provider.up("k2,k1");
    let k2 = provider.token("alice", "docs:read").await;
    provider.down();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (status, retry_after, body) = get(k2.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body:?}");
    let seconds: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!(seconds >= 1);
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["status"], 503);
    // k1 keeps working meanwhile.
    assert_eq!(get(k1).await.0, StatusCode::OK);

    // Back up: the token is accepted once the API may fetch again.
    provider.up("k2,k1");
    let deadline = Instant::now() + PATIENCE;
    loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, _, body) = get(k2.clone()).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body:?}");
        assert!(Instant::now() < deadline, "the provider came back, the key was never fetched");
    }
}

/// The issuer spelt with a trailing slash the provider does not write: a start-up error of the
/// binary, with both spellings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_miss_issuer_against_the_real_provider_is_a_start_up_error() {
    let provider = Provider::start();
    let configured = format!("{}/", provider.issuer);
    let vars =
        [("PORTCULLIS_ISSUER", configured.clone()), ("PORTCULLIS_AUDIENCE", AUDIENCE.to_owned())];
    let lookup = |name: &str| vars.iter().find(|(var, _)| *var == name).map(|(_, v)| v.into());
    let verifier = VerifierBuilder::new().with_env(lookup).unwrap().build().unwrap();
    let err = verifier.check_issuers().await.unwrap_err();
    assert!(matches!(&err, ConfigError::Env(env) if env.var() == "PORTCULLIS_ISSUER"), "{err}");
    let message = err.to_string();
    assert!(message.starts_with("PORTCULLIS_ISSUER: "), "{message}");
    assert!(message.contains(&format!("{configured:?}")), "{message}");
    assert!(message.contains(&format!("{:?}", provider.issuer)), "{message}");
    assert!(message.contains("they differ only by a trailing slash"), "{message}");

    let output = Command::new(BINARY)
        .env_clear()
        .env("DOCUMENTS_ADDR", "127.0.0.1:0")
        .env("PORTCULLIS_ISSUER", &configured)
        .env("PORTCULLIS_AUDIENCE", AUDIENCE)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("documents: configuration: PORTCULLIS_ISSUER: "), "{stderr}");
    assert!(stderr.contains("they differ only by a trailing slash"), "{stderr}");
}

/// Opaque access tokens (issue 17), introspected at the provider's own RFC 7662 endpoint, found
/// through its discovery document, beside its JWTs: active, revoked, expired, for another API,
/// the calls counted on the provider (one per token, whatever the number of requests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_at_the_real_provider() {
    const OPAQUE: &str = "https://documents.example/opaque";
    let provider = Provider::start();
    let documents = Documents::start(&[
        ("PORTCULLIS_ISSUER", provider.issuer.as_str()),
        ("PORTCULLIS_AUDIENCE", AUDIENCE),
        // The profile applies to JWTs; an introspection answer has no `jti` and passes.
        ("PORTCULLIS_TOKEN_PROFILE", "rfc9068"),
        ("PORTCULLIS_INTROSPECTION_CLIENT_ID", "documents-api"),
        ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "documents-api-secret"),
    ]);
    let base = documents.base.as_str();
    let alice = provider.token_for("alice", "docs:read docs:write", OPAQUE).await;
    let bob = provider.token_for("bob", "docs:read", OPAQUE).await;
    assert_eq!(alice.split('.').count(), 1, "an opaque token, not a JWT: {alice}");
    let before = provider.introspections().await;

    // Active: alice (the client: a client-credentials token has no `sub`, so the client is the
    // caller) creates and reads; three requests, one introspection.
    let created = call(
        base,
        "POST",
        "/documents",
        Some(&alice),
        Some((JSON, r#"{"title": "Opaque", "body": "by introspection"}"#)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.json());
    assert_eq!(created.json()["owner"], "alice");
    let doc = format!("/documents/{}", created.json()["id"]);
    for _ in 0..2 {
        let read = call(base, "GET", &doc, Some(&alice), None).await;
        assert_eq!((read.status, read.json()["title"].clone()), (StatusCode::OK, json!("Opaque")));
    }
    assert_eq!(provider.introspections().await - before, 1);
    // The JWT of the same client is verified locally, and is the same owner.
    let jwt = provider.token("alice", "docs:read").await;
    assert_eq!(call(base, "GET", &doc, Some(&jwt), None).await.status, StatusCode::OK);
    assert_eq!(provider.introspections().await - before, 1);

    // Scopes and ownership as for a JWT: bob may not write, and alice's document is the 404 of
    // an absent one.
    call(base, "POST", "/documents", Some(&bob), Some((JSON, r#"{"title": "x", "body": ""}"#)))
        .await
        .assert_denied(
            StatusCode::FORBIDDEN,
            Some(r#"Bearer realm="documents", error="insufficient_scope", scope="docs:write""#),
        );
    let foreign = call(base, "GET", &doc, Some(&bob), None).await;
    let absent = call(base, "GET", "/documents/0", Some(&bob), None).await;
    foreign.assert_denied(StatusCode::NOT_FOUND, None);
    assert_eq!(foreign.bytes, absent.bytes);

    // A storm of one new token: one introspection.
    let storm = provider.token_for("bob", "docs:read", OPAQUE).await;
    let counted = provider.introspections().await;
    let requests = (0..32).map(|_| {
        let (base, storm) = (base.to_owned(), storm.clone());
        tokio::spawn(async move { call(&base, "GET", "/documents", Some(&storm), None).await })
    });
    for request in requests.collect::<Vec<_>>() {
        assert_eq!(request.await.unwrap().status, StatusCode::OK);
    }
    assert_eq!(provider.introspections().await - counted, 1);

    // Revoked before its first use: inactive, 401.
    let revoked = provider.token_for("alice", "docs:read", OPAQUE).await;
    provider.revoke("alice", &revoked).await;
    call(base, "GET", "/documents", Some(&revoked), None)
        .await
        .assert_denied(StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN));
    // Unknown to the provider: inactive, 401.
    call(base, "GET", "/documents", Some("an-opaque-token-nobody-issued"), None)
        .await
        .assert_denied(StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN));
    // For another API: active, but not for this audience, 401.
    let elsewhere = provider.token_for("alice", "docs:read", "https://elsewhere.example").await;
    call(base, "GET", "/documents", Some(&elsewhere), None)
        .await
        .assert_denied(StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN));
    // Expired: valid for 2 s at the provider; once past, the provider says inactive.
    let brief = provider.token_for("alice", "docs:read", "https://documents.example/brief").await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    call(base, "GET", "/documents", Some(&brief), None)
        .await
        .assert_denied(StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN));
}

// ---------------------------------------------------------------------------------------------
// Step-up authentication (RFC 9470) with users' sessions
// ---------------------------------------------------------------------------------------------

/// The cookies a browser would keep, by name (the provider reads them by name only).
#[derive(Default)]
struct Cookies(Vec<(String, String)>);

impl Cookies {
    fn keep(&mut self, headers: &http::HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(known, _)| known != name);
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

impl Provider {
    /// An access token of `user`'s session, signed in with `acr`, through the authorization
    /// code flow of the `web` client (a browser's redirects, followed by hand): a JWT for
    /// [`RESOURCE`] with `scope`.
    async fn session_token(&self, user: &str, acr: &str, scope: &str) -> String {
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut cookies = Cookies::default();
        let redirect_uri = "http://127.0.0.1/callback";
        let query = form_urlencoded(&[
            ("client_id", "web"),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("scope", &format!("openid {scope}")),
            ("resource", RESOURCE),
            ("acr_values", acr),
        ]);
        let mut location = format!("{}/auth?{query}", self.issuer);
        // The authorization request, the interaction, its end, until the redirect with the code.
        let mut hops = 0;
        let code = loop {
            hops += 1;
            assert!(hops < 10, "the sign-in does not end: {location}");
            let response = client
                .get(&location)
                .header(header::COOKIE, cookies.header())
                .send()
                .await
                .unwrap();
            cookies.keep(response.headers());
            let status = response.status();
            let next =
                response.headers().get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
            let Some(next) = next else {
                panic!("{status}: {}", response.text().await.unwrap());
            };
            if let Some(query) = next.strip_prefix(&format!("{redirect_uri}?")) {
                let code = query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("code="))
                    .unwrap_or_else(|| panic!("no code in {next}"));
                break code.to_owned();
            }
            let next = if next.starts_with('/') { format!("{}{next}", self.issuer) } else { next };
            location = match next.split_once("/interaction/") {
                Some((_, uid)) => format!(
                    "{}/test/sign-in/{uid}?{}",
                    self.issuer,
                    form_urlencoded(&[("user", user), ("acr", acr)])
                ),
                None => next,
            };
        };
        let response = client
            .post(format!("{}/token", self.issuer))
            .basic_auth("web", Some("web-secret"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_urlencoded(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
                ("resource", RESOURCE),
            ]))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_multi_factor_gets_the_step_up_challenge_and_one_with_it_exports() {
    let provider = Provider::start();
    let password = provider.session_token("alice", "urn:documents:password", "docs:read").await;
    let mfa = provider.session_token("alice", documents::MFA, "docs:read").await;
    // What the provider issues for a session: the sign-in's `acr` and `auth_time` (RFC 9068).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    for (token, acr) in [(&password, "urn:documents:password"), (&mfa, documents::MFA)] {
        let (head, claims) = decode(token);
        assert_eq!(head["typ"], "at+jwt");
        assert_eq!((&claims["sub"], &claims["acr"]), (&json!("alice"), &json!(acr)), "{claims}");
        let auth_time = claims["auth_time"].as_u64().unwrap();
        assert!(now.as_secs().abs_diff(auth_time) < 60, "{claims}");
    }
    let documents = Documents::start(&[
        ("PORTCULLIS_ISSUER", provider.issuer.as_str()),
        ("PORTCULLIS_AUDIENCE", AUDIENCE),
        ("PORTCULLIS_TOKEN_PROFILE", "rfc9068"),
    ]);
    let base = documents.base.as_str();
    // alice's document, written with her client's token (the same subject).
    let writer = provider.token("alice", "docs:write").await;
    let created = call(
        base,
        "POST",
        "/documents",
        Some(&writer),
        Some((JSON, r#"{"title": "Taxes", "body": "2026"}"#)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let step_up = r#"Bearer realm="documents", error="insufficient_user_authentication", acr_values="urn:documents:mfa", max_age="600""#;
    for token in [&password, &writer] {
        call(base, "GET", "/documents/export", Some(token), None)
            .await
            .assert_denied(StatusCode::UNAUTHORIZED, Some(step_up));
    }
    // The same session token reads the list, which needs no step-up.
    let list = call(base, "GET", "/documents", Some(&password), None).await;
    assert_eq!(list.status, StatusCode::OK);
    let export = call(base, "GET", "/documents/export", Some(&mfa), None).await;
    assert_eq!(export.status, StatusCode::OK, "{:?}", String::from_utf8_lossy(&export.bytes));
    assert_eq!(export.header("content-type"), Some(JSON));
    assert_eq!(export.json(), json!([created.json()]));
}
