//! The JSON-RPC answers of the MCP guard that are not authorization refusals: headers that
//! disagree with the body (400, `HeaderMismatch`, `-32020`), a body that is not JSON-RPC this
//! guard can read (400, parse error `-32700`), and a body over the limit (413).

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

use crate::respond::{DeniedWith, Problem};

/// The JSON-RPC error code of MCP's `HeaderMismatch` (2026-07-28, Streamable HTTP: Server
/// Validation): the headers are missing, malformed, or disagree with the body.
pub const HEADER_MISMATCH: i64 = -32020;

/// JSON-RPC's parse error: the body is not a message this guard can read.
const PARSE_ERROR: i64 = -32700;

/// Why the headers cannot be trusted; each with a fixed sentence, never a value the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// A header the specification mirrors appears more than once.
    Repeated,
    /// A header value outside the safe characters, or a malformed Base64 sentinel.
    Malformed,
    /// `Mcp-Name` without `Mcp-Method`.
    NameWithoutMethod,
    /// A method that names its target, without `Mcp-Name`.
    NameMissing,
    /// A body that is a batch, under headers that describe one message.
    Batch,
    /// `Mcp-Method` is not the body's `method`.
    Method,
    /// `Mcp-Name` is not the body's `params.name` (or `params.uri`).
    Name,
    /// An `Mcp-Param-{Name}` header is not its argument, or is missing while the argument is sent.
    Param,
}

impl Mismatch {
    const fn message(self) -> &'static str {
        match self {
            Self::Repeated => "Header mismatch: an Mcp-* header is repeated",
            Self::Malformed => "Header mismatch: an Mcp-* header value is malformed",
            Self::NameWithoutMethod => "Header mismatch: Mcp-Name is sent without Mcp-Method",
            Self::NameMissing => "Header mismatch: the Mcp-Name header is required for this method",
            Self::Batch => "Header mismatch: the headers describe one message, the body is a batch",
            Self::Method => "Header mismatch: the Mcp-Method header does not match the body",
            Self::Name => "Header mismatch: the Mcp-Name header does not match the body",
            Self::Param => "Header mismatch: an Mcp-Param header does not match the body",
        }
    }

    /// The 400 with the JSON-RPC error `-32020`, answering the request `id` when the body was read.
    pub(crate) fn into_response(self, id: Option<&Value>) -> Response {
        json_rpc_error(
            StatusCode::BAD_REQUEST,
            id,
            HEADER_MISMATCH,
            self.message(),
            "mcp_header_mismatch",
        )
    }
}

/// 400 with JSON-RPC's parse error: the body is not JSON, repeats a member this guard reads, or
/// names its target with something other than a string.
pub(crate) fn unreadable() -> Response {
    json_rpc_error(
        StatusCode::BAD_REQUEST,
        None,
        PARSE_ERROR,
        "Parse error: the body is not a JSON-RPC message this server can read",
        "mcp_unreadable_body",
    )
}

/// 413 for a body over the limit, 400 for one that could not be read.
pub(crate) fn body_error(error: &(dyn std::error::Error + 'static)) -> Response {
    let mut source = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail("The body is larger than this server accepts")
                .into_response();
        }
        source = current.source();
    }
    Problem::new(StatusCode::BAD_REQUEST).with_detail("The body could not be read").into_response()
}

fn json_rpc_error(
    status: StatusCode,
    id: Option<&Value>,
    code: i64,
    message: &'static str,
    reason: &'static str,
) -> Response {
    let mut body = json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message } });
    // 2026-07-28: `id` is omitted when the request's cannot be known.
    if let (Some(id), Some(object)) = (id.filter(|id| !id.is_null()), body.as_object_mut()) {
        object.insert("id".to_owned(), id.clone());
    }
    let mut response =
        (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    response.extensions_mut().insert(DeniedWith(reason));
    response
}
