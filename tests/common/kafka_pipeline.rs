//! The whole pipeline on Kafka, for fault tests: a tansu broker (sqlite
//! storage, so it survives its own restarts), fetcher, cleaner, dedup and
//! clusterer each their own process, the fetcher polling outlets of
//! synthetic news (`synthetic_news`, with verbatim syndicated copies)
//! served on loopback and published in waves; and the verdict on the
//! events against the stories published so far.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use newsflow_fixture_server::FixtureServer;
use newsflow_model::{EventRecord, Message as _, RawPage};

use super::kafka::{
    free_port, kafka_config, start_broker, start_broker_in, topic_payloads, Running, StageProcess,
    Storage,
};
use super::metrics_scrape::metric_sum;
use super::synthetic_news::{SyntheticNews, SyntheticStory};
use super::{fixture_path, standing_events};

/// Generous: first group joins on tansu take ~20 s, a restarted cleaner
/// waits ~50 s for its partition (see the README), and a debug build's
/// dedup and clusterer take up to a minute and more over a wave.
pub const PLACE_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Pipeline {
    pub runtime: tokio::runtime::Runtime,
    pub work: tempfile::TempDir,
    server: FixtureServer,
    site: PathBuf,
    pub feeds: PathBuf,
    port: u16,
    pub brokers: String,
    topic_prefix: &'static str,
    config_file: PathBuf,
    broker: Running,
    /// Every story of the stream, and how many are in the feeds now.
    pub stories: Vec<SyntheticStory>,
    pub published: usize,
    processes: BTreeMap<&'static str, (Running, u16)>,
}

impl Pipeline {
    /// A broker and the outlets (with empty feeds) for `stories`; no stage
    /// runs yet. A stuck consumer group is re-created after 45 s.
    pub fn start(stories: Vec<SyntheticStory>, topic_prefix: &'static str) -> Self {
        Self::start_with_stall(stories, topic_prefix, 45)
    }

