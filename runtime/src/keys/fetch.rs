// Introspection shares the URL rules only; the bounded GET and discovery are the key fetcher's.
#![cfg_attr(not(feature = "jwks"), allow(dead_code))]

//! Fetching a document from an identity provider: the URL rules, a GET bounded in time and size,
//! OpenID Connect discovery, and the freshness a `Cache-Control` header allows.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::key::KeyError;

/// Parses `url`, refusing anything but `https` (and `http` to a loopback address, for tests
/// and local identity providers, or to any host with `allow_http`, for development set-ups):
/// keys fetched in clear text could be swapped by anyone on the path.
pub(crate) fn secure_url(url: &str, allow_http: bool) -> Result<Url, &'static str> {
    let url = Url::parse(url).map_err(|_| "the URL is not valid")?;
    if is_secure(&url, allow_http) {
        Ok(url)
    } else if url.scheme() == "http" {
        Err(
            "the URL must use https (http only to a loopback address, or to any host with PORTCULLIS_ALLOW_HTTP=true in development)",
        )
    } else {
        Err("the URL must use https")
    }
}

/// Parses `named`, a URL that a document fetched from `document` names (a discovery document's
/// `jwks_uri` or `introspection_endpoint`): a [`secure_url`], and `https` whenever the document
/// came over `https`, loopback and the development opt-in included. The document vouches for
/// the URL only as strongly as the channel it came over: an `https` document naming an `http`
/// URL would hand the keys (or the tokens) to whoever sits on that clear-text path.
pub(crate) fn discovered_url(
    document: &Url,
    named: &str,
    allow_http: bool,
) -> Result<Url, &'static str> {
    let url = secure_url(named, allow_http)?;
    if document.scheme() == "https" && url.scheme() != "https" {
        return Err("it was fetched over https but names an http URL, a downgrade");
    }
    Ok(url)
}

/// Whether `url` is plain `http` to a host that is not loopback: allowed only by the opt-in.
pub(crate) fn is_clear_text_to_network(url: &Url) -> bool {
    url.scheme() == "http" && !is_secure(url, false)
}

fn is_secure(url: &Url, allow_http: bool) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" if allow_http => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Whether a fetch that went through `previous` (the first URL first) may follow a redirect to
/// `next`: at most two redirects (`previous` holds the first URL too), each to a secure URL, and never from `https` down to `http`,
/// not even to a loopback address (the document would no longer be what the `https` URL
/// vouched for).
fn may_redirect(previous: &[Url], next: &Url, allow_http: bool) -> bool {
    let downgrade = next.scheme() != "https" && previous.iter().any(|url| url.scheme() == "https");
    previous.len() < 3 && is_secure(next, allow_http) && !downgrade
}

/// When a discovery document names another issuer than the configured one, what the two
/// spellings have in common, if it is a near miss: the issuer must be spelt exactly as the
/// provider spells it (OpenID Connect Discovery §4.3, RFC 8414 §3.3).
pub(crate) fn near_miss(configured: &str, discovered: &str) -> Option<&'static str> {
    if configured.trim_end_matches('/') == discovered.trim_end_matches('/') {
        return Some("they differ only by a trailing slash");
    }
    let (Ok(a), Ok(b)) = (Url::parse(configured), Url::parse(discovered)) else { return None };
    let rest_equal = a.scheme() == b.scheme()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
        && a.query() == b.query();
    if !rest_equal {
        return None;
    }
    let loopback = |url: &Url| match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if a.host() == b.host() {
        Some("they differ only in spelling (letter case, or a default port written out)")
    } else if loopback(&a) && loopback(&b) {
        Some("they differ only by a host alias (localhost, 127.0.0.1 and [::1] name one host)")
    } else {
        None
    }
}

/// Why a fetch failed. Logged, never sent to a client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("the request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("the request timed out")]
    Timeout,
    #[error("the server answered {0}")]
    Status(reqwest::StatusCode),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the discovery document is not valid: {0}")]
    InvalidDiscovery(&'static str),
    #[error(
        "the discovery document names the issuer {found:?}, not {expected:?}{}",
        near_miss(expected, found).map(|hint| format!(" ({hint})")).unwrap_or_default()
    )]
    IssuerMismatch { expected: String, found: String },
    #[error("the key set is not usable: {0}")]
    Keys(#[from] KeyError),
    #[error("the key set holds no usable key")]
    NoUsableKey,
}

impl From<reqwest::Error> for FetchError {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() { Self::Timeout } else { Self::Request(error) }
    }
}

