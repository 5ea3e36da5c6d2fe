//! Faults of the stages in front of dedup, on Kafka: fetcher, cleaner, dedup
//! and clusterer each their own process on a tansu broker (sqlite storage),
//! the fetcher polling outlets of synthetic news (`common::synthetic_news`,
//! with verbatim syndicated copies) served on loopback. The stream arrives
//! in waves, new stories added to the outlets' feeds, and:
//!
//! 1. the fetcher is SIGKILLed twice while it fetches a wave and produces
//!    its pages to `raw` (early in one wave, midway in the next), and
//!    restarted: a page handed on but not yet marked seen is produced again
//!    (pages of the wave are also produced a second time on purpose, as
//!    such a kill would); a page marked seen was on `raw` before;
//! 2. the cleaner is SIGKILLed, a wave is fetched into a backlog on `raw`,
//!    and the restarted cleaner is SIGKILLed again while it works through
//!    that backlog, then restarted: it reads again what it had not
//!    committed.
//!
//! After each fault: every story is in exactly one event (a syndicated copy
//! stands for its original), no event lists a story twice, and no event's
//! version goes back. The test prints, per fault, how long until the
//! restarted stage was back at work and until every story was placed (the
//! README's reliability table), and how many pages reached `raw` more than
//! once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::child_guard::free_port;
use common::kafka::{
    kafka_config, require_tansu, start_broker, topic_payloads, Running, StageProcess, Storage,
};
use common::metrics_scrape::metric_sum;
use common::synthetic_news::{SyntheticNews, SyntheticStory};
use common::{fixture_path, standing_events};
use newsflow_fixture_server::FixtureServer;
use newsflow_model::{EventRecord, Message as _, RawPage};

const PREFIX: &str = "fetchfaults.";
/// Generous: first group joins on tansu take ~20 s, a restarted cleaner
/// waits ~50 s for its partition (see the README), and a debug build's
/// dedup and clusterer take up to a minute and more over a wave.
const PLACE_TIMEOUT: Duration = Duration::from_secs(300);
/// The waves the stream arrives in, as shares (in tenths) of the stories:
/// before any fault, the two fetcher kills, the cleaner's backlog.
const WAVES: [usize; 4] = [2, 2, 2, 4];
const _WHOLE_STREAM: () = assert!(WAVES[0] + WAVES[1] + WAVES[2] + WAVES[3] == 10);
/// Pages of the first fetcher-fault wave produced to `raw` a second time.
const PRODUCED_AGAIN: usize = 5;

struct Pipeline {
    runtime: tokio::runtime::Runtime,
    work: tempfile::TempDir,
    server: FixtureServer,
    site: PathBuf,
    feeds: PathBuf,
    brokers: String,
    config_file: PathBuf,
    _broker: Running,
    /// Every story of the stream, and how many are in the feeds now.
    stories: Vec<SyntheticStory>,
    published: usize,
    published_tenths: usize,
    processes: BTreeMap<&'static str, (Running, u16)>,
}

