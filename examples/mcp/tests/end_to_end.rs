//! The MCP server on a real loopback socket, driven by rmcp's own client (streamable HTTP,
//! reqwest) carrying tokens from a `TestIssuer`, and by raw requests where the HTTP answer
//! itself is what the MCP authorization specification fixes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use mcp::{ADMIN_SCOPE, DEFAULT_MAX_SESSIONS_PER_OWNER, OwnedSessions, REALM, SCOPES, TOOLS_SCOPE};
use portcullis::config::ResourceMetadata;
use portcullis::testing::TestIssuer;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How long any one client operation may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1:0 whose verifier's audience and resource are its own resource URL.
struct Server {
    /// `http://127.0.0.1:<port>/mcp`: the endpoint, and the tokens' audience.
    resource: String,
    /// `http://127.0.0.1:<port>/.well-known/oauth-protected-resource/mcp`.
    metadata: String,
    issuer: TestIssuer,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(LocalSessionManager::default()).await.0
    }

    /// A server whose sessions rmcp's `manager` keeps, and their bindings to their owners. A
    /// second issuer, with keys of its own, is trusted too: its `alice` is another caller.
    async fn start_with(
        manager: LocalSessionManager,
    ) -> (Self, Arc<OwnedSessions<LocalSessionManager>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let resource = format!("http://{addr}{}", mcp::MCP_PATH);
        let metadata = format!("http://{addr}/.well-known/oauth-protected-resource/mcp");
        let issuer = TestIssuer::new().with_audience(resource.clone());
        let verifier = issuer
            .verifier()
            .realm(REALM)
            .resource_metadata(
                ResourceMetadata::new()
                    .resource(&resource)
                    .audience_is_resource()
                    .scopes_supported(SCOPES),
            )
            .build()
            .unwrap();
        assert_eq!(verifier.resource_metadata_url(), Some(metadata.as_str()));
        let config = StreamableHttpServerConfig::default().with_sse_keep_alive(None);
        let sessions = Arc::new(OwnedSessions::new(manager));
        let app = mcp::router_with_sessions(verifier, config, Arc::clone(&sessions));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (Self { resource, metadata, issuer }, sessions)
    }

    fn token(&self, scopes: &[&str]) -> String {
        self.issuer.token("alice").scopes(scopes).sign()
    }

    /// rmcp's client, connected (initialized) with `token`, or the error it failed with.
    async fn connect(
        &self,
        token: Option<String>,
    ) -> Result<RunningService<RoleClient, ClientConfig>, rmcp::service::ClientInitializeError>
    {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.resource.clone());
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        let transport = StreamableHttpClientTransport::from_config(config);
        tokio::time::timeout(PATIENCE, ClientConfig::default().serve(transport))
            .await
            .expect("the handshake does not hang")
    }

    /// A raw JSON-RPC POST to the endpoint, as an MCP client sends it.
    async fn post(&self, token: Option<&str>, message: &Value) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.resource)
            .header("accept", "application/json, text/event-stream")
            .json(message);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A raw POST of `body` with `token` and `headers` (the 2026-07-28 `Mcp-*` headers, say).
    async fn with_headers(
        &self,
        token: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.resource)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

fn challenge(response: &reqwest::Response) -> &str {
    response.headers()["www-authenticate"].to_str().unwrap()
}

fn initialize() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "raw", "version": "0" }
        }
    })
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let arguments = arguments.as_object().cloned().unwrap_or_default();
    CallToolRequestParams::new(name.to_owned()).with_arguments(arguments)
}

fn text(result: &CallToolResult) -> &str {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    &result.content.first().and_then(|content| content.as_text()).expect("a text result").text
}

async fn call_tool(
    client: &RunningService<RoleClient, ClientConfig>,
    params: CallToolRequestParams,
) -> Result<CallToolResult, rmcp::ServiceError> {
    tokio::time::timeout(PATIENCE, client.call_tool(params)).await.expect("the call does not hang")
}

#[tokio::test]
async fn the_resource_metadata_is_public_and_names_the_tools_scopes() {
    let server = Server::start().await;
    let response = reqwest::get(&server.metadata).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["resource"], json!(server.resource));
    assert_eq!(document["authorization_servers"], json!([server.issuer.issuer()]));
    assert_eq!(document["scopes_supported"], json!(SCOPES));
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));
}

