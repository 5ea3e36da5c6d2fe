//! The key reference (`docs/config-reference.md`), written from the JSON
//! Schema of the settings: the config types' doc comments are the one place
//! a key is described.

use std::fmt::Write;

use serde_json::Value as Json;

use crate::config_keys::{env_var_name, settings_schema};

/// The whole reference, as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the configuration types' doc comments by `newsflow config reference`: \
         do not edit by hand. `UPDATE_SNAPSHOTS=1 cargo test --test operations` rewrites it \
         (the test fails while it is stale).\n\n\
         Every key can be set in the TOML file (`--config FILE`, default `config/newsflow.toml`) \
         and overridden by the environment variable shown (`NEWSFLOW_` and the key's path in \
         capitals, `__` between levels); `--data-dir`, `--bus` and `--brokers` override \
         `data_dir`, `bus.kind` and `bus.kafka.brokers`. An unknown key or variable is refused. \
         `newsflow config show` prints the effective value of each key and where it came from.\n",
    );
    let schema = settings_schema();
    section(&mut out, &schema, &[]);
    out
}

fn section(out: &mut String, schema: &Json, path: &[String]) {
    let Some(properties) = table_properties(schema) else {
        return;
    };
    let title = if path.is_empty() {
        "Top level".to_string()
    } else {
        format!("`[{}]`", path.join("."))
    };
    let _ = write!(out, "\n## {title}\n\n");
    if let Some(text) = schema.get("description").and_then(Json::as_str) {
        if !path.is_empty() {
            let _ = write!(out, "{}\n\n", one_line(text));
        }
    }
    let values: Vec<_> = properties
        .iter()
        .filter(|(_, child)| table_properties(child).is_none())
        .collect();
    if !values.is_empty() {
        out.push_str("| key | type | default | environment variable | meaning |\n");
        out.push_str("|---|---|---|---|---|\n");
        for (name, child) in values {
            let mut key_path = path.to_vec();
            key_path.push(name.clone());
            let _ = writeln!(
                out,
                "| `{name}` | {} | {} | `{}` | {} |",
                type_of(child),
                default_of(child),
                env_var_name(&key_path),
                child
                    .get("description")
                    .and_then(Json::as_str)
                    .map(one_line)
                    .unwrap_or_default()
            );
        }
    }
    for (name, child) in properties {
        if table_properties(child).is_some() {
            let mut child_path = path.to_vec();
            child_path.push(name.clone());
            section(out, child, &child_path);
        }
    }
}

/// The keys of a schema that describes a table with fixed keys.
fn table_properties(schema: &Json) -> Option<&serde_json::Map<String, Json>> {
    schema.get("properties").and_then(Json::as_object)
}

fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// A short type name: `string`, `integer ≥ 0`, `"a" \| "b"`, `table of strings`.
fn type_of(schema: &Json) -> String {
    // An optional value of another type (an optional choice): that type.
    if let Some(alternatives) = schema.get("anyOf").and_then(Json::as_array) {
        let (nulls, types): (Vec<&Json>, Vec<&Json>) = alternatives
            .iter()
            .partition(|a| a.get("type").and_then(Json::as_str) == Some("null"));
        if !types.is_empty() {
            let text = types
                .into_iter()
                .map(type_of)
                .collect::<Vec<_>>()
                .join(" or ");
            return if nulls.is_empty() {
                text
            } else {
                format!("{text} (optional)")
            };
        }
    }
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        return values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    if let Some(alternatives) = schema.get("oneOf").and_then(Json::as_array) {
        let consts: Vec<String> = alternatives
            .iter()
            .filter_map(|a| a.get("const"))
            .map(|v| format!("`{v}`"))
            .collect();
        if consts.len() == alternatives.len() {
            return consts.join(" \\| ");
        }
    }
    let mut kinds: Vec<&str> = match schema.get("type") {
        Some(Json::String(kind)) => vec![kind.as_str()],
        Some(Json::Array(kinds)) => kinds.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    };
    let optional = kinds.contains(&"null");
    kinds.retain(|kind| *kind != "null");
    let mut text = kinds
        .iter()
        .map(|kind| match *kind {
            "object" => match schema
                .get("additionalProperties")
                .and_then(|a| a.get("type"))
            {
                Some(Json::String(inner)) => format!("table of {inner}s"),
                _ => "table".to_string(),
            },
            "integer" if schema.get("minimum").and_then(Json::as_f64) == Some(0.0) => {
                "integer ≥ 0".to_string()
            }
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" or ");
    if text.is_empty() {
        text = "value".into();
    }
    if optional {
        text.push_str(" (optional)");
    }
    text
}

fn default_of(schema: &Json) -> String {
    match schema.get("default") {
        None | Some(Json::Null) => "unset".into(),
        Some(Json::Object(map)) if map.is_empty() => "empty".into(),
        Some(value) => format!("`{}`", tidy_floats(value).to_string().replace('|', "\\|")),
    }
}

/// `value` with every number that came from an `f32` written as that `f32`
/// is (`0.15`, not `0.15000000596046448`).
pub fn tidy_floats(value: &Json) -> Json {
    match value {
        Json::Number(number) => match number.as_f64() {
            Some(x) if !number.is_i64() && !number.is_u64() && f64::from(x as f32) == x => {
                format!("{}", x as f32)
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| value.clone(), Json::Number)
            }
            _ => value.clone(),
        },
        Json::Array(items) => Json::Array(items.iter().map(tidy_floats).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), tidy_floats(item)))
                .collect(),
        ),
        other => other.clone(),
    }
}
