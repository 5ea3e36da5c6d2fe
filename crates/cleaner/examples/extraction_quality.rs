//! Runs the cleaner over the extraction benchmarks, writes one
//! `<id>.json` (`{"articleBody": ...}`) per page, scores them with each
//! benchmark's own `score.py`, and prints the figures beside trafilatura's
//! (read from the benchmark's README).
//!
//! `cargo run --release -p newsflow-cleaner --example extraction_quality [-- BENCH_DIR [OUT_DIR]]`
//! Without BENCH_DIR (and without `$NEWSFLOW_EXTRACTION_BENCH`) both sets
//! beside the repository (or beside its parent folder) are run,
//! `shared/bench/extraction` (news) and `shared/bench/extraction-general`
//! (general web), into
//! `target/extraction-out/<set>`. BENCH_DIR is either the news set
//! (`ground-truth.json`, token scoring) or the general-web set (`gold.json`
//! with "with"/"without" snippets); OUT_DIR defaults to `target/extraction-out`.

use std::path::{Path, PathBuf};
use std::process::Command;

use newsflow_cleaner::{extract, CleanerConfig};

/// Precision, recall and F1 of one extractor on one set.
#[derive(Debug, Clone, Copy)]
struct Figures {
    precision: f64,
    recall: f64,
    f1: f64,
}

/// One set's run: what the cleaner scored and what the README reports for
/// trafilatura on the same set.
struct SetResult {
    name: String,
    pages: usize,
    refused: usize,
    cleaner: Option<Figures>,
    trafilatura: Option<(String, Figures)>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    if let Some(page) = std::env::var_os("EXPLAIN_PAGE") {
        explain(Path::new(&page));
        return;
    }
    let mut args = std::env::args().skip(1);
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bench_dir = args
        .next()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("NEWSFLOW_EXTRACTION_BENCH").map(PathBuf::from));
    let out_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root.join("target/extraction-out"));
    let results: Vec<SetResult> = match bench_dir {
        Some(bench_dir) => run_set(&bench_dir, &out_dir).into_iter().collect(),
        None => ["extraction", "extraction-general"]
            .iter()
            .filter_map(|set| run_set(&shared_bench(&repo_root).join(set), &out_dir.join(set)))
            .collect(),
    };
    print_table(&results);
}

/// `shared/bench` beside the repository, or beside the folder holding it
/// (a worktree one level further down).
fn shared_bench(repo_root: &Path) -> PathBuf {
    let repo_root = repo_root
        .canonicalize()
        .unwrap_or_else(|_| repo_root.to_path_buf());
    repo_root
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("shared/bench"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| repo_root.join("../shared/bench"))
}

/// Extracts every page of one set, scores the outputs; `None` when the set
/// is not there.
fn run_set(bench_dir: &Path, out_dir: &Path) -> Option<SetResult> {
    // The news set keeps its truth in `ground-truth.json`; the general-web
    // set in `gold.json` (same `{id: {"url", ...}}` shape, snippet scoring).
    let general = bench_dir.join("gold.json").exists();
    let truth_path = bench_dir.join(if general {
        "gold.json"
    } else {
        "ground-truth.json"
    });
    let Ok(truth) = std::fs::read_to_string(&truth_path) else {
        eprintln!(
            "extraction benchmark not found at {} — skipping",
            bench_dir.display()
        );
        return None;
    };
    let truth: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&truth).expect("the truth file is a JSON object");
    std::fs::create_dir_all(out_dir).expect("output directory can be created");
    let config = CleanerConfig::default();
    let mut refused = 0;
    for (id, gold) in &truth {
        let page = std::fs::read(bench_dir.join("html").join(format!("{id}.html")))
            .expect("benchmark page is readable");
        let url = gold.get("url").and_then(|u| u.as_str());
        let body = match extract(&page, Some("text/html"), url, &config) {
            Ok(article) => article.body,
            Err(error) => {
                refused += 1;
                eprintln!("{id}: {error}");
                String::new()
            }
        };
        let output = serde_json::json!({ "articleBody": body });
        std::fs::write(out_dir.join(format!("{id}.json")), output.to_string())
            .expect("output is writable");
    }
    println!(
        "{}: {} pages, {refused} refused; outputs in {}",
        bench_dir.display(),
        truth.len(),
        out_dir.display()
    );
    let mut score = Command::new("python3");
    score.arg(bench_dir.join("score.py")).arg(out_dir);
    if !general {
        // Only the news set's scorer writes a per-page table.
        score.arg("--per-page").arg(out_dir.join("pages.csv"));
    }
    let cleaner = match score.output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            print!("{text}");
            scored_figures(&text)
        }
        other => {
            eprintln!("score.py did not run cleanly: {other:?}");
            None
        }
    };
    let name = bench_dir.file_name().map_or_else(
        || bench_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Some(SetResult {
        name: format!(
            "{name} ({}, {} scoring)",
            if general { "general web" } else { "news" },
            if general { "snippet" } else { "token" }
        ),
        pages: truth.len(),
        refused,
        cleaner,
        trafilatura: std::fs::read_to_string(bench_dir.join("README.md"))
            .ok()
            .and_then(|readme| readme_figures(&readme, "trafilatura")),
    })
}

