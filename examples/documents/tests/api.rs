//! Every route and every error class of the documents API, through the real router with
//! `tower::ServiceExt::oneshot`: status, headers and the parsed body.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::Router;
use axum::body::{Body, Bytes};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use documents::{
    AppState, Cursor, DEFAULT_PAGE_LIMIT, DEFAULT_ROLES_CLAIM, DEFAULT_SEARCH_LIMIT, Document,
    MAX_BODY_BYTES, Scope, Store, router,
};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::config::ResourceMetadata;
use portcullis::response::Disclosure;
use portcullis::testing::TestIssuer;
use serde_json::{Value, json};
use tower::ServiceExt;

const ALL_DOCS: [&str; 3] = ["docs:read", "docs:write", "docs:delete"];
const PROBLEM_JSON: &str = "application/problem+json";

struct Api {
    issuer: TestIssuer,
    router: Router,
    /// The router's store, for the tests that count its queries.
    store: Store,
    /// alice: every document scope.
    alice: String,
    /// bob: every document scope too, so that his writes reach the ownership check.
    bob: String,
    /// carol: `docs:read` only.
    carol: String,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.bytes)))
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        let mut values = self.headers.get_all(&name).iter();
        let first = values.next()?;
        assert!(values.next().is_none(), "{name} appears more than once");
        Some(first.to_str().unwrap())
    }

    fn document(&self) -> Document {
        assert_eq!(self.header(header::CONTENT_TYPE), Some("application/json"));
        serde_json::from_slice(&self.bytes).unwrap()
    }

    fn documents(&self) -> Vec<Document> {
        assert_eq!(self.status, StatusCode::OK);
        assert_eq!(self.header(header::CONTENT_TYPE), Some("application/json"));
        serde_json::from_slice(&self.bytes).unwrap()
    }

    /// Asserts an RFC 9457 problem of `status` and returns its members.
    fn problem(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{:?}", String::from_utf8_lossy(&self.bytes));
        assert_eq!(self.header(header::CONTENT_TYPE), Some(PROBLEM_JSON));
        let body = self.json();
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], status.canonical_reason().unwrap());
        assert_eq!(body["status"], status.as_u16());
        body
    }

    /// Asserts a 400 problem whose `invalid-params` are exactly `params` (name, reason).
    fn invalid(&self, params: &[(&str, &str)]) {
        let body = self.problem(StatusCode::BAD_REQUEST);
        let expected: Vec<Value> =
            params.iter().map(|(name, reason)| json!({"name": name, "reason": reason})).collect();
        assert_eq!(body["invalid-params"], Value::Array(expected), "{body}");
        assert!(self.header(header::WWW_AUTHENTICATE).is_none());
    }
}

fn api(disclosure: Disclosure) -> Api {
    api_with_env(disclosure, &[])
}

/// [`api`], with the `PORTCULLIS_*` variables `vars` applied as the binary applies them: over
/// its realm, roles claim and supported scopes.
fn api_with_env(disclosure: Disclosure, vars: &[(&str, &str)]) -> Api {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .realm("documents")
        .disclosure(disclosure)
        .role_claims([DEFAULT_ROLES_CLAIM])
        .resource_metadata(ResourceMetadata::new().scopes_supported(Scope::ALL))
        .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
        .expect("settings")
        .build()
        .expect("verifier");
    let store = Store::in_memory().expect("store");
    let router = router(AppState { verifier, store: store.clone() });
    let alice = issuer.token("alice").scopes(ALL_DOCS).claim("email_verified", true).sign();
    let bob = issuer.token("bob").scopes(ALL_DOCS).claim("email_verified", true).sign();
    let carol = issuer.token("carol").scopes(["docs:read"]).sign();
    Api { issuer, router, store, alice, bob, carol }
}

impl Api {
    async fn request(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        Reply { status, headers, bytes }
    }

    /// `method uri` with a bearer token and, when given, a JSON body.
    async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        json: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match json {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.request(builder.body(body).unwrap()).await
    }

    async fn get(&self, uri: &str, token: &str) -> Reply {
        self.send("GET", uri, Some(token), None).await
    }

    /// Creates a document as `token`'s subject and returns it.
    async fn create(&self, token: &str, title: &str, body: &str) -> Document {
        let reply = self
            .send("POST", "/documents", Some(token), Some(json!({"title": title, "body": body})))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        reply.document()
    }
}

