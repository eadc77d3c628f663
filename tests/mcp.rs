//! The MCP guard (`portcullis::mcp`) through a real router: decisions from the 2026-07-28
//! headers before the body is read (a refused call's body is never polled: one that would not
//! parse, one over the limit), the body's agreement with the headers against hostile bodies
//! (repeated members, batches, unicode escapes, names that differ only in case, mirrored
//! arguments), the same decisions from the body for a client without the headers, and the
//! challenges an MCP client acts on.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::stream;
use http::StatusCode;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http_body_util::BodyExt;
use portcullis::config::ResourceMetadata;
use portcullis::mcp::{HEADER_MISMATCH, McpLayer, McpPolicy, Operation};
use portcullis::testing::TestIssuer;
use portcullis::{Principal, Verifier};
use portcullis_tests::{Reply, send};
use serde_json::{Value, json};

portcullis::scopes! {
    /// The scopes of the server under test.
    pub enum Scope {
        Tools = "mcp:tools",
        Admin = "mcp:admin",
        Documents = "mcp:documents",
    }
}

const RESOURCE: &str = "https://mcp.example/mcp";
const METADATA: &str = "https://mcp.example/.well-known/oauth-protected-resource/mcp";
const LIMIT: usize = 4096;

fn policy(scope_on_401: bool) -> McpPolicy {
    McpPolicy::builder(&[Scope::Tools])
        .tool("usage", &[Scope::Admin])
        .tool("get_document", &[Scope::Documents])
        .prompt("audit", &[Scope::Admin])
        .resource("file:///secret", &[Scope::Admin])
        .mirrored_param("get_document", "Document", "id")
        .mirrored_param("get_document", "Copies", "copies")
        .mirrored_param("get_document", "Draft", "draft")
        .max_body_bytes(LIMIT)
        .challenge_scope_on_401(scope_on_401)
        .build()
        .unwrap()
}

/// What the MCP server behind the guard saw: the caller and the body, byte for byte.
async fn mcp_server(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let principal = parts.extensions.get::<Principal>().expect("the guard's principal");
    let policy = parts.extensions.get::<McpPolicy>().expect("the guard's policy");
    let bytes = body.collect().await.unwrap().to_bytes();
    let tools: Vec<&str> = ["add", "usage", "get_document"]
        .into_iter()
        .filter(|tool| policy.permits(principal.scopes(), Operation::Tool(tool)))
        .collect();
    axum::Json(json!({
        "subject": principal.subject(),
        "body": String::from_utf8_lossy(&bytes),
        "tools": tools,
    }))
    .into_response()
}

fn issuer() -> TestIssuer {
    TestIssuer::new()
}

fn verifier(issuer: &TestIssuer) -> Verifier {
    issuer.verifier().resource_metadata(ResourceMetadata::new().resource(RESOURCE)).build().unwrap()
}

fn app(issuer: &TestIssuer, scope_on_401: bool) -> Router {
    let verifier = verifier(issuer);
    Router::new()
        .route("/mcp", post(mcp_server).get(mcp_server))
        .route_layer(McpLayer::new(verifier.clone(), policy(scope_on_401)))
        .merge(verifier.metadata_router())
}

fn token(issuer: &TestIssuer, scopes: &[&str]) -> String {
    issuer.token("alice").scopes(scopes).sign()
}

fn user(issuer: &TestIssuer) -> String {
    token(issuer, &["mcp:tools"])
}

fn admin(issuer: &TestIssuer) -> String {
    token(issuer, &["mcp:tools", "mcp:admin", "mcp:documents"])
}

/// A POST to the endpoint with `headers` and `body`.
fn post_mcp(token: &str, headers: &[(&str, &str)], body: Body) -> Request {
    let mut builder = Request::post("/mcp")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap()
}

/// A body that records whether anyone polled it, and that is not JSON.
fn watched_body() -> (Body, Arc<AtomicBool>) {
    let polled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&polled);
    let body = Body::from_stream(stream::poll_fn(move |_| {
        flag.store(true, Ordering::SeqCst);
        Poll::Ready(None::<Result<Bytes, std::io::Error>>)
    }));
    (body, polled)
}

