//! Which configuration keys exist, read from the JSON Schema of
//! [`Settings`] (so the config types are the one list), and the check that
//! refuses any other key a layer sets, naming the nearest one that exists.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use figment::value::{Dict, Value};
use figment::{Figment, Profile, Provider};
use serde_json::Value as Json;

use crate::settings::{Settings, ENV_PREFIX};

/// What may sit under a key.
#[derive(Debug)]
pub enum KeyNode {
    /// A value: a string, number, bool or list.
    Value,
    /// A section with a fixed set of keys.
    Table(BTreeMap<String, KeyNode>),
    /// A section whose keys are free (e.g. `bus.kafka.properties`).
    AnyKeys,
}

/// The tree of keys the configuration knows.
#[derive(Debug)]
pub struct KnownKeys {
    root: BTreeMap<String, KeyNode>,
}

/// The JSON Schema of [`Settings`] with every definition inlined.
pub fn settings_schema() -> Json {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    generator.into_root_schema_for::<Settings>().to_value()
}

impl KnownKeys {
    pub fn of_settings() -> Self {
        match node_of(&settings_schema()) {
            KeyNode::Table(root) => KnownKeys { root },
            other => unreachable!("the settings are a table, not {other:?}"),
        }
    }

    /// Every key path that holds a value or free keys, dotted.
    pub fn leaf_paths(&self) -> Vec<Vec<String>> {
        fn walk(table: &BTreeMap<String, KeyNode>, prefix: &[String], out: &mut Vec<Vec<String>>) {
            for (name, node) in table {
                let mut path = prefix.to_vec();
                path.push(name.clone());
                match node {
                    KeyNode::Table(children) => walk(children, &path, out),
                    KeyNode::Value | KeyNode::AnyKeys => out.push(path),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &[], &mut out);
        out
    }
}

/// The key tree a schema describes. Options and other unions are looked
/// through: a key is a table if any of its alternatives is.
pub fn node_of(schema: &Json) -> KeyNode {
    if let Some(properties) = schema.get("properties").and_then(Json::as_object) {
        return KeyNode::Table(
            properties
                .iter()
                .map(|(name, child)| (name.clone(), node_of(child)))
                .collect(),
        );
    }
    for union in ["anyOf", "oneOf", "allOf"] {
        if let Some(alternatives) = schema.get(union).and_then(Json::as_array) {
            for alternative in alternatives {
                match node_of(alternative) {
                    KeyNode::Value => {}
                    node => return node,
                }
            }
        }
    }
    let is_object = schema.get("type").and_then(Json::as_str) == Some("object");
    let free = schema
        .get("additionalProperties")
        .is_some_and(|extra| extra != &Json::Bool(false));
    if is_object && free {
        KeyNode::AnyKeys
    } else {
        KeyNode::Value
    }
}

/// Where an unknown key was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Environment,
    Other(String),
}

/// A key that some layer sets and the configuration does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// The key's path, down to the first unknown part.
    pub path: Vec<String>,
    pub origin: Origin,
    /// The nearest key that exists, as a full path.
    pub suggestion: Option<Vec<String>>,
}

/// The environment variable that sets a key path.
pub fn env_var_name(path: &[String]) -> String {
    format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase())
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Environment => {
                write!(
                    f,
                    "unknown environment variable {}",
                    env_var_name(&self.path)
                )?;
                match &self.suggestion {
                    Some(path) => write!(f, ": did you mean {}?", env_var_name(path)),
                    None => Ok(()),
                }
            }
            origin => {
                write!(f, "unknown key `{}`", self.path.join("."))?;
                match origin {
                    Origin::File(file) => write!(f, " in {}", file.display())?,
                    Origin::Other(name) => write!(f, " from {name}")?,
                    Origin::Environment => unreachable!(),
                }
                match &self.suggestion {
                    // A sibling is named alone, as it would be written in
                    // the same table; a key elsewhere by its full path.
                    Some(path) if path[..path.len() - 1] == self.path[..self.path.len() - 1] => {
                        write!(f, ": did you mean {}?", path[path.len() - 1])
                    }
                    Some(path) => write!(f, ": did you mean {}?", path.join(".")),
                    None => Ok(()),
                }
            }
        }
    }
}

/// At most this many unknown keys are listed (with a suggestion each), then
/// how many more there are: a file of garbage gets a short answer, fast.
pub const REPORTED_UNKNOWN_KEYS: usize = 20;

