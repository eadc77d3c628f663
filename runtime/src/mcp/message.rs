//! Reads, from a JSON-RPC body, what the MCP guard decides on and nothing else: each message's
//! `id`, `method`, and of its `params` the `name`, the `uri` and the `arguments`.
//!
//! Strict where a lenient reader would open a way around the decision: a member repeated in a
//! message, in its `params` or in its `arguments` (`{"name": "add", "name": "usage"}`, where a
//! reader that keeps the last one and a reader that keeps the first disagree) makes the body
//! unreadable, and so does a `name` or `uri` that is not a string. Unicode escapes are decoded
//! (`"us\u0061ge"` is `usage`), as every JSON reader after this one decodes them.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The body could not be read as JSON-RPC.
#[derive(Debug)]
pub(crate) struct Unreadable;

/// One message, or a batch of them (protocol versions before 2025-06-18).
#[derive(Debug)]
pub(crate) enum Incoming {
    One(Message),
    Batch(Vec<Message>),
}

impl Incoming {
    pub(crate) fn read(body: &[u8]) -> Result<Self, Unreadable> {
        // serde_json skips the members this reader ignores without checking their UTF-8: the
        // whole body is checked first, so that only JSON reaches the server (found by the
        // `mcp_headers` fuzz target).
        let text = std::str::from_utf8(body).map_err(|_| Unreadable)?;
        serde_json::from_str(text).map_err(|_| Unreadable)
    }

    /// Every message of the body.
    pub(crate) fn messages(&self) -> &[Message] {
        match self {
            Self::One(message) => std::slice::from_ref(message),
            Self::Batch(messages) => messages,
        }
    }
}

/// What matters of a message.
#[derive(Debug, Default)]
pub(crate) struct Message {
    pub(crate) id: Option<Value>,
    pub(crate) method: Option<String>,
    pub(crate) params: Params,
}

/// What matters of the params, when they are an object.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) name: Option<String>,
    pub(crate) uri: Option<String>,
    /// The top-level arguments of a tool call, each once.
    pub(crate) arguments: Vec<(String, Value)>,
}

impl Params {
    /// The argument `name`, if sent.
    pub(crate) fn argument(&self, name: &str) -> Option<&Value> {
        self.arguments.iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }
}

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IncomingVisitor;
        impl<'de> Visitor<'de> for IncomingVisitor {
            type Value = Incoming;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message or batch")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Incoming, A::Error> {
                MessageVisitor.visit_map(map).map(Incoming::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Incoming, A::Error> {
                let mut messages = Vec::new();
                while let Some(message) = seq.next_element::<Message>()? {
                    messages.push(message);
                }
                Ok(Incoming::Batch(messages))
            }
        }
        deserializer.deserialize_any(IncomingVisitor)
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
        let mut message = Message::default();
        let mut seen = [false; 3];
        while let Some(key) = map.next_key::<String>()? {
            let member = match key.as_str() {
                "id" => 0,
                "method" => 1,
                "params" => 2,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if std::mem::replace(&mut seen[member], true) {
                return Err(de::Error::custom("a repeated member"));
            }
            match member {
                0 => message.id = Some(map.next_value()?),
                1 => message.method = Some(map.next_value()?),
                _ => message.params = map.next_value()?,
            }
        }
        Ok(message)
    }
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
        let mut params = Params::default();
        let mut arguments = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => set_once(&mut params.name, map.next_value::<String>()?)?,
                "uri" => set_once(&mut params.uri, map.next_value::<String>()?)?,
                "arguments" => {
                    if std::mem::replace(&mut arguments, true) {
                        return Err(de::Error::custom("a repeated member"));
                    }
                    params.arguments = map.next_value::<Arguments>()?.0;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(params)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Params::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Params, E> {
        Ok(Params::default())
    }
}

fn set_once<E: de::Error>(slot: &mut Option<String>, value: String) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::custom("a repeated member"));
    }
    Ok(())
}

/// A tool call's `arguments`: an object whose every member appears once (anything else holds no
/// argument this guard reads).
struct Arguments(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Arguments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ArgumentsVisitor)
    }
}

struct ArgumentsVisitor;

impl<'de> Visitor<'de> for ArgumentsVisitor {
    type Value = Arguments;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tool arguments")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Arguments, A::Error> {
        let mut arguments: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if arguments.iter().any(|(seen, _)| *seen == key) {
                return Err(de::Error::custom("a repeated argument"));
            }
            let value = map.next_value::<Value>()?;
            arguments.push((key, value));
        }
        Ok(Arguments(arguments))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Arguments, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Arguments(Vec::new()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Arguments, E> {
        Ok(Arguments(Vec::new()))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Arguments, E> {
        Ok(Arguments(Vec::new()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Arguments, E> {
        Ok(Arguments(Vec::new()))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Arguments, E> {
        Ok(Arguments(Vec::new()))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Arguments, E> {
        Ok(Arguments(Vec::new()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Arguments, E> {
        Ok(Arguments(Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &[u8]) -> Message {
        match Incoming::read(body) {
            Ok(Incoming::One(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_method_name_uri_and_arguments() {
        let call = one(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"usage","arguments":{"a":1}}}"#);
        assert_eq!(call.id, Some(Value::from(7)));
        assert_eq!(call.method.as_deref(), Some("tools/call"));
        assert_eq!(call.params.name.as_deref(), Some("usage"));
        assert_eq!(call.params.argument("a"), Some(&Value::from(1)));
        let read = one(br#"{"method":"resources/read","params":{"uri":"file:///a"}}"#);
        assert_eq!(read.params.uri.as_deref(), Some("file:///a"));
        let escaped = one(br#"{"method":"tools\u002fcall","params":{"name":"us\u0061ge"}}"#);
        assert_eq!(escaped.method.as_deref(), Some("tools/call"));
        assert_eq!(escaped.params.name.as_deref(), Some("usage"));
        let positional = one(br#"{"method":"tools/call","params":["usage"]}"#);
        assert_eq!(positional.params.name, None);
        let Ok(Incoming::Batch(batch)) = Incoming::read(
            br#"[{"method":"tools/list"},{"method":"tools/call","params":{"name":"usage"}}]"#,
        ) else {
            panic!("a batch");
        };
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn refuses_what_a_lenient_reader_could_read_otherwise() {
        for body in [
            &br#"{"method":"tools/call","params":{"name":"add","name":"usage"}}"#[..],
            br#"{"method":"tools/list","method":"tools/call","params":{"name":"usage"}}"#,
            br#"{"method":"tools/call","params":{"name":"usage"},"params":{"name":"add"}}"#,
            br#"{"id":1,"id":2,"method":"tools/call","params":{"name":"usage"}}"#,
            br#"{"method":"resources/read","params":{"uri":"a","uri":"b"}}"#,
            br#"{"method":"tools/call","params":{"name":"t","arguments":{"id":"a","id":"b"}}}"#,
            br#"{"method":"tools/call","params":{"name":"t","arguments":{},"arguments":{}}}"#,
            br#"{"method":"tools/call","params":{"name":["usage"]}}"#,
            br#"{"method":"tools/call","params":{"name":null}}"#,
            br#"{"method":"tools/call","params":{"uri":7}}"#,
            br#"[["tools/call"]]"#,
            br#""tools/call""#,
            br#"{"method":"tools/call""#,
            b"not json",
            // Invalid UTF-8 in a member the guard ignores.
            b"{\"method\":\"tools/list\",\"x\":{\"arg\xcfments\":{}}}",
        ] {
            assert!(Incoming::read(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
