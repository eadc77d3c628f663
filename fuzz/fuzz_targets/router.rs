//! A full guarded application driven with arbitrary method, path, query, headers and body.
//!
//! Whatever arrives: no panic, no 5xx, every 4xx the framework emits is an RFC 9457 problem whose
//! `status` is the HTTP status, the order of evaluation holds (without valid credentials nothing
//! but 400 `invalid_request`, 401 or a routing 404/405 comes back; without the scope, no request
//! shape error), and no response echoes the token it was sent (unless the client also sent its
//! bytes elsewhere: a query parameter or body field named after them is echoed as the client's
//! own input).
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use portcullis::extract::{Json, Path, Query, Valid};
use portcullis::testing::TestIssuer;
use portcullis::{Owned, OwnedResource, Principal, Verifier};
use serde::Deserialize;
use tower::ServiceExt;

#[derive(Clone, Debug)]
struct Doc {
    owner: &'static str,
}

#[derive(Clone, Default)]
struct Store;

impl OwnedResource for Doc {
    type State = Store;
    type Id = u64;
    type Error = std::convert::Infallible;

    async fn load(id: u64, _: &Store) -> Result<Option<Self>, Self::Error> {
        Ok(match id {
            1 => Some(Doc { owner: "alice" }),
            2 => Some(Doc { owner: "bob" }),
            _ => None,
        })
    }

    fn owner(&self) -> &str {
        self.owner
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    store: Store,
}

#[derive(Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct NewDoc {
    #[garde(length(chars, min = 1, max = 20))]
    title: String,
    #[garde(dive)]
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct Item {
    #[garde(range(min = 1, max = 99))]
    qty: u32,
}

#[derive(Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct Search {
    #[garde(length(chars, min = 2))]
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
    (StatusCode::CREATED, format!("{} {}", doc.title, doc.items.len()))
}

#[portcullis::requires_scope("docs:read")]
#[portcullis::owner_only(Doc)]
async fn read(doc: Owned<Doc>) -> String {
    doc.into_inner().owner.to_owned()
}

#[portcullis::requires_scope("docs:write")]
#[portcullis::owner_only(Doc)]
async fn update(doc: Owned<Doc>, Json(patch): Json<NewDoc>) -> String {
    format!("{} {}", doc.into_inner().owner, patch.title)
}

#[portcullis::authenticated]
async fn search(Valid(Query(search)): Valid<Query<Search>>) -> String {
    format!("{} {:?}", search.q, search.page)
}

#[portcullis::requires_scope("docs:read")]
async fn item(Path((list, index)): Path<(String, u16)>) -> String {
    format!("{list} {index}")
}

struct Fixture {
    app: Router,
    /// None, docs:read, docs:read+docs:write, expired, forged.
    tokens: [String; 4],
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let issuer = TestIssuer::new();
        let verifier =
            issuer.verifier().realm("fuzz").dangerous().allow_query_token().build().unwrap();
        let app = Router::new()
            .route("/me", get(me))
            .route("/docs", post(create))
            .route("/docs/{id}", get(read).put(update))
            .route("/search", get(search))
            .route("/lists/{list}/{index}", get(item))
            .layer(DefaultBodyLimit::max(256))
            .with_state(AppState { verifier, store: Store });
        let day = std::time::Duration::from_secs(86_400);
        let tokens = [
            issuer.token("alice").scopes(["docs:read"]).expires_in(day).sign(),
            issuer.token("alice").scopes(["docs:read", "docs:write"]).expires_in(day).sign(),
            issuer.token("alice").scopes(["docs:read", "docs:write"]).expired(day).sign(),
            TestIssuer::new().token("alice").scopes(["docs:read", "docs:write"]).sign(),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        Fixture { app, tokens, runtime }
    })
}

