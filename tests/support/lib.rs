//! Shared helpers for the integration tests of portcullis.
//!
//! The tests drive a real axum [`Router`] with [`tower::ServiceExt::oneshot`], so every answer
//! goes through the same extractors, rejections and `IntoResponse` impls a server would use.

// This crate only exists for the tests: a failed `expect` is a failed test, with its message.
#![allow(clippy::expect_used, reason = "test support code; a panic is a failed test")]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::response::Json;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis::testing::TestIssuer;
use portcullis::{Principal, Verifier};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The README's Rust example, compiled by `cargo test` as a doctest of this crate (which is not
/// published): a README example that no longer compiles fails the tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The media type of every denial.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The members an `about:blank` problem document may hold.
const PROBLEM_MEMBERS: [&str; 4] = ["type", "title", "status", "detail"];

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// Every header.
    pub headers: HeaderMap,
    /// The body, as sent.
    pub bytes: Bytes,
    /// The body parsed as JSON; `Value::Null` when it is empty.
    pub body: Value,
}

impl Reply {
    /// Everything a client sees: header names and values, and the body.
    pub fn visible(&self) -> String {
        let mut text = String::new();
        for (name, value) in &self.headers {
            text.push_str(name.as_str());
            text.push_str(": ");
            text.push_str(&String::from_utf8_lossy(value.as_bytes()));
            text.push('\n');
        }
        text.push_str(&String::from_utf8_lossy(&self.bytes));
        text
    }

    /// The single `WWW-Authenticate` value, `None` when there is none.
    ///
    /// Panics when the header appears more than once or is not visible ASCII: a denial sends at
    /// most one challenge.
    pub fn challenge(&self) -> Option<&str> {
        single_header(&self.headers, WWW_AUTHENTICATE.as_str())
    }
}

/// The single value of header `name`, `None` when it is absent; panics when it repeats.
pub fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    assert!(values.next().is_none(), "the {name} header appears more than once: {headers:?}");
    Some(first.to_str().expect("a visible-ASCII header value"))
}

/// Sends `request` through `router` and reads the whole response.
pub async fn send(router: Router, request: Request<Body>) -> Reply {
    let response = router.oneshot(request).await.expect("a Router never fails");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("an in-memory body").to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!("the body is not JSON ({error}): {:?}", String::from_utf8_lossy(&bytes))
        })
    };
    Reply { status: parts.status, headers: parts.headers, bytes, body }
}

/// A `GET` request for `uri` without credentials.
pub fn get_request(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("a valid request")
}

/// A `GET` request for `uri` with one `Authorization` header holding exactly `authorization`.
pub fn with_authorization(uri: &str, authorization: &str) -> Request<Body> {
    Request::get(uri)
        .header(AUTHORIZATION, authorization)
        .body(Body::empty())
        .expect("a valid request")
}

/// A `GET` request for `uri` with `Authorization: Bearer <token>`.
pub fn bearer(uri: &str, token: &str) -> Request<Body> {
    with_authorization(uri, &format!("Bearer {token}"))
}

/// What `/me` answers: the principal as JSON.
pub async fn me(principal: Principal) -> Json<Value> {
    Json(json!({
        "sub": principal.subject(),
        "id": principal.id(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
    }))
}

/// The routes every test app has, before the state is supplied: `GET /me` extracts a
/// [`Principal`] and answers with [`me`].
pub fn routes() -> Router<Verifier> {
    Router::new().route("/me", get(me))
}

/// [`routes`] served with `verifier`.
pub fn app(verifier: Verifier) -> Router {
    routes().with_state(verifier)
}

/// A fresh EdDSA [`TestIssuer`] and an app whose verifier accepts its tokens, in the default
/// configuration.
pub fn issuer_and_app() -> (TestIssuer, Router) {
    let issuer = TestIssuer::eddsa();
    let verifier = issuer.verifier().build().expect("the test issuer's configuration builds");
    (issuer, app(verifier))
}

/// Asserts that `reply` is the `/me` answer for `subject`.
pub fn assert_me(reply: &Reply, subject: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["sub"], subject, "{reply:?}");
    assert_eq!(reply.challenge(), None);
}

