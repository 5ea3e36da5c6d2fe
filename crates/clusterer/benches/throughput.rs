//! Speed and memory bench: stories/s with 100,000 and 1,000,000 stories in
//! active events, and bytes of clusterer state per active story.
//!
//! `cargo bench -p newsflow-clusterer --bench throughput` (one thread).
//! Stories are made by recombining the clustering benchmark's texts
//! (`$NEWSFLOW_BENCH_DIR/clustering`, default `../shared/bench` from the
//! repository root): each synthetic event draws its words from one gold
//! GoogleNews story and carries two invented names, so events are many and
//! distinct. `NEWSFLOW_THROUGHPUT_SIZES` overrides the sizes (comma list).
//!
//! The stories of that table carry no time. The service always gives one
//! (publication or fetch time), so the core is also set beside the whole
//! stage on a timed stream (one story every 10 ms of story time, nothing
//! closes): the same measured stories through the core, and through the
//! stage as the service runs it, the story decoded from its JSON bus
//! payload, `ClusterStage` with its SQLite store on disk (started from a
//! snapshot of the filled core, so both run from the same state), every
//! output record encoded, the outputs confirmed delivered (checkpoints
//! included). `NEWSFLOW_THROUGHPUT_STAGE_SIZES` (default 100000) sets its
//! sizes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use newsflow_clusterer::{ClusterStage, Clusterer, ClustererConfig, Document};
use newsflow_model::{decode, encode, UniqueStory};

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

const MEASURED: usize = 20_000;
/// Story time between consecutive stories of the timed stream: 1,000,000
/// stories span under three hours, so no event falls quiet.
const STORY_GAP_MS: i64 = 10;

fn bench_dir() -> PathBuf {
    std::env::var_os("NEWSFLOW_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench"))
        .join("clustering")
}

/// Texts of the benchmark grouped by gold story.
fn source_texts(dir: &Path) -> Option<Vec<Vec<Vec<String>>>> {
    let text = std::fs::read_to_string(dir.join("googlenews/dev.news_order.jsonl")).ok()?;
    let mut groups: std::collections::BTreeMap<String, Vec<Vec<String>>> = Default::default();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let words = v["text"]
            .as_str()?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        groups
            .entry(v["cluster"].to_string())
            .or_default()
            .push(words);
    }
    Some(groups.into_values().collect())
}

/// Deterministic generator of synthetic stories.
struct Generator {
    sources: Vec<Vec<Vec<String>>>,
    state: u64,
    events: u64,
    produced: u64,
    /// Whether stories carry a time (see [`STORY_GAP_MS`]).
    timed: bool,
}

impl Generator {
    fn next_random(&mut self) -> u64 {
        // xorshift64*: fast, deterministic, good enough to pick words.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn name(mut n: u64) -> String {
        const SYLLABLES: [&str; 16] = [
            "ka", "lo", "mi", "ru", "ten", "vas", "zor", "bel", "qui", "dra", "pon", "sek", "ul",
            "fa", "ny", "gor",
        ];
        let mut name = String::from("X");
        loop {
            name.push_str(SYLLABLES[(n % 16) as usize]);
            n /= 16;
            if n == 0 {
                return name;
            }
        }
    }

    fn story(&mut self) -> Document {
        // One story in ten opens a new event; the rest join a recent one.
        if self.events == 0 || self.next_random() % 10 < 1 {
            self.events += 1;
        }
        let event = self.events - 1 - (self.next_random() % self.events.min(5_000));
        let (a, b) = (self.next_random() as usize, self.next_random() as usize);
        let group = &self.sources[(event as usize * 7919) % self.sources.len()];
        let names = format!("{} {}", Self::name(event * 2), Self::name(event * 2 + 1));
        let first = &group[a % group.len()];
        let second = &group[b % group.len()];
        let title = format!(
            "{} {}",
            first.iter().take(6).cloned().collect::<Vec<_>>().join(" "),
            names
        );
        let body = format!(
            "{} said {} on the matter. {}",
            first.join(" "),
            names,
            second.join(" ")
        );
        self.produced += 1;
        let time = self
            .timed
            .then(|| stream_start() + Duration::milliseconds(self.produced as i64 * STORY_GAP_MS));
        Document {
            id: format!("s{}", self.produced),
            title,
            body,
            time,
            outlet: format!("outlet-{}", self.produced % 40),
            url: format!(
                "https://outlet-{}.example/news/{}",
                self.produced % 40,
                self.produced
            ),
        }
    }
}

