//! `newsflow config check | show | reference`: the configuration as the
//! binary reads it, before anything runs.

use figment::value::Value;
use figment::{Figment, Profile, Provider};
use serde_json::Value as Json;

use crate::cli::{ConfigCheckArgs, ConfigCommand, ConfigShowArgs, OutputFormat};
use crate::config_keys::env_var_name;
use crate::config_reference::{self, tidy_floats};
use crate::settings::{Layers, DEFAULT_LAYER, ENV_PREFIX, FLAG_LAYER};

pub fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check(args) => check(args),
        ConfigCommand::Show(args) => show(args),
        ConfigCommand::Reference => {
            print!("{}", config_reference::markdown());
            Ok(())
        }
    }
}

fn check(args: ConfigCheckArgs) -> anyhow::Result<()> {
    let layers = Layers::gather(&args.config)?;
    layers.extract()?;
    match &layers.file {
        Some(file) => println!("configuration ok: {} and the environment", file.display()),
        None => println!("configuration ok: defaults and the environment (no file)"),
    }
    Ok(())
}

/// Where one key's value came from.
#[derive(Debug, serde::Serialize)]
struct KeySource {
    key: String,
    value: Json,
    /// `default`, `file`, `env` or `flag`.
    source: &'static str,
    /// The file, variable or flag that set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
}

fn show(args: ConfigShowArgs) -> anyhow::Result<()> {
    let layers = Layers::gather(&args.config)?;
    let settings = tidy_floats(&serde_json::to_value(layers.extract()?)?);
    let data = layers.figment.data()?;
    let merged = data.get(&Profile::Default);
    let mut keys = Vec::new();
    let mut stack = vec![(Vec::<String>::new(), &settings)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Json::Object(map) if !map.is_empty() && !is_free_table(&path) => {
                for (name, child) in map.iter().rev() {
                    let mut child_path = path.clone();
                    child_path.push(name.clone());
                    stack.push((child_path, child));
                }
            }
            _ => {
                let (source, origin) = source_of(&layers.figment, merged, &path);
                keys.push(KeySource {
                    key: path.join("."),
                    value: value.clone(),
                    source,
                    origin,
                });
            }
        }
    }
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"settings": settings, "keys": keys}))?
        ),
        OutputFormat::Text => {
            let width = keys
                .iter()
                .map(|k| k.key.len() + render(&k.value).len())
                .max()
                .unwrap_or(0);
            for key in &keys {
                let assignment = format!("{} = {}", key.key, render(&key.value));
                let from = match &key.origin {
                    Some(origin) => format!("{} {origin}", key.source),
                    None => key.source.to_string(),
                };
                println!("{assignment:<0$}  # {from}", width + 3);
            }
        }
    }
    Ok(())
}

/// Tables whose keys are free are shown whole, as one value.
fn is_free_table(path: &[String]) -> bool {
    path == ["bus", "kafka", "properties"]
}

fn render(value: &Json) -> String {
    match value {
        Json::Null => "(unset)".into(),
        other => other.to_string(),
    }
}

/// The layer that set `path`: the tag of the merged value names it.
fn source_of(
    figment: &Figment,
    merged: Option<&figment::value::Dict>,
    path: &[String],
) -> (&'static str, Option<String>) {
    let mut value: Option<&Value> = None;
    let mut dict = merged;
    for name in path {
        value = dict.and_then(|d| d.get(name));
        dict = match value {
            Some(Value::Dict(_, child)) => Some(child),
            _ => None,
        };
    }
    // A table is set by whoever set its entries (a free table's, say).
    while let Some(Value::Dict(_, entries)) = value {
        match entries.values().next() {
            Some(first) => value = Some(first),
            None => break,
        }
    }
    let Some(metadata) = value.and_then(|v| figment.get_metadata(v.tag())) else {
        return ("default", None);
    };
    if metadata.name == DEFAULT_LAYER {
        ("default", None)
    } else if metadata.name == FLAG_LAYER {
        let flag = match path.join(".").as_str() {
            "data_dir" => "--data-dir",
            "bus.kind" => "--bus",
            "bus.kafka.brokers" => "--brokers",
            _ => "",
        };
        ("flag", Some(flag.to_string()))
    } else if metadata.name.contains(ENV_PREFIX) {
        ("env", Some(env_var_name(path)))
    } else if let Some(file) = metadata.source.as_ref().and_then(|s| s.file_path()) {
        ("file", Some(file.display().to_string()))
    } else {
        ("default", Some(metadata.name.to_string()))
    }
}