    /// As `start`, with the stages' `bus.kafka.consumer_stall_secs`.
    pub fn start_with_stall(
        stories: Vec<SyntheticStory>,
        topic_prefix: &'static str,
        consumer_stall_secs: u64,
    ) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let work = tempfile::tempdir().unwrap();
        let site = work.path().join("site");
        std::fs::create_dir_all(&site).unwrap();
        let server = runtime.block_on(FixtureServer::start(&site)).unwrap();
        let feeds = SyntheticNews::write_site(&[], &site, server.base_url());
        let (broker, port) = start_broker_in(work.path());
        let config_file = work.path().join("newsflow.toml");
        // Dead members leave their group within seconds; feeds are polled
        // every second or two, pages at most ten a second (so a kill lands
        // while a wave is being fetched).
        std::fs::write(
            &config_file,
            format!(
                "[fetcher]\nmin_interval_secs = 1\ndefault_interval_secs = 1\n\
                 max_interval_secs = 2\nper_host_min_gap_ms = 100\n\
                 [bus.kafka]\nconsumer_stall_secs = {consumer_stall_secs}\n\
                 restore_stall_secs = 30\n\
                 [bus.kafka.properties]\n\"session.timeout.ms\" = \"10000\"\n\
                 \"heartbeat.interval.ms\" = \"1000\"\n"
            ),
        )
        .unwrap();
        Self {
            runtime,
            server,
            site,
            feeds,
            port,
            brokers: format!("127.0.0.1:{port}"),
            topic_prefix,
            config_file,
            broker,
            work,
            stories,
            published: 0,
            processes: BTreeMap::new(),
        }
    }

    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Starts stage `name` (again), with its operator endpoint on a fresh
    /// port; its data directory and log persist across restarts.
    pub fn spawn(&mut self, name: &'static str) {
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
            topic_prefix: self.topic_prefix,
            data_dir: self.data_dir(name),
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

    /// SIGKILL: the stage commits and flushes nothing more.
    pub fn kill(&mut self, name: &str) {
        self.processes.get_mut(name).unwrap().0.kill();
    }

    /// SIGTERM, and a wait for the stage to finish what it holds.
    pub fn terminate(&mut self, name: &str) {
        self.processes.get_mut(name).unwrap().0.terminate();
    }

    pub fn terminate_all(&mut self) {
        for (running, _) in self.processes.values_mut() {
            running.terminate();
        }
    }

    pub fn kill_broker(&mut self) {
        self.broker.kill();
    }

    /// The broker again, on its port and with its `tansu.db`.
    pub fn restart_broker(&mut self) {
        self.broker = start_broker(&self.work.path().join("broker"), self.port, Storage::Sqlite);
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

    pub fn pages_delivered(&self) -> usize {
        self.counter(
            "fetcher",
            "newsflow_fetcher_pages_total",
            &["outcome=\"delivered\""],
        ) as usize
    }

    pub fn cleaner_inputs(&self) -> usize {
        self.counter("cleaner", "newsflow_inputs_total", &["stage=\"cleaner\""]) as usize
    }

    /// Adds the next `count` stories of the stream to the outlets' feeds;
    /// returns how many it added.
    pub fn publish(&mut self, count: usize) -> usize {
        let before = self.published;
        self.published = (self.published + count).min(self.stories.len());
        SyntheticNews::write_site(
            &self.stories[..self.published],
            &self.site,
            self.server.base_url(),
        );
        self.published - before
    }

    /// Waits until `condition` holds, checking every 50 ms.
    pub fn wait_for(&self, what: &str, timeout: Duration, condition: impl Fn(&Self) -> bool) {
        self.wait_checking_every(Duration::from_millis(50), what, timeout, condition);
    }

    /// Waits until `condition` holds, checking every 2 ms: for a kill that
    /// must land while a stage is partway through its work, which on small
    /// pages a stage can finish within one 50 ms pause.
    pub fn wait_closely_for(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&Self) -> bool,
    ) {
        self.wait_checking_every(Duration::from_millis(2), what, timeout, condition);
    }

    fn wait_checking_every(
        &self,
        pause: Duration,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&Self) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !condition(self) {
            if Instant::now() > deadline {
                self.dump_logs();
                panic!("{what}: not within {timeout:?}");
            }
            std::thread::sleep(pause);
        }
    }

    fn records(&self, topic: &str) -> Option<Vec<Vec<u8>>> {
        topic_payloads(
            &self.runtime,
            &kafka_config(&self.brokers, self.topic_prefix),
            topic,
        )
    }

    /// Every record of `topic`, read to its end (tried again while the
    /// broker does not answer).
    pub fn all_records(&self, topic: &str) -> Vec<Vec<u8>> {
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
    pub fn produce_again(&self, pages: &[RawPage]) {
        let config = kafka_config(&self.brokers, self.topic_prefix);
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
    pub fn raw_pages(&self) -> Vec<RawPage> {
        self.all_records("raw")
            .iter()
            .filter_map(|p| newsflow_model::decode(p).ok())
            .collect()
    }

    /// The events as they stand now against the stories published, or
    /// `None` when the broker could not be read; panics (with the logs)
    /// when a story is counted twice or a version went back.
    pub fn check_placement(&self, fault: &str) -> Option<Placement> {
        let payloads = self.records("events")?;
        let records: Vec<EventRecord> = payloads
            .iter()
            .filter_map(|p| newsflow_model::decode(p).ok())
            .collect();
        let placement = Placement::of(&records, &self.stories[..self.published]);
        if let Err(broken) = placement.consistent() {
            self.dump_logs();
            panic!("{fault}: {broken}");
        }
        Some(placement)
    }

    /// Waits until every story published so far is placed, checking the
    /// events every time they are read; returns how long since `since`.
    pub fn wait_placed(&self, fault: &str, since: Instant) -> Duration {
        let deadline = Instant::now() + PLACE_TIMEOUT;
        let mut last = String::from("events never read");
        while Instant::now() < deadline {
            if let Some(placement) = self.check_placement(fault) {
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

    pub fn dump_logs(&self) {
        super::stage_logs::dump_logs(
            self.work.path(),
            &[self.work.path().join("broker/tansu.log")],
        );
    }
}

/// The standing events against the stories published.
pub struct Placement {
    /// Stories (a copy standing for its original) in no event.
    pub lost: Vec<String>,
    /// Stories in more than one event, or listed twice by one event.
    pub twice: Vec<String>,
    /// Events whose version went down in the topic's order.
    pub versions_back: Vec<String>,
}

impl Placement {
    pub fn of(records: &[EventRecord], stories: &[SyntheticStory]) -> Self {
        let original_of: BTreeMap<&str, &str> = stories
            .iter()
            .map(|s| (s.path.as_str(), s.copy_of.as_deref().unwrap_or(&s.path)))
            .collect();
        let versions_back = super::versions_gone_back(records);
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

    pub fn consistent(&self) -> Result<(), String> {
        if !self.twice.is_empty() {
            return Err(format!("stories counted twice: {:?}", self.twice));
        }
        if !self.versions_back.is_empty() {
            return Err(format!("versions went back: {:?}", self.versions_back));
        }
        Ok(())
    }
}
