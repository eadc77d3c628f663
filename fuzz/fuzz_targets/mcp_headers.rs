//! The MCP guard (`portcullis::mcp::McpLayer`) with arbitrary `Mcp-Method`, `Mcp-Name` and
//! `Mcp-Param-Document` headers and an arbitrary JSON-RPC body, for a caller with or without the
//! scopes of the guarded tool, prompt and resource.
//!
//! Whatever the bytes: no panic and never a 5xx; a refusal is 400 (the JSON-RPC error `-32020`
//! for headers that disagree with the body, `-32700` for a body the guard will not read), 403
//! or 413, never with the server reached. Whenever the MCP server behind the guard is reached,
//! it gets the body byte for byte, the body is JSON, and an independent reading of it (serde's
//! `Value`) finds that: the caller holds the scopes of every operation it names (the `usage`
//! tool, the `audit` prompt and the `file:///secret` resource need `mcp:admin` on top of
//! `mcp:tools`); with `Mcp-Method`, it is one message whose method is the header's, and whose
//! name or URI is the decoded `Mcp-Name` for the methods that name one; and the document
//! argument of `get_document` is its `Mcp-Param-Document` header's value, or both are absent.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use portcullis::mcp::{HEADER_MISMATCH, McpLayer, McpPolicy};
use portcullis::testing::TestIssuer;
use serde_json::Value;
use tower::ServiceExt;

const LIMIT: usize = 512;
/// What the echo server marks its answers with.
const REACHED: &str = "x-reached-server";

struct Fixture {
    app: Router,
    /// mcp:tools; mcp:tools and mcp:admin.
    tokens: [String; 2],
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let issuer = TestIssuer::new();
        let verifier = issuer.verifier().realm("fuzz").build().unwrap();
        let policy = McpPolicy::builder(&["mcp:tools"])
            .tool("usage", &["mcp:admin"])
            .prompt("audit", &["mcp:admin"])
            .resource("file:///secret", &["mcp:admin"])
            .mirrored_param("get_document", "Document", "id")
            .max_body_bytes(LIMIT)
            .build()
            .unwrap();
        let app =
            Router::new().route("/mcp", post(echo)).route_layer(McpLayer::new(verifier, policy));
        let day = std::time::Duration::from_secs(86_400);
        let tokens = [
            issuer.token("alice").scopes(["mcp:tools"]).expires_in(day).sign(),
            issuer.token("alice").scopes(["mcp:tools", "mcp:admin"]).expires_in(day).sign(),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        Fixture { app, tokens, runtime }
    })
}

/// The MCP server: answers with the body it got (not as JSON: nothing to filter).
async fn echo(request: Request) -> ([(&'static str, &'static str); 2], Bytes) {
    let bytes = request.into_body().collect().await.unwrap().to_bytes();
    ([(REACHED, "1"), ("content-type", "application/octet-stream")], bytes)
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Bit 0: the caller has `mcp:admin`; bits 1, 2, 3: `Mcp-Method`, `Mcp-Name`,
    /// `Mcp-Param-Document` sent.
    flags: u8,
    /// The three header values and the body, separated by NUL bytes (which no header value
    /// holds): a seed is written by hand.
    rest: &'a [u8],
}

/// A header value as the guard reads it: the Base64 sentinel decoded.
fn decoded(value: &str) -> Option<String> {
    match value.strip_prefix("=?base64?").and_then(|rest| rest.strip_suffix("?=")) {
        Some(encoded) => String::from_utf8(STANDARD.decode(encoded).ok()?).ok(),
        None => Some(value.to_owned()),
    }
}

/// Where a method names its target, for the methods that name one.
fn target_member(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        _ => None,
    }
}

/// `true` when the operation `message` names needs `mcp:admin`.
fn needs_admin(message: &Value) -> bool {
    let method = message.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = message.get("params");
    let named = |member: &str| params.and_then(|p| p.get(member)).and_then(Value::as_str);
    match method {
        "tools/call" => named("name") == Some("usage"),
        "prompts/get" => named("name") == Some("audit"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            named("uri") == Some("file:///secret")
        }
        _ => false,
    }
}