/// Every key set in `figment` that `known` does not have; those after the
/// first [`REPORTED_UNKNOWN_KEYS`] without a suggestion.
pub fn unknown_keys(figment: &Figment, known: &KnownKeys) -> anyhow::Result<Vec<UnknownKey>> {
    let data = figment.data()?;
    let mut found = Vec::new();
    if let Some(dict) = data.get(&Profile::Default) {
        let mut search = Search {
            figment,
            known,
            found: &mut found,
        };
        search.table(dict, &known.root, &mut Vec::new());
    }
    Ok(found)
}

struct Search<'a> {
    figment: &'a Figment,
    known: &'a KnownKeys,
    found: &'a mut Vec<UnknownKey>,
}

impl Search<'_> {
    fn table(&mut self, dict: &Dict, known: &BTreeMap<String, KeyNode>, path: &mut Vec<String>) {
        for (name, value) in dict {
            path.push(name.clone());
            match known.get(name) {
                Some(KeyNode::Table(children)) => {
                    if let Value::Dict(_, child) = value {
                        self.table(child, children, path);
                    }
                    // Anything else under a table is a type error, which
                    // reading the settings reports with the key.
                }
                Some(KeyNode::Value | KeyNode::AnyKeys) => {}
                None => self.unknown(value, known, path),
            }
            path.pop();
        }
    }

    fn suggesting(&self) -> bool {
        self.found.len() < REPORTED_UNKNOWN_KEYS
    }

    fn unknown(&mut self, value: &Value, siblings: &BTreeMap<String, KeyNode>, path: &[String]) {
        let origin = match self.figment.get_metadata(value.tag()) {
            Some(metadata) if metadata.name.contains(ENV_PREFIX) => Origin::Environment,
            Some(metadata) => match metadata.source.as_ref().and_then(|s| s.file_path()) {
                Some(file) => Origin::File(file.to_path_buf()),
                None => Origin::Other(metadata.name.to_string()),
            },
            None => Origin::Other("an unknown source".into()),
        };
        if origin == Origin::Environment {
            // One variable per value: name each of them whole.
            for leaf in leaves(value, path) {
                let suggestion = self
                    .suggesting()
                    .then(|| nearest_env(&leaf, self.known))
                    .flatten();
                self.found.push(UnknownKey {
                    path: leaf,
                    origin: Origin::Environment,
                    suggestion,
                });
            }
        } else {
            let suggestion = self
                .suggesting()
                .then(|| nearest_key(path, siblings, self.known))
                .flatten();
            self.found.push(UnknownKey {
                path: path.to_vec(),
                origin,
                suggestion,
            });
        }
    }
}

/// The paths of the values under `value` (itself if it is not a table).
fn leaves(value: &Value, path: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(path.to_vec(), value)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::Dict(_, dict) if !dict.is_empty() => {
                for (name, child) in dict {
                    let mut child_path = path.clone();
                    child_path.push(name.clone());
                    stack.push((child_path, child));
                }
            }
            _ => out.push(path),
        }
    }
    out.sort();
    out
}

/// For a value that is not one of its key's choices, the nearest choice.
pub fn nearest_variant(error: &figment::Error) -> Option<&'static str> {
    match &error.kind {
        figment::error::Kind::UnknownVariant(found, expected)
            if found.len() <= SUGGEST_UP_TO_BYTES =>
        {
            expected
                .iter()
                .map(|choice| (likeness(found, choice), *choice))
                .filter(|(score, _)| *score >= SUGGEST_AT)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, choice)| choice)
        }
        _ => None,
    }
}

/// How alike two names are, 0..=1.
fn likeness(a: &str, b: &str) -> f64 {
    strsim::normalized_damerau_levenshtein(a, b).max(strsim::jaro_winkler(a, b) - 0.15)
}

/// Names at least this alike are offered as a correction.
const SUGGEST_AT: f64 = 0.7;

/// Longer names are no typo of a key (the longest is under 40 bytes), and
/// comparing them would cost their length times every key's.
const SUGGEST_UP_TO_BYTES: usize = 128;

fn best<'a>(
    target: &str,
    candidates: impl Iterator<Item = &'a Vec<String>>,
    name: impl Fn(&[String]) -> String,
) -> Option<Vec<String>> {
    if target.len() > SUGGEST_UP_TO_BYTES {
        return None;
    }
    candidates
        .map(|candidate| (likeness(target, &name(candidate)), candidate))
        .filter(|(score, _)| *score >= SUGGEST_AT)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate.clone())
}

