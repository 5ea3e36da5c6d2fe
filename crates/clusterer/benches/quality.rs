//! Quality bench: replays every labelled set of the clustering benchmark
//! with ONE configuration and prints one table (BCubed P/R/F1, NMI, against
//! the bars). Scores are computed in Rust and, when python3 is
//! available, cross-checked with the benchmark's own `score.py`. The last
//! row is the repository's Baku fixture, which needs no external data.
//!
//! `cargo bench -p newsflow-clusterer --bench quality`
//! Data: `$NEWSFLOW_BENCH_DIR/clustering` (default `../shared/bench` from the
//! repository root). `NEWSFLOW_CLUSTERER_CONFIG` may hold a JSON object of
//! configuration overrides, for experiments.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

use newsflow_clusterer::scoring::{score, Scores};
use newsflow_clusterer::{replay, Clusterer, ClustererConfig};

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

struct Set {
    name: &'static str,
    file: &'static str,
    text_field: Option<&'static str>,
    bar_f1: Option<f64>,
    bar_nmi: Option<f64>,
}

const SETS: &[Set] = &[
    Set {
        name: "googlenews dev text, news order",
        file: "googlenews/dev.news_order.jsonl",
        text_field: Some("text"),
        bar_f1: Some(0.92),
        bar_nmi: Some(0.955),
    },
    Set {
        name: "googlenews dev text, news_t order",
        file: "googlenews/dev.news_t_order.jsonl",
        text_field: Some("text"),
        bar_f1: Some(0.92),
        bar_nmi: Some(0.955),
    },
    Set {
        name: "googlenews dev mstream_title, news_t",
        file: "googlenews/dev.news_t_order.jsonl",
        text_field: Some("mstream_title"),
        bar_f1: Some(0.75),
        bar_nmi: None,
    },
    Set {
        name: "googlenews dev mstream_title, news",
        file: "googlenews/dev.news_order.jsonl",
        text_field: Some("mstream_title"),
        bar_f1: None,
        bar_nmi: None,
    },
    Set {
        name: "ecb+ dev",
        file: "ecbplus/ecbplus_dev.jsonl",
        text_field: Some("text"),
        bar_f1: Some(0.84),
        bar_nmi: None,
    },
    Set {
        name: "ecb+ train (no bar; a check)",
        file: "ecbplus/ecbplus_train.jsonl",
        text_field: Some("text"),
        bar_f1: None,
        bar_nmi: None,
    },
];

fn bench_dir() -> PathBuf {
    std::env::var_os("NEWSFLOW_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench"))
        .join("clustering")
}

fn config() -> ClustererConfig {
    match std::env::var("NEWSFLOW_CLUSTERER_CONFIG") {
        Ok(json) => serde_json::from_str(&json)
            .expect("NEWSFLOW_CLUSTERER_CONFIG is a JSON object of config fields"),
        Err(_) => ClustererConfig::default(),
    }
}

fn gold_labels(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .expect("gold file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("gold line");
            let text = |x: &serde_json::Value| match x {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (text(&v["id"]), text(&v["cluster"]))
        })
        .collect()
}

/// `score.py`'s BCubed F1 and NMI for a prediction file, when python3 runs.
fn score_py(prediction: &Path, gold: &Path) -> Option<(f64, f64)> {
    let output = Command::new("python3")
        .arg(bench_dir().join("score.py"))
        .arg(prediction)
        .arg(gold)
        .arg("--json")
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    Some((v["bcubed"]["f1"].as_f64()?, v["nmi"].as_f64()?))
}

fn main() {
    let dir = bench_dir();
    let config = config();
    println!("configuration: {config:?}\n");
    println!(
        "| set | docs | events (gold) | BCubed P | BCubed R | BCubed F1 | NMI | bar | score.py |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    if dir.join("score.py").exists() {
        benchmark_sets(&dir, &config);
    } else {
        println!(
            "| clustering benchmark data not found at {} (set NEWSFLOW_BENCH_DIR) | | | | | | | | |",
            dir.display()
        );
    }
    baku_fixture(&config);
}

