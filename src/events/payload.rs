//! What both forges' normalizers share: reading a payload as JSON with errors that name the path,
//! and the rules that do not depend on the dialect (bots, default-branch pushes, ignore reasons).

use super::{EventError, Normalized};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A delivery's body, parsed once and then read as whichever typed shape its event needs.
pub(super) struct Payload<'a> {
    event: &'a str,
    value: Value,
}

impl<'a> Payload<'a> {
    /// Parses the bytes; anything but a JSON object is refused.
    pub(super) fn parse(event: &'a str, bytes: &[u8]) -> Result<Self, EventError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|err| EventError {
            event: event.to_owned(),
            reason: format!("not valid JSON: {err}"),
        })?;
        if !value.is_object() {
            return Err(EventError {
                event: event.to_owned(),
                reason: "at `.`: expected a JSON object".to_owned(),
            });
        }
        Ok(Payload { event, value })
    }

    /// Reads the payload as `T`; a missing or mistyped field becomes an error naming its path.
    pub(super) fn read<T: DeserializeOwned>(&self) -> Result<T, EventError> {
        serde_path_to_error::deserialize(&self.value).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.inner().to_string();
            // serde reports a missing field at its parent; name the field itself instead.
            let missing = inner
                .strip_prefix("missing field `")
                .and_then(|rest| rest.strip_suffix('`'));
            match missing {
                Some(field) if path == "." => self.error(field, "missing"),
                Some(field) => self.error(&format!("{path}.{field}"), "missing"),
                None => self.error(&path, &inner),
            }
        })
    }

    /// A top-level string, read leniently: used to choose a path and to word ignore reasons, never
    /// to fill an event.
    pub(super) fn str_field(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }

    /// Whether a top-level key is present and not null.
    pub(super) fn has(&self, key: &str) -> bool {
        self.value.get(key).is_some_and(|v| !v.is_null())
    }

    /// An error about this payload at a JSON path.
    pub(super) fn error(&self, path: &str, why: &str) -> EventError {
        EventError {
            event: self.event.to_owned(),
            reason: format!("at `{path}`: {why}"),
        }
    }
}

/// Deserializes a field the forge may send as `null` into its default value.
pub(super) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// GitHub names app accounts `<slug>[bot]`; Gitea and Forgejo bots often follow the same habit.
pub(super) fn is_bot_login(login: &str) -> bool {
    login.ends_with("[bot]")
}

/// An empty string means "none" in both forges' optional text fields (`external_id`, `commit_id`).
pub(super) fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

/// Why a delivery was ignored, worded the same way for every forge: the event, the action when
/// there is one, and why.
pub(super) fn ignored(event: &str, action: Option<&str>, why: &str) -> Normalized {
    match action {
        Some(action) => Normalized::Ignored(format!("{event} {action}: {why}")),
        None => Normalized::Ignored(format!("{event}: {why}")),
    }
}

/// A push as both forges describe it, before deciding whether ade cares.
pub(super) struct PushRef<'p> {
    /// The full ref, `refs/heads/<branch>` for a branch.
    pub(super) git_ref: &'p str,
    /// The repository's default branch, when the payload says.
    pub(super) default_branch: Option<&'p str>,
    /// The commit the ref points at now; all zeros when the ref was deleted.
    pub(super) after: &'p str,
    /// Whether the forge says the ref was deleted.
    pub(super) deleted: bool,
}

/// The default branch's name when the push moved it, else why the push is not one ade acts on.
pub(super) fn default_branch_pushed<'p>(push: &PushRef<'p>) -> Result<&'p str, String> {
    let Some(branch) = push.git_ref.strip_prefix("refs/heads/") else {
        return Err(format!("{} is not a branch", push.git_ref));
    };
    if push.deleted || (!push.after.is_empty() && push.after.bytes().all(|b| b == b'0')) {
        return Err(format!("branch {branch} was deleted"));
    }
    match push.default_branch {
        Some(default) if default == branch => Ok(branch),
        Some(default) => Err(format!(
            "branch {branch} is not the default branch {default}"
        )),
        None => Err(format!(
            "branch {branch}: the payload has no repository.default_branch to compare with"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push<'p>(git_ref: &'p str, default: Option<&'p str>, after: &'p str) -> PushRef<'p> {
        PushRef {
            git_ref,
            default_branch: default,
            after,
            deleted: false,
        }
    }

    #[test]
    fn default_branch_push_is_told_from_others() {
        assert_eq!(
            default_branch_pushed(&push("refs/heads/main", Some("main"), "ab12")),
            Ok("main")
        );
        let nested = push("refs/heads/release/1.0", Some("release/1.0"), "ab12");
        assert_eq!(default_branch_pushed(&nested), Ok("release/1.0"));
        for (git_ref, default, after) in [
            ("refs/heads/feature", Some("main"), "ab12"),
            ("refs/tags/main", Some("main"), "ab12"),
            ("refs/heads/main", None, "ab12"),
            (
                "refs/heads/main",
                Some("main"),
                "0000000000000000000000000000000000000000",
            ),
            ("main", Some("main"), "ab12"),
        ] {
            assert!(default_branch_pushed(&push(git_ref, default, after)).is_err());
        }
        let deleted = PushRef {
            deleted: true,
            ..push("refs/heads/main", Some("main"), "ab12")
        };
        assert!(default_branch_pushed(&deleted).is_err());
    }

    #[test]
    fn payload_must_be_a_json_object() {
        for body in [&b""[..], b"[]", b"\"x\"", b"12", b"{", b"null", b"\xff"] {
            assert!(Payload::parse("push", body).is_err(), "{body:?}");
        }
        assert!(Payload::parse("push", b"{}").is_ok());
    }

    #[test]
    fn read_errors_name_the_path() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            inner: Inner,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            number: i64,
        }
        let payload = Payload::parse("issues", br#"{"inner":{"number":"7"}}"#).unwrap();
        let err = payload.read::<Outer>().unwrap_err();
        assert_eq!(err.event, "issues");
        assert!(
            err.reason.starts_with("at `inner.number`: invalid type"),
            "{}",
            err.reason
        );
        let missing = Payload::parse("issues", br#"{"inner":{}}"#).unwrap();
        let err = missing.read::<Outer>().unwrap_err();
        assert_eq!(err.reason, "at `inner.number`: missing");
        let err = Payload::parse("issues", b"{}")
            .unwrap()
            .read::<Outer>()
            .unwrap_err();
        assert_eq!(err.reason, "at `inner`: missing");
    }
}