impl Pipeline {
    fn start(seed: u64) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let work = tempfile::tempdir().unwrap();
        let site = work.path().join("site");
        std::fs::create_dir_all(&site).unwrap();
        let server = runtime.block_on(FixtureServer::start(&site)).unwrap();
        let stories = SyntheticNews::generate(seed, 30, 5, 7).stories;
        let feeds = SyntheticNews::write_site(&[], &site, server.base_url());
        let port = free_port();
        let broker_dir = work.path().join("broker");
        std::fs::create_dir_all(&broker_dir).unwrap();
        let broker = start_broker(&broker_dir, port, Storage::Sqlite);
        let config_file = work.path().join("newsflow.toml");
        // Dead members leave their group within seconds; feeds are polled
        // every second or two, pages at most ten a second (so a kill lands
        // while a wave is being fetched).
        std::fs::write(
            &config_file,
            "[fetcher]\nmin_interval_secs = 1\ndefault_interval_secs = 1\n\
             max_interval_secs = 2\nper_host_min_gap_ms = 100\n\
             [bus.kafka]\nconsumer_stall_secs = 45\nrestore_stall_secs = 30\n\
             [bus.kafka.properties]\n\"session.timeout.ms\" = \"10000\"\n\
             \"heartbeat.interval.ms\" = \"1000\"\n",
        )
        .unwrap();
        Self {
            runtime,
            server,
            site,
            feeds,
            brokers: format!("127.0.0.1:{port}"),
            config_file,
            _broker: broker,
            work,
            stories,
            published: 0,
            published_tenths: 0,
            processes: BTreeMap::new(),
        }
    }

    /// Starts stage `name` (again), with its operator endpoint on a fresh
    /// port; its data directory and log persist across restarts.
    fn spawn(&mut self, name: &'static str) {
        let port = free_port();
        let mut extra = vec!["--config".into(), self.config_file.display().to_string()];
        if name == "fetcher" {
            extra.extend([
                "--feeds".into(),
                self.feeds.display().to_string(),
                "--allow-private-addresses".into(),
            ]);
        }
        let running = StageProcess {
            name,
            brokers: &self.brokers,
            topic_prefix: PREFIX,
            data_dir: self.work.path().join(name),
            log: self.work.path().join(format!("{name}.log")),
            extra,
            env: vec![(
                "NEWSFLOW_OPERATOR_LISTEN".into(),
                format!("127.0.0.1:{port}"),
            )],
        }
        .spawn();
        self.processes.insert(name, (running, port));
    }

    fn kill(&mut self, name: &str) {
        self.processes.get_mut(name).unwrap().0.kill();
    }

    /// `name`'s counter (summed over `labels`) now; 0 while its endpoint
    /// does not answer (the process is starting).
    fn counter(&self, name: &str, metric: &str, labels: &[&str]) -> f64 {
        let port = self.processes[name].1;
        for _ in 0..10 {
            if let Some(sum) = metric_sum(port, metric, labels) {
                return sum;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        0.0
    }

    fn pages_delivered(&self) -> usize {
        self.counter(
            "fetcher",
            "newsflow_fetcher_pages_total",
            &["outcome=\"delivered\""],
        ) as usize
    }

    fn cleaner_inputs(&self) -> usize {
        self.counter("cleaner", "newsflow_inputs_total", &["stage=\"cleaner\""]) as usize
    }

    /// Adds the next wave (`tenths` of the stream) to the outlets' feeds;
    /// returns how many pages it adds.
    fn publish_wave(&mut self, tenths: usize) -> usize {
        let before = self.published;
        self.published_tenths = (self.published_tenths + tenths).min(10);
        self.published = self.stories.len() * self.published_tenths / 10;
        SyntheticNews::write_site(
            &self.stories[..self.published],
            &self.site,
            self.server.base_url(),
        );
        self.published - before
    }

    /// Waits until `condition` holds, checking every 50 ms.
    fn wait_for(&self, what: &str, timeout: Duration, condition: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !condition(self) {
            if Instant::now() > deadline {
                self.dump_logs();
                panic!("{what}: not within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn records(&self, topic: &str) -> Option<Vec<Vec<u8>>> {
        topic_payloads(&self.runtime, &kafka_config(&self.brokers, PREFIX), topic)
    }

    /// Every record of `topic`, read to its end (tried again while the
    /// broker does not answer).
    fn all_records(&self, topic: &str) -> Vec<Vec<u8>> {
        for _ in 0..20 {
            if let Some(records) = self.records(topic) {
                return records;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        self.dump_logs();
        panic!("{topic} could not be read to its end");
    }

    /// Produces `pages` to `raw` again with a later fetch time, as a
    /// fetcher killed after handing them on, before marking them seen,
    /// produces them after its restart.
    fn produce_again(&self, pages: &[RawPage]) {
        let config = kafka_config(&self.brokers, PREFIX);
        self.runtime.block_on(async {
            use newsflow_bus::Producer;
            let bus = newsflow_bus::KafkaBus::connect(config).unwrap();
            for page in pages {
                let mut again = page.clone();
                again.fetched_at = chrono::Utc::now();
                bus.send("raw", &again.key(), newsflow_model::encode(&again))
                    .await
                    .unwrap();
            }
        });
    }

    /// Pages on `raw` now.
    fn raw_pages(&self) -> Vec<RawPage> {
        self.all_records("raw")
            .iter()
            .filter_map(|p| newsflow_model::decode(p).ok())
            .collect()
    }

    /// Waits until every story published so far is placed, checking the
    /// events every time they are read; returns how long since `since`.
    fn wait_placed(&self, fault: &str, since: Instant) -> Duration {
        let deadline = Instant::now() + PLACE_TIMEOUT;
        let mut last = String::from("events never read");
        while Instant::now() < deadline {
            if let Some(payloads) = self.records("events") {
                let records: Vec<EventRecord> = payloads
                    .iter()
                    .filter_map(|p| newsflow_model::decode(p).ok())
                    .collect();
                let placement = Placement::of(&records, &self.stories[..self.published]);
                if let Err(broken) = placement.consistent() {
                    self.dump_logs();
                    panic!("{fault}: {broken}");
                }
                if placement.lost.is_empty() {
                    let took = since.elapsed();
                    let raw = self.raw_pages();
                    let items: BTreeSet<&str> = raw.iter().map(|p| p.item_id.as_str()).collect();
                    eprintln!(
                        "RELIABILITY {fault}: stories={} lost=0 twice=0 recovered_in={:.1}s \
                         raw_pages={} produced_more_than_once={}",
                        self.published,
                        took.as_secs_f64(),
                        raw.len(),
                        raw.len() - items.len()
                    );
                    return took;
                }
                last = format!(
                    "{} of {} stories not placed yet, e.g. {:?}",
                    placement.lost.len(),
                    self.published,
                    placement.lost.iter().take(3).collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        self.dump_logs();
        panic!("{fault}: {last} after {PLACE_TIMEOUT:?}");
    }

    fn dump_logs(&self) {
        common::stage_logs::dump_logs(
            self.work.path(),
            &[self.work.path().join("broker/tansu.log")],
        );
    }
}

/// The standing events against the stories published.
struct Placement {
    /// Stories (a copy standing for its original) in no event.
    lost: Vec<String>,
    /// Stories in more than one event, or listed twice by one event.
    twice: Vec<String>,
    /// Events whose version went down in the topic's order.
    versions_back: Vec<String>,
}

impl Placement {
    fn of(records: &[EventRecord], stories: &[SyntheticStory]) -> Self {
        let original_of: BTreeMap<&str, &str> = stories
            .iter()
            .map(|s| (s.path.as_str(), s.copy_of.as_deref().unwrap_or(&s.path)))
            .collect();
        let versions_back = common::versions_gone_back(records);
        let mut twice = Vec::new();
        let mut events_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for event in standing_events(records.iter().cloned()) {
            let mut listed = BTreeSet::new();
            for member in &event.members {
                let path = fixture_path(&member.url);
                let story = original_of
                    .get(path.as_str())
                    .map_or(path.clone(), |s| s.to_string());
                if !listed.insert(story.clone()) || !listed.insert(member.story_id.clone()) {
                    twice.push(format!("{} lists {story} twice", event.event_id));
                }
                events_of
                    .entry(story)
                    .or_default()
                    .insert(event.event_id.clone());
            }
        }
        twice.extend(
            events_of
                .iter()
                .filter(|(_, events)| events.len() > 1)
                .map(|(story, events)| format!("{story} in {events:?}")),
        );
        let lost = stories
            .iter()
            .filter(|s| s.copy_of.is_none() && !events_of.contains_key(&s.path))
            .map(|s| s.path.clone())
            .collect();
        Self {
            lost,
            twice,
            versions_back,
        }
    }

    fn consistent(&self) -> Result<(), String> {
        if !self.twice.is_empty() {
            return Err(format!("stories counted twice: {:?}", self.twice));
        }
        if !self.versions_back.is_empty() {
            return Err(format!("versions went back: {:?}", self.versions_back));
        }
        Ok(())
    }
}

/// Adds a wave of `tenths` of the stream to the feeds, SIGKILLs the
/// fetcher once it has handed on `after` of its pages (`None`: half) and
/// restarts it. Asserts that the kill landed while the wave was being
/// handed on. Returns the pages of the wave that were on `raw` at the kill,
/// when it was, and how long until the restarted fetcher handed on a page.
fn kill_fetcher_in_wave(
    pipeline: &mut Pipeline,
    tenths: usize,
    after: Option<usize>,
) -> (Vec<RawPage>, Instant, Duration) {
    let before: BTreeSet<String> = pipeline
        .raw_pages()
        .into_iter()
        .map(|p| p.item_id)
        .collect();
    let start = pipeline.pages_delivered();
    let wave = pipeline.publish_wave(tenths);
    let after = after.unwrap_or(wave / 2);
    pipeline.wait_for(
        "the fetcher hands on the new wave",
        Duration::from_secs(60),
        |p| p.pages_delivered() >= start + after,
    );
    pipeline.kill("fetcher");
    let killed = Instant::now();
    let handed_on: Vec<RawPage> = pipeline
        .raw_pages()
        .into_iter()
        .filter(|p| !before.contains(&p.item_id))
        .collect();
    eprintln!(
        "fetcher SIGKILLed with {} of {wave} pages of the wave on raw",
        handed_on.len()
    );
    assert!(
        handed_on.len() < wave,
        "the kill came after the whole wave was handed on"
    );
    pipeline.spawn("fetcher");
    pipeline.wait_for(
        "the restarted fetcher hands on a page",
        PLACE_TIMEOUT,
        |p| p.pages_delivered() > 0,
    );
    (handed_on, killed, killed.elapsed())
}

#[test]
fn the_fetcher_and_the_cleaner_killed_mid_stream_lose_and_repeat_nothing() {
    if !require_tansu() {
        return;
    }
    let seed = std::env::var("NEWSFLOW_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("stream seed: {seed} (NEWSFLOW_CRASH_SEED={seed} replays it)");
    let mut pipeline = Pipeline::start(seed);
    assert!(pipeline.stories.len() >= 150);

    pipeline.publish_wave(WAVES[0]);
    for stage in ["fetcher", "cleaner", "dedup", "clusterer"] {
        pipeline.spawn(stage);
    }
    pipeline.wait_placed("start", Instant::now());
    let mut figures = Vec::new();

    // 1. The fetcher dies while it hands on a wave, early in one and midway
    //    in the next; some pages of the first reach `raw` twice.
    let (handed_on, killed, back) = kill_fetcher_in_wave(&mut pipeline, WAVES[1], Some(3));
    let again: Vec<RawPage> = handed_on.into_iter().take(PRODUCED_AGAIN).collect();
    assert!(again.len() >= 3, "{} pages to produce again", again.len());
    pipeline.produce_again(&again);
    figures.push((
        "fetcher SIGKILLed early in a wave, restarted; 3-5 of its pages produced twice",
        back,
        pipeline.wait_placed("fetcher SIGKILLed early in a wave", killed),
    ));
    let (_, killed, back) = kill_fetcher_in_wave(&mut pipeline, WAVES[2], None);
    figures.push((
        "fetcher SIGKILLed midway through a wave, restarted",
        back,
        pipeline.wait_placed("fetcher SIGKILLed midway through a wave", killed),
    ));

    // 2. The cleaner dies; a wave piles up on `raw`; the restarted cleaner
    //    dies again while it works through that backlog.
    pipeline.kill("cleaner");
    let delivered = pipeline.pages_delivered();
    let wave = pipeline.publish_wave(WAVES[3]);
    pipeline.wait_for(
        "the fetcher hands on the backlog wave",
        Duration::from_secs(90),
        |p| p.pages_delivered() >= delivered + wave,
    );
    let articles_before = pipeline.all_records("articles").len();
    pipeline.spawn("cleaner");
    pipeline.wait_for(
        "the restarted cleaner starts on its backlog",
        PLACE_TIMEOUT,
        |p| p.cleaner_inputs() >= 3,
    );
    pipeline.kill("cleaner");
    let killed = Instant::now();
    let cleaned = pipeline.all_records("articles").len() - articles_before;
    eprintln!("cleaner SIGKILLed with {cleaned} of a backlog of {wave} pages cleaned");
    assert!(
        cleaned < wave,
        "the kill came after the whole backlog was cleaned"
    );
    pipeline.spawn("cleaner");
    pipeline.wait_for(
        "the restarted cleaner goes on with its backlog",
        PLACE_TIMEOUT,
        |p| p.cleaner_inputs() > 0,
    );
    let back = killed.elapsed();
    figures.push((
        "cleaner SIGKILLed while working through a backlog on raw, restarted",
        back,
        pipeline.wait_placed("cleaner SIGKILLed in its backlog", killed),
    ));

    for (fault, back, placed) in &figures {
        eprintln!(
            "RELIABILITY-TABLE | {fault} | 1 | 0 | 0 | back at work {:.1} s, every story placed {:.0} s after the kill |",
            back.as_secs_f64(),
            placed.as_secs_f64()
        );
    }
    for (running, _) in pipeline.processes.values_mut() {
        running.terminate();
    }
}