#[tokio::test]
async fn without_a_token_the_connection_fails_with_the_challenge() {
    let server = Server::start().await;
    // The endpoint's scope, which MCP clients ask for first (before `scopes_supported`).
    let expected = format!(
        "Bearer realm=\"{REALM}\", scope=\"{TOOLS_SCOPE}\", resource_metadata=\"{}\"",
        server.metadata
    );

    let error = server.connect(None).await.expect_err("no connection without a token");
    assert!(error.is_authorization_required(), "{error:?}");
    assert_eq!(error.auth_challenge(), Some(expected.as_str()));

    let response = server.post(None, &initialize()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response), expected);
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let server = Server::start().await;
    // A token issued for another resource: the specification forbids passing tokens through.
    let other = server
        .issuer
        .token("alice")
        .scopes([TOOLS_SCOPE])
        .claim("aud", "https://other.example/mcp")
        .sign();
    let expected = format!(
        "Bearer realm=\"{REALM}\", error=\"invalid_token\", scope=\"{TOOLS_SCOPE}\", \
         resource_metadata=\"{}\"",
        server.metadata
    );

    let error = server.connect(Some(other.clone())).await.expect_err("refused");
    assert_eq!(error.auth_challenge(), Some(expected.as_str()));

    let response = server.post(Some(&other), &initialize()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response), expected);
}

#[tokio::test]
async fn without_the_endpoint_scope_the_connection_gets_403() {
    let server = Server::start().await;
    let token = server.token(&["profile"]);

    let response = server.post(Some(&token), &initialize()).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        challenge(&response),
        format!(
            "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{TOOLS_SCOPE}\", \
             resource_metadata=\"{}\"",
            server.metadata
        )
    );
    assert!(server.connect(Some(token)).await.is_err());
}

#[tokio::test]
async fn with_the_base_scope_the_base_tools_answer() {
    let server = Server::start().await;
    let client = server.connect(Some(server.token(&[TOOLS_SCOPE]))).await.expect("connected");

    let tools = tokio::time::timeout(PATIENCE, client.list_all_tools()).await.unwrap().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    // `usage` needs mcp:admin: not offered to a caller who would be refused.
    assert_eq!(names, ["add", "whoami"]);

    let sum = call_tool(&client, call("add", json!({ "a": 40, "b": 2 }))).await.unwrap();
    assert_eq!(text(&sum), "42");

    let who = call_tool(&client, call("whoami", json!({}))).await.unwrap();
    let who: Value = serde_json::from_str(text(&who)).unwrap();
    assert_eq!(who, json!({ "subject": "alice", "scopes": [TOOLS_SCOPE] }));

    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_admin_tool_needs_its_scope() {
    let server = Server::start().await;
    let token = server.token(&[TOOLS_SCOPE]);
    let expected = format!(
        "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{TOOLS_SCOPE} {ADMIN_SCOPE}\", \
         resource_metadata=\"{}\"",
        server.metadata
    );

    // The raw answer: 403 before rmcp dispatches the call, naming the scope the tool needs.
    let usage = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "usage", "arguments": {} }
    });
    let response = server.post(Some(&token), &usage).await;
    assert_eq!(response.status(), 403);
    assert_eq!(challenge(&response), expected);

    // A repeated name, where readers that keep the first and the last one would disagree.
    let smuggled = r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"add","name":"usage","arguments":{}}}"#;
    let response = reqwest::Client::new()
        .post(&server.resource)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(smuggled)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], -32700, "{error}");

    // A 2026-07-28 client names the tool in its headers: the 403 is decided from them, and the
    // body is never read (this one would not parse, and is over the limit).
    let mut unread = b"{not json".to_vec();
    unread.resize(mcp::MAX_BODY_BYTES + 1, b' ');
    let response = server
        .with_headers(&token, &[("mcp-method", "tools/call"), ("mcp-name", "usage")], unread)
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(challenge(&response), expected);

    // Headers naming `add` over a body calling `usage`: the header mismatch the specification
    // prescribes, never a call.
    let body = serde_json::to_vec(&usage).unwrap();
    let response = server
        .with_headers(&token, &[("mcp-method", "tools/call"), ("mcp-name", "add")], body)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/json");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["jsonrpc"], "2.0");
    assert_eq!(error["id"], 7);
    assert_eq!(error["error"]["code"], portcullis::mcp::HEADER_MISMATCH);

    // rmcp's client surfaces it as a transport error carrying the challenge (a 403, not the
    // 401 that `is_authorization_required` is about).
    let client = server.connect(Some(token)).await.expect("connected");
    let error = call_tool(&client, call("usage", json!({}))).await.expect_err("refused");
    assert!(matches!(error, rmcp::ServiceError::TransportSend(_)), "{error:?}");
    assert!(!error.is_authorization_required());
    assert_eq!(error.auth_challenge(), Some(expected.as_str()));
}

