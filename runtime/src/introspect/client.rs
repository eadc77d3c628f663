//! The HTTP side of introspection: the POST of RFC 7662 §2.1, OpenID Connect discovery of the
//! endpoint, an answer bounded in time and size, and no redirect to another origin.
//!
//! Nothing of the token, the client secret or the endpoint's answer is logged: failures are
//! logged by fixed causes (and the endpoint's URL, which is configuration).

use std::time::Instant;

use base64::Engine as _;
use reqwest::Url;

use crate::crypto::HttpClientError;
use serde_json::{Map, Value};

use super::{ClientAuthMethod, Secret, Setup};
use crate::keys::{discovered_url, is_clear_text_to_network, secure_url};

/// What the endpoint said about a token.
#[derive(Debug)]
pub(crate) enum Answer {
    /// `"active": true`, with every member of the answer.
    Active(Map<String, Value>),
    /// `"active": false`, or no `active` member (RFC 7662 §2.2: fail closed).
    Inactive,
}

/// Where the endpoint is.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    Configured(Url),
    /// Read from the `introspection_endpoint` of the issuer's discovery document.
    Discovered {
        /// The issuer, as configured: the document's `issuer` must equal it.
        issuer: String,
        document: Url,
        found: tokio::sync::OnceCell<Url>,
        /// The builder's `allow_http`, for the URL the document names.
        allow_http: bool,
    },
}

/// An endpoint URL: secure (see `keys::secure_url`) and without credentials in it, which would
/// end up in logs.
fn endpoint_url(url: &str, allow_http: bool) -> Result<Url, &'static str> {
    let url = secure_url(url, allow_http)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not hold credentials: configure them as client credentials");
    }
    if is_clear_text_to_network(&url) {
        tracing::warn!(
            target: "portcullis::introspection",
            %url,
            "tokens are introspected over plain http (PORTCULLIS_ALLOW_HTTP): anyone on the path \
             can read them and the client secret; for development only"
        );
    }
    Ok(url)
}

impl Endpoint {
    pub(crate) fn configured(url: &str, allow_http: bool) -> Result<Self, &'static str> {
        endpoint_url(url, allow_http).map(Self::Configured)
    }

    pub(crate) fn discovered(issuer: &str, allow_http: bool) -> Result<Self, &'static str> {
        let document = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        Ok(Self::Discovered {
            issuer: issuer.to_owned(),
            document: secure_url(&document, allow_http)?,
            found: tokio::sync::OnceCell::new(),
            allow_http,
        })
    }
}

/// Why an introspection failed: logged, never sent.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("the request timed out")]
    Timeout,
    #[error("the endpoint answered {0}")]
    Status(reqwest::StatusCode),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer is not a JSON object")]
    NotAnObject,
    #[error("the answer's `active` member is not a boolean")]
    ActiveNotBoolean,
    #[error("the discovery document lacks `issuer` or `introspection_endpoint`")]
    InvalidDiscovery,
    #[error("the discovery document names another issuer")]
    IssuerMismatch,
    #[error("the discovered introspection endpoint cannot be used: {0}")]
    DiscoveredUrl(&'static str),
}

impl From<reqwest::Error> for Failure {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() { Self::Timeout } else { Self::Request(error) }
    }
}

/// The introspection client of one verifier.
#[derive(Debug)]
pub(super) struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    credentials: Option<(String, Secret)>,
    auth: ClientAuthMethod,
    max_response_bytes: usize,
}

impl Client {
    pub(super) fn new(endpoint: Endpoint, config: &Setup) -> Result<Self, HttpClientError> {
        let http = crate::crypto::https_client()?
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect to another origin would carry the token (and with `client_secret_post`
            // the secret) to a server nobody configured: never followed. Within the origin, a
            // few are.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same_origin = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if attempt.previous().len() >= 3 || !same_origin {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            endpoint,
            credentials: config.credentials.clone(),
            auth: config.auth,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// Introspects `token`; a failure is logged and is `Err(())`.
    pub(super) async fn introspect(&self, token: &str) -> Result<Answer, ()> {
        let started = Instant::now();
        let outcome = self.try_introspect(token).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(answer) => {
                let active = matches!(answer, Answer::Active(_));
                tracing::debug!(target: "portcullis::introspection", active, elapsed_ms, "introspected a token");
                Ok(answer)
            }
            Err(error) => {
                tracing::warn!(target: "portcullis::introspection", %error, elapsed_ms, "introspection failed");
                Err(())
            }
        }
    }

    async fn try_introspect(&self, token: &str) -> Result<Answer, Failure> {
        let url = self.url().await?;
        let body = self.read(self.request(url, token)).await?;
        parse_answer(&body)
    }

    /// The POST of RFC 7662 §2.1: `token` and `token_type_hint=access_token`, form-encoded, with
    /// the client credentials as configured.
    fn request(&self, url: &Url, token: &str) -> reqwest::RequestBuilder {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token).append_pair("token_type_hint", "access_token");
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        match (&self.credentials, self.auth) {
            (None, _) => {}
            (Some((id, Secret(secret))), ClientAuthMethod::ClientSecretBasic) => {
                // Sensitive: left out of any `Debug` of the request.
                if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&basic(id, secret)) {
                    value.set_sensitive(true);
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
            }
            (Some((id, Secret(secret))), ClientAuthMethod::ClientSecretPost) => {
                form.append_pair("client_id", id).append_pair("client_secret", secret);
            }
        }
        request.body(form.finish())
    }

