//! Every shape error of a request, not only the first one serde meets.
//!
//! serde stops at the first error. To report them all, the input is held in a form that can be
//! edited (a JSON value, or the list of query pairs) and, after each error, the place at fault is
//! repaired: an unknown field is removed, a repeated one keeps its first value, and a missing or
//! ill-typed value is replaced by the first placeholder that fits (`null`, `false`, `0`, `""`,
//! `{}`, `[]`). Then deserialization is tried again. The errors met under a placeholder belong to
//! the placeholder, not to the client, and are repaired without being reported.
//!
//! The work is bounded ([`MAX_ATTEMPTS`] deserializations, [`MAX_REPORTED`] entries): past that,
//! or when a place cannot be repaired, the errors found so far are reported. When the repairs
//! end in a value, it is returned too, so that validation rules can be checked on the fields the
//! client did get right.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use super::reason::{invalid_param, place_of};
use crate::respond::InvalidParam;

/// At most this many deserializations are tried for one request.
const MAX_ATTEMPTS: usize = 32;

/// At most this many `invalid-params` entries are reported for one request.
pub(crate) const MAX_REPORTED: usize = 20;

/// The shape errors of an input, and the value obtained once all of them were repaired.
pub(crate) struct Shape<T> {
    /// One entry per error, in the order they were met.
    pub(crate) params: Vec<InvalidParam>,
    /// The place of each entry of `params` as the input spells it (`items.k.qty`), to compare
    /// with the places of rule violations; never sent.
    #[cfg_attr(not(feature = "garde"), allow(dead_code))]
    pub(crate) places: Vec<String>,
    /// The repaired value: the client's input with placeholders at every place in `params`
    /// (what `Valid` validates, to report the broken rules beside the shape errors).
    #[cfg_attr(not(feature = "garde"), allow(dead_code))]
    pub(crate) repaired: Option<T>,
}

impl<T> Shape<T> {
    /// Puts `first` in front of the errors found, unless it is among them already (serde may
    /// see an error in the raw input that the editable form no longer holds, such as a
    /// repeated JSON key).
    pub(crate) fn with_first(mut self, (first, place): (InvalidParam, String)) -> Self {
        if !self.params.contains(&first) {
            self.params.insert(0, first);
            self.places.insert(0, place);
            self.params.truncate(MAX_REPORTED);
            self.places.truncate(MAX_REPORTED);
        }
        self
    }
}

/// One step into an input: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A deserialization error: where, and serde's message.
struct Failure {
    path: serde_path_to_error::Path,
    message: String,
}

impl<E: std::fmt::Display> From<serde_path_to_error::Error<E>> for Failure {
    fn from(error: serde_path_to_error::Error<E>) -> Self {
        Self { message: error.inner().to_string(), path: error.path().clone() }
    }
}

/// What is wrong at a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A field the type does not accept.
    Unknown,
    /// A field given twice.
    Repeated,
    /// A required field that is absent, or a value of the wrong type or out of range.
    Value,
}

/// Where an error is, as steps into the input, and what kind it is.
struct Place {
    steps: Vec<Step>,
    fault: Fault,
}

impl Place {
    /// The place of `failure`, or `None` when it cannot be located in the input.
    fn of(failure: &Failure) -> Option<Self> {
        let mut steps = Vec::new();
        for segment in failure.path.iter() {
            steps.push(match segment {
                Segment::Seq { index } => Step::Index(*index),
                Segment::Map { key } | Segment::Enum { variant: key } => Step::Key(key.clone()),
                Segment::Unknown => return None,
            });
        }
        let message = failure.message.as_str();
        let (fault, field) = if let Some(rest) = message.strip_prefix("missing field ") {
            (Fault::Value, quoted(rest))
        } else if let Some(rest) = message.strip_prefix("unknown field ") {
            (Fault::Unknown, quoted(rest))
        } else if let Some(rest) = message.strip_prefix("duplicate field ") {
            (Fault::Repeated, quoted(rest))
        } else {
            (Fault::Value, None)
        };
        if let Some(field) = field {
            // serde_path_to_error names the field in the path for some errors, not for others.
            if steps.last() != Some(&Step::Key(field.to_owned())) {
                steps.push(Step::Key(field.to_owned()));
            }
        } else if fault != Fault::Value {
            return None;
        }
        Some(Self { steps, fault })
    }
}