#[tokio::test]
async fn with_the_admin_scope_the_admin_tool_answers() {
    let server = Server::start().await;
    let client =
        server.connect(Some(server.token(&[TOOLS_SCOPE, ADMIN_SCOPE]))).await.expect("connected");

    let tools = tokio::time::timeout(PATIENCE, client.list_all_tools()).await.unwrap().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["add", "usage", "whoami"]);

    let sum = call_tool(&client, call("add", json!({ "a": 1, "b": 2 }))).await.unwrap();
    assert_eq!(text(&sum), "3");
    let usage = call_tool(&client, call("usage", json!({}))).await.unwrap();
    let usage: Value = serde_json::from_str(text(&usage)).unwrap();
    // `add`, then this call.
    assert_eq!(usage, json!({ "calls": 2 }));

    client.cancel().await.unwrap();
}

/// The binary's standard error when it refuses to start with these `PORTCULLIS_*` variables (a
/// real identity provider's, on loopback so that nothing is fetched before the refusal); a
/// server that starts is killed and fails the test.
fn refused_start(vars: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mcp"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MCP_ADDR", "127.0.0.1:0")
        .env("PORTCULLIS_ISSUER", "https://issuer.example")
        .env("PORTCULLIS_JWKS_URL", "https://issuer.example/jwks");
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts would never exit: bounded, then killed and failed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started with {vars:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(!String::from_utf8_lossy(&output.stdout).contains("MCP endpoint"));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// With a real identity provider configured, the server's resource URL is required: without it
/// there would be no metadata document and no `resource_metadata` in the 401, which the MCP
/// authorization specification requires.
#[test]
fn a_configured_server_without_its_resource_url_does_not_start() {
    let stderr = refused_start(&[("PORTCULLIS_AUDIENCE", "https://mcp.example/mcp")]);
    assert!(stderr.contains("no resource identifier is configured"), "{stderr}");
    assert!(stderr.contains("PORTCULLIS_RESOURCE"), "{stderr}");
}

/// The MCP specification forbids accepting a token issued for another resource: the binary
/// does not start unless its audience is exactly its resource URL, whatever else is accepted.
#[test]
fn a_configured_server_whose_audience_is_not_exactly_its_resource_does_not_start() {
    const RESOURCE: &str = "https://mcp.example/mcp";
    for audience in [
        "https://api.example",
        "https://mcp.example/mcp/",
        "https://mcp.example/mcp, https://api.example",
        "https://api.example,https://mcp.example/mcp",
    ] {
        let stderr =
            refused_start(&[("PORTCULLIS_RESOURCE", RESOURCE), ("PORTCULLIS_AUDIENCE", audience)]);
        assert!(
            stderr.starts_with(
                "mcp: configuration: an MCP server accepts only the tokens issued for it"
            ),
            "{audience}: {stderr}"
        );
        assert!(
            stderr.contains(r#"accept exactly the resource identifier "https://mcp.example/mcp""#),
            "{audience}: {stderr}"
        );
        assert!(stderr.contains("PORTCULLIS_AUDIENCE"), "{audience}: {stderr}");
    }
    let stderr = refused_start(&[("PORTCULLIS_RESOURCE", RESOURCE)]);
    assert!(stderr.contains("but no audience is configured"), "{stderr}");
    assert!(!stderr.contains("any_audience"), "{stderr}");
}

/// The HTTP answer to a raw request, read whole.
struct Answer {
    status: u16,
    /// Every header but `date`, which only says when.
    headers: Vec<(String, String)>,
    body: String,
}

impl Server {
    /// A raw JSON-RPC POST in session `session` (when given), as a 2025-06-18 client sends it.
    async fn in_session(&self, token: &str, session: Option<&str>, message: &Value) -> Answer {
        let mut request = reqwest::Client::new()
            .post(&self.resource)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(message);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        answer(request).await
    }

    /// A raw request of `method` without a body in session `session`.
    async fn bodiless(&self, method: reqwest::Method, token: &str, session: &str) -> Answer {
        let request = reqwest::Client::new()
            .request(method, &self.resource)
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .header("mcp-session-id", session);
        answer(request).await
    }

    /// Opens a session for `token` (initialize, then the initialized notification): its id.
    async fn open_session(&self, token: &str) -> String {
        let response = reqwest::Client::new()
            .post(&self.resource)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let session = response.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let body = tokio::time::timeout(PATIENCE, response.text()).await.unwrap().unwrap();
        assert!(body.contains("\"protocolVersion\""), "{body}");
        let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        assert_eq!(self.in_session(token, Some(&session), &initialized).await.status, 202);
        session
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = tokio::time::timeout(PATIENCE, request.send()).await.unwrap().unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    let body = tokio::time::timeout(PATIENCE, response.text()).await.unwrap().unwrap();
    Answer { status, headers, body }
}

fn add_call(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": "add", "arguments": { "a": 40, "b": 2 } }
    })
}

/// The tool result of an SSE answer to `add_call`.
fn sum_of(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = answer
        .body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .find(|data| !data.is_empty())
        .unwrap_or_else(|| panic!("no event: {}", answer.body));
    let message: Value = serde_json::from_str(data).unwrap();
    message["result"]["content"][0]["text"].as_str().unwrap().to_owned()
}

/// rmcp's service alone, without portcullis or the session binding, on loopback: its URL.
async fn bare_rmcp() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let service = rmcp::transport::streamable_http_server::StreamableHttpService::new(
        move || Ok(mcp::Tools::new(Arc::clone(&calls))),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    let app = axum::Router::new().route_service(mcp::MCP_PATH, service);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}{}", mcp::MCP_PATH)
}

