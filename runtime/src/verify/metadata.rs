//! RFC 9728 protected resource metadata: the resource identifier checked at build, the
//! well-known path derived from it (§3.1), the document (§2), rendered once, and the router
//! that serves it.

use axum::body::Bytes;
use axum::response::IntoResponse;
use http::{HeaderValue, header};
use serde::Serialize;

use crate::scope::is_scope_char;

/// The well-known suffix of RFC 9728 §3.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A resource identifier that passed [`check_resource`]: its origin (`scheme://authority`)
/// and its path without trailing slashes (empty for a resource without a path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resource<'a> {
    pub(crate) origin: &'a str,
    pub(crate) path: &'a str,
}

impl Resource<'_> {
    /// The path the document is served at (§3.1): the well-known suffix inserted between the
    /// host and the path.
    pub(crate) fn metadata_path(&self) -> String {
        format!("{WELL_KNOWN}{}", self.path)
    }

    /// The document's URL, which challenges name in `resource_metadata` (§5.1).
    pub(crate) fn metadata_url(&self) -> String {
        format!("{}{}", self.origin, self.metadata_path())
    }
}

/// Checks a resource identifier (RFC 9728 §1.2: an `https` URL without a fragment; this crate
/// also refuses a query, as §3.1's path insertion has no place for one): `http` only to a
/// loopback host, unless `allow_http`. The error is what is wrong with it.
pub(crate) fn check_resource(url: &str, allow_http: bool) -> Result<Resource<'_>, &'static str> {
    // Every byte goes into a quoted `resource_metadata` value, and into a route.
    if url.is_empty() || !url.bytes().all(is_scope_char) {
        return Err("the URL may only hold printable ASCII other than space, '\"' and '\\'");
    }
    if url.contains(['?', '#']) {
        return Err("a resource identifier has no query or fragment");
    }
    let (scheme, rest) = url.split_once("://").ok_or("not an http(s) URL")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err("not an http(s) URL"),
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err("the URL has no host");
    }
    if authority.contains('@') {
        return Err("a resource identifier has no user information");
    }
    if !https && !allow_http && !is_loopback(authority) {
        return Err(
            "a resource identifier is an https URL (http only to a loopback host, or with allow_http)",
        );
    }
    if path.contains(['{', '}']) {
        return Err("the path holds '{' or '}', which must be percent-encoded");
    }
    if path.split('/').any(|segment| segment.starts_with([':', '*'])) {
        return Err("a path segment starts with ':' or '*', which axum cannot route literally");
    }
    // Identifiers that differ by a trailing slash share their document.
    let path = path.trim_end_matches('/');
    let origin = &url[..scheme.len() + 3 + authority.len()];
    Ok(Resource { origin, path })
}

/// Whether the accepted `audiences` (`None`: any) are exactly the `resource` identifier, as an
/// MCP server's must be: one audience, the identifier spelt as configured, since that is the
/// string a client asks the authorization server to put in `aud` (RFC 8707's `resource`).
pub(crate) fn audience_is_resource(resource: Option<&str>, audiences: Option<&[String]>) -> bool {
    matches!((resource, audiences), (Some(resource), Some([audience])) if audience == resource)
}

/// The message of `ConfigError::AudienceIsNotResource`: what is wrong, and what to set.
pub(crate) fn audience_mismatch(resource: Option<&str>, audiences: Option<&[String]>) -> String {
    const WHY: &str = "an MCP server accepts only the tokens issued for it (audience_is_resource)";
    let Some(resource) = resource else {
        return format!(
            "{WHY}, but no resource identifier is configured: set this server's URL with \
             ResourceMetadata::resource or PORTCULLIS_RESOURCE, and the same URL as the only audience"
        );
    };
    let accepted = match audiences {
        None => "any audience would be accepted".to_owned(),
        Some([]) => "no audience is configured".to_owned(),
        Some(audiences) => format!("the audiences {audiences:?} would be accepted"),
    };
    format!(
        "{WHY}, but {accepted}: accept exactly the resource identifier {resource:?} \
         (.audience(..) or PORTCULLIS_AUDIENCE), and nothing else"
    )
}

/// `localhost`, `127.0.0.0/8` or `[::1]`, with or without a port.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The document of RFC 9728 §2, in the order the RFC lists its members.
#[derive(Debug, Serialize)]
pub(crate) struct Document<'a> {
    pub(crate) resource: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) authorization_servers: Option<&'a [String]>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) scopes_supported: &'a [String],
    pub(crate) bearer_methods_supported: &'a [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource_documentation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dpop_signing_alg_values_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dpop_bound_access_tokens_required: Option<bool>,
}

/// What a verifier with a resource identifier serves: the document, rendered once.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    /// Where the document is served, from the host's root.
    pub(crate) path: String,
    /// The document's URL.
    pub(crate) url: String,
    /// The document as JSON.
    pub(crate) body: Bytes,
}

impl Metadata {
    pub(crate) fn new(path: String, url: String, document: &Document<'_>) -> Self {
        // A struct of strings, booleans and lists: serializing it cannot fail.
        let body = serde_json::to_vec(document).unwrap_or_default();
        Self { path, url, body: body.into() }
    }

    /// A router serving the document at its path (`GET`, and `HEAD`), as `application/json`.
    pub(crate) fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let body = self.body.clone();
        let serve = move || {
            let body = body.clone();
            async move {
                ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
                    .into_response()
            }
        };
        axum::Router::new().route(&self.path, axum::routing::get(serve))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_inserted_between_host_and_path() {
        for (resource, path) in [
            ("https://api.example.com", "/.well-known/oauth-protected-resource"),
            ("https://api.example.com/", "/.well-known/oauth-protected-resource"),
            ("https://api.example.com/mcp", "/.well-known/oauth-protected-resource/mcp"),
            ("https://api.example.com/v2/mcp", "/.well-known/oauth-protected-resource/v2/mcp"),
            ("https://api.example.com/mcp/", "/.well-known/oauth-protected-resource/mcp"),
        ] {
            let checked = check_resource(resource, false).unwrap();
            assert_eq!(checked.metadata_path(), path, "{resource}");
            assert_eq!(checked.metadata_url(), format!("https://api.example.com{path}"));
        }
    }

    #[test]
    fn only_https_or_loopback_http_without_query_or_fragment() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://localhost",
            "http://[::1]:8080/api",
            "HTTPS://API.example",
        ] {
            assert!(check_resource(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.example",
            "https://api.example/?a=b",
            "https://api.example/#top",
            "ftp://api.example",
            "api.example",
            "https://",
            "https://user@api.example",
            "https://api.example/a b",
            "https://api.example/{id}",
            "https://api.example/:id",
            "",
        ] {
            assert!(check_resource(bad, false).is_err(), "{bad}");
        }
        assert!(check_resource("http://api.example", true).is_ok());
    }

    #[test]
    fn an_mcp_audience_is_exactly_the_resource() {
        let resource = "https://mcp.example/mcp";
        let one = |audience: &str| vec![audience.to_owned()];
        assert!(audience_is_resource(Some(resource), Some(&one(resource))));
        for audiences in [
            None,
            Some(vec![]),
            Some(one("https://mcp.example/mcp/")),
            Some(one("https://MCP.example/mcp")),
            Some(one("https://other.example/mcp")),
            Some(vec![resource.to_owned(), "https://other.example/mcp".to_owned()]),
        ] {
            assert!(!audience_is_resource(Some(resource), audiences.as_deref()), "{audiences:?}");
        }
        assert!(!audience_is_resource(None, Some(&one(resource))));
    }
}
