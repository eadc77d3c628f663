//! The declared structure of a type, learnt once from its `Deserialize` impl without any data,
//! to name the places of rule violations by the server's own field names.
//!
//! garde names a struct field and a map key alike (both are keys of its path), so a path taken
//! as it is would repeat a key chosen by the client. The structure tells them apart: a key that
//! is a declared field of the struct at that place stays, a key under a map becomes `[]`, and
//! from a place whose structure is not known (a value read with `deserialize_any`, such as a
//! `serde_json::Value` or an untagged enum; a flattened struct; a type that refuses the tracer's
//! neutral values) every key becomes `[]`. The name sent is made only of declared field names,
//! list indices and `[]`: never of text from the request.
//!
//! A hand-written tracer rather than the `serde-reflection` crate: that crate fails the whole
//! type at the first untraceable part (it would then name nothing), keys its registry by the
//! unqualified container name (two `Item`s in two modules collide), and brings dependencies.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};

/// What is known of the value at one place.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Node {
    /// Not known: every key below is a placeholder.
    #[default]
    Unknown,
    /// A scalar: nothing below.
    Leaf,
    /// A struct and its fields, by their serde names.
    Struct(Vec<(&'static str, Node)>),
    /// A map, and what its values are.
    Map(Box<Node>),
    /// A sequence, and what its elements are.
    Seq(Box<Node>),
    /// A tuple or a tuple struct.
    Tuple(Vec<Node>),
    /// A newtype struct.
    Newtype(Box<Node>),
    /// An externally tagged enum and its variants.
    Enum(Vec<(&'static str, Node)>),
}

impl Node {
    /// Adds what `other` knows to what `self` knows (two tracing passes of one type).
    fn merge(&mut self, other: Node) {
        if *self == Node::Unknown {
            *self = other;
            return;
        }
        match (self, other) {
            (Node::Struct(a), Node::Struct(b)) | (Node::Enum(a), Node::Enum(b))
                if a.len() == b.len() =>
            {
                a.iter_mut().zip(b).for_each(|((_, a), (_, b))| a.merge(b));
            }
            (Node::Tuple(a), Node::Tuple(b)) if a.len() == b.len() => {
                a.iter_mut().zip(b).for_each(|(a, b)| a.merge(b));
            }
            (Node::Map(a), Node::Map(b))
            | (Node::Seq(a), Node::Seq(b))
            | (Node::Newtype(a), Node::Newtype(b)) => a.merge(*b),
            // Unknown adds nothing; passes that disagree keep the first.
            _ => {}
        }
    }
}

/// At most this many `deserialize_*` calls in one pass: past it, options are `None` and
/// sequences and maps empty, so that a recursive type ends.
const BUDGET: usize = 2_000;

/// Past this depth a pass ends the same way; past it by [`HARD_DEPTH`] it stops.
const MAX_DEPTH: usize = 24;

/// Nesting past [`MAX_DEPTH`] that is still traced before giving up.
const HARD_DEPTH: usize = 8;

/// At most this many passes per type (one per enum variant, and after each refused field).
const MAX_PASSES: usize = 16;

/// The structure of `T`, traced on first use and kept per type.
pub(crate) fn of<T: DeserializeOwned + 'static>() -> Arc<Node> {
    static CACHE: OnceLock<Mutex<HashMap<TypeId, Arc<Node>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let id = TypeId::of::<T>();
    if let Some(node) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return Arc::clone(node);
    }
    // Traced outside the lock; a user's `Deserialize` that panics on neutral values only
    // leaves the structure unknown.
    let node = std::panic::catch_unwind(trace::<T>).unwrap_or_default();
    let node = Arc::new(node);
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::clone(&node));
    node
}

/// Traces `T` in as many passes as its enums and refused fields need.
fn trace<T: DeserializeOwned>() -> Node {
    let mut node = Node::Unknown;
    let mut state = State { variant: 0, budget: BUDGET, skips: Vec::new(), again: false };
    for _ in 0..MAX_PASSES {
        state.budget = BUDGET;
        state.again = false;
        let mut pass = Node::Unknown;
        let _ = T::deserialize(Tracer { slot: &mut pass, state: &mut state, depth: 0 });
        node.merge(pass);
        if !state.again {
            break;
        }
        state.variant += 1;
    }
    node
}

