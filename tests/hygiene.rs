//! Information hygiene (issue 8, item 4): every error path of a guarded application, swept for
//! what a response must never carry.
//!
//! One application uses every guard (`#[authenticated]`, `#[requires_scope]`, `#[owner_only]`)
//! and every extractor of `portcullis::extract`. Every way it can refuse a request is provoked
//! with requests and tokens that carry a marker (`Qx7`) in every place an attacker or a careless
//! implementation could get it reflected: token text, claim values, key ids, issuer, audience,
//! scopes, path, query, body, field names, content type. Each response is then checked:
//!
//! - the expected status, `application/problem+json`, and only the expected headers;
//! - no header or body holds the marker (in any letter case), the token or any 16-byte window
//!   of it, the configured key id, a parser message, `Debug` output, or (in Production) the
//!   precise reason code that only the logs may see;
//! - in Production, no `error_description`, and every `detail` is one of a closed set of fixed
//!   sentences.
//!
//! The sweep also runs in Development mode, where only the fixed descriptions are added.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failed test")]

use std::fmt;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::extract::{Json, Path, Query, Valid};
use portcullis::testing::TestIssuer;
use portcullis::{
    Owned, OwnedResource, Principal, Verifier, keys::KeyRefresh, response::Disclosure,
};
use portcullis_tests::{PROBLEM_JSON, Reply, send, single_header};
use serde::Deserialize;
use serde_json::{Value, json};

/// Planted everywhere a client or a token can put text; must never come back.
const MARK: &str = "Qx7";
/// The configured key's id.
const KID: &str = "kid-Qx7-configured";
const REALM: &str = "docs";

// ---------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------

/// A lookup error whose text must stay in the logs.
#[derive(Debug)]
struct DbError(&'static str);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database down: {}", self.0)
    }
}

impl std::error::Error for DbError {}

#[derive(Clone, Debug)]
struct Doc {
    owner: String,
    title: String,
}

#[derive(Clone, Default)]
struct Store;

impl OwnedResource for Doc {
    type State = Store;
    type Id = u64;
    type Error = DbError;

    async fn load(id: u64, _: &Store) -> Result<Option<Self>, DbError> {
        match id {
            1 => Ok(Some(Doc { owner: "alice".into(), title: "A".into() })),
            2 => Ok(Some(Doc { owner: "bob-Qx7".into(), title: "secret-Qx7".into() })),
            13 => Err(DbError("connection string postgres://Qx7:hunter2@db")),
            _ => Ok(None),
        }
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    store: Store,
}

#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct NewDoc {
    #[garde(length(chars, min = 1, max = 20))]
    title: String,
    #[garde(range(min = 1, max = 99))]
    #[serde(default = "one")]
    qty: u32,
}

const fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct Search {
    #[garde(length(chars, min = 2, max = 10))]
    q: String,
    #[garde(skip)]
    page: Option<u32>,
}

#[portcullis::authenticated]
async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

#[portcullis::requires_scope("docs:write")]
async fn create(Valid(Json(doc)): Valid<Json<NewDoc>>) -> (StatusCode, String) {
    (StatusCode::CREATED, format!("{} x{}", doc.title, doc.qty))
}

#[portcullis::requires_scope("docs:read")]
#[portcullis::owner_only(Doc)]
async fn read(doc: Owned<Doc>) -> String {
    doc.into_inner().title
}

#[portcullis::requires_scope("admin:read")]
async fn admin() -> &'static str {
    "admin"
}

#[portcullis::authenticated]
async fn search(Valid(Query(search)): Valid<Query<Search>>) -> String {
    format!("{} {:?}", search.q, search.page)
}

#[portcullis::authenticated]
async fn item(Path(n): Path<u32>) -> String {
    n.to_string()
}

#[portcullis::authenticated]
async fn small(Json(value): Json<Value>) -> String {
    value.to_string()
}

fn application(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/docs", post(create))
        .route("/docs/{id}", get(read))
        .route("/admin", get(admin))
        .route("/search", get(search))
        .route("/items/{n}", get(item))
        .route("/small", post(small).layer(DefaultBodyLimit::max(64)))
        .with_state(AppState { verifier, store: Store })
}

// ---------------------------------------------------------------------------------------------
// What a response may and may not hold
// ---------------------------------------------------------------------------------------------