    /// The endpoint's URL, discovered first if it must be.
    async fn url(&self) -> Result<&Url, Failure> {
        match &self.endpoint {
            Endpoint::Configured(url) => Ok(url),
            Endpoint::Discovered { issuer, document, found, allow_http } => {
                found.get_or_try_init(|| self.discover(issuer, document, *allow_http)).await
            }
        }
    }

    async fn discover(
        &self,
        issuer: &str,
        document: &Url,
        allow_http: bool,
    ) -> Result<Url, Failure> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            introspection_endpoint: String,
        }
        let request =
            self.http.get(document.clone()).header(reqwest::header::ACCEPT, "application/json");
        let body = self.read(request).await?;
        // A JSON object (RFC 8414 §3.2), which serde alone would not insist on.
        if !crate::keys::is_json_object(&body) {
            return Err(Failure::InvalidDiscovery);
        }
        let discovery: Discovery =
            serde_json::from_slice(&body).map_err(|_| Failure::InvalidDiscovery)?;
        if discovery.issuer != issuer {
            return Err(Failure::IssuerMismatch);
        }
        // No downgrade: a document fetched over https names an https endpoint (redirects stay
        // within its origin, so `document` is where it came from).
        discovered_url(document, &discovery.introspection_endpoint, allow_http)
            .map_err(Failure::DiscoveredUrl)?;
        let url = endpoint_url(&discovery.introspection_endpoint, allow_http)
            .map_err(Failure::DiscoveredUrl)?;
        tracing::info!(target: "portcullis::introspection", issuer, introspection_endpoint = %url, "discovered the introspection endpoint");
        Ok(url)
    }

    /// Sends `request`: a 200 within the size limit.
    async fn read(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, Failure> {
        let limit = self.max_response_bytes;
        let mut response = request.send().await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Failure::Status(response.status()));
        }
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(Failure::TooLarge(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(Failure::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// `Basic` credentials as RFC 6749 §2.3.1 has them: the id and the secret each form-encoded
/// (`application/x-www-form-urlencoded`), then joined by `:` and base64-encoded.
fn basic(id: &str, secret: &str) -> String {
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(id), encode(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

/// [`parse_answer`] for the fuzz targets (`crate::fuzzing`): the answer, or `None` for a
/// failure.
#[cfg(fuzzing)]
pub(crate) fn read_answer(body: &[u8]) -> Option<Answer> {
    parse_answer(body).ok()
}

/// Reads an answer (RFC 7662 §2.2): a JSON object whose `active` says whether the token is.
fn parse_answer(body: &[u8]) -> Result<Answer, Failure> {
    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(body) else {
        return Err(Failure::NotAnObject);
    };
    match members.get("active") {
        Some(Value::Bool(true)) => Ok(Answer::Active(members)),
        Some(Value::Bool(false)) | None => Ok(Answer::Inactive),
        Some(_) => Err(Failure::ActiveNotBoolean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        // RFC 6749 §2.3.1: "client id:secret" with each part form-encoded.
        let expected = base64::engine::general_purpose::STANDARD.encode("my%3Aid:s+e%2Fc%C3%A9");
        assert_eq!(basic("my:id", "s e/cé"), format!("Basic {expected}"));
    }

    #[test]
    fn answers() {
        assert!(
            matches!(parse_answer(br#"{"active": true, "sub": "a"}"#), Ok(Answer::Active(m)) if m["sub"] == "a")
        );
        assert!(matches!(parse_answer(br#"{"active": false}"#), Ok(Answer::Inactive)));
        // No `active`: inactive, whatever else it says.
        assert!(matches!(parse_answer(br#"{"error": "invalid_token"}"#), Ok(Answer::Inactive)));
        for garbage in [&b"<html>"[..], b"[]", b"\"active\"", b"", br#"{"active": "true"}"#] {
            assert!(parse_answer(garbage).is_err(), "{}", String::from_utf8_lossy(garbage));
        }
    }

    #[test]
    fn endpoint_urls() {
        assert!(endpoint_url("https://as.example/introspect", false).is_ok());
        assert!(endpoint_url("http://127.0.0.1:8080/introspect", false).is_ok());
        assert!(endpoint_url("http://as.example/introspect", false).is_err());
        // The development opt-in (`PORTCULLIS_ALLOW_HTTP`) applies to introspection too.
        assert!(endpoint_url("http://as.example/introspect", true).is_ok());
        assert!(endpoint_url("http://user:pw@as.example/introspect", true).is_err());
        assert!(endpoint_url("https://user:pw@as.example/introspect", false).is_err());
        assert!(endpoint_url("https://user@as.example/introspect", false).is_err());
    }
}