fn call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}})
        .to_string()
}

const CALL: &[(&str, &str)] = &[("mcp-method", "tools/call")];

fn named(name: &str) -> Vec<(&'static str, String)> {
    vec![("mcp-method", "tools/call".to_owned()), ("mcp-name", name.to_owned())]
}

async fn send_named(app: Router, token: &str, name: &str, body: impl Into<Body>) -> Reply {
    let headers = named(name);
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    send(app, post_mcp(token, &pairs, body.into())).await
}

fn assert_insufficient(reply: &Reply, scopes: &str) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(
        reply.challenge(),
        Some(
            format!(
                "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"{scopes}\", resource_metadata=\"{METADATA}\""
            )
            .as_str()
        ),
    );
}

fn assert_mismatch(reply: &Reply, id: Option<Value>) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(reply.headers[CONTENT_TYPE], "application/json");
    assert!(reply.headers.get(WWW_AUTHENTICATE).is_none());
    assert_eq!(reply.body["jsonrpc"], "2.0");
    assert_eq!(reply.body["error"]["code"], HEADER_MISMATCH);
    assert_eq!(HEADER_MISMATCH, -32020);
    assert!(reply.body["error"]["message"].as_str().unwrap().starts_with("Header mismatch: "));
    assert_eq!(reply.body.get("id"), id.as_ref());
}

fn assert_passed(reply: &Reply, body: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["subject"], "alice");
    assert_eq!(reply.body["body"], body, "the MCP server gets the body unchanged");
}

