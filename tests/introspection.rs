//! Opaque access tokens (issue 17): RFC 7662 introspection against an authorization server of
//! the test's own, an axum router on 127.0.0.1 started by each test, which records every request
//! it gets (method, headers, form) and answers each token as the test says.
//!
//! Requests go through a guarded axum `Router` (`GET /me`), and every answer is checked: status,
//! `WWW-Authenticate`, `Retry-After`, the content type and the problem document. No test depends
//! on timing: a slow endpoint is one that never answers, against a short configured timeout, and
//! cache lifetimes are unit-tested on an injected clock (`runtime/src/introspect/mod.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failed test")]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use portcullis::config::IntrospectionError;
use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer};
use portcullis::{
    ConfigError, Principal, Verifier,
    config::{TokenProfile, TrustedIssuer},
    introspection::{ClientAuthMethod, Introspection},
    response::Disclosure,
};
use portcullis_tests::{Captured, Reply, assert_denied, bearer, send, single_header};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};

// ---------------------------------------------------------------------------------------------
// Expected answers
// ---------------------------------------------------------------------------------------------

const CLIENT_ID: &str = "documents-api";
const CLIENT_SECRET: &str = "s3cr3t:with/odd chars";
const UNAVAILABLE: &str =
    "The access token cannot be checked with its issuer right now; retry later";

/// A 401 `invalid_token` in Development mode, naming `sentence`.
fn assert_refused(reply: &Reply, sentence: &str) {
    let challenge =
        format!(r#"Bearer realm="api", error="invalid_token", error_description="{sentence}""#);
    assert_denied(reply, StatusCode::UNAUTHORIZED, Some(&challenge), Some(sentence));
}

/// A 503 without a challenge, the fixed problem document, and `Retry-After: 1`.
fn assert_unavailable(reply: &Reply) {
    assert_denied(reply, StatusCode::SERVICE_UNAVAILABLE, None, Some(UNAVAILABLE));
    assert_eq!(single_header(&reply.headers, RETRY_AFTER.as_str()), Some("1"), "{reply:?}");
}

/// The `/me` answer for `subject` with `scopes`.
fn assert_me(reply: &Reply, subject: &str, scopes: &[&str]) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.challenge(), None);
    assert_eq!(single_header(&reply.headers, CONTENT_TYPE.as_str()), Some("application/json"));
    assert_eq!(reply.body["sub"], subject, "{reply:?}");
    assert_eq!(reply.body["scopes"], json!(scopes), "{reply:?}");
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// An active answer for `sub`, as a provider sends it for this API.
fn active(sub: &str) -> Value {
    json!({
        "active": true,
        "sub": sub,
        "scope": "docs:read docs:write",
        "aud": [TEST_AUDIENCE, "other-api"],
        "iss": TEST_ISSUER,
        "exp": now() + 600,
        "iat": now() - 10,
        "nbf": now() - 10,
        "client_id": "the-app",
        "token_type": "Bearer",
        "jti": "token-id-123",
        "tenant": "acme",
    })
}

/// A token never sent before.
fn opaque() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!("opaque-{}-2YotnFZFEjr1zCsicMWpAA", COUNTER.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------------
// The authorization server
// ---------------------------------------------------------------------------------------------

/// How the server answers a token.
#[derive(Debug, Clone)]
enum Answer {
    Json(Value),
    Raw {
        status: StatusCode,
        content_type: &'static str,
        body: Bytes,
    },
    /// A stream of chunks, so without `Content-Length`.
    Chunked(Bytes),
    Redirect(String),
}

/// One request the server got.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    form: Vec<(String, String)>,
}

impl Received {
    fn field(&self, name: &str) -> Option<&str> {
        let mut values = self.form.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(values.next().is_none(), "{name} repeated in {:?}", self.form);
        first
    }
}

#[derive(Default)]
struct AsState {
    answers: HashMap<String, Answer>,
    discovery: Option<Value>,
    received: Vec<Received>,
    /// Answers wait until this is released.
    hold: Option<Arc<tokio::sync::Semaphore>>,
    /// The answer for tokens not in `answers` (else inactive).
    otherwise: Option<Answer>,
}

type Shared = Arc<Mutex<AsState>>;

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let form: Vec<(String, String)> = form_pairs(&bytes);
    let path = parts.uri.path().to_owned();
    let (answer, hold) = {
        let mut state = state.lock().unwrap();
        state.received.push(Received {
            method: parts.method.clone(),
            path: path.clone(),
            headers: parts.headers.clone(),
            form: form.clone(),
        });
        let answer = if path == "/.well-known/openid-configuration" {
            state.discovery.clone().map(Answer::Json)
        } else {
            // By path and token, else by token.
            let token = form.iter().find(|(n, _)| n == "token").map(|(_, v)| v.clone());
            token.and_then(|token| {
                let by_path = state.answers.get(&format!("{path} {token}")).cloned();
                by_path.or_else(|| state.answers.get(&token).cloned())
            })
        };
        (answer.or_else(|| state.otherwise.clone()), state.hold.clone())
    };
    if let Some(hold) = hold {
        let _permit = hold.acquire().await.unwrap();
    }
    match answer.unwrap_or(Answer::Json(json!({"active": false}))) {
        Answer::Json(value) => axum::Json(value).into_response(),
        Answer::Raw { status, content_type, body } => {
            (status, [(CONTENT_TYPE, content_type)], body).into_response()
        }
        Answer::Chunked(body) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                body.chunks(1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            Body::from_stream(futures_util::stream::iter(chunks)).into_response()
        }
        Answer::Redirect(to) => (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, to)]).into_response(),
    }
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    // The form must be application/x-www-form-urlencoded: parsed by the serde_urlencoded rules.
    let text = std::str::from_utf8(bytes).unwrap();
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                percent_decode(&s)
            };
            (decode(name), decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// An authorization server on 127.0.0.1.
struct As {
    addr: SocketAddr,
    state: Shared,
}

impl As {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Shared::default();
        let router = Router::new().fallback(handle).with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn answer(&self, token: &str, answer: Answer) {
        self.state.lock().unwrap().answers.insert(token.to_owned(), answer);
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    fn calls(&self) -> usize {
        self.received().iter().filter(|r| r.path == "/introspect").count()
    }

    fn last(&self) -> Received {
        self.received().pop().expect("a request arrived")
    }
}

/// An address whose port is bound but does not listen: connections are refused.
fn refusing() -> (TcpSocket, SocketAddr) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

/// A server that accepts connections and never answers.
async fn silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------

async fn me(principal: Principal) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": principal.subject(),
        "id": principal.id(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
        "claims": principal.claims(),
    }))
}