fn stream_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Rates of one measured run, per CPU second of this thread and per wall
/// second.
struct Rates {
    cpu: f64,
    wall: f64,
}

/// Stories handled back to back, and so sharing one sync, in the
/// group-commit column: about what the embedded stage loop handles at once
/// under full load (it takes up to 32 that are waiting).
const STORIES_PER_SYNC: usize = 16;

/// The whole stage over `payloads`, from the state `snapshot` holds: each
/// payload decoded, added, its records encoded, its outputs confirmed; with
/// `sync_every`, the stage's syncs deferred and made once per that many
/// stories, before their records count as sent, as the embedded stage loop
/// makes them.
fn whole_stage(
    snapshot: &[u8],
    seq: i64,
    payloads: &[Vec<u8>],
    sync_every: Option<usize>,
) -> (Rates, usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut stage =
        ClusterStage::open(&dir.path().join("clusterer.db"), ClustererConfig::default())
            .expect("open the stage");
    stage
        .restore_snapshot(seq, snapshot)
        .expect("start the stage from the core's snapshot");
    if sync_every.is_some() {
        stage.defer_syncs().expect("defer the stage's syncs");
    }
    let mut encoded_bytes = 0usize;
    let cpu_started = thread_cpu_seconds();
    let started = Instant::now();
    for group in payloads.chunks(sync_every.unwrap_or(1)) {
        let mut added = Vec::with_capacity(group.len());
        for payload in group {
            let story: UniqueStory = decode(payload).expect("a story payload");
            added.push(stage.add_story(&story).expect("add a story"));
        }
        stage.sync().expect("sync");
        for records in added {
            encoded_bytes += records.iter().map(|r| encode(r).len()).sum::<usize>();
            stage.outputs_delivered().expect("confirm outputs");
        }
    }
    let rates = Rates {
        wall: payloads.len() as f64 / started.elapsed().as_secs_f64(),
        cpu: payloads.len() as f64 / (thread_cpu_seconds() - cpu_started),
    };
    (rates, encoded_bytes)
}

/// A core filled with `size` stories, the generator that goes on from
/// there, and the fill rate (stories/s, wall).
fn filled(sources: &[Vec<Vec<String>>], size: usize, timed: bool) -> (Clusterer, Generator, f64) {
    let mut generator = Generator {
        sources: sources.to_vec(),
        state: 0x9E37_79B9_7F4A_7C15,
        events: 0,
        produced: 0,
        timed,
    };
    let mut clusterer = Clusterer::new(ClustererConfig::default());
    let started = Instant::now();
    for _ in 0..size {
        clusterer.add(generator.story());
    }
    let fill_rate = size as f64 / started.elapsed().as_secs_f64();
    (clusterer, generator, fill_rate)
}

/// One row of the core beside the whole stage.
struct StageRow {
    active: usize,
    events: usize,
    core: Rates,
    stage: Rates,
    grouped: Rates,
    snapshot_bytes: usize,
    encoded_bytes: usize,
}

/// The core and the whole stage over the same timed stories, from the same
/// state of `size` stories.
fn core_beside_whole_stage(sources: &[Vec<Vec<String>>], size: usize) -> StageRow {
    let (mut clusterer, mut generator, _) = filled(sources, size, true);
    let batch: Vec<Document> = (0..MEASURED).map(|_| generator.story()).collect();
    let payloads: Vec<Vec<u8>> = batch
        .iter()
        .map(|doc| encode(&common::unique_story(doc, &[])))
        .collect();
    let snapshot = clusterer.snapshot_bytes().expect("snapshot of the core");
    let cpu_started = thread_cpu_seconds();
    let started = Instant::now();
    for doc in batch {
        clusterer.add(doc);
    }
    let core = Rates {
        wall: MEASURED as f64 / started.elapsed().as_secs_f64(),
        cpu: MEASURED as f64 / (thread_cpu_seconds() - cpu_started),
    };
    let active = clusterer.active_stories();
    let events = clusterer.records_count();
    drop(clusterer);
    let (stage, encoded_bytes) = whole_stage(&snapshot, size as i64, &payloads, None);
    let (grouped, _) = whole_stage(&snapshot, size as i64, &payloads, Some(STORIES_PER_SYNC));
    StageRow {
        active,
        events,
        core,
        stage,
        grouped,
        snapshot_bytes: snapshot.len(),
        encoded_bytes,
    }
}