#[tokio::test]
async fn a_call_refused_from_its_headers_never_has_its_body_read() {
    let issuer = issuer();
    let app = app(&issuer, false);
    let user = user(&issuer);
    // A body that would not parse, and one over the limit: the 403, not a 400 or a 413.
    for body in [Body::from("{not json"), Body::from(vec![b'x'; LIMIT * 4])] {
        let reply = send_named(app.clone(), &user, "usage", body).await;
        assert_insufficient(&reply, "mcp:tools mcp:admin");
    }
    // A body that records whether it was polled: it was not.
    let (body, polled) = watched_body();
    let reply = send_named(app.clone(), &user, "usage", body).await;
    assert_insufficient(&reply, "mcp:tools mcp:admin");
    assert!(!polled.load(Ordering::SeqCst), "the body of a refused call was read");
    // The name in its Base64 form (`usage`) is the same tool.
    let (body, polled) = watched_body();
    let reply = send_named(app.clone(), &user, "=?base64?dXNhZ2U=?=", body).await;
    assert_insufficient(&reply, "mcp:tools mcp:admin");
    assert!(!polled.load(Ordering::SeqCst));
    // Prompts and resources alike.
    for (method, name) in [("prompts/get", "audit"), ("resources/read", "file:///secret")] {
        let (body, polled) = watched_body();
        let request = post_mcp(&user, &[("mcp-method", method), ("mcp-name", name)], body);
        assert_insufficient(&send(app.clone(), request).await, "mcp:tools mcp:admin");
        assert!(!polled.load(Ordering::SeqCst), "{method}");
    }
    // The operation's scope without the endpoint's: the endpoint's 403.
    let admin_only = token(&issuer, &["mcp:admin"]);
    let (body, polled) = watched_body();
    assert_insufficient(&send_named(app.clone(), &admin_only, "usage", body).await, "mcp:tools");
    assert!(!polled.load(Ordering::SeqCst));
    // An allowed call over the limit is a 413, once its body is read.
    let reply = send_named(app, &user, "add", vec![b' '; LIMIT + 1]).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_allowed_call_reaches_the_server_with_its_body_unchanged() {
    let issuer = issuer();
    let app = app(&issuer, false);
    let body = call("add");
    let reply = send_named(app.clone(), &user(&issuer), "add", body.clone()).await;
    assert_passed(&reply, &body);
    assert_eq!(reply.body["tools"], json!(["add"]), "the list a user may see");
    let body = call("usage");
    let reply = send_named(app.clone(), &admin(&issuer), "usage", body.clone()).await;
    assert_passed(&reply, &body);
    assert_eq!(reply.body["tools"], json!(["add", "usage", "get_document"]));
    // Escapes in the body are what they decode to.
    let escaped =
        r#"{"jsonrpc":"2.0","id":2,"method":"tools\u002fcall","params":{"name":"us\u0061ge"}}"#;
    assert_passed(&send_named(app.clone(), &admin(&issuer), "usage", escaped).await, escaped);
    // Methods that name no target need the endpoint's scopes only; GET too.
    let list = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#;
    let request = post_mcp(&user(&issuer), &[("mcp-method", "tools/list")], Body::from(list));
    assert_passed(&send(app.clone(), request).await, list);
    let get = Request::get("/mcp")
        .header(AUTHORIZATION, format!("Bearer {}", user(&issuer)))
        .body(Body::empty())
        .unwrap();
    assert_passed(&send(app, get).await, "");
}

#[tokio::test]
async fn headers_that_disagree_with_the_body_are_a_header_mismatch() {
    let issuer = issuer();
    let app = app(&issuer, false);
    let (user, admin) = (user(&issuer), admin(&issuer));
    // The header names a tool the caller may call, the body another.
    assert_mismatch(&send_named(app.clone(), &user, "add", call("usage")).await, Some(json!(1)));
    // Escaped, the body still names `usage`.
    let escaped =
        r#"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"\u0075sage"}}"#;
    assert_mismatch(&send_named(app.clone(), &user, "add", escaped).await, Some(json!("x")));
    // Names that differ only in case are different names, either way round.
    assert_mismatch(&send_named(app.clone(), &admin, "Usage", call("usage")).await, Some(json!(1)));
    assert_mismatch(&send_named(app.clone(), &admin, "usage", call("USAGE")).await, Some(json!(1)));
    // The method.
    let request = post_mcp(&user, &[("mcp-method", "tools/list")], Body::from(call("usage")));
    assert_mismatch(&send(app.clone(), request).await, Some(json!(1)));
    let request = post_mcp(
        &admin,
        &named("usage").iter().map(|(n, v)| (*n, v.as_str())).collect::<Vec<_>>(),
        Body::from(r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"usage"}}"#),
    );
    assert_mismatch(&send(app.clone(), request).await, Some(json!(1)));
    // A batch under headers that describe one message.
    let batch = format!("[{},{}]", call("add"), call("usage"));
    assert_mismatch(&send_named(app.clone(), &user, "add", batch).await, None);
    // A tool call without its name header: refused before the body.
    let (body, polled) = watched_body();
    assert_mismatch(&send(app.clone(), post_mcp(&user, CALL, body)).await, None);
    assert!(!polled.load(Ordering::SeqCst));
    // A name header without its method, a repeated header, a malformed Base64 value.
    let request = post_mcp(&user, &[("mcp-name", "add")], Body::from(call("add")));
    assert_mismatch(&send(app.clone(), request).await, None);
    let headers = [("mcp-method", "tools/call"), ("mcp-name", "add"), ("mcp-name", "usage")];
    assert_mismatch(
        &send(app.clone(), post_mcp(&admin, &headers, Body::from(call("usage")))).await,
        None,
    );
    assert_mismatch(&send_named(app.clone(), &user, "=?base64?!!!?=", call("add")).await, None);
}

#[tokio::test]
async fn a_body_read_two_ways_is_refused_before_the_server_sees_it() {
    let issuer = issuer();
    let app = app(&issuer, false);
    let admin = admin(&issuer);
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","name":"usage"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"add"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"},"params":{"name":"usage"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"add"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["add"]}}"#,
        "{not json",
    ] {
        for headers in [&named("add")[..], &[]] {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let reply = send(app.clone(), post_mcp(&admin, &pairs, Body::from(body))).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(reply.body["error"]["code"], -32700, "{body}");
            assert!(reply.body.get("id").is_none());
        }
    }
}

