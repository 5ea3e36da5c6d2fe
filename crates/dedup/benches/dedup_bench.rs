//! The deduplicator's benchmark: similarity measurements behind the
//! thresholds, precision and recall per edit level, throughput and memory
//! at a million remembered stories.
//!
//! `cargo bench -p newsflow-dedup --bench dedup_bench`
//! Environment: `DEDUP_BENCH_DATA` (default `../shared/bench` from the repo
//! root) for the extraction ground truth; `DEDUP_BENCH_STORIES` (default
//! 1000000) for the window size of the throughput run;
//! `DEDUP_BENCH_STAGE_STORIES` (default 20000) for the window of the run
//! that sets the core beside the whole stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use newsflow_dedup::benchmark_set::{
    filler_body, variants, BaseArticle, EditLevel, TextModel, Variant,
};
use newsflow_dedup::{
    ChangelogEntry, ContentIndex, DedupConfig, DedupStage, Deduplicator, Fingerprint, Verdict,
};
use newsflow_model::{canonical_url, decode, encode, story_id_for_url, Article, SCHEMA_VERSION};

const SEED: u64 = 0x6e65_7773_666c_6f77;

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::var_os("DEDUP_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared/bench"));
    let stories: usize = std::env::var("DEDUP_BENCH_STORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let stage_stories: usize = std::env::var("DEDUP_BENCH_STAGE_STORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let bases = load_bases(
        &data.join("extraction/ground-truth.json"),
        &manifest.join("tests/fixtures/seeds"),
    );
    let config = DedupConfig::default();
    println!("# newsflow-dedup benchmark");
    println!(
        "config: shingle_words={} min_words={} near_jaccard={} near_containment={} (with jaccard >= {})",
        config.shingle_words, config.min_words, config.near_jaccard, config.near_containment, config.containment_min_jaccard
    );
    println!(
        "bases: {} ({} seed stories, {} from the extraction ground truth)",
        bases.len(),
        bases.iter().filter(|b| b.is_seed).count(),
        bases.iter().filter(|b| !b.is_seed).count()
    );
    let model = TextModel::new(&bases);
    let all_variants: Vec<Variant> = EditLevel::ALL
        .iter()
        .flat_map(|&level| variants(&bases, level, &model, SEED))
        .collect();

    similarity_measurements(&bases, &all_variants, &config);
    verdicts_per_level(&bases, &all_variants, &config);
    throughput_at_scale(&bases, &all_variants, &model, &config, stories);
    full_stage(&bases, &model, &config);
    core_beside_whole_stage(&bases, &model, &config, stage_stories);
}

