//! The MCP server on a real loopback socket, driven by rmcp's own client (streamable HTTP,
//! reqwest) carrying tokens from a `TestIssuer`, and by raw requests where the HTTP answer
//! itself is what the MCP authorization specification fixes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::time::Duration;

use mcp::{ADMIN_SCOPE, REALM, SCOPES, TOOLS_SCOPE};
use portcullis::testing::TestIssuer;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let resource = format!("http://{addr}{}", mcp::MCP_PATH);
        let metadata = format!("http://{addr}/.well-known/oauth-protected-resource/mcp");
        let issuer = TestIssuer::new().with_audience(resource.clone());
        let verifier = issuer
            .verifier()
            .realm(REALM)
            .resource(&resource)
            .scopes_supported(SCOPES)
            .build()
            .unwrap();
        assert_eq!(verifier.resource_metadata_url(), Some(metadata.as_str()));
        let config = StreamableHttpServerConfig::default().with_sse_keep_alive(None);
        let app = mcp::router(verifier, config);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { resource, metadata, issuer }
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
    let expected = format!("Bearer realm=\"{REALM}\", resource_metadata=\"{}\"", server.metadata);

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
        "Bearer realm=\"{REALM}\", error=\"invalid_token\", resource_metadata=\"{}\"",
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
    assert_eq!(names, ["add", "usage", "whoami"]);

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

    let sum = call_tool(&client, call("add", json!({ "a": 1, "b": 2 }))).await.unwrap();
    assert_eq!(text(&sum), "3");
    let usage = call_tool(&client, call("usage", json!({}))).await.unwrap();
    let usage: Value = serde_json::from_str(text(&usage)).unwrap();
    // `add`, then this call.
    assert_eq!(usage, json!({ "calls": 2 }));

    client.cancel().await.unwrap();
}

/// With a real identity provider configured, the server's resource URL is required: without it
/// there would be no metadata document and no `resource_metadata` in the 401, which the MCP
/// authorization specification requires.
#[test]
fn a_configured_server_without_its_resource_url_does_not_start() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MCP_ADDR", "127.0.0.1:0")
        .env("PORTCULLIS_ISSUER", "https://issuer.example")
        .env("PORTCULLIS_JWKS_URL", "https://issuer.example/jwks")
        .env("PORTCULLIS_AUDIENCE", "https://mcp.example/mcp")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts would never exit: bounded, then killed and failed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started without its resource URL");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORTCULLIS_RESOURCE"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("Listening"));
}