/// The nearest key to an unknown file key: a sibling with a similar name,
/// else a key elsewhere with the same (or a similar) last part.
fn nearest_key(
    path: &[String],
    siblings: &BTreeMap<String, KeyNode>,
    known: &KnownKeys,
) -> Option<Vec<String>> {
    let name = path.last()?;
    let parent = &path[..path.len() - 1];
    let sibling_paths: Vec<Vec<String>> = siblings
        .keys()
        .map(|sibling| {
            let mut full = parent.to_vec();
            full.push(sibling.clone());
            full
        })
        .collect();
    let last = |p: &[String]| p.last().cloned().unwrap_or_default();
    best(name, sibling_paths.iter(), last).or_else(|| {
        let elsewhere = known.leaf_paths();
        best(name, elsewhere.iter(), last)
    })
}

/// The nearest variable to an unknown one, compared whole (a variable may
/// be off by a separator as easily as by a letter).
fn nearest_env(path: &[String], known: &KnownKeys) -> Option<Vec<String>> {
    let wanted = path.join("__");
    let elsewhere = known.leaf_paths();
    best(&wanted, elsewhere.iter(), |p| p.join("__")).or_else(|| {
        let name = path.last()?;
        best(name, elsewhere.iter(), |p| {
            p.last().cloned().unwrap_or_default()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Toml};

    fn unknown_in(toml: &str) -> Vec<String> {
        let figment = Figment::from(Toml::string(toml));
        unknown_keys(&figment, &KnownKeys::of_settings())
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_config_section_is_known() {
        let known = KnownKeys::of_settings();
        let paths: Vec<String> = known.leaf_paths().iter().map(|p| p.join(".")).collect();
        for expected in [
            "data_dir",
            "feeds",
            "bus.kind",
            "bus.embedded.max_backlog",
            "bus.kafka.properties",
            "fetcher.user_agent",
            "cleaner.min_body_chars",
            "dedup.near_jaccard",
            "clusterer.join_threshold",
            "topics.dedup_group",
        ] {
            assert!(
                paths.contains(&expected.to_string()),
                "{expected} missing from {paths:?}"
            );
        }
    }

    #[test]
    fn a_misspelt_key_is_named_with_its_sibling() {
        let found = unknown_in("[bus.embedded]\nmax_backlg = 5\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`bus.embedded.max_backlg`"), "{found:?}");
        assert!(found[0].ends_with("did you mean max_backlog?"), "{found:?}");
    }

    #[test]
    fn a_misspelt_section_is_named_once() {
        let found = unknown_in("[fetchr]\nuser_agent = \"x\"\nmax_redirects = 2\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`fetchr`"), "{found:?}");
        assert!(found[0].ends_with("did you mean fetcher?"), "{found:?}");
    }

    #[test]
    fn a_key_in_the_wrong_section_is_pointed_to_its_place() {
        let found = unknown_in("max_backlog = 5\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].ends_with("did you mean bus.embedded.max_backlog?"),
            "{found:?}"
        );
    }

    #[test]
    fn a_name_like_nothing_gets_no_suggestion() {
        let found = unknown_in("[clusterer]\nzzzzqqq = 1\n");
        assert_eq!(
            found,
            vec!["unknown key `clusterer.zzzzqqq` from TOML source string".to_string()]
        );
    }

    #[test]
    fn free_tables_take_any_key_and_known_keys_pass() {
        let found = unknown_in(
            "data_dir = \"d\"\n[bus.kafka]\nbrokers = \"b:1\"\n[bus.kafka.properties]\n\"any.thing\" = \"1\"\n",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_file_of_unknown_keys_is_answered_fast() {
        let mut toml = String::new();
        for i in 0..20_000 {
            toml.push_str(&format!("key_{i}_{} = {i}\n", "x".repeat(i % 300)));
        }
        let started = std::time::Instant::now();
        let found = unknown_in(&toml);
        assert_eq!(found.len(), 20_000);
        // Generous: what takes milliseconds must not take quadratic time.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn the_suggestion_for_a_variable_is_a_variable() {
        let path: Vec<String> = ["bus_kind"].iter().map(|s| s.to_string()).collect();
        let found = UnknownKey {
            suggestion: nearest_env(&path, &KnownKeys::of_settings()),
            path,
            origin: Origin::Environment,
        };
        assert_eq!(
            found.to_string(),
            "unknown environment variable NEWSFLOW_BUS_KIND: did you mean NEWSFLOW_BUS__KIND?"
        );
    }
}
