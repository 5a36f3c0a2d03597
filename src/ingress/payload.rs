//! Reading a delivery's body: JSON as sent, or JSON inside the `payload=` field of a form, which
//! both GitHub and Gitea can be set to send. Used at the door (to refuse bodies that are not what
//! they claim) and again when the stored delivery is handled.

use serde::Deserialize;
use std::borrow::Cow;

/// A body that is not the JSON object it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The media type is neither JSON nor a form.
    #[error(
        "unsupported content type {0:?}: send application/json or application/x-www-form-urlencoded"
    )]
    UnsupportedMediaType(String),
    /// A form body without a `payload` field.
    #[error("form body has no payload field")]
    MissingFormPayload,
    /// The JSON does not parse, or is not an object.
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
}

/// The JSON bytes a body carries, decoded from a form when it is one.
pub fn json_bytes<'b>(content_type: &str, body: &'b [u8]) -> Result<Cow<'b, [u8]>, PayloadError> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => Ok(Cow::Borrowed(body)),
        "application/x-www-form-urlencoded" => form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| Cow::Owned(value.into_owned().into_bytes()))
            .ok_or(PayloadError::MissingFormPayload),
        _ => Err(PayloadError::UnsupportedMediaType(media)),
    }
}

/// What the door reads from a payload: enough to order deliveries per repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// `owner/name` of the repository, when the payload has one.
    pub repository: Option<String>,
    /// The GitHub App installation id, when the payload has one.
    pub installation: Option<i64>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    repository: Option<RepositoryProbe>,
    #[serde(default)]
    installation: Option<InstallationProbe>,
}

#[derive(Deserialize)]
struct RepositoryProbe {
    #[serde(default)]
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct InstallationProbe {
    #[serde(default)]
    id: Option<i64>,
}

/// Checks that the JSON is a whole object and reads its [`Subject`].
pub fn subject(json: &[u8]) -> Result<Subject, PayloadError> {
    let probe: Probe =
        serde_json::from_slice(json).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    Ok(Subject {
        repository: probe.repository.and_then(|r| r.full_name),
        installation: probe.installation.and_then(|i| i.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_form_bodies_alike() {
        let json = br#"{"repository":{"full_name":"octo/hello","id":1},"installation":{"id":7}}"#;
        let direct = json_bytes("application/json", json).unwrap();
        assert_eq!(
            subject(&direct).unwrap(),
            Subject {
                repository: Some("octo/hello".into()),
                installation: Some(7)
            }
        );
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", std::str::from_utf8(json).unwrap())
            .finish();
        let decoded = json_bytes(
            "application/x-www-form-urlencoded; charset=utf-8",
            form.as_bytes(),
        )
        .unwrap();
        assert_eq!(&*decoded, &json[..]);
    }

    #[test]
    fn refuses_what_is_not_a_json_object() {
        for bad in [&b"not json"[..], b"[1,2]", b"\"str\"", b"{\"a\":", b""] {
            assert!(
                matches!(subject(bad), Err(PayloadError::NotJson(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            json_bytes("application/x-www-form-urlencoded", b"other=1"),
            Err(PayloadError::MissingFormPayload)
        );
        assert!(matches!(
            json_bytes("text/plain", b"{}"),
            Err(PayloadError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn a_payload_without_repository_has_an_empty_subject() {
        assert_eq!(
            subject(br#"{"zen":"hi","repository":null}"#).unwrap(),
            Subject::default()
        );
    }
}