/// The key set a discovery document (`fetched`) names for `issuer`: the document must name
/// that very issuer, and a `jwks_uri` that [`discovered_url`] accepts.
pub(crate) fn jwks_uri(
    fetched: &Fetched,
    issuer: &str,
    allow_http: bool,
) -> Result<Url, FetchError> {
    #[derive(Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    // A JSON object (OpenID Connect Discovery §4.2), which serde alone would not insist on.
    if !super::jwks::is_json_object(&fetched.body) {
        return Err(FetchError::InvalidDiscovery("it is not a JSON object"));
    }
    let discovery: Discovery = serde_json::from_slice(&fetched.body)
        .map_err(|_| FetchError::InvalidDiscovery("it lacks `issuer` or `jwks_uri`"))?;
    if discovery.issuer != issuer {
        return Err(FetchError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: discovery.issuer,
        });
    }
    discovered_url(&fetched.url, &discovery.jwks_uri, allow_http)
        .map_err(FetchError::InvalidDiscovery)
}

/// A document as fetched: where it came from, its bytes and the `max-age` its response allows.
pub(crate) struct Fetched {
    /// The URL the document was served at, after redirects.
    pub(crate) url: Url,
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
}

/// An HTTP client for key documents: redirects only to secure URLs, a timeout on every fetch,
/// and a size limit on every response.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    max_response_bytes: usize,
    allow_http: bool,
}

impl Fetcher {
    pub(crate) fn new(
        timeout: Duration,
        max_response_bytes: usize,
        allow_http: bool,
    ) -> Result<Self, crate::crypto::HttpClientError> {
        let client = crate::crypto::https_client()?
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if may_redirect(attempt.previous(), attempt.url(), allow_http) {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, max_response_bytes, allow_http })
    }

    /// Reads `issuer`'s discovery document and returns its `jwks_uri`: the first of
    /// `documents` (OpenID Connect's, then RFC 8414's) that the provider serves; a document
    /// that is served but does not fit is not passed over.
    pub(crate) async fn discover(
        &self,
        issuer: &str,
        documents: &[Url],
    ) -> Result<Url, FetchError> {
        let mut fetched = None;
        let mut last_error = FetchError::InvalidDiscovery("no discovery document is configured");
        for document in documents {
            match self.get(document).await {
                Ok(found) => {
                    fetched = Some(found);
                    break;
                }
                // Not served here (404, say): the other form may be.
                Err(error @ FetchError::Status(_)) => last_error = error,
                Err(error) => return Err(error),
            }
        }
        let Some(fetched) = fetched else { return Err(last_error) };
        let url = jwks_uri(&fetched, issuer, self.allow_http)?;
        tracing::info!(target: "portcullis::keys", issuer, jwks_uri = %url, "discovered the key set");
        Ok(url)
    }

    /// GETs `url`: a 200 within the size limit, and its `max-age`.
    pub(crate) async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        let limit = self.max_response_bytes;
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(response.status()));
        }
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(FetchError::TooLarge(limit));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age);
        let url = response.url().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { url, body, max_age })
    }
}

