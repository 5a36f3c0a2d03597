//! The content hash of a spec version: what makes "this version" checkable later, in storage,
//! in the audit log and in the plan comment.
//!
//! The hash is SHA-256 over a canonical JSON text of the spec without its lifecycle: object keys
//! sorted, no whitespace, strings escaped as serde_json escapes them. Empty optional fields are
//! left out of the JSON (the types skip them), so a field added to the types later does not change
//! the hash of a version stored before it.

use std::fmt;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Spec;

/// A spec version's SHA-256, shown and stored as 64 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl From<ContentHash> for String {
    fn from(hash: ContentHash) -> String {
        hash.to_string()
    }
}

impl Spec {
    /// The hash of everything in this version but its lifecycle: equal for equal content, on
    /// any machine and in any later version of ade that keeps the spec's fields.
    pub fn content_hash(&self) -> ContentHash {
        let mut value = serde_json::to_value(self).expect("a spec serializes to JSON");
        if let Value::Object(fields) = &mut value {
            fields.remove("lifecycle");
        }
        let mut text = String::new();
        canonical(&value, &mut text);
        ContentHash(Sha256::digest(text.as_bytes()).into())
    }
}

/// Writes `value` with sorted keys and no whitespace, whatever order the map keeps them in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&fields[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_text_sorts_keys_at_every_depth_and_has_no_whitespace() {
        let value = json!({"b": [1, {"z": true, "a": null}], "a": "x\"y\n"});
        let mut text = String::new();
        canonical(&value, &mut text);
        assert_eq!(text, r#"{"a":"x\"y\n","b":[1,{"a":null,"z":true}]}"#);
    }
}