/// The `detail` sentences Production may send (all describe the request, none the token).
const PRODUCTION_DETAILS: [&str; 9] = [
    "The keys to verify access tokens are temporarily unavailable; retry later",
    "The request has more than one Authorization header",
    "The request carries more than one access token",
    "The request body must be application/json",
    "The request body is too large",
    "The request body could not be read",
    "The request body is invalid",
    "The query string is invalid",
    "The path parameters are invalid",
];

/// Text that betrays a parser message, `Debug` output or an internal error.
const TELLTALES: [&str; 34] = [
    "Some(",
    "None",
    "Error(",
    "Error {",
    "error:",
    "Err(",
    "Ok(",
    "{ ",
    "::",
    "Principal",
    "Claims",
    "Denial",
    "Reason",
    "Kind",
    "jsonwebtoken",
    "serde",
    "expected",
    "invalid type",
    "missing field",
    "unknown field",
    "duplicate field",
    "trailing",
    "EOF",
    "at line",
    "panicked",
    "backtrace",
    ".rs",
    "Utf8",
    "Base64",
    "InvalidByte",
    "database",
    "hunter2",
    "postgres",
    "\\u",
];

/// The precise reasons: for the logs only, never in a Production response.
const REASON_CODES: [&str; 18] = [
    "malformed",
    "too_large",
    "disallowed_algorithm",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "missing_claim",
    "invalid_claims",
    "unsupported_crit",
    "not_owner",
    "absent",
    "invalid_id",
    "lookup_failed",
    "missing_credentials",
    "several_",
];

/// The field names the server's own types define; the only ones `invalid-params` may name.
const SERVER_FIELDS: [&str; 6] = ["title", "qty", "q", "page", "n", "extra_field"];

/// The checks every refusal must pass; `secrets` are the token(s) and other raw client text.
fn assert_hygienic(case: &str, reply: &Reply, mode: Disclosure, secrets: &[&str]) {
    let seen = reply.visible();
    let context = format!("{case} ({mode:?}):\n{seen}");
    assert!(!seen.to_ascii_lowercase().contains(&MARK.to_ascii_lowercase()), "marker in {context}");
    assert!(!seen.contains(KID) && !seen.contains("configured"), "key id in {context}");
    for secret in secrets {
        let mut needles = vec![*secret];
        needles.extend(secret.split('.').filter(|s| s.len() >= 6));
        needles.extend(secret.as_bytes().windows(16).filter_map(|w| std::str::from_utf8(w).ok()));
        for needle in needles {
            assert!(!seen.contains(needle), "echoes {needle:?} in {context}");
        }
    }
    for telltale in TELLTALES {
        assert!(!seen.contains(telltale), "{telltale:?} in {context}");
    }
    if mode == Disclosure::Production {
        for code in REASON_CODES {
            assert!(!seen.contains(code), "reason code {code:?} in {context}");
        }
        assert!(!seen.contains("error_description"), "description in {context}");
    }

    // Only the headers a denial needs (`Retry-After` on 503 only).
    for name in reply.headers.keys() {
        let retry = name == "retry-after" && reply.status == StatusCode::SERVICE_UNAVAILABLE;
        assert!(
            retry
                || ["content-type", "content-length", "www-authenticate"].contains(&name.as_str()),
            "unexpected header {name} in {context}"
        );
    }
    assert_eq!(
        single_header(&reply.headers, CONTENT_TYPE.as_str()),
        Some(PROBLEM_JSON),
        "{context}"
    );

    // The problem document: standard members, `status` matching, fixed `detail` in Production,
    // and `invalid-params` naming only the server's own fields.
    let body = reply.body.as_object().unwrap_or_else(|| panic!("not an object: {context}"));
    for member in body.keys() {
        assert!(
            ["type", "title", "status", "detail", "invalid-params"].contains(&member.as_str()),
            "member {member} in {context}"
        );
    }
    assert_eq!(body["status"], reply.status.as_u16(), "{context}");
    assert_eq!(body["type"], "about:blank", "{context}");
    assert_eq!(body["title"], reply.status.canonical_reason().unwrap(), "{context}");
    if let (Disclosure::Production, Some(detail)) = (mode, body.get("detail")) {
        let detail = detail.as_str().unwrap();
        let fixed = PRODUCTION_DETAILS.contains(&detail) || is_json_position(detail);
        assert!(fixed, "detail {detail:?} is not a fixed sentence in {context}");
    }
    if let Some(params) = body.get("invalid-params") {
        for param in params.as_array().unwrap() {
            let name = param["name"].as_str().unwrap();
            assert!(
                name.is_empty() || name == "?" || SERVER_FIELDS.contains(&name),
                "invalid-params names {name:?} in {context}"
            );
            let reason = param["reason"].as_str().unwrap();
            assert!(
                reason.bytes().all(|b| b.is_ascii_alphanumeric() || b" -_".contains(&b)),
                "reason {reason:?} in {context}"
            );
        }
    }
}