/// The text between the first pair of backquotes of `rest`.
fn quoted(rest: &str) -> Option<&str> {
    rest.strip_prefix('`')?.split('`').next()
}

/// A value put where the client's was missing or wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Empty,
    Zero,
    False,
    Object,
    Array,
    Null,
}

impl Placeholder {
    /// Every placeholder, the most useful first (`null` only fits an `Option` or a unit).
    const ALL: [Self; 6] =
        [Self::Empty, Self::Zero, Self::False, Self::Object, Self::Array, Self::Null];

    /// The placeholders in the order to try them for an error whose fixed reason is `reason`:
    /// the one of the type the reason names first.
    fn order_for(reason: &str) -> impl Iterator<Item = Self> {
        let preferred = match reason {
            "must be a string" => Some(Self::Empty),
            "must be an integer" | "must be a number" | "is out of range" => Some(Self::Zero),
            "must be a boolean" => Some(Self::False),
            "must be an object" => Some(Self::Object),
            "must be an array" | "has the wrong number of elements" => Some(Self::Array),
            _ => None,
        };
        preferred.into_iter().chain(Self::ALL.into_iter().filter(move |p| Some(*p) != preferred))
    }
}

/// An input that can be deserialized, and repaired in place.
trait Input {
    /// Deserializes the input as it is now.
    fn decode<T: DeserializeOwned>(&self) -> Result<T, Failure>;
    /// Removes the value at `steps`; false when there is none.
    fn remove(&mut self, steps: &[Step]) -> bool;
    /// Keeps only the first of the values at `steps`; false when that is not possible.
    fn keep_first(&mut self, steps: &[Step]) -> bool;
    /// Puts `placeholder` at `steps`; false when it has no such place, or no such value.
    fn fill(&mut self, steps: &[Step], placeholder: Placeholder) -> bool;
}

/// Deserializes `input` into `T`, repairing and recording every error on the way.
fn collect<T: DeserializeOwned>(mut input: impl Input) -> Shape<T> {
    let mut params: Vec<InvalidParam> = Vec::new();
    let mut places: Vec<String> = Vec::new();
    // The places filled with a placeholder: errors under them are the placeholder's.
    let mut placeholders: Vec<Vec<Step>> = Vec::new();
    let mut attempts = 1;
    let mut outcome = input.decode::<T>();
    loop {
        let failure = match outcome {
            Ok(value) => return Shape { params, places, repaired: Some(value) },
            Err(failure) => failure,
        };
        let place = Place::of(&failure);
        // A wrong value inside a placeholder is the placeholder's; a repetition of its place is
        // the client's.
        let ours = place.as_ref().is_some_and(|place| {
            place.fault == Fault::Value && placeholders.iter().any(|p| place.steps.starts_with(p))
        });
        let param = invalid_param(&failure.path, &failure.message);
        let reason = param.reason.clone();
        if !ours {
            // The same error again means the repair did not take: stop rather than loop.
            if params.contains(&param) {
                break;
            }
            params.push(param);
            places.push(place_of(&failure.path, &failure.message));
        }
        let Some(place) = place else { break };
        if params.len() >= MAX_REPORTED || attempts >= MAX_ATTEMPTS {
            break;
        }
        outcome = match place.fault {
            Fault::Unknown if input.remove(&place.steps) => {
                attempts += 1;
                input.decode()
            }
            Fault::Repeated if input.keep_first(&place.steps) => {
                attempts += 1;
                input.decode()
            }
            Fault::Unknown | Fault::Repeated => break,
            Fault::Value => {
                let Some(outcome) = fill(&mut input, &place.steps, &reason, &mut attempts) else {
                    break;
                };
                placeholders.push(place.steps);
                outcome
            }
        };
    }
    Shape { params, places, repaired: None }
}