/// rmcp's answer for a session it does not know, which the specification fixes at 404.
fn assert_unknown_session(answer: &Answer, unknown: &Answer) {
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body, "Not Found: Session not found");
    assert_eq!(
        (answer.status, &answer.headers, &answer.body),
        (unknown.status, &unknown.headers, &unknown.body),
        "the same answer as for an unknown session"
    );
}

/// A session belongs to the principal that opened it: bob, with alice's session id, gets the
/// 404 of an unknown session, byte for byte, for every method (he can neither call tools in it,
/// nor read its events, nor end it); alice goes on.
#[tokio::test]
async fn a_session_belongs_to_the_principal_that_opened_it() {
    let (server, sessions) = Server::start_with(LocalSessionManager::default()).await;
    let alice = server.token(&[TOOLS_SCOPE]);
    let bob = server.issuer.token("bob").scopes([TOOLS_SCOPE]).sign();

    let session = server.open_session(&alice).await;
    let bobs_session = server.open_session(&bob).await;
    assert_eq!(sessions.len(), 2);
    assert_eq!(sum_of(&server.in_session(&alice, Some(&session), &add_call(2)).await), "42");

    let made_up = "00000000-0000-4000-8000-000000000000";
    let unknown = server.in_session(&bob, Some(made_up), &add_call(3)).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.headers, [("content-length".to_owned(), "28".to_owned())]);
    // Exactly what rmcp itself answers for a session it does not know.
    let bare = bare_rmcp().await;
    let request = reqwest::Client::new()
        .post(&bare)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-session-id", made_up)
        .json(&add_call(3));
    let rmcp_answer = answer(request).await;
    assert_eq!(
        (rmcp_answer.status, &rmcp_answer.headers, &rmcp_answer.body),
        (unknown.status, &unknown.headers, &unknown.body)
    );
    assert_unknown_session(&server.in_session(&bob, Some(&session), &add_call(4)).await, &unknown);
    // Whose session it is does not change the answer to a made-up one.
    assert_unknown_session(&server.in_session(&alice, Some(made_up), &add_call(5)).await, &unknown);
    assert_unknown_session(
        &server.in_session(&alice, Some(&bobs_session), &add_call(6)).await,
        &unknown,
    );
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        assert_unknown_session(&server.bodiless(method.clone(), &bob, &session).await, &unknown);
        assert_unknown_session(&server.bodiless(method, &bob, made_up).await, &unknown);
    }
    // Named twice, even with bob's own session first: no session of his unambiguously.
    let twice = reqwest::Client::new()
        .post(&server.resource)
        .bearer_auth(&bob)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-session-id", &bobs_session)
        .header("mcp-session-id", &session)
        .json(&add_call(7));
    assert_unknown_session(&answer(twice).await, &unknown);

    // alice's session is untouched: bob's DELETE did not end it.
    assert_eq!(sum_of(&server.in_session(&alice, Some(&session), &add_call(8)).await), "42");

    // alice ends her session: it is gone for her too, and its binding with it.
    let ended = server.bodiless(reqwest::Method::DELETE, &alice, &session).await;
    assert_eq!(ended.status, 202, "{}", ended.body);
    assert_unknown_session(
        &server.in_session(&alice, Some(&session), &add_call(10)).await,
        &unknown,
    );
    assert_eq!(sessions.len(), 1);
}

