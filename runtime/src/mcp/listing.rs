//! `tools/list`, `prompts/list` and `resources/list` answered with only what the caller may use,
//! so that a model is not offered a tool that will be refused: the guard notes which request ids
//! of a body are lists, and removes from their results, whether the server answers with JSON or
//! on an event stream, each tool, prompt and resource whose requirement the caller's scopes do
//! not meet ([`McpPolicy::permits`]). Whatever else the server sends passes unchanged.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::{HeaderValue, header};
use http_body::Frame;
use http_body_util::BodyExt;
use serde_json::Value;

use super::events::RewrittenEvents;
use super::message::Incoming;
use super::policy::{McpPolicy, Operation};
use crate::scope::Scopes;

/// A list method, and where its result holds the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Tools,
    Prompts,
    Resources,
}

impl List {
    fn of(method: &str) -> Option<Self> {
        match method {
            "tools/list" => Some(Self::Tools),
            "prompts/list" => Some(Self::Prompts),
            "resources/list" => Some(Self::Resources),
            _ => None,
        }
    }

    /// The member of the result that holds the items.
    const fn member(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Prompts => "prompts",
            Self::Resources => "resources",
        }
    }

    /// What calling, getting or reading `item` would be, when it names itself.
    fn operation(self, item: &Value) -> Option<Operation<'_>> {
        Some(match self {
            Self::Tools => Operation::Tool(item.get("name")?.as_str()?),
            Self::Prompts => Operation::Prompt(item.get("name")?.as_str()?),
            Self::Resources => Operation::Resource(item.get("uri")?.as_str()?),
        })
    }
}

/// The list requests of one body, by id.
#[derive(Debug, Default)]
pub(crate) struct ListRequests(Vec<(Value, List)>);

impl ListRequests {
    /// The list requests among `incoming`'s messages (a notification has no answer to filter).
    pub(crate) fn of(incoming: &Incoming) -> Self {
        Self(
            incoming
                .messages()
                .iter()
                .filter_map(|message| {
                    let list = List::of(message.method.as_deref()?)?;
                    let id = message.id.clone().filter(|id| !id.is_null())?;
                    Some((id, list))
                })
                .collect(),
        )
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn list_answered_by(&self, answer: &Value) -> Option<List> {
        let id = answer.get("id")?;
        self.0.iter().find(|(requested, _)| requested == id).map(|(_, list)| *list)
    }
}

/// What the caller may see of the lists: a policy and the caller's scopes.
pub(crate) struct Visibility {
    requests: ListRequests,
    policy: McpPolicy,
    scopes: Scopes,
}

impl Visibility {
    pub(crate) fn new(requests: ListRequests, policy: McpPolicy, scopes: Scopes) -> Self {
        Self { requests, policy, scopes }
    }

    /// Removes from `message` (an answer, or a batch of them) what the caller may not use.
    /// `true` when something was removed.
    fn filter(&self, message: &mut Value) -> bool {
        match message {
            Value::Array(answers) => {
                // Every answer, not only up to the first that changes.
                let mut removed = false;
                for answer in answers {
                    removed |= self.filter(answer);
                }
                removed
            }
            Value::Object(_) => {
                let Some(list) = self.requests.list_answered_by(message) else { return false };
                let Some(items) = message
                    .get_mut("result")
                    .and_then(|result| result.get_mut(list.member()))
                    .and_then(Value::as_array_mut)
                else {
                    return false;
                };
                let before = items.len();
                items.retain(|item| {
                    list.operation(item)
                        .is_none_or(|operation| self.policy.permits(&self.scopes, operation))
                });
                items.len() != before
            }
            _ => false,
        }
    }

    /// The JSON text `data` with what the caller may not use removed; `None` when unchanged.
    fn filter_text(&self, data: &str) -> Option<String> {
        let mut message: Value = serde_json::from_str(data).ok()?;
        self.filter(&mut message).then(|| message.to_string())
    }

