//! What the normalizer targets share: the framing of a delivery in one fuzz input, and the
//! properties every normalized delivery must have, whichever forge it came from.

use ade::events::{self, EventHeaders, Normalized};
use ade::forge::ForgeKind;
use ade::ingress::payload;

/// A delivery as the dispatcher reads it back from the store: the event headers, the content
/// type and the body, all taken from one fuzz input.
pub struct Delivery<'a> {
    /// `X-GitHub-Event` or `X-Gitea-Event`.
    pub event: String,
    /// `X-Gitea-Event-Type`; an empty line means the header was absent.
    pub event_type: Option<String>,
    /// `Content-Type`.
    pub content_type: String,
    /// The body as sent.
    pub body: &'a [u8],
}

impl<'a> Delivery<'a> {
    /// Reads `event \n event_type \n content_type \n body`: three header lines (any bytes, read
    /// leniently as UTF-8, as no header the door passes on is anything else) and the body, whose
    /// bytes are taken as they are. Missing lines are empty. Seeds are written in this form
    /// (fuzz/README.md).
    pub fn parse(data: &'a [u8]) -> Delivery<'a> {
        let mut rest = data;
        let mut line = || {
            let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let text = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = rest.get(end + 1..).unwrap_or(&[]);
            text
        };
        let event = line();
        let event_type = Some(line()).filter(|t| !t.is_empty());
        let content_type = line();
        Delivery {
            event,
            event_type,
            content_type,
            body: rest,
        }
    }
}

/// Runs one delivery through what the ingress and the dispatcher run on it (the door's probe,
/// the body's decoding, the normalizer) and checks what comes out:
/// - nothing panics, whatever the bytes and headers;
/// - a refusal names the event header it read the payload as;
/// - an event is of the forge it came from, and survives the JSON round trip the events table
///   puts it through (stored with `serde_json::to_string`, read back with `from_str`).
pub fn check_delivery(forge: ForgeKind, data: &[u8]) {
    let delivery = Delivery::parse(data);
    let Ok(json) = payload::json_bytes(&delivery.content_type, delivery.body) else {
        return;
    };
    let _ = payload::subject(&json);
    let headers = EventHeaders {
        event: &delivery.event,
        event_type: delivery.event_type.as_deref(),
    };
    match events::normalize(forge, &headers, &json) {
        Err(err) => {
            assert_eq!(err.event, delivery.event);
            assert!(!err.reason.is_empty());
        }
        Ok(Normalized::Ignored(reason)) => assert!(!reason.is_empty()),
        Ok(Normalized::Event(event)) => {
            assert_eq!(event.forge, forge);
            let _ = (event.name(), event.kind.number());
            let stored = serde_json::to_string(&event).expect("an event always serializes");
            let read: events::Event =
                serde_json::from_str(&stored).expect("a stored event reads back");
            assert_eq!(read, event, "the event changed through storage: {stored}");
        }
    }
}
