//! The generated reference of docs/policy.md, and the defaults and caps the doc comments state.

use super::*;
use crate::policy::reference::{caps, documented_defaults};

/// The lines of docs/policy.md around its generated part.
const BEGIN: &str = "<!-- Generated from src/policy/ (the doc comments of file.rs and server.rs) \
                     down to the closing marker: edit those, not this. -->";
const END: &str = "<!-- End of the generated reference. -->";

fn schema() -> serde_json::Value {
    serde_json::from_str(&json_schema()).unwrap()
}

#[test]
fn the_policy_reference_is_current() {
    schema::check_published_part(
        "docs/policy.md",
        BEGIN,
        END,
        &reference_markdown(),
        "policy_reference_is_current",
    );
}

#[test]
fn the_reference_has_every_table_and_key() {
    let text = reference_markdown();
    let schema = schema();
    for (table, property) in schema["properties"].as_object().unwrap() {
        assert!(text.contains(&format!("### `[{table}]`")), "{table}");
        let name = property["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/$defs/");
        for key in schema["$defs"][name]["properties"]
            .as_object()
            .unwrap()
            .keys()
        {
            assert!(text.contains(&format!("| `{key}` |")), "{table}.{key}");
        }
    }
    assert!(text.contains("### `[[verification.steps]]`"));
    assert!(text.contains("### `[[dlp.rules]]`"));
    assert!(text.contains("| `max_parallelism` | integer, at least 1 | `8` |"));
}

#[test]
fn setting_a_key_to_its_documented_default_changes_nothing() {
    let defaults = documented_defaults(&schema());
    assert!(defaults.len() >= 25, "{defaults:?}");
    let built_in = EffectivePolicy::default();
    for (key, value) in defaults {
        let (table, name) = key.split_once('.').unwrap();
        let policy = read(&format!("[{table}]\n{name} = {value}\n"));
        let effective = effective(&ServerPolicy::default(), &policy)
            .unwrap_or_else(|d| panic!("{key} = {value}: {d:?}"));
        assert_eq!(
            effective, built_in,
            "{key}: the documented default is {value}"
        );
    }
}

#[test]
fn every_documented_cap_refuses_a_value_above_it() {
    let caps = caps(&schema());
    assert_eq!(caps.len(), 19, "{caps:?}");
    let limits = serde_json::to_value(Limits::default()).unwrap();
    for (key, limit) in caps {
        let above = limits[&limit].as_u64().unwrap() + 1;
        let (table, name) = key.split_once('.').unwrap();
        let refusal = refused(
            &ServerPolicy::default(),
            &format!("[{table}]\n{name} = {above}\n"),
        );
        assert!(
            refusal
                .iter()
                .any(|d| d.contains(&format!("limits.{limit}"))),
            "{key} is not capped by limits.{limit}: {refusal:?}"
        );
    }
}
