//! The README's metrics table lists every metric the code emits, with its
//! type and labels, and nothing the code does not emit: a scan of the
//! sources for the `metrics` macros against the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A metric as emitted or as documented: its type and its label names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Metric {
    kind: String,
    labels: BTreeSet<String>,
}

const MACROS: &[&str] = &["counter", "gauge", "histogram"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The text of a macro call's arguments, from just after `(` to its
/// matching `)` (string literals may hold parentheses; they are skipped).
fn call_arguments(text: &str) -> &str {
    let mut depth = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return &text[..at];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced macro call: {}", &text[..text.len().min(200)]);
}

/// The string literals of `text`, in order.
fn literals(text: &str) -> Vec<&str> {
    text.split('"').skip(1).step_by(2).collect()
}

/// Every `counter!` / `gauge!` / `histogram!` call in the sources: the
/// metric's name (the first literal) and the keys of its `"key" => value`
/// labels.
fn emitted(root: &Path) -> BTreeMap<String, Metric> {
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    let mut metrics: BTreeMap<String, Metric> = BTreeMap::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for kind in MACROS {
            let call = format!("{kind}!(");
            for (at, _) in source.match_indices(&call) {
                let arguments = call_arguments(&source[at + call.len()..]);
                let name = literals(arguments)
                    .first()
                    .unwrap_or_else(|| panic!("{}: {kind}! without a name", file.display()))
                    .to_string();
                let segments: Vec<&str> = arguments.split("=>").collect();
                // Each segment but the last ends with a label's key.
                let labels: BTreeSet<String> = segments[..segments.len() - 1]
                    .iter()
                    .filter_map(|before| {
                        let before = before.trim_end();
                        let key = before.strip_suffix('"')?;
                        Some(key[key.rfind('"')? + 1..].to_string())
                    })
                    .collect();
                let metric = metrics.entry(name.clone()).or_insert(Metric {
                    kind: kind.to_string(),
                    labels: BTreeSet::new(),
                });
                assert_eq!(metric.kind, *kind, "{name} is emitted as two types");
                metric.labels.extend(labels);
            }
        }
    }
    metrics
}

/// The README's table rows: | `name` | type | `label`, `label` | meaning |
fn documented(readme: &str) -> BTreeMap<String, Metric> {
    let mut metrics = BTreeMap::new();
    for line in readme.lines() {
        if !line.starts_with("| `newsflow_") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).skip(1).collect();
        assert!(cells.len() >= 4, "a metrics row without 4 cells: {line}");
        let name = cells[0].trim_matches('`').to_string();
        let labels = literals_in_backticks(cells[2]);
        let previous = metrics.insert(
            name.clone(),
            Metric {
                kind: cells[1].to_string(),
                labels,
            },
        );
        assert!(previous.is_none(), "{name} is listed twice");
    }
    metrics
}

fn literals_in_backticks(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_metric_in_the_code_is_in_the_readme_table_and_no_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let emitted = emitted(root);
    let documented = documented(&std::fs::read_to_string(root.join("README.md")).unwrap());
    // The scan itself works: the families the stage loop and the fetcher
    // have always emitted are found.
    for known in ["newsflow_inputs_total", "newsflow_fetcher_polls_total"] {
        assert!(emitted.contains_key(known), "the scan missed {known}");
    }
    let missing: Vec<&String> = emitted
        .keys()
        .filter(|name| !documented.contains_key(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics emitted but not in the README's metrics table: {missing:?}"
    );
    let stale: Vec<&String> = documented
        .keys()
        .filter(|name| !emitted.contains_key(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "metrics in the README's table that the code does not emit: {stale:?}"
    );
    for (name, metric) in &emitted {
        assert_eq!(
            &documented[name], metric,
            "{name}: the README's type or labels differ from the code's"
        );
    }
}