fn app(verifier: Verifier) -> Router {
    Router::new().route("/me", get(me)).with_state(verifier)
}

/// The introspection settings of most tests.
fn introspection(url: &str) -> Introspection {
    Introspection::endpoint(url).client_credentials(CLIENT_ID, CLIENT_SECRET)
}

/// A Development-mode verifier of [`TEST_ISSUER`] for [`TEST_AUDIENCE`] with `introspection`.
fn verifier(introspection: Introspection) -> Verifier {
    Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .disclosure(Disclosure::Development)
        .introspection(introspection)
        .build()
        .expect("the configuration builds")
}

async fn get_me(app: &Router, token: &str) -> Reply {
    send(app.clone(), bearer("/me", token)).await
}

// ---------------------------------------------------------------------------------------------
// Active, inactive, and the claim rules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_active_token_is_a_principal_with_every_member_as_a_claim() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let token = opaque();
    let answer = active("alice");
    server.answer(&token, Answer::Json(answer.clone()));

    let reply = get_me(&app, &token).await;
    assert_me(&reply, "alice", &["docs:read", "docs:write"]);
    // Every member is kept (RFC 7662 §2.2), the array `aud` included.
    assert_eq!(reply.body["claims"], answer);

    // The request as RFC 7662 §2.1 has it, with client_secret_basic (RFC 6749 §2.3.1).
    let request = server.last();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/introspect");
    assert_eq!(
        single_header(&request.headers, CONTENT_TYPE.as_str()),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(single_header(&request.headers, "accept"), Some("application/json"));
    let basic = single_header(&request.headers, AUTHORIZATION.as_str()).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    // Each part form-encoded before the base64 (RFC 6749 §2.3.1).
    assert_eq!(String::from_utf8(decoded).unwrap(), "documents-api:s3cr3t%3Awith%2Fodd+chars");
    assert_eq!(
        request.form,
        [("token".to_owned(), token.clone()), ("token_type_hint".into(), "access_token".into())]
    );
}

/// A client-credentials token has no resource owner, and RFC 7662 makes `sub` optional:
/// `oidc-provider` answers without it. The client is then the caller, as RFC 9068 §2.2 has
/// `sub` name it in a JWT.
#[tokio::test]
async fn an_answer_without_sub_names_its_client() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let token = opaque();
    let mut answer = active("unused");
    answer.as_object_mut().unwrap().remove("sub");
    server.answer(&token, Answer::Json(answer));
    let reply = get_me(&app, &token).await;
    assert_me(&reply, "the-app", &["docs:read", "docs:write"]);
    assert_eq!(reply.body["claims"]["sub"], "the-app");
}

/// The RFC 9068 profile is about JWTs: an introspection answer needs none of its claims (an
/// opaque token's answer has no `jti`, and `oidc-provider` sends none).
#[tokio::test]
async fn the_rfc9068_profile_does_not_apply_to_introspection_answers() {
    let server = As::start().await;
    let verifier = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .token_profile(TokenProfile::Rfc9068)
        .introspection(introspection(&server.url("/introspect")))
        .build()
        .expect("the configuration builds");
    let token = opaque();
    let mut answer = active("alice");
    for member in ["jti", "iat", "client_id"] {
        answer.as_object_mut().unwrap().remove(member);
    }
    server.answer(&token, Answer::Json(answer));
    assert_me(&get_me(&app(verifier), &token).await, "alice", &["docs:read", "docs:write"]);
}