/// `The request body is not valid JSON (line N, column M)`: a position, nothing of the body.
fn is_json_position(detail: &str) -> bool {
    let Some(rest) = detail.strip_prefix("The request body is not valid JSON (line ") else {
        return false;
    };
    let Some((line, column)) = rest.strip_suffix(')').and_then(|r| r.split_once(", column "))
    else {
        return false;
    };
    [line, column].iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------

/// One way to be refused.
struct Case {
    name: String,
    status: StatusCode,
    /// Whether the app allowing the query transport serves it.
    query_app: bool,
    request: Box<dyn Fn() -> Request<Body>>,
    /// Raw client text that must not come back.
    secrets: Vec<String>,
}

fn request(method: &str, uri: &str, authorization: Option<&str>) -> http::request::Builder {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        builder = builder.header(AUTHORIZATION, value);
    }
    builder
}

fn case(
    name: &str,
    status: StatusCode,
    secrets: &[&str],
    request: impl Fn() -> Request<Body> + 'static,
) -> Case {
    Case {
        name: name.to_owned(),
        status,
        query_app: false,
        request: Box::new(request),
        secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// A `GET` with `Authorization: Bearer <token>`.
fn bearer_case(name: &str, status: StatusCode, uri: &'static str, token: String) -> Case {
    let value = format!("Bearer {token}");
    case(name, status, &[&token], move || {
        request("GET", uri, Some(&value)).body(Body::empty()).unwrap()
    })
}

/// A `POST` of `body` as `content_type` with `token`.
fn post_case(
    name: &str,
    status: StatusCode,
    uri: &'static str,
    token: &str,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
) -> Case {
    let value = format!("Bearer {token}");
    let body: Vec<u8> = body.into();
    let shown = String::from_utf8_lossy(&body).into_owned();
    let mut case = case(name, status, &[token], move || {
        request("POST", uri, Some(&value))
            .header(CONTENT_TYPE, content_type)
            .body(Body::from(body.clone()))
            .unwrap()
    });
    case.secrets.push(shown);
    case
}

/// Claims carrying the marker in values no response may show.
fn marked(builder: portcullis::testing::TokenBuilder<'_>) -> portcullis::testing::TokenBuilder<'_> {
    builder
        .claim("email", "alice@Qx7.example")
        .claim("tenant", json!({"name": "tenant-Qx7", "plan": ["Qx7-gold"]}))
}

fn cases(issuer: &TestIssuer) -> Vec<Case> {
    use StatusCode as S;
    let token = |scopes: &[&str]| marked(issuer.token("alice").scopes(scopes)).sign();
    let reader = token(&["docs:read", "Qx7:granted"]);
    let writer = token(&["docs:write", "docs:read", "Qx7:granted"]);
    let impostor = TestIssuer::new().with_kid(Some(KID));
    let hmac = TestIssuer::hs256([9u8; 32]).unwrap().with_kid(Some(KID));
    let unsigned = |header: &Value, claims: &Value| {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    };
    let claims = json!({"sub": "alice", "iss": issuer.issuer(), "aud": issuer.audience(),
        "exp": jsonwebtoken::get_current_timestamp() + 600, "email": "Qx7@example"});
    let kid_as_secret = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(KID.as_bytes()).unwrap())
            .unwrap()
    };
    let basic = STANDARD.encode("Qx7user:Qx7password");

    let mut cases = vec![
        // 401 without credentials.
        case("no header", S::UNAUTHORIZED, &[], || {
            request("GET", "/me", None).body(Body::empty()).unwrap()
        }),
        case("basic", S::UNAUTHORIZED, &[&basic.clone()], {
            let value = format!("Basic {basic}");
            move || request("GET", "/me", Some(&value)).body(Body::empty()).unwrap()
        }),
        case("other scheme", S::UNAUTHORIZED, &[], || {
            request("GET", "/me", Some("Qx7scheme param=Qx7")).body(Body::empty()).unwrap()
        }),
        // 401 invalid_token, every reason.
        bearer_case("not a jwt", S::UNAUTHORIZED, "/me", "Qx7.not.a.jwt".to_owned()),
        bearer_case("grammar", S::UNAUTHORIZED, "/me", "Qx7$Qx7".to_owned()),
        bearer_case(
            "header not json",
            S::UNAUTHORIZED,
            "/me",
            format!("{}.e30.sig", URL_SAFE_NO_PAD.encode("{\"alg\": Qx7-not-json")),
        ),
        bearer_case(
            "claims not json",
            S::UNAUTHORIZED,
            "/me",
            issuer
                .token("alice")
                .sign()
                .split('.')
                .enumerate()
                .map(|(i, part)| {
                    if i == 1 {
                        URL_SAFE_NO_PAD.encode("{\"sub\": \"Qx7\", oops}")
                    } else {
                        part.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("."),
        ),
        bearer_case(
            "alg none",
            S::UNAUTHORIZED,
            "/me",
            unsigned(&json!({"alg": "none", "kid": KID}), &claims),
        ),
        bearer_case(
            "alg unknown",
            S::UNAUTHORIZED,
            "/me",
            unsigned(&json!({"alg": "Qx7", "kid": KID}), &claims),
        ),
        bearer_case("too large", S::UNAUTHORIZED, "/me", format!("Qx7{}", "A".repeat(9000))),
        bearer_case("disallowed alg", S::UNAUTHORIZED, "/me", marked(hmac.token("alice")).sign()),
        bearer_case("HS256 with the kid as secret", S::UNAUTHORIZED, "/me", kid_as_secret),
        bearer_case(
            "unknown kid",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).kid(Some("unknown-Qx7-kid")).sign(),
        ),
        bearer_case(
            "bad signature",
            S::UNAUTHORIZED,
            "/me",
            marked(impostor.token("alice")).sign(),
        ),
        bearer_case(
            "expired",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).expired(Duration::from_secs(3600)).sign(),
        ),
        bearer_case(
            "not yet valid",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).not_before(Duration::from_secs(3600)).sign(),
        ),
        bearer_case(
            "wrong issuer",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).claim("iss", "https://Qx7-issuer.example").sign(),
        ),
        bearer_case(
            "wrong audience",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).claim("aud", "Qx7-audience").sign(),
        ),
        bearer_case(
            "missing exp",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).without_claim("exp").sign(),
        ),
        bearer_case("empty sub", S::UNAUTHORIZED, "/me", marked(issuer.token("")).sign()),
        bearer_case(
            "scope of the wrong type",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).claim("scope", json!({"Qx7": true})).sign(),
        ),
        bearer_case(
            "sub of the wrong type",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).claim("sub", json!(7_777_777_777_u64)).sign(),
        ),
        bearer_case(
            "crit",
            S::UNAUTHORIZED,
            "/me",
            marked(issuer.token("alice")).header("crit", json!(["Qx7-extension"])).sign(),
        ),
        // 403: the required scope is named (by design); the granted ones never are.
        bearer_case("insufficient scope", S::FORBIDDEN, "/admin", reader.clone()),
        // 404: absent, foreign, and ids that cannot name anything.
        bearer_case("absent", S::NOT_FOUND, "/docs/999", reader.clone()),
        bearer_case("foreign", S::NOT_FOUND, "/docs/2", reader.clone()),
        bearer_case("invalid id", S::NOT_FOUND, "/docs/Qx7", reader.clone()),
        bearer_case("encoded id", S::NOT_FOUND, "/docs/%F0%9F%94%91Qx7%00", reader.clone()),
        bearer_case("huge id", S::NOT_FOUND, "/docs/99999999999999999999999Qx7", reader.clone()),
        // 500: the lookup error stays in the logs.
        bearer_case("lookup failed", S::INTERNAL_SERVER_ERROR, "/docs/13", reader.clone()),
        // Request shape, with the scope.
        post_case(
            "415",
            S::UNSUPPORTED_MEDIA_TYPE,
            "/docs",
            &writer,
            "text/Qx7",
            r#"{"title":"Qx7"}"#,
        ),
        post_case(
            "415 no type",
            S::UNSUPPORTED_MEDIA_TYPE,
            "/docs",
            &writer,
            "",
            r#"{"title":"Qx7"}"#,
        ),
        post_case(
            "413",
            S::PAYLOAD_TOO_LARGE,
            "/small",
            &writer,
            "application/json",
            format!(r#"{{"x":"{}"}}"#, "Qx7".repeat(100)),
        ),
        post_case(
            "not json",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title": Qx7-not-json"#,
        ),
        post_case(
            "trailing",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title":"a"} Qx7"#,
        ),
        post_case(
            "not utf-8",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            [&b"{\"title\":\"\xff\xfeQx7"[..], b"\"}"].concat(),
        ),
        post_case(
            "wrong type",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title":["Qx7-value"]}"#,
        ),
        post_case(
            "wrong number",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title":"t","qty":-98765}"#,
        ),
        post_case(
            "odd unknown field",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title":"t","<Qx7 field>":"Qx7-value"}"#,
        ),
        post_case(
            "plain unknown field",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title":"t","extra_field":"Qx7-value"}"#,
        ),
        post_case(
            "duplicate field",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title":"Qx7-one","title":"Qx7-two"}"#,
        ),
        post_case(
            "garde violations",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            r#"{"title":"Qx7-far-too-long-for-twenty","qty":100}"#,
        ),
        post_case(
            "deep",
            S::BAD_REQUEST,
            "/docs",
            &writer,
            "application/json",
            format!("{}Qx7", "[".repeat(500)),
        ),
        bearer_case("query wrong type", S::BAD_REQUEST, "/search?q=ab&page=Qx7", writer.clone()),
        bearer_case("query unknown", S::BAD_REQUEST, "/search?q=ab&%3CQx7%3E=1", writer.clone()),
        bearer_case("query repeated", S::BAD_REQUEST, "/search?q=Qx7a&q=Qx7b", writer.clone()),
        bearer_case("query garde", S::BAD_REQUEST, "/search?q=Qx7-longer-than-ten", writer.clone()),
        bearer_case("query missing", S::BAD_REQUEST, "/search?page=1", writer.clone()),
        bearer_case("path wrong type", S::BAD_REQUEST, "/items/Qx7", writer.clone()),
        bearer_case("path bad utf-8", S::BAD_REQUEST, "/items/%FF%FEQx7", writer.clone()),
        bearer_case("path overflow", S::BAD_REQUEST, "/items/99999999999999999999", writer.clone()),
    ];

    // 400 invalid_request: two headers, and two transports (on the app that allows the query).
    let both = format!("Bearer {writer}");
    cases.push(case("two headers", S::BAD_REQUEST, &[&writer], move || {
        request("GET", "/me", Some(&both))
            .header(AUTHORIZATION, "Bearer Qx7-second")
            .body(Body::empty())
            .unwrap()
    }));
    let header = format!("Bearer {writer}");
    let uri = format!("/me?access_token={writer}");
    let mut transports = case("two transports", S::BAD_REQUEST, &[&writer], move || {
        request("GET", &uri, Some(&header)).body(Body::empty()).unwrap()
    });
    transports.query_app = true;
    cases.push(transports);
    let uri = "/me?access_token=Qx7a&access_token=Qx7b";
    let mut twice = case("query token twice", S::BAD_REQUEST, &[], move || {
        request("GET", uri, None).body(Body::empty()).unwrap()
    });
    twice.query_app = true;
    cases.push(twice);
    let mut query_malformed = case("query token malformed", S::UNAUTHORIZED, &[], || {
        request("GET", "/me?access_token=Qx7%20Qx7", None).body(Body::empty()).unwrap()
    });
    query_malformed.query_app = true;
    cases.push(query_malformed);
    cases
}