fn challenge_for_scope(scope: &str) -> String {
    format!(r#"Bearer realm="documents", error="insufficient_scope", scope="{scope}""#)
}

#[tokio::test]
async fn health_is_public() {
    let api = api(Disclosure::Production);
    let reply = api.send("GET", "/health", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn create_answers_201_with_location_and_the_document() {
    let api = api(Disclosure::Production);
    let reply = api
        .send(
            "POST",
            "/documents",
            Some(&api.alice),
            Some(json!({"title": "Shopping", "body": "milk"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let document = reply.document();
    assert_eq!(
        reply.header(header::LOCATION),
        Some(format!("/documents/{}", document.id).as_str())
    );
    assert_eq!((document.owner.as_str(), document.title.as_str()), ("alice", "Shopping"));
    assert_eq!(document.body, "milk");
    assert_eq!(reply.json()["id"], document.id);
    assert!(document.created_at.ends_with('Z') && document.created_at.contains('T'));

    let location = reply.header(header::LOCATION).unwrap().to_owned();
    let read = api.get(&location, &api.alice).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.document(), document);
}

#[tokio::test]
async fn list_holds_only_the_callers_documents() {
    let api = api(Disclosure::Production);
    let a1 = api.create(&api.alice, "a1", "").await;
    let b1 = api.create(&api.bob, "b1", "").await;
    let a2 = api.create(&api.alice, "a2", "").await;
    assert_eq!(api.get("/documents", &api.alice).await.documents(), [a1, a2]);
    assert_eq!(api.get("/documents", &api.bob).await.documents(), [b1]);
    assert_eq!(api.get("/documents", &api.carol).await.documents(), []);
}

/// The cursor after document `id`, spelt as its documentation says: base64url without padding
/// of the version byte 1 and the id in 8 big-endian bytes.
fn cursor_after(id: i64) -> String {
    let mut bytes = vec![1];
    bytes.extend(id.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Reply {
    /// The `Link` header's next page, `</documents?…>; rel="next"`, as a request target.
    fn next_page(&self) -> Option<String> {
        let link = self.header(header::LINK)?;
        let target = link.strip_prefix('<').and_then(|rest| rest.strip_suffix(r#">; rel="next""#));
        Some(target.unwrap_or_else(|| panic!("not a next link: {link}")).to_owned())
    }
}

#[tokio::test]
async fn list_is_paginated_with_a_link_to_the_next_page() {
    let api = api(Disclosure::Production);
    let mut notes = Vec::new();
    for i in 0..25 {
        notes.push(api.create(&api.alice, &format!("note {i}"), "").await);
        if i == 10 {
            api.create(&api.bob, "bob's", "").await;
        }
    }

    // The default page: 20, and the next page's link, with the same limit.
    let first = api.get("/documents", &api.alice).await;
    assert_eq!(first.documents(), notes[..DEFAULT_PAGE_LIMIT as usize]);
    let cursor = cursor_after(notes[19].id);
    assert_eq!(Cursor { after: notes[19].id }.to_string(), cursor);
    let expected = format!(r#"</documents?limit=20&cursor={cursor}>; rel="next""#);
    assert_eq!(first.header(header::LINK), Some(expected.as_str()));
    let last = api.get(&first.next_page().unwrap(), &api.alice).await;
    assert_eq!(last.documents(), notes[20..]);
    assert_eq!(last.header(header::LINK), None);

    // Five full pages of five: the fifth is the last, without a link.
    let mut target = Some("/documents?limit=5".to_owned());
    let mut pages = Vec::new();
    while let Some(uri) = target {
        let reply = api.get(&uri, &api.alice).await;
        pages.push(reply.documents());
        target = reply.next_page();
        if let Some(next) = &target {
            assert!(next.starts_with("/documents?limit=5&cursor="), "{next}");
        }
    }
    assert_eq!(pages.len(), 5);
    assert!(pages.iter().all(|page| page.len() == 5));
    assert_eq!(pages.concat(), notes);

    // At most 100: everything on one page; no documents: an empty page; both without a link.
    let all = api.get("/documents?limit=100", &api.alice).await;
    assert_eq!(all.documents(), notes);
    assert_eq!(all.header(header::LINK), None);
    let none = api.get("/documents", &api.carol).await;
    assert_eq!(none.documents(), []);
    assert_eq!(none.header(header::LINK), None);
    // A cursor only says where to start: bob's own documents after it, nobody else's.
    let bobs = api.get(&format!("/documents?cursor={}", cursor_after(notes[0].id)), &api.bob).await;
    let bobs = bobs.documents();
    assert_eq!(bobs.len(), 1);
    assert_eq!((bobs[0].owner.as_str(), bobs[0].title.as_str()), ("bob", "bob's"));
}

#[tokio::test]
async fn list_parameters_are_validated() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "a", "").await;
    let good = cursor_after(document.id);
    // Another version byte, an id of 0, 7 id bytes, a character too many, padding, and a
    // character outside base64url.
    let mut wrong_version = vec![2];
    wrong_version.extend(document.id.to_be_bytes());
    let wrong_version = URL_SAFE_NO_PAD.encode(wrong_version);
    let zero = cursor_after(0);
    let short = URL_SAFE_NO_PAD.encode([1, 0, 0, 0, 0, 0, 0, 1]);
    let long = format!("{good}A");
    let plus = format!("{}%2B", &good[..good.len() - 1]);
    let cases: [(String, (&str, &str)); 14] = [
        ("limit=0".into(), ("limit", "lower than 1")),
        ("limit=101".into(), ("limit", "greater than 100")),
        ("limit=ten".into(), ("limit", "is not a valid value")),
        ("page=2".into(), ("page", "is not an accepted field")),
        ("limit=1&limit=2".into(), ("limit", "must appear only once")),
        (format!("cursor={good}&cursor={good}"), ("cursor", "must appear only once")),
        ("cursor=".into(), ("cursor", "is not a valid value")),
        ("cursor=not-a-cursor".into(), ("cursor", "is not a valid value")),
        (format!("cursor={wrong_version}"), ("cursor", "is not a valid value")),
        (format!("cursor={zero}"), ("cursor", "is not a valid value")),
        (format!("cursor={short}"), ("cursor", "is not a valid value")),
        (format!("cursor={long}"), ("cursor", "is not a valid value")),
        (format!("cursor={good}%3D"), ("cursor", "is not a valid value")),
        (format!("cursor={plus}"), ("cursor", "is not a valid value")),
    ];
    for (query, param) in cases {
        let reply = api.get(&format!("/documents?{query}"), &api.alice).await;
        reply.invalid(&[param]);
        assert_eq!(reply.json()["detail"], "The query string is invalid", "{query}");
        assert_eq!(reply.header(header::LINK), None);
    }
    // The guard still comes first: without a token, a bad query gets 401.
    let reply = api.send("GET", "/documents?page=2", None, None).await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some(r#"Bearer realm="documents""#));
    // The good cursor is accepted: nothing after alice's only document.
    let reply = api.get(&format!("/documents?cursor={good}&limit=1"), &api.alice).await;
    assert_eq!(reply.documents(), []);
}

#[tokio::test]
async fn the_foreign_and_the_absent_404_take_the_same_queries() {
    let api = api(Disclosure::Production);
    let big = api.create(&api.alice, "Big", &"x".repeat(100_000)).await;
    let foreign = format!("/documents/{}", big.id);
    let absent = format!("/documents/{}", big.id + 1000);
    let edit = json!({"title": "Mine now", "body": ""});
    api.store.record_statements();
    for method in ["GET", "PUT", "DELETE"] {
        let json = (method == "PUT").then(|| edit.clone());
        let mut answers = Vec::new();
        for uri in [&foreign, &absent] {
            let reply = api.send(method, uri, Some(&api.bob), json.clone()).await;
            reply.problem(StatusCode::NOT_FOUND);
            assert_eq!(reply.header(header::WWW_AUTHENTICATE), None);
            answers.push((reply.headers, reply.bytes, api.store.take_statements()));
        }
        let (foreign, absent) = (&answers[0], &answers[1]);
        assert_eq!((&foreign.0, &foreign.1), (&absent.0, &absent.1), "{method}: the same 404");
        // One statement each, the same one with the same work, and it reads neither the title
        // nor the body.
        assert_eq!(foreign.2, absent.2, "{method}");
        assert_eq!(foreign.2.len(), 1, "{method}: {:?}", foreign.2);
        let sql = &foreign.2[0].sql;
        assert!(!sql.contains("body") && !sql.contains("title"), "{sql}");
    }
    // Only a caller who may see it loads the whole row: the owner, and whoever it is shared with.
    let reply = api.get(&foreign, &api.alice).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.document(), big);
    let statements = api.store.take_statements();
    assert_eq!(statements.len(), 3, "{statements:?}");
    assert!(statements[1].sql.contains("body"), "{statements:?}");
    let share = api.send("PUT", &format!("{foreign}/shares/bob"), Some(&api.alice), None).await;
    assert_eq!(share.status, StatusCode::NO_CONTENT);
    api.store.take_statements();
    assert_eq!(api.get(&foreign, &api.bob).await.document(), big);
    assert_eq!(api.store.take_statements().len(), 3);
}

/// Not only the same statement: the same work. The visibility statement probes the document
/// by its primary key and the share by the shares' primary key whatever either finds, so an
/// absent id (never used, deleted, below or above every id) and someone else's document
/// (small or large, shared with others or not) execute the same SQLite steps, among hundreds
/// of documents of several owners.
#[tokio::test]
async fn the_foreign_and_the_absent_404_do_the_same_work_in_the_store() {
    let api = api(Disclosure::Production);
    let dave = api.issuer.token("dave").scopes(ALL_DOCS).claim("email_verified", true).sign();
    let mut mine = Vec::new();
    let mut foreign = Vec::new();
    for n in 0..300 {
        let (owner, kept) = match n % 3 {
            0 => (&api.bob, &mut mine),
            1 => (&api.alice, &mut foreign),
            _ => (&dave, &mut foreign),
        };
        let body = if n % 10 == 1 { "x".repeat(50_000) } else { format!("body {n}") };
        let document = api.create(owner, &format!("Document {n}"), &body).await;
        if n % 4 == 1 {
            let uri = format!("/documents/{}/shares/carol", document.id);
            assert_eq!(
                api.send("PUT", &uri, Some(owner), None).await.status,
                StatusCode::NO_CONTENT
            );
        }
        kept.push(document.id);
    }
    // Deleted ids name nothing any more, among live ones.
    let deleted: Vec<i64> = foreign.iter().step_by(25).copied().collect();
    for id in &deleted {
        let owner = if (id - 1) % 3 == 1 { &api.alice } else { &dave };
        let reply = api.send("DELETE", &format!("/documents/{id}"), Some(owner), None).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    foreign.retain(|id| !deleted.contains(id));
    let last = *mine.iter().chain(&foreign).max().unwrap();
    let absent: Vec<i64> =
        deleted.iter().copied().chain([0, -1, last + 1, last + 1_000_000, i64::MAX]).collect();

    api.store.record_statements();
    let work = |uri: String| {
        let api = &api;
        async move {
            let reply = api.get(&uri, &api.bob).await;
            reply.problem(StatusCode::NOT_FOUND);
            let statements = api.store.take_statements();
            assert_eq!(statements.len(), 1, "{uri}: {statements:?}");
            let executed = statements.into_iter().next().unwrap();
            assert_eq!(executed.sql, documents::VISIBILITY);
            (reply.bytes, executed.work.expect("the store ran it to completion"))
        }
    };
    let (expected_body, expected) = work(format!("/documents/{}", foreign[0])).await;
    assert_eq!(expected.fullscan_steps, 0, "no table is scanned");
    for id in foreign.iter().chain(&absent) {
        let (body, done) = work(format!("/documents/{id}")).await;
        assert_eq!((&body, done), (&expected_body, expected), "document {id}");
    }
    // bob's own documents, visible, get past this statement: its answer differs, its work hardly.
    let reply = api.get(&format!("/documents/{}", mine[0]), &api.bob).await;
    assert_eq!(reply.status, StatusCode::OK);
    let statements = api.store.take_statements();
    assert_eq!(statements[0].sql, documents::VISIBILITY);
    assert_eq!(statements[0].work.map(|work| work.fullscan_steps), Some(0));

    // The plan: one search by the documents' primary key, one by the shares' primary key,
    // nothing scanned, nothing sorted.
    let plan = api.store.query_plan(documents::VISIBILITY).await.unwrap();
    assert_eq!(
        plan,
        [
            "SCAN CONSTANT ROW",
            "SCALAR SUBQUERY 2",
            "  COMPOUND QUERY",
            "    LEFT-MOST SUBQUERY",
            "      SEARCH documents USING INTEGER PRIMARY KEY (rowid=?)",
            "    UNION ALL",
            "      SCAN CONSTANT ROW",
            "SCALAR SUBQUERY 3",
            "  SEARCH shares USING COVERING INDEX sqlite_autoindex_shares_1 (document_id=? AND subject=?)",
        ]
    );
}

#[tokio::test]
async fn update_replaces_title_and_body() {
    let api = api(Disclosure::Production);
    let original = api.create(&api.alice, "Draft", "v1").await;
    let uri = format!("/documents/{}", original.id);
    let reply = api
        .send("PUT", &uri, Some(&api.alice), Some(json!({"title": "Final", "body": "v2"})))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let updated = reply.document();
    assert_eq!((updated.id, updated.owner.as_str()), (original.id, "alice"));
    assert_eq!((updated.title.as_str(), updated.body.as_str()), ("Final", "v2"));
    assert_eq!(updated.created_at, original.created_at);
    assert_eq!(api.get(&uri, &api.alice).await.document(), updated);

    // The same body rules as POST.
    let reply = api.send("PUT", &uri, Some(&api.alice), Some(json!({"title": "t"}))).await;
    reply.invalid(&[("body", "is required")]);
    let reply =
        api.send("PUT", &uri, Some(&api.alice), Some(json!({"title": " ", "body": ""}))).await;
    reply.invalid(&[("title", "must not be blank")]);
    assert_eq!(api.get(&uri, &api.alice).await.document(), updated);
}

#[tokio::test]
async fn delete_answers_204_and_the_document_is_gone() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "Old", "").await;
    let uri = format!("/documents/{}", document.id);
    let reply = api.send("DELETE", &uri, Some(&api.alice), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.bytes.is_empty());
    api.get(&uri, &api.alice).await.problem(StatusCode::NOT_FOUND);
    api.send("DELETE", &uri, Some(&api.alice), None).await.problem(StatusCode::NOT_FOUND);
    assert_eq!(api.get("/documents", &api.alice).await.documents(), []);
}

#[tokio::test]
async fn another_users_document_gets_the_same_404_as_an_absent_one() {
    for disclosure in [Disclosure::Production, Disclosure::Development] {
        let api = api(disclosure);
        let document = api.create(&api.alice, "Private", "secret").await;
        let body = json!({"title": "Mine now", "body": ""});
        for method in ["GET", "PUT", "DELETE"] {
            let json = (method == "PUT").then(|| body.clone());
            let foreign = format!("/documents/{}", document.id);
            let mut replies = Vec::new();
            for uri in [foreign.as_str(), "/documents/999999", "/documents/not-a-number"] {
                let reply = api.send(method, uri, Some(&api.bob), json.clone()).await;
                let problem = reply.problem(StatusCode::NOT_FOUND);
                assert!(reply.header(header::WWW_AUTHENTICATE).is_none());
                assert!(!problem.to_string().contains("Private"));
                replies.push(reply);
            }
            for other in &replies[1..] {
                assert_eq!(other.headers, replies[0].headers, "{method}");
                assert_eq!(other.bytes, replies[0].bytes, "{method}");
            }
        }
    }
}

#[tokio::test]
async fn nothing_is_lost_when_another_user_deletes_or_replaces() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "Keep me", "precious").await;
    let uri = format!("/documents/{}", document.id);
    let reply =
        api.send("PUT", &uri, Some(&api.bob), Some(json!({"title": "Gone", "body": ""}))).await;
    reply.problem(StatusCode::NOT_FOUND);
    api.send("DELETE", &uri, Some(&api.bob), None).await.problem(StatusCode::NOT_FOUND);
    // A read-only caller's DELETE stops at the scope check.
    let reply = api.send("DELETE", &uri, Some(&api.carol), None).await;
    reply.problem(StatusCode::FORBIDDEN);

    assert_eq!(api.get(&uri, &api.alice).await.document(), document);
    assert_eq!(api.get("/documents", &api.alice).await.documents(), [document]);
}

#[tokio::test]
async fn search_matches_titles_of_the_callers_documents() {
    let api = api(Disclosure::Production);
    let mut notes = Vec::new();
    for i in 0..25 {
        notes.push(api.create(&api.alice, &format!("note {i}"), "").await);
    }
    let other = api.create(&api.alice, "Shopping 100%", "").await;
    api.create(&api.bob, "note of bob", "").await;

    let found = api.get("/documents/search?q=note", &api.alice).await.documents();
    assert_eq!(found.len(), DEFAULT_SEARCH_LIMIT as usize);
    assert_eq!(found, notes[..20]);
    let found = api.get("/documents/search?q=note&limit=5", &api.alice).await.documents();
    assert_eq!(found, notes[..5]);
    let found = api.get("/documents/search?limit=100&q=note", &api.alice).await.documents();
    assert_eq!(found, notes);
    let found = api.get("/documents/search?q=note%2012", &api.alice).await.documents();
    assert_eq!(found, [notes[12].clone()]);
    // `%` is a plain character, and matching is case-sensitive.
    let found = api.get("/documents/search?q=100%25", &api.alice).await.documents();
    assert_eq!(found, [other]);
    assert_eq!(api.get("/documents/search?q=NOTE", &api.alice).await.documents(), []);
    // Only the caller's own documents.
    assert_eq!(api.get("/documents/search?q=note", &api.carol).await.documents(), []);
    let found = api.get("/documents/search?q=bob", &api.bob).await.documents();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].owner, "bob");
}

#[tokio::test]
async fn search_parameters_are_validated() {
    let api = api(Disclosure::Production);
    let long = "x".repeat(101);
    let cases: [(String, (&str, &str)); 9] = [
        (String::new(), ("q", "is required")),
        ("limit=5".into(), ("q", "is required")),
        ("q=".into(), ("q", "length is lower than 1")),
        (format!("q={long}"), ("q", "length is greater than 100")),
        ("q=a&limit=0".into(), ("limit", "lower than 1")),
        ("q=a&limit=101".into(), ("limit", "greater than 100")),
        ("q=a&page=2".into(), ("page", "is not an accepted field")),
        ("q=a&q=b".into(), ("q", "must appear only once")),
        ("q=a&limit=1&limit=2".into(), ("limit", "must appear only once")),
    ];
    for (query, param) in cases {
        let reply = api.get(&format!("/documents/search?{query}"), &api.alice).await;
        reply.invalid(&[param]);
        assert_eq!(reply.json()["detail"], "The query string is invalid", "{query}");
    }
    let reply = api.get("/documents/search?q=a&limit=ten", &api.alice).await;
    let body = reply.problem(StatusCode::BAD_REQUEST);
    assert_eq!(body["invalid-params"][0]["name"], "limit");
    // 100 characters, counted as characters, not bytes.
    let query = format!("q={}", "%C3%A9".repeat(100));
    let reply = api.get(&format!("/documents/search?{query}"), &api.alice).await;
    assert_eq!(reply.documents(), []);
}

#[tokio::test]
async fn document_bodies_are_validated() {
    let api = api(Disclosure::Production);
    let cases = [
        (json!({"title": "", "body": ""}), ("title", "length is lower than 1")),
        (json!({"title": "   \t", "body": ""}), ("title", "must not be blank")),
        (json!({"title": "x".repeat(201), "body": ""}), ("title", "length is greater than 200")),
        (json!({"body": ""}), ("title", "is required")),
        (json!({"title": "t"}), ("body", "is required")),
        (json!({"title": 7, "body": ""}), ("title", "must be a string")),
        (
            json!({"title": "t", "body": "x".repeat(100_001)}),
            ("body", "length is greater than 100000"),
        ),
        (json!({"title": "t", "body": "", "tags": []}), ("tags", "is not an accepted field")),
    ];
    for (body, param) in cases {
        let reply = api.send("POST", "/documents", Some(&api.alice), Some(body.clone())).await;
        reply.invalid(&[param]);
        assert_eq!(reply.json()["detail"], "The request body is invalid", "{body}");
    }
    // Limits are in characters: 200 two-byte characters and 100 000 characters of body pass.
    let reply = api
        .send(
            "POST",
            "/documents",
            Some(&api.alice),
            Some(json!({"title": "é".repeat(200), "body": "x".repeat(100_000)})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);

    let request = Request::post("/documents")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.alice))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"title\": "))
        .unwrap();
    let body = api.request(request).await.problem(StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().starts_with("The request body is not valid JSON"));
    // Nothing invalid was stored.
    assert_eq!(api.get("/documents", &api.alice).await.documents().len(), 1);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_gets_413() {
    let api = api(Disclosure::Production);
    let huge = format!(r#"{{"title": "t", "body": "{}"}}"#, "x".repeat(MAX_BODY_BYTES));
    for (method, uri) in [
        ("POST", "/documents".to_owned()),
        ("PUT", {
            let document = api.create(&api.alice, "t", "").await;
            format!("/documents/{}", document.id)
        }),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", api.alice))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(huge.clone()))
            .unwrap();
        let body = api.request(request).await.problem(StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["detail"], "The request body is too large");
    }
    // Without credentials the body is never looked at: 401, not 413.
    let request = Request::post("/documents")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    api.request(request).await.problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_body_not_declared_as_json_gets_415() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "t", "").await;
    let uri = format!("/documents/{}", document.id);
    for (method, uri) in [("POST", "/documents"), ("PUT", uri.as_str())] {
        for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {}", api.alice));
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let request = request.body(Body::from(r#"{"title": "t", "body": ""}"#)).unwrap();
            let body = api.request(request).await.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert_eq!(body["detail"], "The request body must be application/json");
        }
    }
}

/// Every guarded route, with a JSON body where it takes one.
fn guarded_routes(id: i64) -> Vec<(&'static str, String, Option<Value>)> {
    let body = json!({"title": "t", "body": ""});
    vec![
        ("GET", "/documents".into(), None),
        ("POST", "/documents".into(), Some(body.clone())),
        ("GET", format!("/documents/{id}"), None),
        ("PUT", format!("/documents/{id}"), Some(body)),
        ("DELETE", format!("/documents/{id}"), None),
        ("GET", "/documents/search?q=t".into(), None),
        ("GET", "/admin/stats".into(), None),
        ("PUT", format!("/documents/{id}/shares/bob"), None),
        ("DELETE", format!("/documents/{id}/shares/bob"), None),
        ("GET", "/admin/documents".into(), None),
    ]
}

#[tokio::test]
async fn every_guarded_route_answers_401_without_a_valid_token() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "t", "").await;
    let expired = api
        .issuer
        .token("alice")
        .scopes(ALL_DOCS)
        .expired(std::time::Duration::from_secs(3600))
        .sign();
    let stranger = TestIssuer::new().token("alice").scopes(ALL_DOCS).sign();
    for (method, uri, json) in guarded_routes(document.id) {
        let reply = api.send(method, &uri, None, json.clone()).await;
        let body = reply.problem(StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({"type": "about:blank", "title": "Unauthorized", "status": 401}));
        assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some(r#"Bearer realm="documents""#));

        for token in ["not.a.token", expired.as_str(), stranger.as_str()] {
            let reply = api.send(method, &uri, Some(token), json.clone()).await;
            let body = reply.problem(StatusCode::UNAUTHORIZED);
            assert_eq!(body.get("detail"), None);
            assert_eq!(
                reply.header(header::WWW_AUTHENTICATE),
                Some(r#"Bearer realm="documents", error="invalid_token""#),
                "{method} {uri}"
            );
        }
    }
    // Nothing changed.
    assert_eq!(api.get("/documents", &api.alice).await.documents(), [document]);
}

#[tokio::test]
async fn development_disclosure_explains_a_401() {
    let api = api(Disclosure::Development);
    let expired = api
        .issuer
        .token("alice")
        .scopes(ALL_DOCS)
        .expired(std::time::Duration::from_secs(3600))
        .sign();
    let reply = api.get("/documents", &expired).await;
    let body = reply.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "The access token expired");
    assert_eq!(
        reply.header(header::WWW_AUTHENTICATE),
        Some(
            r#"Bearer realm="documents", error="invalid_token", error_description="The access token expired""#
        )
    );
}

#[tokio::test]
async fn two_authorization_headers_get_400_invalid_request() {
    let api = api(Disclosure::Production);
    let request = Request::get("/documents")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.alice))
        .header(header::AUTHORIZATION, format!("Bearer {}", api.bob))
        .body(Body::empty())
        .unwrap();
    let reply = api.request(request).await;
    reply.problem(StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.header(header::WWW_AUTHENTICATE),
        Some(r#"Bearer realm="documents", error="invalid_request""#)
    );
}

#[tokio::test]
async fn every_guarded_route_answers_403_naming_the_missing_scope() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "t", "").await;
    let nothing = api.issuer.token("alice").sign();
    // The scopes each route asks for; `None` for a role, which no scope would grant.
    let required = [
        Some("docs:read"),
        Some("docs:write"),
        Some("docs:read"),
        Some("docs:write"),
        Some("docs:delete"),
        Some("docs:read"),
        Some("admin:read docs:admin"),
        Some("docs:write"),
        Some("docs:write"),
        None,
    ];
    let routes = guarded_routes(document.id);
    assert_eq!(routes.len(), required.len());
    for ((method, uri, json), scope) in routes.into_iter().zip(required) {
        // The owner herself, without the scope (nor `email_verified`, which the share routes'
        // policy would refuse: the scope is checked first); a malformed body does not change
        // the answer.
        let json = json.map(|_| json!({"title": 5}));
        let reply = api.send(method, &uri, Some(&nothing), json).await;
        let body = reply.problem(StatusCode::FORBIDDEN);
        assert_eq!(body, json!({"type": "about:blank", "title": "Forbidden", "status": 403}));
        let challenge =
            scope.map_or_else(|| FORBIDDEN_WITHOUT_SCOPE.to_owned(), challenge_for_scope);
        assert_eq!(
            reply.header(header::WWW_AUTHENTICATE),
            Some(challenge.as_str()),
            "{method} {uri}"
        );
    }
    // The read-only user can read, but neither write nor delete.
    let uri = format!("/documents/{}", document.id);
    let reply = api.send("DELETE", &uri, Some(&api.carol), None).await;
    reply.problem(StatusCode::FORBIDDEN);
    assert_eq!(
        reply.header(header::WWW_AUTHENTICATE),
        Some(challenge_for_scope("docs:delete").as_str())
    );
    assert_eq!(api.get("/documents", &api.alice).await.documents(), [document]);
}