const ROUTES: [&str; 7] = ["/me", "/docs", "/docs/", "/search", "/lists/", "/", "/docs/1"];
const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::HEAD];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: u8,
    route: u8,
    path: &'a str,
    query: Option<&'a str>,
    /// 0-3: one of the fixture's tokens; 4: none; 5: `authorization` verbatim.
    credentials: u8,
    authorization: &'a [u8],
    content_type: Option<&'a str>,
    headers: Vec<(&'a str, &'a [u8])>,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let fixture = fixture();
    let method = METHODS[usize::from(input.method) % METHODS.len()].clone();
    let mut uri = format!("{}{}", ROUTES[usize::from(input.route) % ROUTES.len()], input.path);
    if let Some(query) = input.query {
        uri = format!("{uri}?{query}");
    }
    let Ok(uri) = uri.parse::<http::Uri>() else { return };
    let mut request = Request::builder().method(method).uri(uri.clone());
    let credentials = input.credentials % 6;
    let token: Option<&str> = match credentials {
        0..=3 => Some(&fixture.tokens[usize::from(credentials)]),
        _ => None,
    };
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    } else if credentials == 5 {
        let Ok(value) = HeaderValue::from_bytes(input.authorization) else { return };
        request = request.header(AUTHORIZATION, value);
    }
    if let Some(content_type) = input.content_type {
        let Ok(value) = HeaderValue::from_str(content_type) else { return };
        request = request.header(CONTENT_TYPE, value);
    }
    let mut extra_credentials = false;
    for (name, value) in &input.headers {
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value))
        else {
            return;
        };
        extra_credentials |= name == AUTHORIZATION;
        request = request.header(name, value);
    }
    let query_token = uri.query().is_some_and(|q| q.contains("access_token"));
    let Ok(request) = request.body(Body::from(input.body.to_vec())) else { return };

    let (status, headers, body) = fixture.runtime.block_on(async {
        let response = fixture.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
    });

    assert!(!status.is_server_error(), "{status}");
    if !body.is_empty() && status.is_client_error() {
        assert_eq!(headers[CONTENT_TYPE], "application/problem+json", "{status}");
        let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(document["status"], status.as_u16());
    }
    if status == StatusCode::UNAUTHORIZED {
        let challenge = headers[WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Bearer realm=\"fuzz\""), "{challenge}");
    }
    // Order of evaluation: only a valid token (0 or 1), alone, gets past the credentials.
    let valid = matches!(credentials, 0 | 1) && !extra_credentials && !query_token;
    if !valid && !query_token && credentials != 5 && !extra_credentials {
        assert!(
            matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{status} without valid credentials"
        );
        if status == StatusCode::NOT_FOUND {
            assert!(body.is_empty(), "a guarded 404 before authentication");
        }
    }
    // The reader lacks docs:write: a write never reaches the body.
    if credentials == 0 && !extra_credentials && !query_token && status.is_client_error() {
        assert!(
            ![StatusCode::PAYLOAD_TOO_LARGE, StatusCode::UNSUPPORTED_MEDIA_TYPE].contains(&status)
                || uri.path() == "/me",
            "{status} for a reader"
        );
    }
    if let Some(token) = token {
        // The token's last 24 bytes (its signature: no `.`, nothing a response writes itself)
        // must not be shown, unless the client also sent them elsewhere: a query parameter's
        // name or a body field echoed in `invalid-params` is its own input, not its token.
        let needle = &token.as_bytes()[token.len() - 24..];
        let carried = carried_elsewhere(&uri, input.content_type, &input.headers, input.body);
        if !contains(&carried, needle) {
            let shown = [format!("{headers:?}").as_bytes(), &body].concat();
            assert!(!contains(&shown, needle), "the token is echoed");
        }
    }
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Everything the request carried outside its credential, as sent and as the application
/// reads it (percent-decoded URI, JSON-decoded body strings and keys), each part on its own
/// line so that no needle spans two parts.
fn carried_elsewhere(
    uri: &http::Uri,
    content_type: Option<&str>,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let mut carried = Vec::new();
    let mut add = |part: &[u8]| {
        carried.extend_from_slice(part);
        carried.push(b'\n');
    };
    let uri = uri.to_string();
    add(uri.as_bytes());
    add(&percent_encoding::percent_decode_str(&uri).collect::<Vec<u8>>());
    if let Some(query) = uri.split_once('?').map(|(_, query)| query) {
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            add(name.as_bytes());
            add(value.as_bytes());
        }
    }
    add(content_type.unwrap_or_default().as_bytes());
    for (name, value) in headers {
        add(name.as_bytes());
        add(value);
    }
    add(body);
    if let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) {
        let mut strings = Vec::new();
        json_strings(&document, &mut strings);
        for text in strings {
            add(text.as_bytes());
        }
    }
    carried
}

fn json_strings<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::String(text) => out.push(text),
        serde_json::Value::Array(items) => items.iter().for_each(|item| json_strings(item, out)),
        serde_json::Value::Object(fields) => {
            for (name, item) in fields {
                out.push(name);
                json_strings(item, out);
            }
        }
        _ => {}
    }
}