/// What a tracing pass carries.
struct State {
    /// The variant each enum takes in this pass (the last one when it has fewer).
    variant: usize,
    /// The calls left in this pass.
    budget: usize,
    /// Fields not fed again, as (struct, field): their value or key was refused.
    skips: Vec<(&'static str, &'static str)>,
    /// Whether another pass would learn more.
    again: bool,
}

/// The error of a tracing pass.
#[derive(Debug)]
struct Untraced;

impl fmt::Display for Untraced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot be traced")
    }
}

impl std::error::Error for Untraced {}

impl de::Error for Untraced {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self
    }
}

/// A deserializer without data that records what is asked of it in `slot`.
struct Tracer<'a> {
    slot: &'a mut Node,
    state: &'a mut State,
    depth: usize,
}

impl Tracer<'_> {
    /// Counts a call; whether the pass should end containers here.
    fn spent(&mut self) -> bool {
        self.state.budget = self.state.budget.saturating_sub(1);
        self.state.budget == 0 || self.depth >= MAX_DEPTH
    }

    fn leaf(self) -> Self {
        *self.slot = Node::Leaf;
        self
    }
}

macro_rules! scalar {
    ($($method:ident => $visit:ident($($value:expr)?);)*) => {$(
        fn $method<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Untraced> {
            self.spent();
            self.leaf();
            visitor.$visit($($value)?)
        }
    )*};
}

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = Untraced;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraced> {
        // Self-describing input only: nothing is known below.
        *self.slot = Node::Unknown;
        visitor.visit_unit()
    }

    scalar! {
        deserialize_bool => visit_bool(false);
        deserialize_i8 => visit_i8(0);
        deserialize_i16 => visit_i16(0);
        deserialize_i32 => visit_i32(0);
        deserialize_i64 => visit_i64(0);
        deserialize_i128 => visit_i128(0);
        deserialize_u8 => visit_u8(0);
        deserialize_u16 => visit_u16(0);
        deserialize_u32 => visit_u32(0);
        deserialize_u64 => visit_u64(0);
        deserialize_u128 => visit_u128(0);
        deserialize_f32 => visit_f32(0.0);
        deserialize_f64 => visit_f64(0.0);
        deserialize_char => visit_char('a');
        deserialize_str => visit_borrowed_str("");
        deserialize_string => visit_string(String::new());
        deserialize_bytes => visit_borrowed_bytes(&[]);
        deserialize_byte_buf => visit_byte_buf(Vec::new());
        deserialize_unit => visit_unit();
        deserialize_identifier => visit_borrowed_str("");
        deserialize_ignored_any => visit_unit();
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Untraced> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Untraced> {
        // An option is transparent, as in garde's paths and serde's.
        if self.spent() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Untraced> {
        self.spent();
        let mut inner = Node::Unknown;
        let result = visitor.visit_newtype_struct(Tracer {
            slot: &mut inner,
            state: self.state,
            depth: self.depth + 1,
        });
        *self.slot = Node::Newtype(Box::new(inner));
        result
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Untraced> {
        let end = self.spent();
        let mut element = [Node::Unknown];
        let nodes: &mut [Node] = if end { &mut [] } else { &mut element };
        let result = visitor.visit_seq(Elements {
            nodes: nodes.iter_mut(),
            state: self.state,
            depth: self.depth + 1,
        });
        let [element] = element;
        *self.slot = Node::Seq(Box::new(element));
        result
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraced> {
        self.spent();
        if self.depth > MAX_DEPTH + HARD_DEPTH {
            return Err(Untraced);
        }
        let mut nodes = vec![Node::Unknown; len.min(64)];
        let result = visitor.visit_seq(Elements {
            nodes: nodes.iter_mut(),
            state: self.state,
            depth: self.depth + 1,
        });
        *self.slot = Node::Tuple(nodes);
        result
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraced> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Untraced> {
        let end = self.spent();
        let mut value = Node::Unknown;
        let result = visitor.visit_map(Entry {
            value: (!end).then_some(&mut value),
            key_given: false,
            state: self.state,
            depth: self.depth + 1,
        });
        *self.slot = Node::Map(Box::new(value));
        result
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraced> {
        self.spent();
        if self.depth > MAX_DEPTH + HARD_DEPTH {
            return Err(Untraced);
        }
        let mut nodes: Vec<(&'static str, Node)> =
            fields.iter().map(|field| (*field, Node::Unknown)).collect();
        let mut access =
            Fields { name, nodes: &mut nodes, next: 0, state: self.state, depth: self.depth + 1 };
        let result = visitor.visit_map(&mut access);
        if result.is_err() {
            // The last field fed was refused (an alias of a field fed before, or a value that
            // refuses the neutral one): the next pass leaves it out to learn the others.
            if let Some(field) = access.next.checked_sub(1).and_then(|i| fields.get(i))
                && !access.state.skips.contains(&(name, field))
            {
                access.state.skips.push((name, field));
                access.state.again = true;
            }
        }
        *self.slot = Node::Struct(nodes);
        result
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraced> {
        let end = self.spent();
        let Some(last) = variants.len().checked_sub(1) else { return Err(Untraced) };
        let chosen = if end { 0 } else { self.state.variant.min(last) };
        if chosen < last && !end {
            self.state.again = true;
        }
        let mut inner = Node::Unknown;
        let result = visitor.visit_enum(Variant {
            name: variants[chosen],
            tracer: Tracer { slot: &mut inner, state: self.state, depth: self.depth + 1 },
        });
        let mut nodes: Vec<(&'static str, Node)> =
            variants.iter().map(|variant| (*variant, Node::Unknown)).collect();
        if let Some((_, node)) = nodes.get_mut(chosen) {
            *node = inner;
        }
        *self.slot = Node::Enum(nodes);
        result
    }
}

/// The elements of a sequence (one) or a tuple (each).
struct Elements<'a, 'n> {
    nodes: std::slice::IterMut<'n, Node>,
    state: &'a mut State,
    depth: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, '_> {
    type Error = Untraced;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Untraced> {
        let Some(slot) = self.nodes.next() else { return Ok(None) };
        seed.deserialize(Tracer { slot, state: self.state, depth: self.depth }).map(Some)
    }
}

/// The one entry of a map.
struct Entry<'a> {
    value: Option<&'a mut Node>,
    key_given: bool,
    state: &'a mut State,
    depth: usize,
}

impl<'de> de::MapAccess<'de> for Entry<'_> {
    type Error = Untraced;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Untraced> {
        if self.value.is_none() || self.key_given {
            return Ok(None);
        }
        self.key_given = true;
        let mut key = Node::Unknown;
        seed.deserialize(Tracer { slot: &mut key, state: self.state, depth: self.depth }).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Untraced> {
        let Some(slot) = self.value.take() else { return Err(Untraced) };
        seed.deserialize(Tracer { slot, state: self.state, depth: self.depth })
    }
}

/// The fields of a struct, each fed once by its declared name.
struct Fields<'a> {
    name: &'static str,
    nodes: &'a mut Vec<(&'static str, Node)>,
    next: usize,
    state: &'a mut State,
    depth: usize,
}

impl<'de> de::MapAccess<'de> for &mut Fields<'_> {
    type Error = Untraced;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Untraced> {
        loop {
            let Some((field, _)) = self.nodes.get(self.next) else { return Ok(None) };
            let field = *field;
            self.next += 1;
            if !self.state.skips.contains(&(self.name, field)) {
                return seed.deserialize(BorrowedStrDeserializer::new(field)).map(Some);
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Untraced> {
        let index = self.next.checked_sub(1).ok_or(Untraced)?;
        let (_, slot) = self.nodes.get_mut(index).ok_or(Untraced)?;
        seed.deserialize(Tracer { slot, state: self.state, depth: self.depth })
    }
}

/// The chosen variant of an enum.
struct Variant<'a> {
    name: &'static str,
    tracer: Tracer<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for Variant<'a> {
    type Error = Untraced;
    type Variant = Tracer<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Tracer<'a>), Untraced> {
        let value = seed.deserialize(BorrowedStrDeserializer::new(self.name))?;
        Ok((value, self.tracer))
    }
}

impl<'de> de::VariantAccess<'de> for Tracer<'_> {
    type Error = Untraced;

    fn unit_variant(self) -> Result<(), Untraced> {
        *self.slot = Node::Leaf;
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Untraced> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Untraced> {
        self.deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraced> {
        self.deserialize_struct("", fields, visitor)
    }
}

/// One step of a garde path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'p> {
    /// A struct field (by its Rust name) or a map key.
    Key(&'p str),
    /// A list position, a tuple field, or an integer map key.
    Index(&'p str),
}

/// The name of the place at `steps` (root first, as garde reports it) in a value of structure
/// `node`: declared field names, list indices and `[]`, nothing else.
pub(crate) fn name<'p>(node: &Node, steps: impl IntoIterator<Item = Step<'p>>) -> String {
    let mut name = String::new();
    let mut node = node;
    let unknown = Node::Unknown;
    for step in steps {
        node = match resolve(node, step) {
            Some((Some(field), next)) => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(field);
                next
            }
            Some((None, next)) => {
                if let Step::Index(index) = step {
                    name.push('[');
                    name.push_str(index);
                    name.push(']');
                }
                next
            }
            None => {
                name.push_str("[]");
                match node {
                    Node::Map(value) => value,
                    _ => &unknown,
                }
            }
        };
    }
    name
}

/// Where `step` leads from `node`: `Some((Some(field), node))` for a declared field, `Some((None,
/// node))` for a kept list index, `None` for a placeholder.
fn resolve<'n>(node: &'n Node, step: Step<'_>) -> Option<(Option<&'static str>, &'n Node)> {
    match (node, step) {
        (Node::Struct(fields), Step::Key(key)) => field(fields, key),
        (Node::Seq(element), Step::Index(index)) if is_index(index) => Some((None, element)),
        (Node::Tuple(nodes), Step::Index(index)) if is_index(index) => {
            nodes.get(index.parse::<usize>().ok()?).map(|node| (None, node))
        }
        // garde puts the field of a newtype at `[0]`, or nothing with `#[garde(transparent)]`.
        (Node::Newtype(inner), Step::Index("0")) => Some((None, inner)),
        (Node::Newtype(inner), step) => resolve(inner, step),
        // garde does not name the variant: the first variant that has the step.
        (Node::Enum(variants), step) => {
            variants.iter().find_map(|(_, variant)| resolve(variant, step))
        }
        _ => None,
    }
}

/// The declared field that garde's `key` (a Rust field name) stands for: the field of that
/// serde name or, for `rename_all` and `rename` to another case, the one field whose name is
/// the same letters and digits ignoring case, `_` and `-`. Any other name is a placeholder.
fn field<'n>(
    fields: &'n [(&'static str, Node)],
    key: &str,
) -> Option<(Option<&'static str>, &'n Node)> {
    if let Some((field, node)) = fields.iter().find(|(field, _)| *field == key) {
        return Some((Some(field), node));
    }
    let folded = fold(key);
    let mut matches = fields.iter().filter(|(field, _)| fold(field) == folded);
    match (matches.next(), matches.next()) {
        (Some((field, node)), None) => Some((Some(field), node)),
        _ => None,
    }
}

/// `key` without `_` and `-`, in lower case.
fn fold(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// Whether `index` is a list position.
fn is_index(index: &str) -> bool {
    !index.is_empty() && index.len() <= 20 && index.bytes().all(|b| b.is_ascii_digit())
}
