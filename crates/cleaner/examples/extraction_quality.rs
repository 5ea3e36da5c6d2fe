//! Runs the cleaner over the extraction benchmark, writes one
//! `<id>.json` (`{"articleBody": ...}`) per page, and scores them with the
//! benchmark's own `score.py`.
//!
//! `cargo run --release -p newsflow-cleaner --example extraction_quality [-- BENCH_DIR [OUT_DIR]]`
//! BENCH_DIR is either the news set (`ground-truth.json`) or the general-web
//! set (`gold.json` with "with"/"without" snippets); each is scored by its own
//! `score.py`. BENCH_DIR defaults to `$NEWSFLOW_EXTRACTION_BENCH` or `../shared/bench/extraction`
//! beside the repository; OUT_DIR to `target/extraction-out`.

use std::path::{Path, PathBuf};
use std::process::Command;

use newsflow_cleaner::{extract, CleanerConfig};

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
        .or_else(|| std::env::var_os("NEWSFLOW_EXTRACTION_BENCH").map(PathBuf::from))
        .unwrap_or_else(|| repo_root.join("../shared/bench/extraction"));
    let out_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root.join("target/extraction-out"));
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
        return;
    };
    let truth: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&truth).expect("ground-truth.json is a JSON object");
    std::fs::create_dir_all(&out_dir).expect("output directory can be created");
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
        "{} pages, {refused} refused; outputs in {}",
        truth.len(),
        out_dir.display()
    );
    let mut score = Command::new("python3");
    score.arg(bench_dir.join("score.py")).arg(&out_dir);
    if !general {
        // Only the news set's scorer writes a per-page table.
        score.arg("--per-page").arg(out_dir.join("pages.csv"));
    }
    let status = score.status();
    match status {
        Ok(s) if s.success() => {}
        other => eprintln!("score.py did not run cleanly: {other:?}"),
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