#[tokio::test]
async fn admin_stats_needs_either_admin_scope() {
    let api = api(Disclosure::Production);
    api.create(&api.alice, "a1", "").await;
    api.create(&api.alice, "a2", "").await;
    api.create(&api.bob, "b1", "").await;
    for scope in ["admin:read", "docs:admin"] {
        let token = api.issuer.token("root").scopes([scope]).sign();
        let reply = api.get("/admin/stats", &token).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
        assert_eq!(reply.json(), json!({"documents": 3, "owners": 2}));
    }
    let reply = api.get("/admin/stats", &api.alice).await;
    reply.problem(StatusCode::FORBIDDEN);
    assert_eq!(
        reply.header(header::WWW_AUTHENTICATE),
        Some(challenge_for_scope("admin:read docs:admin").as_str())
    );
}

#[tokio::test]
async fn unknown_routes_get_a_problem_404() {
    let api = api(Disclosure::Production);
    let reply = api.send("GET", "/nowhere", None, None).await;
    let body = reply.problem(StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"type": "about:blank", "title": "Not Found", "status": 404}));
}

#[tokio::test]
async fn a_file_database_keeps_documents_across_restarts() {
    let path = std::env::temp_dir().join(format!("documents-test-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let document = {
        let store = Store::open(&path).unwrap();
        let input = documents::DocumentInput { title: "kept".into(), body: "on disk".into() };
        store.create("alice", input).await.unwrap()
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.get(document.id).await.unwrap(), Some(document));
    drop(store);
    std::fs::remove_file(&path).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Optional credentials, sharing, roles

const FORBIDDEN_WITHOUT_SCOPE: &str = r#"Bearer realm="documents", error="insufficient_scope""#;

/// Asserts the 403 of an action on a visible document: the problem, and no challenge.
fn assert_action_forbidden(reply: &Reply) {
    let body = reply.problem(StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"type": "about:blank", "title": "Forbidden", "status": 403}));
    assert_eq!(reply.header(header::WWW_AUTHENTICATE), None);
}

