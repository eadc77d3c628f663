//! The documents binary configured for opaque tokens through the environment alone
//! (`PORTCULLIS_INTROSPECTION_URL`, `…_CLIENT_ID`, `…_CLIENT_SECRET`, or the endpoint found by
//! discovery from `PORTCULLIS_ISSUER`), against an authorization server of the test's own on
//! 127.0.0.1 that serves discovery, a JWKS and introspection, and records what it is sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http_body_util::BodyExt;
use portcullis::testing::TestIssuer;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const BINARY: &str = env!("CARGO_BIN_EXE_documents");
const CLIENT_ID: &str = "documents-api";
const CLIENT_SECRET: &str = "never-logged-secret";
const PROBLEM_JSON: &str = "application/problem+json";

/// Every setting the binary reads, removed so that only the test's own apply.
const SETTINGS: [&str; 18] = [
    "DOCUMENTS_ADDR",
    "DOCUMENTS_DB",
    "PORTCULLIS_ISSUER",
    "PORTCULLIS_AUDIENCE",
    "PORTCULLIS_JWKS_URL",
    "PORTCULLIS_REALM",
    "PORTCULLIS_DISCLOSURE",
    "PORTCULLIS_TOKEN_PROFILE",
    "PORTCULLIS_ALLOW_HTTP",
    "PORTCULLIS_ROLES_CLAIM",
    "PORTCULLIS_DPOP",
    "PORTCULLIS_RESOURCE",
    "PORTCULLIS_DPOP_NONCE",
    "PORTCULLIS_INTROSPECTION_URL",
    "PORTCULLIS_INTROSPECTION_CLIENT_ID",
    "PORTCULLIS_INTROSPECTION_CLIENT_SECRET",
    "PORTCULLIS_INTROSPECTION_MAX_CONCURRENT",
    "PORTCULLIS_INTROSPECTION_TOKEN_PREFIX",
];

// ---------------------------------------------------------------------------------------------
// The authorization server
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct AsState {
    discovery: Value,
    jwks: Value,
    /// Active answers by token; any other token is inactive.
    active: HashMap<String, Value>,
    /// (path, Authorization header, form) of every POST.
    posts: Vec<(String, Option<String>, String)>,
}

type Shared = Arc<Mutex<AsState>>;

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let form = String::from_utf8(body.to_vec()).unwrap();
    let mut state = state.lock().unwrap();
    match path.as_str() {
        "/.well-known/openid-configuration" => axum::Json(state.discovery.clone()).into_response(),
        "/jwks" => axum::Json(state.jwks.clone()).into_response(),
        _ => {
            state.posts.push((path, authorization, form.clone()));
            let token: String = form
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
                .unwrap_or_default()
                .to_owned();
            let answer = state.active.get(&token).cloned().unwrap_or(json!({"active": false}));
            axum::Json(answer).into_response()
        }
    }
}

struct As {
    base: String,
    state: Shared,
    issuer: TestIssuer,
}

