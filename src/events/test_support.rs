//! Helpers for the normalizers' unit tests: the project's own fixtures, edited per test case.

use super::{Event, Normalized};
use serde_json::Value;

/// Reads `tests/fixtures/webhooks/<forge>/<name>`.
pub(super) fn fixture(forge: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/webhooks/{forge}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Replaces (or adds) the value at a JSON pointer such as `/pull_request/merged`.
pub(super) fn with(bytes: &[u8], pointer: &str, value: Value) -> Vec<u8> {
    edit(bytes, pointer, |parent, key| {
        if let Some(map) = parent.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
    })
}

/// Removes the value at a JSON pointer.
pub(super) fn without(bytes: &[u8], pointer: &str) -> Vec<u8> {
    edit(bytes, pointer, |parent, key| {
        parent.as_object_mut().and_then(|map| map.remove(key));
    })
}

fn edit(bytes: &[u8], pointer: &str, change: impl FnOnce(&mut Value, &str)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(bytes).expect("fixture is JSON");
    let (parent, key) = pointer.rsplit_once('/').expect("pointer starts with /");
    let parent = value.pointer_mut(parent).expect("parent exists");
    change(parent, key);
    serde_json::to_vec(&value).expect("serializes")
}

/// The event, or a test failure that shows what came out instead.
pub(super) fn event(normalized: Normalized) -> Event {
    match normalized {
        Normalized::Event(event) => event,
        Normalized::Ignored(reason) => panic!("expected an event, ignored: {reason}"),
    }
}

/// The ignore reason, or a test failure that shows the event.
pub(super) fn ignored(normalized: Normalized) -> String {
    match normalized {
        Normalized::Ignored(reason) => reason,
        Normalized::Event(event) => panic!("expected ignored, got {event:?}"),
    }
}
