//! One HTTP answer from a forge, read whole, and what its status means for ade.

use crate::forge::{ForgeError, ForgeResult};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// An answer after the retry loop is done with it: the caller decides which statuses are success
/// for its operation and turns the rest into a [`ForgeError`] with [`Reply::error`].
#[derive(Debug)]
pub(crate) struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// A header's value as text, when present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as `T`; a body of another shape is [`ForgeError::Malformed`], naming `what`.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> ForgeResult<T> {
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            ForgeError::Malformed(format!(
                "{what}: unexpected answer at `{}`: {}",
                e.path(),
                e
            ))
        })
    }

    /// The body as `T` if the status is 2xx, else the status as an error.
    pub fn success_json<T: DeserializeOwned>(&self, what: &str) -> ForgeResult<T> {
        if self.is_success() {
            self.json(what)
        } else {
            Err(self.error(what))
        }
    }

    /// `Ok(())` if the status is 2xx, else the status as an error.
    pub fn success(&self, what: &str) -> ForgeResult<()> {
        if self.is_success() {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// The forge's own explanation: the `message` of a JSON error body, else the start of the
    /// body text.
    pub fn message(&self) -> String {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            message: Option<String>,
        }
        let from_json = serde_json::from_slice::<ErrorBody>(&self.body)
            .ok()
            .and_then(|b| b.message)
            .filter(|m| !m.is_empty());
        let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
        super::truncate_chars(text.trim(), 300)
    }

    /// The error class of a non-2xx status, with `what` was attempted and the forge's words.
    pub fn error(&self, what: &str) -> ForgeError {
        let detail = format!("{what}: {} {}", self.status.as_u16(), self.message());
        match self.status.as_u16() {
            401 | 403 => ForgeError::Forbidden(detail),
            404 | 410 => ForgeError::NotFound(detail),
            429 => ForgeError::RateLimited {
                retry_after_ms: 60_000,
            },
            500..=599 => ForgeError::Unavailable(detail),
            _ => ForgeError::Rejected(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_map_to_error_classes_with_the_forge_message() {
        let e = reply(404, r#"{"message":"Not Found"}"#).error("read x");
        assert_eq!(e, ForgeError::NotFound("read x: 404 Not Found".into()));
        assert!(matches!(
            reply(403, "no").error("w"),
            ForgeError::Forbidden(_)
        ));
        assert!(matches!(
            reply(422, "{}").error("w"),
            ForgeError::Rejected(_)
        ));
        assert!(matches!(
            reply(502, "").error("w"),
            ForgeError::Unavailable(_)
        ));
    }

    #[test]
    fn a_body_of_the_wrong_shape_names_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Thing {
            id: i64,
        }
        let e = reply(200, r#"{"id":"seven"}"#)
            .json::<Thing>("read thing")
            .unwrap_err();
        let ForgeError::Malformed(text) = e else {
            panic!("{e:?}")
        };
        assert!(text.contains("`id`"), "{text}");
    }
}