/// Bindings live exactly as long as rmcp's sessions: fifty sessions of ten callers, each ended
/// by its owner, leave none behind.
#[tokio::test]
async fn bindings_end_when_their_owners_end_their_sessions() {
    let (server, sessions) = Server::start_with(LocalSessionManager::default()).await;
    let tokens: Vec<String> = (0..10)
        .map(|n| server.issuer.token(format!("user-{n}")).scopes([TOOLS_SCOPE]).sign())
        .collect();
    let mut opened = Vec::new();
    for round in 0..5 {
        for token in &tokens {
            opened.push((token, server.open_session(token).await));
        }
        assert_eq!(sessions.len(), (round + 1) * tokens.len());
    }
    for (count, (token, session)) in opened.iter().enumerate() {
        let ended = server.bodiless(reqwest::Method::DELETE, token, session).await;
        assert_eq!(ended.status, 202);
        assert_eq!(sessions.len(), opened.len() - count - 1);
    }
    assert!(sessions.is_empty());
}

/// One principal holds at most `DEFAULT_MAX_SESSIONS_PER_OWNER` sessions: each one more ends
/// their oldest (404 from then on, as for an unknown session), and nobody else's.
#[tokio::test]
async fn a_principal_beyond_the_session_limit_loses_its_oldest_sessions() {
    let (server, sessions) = Server::start_with(LocalSessionManager::default()).await;
    let alice = server.token(&[TOOLS_SCOPE]);
    let bob = server.issuer.token("bob").scopes([TOOLS_SCOPE]).sign();
    let bobs = server.open_session(&bob).await;
    let extra = 4;
    let mut opened = Vec::new();
    for _ in 0..DEFAULT_MAX_SESSIONS_PER_OWNER + extra {
        opened.push(server.open_session(&alice).await);
        assert!(sessions.len() <= DEFAULT_MAX_SESSIONS_PER_OWNER + 1);
    }
    assert_eq!(sessions.len(), DEFAULT_MAX_SESSIONS_PER_OWNER + 1);
    let made_up = server.in_session(&alice, Some("made-up"), &add_call(1)).await;
    let (ended, kept) = opened.split_at(extra);
    for session in ended {
        assert_unknown_session(
            &server.in_session(&alice, Some(session), &add_call(2)).await,
            &made_up,
        );
    }
    for session in [&kept[0], &kept[kept.len() - 1]] {
        assert_eq!(sum_of(&server.in_session(&alice, Some(session), &add_call(3)).await), "42");
    }
    assert_eq!(sum_of(&server.in_session(&bob, Some(&bobs), &add_call(4)).await), "42");
}

/// A session rmcp ends on its own (here, idle for a second) takes its binding with it.
#[tokio::test]
async fn bindings_end_when_rmcp_ends_their_sessions() {
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(Duration::from_secs(1));
    let (server, sessions) = Server::start_with(manager).await;
    let token = server.token(&[TOOLS_SCOPE]);
    let mut opened = Vec::new();
    for _ in 0..10 {
        opened.push(server.open_session(&token).await);
    }
    assert!(!sessions.is_empty());
    let deadline = std::time::Instant::now() + PATIENCE;
    while !sessions.is_empty() {
        assert!(std::time::Instant::now() < deadline, "{} bindings left", sessions.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let made_up = server.in_session(&token, Some("made-up"), &add_call(1)).await;
    for session in &opened {
        assert_unknown_session(
            &server.in_session(&token, Some(session), &add_call(2)).await,
            &made_up,
        );
    }
}