    /// The server's `response`, its list answers filtered: a JSON body read and rewritten, an
    /// event stream rewritten event by event as it flows.
    pub(crate) async fn apply(self, response: Response) -> Response {
        let media_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|essence| essence.trim().to_ascii_lowercase());
        let (mut parts, body) = response.into_parts();
        let body = match media_type.as_deref() {
            Some("application/json") => match body.collect().await {
                Ok(collected) => {
                    let bytes = collected.to_bytes();
                    let filtered =
                        std::str::from_utf8(&bytes).ok().and_then(|text| self.filter_text(text));
                    filtered.map_or_else(|| Body::from(bytes), Body::from)
                }
                // The server's own body failed: the client sees it fail, as it would have.
                Err(error) => Body::new(Failed(Some(error))),
            },
            Some("text/event-stream") => Body::new(RewrittenEvents::new(
                body,
                Box::new(move |data: &str| self.filter_text(data)),
            )),
            _ => body,
        };
        // The length changes with the items removed.
        parts.headers.remove(header::CONTENT_LENGTH);
        if media_type.is_some() {
            // A list depends on who asks: no shared cache may answer another caller with it.
            parts
                .headers
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("private"));
        }
        Response::from_parts(parts, body)
    }
}

/// A body that fails with the error the server's body failed with.
struct Failed(Option<axum::Error>);

impl http_body::Body for Failed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn visibility(scopes: &[&str], body: &str) -> Visibility {
        let policy = McpPolicy::builder(&["mcp:tools"])
            .tool("usage", &["mcp:admin"])
            .prompt("audit", &["mcp:admin"])
            .resource("file:///secret", &["mcp:admin"])
            .build()
            .unwrap();
        let incoming = Incoming::read(body.as_bytes()).unwrap();
        Visibility::new(ListRequests::of(&incoming), policy, Scopes::new(scopes.iter().copied()))
    }

    #[test]
    fn removes_what_the_caller_may_not_use_from_the_answers_to_its_lists() {
        let user = visibility(
            &["mcp:tools"],
            r#"[{"id":1,"method":"tools/list"},{"id":"p","method":"prompts/list"},{"id":3,"method":"resources/list"},{"method":"tools/list"}]"#,
        );
        let mut answers = json!([
            {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"add"},{"name":"usage"},{"name":"Usage"}],"nextCursor":"c"}},
            {"jsonrpc":"2.0","id":"p","result":{"prompts":[{"name":"audit"},{"name":"greet"}]}},
            {"jsonrpc":"2.0","id":3,"result":{"resources":[{"uri":"file:///secret"},{"uri":"file:///public"}]}},
            // Not an answer to a list of this body: unchanged.
            {"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"usage"}]}},
        ]);
        assert!(user.filter(&mut answers));
        assert_eq!(
            answers,
            json!([
                {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"add"},{"name":"Usage"}],"nextCursor":"c"}},
                {"jsonrpc":"2.0","id":"p","result":{"prompts":[{"name":"greet"}]}},
                {"jsonrpc":"2.0","id":3,"result":{"resources":[{"uri":"file:///public"}]}},
                {"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"usage"}]}},
            ])
        );
        let admin = visibility(&["mcp:tools", "mcp:admin"], r#"{"id":1,"method":"tools/list"}"#);
        let all =
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"add"},{"name":"usage"}]}}"#;
        assert_eq!(admin.filter_text(all), None);
        // An id of another type is another request.
        let user = visibility(&["mcp:tools"], r#"{"id":1,"method":"tools/list"}"#);
        let string_id = r#"{"jsonrpc":"2.0","id":"1","result":{"tools":[{"name":"usage"}]}}"#;
        assert_eq!(user.filter_text(string_id), None);
        assert_eq!(
            user.filter_text(r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"usage"}]}}"#),
            Some(r#"{"id":1,"jsonrpc":"2.0","result":{"tools":[]}}"#.to_owned())
        );
    }
}