/// The value a mirrored argument has in a header: a string as it is, an integer in decimal, a
/// boolean as `true` or `false`.
fn mirrors(header: &str, argument: &Value) -> bool {
    match argument {
        Value::String(text) => text == header,
        Value::Bool(flag) => header == flag.to_string(),
        Value::Number(number) => match (number.as_f64(), header.parse::<f64>()) {
            (Some(body), Ok(parsed)) => body == parsed,
            _ => false,
        },
        _ => false,
    }
}

/// `value` when bit `bit` of `flags` says its header is sent.
fn sent(flags: u8, bit: u8, value: &[u8]) -> Option<&[u8]> {
    ((flags >> bit) & 1 == 1).then_some(value)
}

fuzz_target!(|input: Input<'_>| {
    let fixture = fixture();
    let mut parts = input.rest.splitn(4, |byte| *byte == 0);
    let mut next = || parts.next().unwrap_or_default();
    let (method_value, name_value, document_value, body) = (next(), next(), next(), next());
    let admin = input.flags & 1 == 1;
    let mut request = Request::post("/mcp")
        .header(AUTHORIZATION, format!("Bearer {}", fixture.tokens[usize::from(admin)]))
        .header(CONTENT_TYPE, "application/json");
    let mut header = |name: &str, value: Option<&[u8]>| -> Result<Option<String>, ()> {
        let Some(value) = value else { return Ok(None) };
        let value = HeaderValue::from_bytes(value).map_err(|_| ())?;
        let text = value.to_str().ok().map(str::to_owned);
        request = std::mem::take(&mut request).header(name, value);
        Ok(text)
    };
    let Ok(method) = header("mcp-method", sent(input.flags, 1, method_value)) else { return };
    let Ok(name) = header("mcp-name", sent(input.flags, 2, name_value)) else { return };
    let Ok(document) = header("mcp-param-document", sent(input.flags, 3, document_value)) else {
        return;
    };
    let Ok(request) = request.body(Body::from(body.to_vec())) else { return };

    let (status, reached, answer) = fixture.runtime.block_on(async {
        let response = fixture.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        (
            parts.status,
            parts.headers.contains_key(REACHED),
            body.collect().await.unwrap().to_bytes(),
        )
    });

    assert!(!status.is_server_error(), "{status}");
    if !reached {
        assert!(
            matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::PAYLOAD_TOO_LARGE
            ),
            "{status}"
        );
        if status == StatusCode::BAD_REQUEST {
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            let code = answer["error"]["code"].as_i64().unwrap();
            assert!(code == HEADER_MISMATCH || code == -32700, "{answer}");
            assert_eq!(answer["jsonrpc"], "2.0");
        }
        return;
    }
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer.as_ref(), body, "the server gets the body unchanged");
    let parsed: Value = serde_json::from_slice(body).expect("a body the guard passed is JSON");
    let messages: Vec<&Value> = match &parsed {
        Value::Array(batch) => batch.iter().collect(),
        one => vec![one],
    };
    if !admin {
        assert!(!messages.iter().any(|message| needs_admin(message)), "{parsed}");
    }
    let Some(method) = method else { return };
    assert!(!parsed.is_array(), "headers describe one message, the body is a batch");
    assert_eq!(parsed.get("method").and_then(Value::as_str), Some(method.as_str()), "{parsed}");
    let Some(member) = target_member(&method) else { return };
    let params = parsed.get("params");
    let target = params.and_then(|p| p.get(member)).and_then(Value::as_str);
    let name = name.as_deref().and_then(decoded);
    assert_eq!(target, name.as_deref(), "{parsed}");
    if method == "tools/call" && target == Some("get_document") {
        let argument = params
            .and_then(|p| p.get("arguments"))
            .and_then(|arguments| arguments.get("id"))
            .filter(|id| !id.is_null());
        match (document.as_deref().and_then(decoded), argument) {
            (None, None) => {}
            (Some(header), Some(argument)) => assert!(mirrors(&header, argument), "{parsed}"),
            (header, argument) => panic!("header {header:?}, argument {argument:?}"),
        }
    }
});
