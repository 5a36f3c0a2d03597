//! The key-by-key reference of docs/policy.md, written from the JSON Schemas of the policy types
//! so the page cannot drift from what ade reads: every table and key with its type, allowed
//! values, default, server cap and description (the doc comments in `file.rs` and `server.rs`),
//! and a plain note on each key ade parses but does not act on yet.
//!
//! Two sentence forms in a key's doc comment are read as data: `Default …` (the built-in default,
//! `Default 2.` or `Default: the server's.`) fills the default column, and `Capped by
//! `limits.NAME`.` names the server limit that caps it. The tests check both against the code.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::{Map, Value};

use super::schema::{Format, render};
use super::{Limits, Policy};

/// The generated part of docs/policy.md, between its markers.
pub fn markdown() -> String {
    let policy = parse(&render::<Policy>(Format::Toml));
    let limits = parse(&render::<Limits>(Format::Toml));
    let mut out = String::new();
    out.push_str(
        "Every key of `.ade/config.toml`, written from the types ade reads it with. A key left \
         out takes the server's default (`[policy.defaults]` in `ade.toml`), else the built-in \
         default in the table. A number a server limit caps may not go beyond it.\n\n",
    );
    for (name, property) in properties(&policy, &policy) {
        let Some(def) = resolve(&policy, property) else {
            continue;
        };
        section(&mut out, &policy, name, def);
    }
    out.push_str("### `[policy.limits]` in `ade.toml`\n\n");
    if let Some(text) = limits.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{text}\n");
    }
    limits_table(&mut out, &limits, &policy);
    out
}

/// One table of the file (`[roles]`), and the tables of arrays under it (`[[dlp.rules]]`).
fn section(out: &mut String, root: &Value, key: &str, def: &Value) {
    let heading = format!("`[{key}]`");
    let _ = writeln!(out, "### {heading}\n");
    if let Some(text) = description(def) {
        let text = text.strip_prefix(&format!("{heading}: ")).unwrap_or(text);
        let _ = writeln!(out, "{}\n", capitalized(text));
    }
    let mut nested = Vec::new();
    let rows: Vec<Row> = properties(root, def)
        .map(|(name, property)| {
            let path = format!("{key}.{name}");
            let items = property.get("items").and_then(|i| resolve(root, i));
            if let Some(items) = items.filter(|i| i.get("properties").is_some()) {
                nested.push((path.clone(), items));
            }
            Row::of(root, def, name, property)
        })
        .collect();
    table(out, &rows);
    values(out, root, def);
    for (path, items) in nested {
        let _ = writeln!(out, "### `[[{path}]]`\n");
        if let Some(text) = description(items) {
            let _ = writeln!(out, "{text}\n");
        }
        let rows: Vec<Row> = properties(root, items)
            .map(|(name, property)| Row::of(root, items, name, property))
            .collect();
        table(out, &rows);
        values(out, root, items);
    }
}

/// One key of a table.
struct Row {
    key: String,
    kind: String,
    default: String,
    cap: Option<String>,
    description: String,
}

impl Row {
    fn of(root: &Value, table: &Value, name: &str, property: &Value) -> Row {
        let text = Described::of(description(property).unwrap_or_default());
        let required = table
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|k| k == name));
        let default = match (required, text.default) {
            (true, _) => "required".to_owned(),
            (false, Some(default)) => default,
            (false, None) => "none".to_owned(),
        };
        let cap = text.cap.map(|limit| {
            let value = serde_json::to_value(Limits::default())
                .ok()
                .and_then(|limits| limits.get(&limit).map(Value::to_string))
                .unwrap_or_default();
            format!("`limits.{limit}` ({value})")
        });
        let description = text.rest;
        Row {
            key: format!("`{name}`"),
            kind: kind(root, property),
            default,
            cap,
            description,
        }
    }
}

