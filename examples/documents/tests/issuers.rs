//! The documents API with two issuers (issue 16): alice of issuer A and alice of issuer B are
//! different owners, and each issuer's tokens are verified with its own keys only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::Router;
use axum::body::Body;
use documents::{AppState, Store, router};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::testing::{TEST_AUDIENCE, TestIssuer};
use portcullis::{Verifier, config::TrustedIssuer};
use serde_json::{Value, json};
use tower::ServiceExt;

const SCOPES: &str = "docs:read docs:write docs:delete";

async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Vec<u8>) {
    let (status, _, json, bytes) = exchange(router, method, uri, token, body).await;
    (status, json, bytes)
}

/// As [`send`], with the response headers.
async fn exchange(
    router: &Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value, Vec<u8>) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json, bytes)
}

/// Two issuers, each with its own key, and the documents router over them.
fn two_issuers() -> (TestIssuer, TestIssuer, Router) {
    let a = TestIssuer::eddsa().with_issuer("https://a.example").with_kid(Some("a"));
    let b = TestIssuer::eddsa().with_issuer("https://b.example").with_kid(Some("b"));
    let verifier = Verifier::builder()
        .trusted_issuer(TrustedIssuer::new(a.issuer()).key(a.verification_key()))
        .trusted_issuer(TrustedIssuer::new(b.issuer()).key(b.verification_key()))
        .audience(TEST_AUDIENCE)
        .realm("documents")
        .build()
        .unwrap();
    (a, b, router(AppState { verifier, store: Store::in_memory().unwrap() }))
}

/// `value` percent-encoded for a path segment: every byte but RFC 3986's unreserved ones.
fn encode_segment(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn alice_of_one_issuer_cannot_reach_alice_of_another() {
    let (a, b, router) = two_issuers();
    let alice_a = a.token("alice").claim("scope", SCOPES).sign();
    let alice_b = b.token("alice").claim("scope", SCOPES).sign();

    let (status, created, _) = send(
        &router,
        "POST",
        "/documents",
        &alice_a,
        Some(json!({"title": "A's", "body": "only for alice of A"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let uri = format!("/documents/{}", created["id"]);

    let (status, read, _) = send(&router, "GET", &uri, &alice_a, None).await;
    assert_eq!((status, &read["title"]), (StatusCode::OK, &json!("A's")));
    // The same subject at another issuer: the byte-identical 404 of a document that does not
    // exist, on read, replace and delete, and her own list is empty.
    let (_, _, absent) = send(&router, "GET", "/documents/999999", &alice_b, None).await;
    let (status, _, foreign) = send(&router, "GET", &uri, &alice_b, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(foreign, absent);
    let edit = json!({"title": "B's now", "body": ""});
    let (status, _, _) = send(&router, "PUT", &uri, &alice_b, Some(edit)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&router, "DELETE", &uri, &alice_b, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list, _) = send(&router, "GET", "/documents", &alice_b, None).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));
    // B's key signing a token that names A is refused before any of this.
    let forged = b.token("alice").claim("scope", SCOPES).claim("iss", a.issuer()).sign();
    let (status, _, _) = send(&router, "GET", &uri, &forged, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, read, _) = send(&router, "GET", &uri, &alice_a, None).await;
    assert_eq!((status, &read["title"]), (StatusCode::OK, &json!("A's")));
}

#[tokio::test]
async fn a_share_names_the_issuer_and_subject_pair() {
    let (a, b, router) = two_issuers();
    let token = |issuer: &TestIssuer, subject: &str| {
        issuer.token(subject).claim("scope", SCOPES).claim("email_verified", true).sign()
    };
    let (alice_a, bob_a, bob_b, carol_b) =
        (token(&a, "alice"), token(&a, "bob"), token(&b, "bob"), token(&b, "carol"));
    let (status, created, _) = send(
        &router,
        "POST",
        "/documents",
        &alice_a,
        Some(json!({"title": "A's", "body": "for bob of A"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = &created["id"];
    let uri = format!("/documents/{id}");
    let absent = exchange(&router, "GET", "/documents/999999", &bob_b, None).await;
    assert_eq!(absent.0, StatusCode::NOT_FOUND);

    // Ownership's own spelling of bob of A, percent-encoded: the 204 of a share.
    let bob_of_a = encode_segment(r#"["https://a.example","bob"]"#);
    let share = format!("{uri}/shares/{bob_of_a}");
    let (status, headers, _, bytes) = exchange(&router, "PUT", &share, &alice_a, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(bytes.is_empty());
    assert_eq!(headers.get(header::WWW_AUTHENTICATE), None);

    let (status, headers, read, _) = exchange(&router, "GET", &uri, &bob_a, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        (&read["title"], &read["owner"]),
        (&json!("A's"), &json!(r#"["https://a.example","alice"]"#))
    );
    // bob of B is someone else: the byte-identical 404 of an absent document.
    let foreign = exchange(&router, "GET", &uri, &bob_b, None).await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND);
    assert_eq!((&foreign.1, &foreign.3), (&absent.1, &absent.3));

    // A bare subject can name no one when ids are pairs: refused, nothing stored.
    let (status, headers, problem, _) =
        exchange(&router, "PUT", &format!("{uri}/shares/bob"), &alice_a, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(headers.get(header::WWW_AUTHENTICATE), None);
    assert_eq!(
        problem,
        json!({
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": "The path parameters are invalid",
            "invalid-params": [
                {"name": "subject", "reason": r#"must be a principal id: ["<issuer>","<subject>"]"#}
            ],
        })
    );
    // Another issuer's caller, spelt with spaces: the same pair as ownership's spelling.
    let carol_of_b = encode_segment(r#"[ "https://b.example", "carol" ]"#);
    let (status, _, _, bytes) =
        exchange(&router, "PUT", &format!("{uri}/shares/{carol_of_b}"), &alice_a, None).await;
    assert_eq!((status, bytes.len()), (StatusCode::NO_CONTENT, 0));
    let (status, _, read, _) = exchange(&router, "GET", &uri, &carol_b, None).await;
    assert_eq!((status, &read["title"]), (StatusCode::OK, &json!("A's")));
    let foreign = exchange(&router, "GET", &uri, &bob_b, None).await;
    assert_eq!((&foreign.1, &foreign.3), (&absent.1, &absent.3));

    // The share undone: bob of A is a stranger again.
    let (status, _, _, bytes) = exchange(&router, "DELETE", &share, &alice_a, None).await;
    assert_eq!((status, bytes.len()), (StatusCode::NO_CONTENT, 0));
    let gone = exchange(&router, "GET", &uri, &bob_a, None).await;
    assert_eq!(gone.0, StatusCode::NOT_FOUND);
    assert_eq!((&gone.1, &gone.3), (&absent.1, &absent.3));
}
