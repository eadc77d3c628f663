//! Reads, from a JSON-RPC body, the names of the tools it calls, and nothing else.
//!
//! Strict where a lenient reader would open a way around the scope check: a member repeated in
//! a message or in the `params` of a call (`{"name": "add", "name": "usage"}`, where a reader that
//! keeps the last one and a reader that keeps the first disagree) makes the body unreadable, and
//! so does a tool name that is not a string.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The JSON-RPC method of a tool call.
const TOOLS_CALL: &str = "tools/call";

/// The body could not be read as JSON-RPC.
#[derive(Debug)]
pub(crate) struct Unreadable;

/// The names of the tools that `body` calls: none for any other message (a request of another
/// method, a notification, a response); one per `tools/call` of a batch.
pub(crate) fn called_tools(body: &[u8]) -> Result<Vec<String>, Unreadable> {
    let incoming: Incoming = serde_json::from_slice(body).map_err(|_| Unreadable)?;
    let messages = match incoming {
        Incoming::One(message) => vec![message],
        Incoming::Batch(messages) => messages,
    };
    Ok(messages
        .into_iter()
        .filter(|message| message.method.as_deref() == Some(TOOLS_CALL))
        .filter_map(|message| message.params.and_then(|params| params.name))
        .collect())
}

/// One message, or a batch of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Incoming {
    One(Message),
    Batch(Vec<Message>),
}

/// What matters of a message. The derived implementation refuses a repeated `method` or
/// `params`, and ignores the other members.
#[derive(Deserialize)]
struct Message {
    method: Option<String>,
    params: Option<Params>,
}

/// The `name` of the params, when they are an object that has one.
struct Params {
    name: Option<String>,
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = Params;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON-RPC params")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
        let mut name = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "name" {
                if name.is_some() {
                    return Err(de::Error::duplicate_field("name"));
                }
                name = Some(map.next_value::<String>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Params { name })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Params { name: None })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Params, E> {
        Ok(Params { name: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_tools_with_scopes_of_their_own() {
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"usage"}}"#;
        assert_eq!(called_tools(call).ok(), Some(vec!["usage".to_owned()]));
        let add = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"}}"#;
        assert_eq!(called_tools(add).ok(), Some(vec!["add".to_owned()]));
        let list = br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        assert_eq!(called_tools(list).ok(), Some(Vec::new()));
        let batch =
            br#"[{"method":"tools/list"},{"method":"tools\u002fcall","params":{"name":"usage"}}]"#;
        assert_eq!(called_tools(batch).ok(), Some(vec!["usage".to_owned()]));
        let response = br#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
        assert_eq!(called_tools(response).ok(), Some(Vec::new()));
    }

    #[test]
    fn refuses_what_a_lenient_reader_could_read_otherwise() {
        for body in [
            &br#"{"method":"tools/call","params":{"name":"add","name":"usage"}}"#[..],
            br#"{"method":"tools/list","method":"tools/call","params":{"name":"usage"}}"#,
            br#"{"method":"tools/call","params":{"name":"usage"},"params":{"name":"add"}}"#,
            br#"{"method":"tools/call","params":{"name":["usage"]}}"#,
            br#"{"method":"tools/call""#,
            b"not json",
        ] {
            assert!(called_tools(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