#[tokio::test]
async fn no_error_path_leaks_anything_in_either_mode() {
    let issuer = TestIssuer::new().with_kid(Some(KID));
    let cases = cases(&issuer);
    assert_eq!(cases.len(), 55, "the sweep gained or lost cases");
    let mut statuses = std::collections::BTreeSet::new();
    for mode in [Disclosure::Production, Disclosure::Development] {
        let base = issuer.verifier().realm(REALM).disclosure(mode);
        let plain = application(base.clone().build().unwrap());
        let with_query = application(base.dangerous().allow_query_token().build().unwrap());
        for case in &cases {
            let app = if case.query_app { with_query.clone() } else { plain.clone() };
            let reply = send(app, (case.request)()).await;
            assert_eq!(reply.status, case.status, "{} ({mode:?}): {reply:?}", case.name);
            let secrets: Vec<&str> = case.secrets.iter().map(String::as_str).collect();
            assert_hygienic(&case.name, &reply, mode, &secrets);
            statuses.insert(reply.status.as_u16());
        }
    }
    // Every family of refusal was provoked.
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [400, 401, 403, 404, 413, 415, 500],
        "the sweep no longer covers every status"
    );
}

#[tokio::test]
async fn production_challenges_carry_no_description() {
    let issuer = TestIssuer::new().with_kid(Some(KID));
    let app = application(issuer.verifier().realm(REALM).build().unwrap());
    let expected = [
        (StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="docs""#)),
        (StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="docs", error="invalid_token""#)),
        (StatusCode::BAD_REQUEST, Some(r#"Bearer realm="docs", error="invalid_request""#)),
        (
            StatusCode::FORBIDDEN,
            Some(r#"Bearer realm="docs", error="insufficient_scope", scope="admin:read""#),
        ),
    ];
    for case in cases(&issuer) {
        if case.query_app {
            continue;
        }
        let reply = send(app.clone(), (case.request)()).await;
        let challenge = reply.challenge();
        let without_token = ["no header", "basic", "other scheme"].contains(&case.name.as_str());
        let expected_challenge = match reply.status {
            StatusCode::UNAUTHORIZED if without_token => expected[0].1,
            StatusCode::UNAUTHORIZED => expected[1].1,
            StatusCode::BAD_REQUEST if case.name == "two headers" => expected[2].1,
            StatusCode::FORBIDDEN => expected[3].1,
            // Request shape, 404 and 500 carry no challenge.
            _ => None,
        };
        assert_eq!(challenge, expected_challenge, "{}", case.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_keys_say_nothing_about_the_key_endpoint() {
    // A loopback port with nothing listening: the JWKS endpoint is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/jwks-Qx7.json");
    let issuer = TestIssuer::new().with_kid(Some(KID));
    let token = marked(issuer.token("alice").scopes(["docs:read"])).sign();
    for mode in [Disclosure::Production, Disclosure::Development] {
        let verifier = Verifier::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .jwks_url(url.clone())
            .key_refresh(KeyRefresh::default().timeout(Duration::from_secs(2)))
            .realm(REALM)
            .disclosure(mode)
            .build()
            .unwrap();
        for uri in ["/me", "/docs/1"] {
            let request = Request::get(uri)
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let reply = send(application(verifier.clone()), request).await;
            assert_eq!(
                reply.status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{uri} ({mode:?}): {reply:?}"
            );
            assert!(reply.headers.contains_key(http::header::RETRY_AFTER), "{reply:?}");
            let port = port.to_string();
            let endpoint = [
                url.as_str(),
                &port,
                "127.0.0.1",
                "jwks",
                "http:",
                "refused",
                "reqwest",
                "sending",
                "timed out",
                "connect",
            ];
            assert_hygienic("keys unavailable", &reply, mode, &[token.as_str()]);
            let seen = reply.visible();
            for needle in endpoint {
                assert!(!seen.contains(needle), "{needle:?} in {seen}");
            }
        }
    }
}

/// The sweep's own checks catch what they are meant to catch.
#[test]
fn the_checks_catch_leaks() {
    let reply = |body: Value| Reply {
        status: StatusCode::BAD_REQUEST,
        headers: {
            let mut headers = http::HeaderMap::new();
            headers.insert(CONTENT_TYPE, PROBLEM_JSON.parse().unwrap());
            headers
        },
        bytes: body.to_string().into(),
        body,
    };
    let clean = json!({"type": "about:blank", "title": "Bad Request", "status": 400,
        "detail": "The request body is not valid JSON (line 1, column 9)"});
    assert_hygienic(
        "clean",
        &reply(clean),
        Disclosure::Production,
        &["abcdefghijklmnopqrstuvwxyz"],
    );
    let leaks = [
        ("detail", json!("The request body is not valid JSON: expected value at line 1")),
        ("detail", json!("unknown field `qx7`")),
        ("detail", json!("The request body is invalid: Some(\"x\")")),
        ("detail", json!("token ghijklmnopqrstuv")),
        ("detail", json!("bad_signature")),
        ("extra", json!(1)),
    ];
    for (member, value) in leaks {
        let mut body = json!({"type": "about:blank", "title": "Bad Request", "status": 400});
        body[member] = value.clone();
        let caught = std::panic::catch_unwind(|| {
            assert_hygienic(
                "leak",
                &reply(body),
                Disclosure::Production,
                &["abcdefghijklmnopqrstuvwxyz"],
            );
        });
        assert!(caught.is_err(), "{member}: {value} was not caught");
    }
}
