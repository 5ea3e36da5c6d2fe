//! Speed and memory bench: stories/s with 100,000 and 1,000,000 stories in
//! active events, and bytes of clusterer state per active story.
//!
//! `cargo bench -p newsflow-clusterer --bench throughput` (one thread).
//! Stories are made by recombining the clustering benchmark's texts
//! (`$NEWSFLOW_BENCH_DIR/clustering`, default `../shared/bench` from the
//! repository root): each synthetic event draws its words from one gold
//! GoogleNews story and carries two invented names, so events are many and
//! distinct. `NEWSFLOW_THROUGHPUT_SIZES` overrides the sizes (comma list).

use std::path::{Path, PathBuf};
use std::time::Instant;

use newsflow_clusterer::{Clusterer, ClustererConfig, Document};

const MEASURED: usize = 20_000;

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
        Document {
            id: format!("s{}", self.produced),
            title,
            body,
            time: None,
            outlet: format!("outlet-{}", self.produced % 40),
            url: format!(
                "https://outlet-{}.example/news/{}",
                self.produced % 40,
                self.produced
            ),
        }
    }
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
    let sizes: Vec<usize> = std::env::var("NEWSFLOW_THROUGHPUT_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000]);
    println!(
        "| active stories | events | fill stories/s (wall) | stories/s, next {MEASURED} (wall) | same, per CPU second | state bytes/active story | RSS bytes/story |"
    );
    println!("|---|---|---|---|---|---|---|");
    for size in sizes {
        let rss_before = resident_bytes().unwrap_or(0);
        let mut generator = Generator {
            sources: sources.clone(),
            state: 0x9E37_79B9_7F4A_7C15,
            events: 0,
            produced: 0,
        };
        let mut clusterer = Clusterer::new(ClustererConfig::default());
        let started = Instant::now();
        for _ in 0..size {
            clusterer.add(generator.story());
        }
        let fill_rate = size as f64 / started.elapsed().as_secs_f64();
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
}