#[tokio::test]
async fn a_client_without_the_headers_gets_the_same_decision_from_its_body() {
    let issuer = issuer();
    let app = app(&issuer, false);
    let user = user(&issuer);
    let reply = send(app.clone(), post_mcp(&user, &[], Body::from(call("usage")))).await;
    assert_insufficient(&reply, "mcp:tools mcp:admin");
    let body = call("add");
    assert_passed(&send(app.clone(), post_mcp(&user, &[], Body::from(body.clone()))).await, &body);
    // Every message of a batch is decided.
    let batch = format!(r#"[{{"jsonrpc":"2.0","id":1,"method":"tools/list"}},{}]"#, call("usage"));
    let reply = send(app.clone(), post_mcp(&user, &[], Body::from(batch.clone()))).await;
    assert_insufficient(&reply, "mcp:tools mcp:admin");
    let admin = admin(&issuer);
    assert_passed(
        &send(app.clone(), post_mcp(&admin, &[], Body::from(batch.clone()))).await,
        &batch,
    );
    let read =
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///secret"}}"#;
    let reply = send(app.clone(), post_mcp(&user, &[], Body::from(read))).await;
    assert_insufficient(&reply, "mcp:tools mcp:admin");
    // Over the limit, without headers to decide from: 413.
    let reply = send(app, post_mcp(&user, &[], Body::from(vec![b' '; LIMIT + 1]))).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

fn document_call(arguments: &Value) -> String {
    json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "get_document", "arguments": arguments}}).to_string()
}

#[tokio::test]
async fn mirrored_arguments_must_equal_their_headers() {
    let issuer = issuer();
    let app = app(&issuer, false);
    let admin = admin(&issuer);
    let send_doc = |headers: Vec<(&'static str, &'static str)>, arguments: Value| {
        let mut all = vec![("mcp-method", "tools/call"), ("mcp-name", "get_document")];
        all.extend(headers);
        let body = document_call(&arguments);
        let request = post_mcp(&admin, &all, Body::from(body.clone()));
        let app = app.clone();
        async move { (send(app, request).await, body) }
    };
    for (headers, arguments) in [
        (vec![("mcp-param-document", "a")], json!({"id": "a"})),
        (
            vec![("Mcp-Param-Document", "=?base64?SGVsbG8sIOS4lueVjA==?=")],
            json!({"id": "Hello, 世界"}),
        ),
        (
            vec![("mcp-param-copies", "42"), ("mcp-param-draft", "true")],
            json!({"copies": 42, "draft": true}),
        ),
        (vec![("mcp-param-copies", "42")], json!({"copies": 42.0})),
        (vec![], json!({"id": null, "other": "x"})),
    ] {
        let (reply, body) = send_doc(headers, arguments).await;
        assert_passed(&reply, &body);
    }
    for (headers, arguments) in [
        (vec![("mcp-param-document", "a")], json!({"id": "b"})),
        (vec![("mcp-param-document", "A")], json!({"id": "a"})),
        (vec![], json!({"id": "a"})),
        (vec![("mcp-param-document", "a")], json!({})),
        (vec![("mcp-param-copies", "42")], json!({"copies": "42x"})),
        (vec![("mcp-param-draft", "True")], json!({"draft": true})),
        (vec![("mcp-param-document", "a"), ("mcp-param-document", "a")], json!({"id": "a"})),
        (vec![("mcp-param-document", "[\"a\"]")], json!({"id": ["a"]})),
    ] {
        let (reply, _) = send_doc(headers, arguments).await;
        assert_mismatch(&reply, Some(json!(5)));
    }
    // A repeated argument is unreadable.
    let body = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_document","arguments":{"id":"a","id":"b"}}}"#;
    let headers =
        [("mcp-method", "tools/call"), ("mcp-name", "get_document"), ("mcp-param-document", "a")];
    let reply = send(app, post_mcp(&admin, &headers, Body::from(body))).await;
    assert_eq!(reply.body["error"]["code"], -32700);
}