/// With several issuers, an endpoint vouches for its own issuer's tokens only, as each issuer's
/// keys verify only its own JWTs: which one must be said, and an answer naming another is refused.
#[tokio::test]
async fn with_several_issuers_the_endpoint_answers_for_its_own() {
    const OTHER: &str = "https://other-issuer.example";
    let server = As::start().await;
    let builder = |introspection: Introspection| {
        Verifier::builder()
            .issuer(TEST_ISSUER)
            .issuer(OTHER)
            .audience(TEST_AUDIENCE)
            .disclosure(Disclosure::Development)
            .introspection(introspection)
            .build()
    };
    let err = builder(introspection(&server.url("/introspect"))).unwrap_err();
    assert!(matches!(err, ConfigError::Introspection(IntrospectionError::NeedsIssuer)), "{err}");
    let err =
        builder(introspection(&server.url("/introspect")).issuer("https://c.example")).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Introspection(IntrospectionError::IssuerNotAccepted(ref i))
                if i == "https://c.example"
        ),
        "{err}"
    );

    let app = app(builder(introspection(&server.url("/introspect")).issuer(TEST_ISSUER)).unwrap());
    let own = opaque();
    server.answer(&own, Answer::Json(active("alice")));
    let reply = get_me(&app, &own).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    // Two issuers: the caller is the pair.
    assert_eq!(reply.body["id"], json!(format!(r#"["{TEST_ISSUER}","alice"]"#)), "{reply:?}");
    let mut foreign_answer = active("alice");
    foreign_answer["iss"] = json!(OTHER);
    let foreign = opaque();
    server.answer(&foreign, Answer::Json(foreign_answer));
    assert_refused(
        &get_me(&app, &foreign).await,
        "The access token was issued by an untrusted issuer",
    );
}

/// JWTs introspected for revocation, with two issuers: only the endpoint's own issuer's JWTs are
/// sent to it (another issuer's would be shown to a server that does not speak for it), and an
/// answer about one of them that names another issuer is refused.
#[tokio::test]
async fn introspected_jwts_go_to_their_own_issuers_endpoint_only() {
    const OTHER: &str = "https://other-issuer.example";
    let server = As::start().await;
    let own = TestIssuer::eddsa().with_kid(Some("own"));
    let other = TestIssuer::eddsa().with_issuer(OTHER).with_kid(Some("other"));
    let verifier = own
        .verifier()
        .trusted_issuer(TrustedIssuer::new(OTHER).key(other.verification_key()))
        .disclosure(Disclosure::Development)
        .introspection(
            introspection(&server.url("/introspect")).issuer(TEST_ISSUER).introspect_jwts(true),
        )
        .build()
        .unwrap();
    let app = app(verifier);

    let foreign = other.token("bob").scopes(["docs:read"]).sign();
    let reply = get_me(&app, &foreign).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["sub"], "bob");
    assert_eq!(server.calls(), 0, "another issuer's JWT was sent to the endpoint");

    let mine = own.token("alice").scopes(["docs:read"]).sign();
    server.answer(&mine, Answer::Json(json!({"active": true, "iss": TEST_ISSUER})));
    assert_me(&get_me(&app, &mine).await, "alice", &["docs:read"]);
    assert_eq!(server.calls(), 1);

    let misattributed = own.token("carol").scopes(["docs:read"]).sign();
    server.answer(&misattributed, Answer::Json(json!({"active": true, "iss": OTHER})));
    assert_refused(
        &get_me(&app, &misattributed).await,
        "The access token was issued by an untrusted issuer",
    );
}

#[tokio::test]
async fn client_secret_post_sends_the_credentials_in_the_form() {
    let server = As::start().await;
    let config =
        introspection(&server.url("/introspect")).client_auth(ClientAuthMethod::ClientSecretPost);
    let app = app(verifier(config));
    let token = opaque();
    server.answer(&token, Answer::Json(active("alice")));
    assert_me(&get_me(&app, &token).await, "alice", &["docs:read", "docs:write"]);
    let request = server.last();
    assert_eq!(request.headers.get(AUTHORIZATION), None);
    assert_eq!(request.field("token"), Some(token.as_str()));
    assert_eq!(request.field("token_type_hint"), Some("access_token"));
    assert_eq!(request.field("client_id"), Some(CLIENT_ID));
    assert_eq!(request.field("client_secret"), Some(CLIENT_SECRET));
    assert_eq!(request.form.len(), 4, "{:?}", request.form);
}

#[tokio::test]
async fn without_credentials_no_authorization_is_sent() {
    let server = As::start().await;
    let app = app(verifier(Introspection::endpoint(server.url("/introspect"))));
    let token = opaque();
    server.answer(&token, Answer::Json(active("alice")));
    assert_me(&get_me(&app, &token).await, "alice", &["docs:read", "docs:write"]);
    let request = server.last();
    assert_eq!(request.headers.get(AUTHORIZATION), None);
    assert_eq!(request.field("client_id"), None);
    assert_eq!(request.field("client_secret"), None);
}

#[tokio::test]
async fn inactive_tokens_are_invalid_tokens() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    // `active: false`; no `active` at all (fail closed); a token the server does not know.
    let (inactive, no_active, unknown) = (opaque(), opaque(), opaque());
    server.answer(&inactive, Answer::Json(json!({"active": false})));
    server.answer(&no_active, Answer::Json(json!({"error": "invalid_token", "sub": "alice"})));
    for token in [&inactive, &no_active, &unknown] {
        assert_refused(&get_me(&app, token).await, "The access token is not active");
    }
    assert_eq!(server.calls(), 3);
}

#[tokio::test]
async fn production_mode_says_only_invalid_token() {
    let server = As::start().await;
    let verifier = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .introspection(introspection(&server.url("/introspect")))
        .build()
        .unwrap();
    let reply = get_me(&app(verifier), &opaque()).await;
    assert_denied(
        &reply,
        StatusCode::UNAUTHORIZED,
        Some(r#"Bearer realm="api", error="invalid_token""#),
        None,
    );
}

#[tokio::test]
async fn active_answers_are_checked_as_claims_are() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let with = |name: &str, value: Value| {
        let mut answer = active("alice");
        answer[name] = value;
        answer
    };
    let without = |name: &str| {
        let mut answer = active("alice");
        answer.as_object_mut().unwrap().remove(name);
        answer
    };
    // Neither `sub` nor `client_id`: nobody to name (with `client_id` alone, the client is the
    // caller: `an_answer_without_sub_names_its_client`).
    let mut without_subject = without("sub");
    without_subject.as_object_mut().unwrap().remove("client_id");
    let cases = [
        (with("exp", json!(now() - 120)), "The access token expired"),
        (with("nbf", json!(now() + 600)), "The access token is not valid yet"),
        (with("aud", json!("another-api")), "The access token is not intended for this API"),
        (with("aud", json!(["a", "b"])), "The access token is not intended for this API"),
        (without("aud"), "The access token lacks a required claim"),
        (
            with("iss", json!("https://evil.example")),
            "The access token was issued by an untrusted issuer",
        ),
        (without_subject, "The access token lacks a required claim"),
        (with("scope", json!(["docs:read"])), "The access token has claims of the wrong type"),
        (with("exp", json!("tomorrow")), "The access token has claims of the wrong type"),
        (
            with("token_type", json!("refresh_token")),
            "The token is not an access token of an accepted type",
        ),
        // A bound token is no bearer token (tests/dpop.rs: every `cnf`, proofs, cache hits).
        (
            with("cnf", json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})),
            "The access token is bound to a key and must be presented with the DPoP scheme",
        ),
    ];
    for (answer, sentence) in cases {
        let token = opaque();
        server.answer(&token, Answer::Json(answer.clone()));
        let reply = get_me(&app, &token).await;
        assert_refused(&reply, sentence);
        // Nothing of the answer is in the response.
        assert!(!reply.visible().contains("alice"), "{answer}: {reply:?}");
    }
    // The string `aud`, and no `exp` (optional in RFC 7662) are accepted.
    for answer in [
        with("aud", json!(TEST_AUDIENCE)),
        without("exp"),
        with("token_type", json!("access_token")),
    ] {
        let token = opaque();
        server.answer(&token, Answer::Json(answer.clone()));
        let reply = get_me(&app, &token).await;
        assert_me(&reply, "alice", &["docs:read", "docs:write"]);
        // The answer's `aud` is kept as it came, a string or an array.
        assert_eq!(reply.body["claims"]["aud"], answer["aud"], "{answer}");
    }
}