/// Tries each placeholder at `steps` (for an error of `reason`) until the error there goes
/// away; the outcome of the deserialization with the first that fits, or `None` when none does.
fn fill<T: DeserializeOwned>(
    input: &mut impl Input,
    steps: &[Step],
    reason: &str,
    attempts: &mut usize,
) -> Option<Result<T, Failure>> {
    for placeholder in Placeholder::order_for(reason) {
        if *attempts >= MAX_ATTEMPTS {
            return None;
        }
        if !input.fill(steps, placeholder) {
            continue;
        }
        *attempts += 1;
        let outcome = input.decode::<T>();
        let still_wrong = match &outcome {
            Ok(_) => false,
            // Still a wrong value at this very place (a missing field inside the placeholder is
            // another place: the placeholder fits, and gets its own repairs; a repetition of
            // the place is another fault).
            Err(failure) => Place::of(failure)
                .is_none_or(|place| place.steps == steps && place.fault == Fault::Value),
        };
        if !still_wrong {
            return Some(outcome);
        }
    }
    None
}

/// Deserializes a JSON `value` into `T`, collecting every shape error.
pub(crate) fn json<T: DeserializeOwned>(value: Value) -> Shape<T> {
    collect(JsonInput(value))
}

/// A JSON document being repaired.
struct JsonInput(Value);

/// A placeholder as a JSON value.
fn json_placeholder(placeholder: Placeholder) -> Value {
    match placeholder {
        Placeholder::Empty => Value::from(""),
        Placeholder::Zero => Value::from(0),
        Placeholder::False => Value::Bool(false),
        Placeholder::Object => Value::Object(serde_json::Map::new()),
        Placeholder::Array => Value::Array(Vec::new()),
        Placeholder::Null => Value::Null,
    }
}

impl JsonInput {
    /// The value at `steps`, when every step exists.
    fn at(&mut self, steps: &[Step]) -> Option<&mut Value> {
        steps.iter().try_fold(&mut self.0, |value, step| match step {
            Step::Key(key) => value.as_object_mut()?.get_mut(key),
            Step::Index(index) => value.as_array_mut()?.get_mut(*index),
        })
    }
}

impl Input for JsonInput {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_path_to_error::deserialize(&self.0).map_err(Failure::from)
    }

    fn remove(&mut self, steps: &[Step]) -> bool {
        let Some((Step::Key(key), parent)) = steps.split_last() else { return false };
        self.at(parent)
            .and_then(Value::as_object_mut)
            .is_some_and(|object| object.remove(key).is_some())
    }

    fn keep_first(&mut self, _steps: &[Step]) -> bool {
        // A JSON value holds one value per key already.
        false
    }

    fn fill(&mut self, steps: &[Step], placeholder: Placeholder) -> bool {
        let Some((last, parent)) = steps.split_last() else { return false };
        let placeholder = json_placeholder(placeholder);
        match (self.at(parent), last) {
            (Some(Value::Object(object)), Step::Key(key)) => {
                object.insert(key.clone(), placeholder);
                true
            }
            (Some(Value::Array(array)), Step::Index(index)) if *index < array.len() => {
                array[*index] = placeholder;
                true
            }
            _ => false,
        }
    }
}

/// Deserializes the query `pairs` into `T`, collecting every shape error.
pub(crate) fn query<T: DeserializeOwned>(pairs: Vec<(String, String)>) -> Shape<T> {
    collect(QueryInput(pairs))
}

/// The decoded pairs of a query string being repaired.
struct QueryInput(Vec<(String, String)>);

impl QueryInput {
    /// The parameter name at `steps`: a query is flat, so only a one-step place is one.
    fn name(steps: &[Step]) -> Option<&str> {
        match steps {
            [Step::Key(name)] => Some(name),
            _ => None,
        }
    }
}