#[tokio::test]
async fn whoami_takes_optional_credentials() {
    let api = api(Disclosure::Production);
    let reply = api.send("GET", "/whoami", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
    assert_eq!(reply.json(), json!({"subject": null}));

    let reply = api.get("/whoami", &api.alice).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"subject": "alice", "scopes": ["docs:delete", "docs:read", "docs:write"]})
    );

    let reply = api.get("/whoami", "not.a.token").await;
    let body = reply.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"type": "about:blank", "title": "Unauthorized", "status": 401}));
    assert_eq!(
        reply.header(header::WWW_AUTHENTICATE),
        Some(r#"Bearer realm="documents", error="invalid_token""#)
    );

    let request = Request::get("/whoami")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.alice))
        .header(header::AUTHORIZATION, format!("Bearer {}", api.bob))
        .body(Body::empty())
        .unwrap();
    let reply = api.request(request).await;
    reply.problem(StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.header(header::WWW_AUTHENTICATE),
        Some(r#"Bearer realm="documents", error="invalid_request""#)
    );
}

#[tokio::test]
async fn a_shared_document_is_read_only_for_its_reader_and_invisible_to_others() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "Shared", "text").await;
    let uri = format!("/documents/{}", document.id);
    let share = format!("{uri}/shares/bob");
    let absent = api.get("/documents/999999", &api.carol).await;

    let reply = api.send("PUT", &share, Some(&api.alice), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.bytes.is_empty());
    // Sharing twice changes nothing.
    assert_eq!(
        api.send("PUT", &share, Some(&api.alice), None).await.status,
        StatusCode::NO_CONTENT
    );

    assert_eq!(api.get(&uri, &api.bob).await.document(), document);
    let edit = json!({"title": "Mine now", "body": ""});
    assert_action_forbidden(&api.send("PUT", &uri, Some(&api.bob), Some(edit)).await);
    assert_action_forbidden(&api.send("DELETE", &uri, Some(&api.bob), None).await);
    let onwards = format!("{uri}/shares/carol");
    assert_action_forbidden(&api.send("PUT", &onwards, Some(&api.bob), None).await);
    assert_action_forbidden(&api.send("DELETE", &share, Some(&api.bob), None).await);
    // Unchanged, and still alice's only.
    assert_eq!(api.get(&uri, &api.alice).await.document(), document);
    assert_eq!(api.get("/documents", &api.bob).await.documents(), []);

    // Carol, with whom it is not shared, cannot tell it from an absent one.
    let carol = api.get(&uri, &api.carol).await;
    carol.problem(StatusCode::NOT_FOUND);
    assert_eq!((&carol.headers, &carol.bytes), (&absent.headers, &absent.bytes));

    let reply = api.send("DELETE", &share, Some(&api.alice), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.bytes.is_empty());
    let bob = api.get(&uri, &api.bob).await;
    bob.problem(StatusCode::NOT_FOUND);
    assert_eq!((&bob.headers, &bob.bytes), (&absent.headers, &absent.bytes));
}

