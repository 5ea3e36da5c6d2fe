//! Memory and disk of the dedup stage over a long stream: synthetic pages
//! fetched one every few seconds (some of them copies of a recent page),
//! through `DedupStage` with its SQLite store. Prints resident memory and
//! data directory size at checkpoints of the stream and the time a restart
//! takes at the end; both should stay flat once the window is full.
//!
//! `cargo bench -p newsflow-dedup --bench state_growth` (1,000,000 pages;
//! `STATE_GROWTH_PAGES=N` for another count).

use std::path::Path;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use newsflow_dedup::{DedupConfig, DedupStage};
use newsflow_model::{canonical_url, story_id_for_url, Article, SCHEMA_VERSION};

/// Seconds of fetch time between pages: the default 7-day window holds
/// about 120,000 of them.
const PAGE_GAP_SECS: i64 = 5;
/// One page in this many is a copy of a page fetched shortly before.
const COPY_EVERY: u64 = 10;

fn main() {
    let total: u64 = std::env::var("STATE_GROWTH_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let marks: Vec<u64> = [100_000, 250_000, 500_000, 1_000_000]
        .into_iter()
        .map(|m| m * total / 1_000_000)
        .collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("dedup.db");
    let config = DedupConfig::default();
    println!(
        "dedup state growth: {total} pages, one every {PAGE_GAP_SECS} s of fetch time, window {} s",
        config.window_secs
    );
    println!(
        "{:>9} {:>9} {:>9} {:>9} {:>9}",
        "pages", "rss_mb", "disk_mb", "stories", "secs"
    );
    let started = Instant::now();
    let mut stage = DedupStage::open(&db, config.clone()).expect("open the stage");
    for i in 0..total {
        stage.check(&page(i)).expect("check a page");
        if marks.contains(&(i + 1)) {
            println!(
                "{:>9} {:>9.1} {:>9.1} {:>9} {:>9.1}",
                i + 1,
                rss_bytes() as f64 / 1e6,
                dir_bytes(dir.path()) as f64 / 1e6,
                stage.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let remembered = stage.len();
    drop(stage);
    let opening = Instant::now();
    let reopened = DedupStage::open(&db, config).expect("reopen the stage");
    let open_secs = opening.elapsed().as_secs_f64();
    assert_eq!(reopened.len(), remembered);
    println!(
        "restart after {total} pages: open {open_secs:.2} s ({remembered} stories); \
         rss after reopen {:.1} MB",
        rss_bytes() as f64 / 1e6
    );
}

/// Page `i`: its own text, or (one in `COPY_EVERY`) the text of a page
/// fetched a little earlier, under another outlet's URL.
fn page(i: u64) -> Article {
    let source = if i % COPY_EVERY == COPY_EVERY - 1 {
        i - 1 - mix(i) % 50
    } else {
        i
    };
    let words: Vec<String> = (0..120)
        .map(|k| format!("w{}", mix(source * 131 + k) % 20_000))
        .collect();
    let url = format!("https://outlet{}.example/page-{i}", i % 40);
    let fetched = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
        + Duration::seconds(i as i64 * PAGE_GAP_SECS);
    Article {
        schema_version: SCHEMA_VERSION,
        article_id: story_id_for_url(&url),
        item_id: format!("{url}#guid"),
        feed_url: format!("https://outlet{}.example/feed.xml", i % 40),
        canonical_url: canonical_url(&url),
        url,
        outlet: format!("outlet{}", i % 40),
        title: format!("Story {source}"),
        byline: None,
        published: Some(fetched),
        language: Some("eng".into()),
        lead_image: None,
        body: words.join(" "),
        fetched_at: fetched,
    }
}

/// A fixed scrambling of a number (splitmix64), for reproducible variety.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Resident memory of this process (VmRSS), in bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes of every file in `dir` (the database, its WAL and shared memory).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