#[tokio::test]
async fn challenges_name_the_endpoint_scopes_when_asked() {
    let issuer = issuer();
    let no_token = || Request::post("/mcp").body(Body::from(call("add"))).unwrap();
    let on = send(app(&issuer, true), no_token()).await;
    assert_eq!(on.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        on.challenge(),
        Some(
            format!("Bearer realm=\"api\", scope=\"mcp:tools\", resource_metadata=\"{METADATA}\"")
                .as_str()
        )
    );
    let off = send(app(&issuer, false), no_token()).await;
    assert_eq!(
        off.challenge(),
        Some(format!("Bearer realm=\"api\", resource_metadata=\"{METADATA}\"").as_str())
    );
    let bad =
        Request::post("/mcp").header(AUTHORIZATION, "Bearer x.y.z").body(Body::empty()).unwrap();
    let reply = send(app(&issuer, true), bad).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenge = reply.challenge().unwrap();
    assert!(challenge.starts_with("Bearer realm=\"api\", error=\"invalid_token\""), "{challenge}");
    assert!(
        challenge.ends_with(&format!(", scope=\"mcp:tools\", resource_metadata=\"{METADATA}\"")),
        "{challenge}"
    );
    // Without the endpoint's scope: 403 naming it.
    let other = token(&issuer, &["profile"]);
    let reply = send(app(&issuer, true), post_mcp(&other, &[], Body::from(call("add")))).await;
    assert_insufficient(&reply, "mcp:tools");
}

/// A document of the owned-argument test: its owner's principal id.
struct Document {
    owner: String,
}

/// The documents by id, with their owners.
#[derive(Clone)]
struct Documents(Arc<Vec<(u64, &'static str)>>);

impl portcullis::OwnedResource for Document {
    type State = Documents;
    type Id = u64;
    type Error = std::convert::Infallible;

    async fn load(id: u64, documents: &Documents) -> Result<Option<Self>, Self::Error> {
        Ok(documents
            .0
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, owner)| Document { owner: (*owner).to_owned() }))
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

fn documents_app(issuer: &TestIssuer) -> Router {
    let verifier = verifier(issuer);
    let documents = Documents(Arc::new(vec![(1, "alice"), (2, "bob")]));
    let policy = McpPolicy::builder(&[Scope::Tools])
        .owned_param::<Document>(
            "get_document",
            "Document",
            "id",
            portcullis::resource::Action::Read,
            documents,
        )
        .build()
        .unwrap();
    Router::new().route("/mcp", post(mcp_server)).route_layer(McpLayer::new(verifier, policy))
}

#[tokio::test]
async fn a_mirrored_argument_naming_someone_elses_resource_is_the_404_of_an_absent_one() {
    let issuer = issuer();
    let app = documents_app(&issuer);
    let alice = user(&issuer);
    let owned_call = |id: Value| document_call(&json!({ "id": id }));
    let with_header = |id: &'static str, body: Body| {
        post_mcp(
            &alice,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "get_document"),
                ("mcp-param-document", id),
            ],
            body,
        )
    };
    // Hers: the call goes on.
    let body = owned_call(json!(1));
    assert_passed(&send(app.clone(), with_header("1", Body::from(body.clone()))).await, &body);
    assert_passed(&send(app.clone(), post_mcp(&alice, &[], Body::from(body.clone()))).await, &body);
    // Bob's, absent, not an id: one 404, byte for byte, decided before the body is read.
    let mut answers = Vec::new();
    for id in ["2", "3", "x"] {
        let (body, polled) = watched_body();
        let reply = send(app.clone(), with_header(id, body)).await;
        assert!(!polled.load(Ordering::SeqCst), "{id}");
        answers.push(reply);
    }
    // The same from the body of a client without the headers.
    for id in [json!(2), json!(3), json!("x"), json!(["1"])] {
        answers.push(send(app.clone(), post_mcp(&alice, &[], Body::from(owned_call(id)))).await);
    }
    for reply in &answers {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
        assert_eq!(reply.bytes, answers[0].bytes);
        assert!(reply.headers.get(WWW_AUTHENTICATE).is_none());
    }
    // Her header over a body naming Bob's: the header mismatch, not a call.
    let reply = send(app, with_header("1", Body::from(owned_call(json!(2))))).await;
    assert_mismatch(&reply, Some(json!(5)));
}

