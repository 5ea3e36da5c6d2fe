//! Throughput of the whole cleaner against html5ever parsing alone
//! (scraper's `Html::parse_document`) over the extraction benchmark's pages,
//! measured in one run; then the peak memory of cleaning a 10 MiB page, in a
//! child process so that the first part does not count.
//!
//! `cargo bench -p newsflow-cleaner --bench throughput`
//! Pages come from `$NEWSFLOW_EXTRACTION_BENCH` or `../shared/bench/extraction`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use newsflow_cleaner::{extract, CleanerConfig};

const ROUNDS: usize = 7;
const RSS_CHILD_ENV: &str = "NEWSFLOW_CLEANER_RSS_CHILD";
const BIG_PAGE_BYTES: usize = 10 * 1024 * 1024;

fn main() {
    if std::env::var_os(RSS_CHILD_ENV).is_some() {
        clean_big_page_and_report_peak_rss();
        return;
    }
    let bench_dir = std::env::var_os("NEWSFLOW_EXTRACTION_BENCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/extraction")
        });
    match load_pages(&bench_dir.join("html")) {
        Some(pages) => compare_throughput(&pages),
        None => println!(
            "extraction pages not found under {} — throughput skipped",
            bench_dir.display()
        ),
    }
    measure_peak_rss_in_child();
}

fn load_pages(dir: &Path) -> Option<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    paths.sort();
    let pages: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    (!pages.is_empty()).then_some(pages)
}

fn compare_throughput(pages: &[Vec<u8>]) {
    let config = CleanerConfig::default();
    // The parse-only baseline gets its text already decoded: decoding is work
    // the cleaner does and the baseline does not.
    let texts: Vec<String> = pages
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    // Each page is parsed and cleaned back to back, and each keeps its
    // fastest time over the rounds: other processes on the machine then slow
    // both sides alike instead of whichever pass they happen to overlap.
    let mut parse_best = vec![Duration::MAX; pages.len()];
    let mut clean_best = vec![Duration::MAX; pages.len()];
    let mut articles = 0;
    for _ in 0..ROUNDS {
        articles = 0;
        for (i, (page, text)) in pages.iter().zip(&texts).enumerate() {
            let start = Instant::now();
            std::hint::black_box(scraper::Html::parse_document(std::hint::black_box(text)));
            parse_best[i] = parse_best[i].min(start.elapsed());
            let start = Instant::now();
            if std::hint::black_box(extract(page, Some("text/html"), None, &config)).is_ok() {
                articles += 1;
            }
            clean_best[i] = clean_best[i].min(start.elapsed());
        }
    }
    let parse: Duration = parse_best.iter().sum();
    let clean: Duration = clean_best.iter().sum();
    let report = |name: &str, t: Duration| {
        let s = t.as_secs_f64();
        println!(
            "{name:<28} {:>8.1} pages/s {:>7.1} MB/s  ({:.1} ms per pass)",
            pages.len() as f64 / s,
            bytes as f64 / 1e6 / s,
            s * 1e3
        );
    };
    println!(
        "{} pages, {:.1} MB, best of {ROUNDS} rounds per page; {articles} extracted as articles",
        pages.len(),
        bytes as f64 / 1e6
    );
    report("html5ever parse only", parse);
    report("cleaner (decode+parse+extract)", clean);
    println!(
        "throughput ratio cleaner/parse-only: {:.3}",
        parse.as_secs_f64() / clean.as_secs_f64()
    );
}

fn measure_peak_rss_in_child() {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    match Command::new(exe).env(RSS_CHILD_ENV, "1").output() {
        Ok(out) => print!("{}", String::from_utf8_lossy(&out.stdout)),
        Err(e) => println!("peak RSS child did not run: {e}"),
    }
}

/// A 10 MiB article page: page chrome around a very long story.
fn big_page() -> Vec<u8> {
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=utf-8><title>A very long story</title></head><body>\
         <nav><a href=/>Home</a> <a href=/world>World</a></nav><article><h1>A very long story</h1>",
    );
    let mut n = 0u64;
    while page.len() < BIG_PAGE_BYTES - 200 {
        n += 1;
        page.push_str(&format!(
            "<p>Paragraph {n}: the delegation met again on day {}, and the talks, which had stalled over the border, resumed with a new proposal from the mediators.</p>\n",
            n % 365
        ));
    }
    page.push_str("</article><footer>© Example</footer></body></html>");
    page.into_bytes()
}

fn clean_big_page_and_report_peak_rss() {
    let page = big_page();
    let before = peak_rss_kib();
    let start = Instant::now();
    let config = CleanerConfig {
        max_page_bytes: usize::MAX,
        ..CleanerConfig::default()
    };
    let result = extract(&page, Some("text/html"), None, &config);
    let elapsed = start.elapsed();
    let body_len = result.as_ref().map_or(0, |a| a.body.len());
    println!(
        "10 MiB page: {:.1} MiB in, body {:.1} MiB, {:.0} ms; peak RSS {} MiB (before cleaning {} MiB)",
        page.len() as f64 / 1048576.0,
        body_len as f64 / 1048576.0,
        elapsed.as_secs_f64() * 1e3,
        peak_rss_kib().map_or("?".into(), |k| (k / 1024).to_string()),
        before.map_or("?".into(), |k| (k / 1024).to_string()),
    );
}

/// The process's peak resident set (`VmHWM`), Linux only.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