#[tokio::test]
async fn a_stranger_sharing_gets_the_404_of_an_absent_document() {
    let api = api(Disclosure::Production);
    let document = api.create(&api.alice, "Alice's", "").await;
    let uri = format!("/documents/{}", document.id);
    // bob holds docs:write and a verified address: only the document's access refuses him.
    let absent = api.get("/documents/999999", &api.bob).await;
    absent.problem(StatusCode::NOT_FOUND);
    assert_eq!(absent.header(header::WWW_AUTHENTICATE), None);
    for method in ["PUT", "DELETE"] {
        for subject in ["bob", "carol"] {
            let absent_share = api
                .send(method, &format!("/documents/999999/shares/{subject}"), Some(&api.bob), None)
                .await;
            let foreign =
                api.send(method, &format!("{uri}/shares/{subject}"), Some(&api.bob), None).await;
            let body = foreign.problem(StatusCode::NOT_FOUND);
            assert_eq!(body, json!({"type": "about:blank", "title": "Not Found", "status": 404}));
            assert_eq!(foreign.header(header::WWW_AUTHENTICATE), None);
            for same in [&absent_share, &absent] {
                assert_eq!((&foreign.headers, &foreign.bytes), (&same.headers, &same.bytes));
            }
        }
    }
    // Nothing was shared: bob still cannot read it, carol neither.
    for token in [&api.bob, &api.carol] {
        let reply = api.get(&uri, token).await;
        assert_eq!((&reply.headers, &reply.bytes), (&absent.headers, &absent.bytes));
    }
    assert_eq!(api.get(&uri, &api.alice).await.document(), document);
}