/// Every tool, prompt and resource of the server under test, whoever asks.
fn every_item(method: &str) -> Value {
    match method {
        "tools/list" => {
            json!({"tools": [{"name": "add"}, {"name": "usage"}, {"name": "get_document"}], "nextCursor": "2"})
        }
        "prompts/list" => json!({"prompts": [{"name": "audit"}, {"name": "greet"}]}),
        "resources/list" => {
            json!({"resources": [{"uri": "file:///secret", "name": "s"}, {"uri": "file:///public", "name": "p"}]})
        }
        _ => Value::Null,
    }
}

/// An MCP server that lists everything: as JSON, or (when the client accepts only an event
/// stream) on an event stream that sends a notification first and its answer in small frames.
async fn listing_server(request: Request) -> Response {
    let stream_wanted = request.headers().get("accept").is_some_and(|a| a == "text/event-stream");
    let bytes = request.into_body().collect().await.unwrap().to_bytes();
    let answer = |message: &Value| json!({"jsonrpc": "2.0", "id": message["id"], "result": every_item(message["method"].as_str().unwrap())});
    let incoming: Value = serde_json::from_slice(&bytes).unwrap();
    let answers = match &incoming {
        Value::Array(batch) => Value::Array(batch.iter().map(answer).collect()),
        one => answer(one),
    };
    if !stream_wanted {
        return axum::Json(answers).into_response();
    }
    let events = format!(
        "id: 0\ndata: {}\n\n: keep-alive\r\nid: 1\r\ndata: {}\r\n\r\n",
        json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"tools": [{"name": "usage"}]}}),
        answers
    );
    let frames: Vec<Result<Bytes, std::io::Error>> =
        events.as_bytes().chunks(7).map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
    ([(CONTENT_TYPE, "text/event-stream")], Body::from_stream(stream::iter(frames))).into_response()
}

fn listing_app(issuer: &TestIssuer) -> Router {
    let verifier = verifier(issuer);
    Router::new()
        .route("/mcp", post(listing_server))
        .route_layer(McpLayer::new(verifier, policy(false)))
}

fn list(method: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": method}).to_string()
}

fn names(answer: &Value, member: &str, key: &str) -> Vec<String> {
    answer["result"][member]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|item| item[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tools_prompts_and_resources_are_listed_only_when_the_caller_may_use_them() {
    let issuer = issuer();
    let cases = [
        ("tools/list", "tools", "name", vec!["add"], vec!["add", "usage", "get_document"]),
        ("prompts/list", "prompts", "name", vec!["greet"], vec!["audit", "greet"]),
        (
            "resources/list",
            "resources",
            "uri",
            vec!["file:///public"],
            vec!["file:///secret", "file:///public"],
        ),
    ];
    for (method, member, key, for_user, for_admin) in cases {
        for (token, expected) in [(user(&issuer), &for_user), (admin(&issuer), &for_admin)] {
            let request = post_mcp(&token, &[("mcp-method", method)], Body::from(list(method)));
            let reply = send(listing_app(&issuer), request).await;
            assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
            assert_eq!(reply.headers["cache-control"], "private");
            assert_eq!(reply.body["id"], 7);
            assert_eq!(&names(&reply.body, member, key), expected, "{method}");
            if let Some(length) = reply.headers.get("content-length") {
                assert_eq!(length.to_str().unwrap(), reply.bytes.len().to_string());
            }
        }
    }
    // The page's cursor stays.
    let request = post_mcp(&user(&issuer), &[], Body::from(list("tools/list")));
    let reply = send(listing_app(&issuer), request).await;
    assert_eq!(reply.body["result"]["nextCursor"], "2");
}

#[tokio::test]
async fn lists_are_filtered_on_an_event_stream_and_in_a_batch() {
    let issuer = issuer();
    let request = Request::post("/mcp")
        .header(AUTHORIZATION, format!("Bearer {}", user(&issuer)))
        .header(CONTENT_TYPE, "application/json")
        .header("accept", "text/event-stream")
        .header("mcp-method", "tools/list")
        .body(Body::from(list("tools/list")))
        .unwrap();
    let response = tower::ServiceExt::oneshot(listing_app(&issuer), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "private");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = std::str::from_utf8(&bytes).unwrap();
    // The notification is not an answer to the list: unchanged, byte for byte, comment included.
    let notification = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"tools": [{"name": "usage"}]}});
    assert!(
        text.starts_with(&format!("id: 0\ndata: {notification}\n\n: keep-alive\nid: 1\ndata: ")),
        "{text}"
    );
    let data = text.lines().filter_map(|line| line.strip_prefix("data: ")).nth(1).unwrap();
    let answer: Value = serde_json::from_str(data).unwrap();
    assert_eq!(names(&answer, "tools", "name"), ["add"]);
    assert!(text.ends_with("\n\n"));

    // A client without the headers, batching (before 2025-06-18): each answer filtered.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "prompts/list"},
        {"jsonrpc": "2.0", "id": "r", "method": "resources/list"},
    ]);
    let request = post_mcp(&user(&issuer), &[], Body::from(batch.to_string()));
    let reply = send(listing_app(&issuer), request).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(names(&reply.body[0], "prompts", "name"), ["greet"]);
    assert_eq!(reply.body[1]["id"], "r");
    assert_eq!(names(&reply.body[1], "resources", "uri"), ["file:///public"]);
}

