//! [`PrincipalId`]: who owns what a caller creates, as a value with one stable text form.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Who owns resources a caller creates: [`Principal::id`](crate::Principal::id).
///
/// It is the configured principal-id claim
/// ([`VerifierBuilder::principal_id_claim`](crate::config::VerifierBuilder::principal_id_claim)), or
/// `sub`; with more than one accepted issuer, it is the pair of the token's issuer and that
/// value, since alice of issuer A and alice of issuer B are different owners.
///
/// Store an owner by its text form ([`as_str`](Self::as_str), `Display`, `Serialize`) and read
/// it back with [`str::parse`] (`FromStr`, `Deserialize`): the subject as it is, or the pair
/// spelt as a compact JSON array, `["https://a.example","alice"]`, where no two pairs are spelt
/// alike whatever the two strings hold. Two ids are equal, ordered and hashed by that text, so
/// an id compares directly with a stored owner (`principal.id() == owner`, for an owner held as
/// `&str` or `String`), and a `HashMap<PrincipalId, _>` is looked up with a `&str`.
///
/// ```
/// use portcullis::PrincipalId;
///
/// let alice: PrincipalId = "alice".parse()?;
/// assert_eq!(alice.subject(), "alice");
/// assert_eq!(alice.issuer(), None);
/// assert_eq!(alice, "alice");
///
/// let of_a = PrincipalId::by_issuer("https://a.example", "alice")?;
/// assert_eq!(of_a.to_string(), r#"["https://a.example","alice"]"#);
/// assert_eq!(of_a.issuer(), Some("https://a.example"));
/// assert_eq!(of_a.subject(), "alice");
/// assert_eq!(of_a.as_str().parse::<PrincipalId>()?, of_a);
/// assert_ne!(of_a, alice);
/// # Ok::<(), portcullis::InvalidPrincipalId>(())
/// ```
#[derive(Clone)]
pub struct PrincipalId {
    /// The stable text form: what is stored, compared, ordered and hashed.
    text: String,
    /// The issuer, when identity is by issuer; then `text` is the pair.
    issuer: Option<String>,
    /// The subject, when `text` is the pair; otherwise `text` itself is the subject.
    paired_subject: Option<String>,
}

impl PrincipalId {
    /// The id of `subject` alone (one issuer is accepted). Empty ids are not made: a verified
    /// principal always has a non-empty one.
    pub(crate) fn of_subject(subject: String) -> Self {
        Self { text: subject, issuer: None, paired_subject: None }
    }

    /// The id of `subject` of `issuer`, spelt as the pair `["<issuer>","<subject>"]`; refused
    /// when either part is empty, as no verified principal's is.
    pub fn by_issuer(issuer: &str, subject: &str) -> Result<Self, InvalidPrincipalId> {
        if issuer.is_empty() || subject.is_empty() {
            return Err(InvalidPrincipalId { _private: () });
        }
        Ok(Self::pair(issuer, subject))
    }

    /// The pair, without the check (the issuer of a verified token may be any string).
    pub(crate) fn pair(issuer: &str, subject: &str) -> Self {
        // A JSON array: one spelling per pair, whatever the two strings hold.
        let text = Value::from(vec![Value::from(issuer), Value::from(subject)]).to_string();
        Self { text, issuer: Some(issuer.to_owned()), paired_subject: Some(subject.to_owned()) }
    }

    /// The issuer, when identity is by issuer (more than one issuer is accepted).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The subject: the configured principal-id claim, or `sub`, without the issuer.
    pub fn subject(&self) -> &str {
        self.paired_subject.as_deref().unwrap_or(&self.text)
    }

    /// The stable text form, as owners are stored: the subject, or the JSON pair.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Why a text is not a principal id: it is empty, or a pair with an empty part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPrincipalId {
    _private: (),
}

impl fmt::Display for InvalidPrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a principal id is a non-empty subject, or a pair of non-empty issuer and subject",
        )
    }
}

impl std::error::Error for InvalidPrincipalId {}

/// Reads the text form back: a compact JSON array of two strings, exactly as [`PrincipalId`]
/// spells a pair, is the pair (a pair with an empty part is refused); any other non-empty text
/// is a subject. The round trip keeps the text, so the id read back equals the one written.
impl FromStr for PrincipalId {
    type Err = InvalidPrincipalId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(InvalidPrincipalId { _private: () });
        }
        if text.starts_with('[')
            && let Ok((issuer, subject)) = serde_json::from_str::<(String, String)>(text)
        {
            let pair = Self::pair(&issuer, &subject);
            // Only the runtime's own spelling is a pair: `[ "a", "b" ]` is some subject's.
            if pair.text == text {
                return if issuer.is_empty() || subject.is_empty() {
                    Err(InvalidPrincipalId { _private: () })
                } else {
                    Ok(pair)
                };
            }
        }
        Ok(Self::of_subject(text.to_owned()))
    }
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PrincipalId").field(&self.text).finish()
    }
}

