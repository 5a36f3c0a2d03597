//! The schema half of the checker: a JSON value against an OpenAPI 3 / Swagger 2 schema, with
//! `$ref`, `oneOf`/`anyOf`/`allOf`, enums, types, required and undocumented properties.

use super::openapi::Spec;
use serde_json::Value;

impl Spec {
    /// Adds to `errors` every way `value` departs from `schema`; `strict` also demands the
    /// `required` fields (requests), which answers, kept small by design, skip.
    pub(crate) fn validate(
        &self,
        at: &str,
        value: &Value,
        schema: &Value,
        strict: bool,
        errors: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        for key in ["oneOf", "anyOf"] {
            if let Some(choices) = schema[key].as_array() {
                let fits = choices.iter().any(|choice| {
                    let mut trial = Vec::new();
                    self.validate(at, value, choice, strict, &mut trial);
                    trial.is_empty()
                });
                if !fits {
                    errors.push(format!(
                        "{at}: fits none of the {key} alternatives: {value}"
                    ));
                }
                return;
            }
        }
        if let Some(parts) = schema["allOf"].as_array() {
            let merged = self.merge_all_of(parts);
            self.validate(at, value, &merged, strict, errors);
            return;
        }
        if value.is_null() {
            let nullable = schema["nullable"] == true
                || schema["x-nullable"] == true
                || schema["type"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "null"));
            if !nullable && !strict {
                return;
            }
            if !nullable {
                errors.push(format!("{at}: null where {} is documented", schema["type"]));
            }
            return;
        }
        if let Some(choices) = schema["enum"].as_array()
            && !choices
                .iter()
                .any(|c| c == value || c.is_null() && value.is_null())
        {
            errors.push(format!(
                "{at}: {value} is not one of {}",
                Value::Array(choices.clone())
            ));
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ if schema.get("properties").is_some() => vec!["object"],
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| type_fits(t, value)) {
            errors.push(format!("{at}: {value} is not of type {}", types.join("|")));
            return;
        }
        if let (Some(object), Some(properties)) =
            (value.as_object(), schema["properties"].as_object())
        {
            let find = |name: &str| {
                properties.iter().find(|(k, _)| {
                    if self.swagger2 {
                        k.eq_ignore_ascii_case(name)
                    } else {
                        k.as_str() == name
                    }
                })
            };
            if strict {
                for name in schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let present = object.keys().any(|k| {
                        if self.swagger2 {
                            k.eq_ignore_ascii_case(name)
                        } else {
                            k == name
                        }
                    });
                    if !present {
                        errors.push(format!("{at}: required field {name} missing"));
                    }
                }
            }
            let open = schema["additionalProperties"].is_object()
                || schema["additionalProperties"] == true;
            for (name, field) in object {
                match find(name) {
                    Some((_, sub)) => {
                        self.validate(&format!("{at}.{name}"), field, sub, strict, errors)
                    }
                    None if !open => errors.push(format!("{at}: property {name} undocumented")),
                    None => {}
                }
            }
        }
        if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.validate(&format!("{at}[{i}]"), item, item_schema, strict, errors);
            }
        }
    }
}

impl Spec {
    /// One schema with the properties and required names of every `allOf` part, so a property
    /// documented by one part is not "undocumented" for another.
    fn merge_all_of(&self, parts: &[Value]) -> Value {
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        let mut open = false;
        for part in parts {
            let part = self.resolve(part);
            let part = match part["allOf"].as_array() {
                Some(inner) => self.merge_all_of(inner),
                None => part.clone(),
            };
            if let Some(own) = part["properties"].as_object() {
                properties.extend(own.clone());
            }
            required.extend(part["required"].as_array().cloned().unwrap_or_default());
            open |=
                part["additionalProperties"].is_object() || part["additionalProperties"] == true;
        }
        serde_json::json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": open,
        })
    }
}

fn type_fits(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

pub(crate) fn check_scalar(at: &str, schema: &Value, text: &str, errors: &mut Vec<String>) {
    if schema["type"] == "integer" && text.parse::<i64>().is_err() {
        errors.push(format!("{at}={text} is not an integer"));
    }
    if let Some(choices) = schema["enum"].as_array()
        && !choices.iter().any(|c| c.as_str() == Some(text))
    {
        errors.push(format!(
            "{at}={text} is not one of {}",
            Value::Array(choices.clone())
        ));
    }
}
