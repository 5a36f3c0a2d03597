//! Task ids: safe by construction, because they end up in branch names, commit trailers, URLs and
//! command arguments.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

/// A task's id: 1 to 32 lowercase ASCII letters, digits and `-`, starting and ending with a letter
/// or digit, and not `all` (which `/ade run all` means). Only [`TaskId::parse`] makes one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// Longest id, in bytes.
    pub const MAX_LEN: usize = 32;

    /// The id in `text`, or why it cannot be one.
    pub fn parse(text: &str) -> Result<TaskId, String> {
        let charset = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if text.is_empty() || text.len() > Self::MAX_LEN || !charset {
            return Err(format!(
                "`{}` is not a task id: use 1 to {} lowercase letters, digits and `-`",
                text.escape_debug(),
                Self::MAX_LEN
            ));
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(format!(
                "`{text}` is not a task id: it may not start or end with `-`"
            ));
        }
        if text == "all" {
            return Err("`all` is not a task id: `/ade run all` means every task".to_owned());
        }
        Ok(TaskId(text.to_owned()))
    }

    /// The id of the task the manual planner makes from item `position` (1-based) of a list.
    pub fn item(position: usize) -> TaskId {
        TaskId(format!("t{position}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TaskId, D::Error> {
        let text = String::deserialize(deserializer)?;
        TaskId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for TaskId {
    fn schema_name() -> Cow<'static, str> {
        "TaskId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A task's id: lowercase letters, digits and `-`, starting and ending with a letter or digit; not `all`.",
            "type": "string",
            "minLength": 1,
            "maxLength": Self::MAX_LEN,
            "pattern": "^(?!all$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_safe_charset_only() {
        for good in ["t1", "add-login", "a", "0", "x-1-y"] {
            assert_eq!(TaskId::parse(good).unwrap().as_str(), good);
        }
        let long = "a".repeat(TaskId::MAX_LEN + 1);
        for bad in [
            "", "T1", "-a", "a-", "a b", "a/b", "a..b", "all", "ü", "a\n", &long,
        ] {
            assert!(TaskId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn deserializing_checks_too() {
        assert!(serde_json::from_str::<TaskId>("\"t2\"").is_ok());
        let err = serde_json::from_str::<TaskId>("\"../main\"").unwrap_err();
        assert!(err.to_string().contains("is not a task id"), "{err}");
    }
}
