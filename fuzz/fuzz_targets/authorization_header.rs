//! The `Authorization` header parser, against an independent reading of RFC 6750 §2.1.
//!
//! Arbitrary bytes become one (or two) `Authorization` field values, optionally with an
//! `access_token` query parameter on a verifier that allows the query transport. The denial must
//! be exactly what the grammar says (no credentials, 400 `invalid_request`, 401 too large or
//! malformed, or a token that reached verification), its rendering must be a problem document
//! whose `status` is the HTTP status, and nothing of the field value may be echoed.
#![no_main]

use std::sync::OnceLock;

use axum::response::IntoResponse;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use portcullis::response::{DenialKind, InvalidRequestReason, InvalidTokenReason};
use portcullis::{Key, Verifier};

/// A small limit, so that the fuzzer reaches it.
const MAX_LEN: usize = 64;

struct Verifiers {
    header_only: Verifier,
    with_query: Verifier,
}

fn verifiers() -> &'static Verifiers {
    static VERIFIERS: OnceLock<Verifiers> = OnceLock::new();
    VERIFIERS.get_or_init(|| {
        let builder = Verifier::builder()
            .issuer("https://issuer.test")
            .audience("api")
            .max_token_len(MAX_LEN)
            .key(Key::hmac([7u8; 32]).unwrap().with_kid("k"));
        Verifiers {
            header_only: builder.clone().build().unwrap(),
            with_query: builder.dangerous().allow_query_token().build().unwrap(),
        }
    })
}

/// What RFC 6750 §2.1 says about one field value, written independently of the crate.
#[derive(Debug, PartialEq)]
enum Expected {
    NoCredentials,
    TooLarge,
    Malformed,
    /// A grammatical token: it goes on to verification (and fails it: it is not signed).
    Verified,
}

fn expected(value: &[u8]) -> (Expected, &[u8]) {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    let start = value.iter().position(|b| !is_ws(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ws(b)).map_or(start, |i| i + 1);
    let value = &value[start..end.max(start)];
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => value.split_at(i),
        None => (value, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return (Expected::NoCredentials, b"");
    }
    let token = &rest[rest.iter().position(|b| !is_ws(b)).unwrap_or(rest.len())..];
    if token.is_empty() {
        return (Expected::NoCredentials, b"");
    }
    if token.len() > MAX_LEN {
        return (Expected::TooLarge, token);
    }
    let body_end = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let grammatical = body_end > 0
        && token[..body_end].iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    (if grammatical { Expected::Verified } else { Expected::Malformed }, token)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| tokio::runtime::Builder::new_current_thread().build().unwrap())
        .block_on(future)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, value)) = data.split_first() else { return };
    // hyper refuses field values with CR, LF or NUL before any handler runs.
    let Ok(header) = HeaderValue::from_bytes(value) else { return };
    let second = mode & 1 == 1;
    let query = mode & 2 == 2;
    let verifier = if query { &verifiers().with_query } else { &verifiers().header_only };

    let mut request = Request::get(if query { "/?access_token=abc" } else { "/" });
    request = request.header(AUTHORIZATION, header.clone());
    if second {
        request = request.header(AUTHORIZATION, header);
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    let denial = block_on(verifier.authenticate(&parts)).expect_err("nothing here is signed");

    let (grammar, _token) = expected(value);
    let header_is_bearer = grammar != Expected::NoCredentials;
    let kind = denial.kind().clone();
    if second {
        assert_eq!(
            kind,
            DenialKind::InvalidRequest(InvalidRequestReason::SeveralAuthorizationHeaders)
        );
    } else if query && header_is_bearer {
        assert_eq!(kind, DenialKind::InvalidRequest(InvalidRequestReason::SeveralTransports));
    } else if query {
        // The header is not a bearer one, so the query token `abc` is verified: not a JWT.
        assert_eq!(kind, DenialKind::InvalidToken(InvalidTokenReason::Malformed));
    } else {
        match grammar {
            Expected::NoCredentials => assert_eq!(kind, DenialKind::MissingCredentials),
            Expected::TooLarge => {
                assert_eq!(kind, DenialKind::InvalidToken(InvalidTokenReason::TooLarge));
            }
            Expected::Malformed => {
                assert_eq!(kind, DenialKind::InvalidToken(InvalidTokenReason::Malformed));
            }
            Expected::Verified => assert!(
                matches!(kind, DenialKind::InvalidToken(reason) if reason != InvalidTokenReason::TooLarge),
                "{kind:?}"
            ),
        }
    }

    // The rendering is exactly the fixed one for the kind: nothing of the value can be in it.
    let (expected_challenge, expected_body) = match &kind {
        DenialKind::MissingCredentials => (
            r#"Bearer realm="api""#,
            r#"{"type":"about:blank","title":"Unauthorized","status":401}"#.to_owned(),
        ),
        DenialKind::InvalidToken(_) => (
            r#"Bearer realm="api", error="invalid_token""#,
            r#"{"type":"about:blank","title":"Unauthorized","status":401}"#.to_owned(),
        ),
        DenialKind::InvalidRequest(reason) => (
            r#"Bearer realm="api", error="invalid_request""#,
            format!(
                r#"{{"type":"about:blank","title":"Bad Request","status":400,"detail":"{}"}}"#,
                reason.description()
            ),
        ),
        other => panic!("unexpected denial {other:?}"),
    };
    let status = denial.status();
    let response = denial.into_response();
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    assert_eq!(response.headers()[WWW_AUTHENTICATE], expected_challenge);
    let body = block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap().to_bytes();
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let expected: serde_json::Value = serde_json::from_str(&expected_body).unwrap();
    assert_eq!(document, expected);
});