/// The figures a scorer printed: either `precision P recall R F1 F` on one
/// line (general set) or a header row naming `F1`, `precision` and
/// `recall` over a row of values (`0.971 ± 0.006 ...`, news set).
fn scored_figures(output: &str) -> Option<Figures> {
    let words: Vec<&str> = output.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    if let (Some(precision), Some(recall), Some(f1)) =
        (after("precision"), after("recall"), after("F1"))
    {
        return Some(Figures {
            precision,
            recall,
            f1,
        });
    }
    let mut lines = output.lines();
    let header: Vec<&str> = lines
        .find(|l| l.contains("F1"))?
        .split_whitespace()
        .collect();
    let values: Vec<f64> = lines
        .next()?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // Each figure comes with its ± spread; the header has no column for the
    // run's name.
    let column = |key: &str| {
        let index = header
            .iter()
            .filter(|h| **h != "version")
            .position(|h| *h == key)?;
        values.get(index * 2).copied()
    };
    Some(Figures {
        precision: column("precision")?,
        recall: column("recall")?,
        f1: column("F1")?,
    })
}

/// The first row of a README's Markdown table whose extractor starts with
/// `extractor`, read through the table's header.
fn readme_figures(readme: &str, extractor: &str) -> Option<(String, Figures)> {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut header: Option<Vec<String>> = None;
    for line in readme.lines().filter(|l| l.trim_start().starts_with('|')) {
        let row = cells(line);
        if row.first().is_some_and(|c| c == "extractor") {
            header = Some(row);
            continue;
        }
        let Some(header) = &header else { continue };
        if !row.first().is_some_and(|c| c.starts_with(extractor)) {
            continue;
        }
        let value = |key: &str| {
            let i = header.iter().position(|h| h == key)?;
            row.get(i)?.parse::<f64>().ok()
        };
        return Some((
            row[0].clone(),
            Figures {
                precision: value("precision")?,
                recall: value("recall")?,
                f1: value("F1")?,
            },
        ));
    }
    None
}

fn print_table(results: &[SetResult]) {
    let cell = |f: Option<f64>| f.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    println!();
    println!("| set | extractor | precision | recall | F1 |");
    println!("|---|---|---|---|---|");
    for set in results {
        let c = set.cleaner;
        println!(
            "| {} | newsflow cleaner ({} of {} pages refused) | {} | {} | **{}** |",
            set.name,
            set.refused,
            set.pages,
            cell(c.map(|f| f.precision)),
            cell(c.map(|f| f.recall)),
            cell(c.map(|f| f.f1)),
        );
        match &set.trafilatura {
            Some((name, t)) => println!(
                "| | {name} (bench README) | {:.3} | {:.3} | {:.3} |",
                t.precision, t.recall, t.f1
            ),
            None => println!("| | trafilatura: no figures in the bench README | | | |"),
        }
    }
}

/// Prints what the cleaner makes of one page (`EXPLAIN_PAGE=FILE`).
fn explain(path: &Path) {
    let page = std::fs::read(path).expect("page is readable");
    match extract(&page, Some("text/html"), None, &CleanerConfig::default()) {
        Ok(article) => println!(
            "{}",
            serde_json::to_string_pretty(&article).expect("serialisable")
        ),
        Err(error) => println!("{error}"),
    }
}