// ---------------------------------------------------------------------------------------------
// Which tokens are introspected
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn jwts_are_verified_locally_unless_asked() {
    let server = As::start().await;
    let issuer = TestIssuer::eddsa();
    let local = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .introspection(introspection(&server.url("/introspect")))
        .build()
        .unwrap();
    let jwt = issuer.token("alice").scopes(["docs:read"]).sign();
    assert_me(&get_me(&app(local.clone()), &jwt).await, "alice", &["docs:read"]);
    // A forged JWT is refused locally too: nothing is sent.
    let forged = TestIssuer::eddsa().token("alice").sign();
    assert_refused(&get_me(&app(local), &forged).await, "The access token signature is invalid");
    assert_eq!(server.calls(), 0);

    // Introspected for revocation: verified locally, then it must be active.
    let revocation = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .introspection(introspection(&server.url("/introspect")).introspect_jwts(true))
        .build()
        .unwrap();
    let app = app(revocation);
    assert_refused(&get_me(&app, &jwt).await, "The access token is not active");
    assert_eq!(server.calls(), 1);
    assert_eq!(server.last().field("token"), Some(jwt.as_str()));
    let other = issuer.token("bob").scopes(["docs:read"]).sign();
    server.answer(&other, Answer::Json(json!({"active": true})));
    // The principal is the JWT's (its claims were verified); the answer only says "active".
    assert_me(&get_me(&app, &other).await, "bob", &["docs:read"]);
    // A forged one never reaches the endpoint.
    assert_refused(&get_me(&app, &forged).await, "The access token signature is invalid");
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn without_introspection_an_opaque_token_is_malformed() {
    let issuer = TestIssuer::eddsa();
    let verifier = issuer.verifier().disclosure(Disclosure::Development).build().unwrap();
    assert_refused(&get_me(&app(verifier), &opaque()).await, "The access token is malformed");
}

#[tokio::test]
async fn introspection_alone_needs_no_keys_and_refuses_every_jwt() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let jwt = TestIssuer::eddsa().token("alice").sign();
    assert_refused(
        &get_me(&app, &jwt).await,
        "The access token is signed with an algorithm that is not allowed",
    );
    assert_eq!(server.calls(), 0);
}

// ---------------------------------------------------------------------------------------------
// Caching
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn answers_are_cached_by_token() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let (alice, bob, bad) = (opaque(), opaque(), opaque());
    server.answer(&alice, Answer::Json(active("alice")));
    server.answer(&bob, Answer::Json(active("bob")));
    for _ in 0..3 {
        assert_me(&get_me(&app, &alice).await, "alice", &["docs:read", "docs:write"]);
        assert_me(&get_me(&app, &bob).await, "bob", &["docs:read", "docs:write"]);
        assert_refused(&get_me(&app, &bad).await, "The access token is not active");
    }
    assert_eq!(server.calls(), 3, "one call per token");

    // A capacity of zero keeps nothing: every request is introspected.
    let uncached = app_uncached(&server);
    for _ in 0..3 {
        assert_me(&get_me(&uncached, &alice).await, "alice", &["docs:read", "docs:write"]);
    }
    assert_eq!(server.calls(), 6);
}

fn app_uncached(server: &As) -> Router {
    app(verifier(introspection(&server.url("/introspect")).capacity(0)))
}

/// Replays `tokens` through `app` once, in order; every one must be accepted.
async fn replay(app: &Router, tokens: &[String]) {
    for token in tokens {
        let reply = get_me(app, token).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
}

/// The cache keeps what is used: after a warm-up of three times its capacity in other tokens, a
/// working set of 80 % of its capacity, replayed round-robin, is introspected on its first round
/// only (at least 99 % hits after it), counted at the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_set_stays_cached_through_a_warm_up_of_other_tokens() {
    // 16 000 tokens, 28 000 requests (the unit tests of `introspect` take 50 000 and 190 000,
    // without HTTP).
    const CAPACITY: usize = 4_000;
    const ROUNDS: usize = 4;
    let server = As::start().await;
    server.state.lock().unwrap().otherwise = Some(Answer::Json(active("alice")));
    let app = app(verifier(
        introspection(&server.url("/introspect"))
            .capacity(CAPACITY)
            .max_age(Duration::from_secs(600)),
    ));
    let warm_up: Vec<String> = (0..3 * CAPACITY).map(|_| opaque()).collect();
    replay(&app, &warm_up).await;
    assert_eq!(server.calls(), 3 * CAPACITY);
    let working_set: Vec<String> = (0..CAPACITY * 8 / 10).map(|_| opaque()).collect();
    replay(&app, &working_set).await;
    let after_first_round = server.calls();
    assert_eq!(after_first_round, 3 * CAPACITY + working_set.len());
    for _ in 0..ROUNDS {
        replay(&app, &working_set).await;
    }
    let misses = server.calls() - after_first_round;
    let requests = ROUNDS * working_set.len();
    assert!(
        misses * 100 <= requests,
        "{misses} misses in {requests} requests after the first round"
    );
}

