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
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::testing::{TEST_AUDIENCE, TestIssuer};
use portcullis::{TrustedIssuer, Verifier};
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
    let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json, bytes)
}

#[tokio::test]
async fn alice_of_one_issuer_cannot_reach_alice_of_another() {
    let a = TestIssuer::eddsa().with_issuer("https://a.example").with_kid(Some("a"));
    let b = TestIssuer::eddsa().with_issuer("https://b.example").with_kid(Some("b"));
    let verifier = Verifier::builder()
        .trusted_issuer(TrustedIssuer::new(a.issuer()).key(a.verification_key()))
        .trusted_issuer(TrustedIssuer::new(b.issuer()).key(b.verification_key()))
        .audience(TEST_AUDIENCE)
        .realm("documents")
        .build()
        .unwrap();
    let router = router(AppState { verifier, store: Store::in_memory().unwrap() });
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
