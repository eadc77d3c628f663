//! Turning deserialization errors into `invalid-params` entries without echoing the client.

use serde_path_to_error::Segment;

use crate::respond::InvalidParam;

/// The name of a field as a client wrote it: `title`, `items[2].qty`; empty for the whole
/// document.
pub(crate) fn field_path(path: &serde_path_to_error::Path) -> String {
    let mut name = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => name.push_str(&format!("[{index}]")),
            // A map key or an unknown field is the client's text: only a plain one is repeated.
            Segment::Map { key } | Segment::Enum { variant: key } if is_plain(key) => {
                join(&mut name, key);
            }
            Segment::Map { .. } | Segment::Enum { .. } => join(&mut name, "?"),
            Segment::Unknown => join(&mut name, "?"),
        }
    }
    name
}

/// Whether `key` is a short identifier (letters, digits, `_`, `-`), safe to repeat to the client.
fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Appends `key` to `name`, with a dot unless `name` is empty.
fn join(name: &mut String, key: &str) {
    if !name.is_empty() {
        name.push('.');
    }
    name.push_str(key);
}

/// The one `invalid-params` entry for a serde data error with `message` at `path`.
///
/// The message is only inspected to pick a fixed reason: its category (the prefix serde's
/// `de::Error` constructors write) and, for a wrong type, the `expected ..` part written by the
/// server's own type. A field name is taken from the message only when serde quotes it from the
/// server's type (`missing field`, `duplicate field`) or, for an unknown field, when it is a
/// short plain identifier.
pub(crate) fn invalid_param(path: &serde_path_to_error::Path, message: &str) -> InvalidParam {
    let mut name = field_path(path);
    // serde_json appends the position; the rest of the message is serde's.
    let message = message.rsplit_once(" at line ").map_or(message, |(message, _)| message);
    let reason = if let Some(rest) = message.strip_prefix("missing field ") {
        push_quoted(&mut name, rest);
        "is required"
    } else if let Some(rest) = message.strip_prefix("duplicate field ") {
        push_quoted(&mut name, rest);
        "must appear only once"
    } else if let Some(rest) = message.strip_prefix("unknown field ") {
        push_quoted(&mut name, rest);
        "is not an accepted field"
    } else if message.starts_with("unknown variant ") {
        "is not an accepted value"
    } else if message.starts_with("invalid type: ") {
        wrong_type(message)
    } else if message.starts_with("invalid length ") {
        "has the wrong number of elements"
    } else if message.starts_with("invalid value: ") {
        "is out of range"
    } else {
        "is not a valid value"
    };
    InvalidParam::new(name, reason)
}

/// The place of a serde data error as the input spells it (`items.k.qty`, the field of a
/// `missing field` or `duplicate field` error appended), to compare with garde's paths; never
/// sent to the client.
pub(crate) fn place_of(path: &serde_path_to_error::Path, message: &str) -> String {
    let mut place = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => place.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => join(&mut place, key),
            Segment::Unknown => join(&mut place, "?"),
        }
    }
    for prefix in ["missing field ", "duplicate field "] {
        let field = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.split('`').next());
        if let Some(field) = field
            && place != field
            && !place.ends_with(&format!(".{field}"))
        {
            join(&mut place, field);
        }
    }
    place
}

/// Appends the field named between the first pair of backquotes of `rest` to `name`, when the
/// path does not already end with it and it is a plain identifier (an unknown field is named by
/// the client: anything else is left out).
fn push_quoted(name: &mut String, rest: &str) {
    let Some(field) = rest.strip_prefix('`').and_then(|rest| rest.split('`').next()) else {
        return;
    };
    if !is_plain(field) {
        return;
    }
    let already = name == field || name.ends_with(&format!(".{field}"));
    if !already {
        join(name, field);
    }
}

/// A fixed reason for `invalid type: <the client's value>, expected <the server's type>`.
fn wrong_type(message: &str) -> &'static str {
    let expected = message.rsplit_once(", expected ").map_or("", |(_, expected)| expected);
    expected_reason(expected)
}

/// A fixed reason for a value that should have been `expected` (serde's `expecting` text, or a
/// Rust type name).
pub(crate) fn expected_reason(expected: &str) -> &'static str {
    let expected = expected.trim_start_matches("a ").trim_start_matches("an ");
    let integer = ["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64"]
        .iter()
        .chain(&["i128", "isize"])
        .any(|t| expected == *t || expected.ends_with(&format!("::{t}")));
    if integer || expected.contains("integer") {
        "must be an integer"
    } else if ["f32", "f64"].contains(&expected) || expected.contains("number") {
        "must be a number"
    } else if expected.contains("bool") {
        "must be a boolean"
    } else if expected.starts_with("struct") || expected.contains("map") {
        "must be an object"
    } else if expected.contains("string") || ["char", "str", "&str"].contains(&expected) {
        "must be a string"
    } else if expected.contains("sequence") || expected.starts_with("tuple") {
        "must be an array"
    } else {
        "has the wrong type"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_for<T: serde::de::DeserializeOwned + std::fmt::Debug>(json: &str) -> InvalidParam {
        let mut de = serde_json::Deserializer::from_str(json);
        let error = serde_path_to_error::deserialize::<_, T>(&mut de).err();
        let error = error.unwrap_or_else(|| panic!("{json} should not deserialize"));
        invalid_param(error.path(), &error.inner().to_string())
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        qty: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        title: String,
        items: Vec<Item>,
    }

    #[test]
    fn categories_map_to_fixed_reasons() {
        let cases = [
            (r#"{"items": []}"#, "title", "is required"),
            (r#"{"title": 3, "items": []}"#, "title", "must be a string"),
            (
                r#"{"title": "a", "items": [{"qty": 1}, {"qty": "x"}]}"#,
                "items[1].qty",
                "must be an integer",
            ),
            (r#"{"title": "a", "items": [{"qty": -1}]}"#, "items[0].qty", "is out of range"),
            (r#"{"title": "a", "items": [{}]}"#, "items[0].qty", "is required"),
            (r#"{"title": "a", "items": [], "x": 1}"#, "x", "is not an accepted field"),
            (r#"{"title": "a", "title": "b", "items": []}"#, "title", "must appear only once"),
            (r#"{"title": "a", "items": {}}"#, "items", "must be an array"),
            ("[]", "", "has the wrong number of elements"),
            (r#"{"title": "a", "items": [], "x y": 1}"#, "?", "is not an accepted field"),
            ("3", "", "must be an object"),
        ];
        for (json, name, reason) in cases {
            assert_eq!(reason_for::<Doc>(json), InvalidParam::new(name, reason), "{json}");
        }
    }

    #[test]
    fn an_odd_unknown_field_is_not_echoed() {
        let param = reason_for::<Doc>(r#"{"title": "a", "items": [], "<script>": 1}"#);
        assert_eq!(param.reason, "is not an accepted field");
        assert_eq!(param.name, "?");
    }
}