#[portcullis::requires_scope("docs:write")]
async fn write_document(principal: Principal) -> String {
    principal.subject().to_owned()
}

/// An attribute-guarded route, a route behind `RequireAuthLayer`, and an MCP endpoint whose
/// policy leaves the choice to the verifier: built with `challenge_scope_on_401(on)`.
fn every_guard_app(issuer: &TestIssuer, on: bool) -> Router {
    let verifier = issuer
        .verifier()
        .resource_metadata(ResourceMetadata::new().resource(RESOURCE))
        .challenge_scope_on_401(on)
        .build()
        .unwrap();
    let layered =
        Router::new().route("/layered", axum::routing::get(|| async { "ok" })).route_layer(
            portcullis::layer::RequireAuthLayer::new(verifier.clone())
                .scopes(&[portcullis::authorization::ScopeRule::All(&["docs:read", "docs:list"])]),
        );
    let mcp = Router::new()
        .route("/mcp", post(mcp_server))
        .route_layer(McpLayer::new(verifier.clone(), policy(false)));
    Router::new()
        .route("/write", axum::routing::get(write_document))
        .with_state(verifier)
        .merge(layered)
        .merge(mcp)
}

#[tokio::test]
async fn a_401_names_the_routes_scopes_on_every_guard_when_the_verifier_says_so() {
    let issuer = issuer();
    for (path, method, scopes) in [
        ("/write", http::Method::GET, "docs:write"),
        ("/layered", http::Method::GET, "docs:read docs:list"),
        ("/mcp", http::Method::POST, "mcp:tools"),
    ] {
        let without =
            || Request::builder().method(method.clone()).uri(path).body(Body::empty()).unwrap();
        let on = send(every_guard_app(&issuer, true), without()).await;
        assert_eq!(on.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            on.challenge(),
            Some(
                format!(
                    "Bearer realm=\"api\", scope=\"{scopes}\", resource_metadata=\"{METADATA}\""
                )
                .as_str()
            ),
            "{path}"
        );
        let invalid = || {
            Request::builder()
                .method(method.clone())
                .uri(path)
                .header(AUTHORIZATION, "Bearer x.y.z")
                .body(Body::empty())
                .unwrap()
        };
        let reply = send(every_guard_app(&issuer, true), invalid()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            reply.challenge(),
            Some(format!("Bearer realm=\"api\", error=\"invalid_token\", scope=\"{scopes}\", resource_metadata=\"{METADATA}\"").as_str()),
            "{path}"
        );
        // Off (the default): no scope on a 401.
        let off = send(every_guard_app(&issuer, false), without()).await;
        assert_eq!(
            off.challenge(),
            Some(format!("Bearer realm=\"api\", resource_metadata=\"{METADATA}\"").as_str()),
            "{path}"
        );
        let off = send(every_guard_app(&issuer, false), invalid()).await;
        assert_eq!(
            off.challenge(),
            Some(format!("Bearer realm=\"api\", error=\"invalid_token\", resource_metadata=\"{METADATA}\"").as_str()),
            "{path}"
        );
    }
}
