//! Request shape (SPEC §5): `portcullis::extract::{Json, Query, Path, Valid}` refuse every
//! malformed request with an RFC 9457 `application/problem+json` document: 415, 413, or 400
//! naming each wrong parameter in `invalid-params`, without echoing the client's values.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Request, StatusCode};
use portcullis::Verifier;
use portcullis::extract::{Json, Path, Query, Valid};
use portcullis::testing::TestIssuer;
use portcullis_tests::{PROBLEM_JSON, Reply, send, single_header};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, Serialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct NewDoc {
    #[garde(length(chars, min = 1, max = 20))]
    title: String,
    #[garde(dive)]
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Debug, Deserialize, Serialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct Item {
    #[garde(range(min = 1, max = 99))]
    qty: u32,
    #[garde(pattern(r"^[A-Z]{3}-[0-9]{4}$"))]
    sku: String,
}

#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct Search {
    #[garde(length(chars, min = 2))]
    q: String,
    #[garde(range(min = 1, max = 100))]
    page: Option<u32>,
    #[garde(skip)]
    exact: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Named {
    owner: String,
    number: u16,
}

async fn create(Valid(Json(doc)): Valid<Json<NewDoc>>) -> (StatusCode, Json<NewDoc>) {
    (StatusCode::CREATED, Json(doc))
}

/// The types of the README's "Validated input" section.
mod readme {
    use super::*;

    #[derive(Deserialize, garde::Validate)]
    #[serde(deny_unknown_fields)]
    pub(super) struct NewDocument {
        #[garde(length(chars, min = 1, max = 200))]
        title: String,
        #[garde(dive)]
        items: Vec<Item>,
    }

    #[derive(Deserialize, garde::Validate)]
    struct Item {
        #[garde(range(min = 1, max = 99))]
        qty: u32,
    }

    pub(super) async fn create(Valid(Json(document)): Valid<Json<NewDocument>>) -> String {
        document.title
    }
}

async fn unvalidated(Json(doc): Json<NewDoc>) -> Json<NewDoc> {
    Json(doc)
}

async fn any_json(Json(value): Json<Value>) -> Json<Value> {
    Json(value)
}

async fn search(Valid(Query(search)): Valid<Query<Search>>) -> Json<Value> {
    Json(json!({"q": search.q, "page": search.page, "exact": search.exact}))
}

async fn item(Path(id): Path<u64>) -> Json<Value> {
    Json(json!(id))
}

async fn list_item(Path((list, index)): Path<(String, u32)>) -> Json<Value> {
    Json(json!([list, index]))
}

async fn named(Path(named): Path<Named>) -> Json<Value> {
    Json(json!({"owner": named.owner, "number": named.number}))
}

#[portcullis::requires_scope("docs:write")]
async fn guarded_create(Valid(Json(doc)): Valid<Json<NewDoc>>) -> (StatusCode, Json<String>) {
    (StatusCode::CREATED, Json(doc.title))
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/docs", post(create))
        .route("/unvalidated", post(unvalidated))
        .route("/readme", post(readme::create))
        .route("/any", post(any_json))
        .route("/small", post(any_json).layer(DefaultBodyLimit::max(16)))
        .route("/search", get(search))
        .route("/items/{id}", get(item))
        .route("/lists/{list}/{index}", get(list_item))
        .route("/named/{owner}/{number}", get(named))
        .route("/guarded/docs", post(guarded_create))
        .with_state(verifier)
}

fn fixture() -> (TestIssuer, Router) {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().build().expect("verifier");
    (issuer, app(verifier))
}

fn router() -> Router {
    fixture().1
}

fn post_body(uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(uri);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    request.body(body.into()).unwrap()
}

fn post_json(uri: &str, body: impl Into<Body>) -> Request<Body> {
    post_body(uri, Some("application/json"), body)
}

fn get_uri(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// Asserts an `about:blank` problem of `status` with exactly `detail` and, when given, exactly
/// these `invalid-params` (`None`: no such member).
fn assert_problem(reply: &Reply, status: StatusCode, detail: &str, params: Option<Value>) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(single_header(&reply.headers, CONTENT_TYPE.as_str()), Some(PROBLEM_JSON));
    let mut expected = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap(),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let Some(params) = params {
        expected["invalid-params"] = params;
    }
    assert_eq!(reply.body, expected, "{reply:?}");
}

/// Asserts a 400 for the body with exactly these `invalid-params`.
fn assert_invalid_body(reply: &Reply, params: Value) {
    assert_problem(reply, StatusCode::BAD_REQUEST, "The request body is invalid", Some(params));
}

/// Asserts a 400 for the query with exactly these `invalid-params`.
fn assert_invalid_query(reply: &Reply, params: Value) {
    assert_problem(reply, StatusCode::BAD_REQUEST, "The query string is invalid", Some(params));
}

/// Asserts a 400 for the path with exactly these `invalid-params`.
fn assert_invalid_path(reply: &Reply, params: Value) {
    assert_problem(reply, StatusCode::BAD_REQUEST, "The path parameters are invalid", Some(params));
}

fn param(name: &str, reason: &str) -> Value {
    json!({"name": name, "reason": reason})
}

// --- JSON body: media type and size --------------------------------------------------------

#[tokio::test]
async fn a_valid_body_reaches_the_handler() {
    let body = r#"{"title": "Hello", "items": [{"qty": 2, "sku": "ABC-1234"}]}"#;
    for content_type in
        ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
    {
        let reply = send(router(), post_body("/docs", Some(content_type), body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{content_type}: {reply:?}");
        assert_eq!(reply.body, json!({"title": "Hello", "items": [{"qty": 2, "sku": "ABC-1234"}]}));
        assert_eq!(single_header(&reply.headers, CONTENT_TYPE.as_str()), Some("application/json"));
    }
}

#[tokio::test]
async fn a_missing_or_wrong_content_type_is_415() {
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("text/json"),
        Some("application/jsonp"),
    ] {
        let reply = send(router(), post_body("/docs", content_type, r#"{"title": "T"}"#)).await;
        assert_problem(
            &reply,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body must be application/json",
            None,
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let reply = send(router(), post_json("/small", r#"{"a": "0123456789abcdef"}"#)).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large", None);
    let reply = send(router(), post_json("/small", "[1, 2]")).await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!([1, 2])));
}

#[tokio::test]
async fn the_default_limit_applies() {
    let big = format!(r#"{{"title": "{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let reply = send(router(), post_json("/docs", big)).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large", None);
}

// --- JSON body: syntax -----------------------------------------------------------------------

#[tokio::test]
async fn a_syntax_error_says_where_and_nothing_else() {
    let cases = [
        ("{", "line 1, column 1"),
        ("", "line 1, column 0"),
        ("{\n  \"title\": \"a\",\n  oops\n}", "line 3, column 3"),
        (r#"{"title": "a"} trailing"#, "line 1, column 16"),
        (r#"{"title": "secret-value"#, "line 1, column 23"),
    ];
    for (body, position) in cases {
        let reply = send(router(), post_json("/docs", body)).await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            &format!("The request body is not valid JSON ({position})"),
            None,
        );
        assert!(!String::from_utf8_lossy(&reply.bytes).contains("secret"), "{reply:?}");
    }
}

// --- JSON body: fields -----------------------------------------------------------------------

#[tokio::test]
async fn a_missing_field_is_named() {
    let reply = send(router(), post_json("/unvalidated", r#"{"items": []}"#)).await;
    assert_invalid_body(&reply, json!([param("title", "is required")]));
    let body = r#"{"title": "a", "items": [{"qty": 1, "sku": "ABC-1234"}, {"sku": "ABC-1234"}]}"#;
    let reply = send(router(), post_json("/unvalidated", body)).await;
    assert_invalid_body(&reply, json!([param("items[1].qty", "is required")]));
}

#[tokio::test]
async fn a_wrong_type_is_named_without_the_value() {
    let cases = [
        (r#"{"title": 42}"#, param("title", "must be a string")),
        (r#"{"title": "a", "items": {}}"#, param("items", "must be an array")),
        (
            r#"{"title": "a", "items": [{"qty": 1, "sku": "A"}, {"qty": 2, "sku": "B"}, {"qty": "lots", "sku": "C"}]}"#,
            param("items[2].qty", "must be an integer"),
        ),
        (
            r#"{"title": "a", "items": [{"qty": 1.5, "sku": "A"}]}"#,
            param("items[0].qty", "must be an integer"),
        ),
        (
            r#"{"title": "a", "items": [{"qty": -7, "sku": "A"}]}"#,
            param("items[0].qty", "is out of range"),
        ),
        (
            r#"{"title": "a", "items": [{"qty": 1, "sku": true}]}"#,
            param("items[0].sku", "must be a string"),
        ),
        (r#"{"title": "a", "items": ["x"]}"#, param("items[0]", "must be an object")),
        (r#""just a string""#, param("", "must be an object")),
    ];
    for (body, expected) in cases {
        let reply = send(router(), post_json("/unvalidated", body)).await;
        assert_invalid_body(&reply, json!([expected]));
        let text = String::from_utf8_lossy(&reply.bytes);
        assert!(!text.contains("lots") && !text.contains("42") && !text.contains("-7"), "{text}");
    }
}

#[tokio::test]
async fn an_unknown_field_is_refused() {
    let reply =
        send(router(), post_json("/unvalidated", r#"{"title": "a", "colour": "red"}"#)).await;
    assert_invalid_body(&reply, json!([param("colour", "is not an accepted field")]));
    let body = r#"{"title": "a", "items": [{"qty": 1, "sku": "A", "price": 3}]}"#;
    let reply = send(router(), post_json("/unvalidated", body)).await;
    assert_invalid_body(&reply, json!([param("items[0].price", "is not an accepted field")]));
    // A key the client made up that is not a plain name is not repeated back.
    let reply = send(router(), post_json("/unvalidated", r#"{"<img src=x>": 1}"#)).await;
    assert_invalid_body(
        &reply,
        json!([param("?", "is not an accepted field"), param("title", "is required")]),
    );
}

#[tokio::test]
async fn a_repeated_field_is_refused() {
    let reply = send(router(), post_json("/unvalidated", r#"{"title": "a", "title": "b"}"#)).await;
    assert_invalid_body(&reply, json!([param("title", "must appear only once")]));
}

// --- Validation ------------------------------------------------------------------------------

#[tokio::test]
async fn every_rule_violation_is_reported_in_one_response() {
    let body = json!({
        "title": "",
        "items": [
            {"qty": 1, "sku": "ABC-1234"},
            {"qty": 0, "sku": "ABC-1234"},
            {"qty": 100, "sku": "not a sku"},
        ],
    });
    let reply = send(router(), post_json("/docs", body.to_string())).await;
    assert_invalid_body(
        &reply,
        json!([
            param("items[1].qty", "lower than 1"),
            param("items[2].qty", "greater than 99"),
            param("items[2].sku", "does not match pattern /^[A-Z]{3}-[0-9]{4}$/"),
            param("title", "length is lower than 1"),
        ]),
    );
    assert!(!String::from_utf8_lossy(&reply.bytes).contains("not a sku"));
}

#[tokio::test]
async fn a_length_counts_characters() {
    let reply =
        send(router(), post_json("/docs", json!({"title": "é".repeat(20)}).to_string())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let reply =
        send(router(), post_json("/docs", json!({"title": "é".repeat(21)}).to_string())).await;
    assert_invalid_body(&reply, json!([param("title", "length is greater than 20")]));
}

#[tokio::test]
async fn shape_errors_come_first_then_the_rules_of_the_well_shaped_fields() {
    let reply = send(router(), post_json("/docs", r#"{"title": "", "items": [{"qty": 0}]}"#)).await;
    assert_invalid_body(
        &reply,
        json!([
            param("items[0].sku", "is required"),
            param("items[0].qty", "lower than 1"),
            param("title", "length is lower than 1"),
        ]),
    );
    // A field with the wrong shape is reported once: not again for the rule its placeholder
    // breaks (`title` would be too short, `qty` out of range). Shape errors come in the order
    // of the object's keys.
    let body = r#"{"title": 5, "items": [{"qty": "many", "sku": "bad"}]}"#;
    let reply = send(router(), post_json("/docs", body)).await;
    assert_invalid_body(
        &reply,
        json!([
            param("items[0].qty", "must be an integer"),
            param("title", "must be a string"),
            param("items[0].sku", "does not match pattern /^[A-Z]{3}-[0-9]{4}$/"),
        ]),
    );
}

#[tokio::test]
async fn every_shape_error_of_a_body_is_reported_in_one_response() {
    let body = r#"{
        "items": [
            {"qty": 1, "sku": "ABC-1234"},
            {"qty": "two", "sku": 3, "colour": "red"},
            {"sku": "ABC-1234"},
            "not an item"
        ],
        "notes": "x"
    }"#;
    let reply = send(router(), post_json("/unvalidated", body)).await;
    assert_invalid_body(
        &reply,
        json!([
            param("items[1].colour", "is not an accepted field"),
            param("items[1].qty", "must be an integer"),
            param("items[1].sku", "must be a string"),
            param("items[2].qty", "is required"),
            param("items[3]", "must be an object"),
            param("notes", "is not an accepted field"),
            param("title", "is required"),
        ]),
    );
    let text = String::from_utf8_lossy(&reply.bytes);
    assert!(!text.contains("\"two\"") && !text.contains("\"red\""), "{text}");
}

#[tokio::test]
async fn the_readme_example_answers_as_documented() {
    let body = r#"{"title": "", "items": [{"qty": 0}, {"qty": "two"}, {}], "tags": []}"#;
    let reply = send(router(), post_json("/readme", body)).await;
    assert_invalid_body(
        &reply,
        json!([
            param("items[1].qty", "must be an integer"),
            param("items[2].qty", "is required"),
            param("tags", "is not an accepted field"),
            param("items[0].qty", "lower than 1"),
            param("title", "length is lower than 1"),
        ]),
    );
}

#[tokio::test]
async fn a_large_body_reports_its_first_error_only() {
    // Each further error would cost one more pass over 300 KB: the first in the body is
    // reported (`json!` writes the keys in order: `items`, `notes`, `title`).
    let body = json!({"title": 5, "items": [], "notes": "x".repeat(300_000)}).to_string();
    let reply = send(router(), post_json("/unvalidated", body)).await;
    assert_invalid_body(&reply, json!([param("notes", "is not an accepted field")]));
    // The same errors in a small body are all reported.
    let body = json!({"title": 5, "items": [], "notes": "x"}).to_string();
    let reply = send(router(), post_json("/unvalidated", body)).await;
    assert_invalid_body(
        &reply,
        json!([param("notes", "is not an accepted field"), param("title", "must be a string")]),
    );
}

#[tokio::test]
async fn a_body_with_many_errors_gets_at_most_twenty() {
    let items: Vec<Value> = (0..100).map(|_| json!({"qty": "x", "sku": 1})).collect();
    let body = json!({"title": "a", "items": items}).to_string();
    let reply = send(router(), post_json("/unvalidated", body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let params = reply.body["invalid-params"].as_array().unwrap();
    assert_eq!(params.len(), 20, "{params:?}");
    assert_eq!(params[0], param("items[0].qty", "must be an integer"));
    assert_eq!(params[1], param("items[0].sku", "must be a string"));
}

#[tokio::test]
async fn a_wrong_shape_after_which_the_body_is_not_json_is_a_syntax_error() {
    // serde stops at the wrong type of `title`; the body is still checked to the end.
    let reply = send(router(), post_json("/unvalidated", r#"{"title": 5, "items": [}"#)).await;
    assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "The request body is not valid JSON (line 1, column 24)",
        None,
    );
}

// --- Query -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_query_reaches_the_handler() {
    let reply = send(router(), get_uri("/search?q=rust%20lang&page=3&exact=true")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, json!({"q": "rust lang", "page": 3, "exact": true}));
}

#[tokio::test]
async fn query_errors_name_the_parameter() {
    let cases = [
        ("/search", param("q", "is required")),
        ("/search?page=2", param("q", "is required")),
        ("/search?q=ab&page=two", param("page", "is not a valid value")),
        ("/search?q=ab&page=-1", param("page", "is not a valid value")),
        ("/search?q=ab&exact=maybe", param("exact", "is not a valid value")),
        ("/search?q=ab&sort=desc", param("sort", "is not an accepted field")),
        ("/search?q=a&q=b", param("q", "must appear only once")),
        ("/search?q=ab&page=1&page=2", param("page", "must appear only once")),
    ];
    for (uri, expected) in cases {
        let reply = send(router(), get_uri(uri)).await;
        assert_invalid_query(&reply, json!([expected]));
        let text = String::from_utf8_lossy(&reply.bytes);
        assert!(!text.contains("two") && !text.contains("maybe"), "{uri}: {text}");
    }
}

#[tokio::test]
async fn every_query_error_is_reported_in_one_response() {
    let reply = send(router(), get_uri("/search?page=0x10&sort=desc&exact=maybe&exact=no")).await;
    assert_invalid_query(
        &reply,
        json!([
            param("page", "is not a valid value"),
            param("sort", "is not an accepted field"),
            param("exact", "is not a valid value"),
            param("exact", "must appear only once"),
            param("q", "is required"),
        ]),
    );
    // Shape errors first, then the rules of the parameters that had the right shape.
    let reply = send(router(), get_uri("/search?q=a&page=x")).await;
    assert_invalid_query(
        &reply,
        json!([param("page", "is not a valid value"), param("q", "length is lower than 2")]),
    );
}

#[tokio::test]
async fn query_rule_violations_are_all_reported() {
    let reply = send(router(), get_uri("/search?q=a&page=101")).await;
    assert_invalid_query(
        &reply,
        json!([param("page", "greater than 100"), param("q", "length is lower than 2")]),
    );
}

// --- Path ------------------------------------------------------------------------------------

#[tokio::test]
async fn valid_path_parameters_reach_the_handler() {
    for (uri, expected) in [
        ("/items/7", json!(7)),
        ("/lists/todo/3", json!(["todo", 3])),
        ("/named/alice/65535", json!({"owner": "alice", "number": 65535})),
    ] {
        let reply = send(router(), get_uri(uri)).await;
        assert_eq!((reply.status, reply.body), (StatusCode::OK, expected));
    }
}

#[tokio::test]
async fn an_unparsable_path_parameter_is_named() {
    let cases = [
        ("/items/seven", param("id", "must be an integer")),
        ("/items/-1", param("id", "must be an integer")),
        ("/lists/todo/x", param("index", "must be an integer")),
        ("/named/alice/65536", param("number", "must be an integer")),
        ("/items/%FF", param("id", "must be valid UTF-8")),
    ];
    for (uri, expected) in cases {
        let reply = send(router(), get_uri(uri)).await;
        assert_invalid_path(&reply, json!([expected]));
        assert!(!String::from_utf8_lossy(&reply.bytes).contains("seven"));
    }
}

// --- Order: permissions before request shape -------------------------------------------------

#[tokio::test]
async fn without_the_scope_an_invalid_body_is_403() {
    let (issuer, app) = fixture();
    let token = issuer.token("alice").scopes(["docs:read"]).sign();
    for body in ["{", r#"{"title": ""}"#, r#"{"title": 1}"#] {
        let request = Request::post("/guarded/docs")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let reply = send(app.clone(), request).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{body}: {reply:?}");
        assert_eq!(single_header(&reply.headers, CONTENT_TYPE.as_str()), Some(PROBLEM_JSON));
    }
}

#[tokio::test]
async fn with_the_scope_an_invalid_body_is_the_400_problem() {
    let (issuer, app) = fixture();
    let token = issuer.token("alice").scopes(["docs:write"]).sign();
    let request = |body: &'static str| {
        Request::post("/guarded/docs")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let reply = send(app.clone(), request(r#"{"title": ""}"#)).await;
    assert_invalid_body(&reply, json!([param("title", "length is lower than 1")]));
    let reply = send(app.clone(), request(r#"{"title": "ok"}"#)).await;
    assert_eq!((reply.status, reply.body), (StatusCode::CREATED, json!("ok")));
    // Without credentials at all, 401 comes first.
    let reply = send(app, post_json("/guarded/docs", "{")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

// --- Properties ------------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A reply that is the handler's answer or a problem document, never a 5xx.
fn assert_answered(reply: &Reply) {
    assert!(!reply.status.is_server_error(), "{reply:?}");
    if reply.status.is_client_error() {
        assert_eq!(single_header(&reply.headers, CONTENT_TYPE.as_str()), Some(PROBLEM_JSON));
        assert_eq!(reply.body["status"], reply.status.as_u16());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_as_a_json_body_never_fail_the_server(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        uri in prop_oneof![Just("/docs"), Just("/unvalidated"), Just("/any"), Just("/small")],
    ) {
        let reply = runtime().block_on(send(router(), post_json(uri, body)));
        assert_answered(&reply);
    }

    #[test]
    fn arbitrary_json_like_bodies_never_fail_the_server(
        body in r#"[{}\[\]",:0-9a-z \\.eE+-]{0,64}"#,
    ) {
        let reply = runtime().block_on(send(router(), post_json("/docs", body)));
        assert_answered(&reply);
    }

    #[test]
    fn arbitrary_query_strings_never_fail_the_server(query in any::<String>()) {
        let encoded: String = query
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"=&%+-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            })
            .collect();
        let reply = runtime().block_on(send(router(), get_uri(&format!("/search?{encoded}"))));
        assert_answered(&reply);
    }

    #[test]
    fn query_like_strings_never_fail_the_server(query in "[qpageexct=&%0-9a-fA-F+]{0,40}") {
        let reply = runtime().block_on(send(router(), get_uri(&format!("/search?{query}"))));
        assert_answered(&reply);
    }
}

// --- Rule violations name places by the declared structure -----------------------------------

mod keyed {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;

    #[derive(Debug, Deserialize, garde::Validate)]
    pub(super) struct Item {
        #[garde(range(min = 1))]
        pub(super) qty: u32,
    }

    #[derive(Debug, Deserialize, garde::Validate)]
    pub(super) struct Address {
        #[garde(length(min = 1))]
        pub(super) city: String,
    }

    #[derive(Debug, Deserialize, garde::Validate)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Order {
        #[garde(dive)]
        pub(super) items: HashMap<String, Item>,
        #[garde(dive)]
        pub(super) sorted: BTreeMap<String, Item>,
        #[garde(dive)]
        pub(super) lines: Vec<Item>,
        #[garde(dive)]
        pub(super) shipping_address: Address,
    }

    /// Read with `deserialize_any`: its structure cannot be learnt without data.
    #[derive(Debug, Deserialize, garde::Validate)]
    #[serde(untagged)]
    pub(super) enum Loose {
        Many(#[garde(dive)] HashMap<String, Item>),
    }

    #[derive(Debug, Deserialize, garde::Validate)]
    pub(super) struct Untraceable {
        #[garde(dive)]
        pub(super) data: Loose,
    }
}

async fn keyed_order(Valid(Json(order)): Valid<Json<keyed::Order>>) -> Json<Value> {
    Json(json!({"items": order.items.len() + order.sorted.len() + order.lines.len()}))
}

async fn untraceable(Valid(Json(value)): Valid<Json<keyed::Untraceable>>) -> Json<Value> {
    let keyed::Loose::Many(items) = value.data;
    Json(json!({"items": items.len()}))
}

fn keyed_router() -> Router {
    Router::new().route("/orders", post(keyed_order)).route("/untraceable", post(untraceable))
}

/// The `invalid-params` names of a 400 problem for an invalid body, sorted.
fn invalid_names(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(single_header(&reply.headers, CONTENT_TYPE.as_str()), Some(PROBLEM_JSON));
    assert_eq!(reply.body["detail"], "The request body is invalid");
    let params = reply.body["invalid-params"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<String> = params
        .iter()
        .map(|param| {
            assert!(param["reason"].as_str().is_some_and(|r| !r.is_empty()), "{param}");
            param["name"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_map_key_is_a_placeholder_and_declared_names_stay() {
    let long = "k".repeat(500);
    let keys = ["<script>", "qty", "items", &long];
    let mut items = serde_json::Map::new();
    for key in keys {
        items.insert(key.to_owned(), json!({"qty": 0}));
    }
    let body = json!({
        "items": items,
        "sorted": {"<b>bold</b>": {"qty": 0}, "qty": {"qty": 3}},
        "lines": [{"qty": 1}, {"qty": 0}],
        "shippingAddress": {"city": ""},
    });
    let reply = send(keyed_router(), post_json("/orders", body.to_string())).await;
    assert_eq!(
        invalid_names(&reply),
        [
            "items[].qty",
            "items[].qty",
            "items[].qty",
            "items[].qty",
            "lines[1].qty",
            "shippingAddress.city",
            "sorted[].qty",
        ]
    );
    let sent = String::from_utf8_lossy(&reply.bytes).into_owned();
    for key in ["<script>", "<b>bold</b>", "kkkkkkkk"] {
        assert!(!sent.contains(key), "{key} echoed in {sent}");
    }
}

#[tokio::test]
async fn a_structure_that_cannot_be_traced_gives_placeholders() {
    let body = json!({"data": {"<script>": {"qty": 0}, "qty": {"qty": 0}}});
    let reply = send(keyed_router(), post_json("/untraceable", body.to_string())).await;
    let names = invalid_names(&reply);
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        assert!(name.starts_with("data[]"), "{name}");
        assert!(!name.contains("qty") && !name.contains("script"), "{name}");
    }
    assert!(!reply.body.to_string().contains("<script>"));
}

#[tokio::test]
async fn a_shape_error_under_a_map_key_hides_the_rule_of_its_placeholder() {
    let body = json!({
        "items": {"a": {"qty": "x"}},
        "sorted": {},
        "lines": [],
        "shippingAddress": {"city": "Paris"},
    });
    let reply = send(keyed_router(), post_json("/orders", body.to_string())).await;
    // The placeholder 0 breaks `min = 1`: that is not the client's, and is not reported.
    assert_invalid_body(&reply, json!([param("items.a.qty", "must be an integer")]));
}