/// The repository's fixture stories in publication order: the five Baku
/// seeds must form one event with nothing else in it.
fn baku_fixture(config: &ClustererConfig) {
    const BAKU: &str = "baku-putin-aliyev";
    let stories = common::fixture_stories();
    let mut clusterer = Clusterer::new(config.clone());
    for story in &stories {
        clusterer.add(story.document.clone());
    }
    let predicted: Vec<&str> = stories
        .iter()
        .map(|s| clusterer.event_of(&s.document.id).expect("placed"))
        .collect();
    let gold: Vec<&str> = stories.iter().map(|s| s.gold_event.as_str()).collect();
    let s = score(&gold, &predicted);
    let baku_events: std::collections::BTreeSet<&str> = gold
        .iter()
        .zip(&predicted)
        .filter(|(g, _)| **g == BAKU)
        .map(|(_, p)| *p)
        .collect();
    let seeds = gold.iter().filter(|g| **g == BAKU).count();
    let alone = baku_events.len() == 1
        && predicted
            .iter()
            .zip(&gold)
            .filter(|(p, _)| baku_events.contains(*p))
            .all(|(_, g)| *g == BAKU);
    print_row(
        "Baku fixture (publication order)",
        stories.len(),
        &s,
        &format!("{seeds} seeds in one event, nothing else: {}", pass(alone)),
        "n/a",
    );
}

fn benchmark_sets(dir: &Path, config: &ClustererConfig) {
    let scratch = tempfile_dir();
    for set in SETS {
        let path = dir.join(set.file);
        let Ok(file) = std::fs::File::open(&path) else {
            println!("| {} | missing | | | | | | | |", set.name);
            continue;
        };
        let mut output = Vec::new();
        replay::run(
            &mut BufReader::new(file),
            &mut output,
            set.text_field,
            config,
        )
        .expect("replay");
        let text = String::from_utf8(output).expect("utf-8 output");
        let predicted: Vec<&str> = text
            .lines()
            .map(|l| l.split('\t').nth(1).unwrap_or(""))
            .collect();
        let gold = gold_labels(&path);
        let gold_refs: Vec<&str> = gold.iter().map(|(_, c)| c.as_str()).collect();
        let s: Scores = score(&gold_refs, &predicted);
        let prediction_file = scratch.join(format!(
            "{}.tsv",
            set.name.replace([' ', ',', '+', '(', ')', ';'], "_")
        ));
        std::fs::write(&prediction_file, &text).expect("write prediction");
        let agreement = match score_py(&prediction_file, &path) {
            Some((f1, nmi)) if (f1 - s.bcubed_f1).abs() < 1e-9 && (nmi - s.nmi).abs() < 1e-9 => {
                "agrees"
            }
            Some(_) => "DIFFERS",
            None => "n/a",
        };
        let bar = match (set.bar_f1, set.bar_nmi) {
            (Some(f), Some(n)) => format!(
                "F1≥{:.1} NMI≥{:.1}: {}",
                f * 100.0,
                n * 100.0,
                pass(s.bcubed_f1 >= f && s.nmi >= n)
            ),
            (Some(f), None) => format!("F1≥{:.1}: {}", f * 100.0, pass(s.bcubed_f1 >= f)),
            _ => String::new(),
        };
        print_row(set.name, gold.len(), &s, &bar, agreement);
    }
}

fn print_row(name: &str, docs: usize, s: &Scores, bar: &str, agreement: &str) {
    println!(
        "| {} | {} | {} ({}) | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
        name,
        docs,
        s.predicted_clusters,
        s.gold_clusters,
        100.0 * s.bcubed_precision,
        100.0 * s.bcubed_recall,
        100.0 * s.bcubed_f1,
        100.0 * s.nmi,
        bar,
        agreement
    );
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "FAIL"
    }
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("newsflow-quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