impl As {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = TestIssuer::eddsa().with_issuer(&base).with_audience("documents");
        let state = Shared::new(Mutex::new(AsState {
            discovery: json!({
                "issuer": base,
                "jwks_uri": format!("{base}/jwks"),
                "introspection_endpoint": format!("{base}/discovered/introspect"),
            }),
            jwks: issuer.jwks(),
            ..AsState::default()
        }));
        let router = Router::new().fallback(handle).with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { base, state, issuer }
    }

    /// Registers an opaque token for `sub` with `scope`.
    fn token(&self, name: &str, sub: &str, scope: &str) -> String {
        let token = format!("{name}-opaque-7f3a9c");
        let exp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                + 600;
        self.state.lock().unwrap().active.insert(
            token.clone(),
            json!({"active": true, "sub": sub, "scope": scope, "aud": "documents",
                   "iss": self.base, "exp": exp, "client_id": "the-app"}),
        );
        token
    }

    fn posts(&self) -> Vec<(String, Option<String>, String)> {
        self.state.lock().unwrap().posts.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

struct Server {
    child: Child,
    base: String,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(vars: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BINARY);
        for var in SETTINGS {
            command.env_remove(var);
        }
        command.env("DOCUMENTS_ADDR", "127.0.0.1:0").env("RUST_LOG", "trace");
        command.envs(vars.iter().copied());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the documents binary starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut banner = Vec::new();
        let base = loop {
            let line = receiver
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no `Listening on` line: {banner:?}"));
            if let Some(rest) = line.strip_prefix("Listening on ") {
                break rest.split(' ').next().unwrap().to_owned();
            }
            banner.push(line);
        };
        assert!(!banner.join("\n").contains("DEVELOPMENT"), "{banner:?}");
        Self { child, base, stderr: Some(stderr) }
    }

    /// Stops the binary and returns its logs.
    fn logs(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.take().unwrap().join().unwrap()
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
}

async fn call(method: http::Method, url: String, token: &str, body: Option<Value>) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request =
            request.header(http::header::CONTENT_TYPE, "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    Reply { status, headers, body }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    let mut values = reply.headers.get_all(name).iter();
    let first = values.next().map(|value| value.to_str().unwrap());
    assert!(values.next().is_none(), "{name} repeated");
    first
}

/// Asserts the production 401 of a token that is not accepted: the challenge, the problem
/// document, and nothing more.
fn assert_invalid_token(refused: &Reply) {
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(refused, "www-authenticate"),
        Some(r#"Bearer realm="documents", error="invalid_token""#)
    );
    assert_eq!(header(refused, "content-type"), Some(PROBLEM_JSON));
    assert_eq!(
        refused.body,
        json!({"type": "about:blank", "title": "Unauthorized", "status": 401})
    );
}

/// Creates, lists, is refused with an inactive token and without the scope; returns the tokens.
async fn exercise(server: &Server, auth: &As) -> Vec<String> {
    let alice = auth.token("alice", "alice", "docs:read docs:write");
    let bob = auth.token("bob", "bob", "docs:read");
    let document = json!({"title": "Introspected", "body": "opaque tokens work"});

    let created =
        call(http::Method::POST, format!("{}/documents", server.base), &alice, Some(document))
            .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(header(&created, "location"), Some(format!("/documents/{id}").as_str()));
    assert_eq!(created.body["title"], "Introspected");
    assert_eq!(created.body["owner"], "alice");

    let listed = call(http::Method::GET, format!("{}/documents", server.base), &alice, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{:?}", listed.body);

    // A JWT of the same issuer is still verified locally, with the discovered keys.
    let jwt = auth.issuer.token("alice").scopes(["docs:read"]).sign();
    let listed = call(http::Method::GET, format!("{}/documents", server.base), &jwt, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);

    let inactive = "revoked-opaque-7f3a9c";
    let refused =
        call(http::Method::GET, format!("{}/documents", server.base), inactive, None).await;
    assert_invalid_token(&refused);

    let forbidden = call(
        http::Method::POST,
        format!("{}/documents", server.base),
        &bob,
        Some(json!({"title": "Mine", "body": ""})),
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        header(&forbidden, "www-authenticate"),
        Some(r#"Bearer realm="documents", error="insufficient_scope", scope="docs:write""#)
    );
    assert_eq!(forbidden.body, json!({"type": "about:blank", "title": "Forbidden", "status": 403}));
    vec![alice, bob, inactive.to_owned()]
}

fn expected_basic() -> String {
    use base64::Engine as _;
    let pair = format!("{CLIENT_ID}:{CLIENT_SECRET}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

fn assert_clean(logs: &str, tokens: &[String]) {
    assert!(logs.contains("listening"), "{logs}");
    assert!(!logs.contains(CLIENT_SECRET), "the secret was logged: {logs}");
    for token in tokens {
        assert!(!logs.contains(token.as_str()), "a token was logged: {logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_with_the_endpoint_from_the_environment() {
    let auth = As::start().await;
    let url = format!("{}/oauth/introspect", auth.base);
    let server = Server::start(&[
        ("PORTCULLIS_ISSUER", &auth.base),
        ("PORTCULLIS_AUDIENCE", "documents"),
        ("PORTCULLIS_INTROSPECTION_URL", &url),
        ("PORTCULLIS_INTROSPECTION_CLIENT_ID", CLIENT_ID),
        ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
    ]);
    let tokens = exercise(&server, &auth).await;
    let posts = auth.posts();
    // alice (once: cached), the inactive token, bob; the JWT was not introspected.
    assert_eq!(posts.len(), 3, "{posts:?}");
    for (path, authorization, form) in &posts {
        assert_eq!(path, "/oauth/introspect");
        assert_eq!(authorization.as_deref(), Some(expected_basic().as_str()));
        assert!(form.ends_with("&token_type_hint=access_token"), "{form}");
    }
    assert_clean(&server.logs(), &tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_with_the_endpoint_from_discovery() {
    let auth = As::start().await;
    let server = Server::start(&[
        ("PORTCULLIS_ISSUER", &auth.base),
        ("PORTCULLIS_AUDIENCE", "documents"),
        ("PORTCULLIS_INTROSPECTION_CLIENT_ID", CLIENT_ID),
        ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
    ]);
    let tokens = exercise(&server, &auth).await;
    let posts = auth.posts();
    assert_eq!(posts.len(), 3, "{posts:?}");
    assert!(posts.iter().all(|(path, _, _)| path == "/discovered/introspect"), "{posts:?}");
    assert!(posts.iter().all(|(_, auth, _)| auth.as_deref() == Some(expected_basic().as_str())));
    assert_clean(&server.logs(), &tokens);
}

/// The flood settings from the environment: tokens without one of the provider's prefixes are
/// refused without a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_prefix_and_the_bound_from_the_environment() {
    let auth = As::start().await;
    let url = format!("{}/oauth/introspect", auth.base);
    let server = Server::start(&[
        ("PORTCULLIS_ISSUER", &auth.base),
        ("PORTCULLIS_AUDIENCE", "documents"),
        ("PORTCULLIS_INTROSPECTION_URL", &url),
        ("PORTCULLIS_INTROSPECTION_CLIENT_ID", CLIENT_ID),
        ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
        ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "4"),
        ("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "alice-,bob-, revoked-"),
    ]);
    let mut tokens = exercise(&server, &auth).await;
    assert_eq!(auth.posts().len(), 3);
    for made_up in ["mallory-opaque-7f3a9c", "xalice-opaque-7f3a9c", "made-up-93b1d"] {
        let refused =
            call(http::Method::GET, format!("{}/documents", server.base), made_up, None).await;
        assert_invalid_token(&refused);
        tokens.push(made_up.to_owned());
    }
    assert_eq!(auth.posts().len(), 3, "a token without the prefix was introspected");
    assert_clean(&server.logs(), &tokens);
}
