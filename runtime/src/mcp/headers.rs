//! The request headers of MCP's Streamable HTTP transport (2026-07-28, SEP-2243) that name what a
//! request does: `Mcp-Method`, `Mcp-Name`, and the `Mcp-Param-{Name}` mirrors of a tool's
//! arguments. Read before the body, decoded from the Base64 sentinel, never trusted past the
//! body's agreement (`message.rs`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName};

use super::mismatch::Mismatch;

/// The JSON-RPC method of the request.
pub(crate) const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
/// `params.name` of `tools/call` and `prompts/get`, `params.uri` of `resources/read`.
pub(crate) const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");
/// The prefix of a mirrored tool argument's header.
pub(crate) const MCP_PARAM_PREFIX: &str = "mcp-param-";

/// The opening of a Base64-encoded value; case-sensitive.
const SENTINEL_START: &str = "=?base64?";
/// The end of a Base64-encoded value.
const SENTINEL_END: &str = "?=";

/// What the headers say the request is.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Claimed {
    /// `Mcp-Method`, when sent.
    pub(crate) method: Option<String>,
    /// `Mcp-Name`, decoded, when sent.
    pub(crate) name: Option<String>,
}

/// Reads `Mcp-Method` and `Mcp-Name`. A repeated header, a value that is not a plain header
/// value or a well-formed sentinel, or an `Mcp-Name` without `Mcp-Method`, is a mismatch: the
/// specification's "missing or malformed" headers.
pub(crate) fn claimed(headers: &HeaderMap) -> Result<Claimed, Mismatch> {
    let method = single(headers, &MCP_METHOD)?.map(str::to_owned);
    let name = single(headers, &MCP_NAME)?.map(decode).transpose()?;
    if method.is_none() && name.is_some() {
        return Err(Mismatch::NameWithoutMethod);
    }
    Ok(Claimed { method, name })
}

/// The decoded value of `Mcp-Param-{param}`, when sent (header names are case-insensitive).
pub(crate) fn param(headers: &HeaderMap, param: &HeaderName) -> Result<Option<String>, Mismatch> {
    single(headers, param)?.map(decode).transpose()
}

/// The header name that mirrors the argument declared with `x-mcp-header: name`, or `None` when
/// `name` is not an RFC 9110 token.
pub(crate) fn param_header(name: &str) -> Option<HeaderName> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return None;
    }
    HeaderName::try_from(format!("{MCP_PARAM_PREFIX}{name}")).ok()
}

/// RFC 9110 `tchar`.
const fn is_tchar(byte: u8) -> bool {
    matches!(byte,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// The one value of `name`: absent is `None`, two values are a mismatch (which of them would an
/// intermediary have read?), and so is a value outside visible ASCII, space and tab.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>, Mismatch> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Mismatch::Repeated);
    }
    value.to_str().map(Some).map_err(|_| Mismatch::Malformed)
}

/// A header value as the body would hold it: a `=?base64?…?=` value is the UTF-8 it encodes;
/// any other value is itself.
fn decode(value: &str) -> Result<String, Mismatch> {
    let Some(encoded) =
        value.strip_prefix(SENTINEL_START).and_then(|rest| rest.strip_suffix(SENTINEL_END))
    else {
        return Ok(value.to_owned());
    };
    let bytes = STANDARD.decode(encoded).map_err(|_| Mismatch::Malformed)?;
    String::from_utf8(bytes).map_err(|_| Mismatch::Malformed)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append((*name).clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn reads_method_and_decoded_name() {
        let plain = headers(&[(&MCP_METHOD, "tools/call"), (&MCP_NAME, "usage")]);
        let read = claimed(&plain).unwrap();
        assert_eq!(read.method.as_deref(), Some("tools/call"));
        assert_eq!(read.name.as_deref(), Some("usage"));
        // The specification's own examples.
        let encoded =
            headers(&[(&MCP_METHOD, "tools/call"), (&MCP_NAME, "=?base64?SGVsbG8sIOS4lueVjA==?=")]);
        assert_eq!(claimed_name(&encoded), Ok(Some("Hello, 世界".to_owned())));
        let literal = headers(&[
            (&MCP_METHOD, "tools/call"),
            (&MCP_NAME, "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        ]);
        assert_eq!(claimed_name(&literal), Ok(Some("=?base64?literal?=".to_owned())));
        // The markers are case-sensitive: this is a plain value.
        let upper = headers(&[(&MCP_METHOD, "tools/call"), (&MCP_NAME, "=?BASE64?dXNhZ2U=?=")]);
        assert_eq!(claimed_name(&upper), Ok(Some("=?BASE64?dXNhZ2U=?=".to_owned())));
        assert_eq!(claimed(&HeaderMap::new()), Ok(Claimed::default()));
    }

    fn claimed_name(map: &HeaderMap) -> Result<Option<String>, Mismatch> {
        claimed(map).map(|claimed| claimed.name)
    }

    #[test]
    fn refuses_what_two_readers_could_read_differently() {
        let cases = [
            headers(&[(&MCP_METHOD, "tools/call"), (&MCP_NAME, "add"), (&MCP_NAME, "usage")]),
            headers(&[(&MCP_METHOD, "tools/list"), (&MCP_METHOD, "tools/call")]),
            headers(&[(&MCP_METHOD, "tools/call"), (&MCP_NAME, "=?base64?not base64!?=")]),
            // Valid Base64 of bytes that are not UTF-8.
            headers(&[(&MCP_METHOD, "tools/call"), (&MCP_NAME, "=?base64?/w==?=")]),
            headers(&[(&MCP_NAME, "usage")]),
        ];
        for case in cases {
            assert!(claimed(&case).is_err(), "{case:?}");
        }
        let mut obs_text = HeaderMap::new();
        obs_text.insert(MCP_METHOD, HeaderValue::from_static("tools/call"));
        obs_text.insert(MCP_NAME, HeaderValue::from_bytes(b"us\xe9ge").unwrap());
        assert_eq!(claimed(&obs_text), Err(Mismatch::Malformed));
    }

    #[test]
    fn param_headers_are_tokens() {
        assert_eq!(param_header("Region").unwrap().as_str(), "mcp-param-region");
        assert!(param_header("").is_none());
        assert!(param_header("Re gion").is_none());
        assert!(param_header("Région").is_none());
        let map = headers(&[(&param_header("Region").unwrap(), "us-west1")]);
        assert_eq!(param(&map, &param_header("REGION").unwrap()), Ok(Some("us-west1".to_owned())));
    }
}