/// Entries that have ended make room before any live one goes: live entries never read since
/// they were stored (the first the eviction would choose) stay, however many refusals ended
/// meanwhile and however many new tokens came after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_entries_never_take_the_room_of_live_ones() {
    const CAPACITY: usize = 4_000;
    let server = As::start().await;
    let app = app(verifier(
        introspection(&server.url("/introspect"))
            .capacity(CAPACITY)
            .max_age(Duration::from_secs(600))
            .inactive_max_age(Duration::from_millis(300)),
    ));
    let live = |count: usize| -> Vec<String> {
        (0..count)
            .map(|_| {
                let token = opaque();
                server.answer(&token, Answer::Json(active("alice")));
                token
            })
            .collect()
    };
    let first = live(CAPACITY * 35 / 100);
    replay(&app, &first).await;
    // Half the capacity in refusals (unknown tokens), kept for 300 ms.
    for _ in 0..CAPACITY / 2 {
        assert_refused(&get_me(&app, &opaque()).await, "The access token is not active");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = live(CAPACITY * 35 / 100);
    replay(&app, &second).await;
    let calls = server.calls();
    assert_eq!(calls, first.len() + CAPACITY / 2 + second.len());
    // Both live sets are still cached.
    replay(&app, &first).await;
    replay(&app, &second).await;
    assert_eq!(server.calls(), calls, "live entries were evicted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_one_token_is_one_call() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let hold = Arc::new(tokio::sync::Semaphore::new(0));
    server.state.lock().unwrap().hold = Some(Arc::clone(&hold));
    let (good, bad) = (opaque(), opaque());
    server.answer(&good, Answer::Json(active("alice")));
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (app, token) = (app.clone(), if i % 2 == 0 { good.clone() } else { bad.clone() });
        requests.spawn(async move { (i, get_me(&app, &token).await) });
    }
    // The first calls are held while every other request arrives at the verifier: without the
    // single flight, they would reach the server meanwhile.
    while server.calls() < 2 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    hold.add_permits(1000);
    while let Some(done) = requests.join_next().await {
        let (i, reply) = done.unwrap();
        if i % 2 == 0 {
            assert_me(&reply, "alice", &["docs:read", "docs:write"]);
        } else {
            assert_refused(&reply, "The access token is not active");
        }
    }
    assert_eq!(server.calls(), 2, "one call for each of the two tokens");
}

// ---------------------------------------------------------------------------------------------
// Floods: a bound on concurrent calls, and a pre-filter
// ---------------------------------------------------------------------------------------------

/// Holds every answer of `server` until the returned semaphore gets permits.
fn hold(server: &As) -> Arc<tokio::sync::Semaphore> {
    let hold = Arc::new(tokio::sync::Semaphore::new(0));
    server.state.lock().unwrap().hold = Some(Arc::clone(&hold));
    hold
}

/// Waits until `server` has received `calls` introspection calls (at most ten seconds).
async fn until_calls(server: &As, calls: usize) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.calls() < calls {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} calls of {calls} arrived", server.calls()));
}

/// `N + k` new tokens at once against a bound of `N`, the server slow: `N` calls, and `k`
/// requests refused at once with 503 and `Retry-After`, while the `N` calls are still held.
/// Once they end, the bound is free again, and the refused tokens (nothing kept of their
/// refusal) are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_a_new_token_is_a_503_at_once_without_a_call() {
    const BOUND: usize = 4;
    const OVER: usize = 12;
    let server = As::start().await;
    // A long timeout: the held calls must not fail while the test looks at the others.
    let config = introspection(&server.url("/introspect")).timeout(Duration::from_secs(60));
    let app = app(verifier(config.max_concurrent_calls(BOUND)));
    let hold = hold(&server);
    let tokens: Vec<String> = (0..BOUND + OVER).map(|_| opaque()).collect();
    for (i, token) in tokens.iter().enumerate() {
        server.answer(token, Answer::Json(active(&format!("user-{i}"))));
    }
    let mut requests = tokio::task::JoinSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let (app, token) = (app.clone(), token.clone());
        requests.spawn(async move { (i, get_me(&app, &token).await) });
    }
    // Every refusal arrives while the calls are held: nobody waited for a permit.
    let mut refused = Vec::new();
    while refused.len() < OVER {
        let (i, reply) = tokio::time::timeout(Duration::from_secs(10), requests.join_next())
            .await
            .expect("the requests over the bound are answered while the calls are held")
            .expect("a request")
            .unwrap();
        assert_unavailable(&reply);
        refused.push(i);
    }
    until_calls(&server, BOUND).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.calls(), BOUND, "exactly the bound's calls reach the server");
    assert_eq!(requests.len(), BOUND);

    hold.add_permits(10_000);
    while let Some(done) = requests.join_next().await {
        let (i, reply) = done.unwrap();
        assert_me(&reply, &format!("user-{i}"), &["docs:read", "docs:write"]);
    }
    assert_eq!(server.calls(), BOUND);
    // The bound is free again: the refused tokens were not kept as refused, and all of them
    // (as many as the bound at a time) are introspected now.
    for chunk in refused.chunks(BOUND) {
        let mut again = tokio::task::JoinSet::new();
        for &i in chunk {
            let (app, token) = (app.clone(), tokens[i].clone());
            again.spawn(async move { (i, get_me(&app, &token).await) });
        }
        while let Some(done) = again.join_next().await {
            let (i, reply) = done.unwrap();
            assert_me(&reply, &format!("user-{i}"), &["docs:read", "docs:write"]);
        }
    }
    assert_eq!(server.calls(), BOUND + OVER);
}