impl Input for QueryInput {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        let encoded =
            form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.0).finish();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map_err(Failure::from)
    }

    fn remove(&mut self, steps: &[Step]) -> bool {
        let Some(name) = Self::name(steps) else { return false };
        let before = self.0.len();
        self.0.retain(|(key, _)| key != name);
        self.0.len() < before
    }

    fn keep_first(&mut self, steps: &[Step]) -> bool {
        let Some(name) = Self::name(steps) else { return false };
        let before = self.0.len();
        let mut seen = false;
        self.0.retain(|(key, _)| key != name || !std::mem::replace(&mut seen, true));
        self.0.len() < before
    }

    fn fill(&mut self, steps: &[Step], placeholder: Placeholder) -> bool {
        // Query values are text: only the scalars have a spelling.
        let placeholder = match placeholder {
            Placeholder::Empty => "",
            Placeholder::Zero => "0",
            Placeholder::False => "false",
            Placeholder::Object | Placeholder::Array | Placeholder::Null => return false,
        };
        let Some(name) = Self::name(steps) else { return false };
        // In the place of the client's value: serde reads the pairs in order, and an error met
        // after the placeholder shows that it fits only if the placeholder was read before it.
        let name = name.to_owned();
        // Only the first value is replaced: a repetition is reported as such afterwards.
        match self.0.iter_mut().find(|(key, _)| *key == name) {
            Some((_, value)) => *value = placeholder.to_owned(),
            None => self.0.push((name, placeholder.to_owned())),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        title: String,
        count: u32,
        author: Author,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Author {
        name: String,
        email: String,
    }

    fn names(shape: &Shape<impl Sized>) -> Vec<(String, String)> {
        shape.params.iter().map(|p| (p.name.clone(), p.reason.clone())).collect()
    }

    fn pair(name: &str, reason: &str) -> (String, String) {
        (name.to_owned(), reason.to_owned())
    }

    #[test]
    fn every_json_error_is_found() {
        let value = serde_json::json!({
            "count": "three",
            "author": {"name": 7},
            "tags": ["a", 2, "c", {}],
            "colour": "red",
        });
        let shape = json::<Doc>(value);
        assert_eq!(
            names(&shape),
            // In the order of the JSON object's keys, then the fields missing from it.
            [
                pair("author.name", "must be a string"),
                pair("author.email", "is required"),
                pair("colour", "is not an accepted field"),
                pair("count", "must be an integer"),
                pair("tags[1]", "must be a string"),
                pair("tags[3]", "must be a string"),
                pair("title", "is required"),
            ]
        );
        assert!(shape.repaired.is_some());
    }

    #[test]
    fn the_errors_inside_a_placeholder_are_not_reported() {
        let shape = json::<Doc>(serde_json::json!({"title": "t", "count": 1}));
        assert_eq!(names(&shape), [pair("author", "is required")]);
        assert!(shape.repaired.is_some());
    }

    #[test]
    fn a_valid_document_has_no_errors() {
        let value =
            serde_json::json!({"title": "t", "count": 1, "author": {"name": "n", "email": "e"}});
        let shape = json::<Doc>(value);
        assert!(shape.params.is_empty());
        assert!(shape.repaired.is_some());
    }

    #[test]
    fn an_unrepairable_value_stops_the_search() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        enum Colour {
            Red,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Paint {
            colour: Colour,
            coats: u8,
        }
        let shape =
            json::<Paint>(serde_json::json!({"colour": "blue", "coats": "two", "zinc": "x"}));
        // `zinc` would be reported after `colour`, which no placeholder fits.
        assert_eq!(
            names(&shape),
            [pair("coats", "must be an integer"), pair("colour", "is not an accepted value")]
        );
        assert!(shape.repaired.is_none());
    }

    #[test]
    fn the_work_is_bounded() {
        let tags: Vec<u32> = (0..1000).collect();
        let value = serde_json::json!({"title": "t", "count": 1, "tags": tags,
            "author": {"name": "n", "email": "e"}});
        let shape = json::<Doc>(value);
        assert_eq!(shape.params.len(), MAX_REPORTED, "{:?}", names(&shape));
        assert!(shape.repaired.is_none());
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Search {
        q: String,
        limit: Option<u32>,
        exact: Option<bool>,
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    #[test]
    fn every_query_error_is_found() {
        let shape = query::<Search>(pairs("limit=1&limit=2&sort=asc&exact=maybe"));
        assert_eq!(
            names(&shape),
            [
                pair("limit", "must appear only once"),
                pair("sort", "is not an accepted field"),
                pair("exact", "is not a valid value"),
                pair("q", "is required"),
            ]
        );
        assert!(shape.repaired.is_some());
        let shape = query::<Search>(pairs("q=a&limit=x&limit=y"));
        assert_eq!(
            names(&shape),
            [pair("limit", "is not a valid value"), pair("limit", "must appear only once")]
        );
        assert!(shape.repaired.is_some());
    }
}
