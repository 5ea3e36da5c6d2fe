//! Memory and disk over a long stream: synthetic timed stories, with topics
//! that come and go (so the quiet, late-arrival and vocabulary windows fill),
//! through `ClusterStage` with its SQLite store, as the binary drives it
//! (outputs confirmed after each story, an idle tick now and then). Prints
//! resident memory and data directory size at checkpoints of the stream, and
//! the time a restart takes at the end. Both should stay flat once the
//! windows are full.
//!
//! `cargo bench -p newsflow-clusterer --bench state_growth` (1,000,000
//! stories; `STATE_GROWTH_STORIES=N` for another count).

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use newsflow_clusterer::{ClusterStage, ClustererConfig};
use newsflow_model::{Article, Carrier, UniqueStory, SCHEMA_VERSION};

/// Seconds between stories: 1,000,000 stories span about 580 days, and a
/// quiet (3 days) plus late-arrival (14 days) window holds ~29,000 stories.
const STORY_GAP_SECS: i64 = 50;
/// Stories of one topic, spread over about this many stories of the stream.
const TOPIC_SPAN: u64 = 400;
const TOPICS_AT_ONCE: u64 = 40;
const TICK_EVERY: u64 = 200;

fn main() {
    let total: u64 = std::env::var("STATE_GROWTH_STORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let marks: Vec<u64> = [100_000, 250_000, 500_000, 1_000_000]
        .into_iter()
        .map(|m| m * total / 1_000_000)
        .collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("clusterer.db");
    let config = ClustererConfig::default();
    println!(
        "state growth: {total} stories, one every {STORY_GAP_SECS} s of story time, \
         checkpoint every {} operations, vocabulary decay every {} documents",
        config.checkpoint_every_operations, config.vocabulary_decay_documents
    );
    println!(
        "{:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "stories", "rss_mb", "disk_mb", "events", "held", "terms", "secs"
    );
    let started = Instant::now();
    let mut stage = ClusterStage::open(&db, config.clone()).expect("open the stage");
    for i in 0..total {
        stage.add_story(&story(i)).expect("add a story");
        stage.outputs_delivered().expect("confirm outputs");
        if i % TICK_EVERY == TICK_EVERY - 1 {
            stage.close_quiet_events().expect("tick");
            stage.outputs_delivered().expect("confirm outputs");
        }
        if marks.contains(&(i + 1)) {
            let core = stage.clusterer();
            println!(
                "{:>9} {:>9.1} {:>9.1} {:>9} {:>9} {:>9} {:>9.1}",
                i + 1,
                rss_bytes() as f64 / 1e6,
                dir_bytes(dir.path()) as f64 / 1e6,
                core.held_events(),
                core.held_stories(),
                core.known_terms(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let (last_seq, snapshot) = stage.snapshot().expect("snapshot");
    drop(stage);
    let opening = Instant::now();
    let reopened = ClusterStage::open(&db, config).expect("reopen the stage");
    let open_secs = opening.elapsed().as_secs_f64();
    assert_eq!(reopened.last_seq(), last_seq);
    println!(
        "restart after {total} stories: open {open_secs:.2} s; snapshot {:.1} MB; \
         rss after reopen {:.1} MB",
        snapshot.len() as f64 / 1e6,
        rss_bytes() as f64 / 1e6
    );
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// Story `i`: one of the topics live at that point of the stream, written
/// from its topic's words, the shared language of news, and a code seen
/// nowhere else (as numbers, names and typos are).
fn story(i: u64) -> UniqueStory {
    // Topics start every TOPIC_SPAN / TOPICS_AT_ONCE stories and each lives
    // TOPIC_SPAN stories; a story picks one of the live ones.
    let step = TOPIC_SPAN / TOPICS_AT_ONCE;
    let newest = i / step;
    let topic = newest.saturating_sub(mix(i) % TOPICS_AT_ONCE);
    let words: Vec<String> = (0..8)
        .map(|k| format!("topic{topic}word{}", (mix(i * 31 + k) % 12)))
        .collect();
    let common: Vec<String> = (0..30)
        .map(|k| format!("common{}", mix(i * 17 + k) % 3_000))
        .collect();
    let title = format!("{} {} {}", words[0], words[1], words[2]);
    let body = format!(
        "{}. {} reported {} on {}. Reference R{}X{}.",
        words.join(" "),
        common[..15].join(" "),
        common[15..].join(" "),
        words[3],
        i,
        mix(i) % 100_000
    );
    let time = start() + Duration::seconds(i as i64 * STORY_GAP_SECS);
    let id = format!("story-{i}");
    let url = format!("https://outlet{}.example/{id}", i % 50);
    UniqueStory {
        schema_version: SCHEMA_VERSION,
        story_id: id.clone(),
        revision: 0,
        article: Article {
            schema_version: SCHEMA_VERSION,
            article_id: id.clone(),
            item_id: id.clone(),
            feed_url: format!("https://outlet{}.example/feed", i % 50),
            url: url.clone(),
            canonical_url: url.clone(),
            outlet: format!("outlet{}", i % 50),
            title,
            byline: None,
            published: Some(time),
            language: Some("eng".into()),
            lead_image: None,
            body,
            fetched_at: time,
        },
        carriers: vec![Carrier {
            outlet: format!("outlet{}", i % 50),
            url,
        }],
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