/// The freshness a `Cache-Control` value allows: `max-age`, or zero for `no-cache`/`no-store`.
fn max_age(cache_control: &str) -> Option<Duration> {
    let mut found = None;
    for directive in cache_control.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-cache" | "no-store" => return Some(Duration::ZERO),
            "max-age" => {
                found = value.trim().trim_matches('"').parse().ok().map(Duration::from_secs);
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://idp.example/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]/jwks",
            "http://localhost/jwks",
        ] {
            assert!(secure_url(ok, false).is_ok(), "{ok}");
        }
        for bad in ["http://idp.example/jwks", "ftp://idp.example/", "file:///etc/jwks", "jwks"] {
            assert!(secure_url(bad, false).is_err(), "{bad}");
        }
        // The development opt-in: plain http to any host, nothing else.
        assert!(secure_url("http://keycloak:8080/realms/dev", true).is_ok());
        for bad in ["ftp://idp.example/", "file:///etc/jwks", "jwks"] {
            assert!(secure_url(bad, true).is_err(), "{bad}");
        }
        assert!(is_clear_text_to_network(&Url::parse("http://keycloak:8080/").unwrap()));
        assert!(!is_clear_text_to_network(&Url::parse("http://127.0.0.1:8080/").unwrap()));
    }

    #[test]
    fn a_document_fetched_over_https_names_https_urls_only() {
        let url = |text: &str| Url::parse(text).unwrap();
        let https = url("https://idp.example/.well-known/openid-configuration");
        let loopback = url("http://127.0.0.1:8080/.well-known/openid-configuration");
        let network = url("http://keycloak:8080/realms/dev/.well-known/openid-configuration");
        // Over https: https only, whatever the opt-in, loopback included.
        assert!(discovered_url(&https, "https://cdn.idp.example/jwks", false).is_ok());
        for named in [
            "http://idp.example/jwks",
            "http://127.0.0.1/jwks",
            "http://localhost:8080/jwks",
            "http://[::1]/jwks",
        ] {
            for allow_http in [false, true] {
                let refused = discovered_url(&https, named, allow_http).unwrap_err();
                assert!(
                    refused.contains("fetched over https") || refused.contains("must use https"),
                    "{named}: {refused}"
                );
            }
        }
        assert_eq!(
            discovered_url(&https, "http://127.0.0.1/jwks", true).unwrap_err(),
            "it was fetched over https but names an http URL, a downgrade"
        );
        // Over loopback http (tests, a local provider): loopback http, or https.
        assert!(discovered_url(&loopback, "http://127.0.0.1:8080/certs", false).is_ok());
        assert!(discovered_url(&loopback, "http://localhost:9090/certs", false).is_ok());
        assert!(discovered_url(&loopback, "https://idp.example/certs", false).is_ok());
        assert!(discovered_url(&loopback, "http://idp.example/certs", false).is_err());
        // Over network http, in development with the opt-in: what the opt-in allows.
        assert!(discovered_url(&network, "http://keycloak:8080/certs", true).is_ok());
        assert!(discovered_url(&network, "http://keycloak:8080/certs", false).is_err());
        // Never anything but http(s), and never garbage.
        for bad in ["ftp://idp.example/jwks", "file:///etc/jwks", "jwks", ""] {
            assert!(discovered_url(&loopback, bad, true).is_err(), "{bad}");
            assert!(discovered_url(&https, bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn near_misses_are_named() {
        let slash = Some("they differ only by a trailing slash");
        assert_eq!(near_miss("http://127.0.0.1:37101/", "http://127.0.0.1:37101"), slash);
        assert_eq!(near_miss("https://t.auth0.com", "https://t.auth0.com/"), slash);
        let alias = near_miss("http://localhost:8080/realms/a", "http://127.0.0.1:8080/realms/a");
        assert!(alias.is_some_and(|hint| hint.contains("host alias")), "{alias:?}");
        let spelling = near_miss("https://IdP.example:443/x", "https://idp.example/x");
        assert!(spelling.is_some_and(|hint| hint.contains("spelling")), "{spelling:?}");
        assert_eq!(near_miss("https://a.example", "https://b.example"), None);
        assert_eq!(near_miss("http://localhost:1/a", "http://127.0.0.1:2/a"), None);
        assert_eq!(near_miss("https://a.example/x", "https://a.example/y"), None);
    }

    #[test]
    fn redirects_stay_secure_and_never_downgrade() {
        let url = |text: &str| Url::parse(text).unwrap();
        let https = [url("https://idp.example/jwks")];
        let http = [url("http://127.0.0.1:8080/jwks")];
        assert!(may_redirect(&https, &url("https://cdn.example/jwks"), false));
        assert!(may_redirect(&http, &url("http://127.0.0.1:8081/jwks"), false));
        assert!(may_redirect(&http, &url("https://idp.example/jwks"), false));
        // https to http, even to loopback, even with the development opt-in: refused.
        for next in ["http://127.0.0.1/jwks", "http://localhost/jwks", "http://[::1]/jwks"] {
            assert!(!may_redirect(&https, &url(next), false), "{next}");
            assert!(!may_redirect(&https, &url(next), true), "{next}");
        }
        let both = [url("https://idp.example/a"), url("https://idp.example/b")];
        assert!(!may_redirect(&both, &url("http://127.0.0.1/jwks"), false));
        assert!(!may_redirect(&http, &url("http://idp.example/jwks"), false));
        assert!(may_redirect(&http, &url("http://idp.example/jwks"), true));
        let three =
            [url("https://a.example/"), url("https://b.example/"), url("https://c.example/")];
        assert!(!may_redirect(&three, &url("https://d.example/"), false));
    }

    /// A discovery document is an object: serde would read `["issuer", "jwks_uri"]` too.
    #[test]
    fn a_discovery_document_is_an_object_never_an_array() {
        let fetched = |body: &str| Fetched {
            url: Url::parse("https://idp.example/.well-known/openid-configuration").unwrap(),
            body: body.as_bytes().to_vec(),
            max_age: None,
        };
        let array = r#"["https://idp.example", "https://idp.example/certs"]"#;
        assert!(matches!(
            jwks_uri(&fetched(array), "https://idp.example", false),
            Err(FetchError::InvalidDiscovery(_))
        ));
        let object =
            r#"{"issuer": "https://idp.example", "jwks_uri": "https://idp.example/certs"}"#;
        assert_eq!(
            jwks_uri(&fetched(object), "https://idp.example", false).unwrap().as_str(),
            "https://idp.example/certs"
        );
    }

    #[test]
    fn cache_control() {
        assert_eq!(max_age("public, max-age=3600"), Some(Duration::from_secs(3600)));
        assert_eq!(max_age("Max-Age=60, must-revalidate"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("max-age=60, no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
