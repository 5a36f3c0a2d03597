//! A key that takes one string or a list of them, shared by the raw shapes of several sections.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A key that takes one string or a list of them (`webhook_secret = "a"` or `["a", "b"]`).
///
/// Written by hand rather than as an untagged enum so that a wrong type gets a clear message
/// that never repeats the value: these keys hold secrets.
#[derive(Debug, Default)]
pub(super) struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

struct OneOrManyVisitor;

const EXPECTED: &str = "a string or a list of strings";

impl<'de> Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![value.to_owned()]))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![value]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element::<String>()? {
            values.push(value);
        }
        Ok(OneOrMany(values))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a boolean"
        )))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a number"
        )))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a number"
        )))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a number"
        )))
    }
}