/// Requests for a token already being introspected wait for that call: they take no permit,
/// so a popular token's storm neither fills the bound nor gets 503s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_call_in_progress_does_not_count_against_the_bound() {
    let server = As::start().await;
    let config = introspection(&server.url("/introspect")).timeout(Duration::from_secs(60));
    let app = app(verifier(config.max_concurrent_calls(2)));
    let hold = hold(&server);
    let (popular, other, third) = (opaque(), opaque(), opaque());
    server.answer(&popular, Answer::Json(active("alice")));
    server.answer(&other, Answer::Json(active("bob")));
    server.answer(&third, Answer::Json(active("carol")));
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..41 {
        let (app, token) = (app.clone(), if i == 40 { other.clone() } else { popular.clone() });
        requests.spawn(async move { (i, get_me(&app, &token).await) });
    }
    until_calls(&server, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(requests.len(), 41, "nobody was refused");
    // The two permits are taken by the two calls: a third token is refused.
    assert_unavailable(&get_me(&app, &third).await);
    hold.add_permits(10_000);
    while let Some(done) = requests.join_next().await {
        let (i, reply) = done.unwrap();
        let subject = if i == 40 { "bob" } else { "alice" };
        assert_me(&reply, subject, &["docs:read", "docs:write"]);
    }
    assert_eq!(server.calls(), 2, "one call for each of the two tokens");
    assert_me(&get_me(&app, &third).await, "carol", &["docs:read", "docs:write"]);
    assert_eq!(server.calls(), 3);
}

/// The default bound is the one documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_bound_is_32_calls() {
    assert_eq!(Introspection::DEFAULT_MAX_CONCURRENT_CALLS, 32);
    let server = As::start().await;
    let config = introspection(&server.url("/introspect")).timeout(Duration::from_secs(60));
    let app = app(verifier(config));
    let hold = hold(&server);
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (app, token) = (app.clone(), opaque());
        requests.spawn(async move { get_me(&app, &token).await });
    }
    for _ in 0..8 {
        let reply = tokio::time::timeout(Duration::from_secs(10), requests.join_next())
            .await
            .expect("answered at once")
            .expect("a request")
            .unwrap();
        assert_unavailable(&reply);
    }
    until_calls(&server, 32).await;
    hold.add_permits(10_000);
    while let Some(done) = requests.join_next().await {
        assert_refused(&done.unwrap(), "The access token is not active");
    }
    assert_eq!(server.calls(), 32);
}