impl AsRef<str> for PrincipalId {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

// Equality, order and hash are the text's, as `Borrow<str>` requires.
impl Borrow<str> for PrincipalId {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl PartialEq for PrincipalId {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for PrincipalId {}

impl PartialOrd for PrincipalId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PrincipalId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl Hash for PrincipalId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// Comparisons with stored owners, in both directions, as `String` and `str` compare.
macro_rules! compare_with_text {
    ($($text:ty),*) => {$(
        impl PartialEq<$text> for PrincipalId {
            fn eq(&self, other: &$text) -> bool {
                self.text == *other
            }
        }

        impl PartialEq<PrincipalId> for $text {
            fn eq(&self, other: &PrincipalId) -> bool {
                *self == other.text
            }
        }
    )*};
}

compare_with_text!(str, &str, String);

impl PartialEq<&PrincipalId> for String {
    fn eq(&self, other: &&PrincipalId) -> bool {
        *self == other.text
    }
}

/// As its text form.
impl Serialize for PrincipalId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// From its text form, as `FromStr` reads it.
impl<'de> Deserialize<'de> for PrincipalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use std::collections::{BTreeSet, HashMap};

    use proptest::prelude::*;

    use super::PrincipalId;

    proptest! {
        #[test]
        fn a_subject_reads_back_as_written(subject in ".+") {
            let id = PrincipalId::of_subject(subject.clone());
            let read: PrincipalId = id.to_string().parse().unwrap();
            prop_assert_eq!(&read, &id);
            prop_assert_eq!(read.as_str(), subject.as_str());
        }

        #[test]
        fn a_pair_reads_back_with_its_parts(issuer in ".+", subject in ".+") {
            let id = PrincipalId::by_issuer(&issuer, &subject).unwrap();
            let read: PrincipalId = id.to_string().parse().unwrap();
            prop_assert_eq!(&read, &id);
            prop_assert_eq!(read.issuer(), Some(issuer.as_str()));
            prop_assert_eq!(read.subject(), subject.as_str());
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<PrincipalId>(&json).unwrap(), id);
        }

        #[test]
        fn no_two_pairs_are_spelt_alike(a in ".*", b in ".*", c in ".*", d in ".*") {
            prop_assume!((&a, &b) != (&c, &d));
            prop_assert_ne!(PrincipalId::pair(&a, &b), PrincipalId::pair(&c, &d));
        }
    }

    #[test]
    fn the_text_form_is_todays() {
        let id = PrincipalId::pair("https://a.example", "alice");
        assert_eq!(id.as_str(), r#"["https://a.example","alice"]"#);
        assert_eq!(format!("{id:?}"), r#"PrincipalId("[\"https://a.example\",\"alice\"]")"#);
        let tricky = PrincipalId::pair("a\",\"b", "c");
        assert_eq!(tricky.as_str(), r#"["a\",\"b","c"]"#);
        assert_eq!(tricky.as_str().parse::<PrincipalId>().unwrap().issuer(), Some("a\",\"b"));
    }

    #[test]
    fn refusals() {
        assert!("".parse::<PrincipalId>().is_err());
        assert!(r#"["","alice"]"#.parse::<PrincipalId>().is_err());
        assert!(r#"["https://a.example",""]"#.parse::<PrincipalId>().is_err());
        assert!(PrincipalId::by_issuer("", "alice").is_err());
        assert!(PrincipalId::by_issuer("https://a.example", "").is_err());
        assert!(serde_json::from_str::<PrincipalId>(r#""""#).is_err());
        let error = "".parse::<PrincipalId>().unwrap_err().to_string();
        assert!(error.contains("non-empty"), "{error}");
    }

    #[test]
    fn only_the_runtimes_spelling_is_a_pair() {
        for subject in [r#"[ "a", "b" ]"#, r#"["a"]"#, r#"["a","b","c"]"#, "[admin]", r#"["a",1]"#]
        {
            let id: PrincipalId = subject.parse().unwrap();
            assert_eq!((id.issuer(), id.subject(), id.as_str()), (None, subject, subject));
        }
    }

    #[test]
    fn compares_with_stored_owners() {
        let alice: PrincipalId = "alice".parse().unwrap();
        let owner = String::from("alice");
        // Each direction is an impl of its own: every one is checked.
        assert!(alice == "alice");
        assert!("alice" == alice);
        assert!(alice == owner);
        assert!(owner == alice);
        assert!(alice == *"alice");
        assert!(*"alice" == alice);
        let by_reference: &PrincipalId = &alice;
        assert!(owner == by_reference);
        assert!("alice" == &alice);
        assert!(alice != "bob");
        assert!(alice != PrincipalId::pair("i", "alice"));
        let stored = PrincipalId::pair("i", "alice").to_string();
        assert_eq!(PrincipalId::pair("i", "alice"), stored);
        let bob: PrincipalId = "bob".parse().unwrap();
        let ordered: Vec<_> = BTreeSet::from([bob.clone(), alice.clone()]).into_iter().collect();
        assert_eq!(ordered, [alice.clone(), bob]);
        let owners = HashMap::from([(alice, 1)]);
        assert_eq!(owners.get("alice"), Some(&1));
    }
}
