//! Fetching a document from an identity provider: the URL rules, a GET bounded in time and size,
//! OpenID Connect discovery, and the freshness a `Cache-Control` header allows.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::key::KeyError;

/// Parses `url`, refusing anything but `https` (and `http` to a loopback address, for tests
/// and local identity providers): keys fetched in clear text could be swapped by anyone on the
/// path.
pub(crate) fn secure_url(url: &str) -> Result<Url, &'static str> {
    let url = Url::parse(url).map_err(|_| "the URL is not valid")?;
    if is_secure(&url) {
        Ok(url)
    } else {
        Err("the URL must use https (http only to a loopback address)")
    }
}

fn is_secure(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
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
/// `next`: at most three redirects, each to a secure URL, and never from `https` down to `http`,
/// not even to a loopback address (the document would no longer be what the `https` URL
/// vouched for).
fn may_redirect(previous: &[Url], next: &Url) -> bool {
    let downgrade = next.scheme() != "https" && previous.iter().any(|url| url.scheme() == "https");
    previous.len() < 3 && is_secure(next) && !downgrade
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
    #[error("the discovery document names the issuer {found:?}, not {expected:?}")]
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

/// A document as fetched: its bytes and the `max-age` its response allows.
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
}

/// An HTTP client for key documents: redirects only to secure URLs, a timeout on every fetch,
/// and a size limit on every response.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    max_response_bytes: usize,
}

impl Fetcher {
    pub(crate) fn new(
        timeout: Duration,
        max_response_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if may_redirect(attempt.previous(), attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, max_response_bytes })
    }

    /// Reads `issuer`'s discovery document at `document` and returns its `jwks_uri`.
    pub(crate) async fn discover(&self, issuer: &str, document: &Url) -> Result<Url, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let fetched = self.get(document).await?;
        let discovery: Discovery = serde_json::from_slice(&fetched.body)
            .map_err(|_| FetchError::InvalidDiscovery("it lacks `issuer` or `jwks_uri`"))?;
        if discovery.issuer != issuer {
            return Err(FetchError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: discovery.issuer,
            });
        }
        let url = secure_url(&discovery.jwks_uri).map_err(FetchError::InvalidDiscovery)?;
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
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, max_age })
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
            assert!(secure_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://idp.example/jwks", "ftp://idp.example/", "file:///etc/jwks", "jwks"] {
            assert!(secure_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_stay_secure_and_never_downgrade() {
        let url = |text: &str| Url::parse(text).unwrap();
        let https = [url("https://idp.example/jwks")];
        let http = [url("http://127.0.0.1:8080/jwks")];
        assert!(may_redirect(&https, &url("https://cdn.example/jwks")));
        assert!(may_redirect(&http, &url("http://127.0.0.1:8081/jwks")));
        assert!(may_redirect(&http, &url("https://idp.example/jwks")));
        // https to http, even to loopback: refused.
        for next in ["http://127.0.0.1/jwks", "http://localhost/jwks", "http://[::1]/jwks"] {
            assert!(!may_redirect(&https, &url(next)), "{next}");
        }
        let both = [url("https://idp.example/a"), url("https://idp.example/b")];
        assert!(!may_redirect(&both, &url("http://127.0.0.1/jwks")));
        assert!(!may_redirect(&http, &url("http://idp.example/jwks")));
        let three =
            [url("https://a.example/"), url("https://b.example/"), url("https://c.example/")];
        assert!(!may_redirect(&three, &url("https://d.example/")));
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
