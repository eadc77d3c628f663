//! RFC 9457 problem details (`application/problem+json`).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};

/// The media type of a problem details document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The members RFC 9457 §3.1 defines; extensions may not take these names.
const STANDARD_MEMBERS: [&str; 5] = ["type", "title", "status", "detail", "instance"];

/// One entry of the `invalid-params` extension: which part of the request is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InvalidParam {
    /// The parameter, in a form a client can map back to its request (`title`, `items[2].qty`).
    pub name: String,
    /// Why it was refused, for a human.
    pub reason: String,
}

impl InvalidParam {
    /// An entry naming `name` with `reason`.
    pub fn new(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { name: name.into(), reason: reason.into() }
    }
}

/// An RFC 9457 problem details object that renders as an `application/problem+json` response.
///
/// `type` defaults to `about:blank` and `title` to the status' reason phrase, as RFC 9457 §4.2.1
/// prescribes for `about:blank`. The `status` member always equals the response status.
///
/// ```
/// use axum::response::IntoResponse;
/// use portcullis::{Problem, response::InvalidParam};
/// use http::StatusCode;
///
/// let response = Problem::new(StatusCode::BAD_REQUEST)
///     .with_detail("The request body is invalid")
///     .with_invalid_params(vec![InvalidParam::new("title", "must not be blank")])
///     .into_response();
/// assert_eq!(response.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    status: StatusCode,
    type_uri: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    instance: Option<String>,
    extensions: Map<String, Value>,
}

impl Problem {
    /// A problem of type `about:blank` for `status`.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            type_uri: None,
            title: None,
            detail: None,
            instance: None,
            extensions: Map::new(),
        }
    }

    /// Sets the `type` URI that identifies the problem type.
    #[must_use]
    pub fn with_type(mut self, uri: impl Into<String>) -> Self {
        self.type_uri = Some(uri.into());
        self
    }

    /// Sets the `title`, a short summary of the problem type.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the `detail`, an explanation specific to this occurrence.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the `instance` URI that identifies this occurrence.
    #[must_use]
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds an extension member. A name that RFC 9457 reserves (`type`, `title`, `status`,
    /// `detail`, `instance`) is ignored: those are set through their own methods.
    #[must_use]
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        if STANDARD_MEMBERS.contains(&name.as_str()) {
            // The target it had before the module moved, so that log filters keep matching.
            tracing::warn!(
                target: "portcullis::problem",
                member = %name,
                "ignored a problem extension with a reserved name"
            );
        } else {
            self.extensions.insert(name, value.into());
        }
        self
    }

    /// Sets the `invalid-params` extension.
    #[must_use]
    pub fn with_invalid_params(self, params: Vec<InvalidParam>) -> Self {
        let params = params
            .into_iter()
            .map(|p| serde_json::json!({ "name": p.name, "reason": p.reason }))
            .collect::<Vec<_>>();
        self.with_extension("invalid-params", Value::Array(params))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> &str {
        self.type_uri.as_deref().unwrap_or("about:blank")
    }

    /// The `title`.
    pub fn title(&self) -> &str {
        self.title.as_deref().or(self.status.canonical_reason()).unwrap_or("Error")
    }

    /// The `detail`, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The extension members.
    pub fn extensions(&self) -> &Map<String, Value> {
        &self.extensions
    }

    /// The JSON document.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing strings, numbers and `Value`s into memory cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.type_uri())?;
        map.serialize_entry("title", self.title())?;
        map.serialize_entry("status", &self.status.as_u16())?;
        if let Some(detail) = &self.detail {
            map.serialize_entry("detail", detail)?;
        }
        if let Some(instance) = &self.instance {
            map.serialize_entry("instance", instance)?;
        }
        for (name, value) in &self.extensions {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.to_json();
        problem_response(self.status, body)
    }
}

/// The response carrying a problem document already serialized as `body`.
pub(crate) fn problem_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))], body.into())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_problem_is_about_blank_with_reason_phrase() {
        let body: Value = serde_json::from_slice(&Problem::new(StatusCode::NOT_FOUND).to_json())
            .expect("valid json");
        assert_eq!(body, json!({"type": "about:blank", "title": "Not Found", "status": 404}));
    }

    #[test]
    fn every_member_is_rendered() {
        let problem = Problem::new(StatusCode::BAD_REQUEST)
            .with_type("https://example.com/probs/invalid")
            .with_title("Invalid request")
            .with_detail("Two fields are wrong")
            .with_instance("/documents/7")
            .with_invalid_params(vec![
                InvalidParam::new("title", "must not be blank"),
                InvalidParam::new("items[2].qty", "must be at least 1"),
            ]);
        let body: Value = serde_json::from_slice(&problem.to_json()).expect("valid json");
        assert_eq!(
            body,
            json!({
                "type": "https://example.com/probs/invalid",
                "title": "Invalid request",
                "status": 400,
                "detail": "Two fields are wrong",
                "instance": "/documents/7",
                "invalid-params": [
                    {"name": "title", "reason": "must not be blank"},
                    {"name": "items[2].qty", "reason": "must be at least 1"}
                ]
            })
        );
    }

    #[test]
    fn reserved_extension_names_are_ignored() {
        let problem = Problem::new(StatusCode::CONFLICT).with_extension("status", 200);
        let body: Value = serde_json::from_slice(&problem.to_json()).expect("valid json");
        assert_eq!(body["status"], 409);
    }

    #[test]
    fn response_has_problem_media_type_and_status() {
        let response = Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).into_response();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