fn load_bases(ground_truth: &Path, seeds_dir: &Path) -> Vec<BaseArticle> {
    let mut bases = Vec::new();
    let mut seed_paths: Vec<PathBuf> = std::fs::read_dir(seeds_dir)
        .expect("seed fixtures in tests/fixtures/seeds")
        .map(|entry| entry.expect("readable fixture dir").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    seed_paths.sort();
    for path in seed_paths {
        let text = std::fs::read_to_string(&path).expect("readable seed");
        let (title, body) = text.split_once('\n').unwrap_or(("", &text));
        bases.push(BaseArticle {
            id: path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            title: title.trim().to_string(),
            body: body.trim().to_string(),
            is_seed: true,
        });
    }
    match std::fs::read_to_string(ground_truth) {
        Ok(json) => {
            let parsed: BTreeMap<String, serde_json::Value> =
                serde_json::from_str(&json).expect("ground-truth.json is a JSON object");
            for (id, entry) in parsed {
                let body = entry["articleBody"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let url = entry["url"].as_str().unwrap_or_default().to_string();
                bases.push(BaseArticle {
                    id,
                    title: url,
                    body,
                    is_seed: false,
                });
            }
        }
        Err(error) => println!(
            "NOTE: {} not readable ({error}); measuring on the seed stories only",
            ground_truth.display()
        ),
    }
    bases
}

fn article(outlet: &str, url: &str, title: &str, body: &str) -> Article {
    let fetched = Utc
        .with_ymd_and_hms(2024, 8, 19, 12, 0, 0)
        .single()
        .unwrap_or_default();
    Article {
        schema_version: SCHEMA_VERSION,
        article_id: story_id_for_url(url),
        item_id: String::new(),
        feed_url: String::new(),
        url: url.to_string(),
        canonical_url: canonical_url(url),
        outlet: outlet.to_string(),
        title: title.to_string(),
        byline: None,
        published: None,
        language: None,
        lead_image: None,
        body: body.to_string(),
        fetched_at: fetched,
    }
}

fn base_article(index: usize, base: &BaseArticle) -> Article {
    article(
        &format!("base{index}"),
        &format!("https://base{index}.example/a"),
        &base.title,
        &base.body,
    )
}

fn variant_article(variant: &Variant) -> Article {
    let slug = variant.level.name().replace([' ', ',', '%'], "-");
    article(
        &format!("copy{}", variant.base),
        &format!("https://copy{}.example/{slug}", variant.base),
        &variant.title,
        &variant.body,
    )
}

fn fingerprint(body: &str, config: &DedupConfig) -> Fingerprint {
    Fingerprint::of(body, config.shingle_words, config.min_words)
}

fn percentile(sorted: &[f32], fraction: f64) -> f32 {
    if sorted.is_empty() {
        return f32::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

/// The distributions the thresholds are chosen between: estimated Jaccard
/// of each variant to its base, and of every pair of separately written
/// bases.
fn similarity_measurements(bases: &[BaseArticle], all_variants: &[Variant], config: &DedupConfig) {
    println!(
        "\n## Sketch similarity (estimated Jaccard of word {}-shingles)",
        config.shingle_words
    );
    let base_prints: Vec<Fingerprint> =
        bases.iter().map(|b| fingerprint(&b.body, config)).collect();
    let short = base_prints.iter().filter(|p| !p.is_matchable()).count();
    println!("bases shorter than min_words (content rules off): {short}");
    println!(
        "{:<24} {:>5} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "variant level", "n", "min", "p1", "p5", "median", "min cont."
    );
    for level in EditLevel::ALL {
        let mut jaccards = Vec::new();
        let mut containments = Vec::new();
        for variant in all_variants.iter().filter(|v| v.level == level) {
            let (Some(base), Some(copy)) = (
                &base_prints[variant.base].sketch,
                &fingerprint(&variant.body, config).sketch,
            ) else {
                continue;
            };
            let jaccard = base.jaccard(copy);
            jaccards.push(jaccard);
            containments.push(base.containment(copy, jaccard));
        }
        jaccards.sort_by(f32::total_cmp);
        containments.sort_by(f32::total_cmp);
        println!(
            "{:<24} {:>5} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>9.3}",
            level.name(),
            jaccards.len(),
            percentile(&jaccards, 0.0),
            percentile(&jaccards, 0.01),
            percentile(&jaccards, 0.05),
            percentile(&jaccards, 0.5),
            percentile(&containments, 0.0),
        );
    }
    let mut pairs: Vec<(f32, f32, usize, usize)> = Vec::new();
    for i in 0..bases.len() {
        for j in i + 1..bases.len() {
            if let (Some(a), Some(b)) = (&base_prints[i].sketch, &base_prints[j].sketch) {
                let jaccard = a.jaccard(b);
                pairs.push((jaccard, a.containment(b, jaccard), i, j));
            }
        }
    }
    let mut jaccards: Vec<f32> = pairs.iter().map(|p| p.0).collect();
    jaccards.sort_by(f32::total_cmp);
    println!(
        "negatives: {} pairs of separately written bases: median {:.4}, p99 {:.4}, p99.9 {:.4}, max {:.3}",
        pairs.len(),
        percentile(&jaccards, 0.5),
        percentile(&jaccards, 0.99),
        percentile(&jaccards, 0.999),
        percentile(&jaccards, 1.0)
    );
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (jaccard, containment, i, j) in pairs.iter().take(3) {
        println!(
            "  closest pair: J={jaccard:.3} containment={containment:.3}  {} | {}",
            bases[*i].title.chars().take(60).collect::<String>(),
            bases[*j].title.chars().take(60).collect::<String>()
        );
    }
    let seed_pairs: Vec<&(f32, f32, usize, usize)> = pairs
        .iter()
        .filter(|p| bases[p.2].is_seed && bases[p.3].is_seed)
        .collect();
    let seed_max_j = seed_pairs.iter().map(|p| p.0).fold(0.0, f32::max);
    let seed_max_c = seed_pairs.iter().map(|p| p.1).fold(0.0, f32::max);
    println!(
        "seed pairs: {} pairs, max J {seed_max_j:.3}, max containment {seed_max_c:.3}",
        seed_pairs.len()
    );
}

#[derive(Default)]
struct Tally {
    variants: usize,
    correct: usize,
    wrong_story: usize,
    missed: usize,
}

impl Tally {
    fn precision(&self) -> f64 {
        let claimed = self.correct + self.wrong_story;
        if claimed == 0 {
            1.0
        } else {
            self.correct as f64 / claimed as f64
        }
    }
    fn recall(&self) -> f64 {
        self.correct as f64 / self.variants.max(1) as f64
    }
}

fn load_bases_into(dedup: &mut Deduplicator, bases: &[BaseArticle]) -> (Vec<String>, usize, usize) {
    let mut ids = Vec::new();
    let mut false_duplicates = 0;
    let mut false_seed_duplicates = 0;
    for (index, base) in bases.iter().enumerate() {
        let verdict = dedup.check(&base_article(index, base));
        if let Verdict::Duplicate { record, .. } = &verdict {
            false_duplicates += 1;
            let other = ids.iter().position(|id| *id == record.duplicate_of);
            if base.is_seed && other.is_some_and(|o: usize| bases[o].is_seed) {
                false_seed_duplicates += 1;
            }
            println!(
                "  FALSE DUPLICATE: base {} -> {}",
                base.id, record.duplicate_of
            );
        }
        ids.push(verdict.story().story_id.clone());
    }
    (ids, false_duplicates, false_seed_duplicates)
}

/// Precision and recall of the whole rule set (the `Deduplicator`), per
/// edit level, each level against a fresh window holding every base.
fn verdicts_per_level(bases: &[BaseArticle], all_variants: &[Variant], config: &DedupConfig) {
    println!("\n## Verdicts per edit level (all rules, window = the bases)");
    let mut dedup = Deduplicator::new(config.clone());
    let (_, false_duplicates, false_seed) = load_bases_into(&mut dedup, bases);
    let pairs = bases.len() * (bases.len() - 1) / 2;
    println!(
        "negatives: {} separately written bases ({pairs} pairs): false duplicates {false_duplicates}; among the seed pairs {false_seed} -> precision on negatives {}",
        bases.len(),
        if false_duplicates == 0 { "1.0" } else { "< 1.0" }
    );
    println!(
        "{:<24} {:>5} {:>8} {:>6} {:>7} {:>10} {:>8}  bar",
        "variant level", "n", "correct", "wrong", "missed", "precision", "recall"
    );
    for level in EditLevel::ALL {
        let mut dedup = Deduplicator::new(config.clone());
        let (ids, _, _) = load_bases_into(&mut dedup, bases);
        let mut tally = Tally::default();
        for variant in all_variants.iter().filter(|v| v.level == level) {
            tally.variants += 1;
            match dedup.check(&variant_article(variant)).duplicate_of() {
                Some(of) if of == ids[variant.base] => tally.correct += 1,
                Some(_) => tally.wrong_story += 1,
                None => tally.missed += 1,
            }
        }
        let bar = if !level.within_bar() {
            "(none)"
        } else if tally.recall() >= 0.99 && tally.wrong_story == 0 {
            "met"
        } else {
            "NOT MET"
        };
        println!(
            "{:<24} {:>5} {:>8} {:>6} {:>7} {:>10.3} {:>8.3}  {bar}",
            level.name(),
            tally.variants,
            tally.correct,
            tally.wrong_story,
            tally.missed,
            tally.precision(),
            tally.recall()
        );
    }
}

/// CPU time of this thread (from /proc/thread-self/schedstat), so figures
/// mean "one core" even on a machine busy with other work; wall time where
/// that file is missing.
struct CpuClock {
    cpu_ns: Option<u64>,
    wall: Instant,
}

fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl CpuClock {
    fn start() -> Self {
        Self {
            cpu_ns: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }
    fn seconds(&self) -> f64 {
        match (self.cpu_ns, thread_cpu_ns()) {
            (Some(start), Some(now)) => now.saturating_sub(start) as f64 / 1e9,
            _ => self.wall.elapsed().as_secs_f64(),
        }
    }
}

fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Fingerprint + lookup (the content rules) with `stories` remembered:
/// generated filler stories, plus the bases.
fn throughput_at_scale(
    bases: &[BaseArticle],
    all_variants: &[Variant],
    model: &TextModel,
    config: &DedupConfig,
    stories: usize,
) {
    println!("\n## Fingerprint + lookup at {stories} remembered stories (one core)");
    let fillers = stories.saturating_sub(bases.len());
    let rss_before = resident_bytes();
    let mut index = ContentIndex::new(config.near_rule());
    let started = Instant::now();
    let mut filler_words = 0usize;
    for slot in 0..fillers {
        let body = filler_body(bases, model, SEED, slot as u64);
        let print = fingerprint(&body, config);
        filler_words += print.words as usize;
        index.add_body(&print, slot as u32);
        index.set_sketch(slot as u32, &print);
    }
    for (offset, base) in bases.iter().enumerate() {
        let print = fingerprint(&base.body, config);
        let slot = (fillers + offset) as u32;
        index.add_body(&print, slot);
        index.set_sketch(slot, &print);
    }
    let fill_secs = started.elapsed().as_secs_f64();
    let rss_after = resident_bytes();
    println!(
        "filled {} stories (mean filler {} words) in {fill_secs:.1} s ({:.0} inserts/s incl. text generation)",
        fillers + bases.len(),
        filler_words / fillers.max(1),
        (fillers + bases.len()) as f64 / fill_secs
    );
    // How alike the generated fillers are, next to the real bases: the
    // more they overlap, the more LSH candidates a lookup must verify.
    let sample: Vec<Fingerprint> = (0..300u64)
        .map(|i| fingerprint(&filler_body(bases, model, SEED, i), config))
        .collect();
    let mut filler_pairs: Vec<f32> = Vec::new();
    for i in 0..sample.len() {
        for j in i + 1..sample.len() {
            if let (Some(a), Some(b)) = (&sample[i].sketch, &sample[j].sketch) {
                filler_pairs.push(a.jaccard(b));
            }
        }
    }
    filler_pairs.sort_by(f32::total_cmp);
    println!(
        "filler background ({} pairs): median {:.4}, p99 {:.4}, p99.9 {:.4}, max {:.3} (real bases: see above)",
        filler_pairs.len(),
        percentile(&filler_pairs, 0.5),
        percentile(&filler_pairs, 0.99),
        percentile(&filler_pairs, 0.999),
        percentile(&filler_pairs, 1.0)
    );
    let remembered = (fillers + bases.len()).max(1);
    println!(
        "memory per story: content index heap {:.0} bytes (sketch {} bytes, bands, body map); resident set growth {}",
        index.heap_bytes() as f64 / remembered as f64,
        newsflow_dedup::sketch::SIGNATURE_LEN * 2,
        match (rss_before, rss_after) {
            (Some(before), Some(after)) => format!("{:.0} bytes/story", after.saturating_sub(before) as f64 / remembered as f64),
            _ => "unavailable".into(),
        }
    );

    // Queries: every variant (copies) and as many unseen filler texts (new
    // stories, the common case in a stream), interleaved.
    let unseen: Vec<String> = (0..all_variants.len())
        .map(|i| filler_body(bases, model, SEED, (stories + i) as u64))
        .collect();
    let queries: Vec<&str> = all_variants
        .iter()
        .map(|v| v.body.as_str())
        .zip(unseen.iter().map(String::as_str))
        .flat_map(|(a, b)| [a, b])
        .collect();
    let query_words: usize = queries.iter().map(|q| q.split_whitespace().count()).sum();
    let rounds = 5;
    let mut fingerprint_secs = 0.0;
    let mut lookup_secs = 0.0;
    let mut matched = 0usize;
    let mut candidates = 0usize;
    for _ in 0..rounds {
        let clock = CpuClock::start();
        let prints: Vec<Fingerprint> = queries.iter().map(|q| fingerprint(q, config)).collect();
        fingerprint_secs += clock.seconds();
        let clock = CpuClock::start();
        for print in &prints {
            matched += usize::from(index.find(print).is_some());
        }
        lookup_secs += clock.seconds();
        candidates += prints
            .iter()
            .filter_map(|p| p.sketch.as_ref())
            .map(|sketch| index.candidate_count(sketch))
            .sum::<usize>();
    }
    let total = (queries.len() * rounds) as f64;
    println!(
        "{} queries ({} copies + {} new texts, mean {} words) x {rounds} rounds",
        queries.len(),
        all_variants.len(),
        unseen.len(),
        query_words / queries.len().max(1)
    );
    println!(
        "(times are this thread's CPU time; load average {})",
        load_average()
    );
    println!(
        "fingerprint {:.1} us + lookup {:.1} us per article = {:.0} articles/s (bar: >= 20000); {:.1} LSH candidates per lookup",
        fingerprint_secs / total * 1e6,
        lookup_secs / total * 1e6,
        total / (fingerprint_secs + lookup_secs),
        candidates as f64 / total
    );
    // Recall per level with the full window present: the filler must not
    // pull copies away from their bases.
    let mut wrong = 0;
    let mut by_level: Vec<(EditLevel, usize, usize)> = Vec::new();
    for level in EditLevel::ALL {
        let mut correct = 0;
        let mut n = 0;
        for variant in all_variants.iter().filter(|v| v.level == level) {
            n += 1;
            match index.find(&fingerprint(&variant.body, config)) {
                Some(found) if found.slot as usize == fillers + variant.base => correct += 1,
                Some(_) => wrong += 1,
                None => {}
            }
        }
        by_level.push((level, correct, n));
    }
    let unseen_matched = unseen
        .iter()
        .filter(|text| index.find(&fingerprint(text, config)).is_some())
        .count();
    println!(
        "at this scale: copies matched to a wrong story {wrong}; new texts matched to anything {unseen_matched} of {}",
        unseen.len()
    );
    let summary: Vec<String> = by_level
        .iter()
        .map(|(level, correct, n)| {
            format!(
                "{} {:.3}",
                level.name(),
                *correct as f64 / (*n).max(1) as f64
            )
        })
        .collect();
    println!("recall at this scale: {}", summary.join("; "));
    println!(
        "(matched {matched} of {} timed queries)",
        queries.len() * rounds
    );
}

/// The whole core (`Deduplicator::check`, all rules, story payloads kept)
/// and the SQLite-backed stage, at smaller scales.
fn full_stage(bases: &[BaseArticle], model: &TextModel, config: &DedupConfig) {
    let remembered = 100_000;
    println!("\n## Deduplicator::check with {remembered} remembered stories (payloads in memory)");
    let rss_before = resident_bytes();
    let mut dedup = Deduplicator::new(config.clone());
    let mut body_bytes = 0usize;
    for i in 0..remembered {
        let body = filler_body(bases, model, SEED ^ 1, i as u64);
        body_bytes += body.len();
        dedup.check(&article(
            "filler",
            &format!("https://filler.example/{i}"),
            "Filler",
            &body,
        ));
    }
    let rss_after = resident_bytes();
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "resident set growth {:.0} bytes/story (mean body {} bytes; content index {:.0} bytes/story)",
            after.saturating_sub(before) as f64 / remembered as f64,
            body_bytes / remembered,
            dedup.content_index_heap_bytes() as f64 / remembered as f64
        );
    }
    let queries: Vec<Article> = (0..20_000)
        .map(|i| {
            let body = filler_body(bases, model, SEED ^ 1, (i % 2 * remembered + i) as u64);
            article(
                "query",
                &format!("https://query.example/{i}"),
                "Query",
                &body,
            )
        })
        .collect();
    let started = CpuClock::start();
    let mut duplicates = 0;
    for query in &queries {
        duplicates += usize::from(dedup.check(query).duplicate_of().is_some());
    }
    let secs = started.seconds();
    println!(
        "{} checks (half copies of remembered stories: {duplicates} found) in {secs:.2} s = {:.0} articles/s",
        queries.len(),
        queries.len() as f64 / secs
    );

    let checks = 30_000;
    println!(
        "\n## DedupStage::check (SQLite, state persisted per check, texts kept in SQLite only)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut stage =
        DedupStage::open(&dir.path().join("dedup.sqlite"), config.clone()).expect("open stage");
    let inputs: Vec<Article> = (0..checks)
        .map(|i| {
            let body = filler_body(bases, model, SEED ^ 2, i as u64);
            article(
                "stage",
                &format!("https://stage.example/{i}"),
                "Stage",
                &body,
            )
        })
        .collect();
    let rss_before = resident_bytes();
    let started = Instant::now();
    for input in &inputs {
        stage.check(input).expect("check");
    }
    let secs = started.elapsed().as_secs_f64();
    if let (Some(before), Some(after)) = (rss_before, resident_bytes()) {
        println!(
            "resident set growth {:.0} bytes/story",
            after.saturating_sub(before) as f64 / checks as f64
        );
    }
    drop(stage);
    let reopened = Instant::now();
    let stage =
        DedupStage::open(&dir.path().join("dedup.sqlite"), config.clone()).expect("reopen stage");
    println!(
        "{checks} new stories in {secs:.2} s = {:.0} articles/s; reopen restored {} stories in {:.2} s",
        checks as f64 / secs,
        stage.len(),
        reopened.elapsed().as_secs_f64()
    );
}

/// The outputs the service sends for one check, encoded as its bus
/// carries them: the changelog entries first (on Kafka), then the verdict's
/// records. Returns the bytes encoded.
fn encode_outputs(verdict: &Verdict, changelog: Vec<ChangelogEntry>) -> usize {
    let mut bytes = 0;
    for entry in changelog {
        bytes += match entry {
            ChangelogEntry::Row(record) => encode(record.as_ref()).len(),
            // A tombstone is an empty record under its key.
            ChangelogEntry::Tombstone { key } => key.len(),
        };
    }
    if let Verdict::Duplicate { record, .. } = verdict {
        bytes += encode(record).len();
    }
    bytes + encode(verdict.story()).len()
}

/// Stories per CPU second of this thread and per wall second.
struct Rates {
    cpu: f64,
    wall: f64,
}

impl Rates {
    fn of(count: usize, cpu: &CpuClock, wall: Instant) -> Self {
        Self {
            cpu: count as f64 / cpu.seconds(),
            wall: count as f64 / wall.elapsed().as_secs_f64(),
        }
    }
}

/// Checks handled back to back, and so sharing one sync, in the
/// group-commit row: about what the embedded stage loop handles at once
/// under full load (it takes up to 32 that are waiting).
const CHECKS_PER_SYNC: usize = 16;

/// The whole stage over `payloads`: each article decoded from its JSON
/// payload, checked by the stage (its state written to SQLite before the
/// check returns), its changelog entries taken and every output encoded;
/// with `sync_every`, the stage's syncs deferred and made once per that
/// many checks, as the embedded stage loop makes them.
fn run_whole_stage(
    stage: &mut DedupStage,
    payloads: &[Vec<u8>],
    sync_every: Option<usize>,
) -> (Rates, usize, usize) {
    let mut duplicates = 0;
    let mut encoded_bytes = 0;
    if sync_every.is_some() {
        stage.defer_syncs().expect("deferring the stage's syncs");
    }
    let cpu = CpuClock::start();
    let wall = Instant::now();
    for (index, payload) in payloads.iter().enumerate() {
        let article: Article = decode(payload).expect("an article payload");
        let verdict = stage.check(&article).expect("check");
        duplicates += usize::from(verdict.duplicate_of().is_some());
        encoded_bytes += encode_outputs(&verdict, stage.take_changelog());
        if sync_every.is_some_and(|every| (index + 1) % every == 0) {
            stage.sync().expect("sync");
        }
    }
    stage.sync().expect("sync");
    (
        Rates::of(payloads.len(), &cpu, wall),
        duplicates,
        encoded_bytes,
    )
}

/// The in-memory core (`Deduplicator::check`) and the whole stage as the
/// service runs it, over the same articles from the same window: half of
/// them copies of remembered stories, half new. The stage runs twice from
/// one copy of its store each: as on the embedded bus (no changelog) and
/// as on Kafka (each check's changed rows encoded for the changelog topic).
fn core_beside_whole_stage(
    bases: &[BaseArticle],
    model: &TextModel,
    config: &DedupConfig,
    remembered: usize,
) {
    let checks = 10_000;
    println!(
        "\n## Core beside the whole stage: {checks} articles (half copies) against {remembered} remembered stories"
    );
    let window: Vec<Article> = (0..remembered)
        .map(|i| {
            let body = filler_body(bases, model, SEED ^ 3, i as u64);
            article(
                "window",
                &format!("https://window.example/{i}"),
                "Window",
                &body,
            )
        })
        .collect();
    let queries: Vec<Article> = (0..checks)
        .map(|i| {
            let text = if i % 2 == 0 {
                i % remembered.max(1)
            } else {
                remembered + i
            };
            let body = filler_body(bases, model, SEED ^ 3, text as u64);
            article(
                "query",
                &format!("https://query.example/{i}"),
                "Query",
                &body,
            )
        })
        .collect();
    let payloads: Vec<Vec<u8>> = queries.iter().map(encode).collect();

    let mut core = Deduplicator::new(config.clone());
    for input in &window {
        core.check(input);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let embedded_db = dir.path().join("dedup-embedded.sqlite");
    let grouped_db = dir.path().join("dedup-grouped.sqlite");
    let kafka_db = dir.path().join("dedup-kafka.sqlite");
    let filling = Instant::now();
    let mut stage = DedupStage::open(&embedded_db, config.clone()).expect("open stage");
    for input in &window {
        stage.check(input).expect("check");
    }
    drop(stage);
    let fill_secs = filling.elapsed().as_secs_f64();
    // Closing the last connection checkpointed the WAL into the file.
    std::fs::copy(&embedded_db, &kafka_db).expect("copy of the stage's store");
    std::fs::copy(&embedded_db, &grouped_db).expect("copy of the stage's store");

    let cpu = CpuClock::start();
    let wall = Instant::now();
    let mut core_duplicates = 0;
    for query in &queries {
        core_duplicates += usize::from(core.check(query).duplicate_of().is_some());
    }
    let core_rates = Rates::of(checks, &cpu, wall);
    drop(core);

    let mut stage = DedupStage::open(&embedded_db, config.clone()).expect("reopen stage");
    let (embedded, embedded_duplicates, embedded_bytes) =
        run_whole_stage(&mut stage, &payloads, None);
    drop(stage);
    let mut stage = DedupStage::open(&grouped_db, config.clone()).expect("open the copy");
    let (grouped, grouped_duplicates, grouped_bytes) =
        run_whole_stage(&mut stage, &payloads, Some(CHECKS_PER_SYNC));
    drop(stage);
    let mut stage = DedupStage::open(&kafka_db, config.clone()).expect("open the copy");
    stage
        .enable_changelog()
        .expect("switching the stage to changelog mode");
    let (kafka, kafka_duplicates, kafka_bytes) = run_whole_stage(&mut stage, &payloads, None);
    drop(stage);
    assert_eq!(
        (embedded_duplicates, grouped_duplicates, kafka_duplicates),
        (core_duplicates, core_duplicates, core_duplicates),
        "the stage finds the copies the core finds"
    );

    println!(
        "window filled through the stage in {fill_secs:.1} s; copies found {core_duplicates} of {}",
        checks / 2
    );
    println!("(load average {})", load_average());
    println!(
        "{:<58} {:>13} {:>9} {:>14} {:>10} {:>12}",
        "", "stories/s CPU", "x core", "stories/s wall", "x core", "output/story"
    );
    println!(
        "{:<58} {:>13.0} {:>9.2} {:>14.0} {:>10.2} {:>12}",
        "core: Deduplicator::check (in memory)", core_rates.cpu, 1.0, core_rates.wall, 1.0, "-"
    );
    for (name, rates, bytes) in [
        (
            "whole stage, embedded bus, a sync per check (a trickle)".to_string(),
            &embedded,
            embedded_bytes,
        ),
        (
            format!("whole stage, embedded bus, a sync per {CHECKS_PER_SYNC} checks (full load)"),
            &grouped,
            grouped_bytes,
        ),
        (
            "whole stage, Kafka: the same + changelog rows encoded".to_string(),
            &kafka,
            kafka_bytes,
        ),
    ] {
        println!(
            "{name:<58} {:>13.0} {:>9.2} {:>14.0} {:>10.2} {:>10} B",
            rates.cpu,
            rates.cpu / core_rates.cpu,
            rates.wall,
            rates.wall / core_rates.wall,
            bytes / checks
        );
    }
}

/// The machine's load averages (1, 5, 15 minutes), printed beside the figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