fn table(out: &mut String, rows: &[Row]) {
    let caps = rows.iter().any(|row| row.cap.is_some());
    if caps {
        out.push_str("| key | type | default | server cap (default) | description |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
    } else {
        out.push_str("| key | type | default | description |\n");
        out.push_str("| --- | --- | --- | --- |\n");
    }
    for row in rows {
        let mut cells = vec![&row.key, &row.kind, &row.default];
        let no_cap = String::new();
        if caps {
            cells.push(row.cap.as_ref().unwrap_or(&no_cap));
        }
        cells.push(&row.description);
        out.push('|');
        for cell in cells {
            let _ = write!(out, " {} |", cell.replace('|', "\\|").replace('\n', " "));
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The meaning of each value of the enumerations this table's keys take.
fn values(out: &mut String, root: &Value, table: &Value) {
    let mut seen = BTreeSet::new();
    for (_, property) in properties(root, table) {
        let target = property.get("items").unwrap_or(property);
        let Some(reference) = target.get("$ref").and_then(Value::as_str) else {
            continue;
        };
        let Some(choices) = resolve(root, target).and_then(|def| def.get("oneOf")) else {
            continue;
        };
        if !seen.insert(reference) {
            continue;
        }
        let users: Vec<String> = properties(root, table)
            .filter(|(_, p)| p.get("items").unwrap_or(p).get("$ref") == target.get("$ref"))
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        let _ = writeln!(out, "Values of {}:\n", join_words(&users, "and"));
        for choice in choices.as_array().into_iter().flatten() {
            let name = choice.get("const").and_then(Value::as_str).unwrap_or("");
            let text = description(choice).unwrap_or_default();
            let _ = writeln!(out, "- `{name}`: {text}");
        }
        out.push('\n');
    }
}

/// The `[policy.limits]` table: each limit with its default, and whether what it caps is acted on.
fn limits_table(out: &mut String, limits: &Value, policy: &Value) {
    let defaults = serde_json::to_value(Limits::default()).unwrap_or_default();
    let capped = caps(policy);
    let mut rows = Vec::new();
    for (name, property) in properties(limits, limits) {
        let nested = resolve(limits, property).filter(|def| def.get("properties").is_some());
        match nested {
            Some(def) => {
                let whole = description(property).unwrap_or_default();
                for (inner, property) in properties(limits, def) {
                    let default = defaults[name][inner].clone();
                    let mut row =
                        limit_row(limits, &format!("{name}.{inner}"), property, default, &[]);
                    row.description = format!(
                        "{}: {}",
                        row.description.trim_end_matches('.'),
                        lowercased(whole)
                    );
                    rows.push(row);
                }
            }
            None => {
                let default = defaults.get(name).cloned().unwrap_or(Value::Null);
                let keys: Vec<&str> = capped
                    .iter()
                    .filter(|(_, limit)| limit == name)
                    .map(|(key, _)| key.as_str())
                    .collect();
                rows.push(limit_row(limits, name, property, default, &keys));
            }
        }
    }
    table(out, &rows);
}

fn limit_row(root: &Value, name: &str, property: &Value, default: Value, caps: &[&str]) -> Row {
    let mut description = description(property).unwrap_or_default().to_owned();
    if !caps.is_empty() {
        let names: Vec<String> = caps.iter().map(|key| format!("`{key}`")).collect();
        let _ = write!(description, " Caps {}.", join_words(&names, "and"));
    }
    Row {
        key: format!("`{name}`"),
        kind: kind(root, property),
        default: match default {
            Value::Null => "none".to_owned(),
            value => format!("`{}`", toml_value(&value)),
        },
        cap: None,
        description,
    }
}

/// Every key of the repository policy a server limit caps, with that limit's name, as the doc
/// comments say (`Capped by `limits.NAME`.`).
pub(crate) fn caps(policy: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (table, property) in properties(policy, policy) {
        let Some(def) = resolve(policy, property) else {
            continue;
        };
        for (name, property) in properties(policy, def) {
            if let Some(limit) = Described::of(description(property).unwrap_or_default()).cap {
                out.push((format!("{table}.{name}"), limit));
            }
        }
    }
    out
}

/// Every key of the repository policy whose doc comment gives a built-in default as a value
/// (`Default 2.`, ``Default `"ade/"`.``), with that value as TOML, so a test can check them.
#[cfg(test)]
pub(crate) fn documented_defaults(policy: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (table, property) in properties(policy, policy) {
        let Some(def) = resolve(policy, property) else {
            continue;
        };
        for (name, property) in properties(policy, def) {
            let text = Described::of(description(property).unwrap_or_default());
            if let Some(value) = text.default.as_deref().and_then(literal) {
                out.push((format!("{table}.{name}"), value));
            }
        }
    }
    out
}

/// A default as TOML when it is one value (`2`, `` `"ade/"` ``, `` `false` ``), not prose.
#[cfg(test)]
fn literal(default: &str) -> Option<String> {
    if let Some(inner) = default
        .strip_prefix('`')
        .and_then(|rest| rest.strip_suffix('`'))
        .filter(|inner| !inner.contains('`'))
    {
        return Some(inner.to_owned());
    }
    default
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| default.to_owned())
        .filter(|d| !d.is_empty())
}

/// A key's doc comment, split into its default, its cap and the rest.
struct Described {
    default: Option<String>,
    cap: Option<String>,
    rest: String,
}

impl Described {
    fn of(text: &str) -> Described {
        let mut described = Described {
            default: None,
            cap: None,
            rest: String::new(),
        };
        let mut rest = Vec::new();
        for sentence in sentences(text) {
            let body = sentence.strip_suffix('.').unwrap_or(sentence);
            if let Some(default) = body
                .strip_prefix("Default: ")
                .or_else(|| body.strip_prefix("Default "))
            {
                described.default = Some(default.to_owned());
            } else if let Some(limit) = body
                .strip_prefix("Capped by `limits.")
                .and_then(|l| l.strip_suffix('`'))
            {
                described.cap = Some(limit.to_owned());
            } else {
                rest.push(sentence);
            }
        }
        described.rest = rest.join(" ");
        described
    }
}

/// The sentences of `text`: each ends at a `.` followed by a space or the end, outside code
/// spans.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_code = false;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'`' => in_code = !in_code,
            b'.' if !in_code
                && bytes
                    .get(i + 1)
                    .is_none_or(|next| next.is_ascii_whitespace()) =>
            {
                out.push(text[start..=i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// What a key takes, in words: `integer, at least 1`, `list of strings`, `` `close`, `draft` or
/// `label` ``.
fn kind(root: &Value, property: &Value) -> String {
    if let Some(def) = resolve(root, property) {
        if let Some(choices) = def.get("oneOf").and_then(Value::as_array) {
            let names: Vec<String> = choices
                .iter()
                .filter_map(|c| c.get("const").and_then(Value::as_str))
                .map(|name| format!("`{name}`"))
                .collect();
            return join_words(&names, "or");
        }
        if def.get("properties").is_some() {
            return "table".to_owned();
        }
    }
    let number = |key: &str| property.get(key).and_then(Value::as_u64);
    match property.get("type").and_then(Value::as_str) {
        Some("boolean") => "boolean".to_owned(),
        Some("integer") => match number("minimum") {
            Some(min) if min > 0 => format!("integer, at least {min}"),
            _ => "integer".to_owned(),
        },
        Some("string") => match (number("minLength"), number("maxLength")) {
            (Some(min), Some(max)) => format!("string, {min}–{max} characters"),
            (None, Some(max)) => format!("string, at most {max} characters"),
            _ => "string".to_owned(),
        },
        Some("array") => {
            let items = property.get("items").unwrap_or(&Value::Null);
            let what = if resolve(root, items).is_some_and(|d| d.get("properties").is_some()) {
                "tables".to_owned()
            } else {
                match items.get("type").and_then(Value::as_str) {
                    Some("string") => "strings".to_owned(),
                    _ => kind(root, items),
                }
            };
            match (number("minItems"), number("maxItems")) {
                (Some(min), Some(max)) => format!("list of {what}, {min}–{max} items"),
                _ => format!("list of {what}"),
            }
        }
        Some("object") => match property.get("additionalProperties") {
            Some(value @ Value::Object(_)) => format!("table of name = {}", kind(root, value)),
            _ => "table".to_owned(),
        },
        Some(other) => other.to_owned(),
        None => "any".to_owned(),
    }
}

/// The keys of an object schema, in the schema's (alphabetical) order.
fn properties<'a>(
    root: &'a Value,
    object: &'a Value,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    let object = resolve(root, object).unwrap_or(object);
    object
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::iter)
        .map(|(name, value)| (name.as_str(), value))
}

/// The definition a `$ref` points at; `None` for a schema without one.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let reference = schema.get("$ref")?.as_str()?;
    let name = reference.strip_prefix("#/$defs/")?;
    root.get("$defs")?.get(name)
}

fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str)
}

fn parse(schema: &str) -> Value {
    serde_json::from_str(schema).expect("a rendered schema is JSON")
}

/// A JSON value of a limit's default as TOML writes it.
fn toml_value(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn join_words(items: &[String], and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn lowercased(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