#[tokio::test]
async fn sharing_needs_a_verified_email_address() {
    for disclosure in [Disclosure::Production, Disclosure::Development] {
        let api = api(disclosure);
        let document = api.create(&api.alice, "Shared", "").await;
        let share = format!("/documents/{}/shares/bob", document.id);
        let unverified = api.issuer.token("alice").scopes(ALL_DOCS).claim("email_verified", false);
        let missing = api.issuer.token("alice").scopes(ALL_DOCS);
        let text = api.issuer.token("alice").scopes(ALL_DOCS).claim("email_verified", "true");
        for token in [unverified.sign(), missing.sign(), text.sign()] {
            for method in ["PUT", "DELETE"] {
                let reply = api.send(method, &share, Some(&token), None).await;
                let body = reply.problem(StatusCode::FORBIDDEN);
                let challenge = reply.header(header::WWW_AUTHENTICATE).unwrap();
                match disclosure {
                    Disclosure::Production => {
                        assert_eq!(challenge, FORBIDDEN_WITHOUT_SCOPE);
                        assert_eq!(body.get("detail"), None);
                    }
                    _ => {
                        assert_eq!(
                            challenge,
                            r#"Bearer realm="documents", error="insufficient_scope", error_description="The access token lacks a claim value this request requires""#
                        );
                        assert_eq!(
                            body["detail"],
                            "The access token lacks a claim value this request requires"
                        );
                    }
                }
            }
        }
        // Not shared: bob still gets 404.
        api.get(&format!("/documents/{}", document.id), &api.bob)
            .await
            .problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_admin_role_lists_every_document() {
    let api = api(Disclosure::Production);
    let a = api.create(&api.alice, "a", "").await;
    let b = api.create(&api.bob, "b", "").await;
    let admin = api
        .issuer
        .token("root")
        .claim("realm_access", json!({"roles": ["documents-admin"]}))
        .sign();
    let reply = api.get("/admin/documents", &admin).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
    assert_eq!(
        reply.json(),
        json!([
            {"id": a.id, "owner": "alice", "title": "a"},
            {"id": b.id, "owner": "bob", "title": "b"},
        ])
    );

    // Scopes are not roles, nor is a role in a claim not configured.
    let elsewhere = api.issuer.token("root").claim("roles", json!(["documents-admin"])).sign();
    for token in [&api.alice, &elsewhere] {
        let reply = api.get("/admin/documents", token).await;
        let body = reply.problem(StatusCode::FORBIDDEN);
        assert_eq!(body.get("detail"), None);
        assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some(FORBIDDEN_WITHOUT_SCOPE));
    }
}

#[tokio::test]
async fn the_roles_claim_comes_from_portcullis_roles_claim() {
    let issuer = TestIssuer::new();
    let vars = [("PORTCULLIS_ROLES_CLAIM", "resource_access.documents.roles, cognito:groups")];
    let verifier = issuer
        .verifier()
        .realm("documents")
        .with_env(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.into()))
        .unwrap()
        .build()
        .unwrap();
    let router = router(AppState { verifier, store: Store::in_memory().unwrap() });
    let keycloak_client = issuer
        .token("root")
        .claim("resource_access", json!({"documents": {"roles": ["documents-admin"]}}))
        .sign();
    let cognito = issuer.token("root").claim("cognito:groups", json!(["documents-admin"])).sign();
    let realm =
        issuer.token("root").claim("realm_access", json!({"roles": ["documents-admin"]})).sign();
    for (token, status) in [
        (keycloak_client, StatusCode::OK),
        (cognito, StatusCode::OK),
        (realm, StatusCode::FORBIDDEN),
    ] {
        let request = Request::get("/admin/documents")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status);
    }
}

