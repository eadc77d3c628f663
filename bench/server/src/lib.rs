//! The load-benchmark server that `bench/load.sh` builds and drives with `wrk`.
//!
//! Every route answers with the same small JSON document; they differ only in what stands
//! before the handler:
//!
//! | route | guard |
//! | --- | --- |
//! | `GET /plain` | none |
//! | `GET /{alg}/cached` | `#[requires_scope("docs:read")]`, verified-token cache on (the default) |
//! | `GET /{alg}/uncached` | the same, cache disabled: every request verifies the signature |
//! | `GET /{alg}/bare` | a hand-written extractor: `jsonwebtoken::decode`, then the scope check; it refuses with the bytes portcullis sends |
//! | `POST /upload` | `#[requires_scope("docs:read")]` (ES256, cache on) before a `Bytes` body |
//! | `GET /tokens` | none: the benchmark tokens, one `name token` pair a line |
//!
//! `{alg}` is `rs256`, `es256`, `eddsa` or `hs256`. The keys are generated at start-up; the
//! tokens of `/tokens` are valid for an hour (the `*-expired` ones expired ten minutes ago).
//! This server exists for benchmarks only: `/tokens` hands out valid credentials to anyone.

pub mod fixture;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use fixture::{
    AUDIENCE, Alg, BareClaims, BareRefusal, Fixture, FixtureError, GRANTED, NOT_GRANTED,
};

/// How long the handed-out tokens stay valid, in seconds.
const TOKEN_LIFETIME: i64 = 60 * 60;
/// How long ago the expired tokens expired, in seconds: well beyond the 30 s leeway.
const EXPIRED_AGO: i64 = 10 * 60;

/// The document every route answers with.
#[derive(Debug, Serialize)]
pub struct Hello {
    /// A greeting.
    pub message: &'static str,
    /// A few numbers, so the body is a small but non-trivial JSON document.
    pub items: [u32; 4],
}

/// The handler behind every route.
pub async fn hello() -> Json<Hello> {
    Json(Hello { message: "hello", items: [1, 2, 3, 4] })
}

/// [`hello`] behind portcullis: a bearer token granting `docs:read`.
#[portcullis::requires_scope("docs:read")]
pub async fn guarded() -> Json<Hello> {
    hello().await
}

/// [`hello`] behind the hand-written check.
pub async fn bare(_auth: BareAuth) -> Json<Hello> {
    hello().await
}

/// A guarded upload: the guard answers before the body is read.
#[portcullis::requires_scope("docs:read")]
pub async fn upload(body: Bytes) -> Json<usize> {
    Json(body.len())
}

/// The hand-written guard a service would write without portcullis.
#[derive(Debug)]
pub struct BareAuth(pub BareClaims);

impl FromRequestParts<Arc<Fixture>> for BareAuth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        fixture: &Arc<Fixture>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| refusal(StatusCode::UNAUTHORIZED, NO_CREDENTIALS))?;
        match fixture.bare_check(token) {
            Ok(claims) => Ok(Self(claims)),
            Err(BareRefusal::Unauthorized) => Err(refusal(StatusCode::UNAUTHORIZED, INVALID_TOKEN)),
            Err(BareRefusal::Forbidden) => Err(refusal(StatusCode::FORBIDDEN, INSUFFICIENT_SCOPE)),
        }
    }
}

/// The hand-written check's challenges: the ones portcullis sends in Production mode, so that
/// both guards answer with the same bytes and the benchmark compares the guards alone.
const NO_CREDENTIALS: (&str, &str) =
    (r#"Bearer realm="bench""#, r#"{"type":"about:blank","title":"Unauthorized","status":401}"#);
/// See [`NO_CREDENTIALS`].
const INVALID_TOKEN: (&str, &str) = (
    r#"Bearer realm="bench", error="invalid_token""#,
    r#"{"type":"about:blank","title":"Unauthorized","status":401}"#,
);
/// See [`NO_CREDENTIALS`].
const INSUFFICIENT_SCOPE: (&str, &str) = (
    r#"Bearer realm="bench", error="insufficient_scope", scope="docs:read""#,
    r#"{"type":"about:blank","title":"Forbidden","status":403}"#,
);

/// A refusal with `(challenge, problem document)`, built from constants as cheaply as axum
/// allows.
fn refusal(status: StatusCode, (challenge, body): (&'static str, &'static str)) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(portcullis::response::PROBLEM_JSON)),
        (header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)),
    ];
    (status, headers, body).into_response()
}

/// The benchmark's router, and the tokens it accepts and refuses, as `(name, token)` pairs.
pub fn app() -> Result<(Router, Vec<(String, String)>), FixtureError> {
    let mut router = Router::new().route("/plain", get(hello));
    let mut tokens = Vec::new();
    for alg in Alg::ALL {
        let fixture = Fixture::generate(alg)?;
        let name = alg.name();
        router = router
            .merge(
                Router::new()
                    .route(&format!("/{name}/cached"), get(guarded))
                    .with_state(fixture.verifier(true)?),
            )
            .merge(
                Router::new()
                    .route(&format!("/{name}/uncached"), get(guarded))
                    .with_state(fixture.verifier(false)?),
            );
        if alg == Alg::Es256 {
            router = router.merge(
                Router::new().route("/upload", post(upload)).with_state(fixture.verifier(true)?),
            );
        }
        tokens.push((name.to_owned(), fixture.valid_token(TOKEN_LIFETIME)?));
        tokens.push((format!("{name}-expired"), fixture.valid_token(-EXPIRED_AGO)?));
        tokens.push((
            format!("{name}-noscope"),
            fixture.token_for("alice", NOT_GRANTED, TOKEN_LIFETIME, AUDIENCE)?,
        ));
        tokens.push((
            format!("{name}-wrongaud"),
            fixture.token_for("alice", GRANTED, TOKEN_LIFETIME, "another-api")?,
        ));
        router = router.merge(
            Router::new().route(&format!("/{name}/bare"), get(bare)).with_state(Arc::new(fixture)),
        );
    }
    let listing: String = tokens.iter().map(|(name, token)| format!("{name} {token}\n")).collect();
    let router = router.route("/tokens", get(move || async move { listing }));
    Ok((router, tokens))
}