/// A thousand made-up tokens without the provider's prefix: refused as malformed, and not one
/// call. The provider's own tokens are introspected; JWTs are not concerned.
#[tokio::test]
async fn a_token_prefix_keeps_made_up_tokens_away_from_the_server() {
    let server = As::start().await;
    let issuer = TestIssuer::eddsa();
    let verifier = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .introspection(
            introspection(&server.url("/introspect"))
                .opaque_token_prefix("ory_at_")
                .opaque_token_prefix("ory_ot_"),
        )
        .build()
        .unwrap();
    let app = app(verifier);
    for i in 0..1000 {
        let token =
            format!("{}{}", ["", "ory_", "ory_rt_", "xory_at_", "ORY_AT_"][i % 5], opaque());
        assert_refused(&get_me(&app, &token).await, "The access token is malformed");
    }
    assert_eq!(server.calls(), 0);
    let (access, other) = (format!("ory_at_{}", opaque()), format!("ory_ot_{}", opaque()));
    server.answer(&access, Answer::Json(active("alice")));
    server.answer(&other, Answer::Json(active("bob")));
    assert_me(&get_me(&app, &access).await, "alice", &["docs:read", "docs:write"]);
    assert_me(&get_me(&app, &other).await, "bob", &["docs:read", "docs:write"]);
    assert_eq!(server.calls(), 2);
    let jwt = issuer.token("carol").scopes(["docs:read"]).sign();
    assert_me(&get_me(&app, &jwt).await, "carol", &["docs:read"]);
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn a_token_filter_keeps_made_up_tokens_away_from_the_server() {
    let server = As::start().await;
    // The provider's tokens: 32 lower-case hexadecimal digits.
    let config = introspection(&server.url("/introspect")).opaque_token_filter(|token| {
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    let app = app(verifier(config));
    for i in 0..1000 {
        let token = match i % 3 {
            0 => opaque(),
            1 => format!("{i:031x}"),
            _ => format!("{i:031x}G"),
        };
        assert_refused(&get_me(&app, &token).await, "The access token is malformed");
    }
    assert_eq!(server.calls(), 0);
    let token = format!("{:032x}", 0xdead_beef_u64);
    server.answer(&token, Answer::Json(active("alice")));
    assert_me(&get_me(&app, &token).await, "alice", &["docs:read", "docs:write"]);
    assert_eq!(server.calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// Tokens that are not access tokens
// ---------------------------------------------------------------------------------------------

/// An authorization server answers `active` for any token it issued: a refresh token or an ID
/// token stolen from a client must not open the API, whichever way the answer says what it is.
#[tokio::test]
async fn refresh_tokens_and_id_tokens_are_refused() {
    let (captured, _capture) = Captured::start(tracing::Level::INFO);

    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let with = |name: &str, value: &str| {
        let mut answer = active("alice");
        answer[name] = json!(value);
        answer
    };
    let cases = [
        // Cognito's `token_use`.
        ("token_use", "id"),
        ("token_use", "refresh"),
        // Keycloak's `typ`.
        ("typ", "Refresh"),
        ("typ", "Offline"),
        ("typ", "ID"),
        // RFC 7662's `token_type`, with RFC 7009's hint values and RFC 8693's URIs.
        ("token_type", "refresh_token"),
        ("token_type", "id_token"),
        ("token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
        ("token_type", "urn:ietf:params:oauth:token-type:id_token"),
        ("typ", "urn:ietf:params:oauth:token-type:refresh_token"),
    ];
    for (member, value) in cases {
        let token = opaque();
        server.answer(&token, Answer::Json(with(member, value)));
        let reply = get_me(&app, &token).await;
        assert_refused(&reply, "The token is not an access token of an accepted type");
        // (The challenge and the problem document are exactly the fixed ones: nothing of the
        // answer is in them.)
        // Refused once: the refusal is kept like an inactive token's.
        assert_refused(
            &get_me(&app, &token).await,
            "The token is not an access token of an accepted type",
        );
    }
    assert_eq!(server.calls(), cases.len());
    let logs = captured.text();
    for member in ["token_use", "typ", "token_type"] {
        assert!(
            logs.contains(&format!("member=\"{member}\""))
                || logs.contains(&format!("member={member}")),
            "{member} not in {logs}"
        );
    }
    assert!(logs.contains("an active answer is not for an access token"), "{logs}");
    // Access tokens, however they say so, are accepted.
    for (member, value) in [
        ("token_use", "access"),
        ("typ", "Bearer"),
        ("token_type", "Bearer"),
        ("token_type", "access_token"),
        ("token_type", "urn:ietf:params:oauth:token-type:access_token"),
    ] {
        let token = opaque();
        server.answer(&token, Answer::Json(with(member, value)));
        assert_me(&get_me(&app, &token).await, "alice", &["docs:read", "docs:write"]);
    }
}

/// A JWT introspected for revocation that the server says is a refresh token is refused too.
#[tokio::test]
async fn an_introspected_jwt_that_the_server_calls_a_refresh_token_is_refused() {
    let server = As::start().await;
    let issuer = TestIssuer::eddsa();
    let app = app(issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .introspection(introspection(&server.url("/introspect")).introspect_jwts(true))
        .build()
        .unwrap());
    let (refresh, access) =
        (issuer.token("alice").sign(), issuer.token("bob").scopes(["docs:read"]).sign());
    server.answer(&refresh, Answer::Json(json!({"active": true, "typ": "Refresh"})));
    server.answer(&access, Answer::Json(json!({"active": true, "typ": "Bearer"})));
    assert_refused(
        &get_me(&app, &refresh).await,
        "The token is not an access token of an accepted type",
    );
    assert_me(&get_me(&app, &access).await, "bob", &["docs:read"]);
}

// ---------------------------------------------------------------------------------------------
// Faults: 503 with Retry-After, never 401 or 500
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_endpoint_that_is_down_is_a_503() {
    let (_socket, addr) = refusing();
    let opaque_app = app(verifier(introspection(&format!("http://{addr}/introspect"))));
    let token = opaque();
    assert_unavailable(&get_me(&opaque_app, &token).await);
    // Remembered for its Retry-After, so a storm during an outage is not a storm of attempts.
    assert_unavailable(&get_me(&opaque_app, &token).await);

    // No fail-open: a JWT introspected for revocation is not accepted on its signature alone
    // while the endpoint is down, since it may have been revoked.
    let issuer = TestIssuer::eddsa();
    let revocation = issuer
        .verifier()
        .disclosure(Disclosure::Development)
        .introspection(introspection(&format!("http://{addr}/introspect")).introspect_jwts(true))
        .build()
        .unwrap();
    let jwt = issuer.token("alice").scopes(["docs:read"]).sign();
    assert_unavailable(&get_me(&app(revocation), &jwt).await);
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_a_503_after_the_timeout() {
    let addr = silent().await;
    let config =
        introspection(&format!("http://{addr}/introspect")).timeout(Duration::from_millis(200));
    assert_unavailable(&get_me(&app(verifier(config)), &opaque()).await);
}

#[tokio::test]
async fn garbage_answers_are_a_503() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let raw = |status, content_type, body: &'static str| Answer::Raw {
        status,
        content_type,
        body: Bytes::from_static(body.as_bytes()),
    };
    for answer in [
        raw(StatusCode::OK, "text/html", "<html>sign in</html>"),
        raw(StatusCode::OK, "application/json", "[true]"),
        raw(StatusCode::OK, "application/json", r#"{"active": "yes", "sub": "alice"}"#),
        raw(StatusCode::OK, "application/json", r#"{"active": true"#),
        raw(StatusCode::INTERNAL_SERVER_ERROR, "application/json", r#"{"active": true}"#),
        raw(StatusCode::UNAUTHORIZED, "application/json", r#"{"error": "invalid_client"}"#),
    ] {
        let token = opaque();
        server.answer(&token, answer.clone());
        let reply = get_me(&app, &token).await;
        assert_unavailable(&reply);
        assert!(
            !reply.visible().contains("alice") && !reply.visible().contains("html"),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused() {
    let server = As::start().await;
    let app = app(verifier(introspection(&server.url("/introspect")).max_response_bytes(4096)));
    let mut big = active("alice");
    big["padding"] = json!("x".repeat(5000));
    let (declared, chunked, fits) = (opaque(), opaque(), opaque());
    server.answer(&declared, Answer::Json(big.clone()));
    server.answer(&chunked, Answer::Chunked(Bytes::from(big.to_string())));
    server.answer(&fits, Answer::Chunked(Bytes::from(active("alice").to_string())));
    assert_unavailable(&get_me(&app, &declared).await);
    assert_unavailable(&get_me(&app, &chunked).await);
    assert_me(&get_me(&app, &fits).await, "alice", &["docs:read", "docs:write"]);
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (server, elsewhere) = (As::start().await, As::start().await);
    let app = app(verifier(introspection(&server.url("/introspect"))));
    let (away, home) = (opaque(), opaque());
    server.answer(&away, Answer::Redirect(elsewhere.url("/introspect")));
    elsewhere.answer(&away, Answer::Json(active("mallory")));
    assert_unavailable(&get_me(&app, &away).await);
    assert!(elsewhere.received().is_empty(), "{:?}", elsewhere.received());
    // Within the origin, a 307 is followed, with the form and the credentials.
    server.answer(&home, Answer::Redirect(server.url("/v2")));
    server.answer(&format!("/v2 {home}"), Answer::Json(active("alice")));
    let before = server.received().len();
    assert_me(&get_me(&app, &home).await, "alice", &["docs:read", "docs:write"]);
    let after: Vec<Received> = server.received()[before..].to_vec();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!((after[1].method.clone(), after[1].path.as_str()), (Method::POST, "/v2"));
    assert_eq!(after[1].form, after[0].form);
    assert_eq!(after[1].headers.get(AUTHORIZATION), after[0].headers.get(AUTHORIZATION));
    assert!(after[1].headers.get(AUTHORIZATION).is_some());
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_endpoint_can_come_from_discovery() {
    let server = As::start().await;
    let issuer = server.url("");
    server.state.lock().unwrap().discovery = Some(json!({
        "issuer": issuer,
        "jwks_uri": server.url("/jwks"),
        "introspection_endpoint": server.url("/introspect"),
    }));
    let vars = [
        ("PORTCULLIS_ISSUER", issuer.clone()),
        ("PORTCULLIS_AUDIENCE", TEST_AUDIENCE.to_owned()),
        ("PORTCULLIS_DISCLOSURE", "development".to_owned()),
        ("PORTCULLIS_INTROSPECTION_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
    ];
    let verifier = Verifier::builder()
        .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
        .unwrap()
        .build()
        .unwrap();
    let app = app(verifier);
    let token = opaque();
    let mut answer = active("alice");
    answer["iss"] = json!(issuer);
    server.answer(&token, Answer::Json(answer));
    assert_me(&get_me(&app, &token).await, "alice", &["docs:read", "docs:write"]);
    assert_me(
        &get_me(&app, &opaque_with(&server, &issuer)).await,
        "alice",
        &["docs:read", "docs:write"],
    );
    let discoveries = server
        .received()
        .iter()
        .filter(|r| r.path == "/.well-known/openid-configuration" && r.method == Method::GET)
        .count();
    // The key fetch reads the document too (its own discovery); introspection read it once.
    assert!((1..=2).contains(&discoveries), "{discoveries}");
    assert_eq!(server.calls(), 2);
}

fn opaque_with(server: &As, issuer: &str) -> String {
    let token = opaque();
    let mut answer = active("alice");
    answer["iss"] = json!(issuer);
    server.answer(&token, Answer::Json(answer));
    token
}

#[tokio::test]
async fn a_discovery_document_of_another_issuer_is_a_503() {
    let server = As::start().await;
    server.state.lock().unwrap().discovery = Some(json!({
        "issuer": "https://someone.else",
        "introspection_endpoint": server.url("/introspect"),
    }));
    assert_unavailable(&get_me(&app(discovering(&server)), &opaque()).await);
    assert_eq!(server.calls(), 0);
}

/// A verifier of `server`'s tokens whose introspection endpoint comes from its discovery
/// document.
fn discovering(server: &As) -> Verifier {
    Verifier::builder()
        .issuer(server.url(""))
        .audience(TEST_AUDIENCE)
        .disclosure(Disclosure::Development)
        .introspection(Introspection::discovered())
        .build()
        .unwrap()
}

/// A discovery document without `introspection_endpoint` (RFC 8414 makes it optional) cannot be
/// used for introspection; one that names an http endpoint on a host that is not loopback
/// cannot either (https is required). Either way: 503, and nothing is sent anywhere.
#[tokio::test]
async fn a_discovery_document_without_a_usable_endpoint_is_a_503() {
    let server = As::start().await;
    let unusable = [
        json!({"issuer": server.url(""), "jwks_uri": server.url("/jwks")}),
        json!({"issuer": server.url(""), "introspection_endpoint": "/introspect"}),
        json!({
            "issuer": server.url(""),
            "introspection_endpoint": server.url("/introspect").replace("127.0.0.1", "0.0.0.0"),
        }),
    ];
    for document in unusable {
        server.state.lock().unwrap().discovery = Some(document.clone());
        assert_unavailable(&get_me(&app(discovering(&server)), &opaque()).await);
        assert_eq!(server.calls(), 0, "{document}");
    }
}

// ---------------------------------------------------------------------------------------------
// Nothing of the token, the secret or the answer in a response or a log line
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn secrets_stay_out_of_logs_and_responses() {
    let (captured, _capture) = Captured::start(tracing::Level::TRACE);

    let server = As::start().await;
    let config = introspection(&server.url("/introspect"));
    assert!(!format!("{config:?}").contains("s3cr3t"));
    let verifier = verifier(config);
    assert!(!format!("{verifier:?}").contains("s3cr3t"));
    let app = app(verifier);
    let (good, inactive, garbage, wrong) = (opaque(), opaque(), opaque(), opaque());
    server.answer(&good, Answer::Json(active("alice-the-subject")));
    server.answer(
        &garbage,
        Answer::Raw {
            status: StatusCode::OK,
            content_type: "text/plain",
            body: Bytes::from_static(b"garbage-marker"),
        },
    );
    let mut misdirected = active("alice-the-subject");
    misdirected["aud"] = json!("aud-marker");
    server.answer(&wrong, Answer::Json(misdirected));
    let mut replies = Vec::new();
    for token in [&good, &inactive, &garbage, &wrong] {
        replies.push(get_me(&app, token).await);
    }
    let (_socket, addr) = refusing();
    let down = self::app(self::verifier(introspection(&format!("http://{addr}/introspect"))));
    replies.push(get_me(&down, &good).await);

    let logs = captured.text();
    assert!(logs.contains("introspection failed"), "{logs}");
    for secret in ["s3cr3t", "garbage-marker", "aud-marker", "alice-the-subject"]
        .into_iter()
        .chain([good.as_str(), inactive.as_str(), garbage.as_str(), wrong.as_str()])
    {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
        for reply in &replies[1..] {
            assert!(!reply.visible().contains(secret), "{secret} in {reply:?}");
        }
    }
}