const RESOURCE: &str = "https://documents.example";
const METADATA: &str = "https://documents.example/.well-known/oauth-protected-resource";
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

#[tokio::test]
async fn with_a_resource_the_metadata_is_served_and_every_challenge_names_it() {
    let api = api_with_env(Disclosure::Production, &[("PORTCULLIS_RESOURCE", RESOURCE)]);
    let reply = api.send("GET", WELL_KNOWN, None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
    let document = reply.json();
    assert_eq!(document["resource"], RESOURCE);
    assert_eq!(document["authorization_servers"], json!([api.issuer.issuer()]));
    let scopes: Vec<&str> =
        document["scopes_supported"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for scope in ["docs:read", "docs:write", "docs:delete", "admin:read", "docs:admin"] {
        assert!(scopes.contains(&scope), "{document}");
    }
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));

    let named = format!(r#"resource_metadata="{METADATA}""#);
    let none = api.send("GET", "/documents", None, None).await;
    none.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.header(header::WWW_AUTHENTICATE),
        Some(format!(r#"Bearer realm="documents", {named}"#).as_str())
    );
    let invalid = api.get("/documents", "not.a.token").await;
    invalid.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        invalid.header(header::WWW_AUTHENTICATE),
        Some(format!(r#"Bearer realm="documents", error="invalid_token", {named}"#).as_str())
    );
    let document = api.create(&api.alice, "mine", "").await;
    let forbidden =
        api.send("DELETE", &format!("/documents/{}", document.id), Some(&api.carol), None).await;
    forbidden.problem(StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.header(header::WWW_AUTHENTICATE),
        Some(format!("{}, {named}", challenge_for_scope("docs:delete")).as_str())
    );
}

#[tokio::test]
async fn without_a_resource_the_well_known_path_is_the_fallback_404() {
    let api = api(Disclosure::Production);
    let reply = api.send("GET", WELL_KNOWN, None, None).await;
    let unknown = api.send("GET", "/no/such/route", None, None).await;
    reply.problem(StatusCode::NOT_FOUND);
    assert_eq!(reply.bytes, unknown.bytes);
    let none = api.send("GET", "/documents", None, None).await;
    assert_eq!(none.header(header::WWW_AUTHENTICATE), Some(r#"Bearer realm="documents""#));
    let invalid = api.get("/documents", "not.a.token").await;
    assert_eq!(
        invalid.header(header::WWW_AUTHENTICATE),
        Some(r#"Bearer realm="documents", error="invalid_token""#)
    );
    let forbidden = api.send("DELETE", "/documents/1", Some(&api.carol), None).await;
    assert_eq!(
        forbidden.header(header::WWW_AUTHENTICATE),
        Some(challenge_for_scope("docs:delete").as_str())
    );
}