/// Asserts that `reply` is a denial: `status`, exactly `challenge` as the `WWW-Authenticate`
/// value (`None`: no such header), `application/problem+json`, and an `about:blank` problem
/// document whose `status` is the HTTP status, whose `title` is its reason phrase, whose `detail`
/// is exactly `detail` (`None`: no such member) and which has no other member. `Retry-After` is
/// only allowed on 503.
pub fn assert_denied(
    reply: &Reply,
    status: StatusCode,
    challenge: Option<&str>,
    detail: Option<&str>,
) {
    assert_eq!(reply.status, status, "status of {reply:?}");
    assert_eq!(reply.challenge(), challenge, "WWW-Authenticate of {reply:?}");
    assert_eq!(
        single_header(&reply.headers, CONTENT_TYPE.as_str()),
        Some(PROBLEM_JSON),
        "content type of {reply:?}"
    );
    if status != StatusCode::SERVICE_UNAVAILABLE {
        assert_eq!(reply.headers.get(RETRY_AFTER), None, "Retry-After of {reply:?}");
    }
    let body = reply.body.as_object().expect("a problem document is a JSON object");
    assert_eq!(body.get("type"), Some(&json!("about:blank")), "{body:?}");
    assert_eq!(
        body.get("title"),
        Some(&json!(status.canonical_reason().expect("a standard status"))),
        "{body:?}"
    );
    assert_eq!(body.get("status"), Some(&json!(status.as_u16())), "{body:?}");
    assert_eq!(body.get("detail").and_then(Value::as_str), detail, "detail of {body:?}");
    if let Some(member) = body.keys().find(|name| !PROBLEM_MEMBERS.contains(&name.as_str())) {
        panic!("unexpected problem member {member:?} in {body:?}");
    }
}

/// The text of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// A compact JWS made by hand: base64url of `header` and `payload`, and `signature` verbatim.
///
/// For tokens no honest signer would produce, such as `alg: none`.
pub fn craft_token(header: &Value, payload: &Value, signature: &str) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{signature}", encode(header), encode(payload))
}

/// The claims a [`TestIssuer`] would sign for `subject`, valid for ten minutes.
pub fn valid_claims(issuer: &TestIssuer, subject: &str) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({
        "sub": subject,
        "iss": issuer.issuer(),
        "aud": issuer.audience(),
        "iat": now,
        "exp": now + 600,
    })
}

/// A token of exactly `len` bytes, from `sign(filler, pad)`, which signs a token whose header
/// has a padding parameter holding `filler` and whose payload has a padding claim of `pad`
/// characters.
///
/// Base64url never has a length of 4k+1, so both the header (through `filler`) and the payload
/// (through the padding claim) are stretched until the total is exact. (Not through `typ`: an
/// unknown type is refused.)
pub fn token_of_len(len: usize, sign: impl Fn(&str, usize) -> String) -> String {
    for filler in ["", "x", "xx", "xxx"] {
        let base = sign(filler, 0).len();
        let guess = len.saturating_sub(base) * 3 / 4;
        for pad in guess.saturating_sub(4)..guess + 8 {
            let token = sign(filler, pad);
            if token.len() == len {
                return token;
            }
        }
    }
    panic!("no token of exactly {len} bytes");
}

/// A `tracing` writer that keeps everything written to it, for tests that read the logs.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("no test panicked while writing").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps a log capture going; the capture ends when it drops.
pub struct CaptureGuard {
    _default: tracing::subscriber::DefaultGuard,
    _other: tracing::Dispatch,
}

impl Captured {
    /// Captures the events of this thread up to `level` until the guard drops.
    pub fn start(level: tracing::Level) -> (Self, CaptureGuard) {
        // Other tests of the same binary run on other threads without a subscriber. With a
        // single dispatcher registered, tracing decides whether a callsite is enabled with the
        // subscriber of whichever thread reaches it first, and caches that: a callsite first
        // reached by another test would stay disabled here. With two registered, it asks both.
        let other = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        let captured = Self::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(level)
            .finish();
        let default = tracing::subscriber::set_default(subscriber);
        // Callsites registered before are decided again, with both.
        tracing::callsite::rebuild_interest_cache();
        (captured, CaptureGuard { _default: default, _other: other })
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().expect("no test panicked while writing").clone();
        String::from_utf8(bytes).expect("the subscriber writes UTF-8")
    }
}
