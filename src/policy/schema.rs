//! Rendering the JSON Schemas ade publishes from its serde types, so that what `ade schema`
//! prints, what docs/schema/ holds and what the code accepts are one thing.

use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The file format a schema describes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// JSON: optional fields may be `null`, defaults are shown.
    Json,
    /// TOML: there is no null, and a key's default depends on the server, so none is shown.
    Toml,
}

/// The pretty-printed JSON Schema (draft 2020-12) of `T`, ending in a newline. Doc comments
/// become descriptions, with their line wrapping undone.
pub(crate) fn render<T: JsonSchema>(format: Format) -> String {
    let transform: fn(&mut Schema) = match format {
        Format::Json => unwrap_descriptions,
        Format::Toml => for_toml,
    };
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(transform))
        .into_generator()
        .into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

/// Joins the lines of a description that a doc comment wrapped, keeping paragraph breaks.
fn unwrap_descriptions(schema: &mut Schema) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text = text
            .split("\n\n")
            .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
}

/// Takes `null` and defaults out of what a schema says: a TOML key is either there or not.
fn for_toml(schema: &mut Schema) {
    unwrap_descriptions(schema);
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.remove("default");
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".to_owned(), only);
        }
    }
    if let Some(Value::Array(choices)) = object.get_mut("anyOf") {
        choices.retain(|choice| choice.get("type").is_none_or(|t| t != "null"));
        if let [Value::Object(only)] = choices.as_slice() {
            let only = only.clone();
            object.remove("anyOf");
            for (key, value) in only {
                object.entry(key).or_insert(value);
            }
        }
    }
}

/// Compares the committed schema at `relative` (from the package root) with `current`;
/// `ADE_UPDATE_SCHEMA=1` rewrites the file instead, so a change of the types is published by
/// running the tests once.
#[cfg(test)]
pub(crate) fn check_published(relative: &str, current: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("ADE_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, current).expect("docs/schema/ is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "{relative} is stale: run `ADE_UPDATE_SCHEMA=1 cargo test --lib schema_is_current` and commit it"
    );
}

/// Compares the part of the committed page at `relative` between the lines `begin` and `end` with
/// `current`, leaving the rest of the page (written by hand) alone; `ADE_UPDATE_SCHEMA=1` rewrites
/// that part instead, like [`check_published`].
#[cfg(test)]
pub(crate) fn check_published_part(
    relative: &str,
    begin: &str,
    end: &str,
    current: &str,
    test: &str,
) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let page = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(start), Some(stop)) = (page.find(begin), page.find(end)) else {
        panic!("{relative} has no line `{begin}` followed by a line `{end}`");
    };
    let start = start + begin.len() + 1;
    assert!(start <= stop, "{relative}: `{end}` comes before `{begin}`");
    let committed = &page[start..stop];
    if std::env::var_os("ADE_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        let updated = format!("{}{current}{}", &page[..start], &page[stop..]);
        std::fs::write(&path, updated).expect("docs/ is writable");
        return;
    }
    assert!(
        committed == current,
        "{relative} is stale: run `ADE_UPDATE_SCHEMA=1 cargo test --lib {test}` and commit it"
    );
}