fn sizes_from_env(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// CPU seconds this thread has used: the machine is shared, so wall time
/// alone would measure the neighbours too.
fn thread_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 12th and 13th of them, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn main() {
    let Some(sources) = source_texts(&bench_dir()) else {
        println!(
            "clustering benchmark data not found under {} (set NEWSFLOW_BENCH_DIR); skipping",
            bench_dir().display()
        );
        return;
    };
    let sizes = sizes_from_env("NEWSFLOW_THROUGHPUT_SIZES", &[100_000, 1_000_000]);
    let stage_sizes = sizes_from_env("NEWSFLOW_THROUGHPUT_STAGE_SIZES", &[100_000]);
    println!(
        "| active stories | events | fill stories/s (wall) | stories/s, next {MEASURED} (wall) | same, per CPU second | state bytes/active story | RSS bytes/story |"
    );
    println!("|---|---|---|---|---|---|---|");
    for size in sizes {
        let rss_before = resident_bytes().unwrap_or(0);
        let (mut clusterer, mut generator, fill_rate) = filled(&sources, size, false);
        let batch: Vec<Document> = (0..MEASURED).map(|_| generator.story()).collect();
        let cpu_started = thread_cpu_seconds();
        let started = Instant::now();
        let mut changed = 0usize;
        for doc in batch {
            changed += clusterer.add(doc).changed.len();
        }
        let rate = MEASURED as f64 / started.elapsed().as_secs_f64();
        let cpu_rate = MEASURED as f64 / (thread_cpu_seconds() - cpu_started);
        let active = clusterer.active_stories();
        let events = clusterer.records_count();
        let rss = resident_bytes().unwrap_or(0).saturating_sub(rss_before);
        println!(
            "| {active} | {events} | {fill_rate:.0} | {rate:.0} | {cpu_rate:.0} | {} | {} |",
            clusterer.heap_bytes() / active.max(1),
            rss as usize / active.max(1)
        );
        assert!(
            changed >= MEASURED,
            "every add publishes at least one record"
        );
    }
    if stage_sizes.is_empty() {
        return;
    }
    println!(
        "\ncore beside the whole stage, timed stories (one every {STORY_GAP_MS} ms), the same {MEASURED} \
         from the same state; whole stage = JSON payload decoded, ClusterStage on disk (SQLite, \
         checkpoint every {} operations), records encoded, outputs confirmed",
        ClustererConfig::default().checkpoint_every_operations
    );
    println!(
        "whole stage: a sync per story (the trickle); group commit: a sync per {STORIES_PER_SYNC} stories (full load on the embedded bus)"
    );
    println!(
        "| active stories | events | core stories/s (CPU) | whole stage stories/s (CPU) | whole/core (CPU) | group commit stories/s (CPU) | group/core (CPU) | core stories/s (wall) | whole stage stories/s (wall) | whole/core (wall) | group commit (wall) | snapshot MB | output KB/story |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for size in stage_sizes {
        let row = core_beside_whole_stage(&sources, size);
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} | {:.0} | {:.1} | {:.1} |",
            row.active,
            row.events,
            row.core.cpu,
            row.stage.cpu,
            row.stage.cpu / row.core.cpu,
            row.grouped.cpu,
            row.grouped.cpu / row.core.cpu,
            row.core.wall,
            row.stage.wall,
            row.stage.wall / row.core.wall,
            row.grouped.wall,
            row.snapshot_bytes as f64 / 1e6,
            row.encoded_bytes as f64 / MEASURED as f64 / 1e3
        );
    }
    println!(
        "(load average {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
