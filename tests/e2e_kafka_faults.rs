//! Faults on Kafka, each stateful stage its own process with a standby (a
//! second process in the same consumer group), on a tansu broker whose
//! sqlite storage survives its restarts. A stream of stories (with verbatim
//! copies of earlier ones) is produced to `articles` in batches, and while
//! each batch is in flight one fault strikes:
//!
//! 1. the active clusterer is SIGKILLed: the standby takes over, restoring
//!    the state from the changelog on assignment (a standby that kept the
//!    state it loaded at its own start would place re-sent and related
//!    stories into events of their own: the stale standby);
//! 2. the active dedup is SIGKILLed: its standby takes over (a stale one
//!    would take copies of earlier stories for new stories);
//! 3. the broker is SIGKILLed and restarted;
//! 4. dedup and the clusterer are SIGKILLed and restarted, and the broker is
//!    SIGKILLed and restarted 5 s later while they join their groups (the
//!    stall once observed: they must get going again by themselves).
//!
//! The killed stages come back as standbys with their data directories
//! wiped.
//!
//! After each batch: every story is in exactly one event, no copy is a
//! member, and no event's version ever went back. The test prints, per
//! fault, how long until the batch was placed (the README's reliability
//! table).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::kafka::{
    kafka_config, require_tansu, start_broker, start_broker_in, topic_payloads, Running,
    StageProcess, Storage,
};
use newsflow_model::{Article, EventRecord, Message as _, SCHEMA_VERSION};

const PREFIX: &str = "faults.";
/// Generous: group joins on tansu take ~20 s, a takeover waits for the
/// session timeout, a stalled member for `consumer_stall_secs`.
const PLACE_TIMEOUT: Duration = Duration::from_secs(180);

struct Harness {
    runtime: tokio::runtime::Runtime,
    work: tempfile::TempDir,
    port: u16,
    brokers: String,
    config_file: PathBuf,
    broker: Running,
    /// Every article produced: originals and copies.
    originals: Vec<Article>,
    copies: Vec<(Article, String)>,
}

impl Harness {
    fn start() -> Self {
        let work = tempfile::tempdir().unwrap();
        let (broker, port) = start_broker_in(work.path());
        let config_file = work.path().join("newsflow.toml");
        // Dead members leave the group within seconds, not the default 30;
        // a stuck member is re-created within a minute.
        std::fs::write(
            &config_file,
            "[bus.kafka]\nconsumer_stall_secs = 45\nrestore_stall_secs = 30\n\
             [bus.kafka.properties]\n\"session.timeout.ms\" = \"10000\"\n\
             \"heartbeat.interval.ms\" = \"1000\"\n",
        )
        .unwrap();
        Self {
            runtime: tokio::runtime::Runtime::new().unwrap(),
            brokers: format!("127.0.0.1:{port}"),
            work,
            port,
            config_file,
            broker,
            originals: Vec::new(),
            copies: Vec::new(),
        }
    }

    fn restart_broker(&mut self) {
        self.broker = start_broker(&self.work.path().join("broker"), self.port, Storage::Sqlite);
    }

    fn data_dir(&self, instance: &str) -> PathBuf {
        self.work.path().join(instance)
    }

    fn log(&self, instance: &str) -> PathBuf {
        self.work.path().join(format!("{instance}.log"))
    }

    /// `instance`'s log so far, without terminal colours.
    fn read_log(&self, instance: &str) -> String {
        common::stage_logs::plain_log(&self.log(instance))
    }

    /// Starts `newsflow run --stage name` as `instance` (its own data
    /// directory and log, appended across restarts).
    fn stage(&self, name: &'static str, instance: &str) -> Running {
        StageProcess {
            name,
            brokers: &self.brokers,
            topic_prefix: PREFIX,
            data_dir: self.data_dir(instance),
            log: self.log(instance),
            extra: vec!["--config".into(), self.config_file.display().to_string()],
            env: Vec::new(),
        }
        .spawn()
    }

    /// Waits until `instance`'s log has said `needle` `times` times.
    fn wait_log(&self, instance: &str, needle: &str, times: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.read_log(instance);
            if log.matches(needle).count() >= times {
                return;
            }
            if Instant::now() > deadline {
                self.dump_logs();
                panic!("{instance} never said {needle:?} {times} times");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn produce(&mut self, originals: Vec<Article>, copies: Vec<(Article, String)>) {
        let config = kafka_config(&self.brokers, PREFIX);
        let articles: Vec<Article> = originals
            .iter()
            .cloned()
            .chain(copies.iter().map(|(a, _)| a.clone()))
            .collect();
        self.runtime.block_on(async {
            use newsflow_bus::Producer;
            let bus = newsflow_bus::KafkaBus::connect(config).unwrap();
            for article in &articles {
                bus.send("articles", &article.key(), newsflow_model::encode(article))
                    .await
                    .unwrap();
            }
        });
        self.originals.extend(originals);
        self.copies.extend(copies);
    }

    /// Waits until every story produced so far is placed, checking the
    /// events each time they are read; returns how long it took.
    fn wait_placed(&self, fault: &str, since: Instant) -> Duration {
        let config = kafka_config(&self.brokers, PREFIX);
        let deadline = Instant::now() + PLACE_TIMEOUT;
        let mut last = String::from("events never read");
        while Instant::now() < deadline {
            if let Some(payloads) = topic_payloads(&self.runtime, &config, "events") {
                let records: Vec<EventRecord> = payloads
                    .iter()
                    .filter_map(|p| newsflow_model::decode(p).ok())
                    .collect();
                let placement = Placement::of(&records, &self.originals, &self.copies);
                if let Err(broken) = placement.consistent() {
                    self.dump_logs();
                    panic!("{fault}: {broken}");
                }
                if placement.lost.is_empty() {
                    let took = since.elapsed();
                    eprintln!(
                        "RELIABILITY {fault}: stories={} lost=0 twice=0 recovered_in={:.1}s",
                        self.originals.len(),
                        took.as_secs_f64()
                    );
                    return took;
                }
                last = format!(
                    "{} of {} stories not placed yet",
                    placement.lost.len(),
                    self.originals.len()
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

/// The standing events against the stories produced.
struct Placement {
    /// Originals in no event.
    lost: Vec<String>,
    /// Originals in more than one event, and copies that became members.
    twice: Vec<String>,
    /// Events whose version went down in the topic's order.
    versions_back: Vec<String>,
}

impl Placement {
    fn of(records: &[EventRecord], originals: &[Article], copies: &[(Article, String)]) -> Self {
        let versions_back = common::versions_gone_back(records);
        let standing = common::standing_events(records.iter().cloned());
        let mut events_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for event in &standing {
            for member in &event.members {
                events_of
                    .entry(member.url.as_str())
                    .or_default()
                    .insert(event.event_id.as_str());
            }
        }
        let lost = originals
            .iter()
            .filter(|a| !events_of.contains_key(a.url.as_str()))
            .map(|a| a.url.clone())
            .collect();
        let mut twice: Vec<String> = originals
            .iter()
            .filter(|a| events_of.get(a.url.as_str()).is_some_and(|e| e.len() > 1))
            .map(|a| format!("{} in {:?}", a.url, events_of[a.url.as_str()]))
            .collect();
        twice.extend(
            copies
                .iter()
                .filter(|(copy, _)| events_of.contains_key(copy.url.as_str()))
                .map(|(copy, of)| format!("copy {} of {of} is a member", copy.url)),
        );
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

/// Deterministic pseudo-words: each event has its own vocabulary, each
/// story its own words on top, so stories of one event resemble each other
/// without being near-copies.
fn words(seed: u64, count: usize) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ka", "ro", "mi", "ta", "ne", "lu", "so", "pa", "vi", "de", "go", "ra", "zu", "be", "fo",
        "li", "ma", "te", "ko", "ni",
    ];
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            let mut word = String::new();
            for _ in 0..3 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                word.push_str(SYLLABLES[(state >> 33) as usize % SYLLABLES.len()]);
            }
            word
        })
        .collect()
}

fn story(event: usize, number: usize, published: DateTime<Utc>) -> Article {
    let topic = words(event as u64 * 7919 + 3, 8);
    let own = words((event * 1000 + number) as u64 * 104729 + 11, 80);
    let mut body = String::new();
    for (i, word) in own.iter().enumerate() {
        body.push_str(word);
        body.push(' ');
        body.push_str(&topic[i % topic.len()]);
        body.push_str(if i % 9 == 8 { ". " } else { " " });
    }
    let url = format!("https://outlet{}.example/e{event}/s{number}", number % 4);
    article(
        &url,
        &format!("Outlet {}", number % 4),
        &format!("{} {} {}", topic[0], topic[1], own[0]),
        body.trim(),
        published,
    )
}

fn copy_of(original: &Article, n: usize) -> (Article, String) {
    let url = format!("https://copier.example/copy{n}");
    let copy = article(
        &url,
        "Copier",
        &original.title,
        &original.body,
        original.published.unwrap(),
    );
    (copy, original.url.clone())
}

fn article(url: &str, outlet: &str, title: &str, body: &str, published: DateTime<Utc>) -> Article {
    Article {
        schema_version: SCHEMA_VERSION,
        article_id: newsflow_model::story_id_for_url(url),
        item_id: url.into(),
        feed_url: format!("{url}/feed"),
        url: url.into(),
        canonical_url: newsflow_model::canonical_url(url),
        outlet: outlet.into(),
        title: title.into(),
        byline: None,
        published: Some(published),
        language: Some("en".into()),
        lead_image: None,
        body: body.into(),
        fetched_at: Utc::now(),
    }
}

/// Stories of events `events`, `per_event` each, and a verbatim copy of
/// every fourth story produced before.
fn batch(
    harness: &Harness,
    events: std::ops::Range<usize>,
    per_event: usize,
) -> (Vec<Article>, Vec<(Article, String)>) {
    let published = Utc::now() - chrono::Duration::hours(1);
    let originals: Vec<Article> = events
        .flat_map(|event| (0..per_event).map(move |n| story(event, n, published)))
        .collect();
    let copies = harness
        .originals
        .iter()
        .skip(harness.copies.len() * 4 % harness.originals.len().max(1))
        .step_by(4)
        .take(4)
        .enumerate()
        .map(|(i, original)| copy_of(original, harness.copies.len() + i))
        .collect();
    (originals, copies)
}

fn kill_mid_stream(process: &mut Running) {
    std::thread::sleep(Duration::from_millis(700));
    process.kill();
}

fn wipe(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

const ASSIGNED: &str = "partitions assigned: restoring state";

impl Harness {
    /// Which of `instances` owns its group's input now: the one whose
    /// newest assignment (logged by the Kafka consumer) is not empty, once
    /// exactly one is.
    fn owner<'a>(&self, instances: [&'a str; 2]) -> &'a str {
        let deadline = Instant::now() + PLACE_TIMEOUT;
        loop {
            let owning: Vec<&str> = instances
                .iter()
                .copied()
                .filter(|instance| {
                    self.read_log(instance)
                        .lines()
                        .rev()
                        .find(|l| l.contains("partitions assigned") && l.contains("generation"))
                        .is_some_and(|l| !l.contains("partitions=[]"))
                })
                .collect();
            if let [one] = owning[..] {
                return one;
            }
            if Instant::now() > deadline {
                self.dump_logs();
                panic!("no single owner among {instances:?}: {owning:?}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn assigned_count(&self, instance: &str) -> usize {
        self.read_log(instance).matches(ASSIGNED).count()
    }

    /// SIGKILLs the owner among `pair` mid-batch and waits until the other
    /// took over; returns the survivor.
    ///
    /// When the owner had finished its batch before the kill, tansu may
    /// leave the input unassigned after the rebalance (the standby is given
    /// no partition) until there is something to read: then the standby's
    /// stall watch re-creates its member and the next rebalance hands the
    /// input over. So a story is produced after a while without a takeover,
    /// as the next story of a live stream would be.
    fn kill_owner<'a>(
        &mut self,
        processes: &mut BTreeMap<String, Running>,
        pair: [&'a str; 2],
        nudge_event: usize,
    ) -> (&'a str, &'a str) {
        let active = self.owner(pair);
        let standby = if active == pair[0] { pair[1] } else { pair[0] };
        let before = self.assigned_count(standby);
        kill_mid_stream(processes.get_mut(active).unwrap());
        let nudge_after = Instant::now() + Duration::from_secs(20);
        while self.assigned_count(standby) <= before && Instant::now() < nudge_after {
            std::thread::sleep(Duration::from_millis(250));
        }
        if self.assigned_count(standby) <= before {
            let published = Utc::now() - chrono::Duration::hours(1);
            self.produce(vec![story(nudge_event, 0, published)], Vec::new());
        }
        self.wait_log(standby, ASSIGNED, before + 1, PLACE_TIMEOUT);
        (active, standby)
    }
}

#[test]
fn stages_and_the_broker_fail_and_every_story_ends_in_one_event() {
    if !require_tansu() {
        return;
    }
    let mut h = Harness::start();
    let mut processes: BTreeMap<String, Running> = BTreeMap::new();
    let stage_of = |instance: &str| -> &'static str {
        if instance.starts_with("dedup") {
            "dedup"
        } else {
            "clusterer"
        }
    };

    // One member of each group first, the standbys once they own the input.
    for instance in ["dedup-a", "clusterer-a"] {
        processes.insert(instance.into(), h.stage(stage_of(instance), instance));
    }
    h.wait_log("dedup-a", ASSIGNED, 1, Duration::from_secs(120));
    h.wait_log("clusterer-a", ASSIGNED, 1, Duration::from_secs(120));
    for instance in ["dedup-b", "clusterer-b"] {
        processes.insert(instance.into(), h.stage(stage_of(instance), instance));
    }

    let (originals, copies) = batch(&h, 0..6, 4);
    h.produce(originals, copies);
    h.wait_placed("start", Instant::now());
    let mut figures = Vec::new();

    // 1. The active clusterer dies mid-batch; its standby takes over. It
    //    comes back, with its data directory lost, as the standby.
    let (originals, copies) = batch(&h, 6..10, 4);
    h.produce(originals, copies);
    let fault = Instant::now();
    let (killed, _) = h.kill_owner(&mut processes, ["clusterer-a", "clusterer-b"], 100);
    figures.push((
        "active clusterer SIGKILLed mid-stream, standby takes over",
        h.wait_placed("clusterer standby takeover", fault),
    ));
    wipe(&h.data_dir(killed));
    processes.insert(killed.into(), h.stage("clusterer", killed));

    // 2. The active dedup dies mid-batch; its standby takes over.
    let (originals, copies) = batch(&h, 10..14, 4);
    h.produce(originals, copies);
    let fault = Instant::now();
    let (killed, _) = h.kill_owner(&mut processes, ["dedup-a", "dedup-b"], 101);
    figures.push((
        "active dedup SIGKILLed mid-stream, standby takes over",
        h.wait_placed("dedup standby takeover", fault),
    ));
    wipe(&h.data_dir(killed));
    processes.insert(killed.into(), h.stage("dedup", killed));

    // 3. The broker dies mid-batch and comes back.
    let (originals, copies) = batch(&h, 14..18, 4);
    h.produce(originals, copies);
    let fault = Instant::now();
    kill_mid_stream(&mut h.broker);
    std::thread::sleep(Duration::from_secs(2));
    h.restart_broker();
    figures.push((
        "broker SIGKILLed mid-stream and restarted (sqlite storage)",
        h.wait_placed("broker restart", fault),
    ));

    // 4. Every dedup and clusterer dies; one of each restarts (the
    //    clusterer with its data directory wiped) and the broker dies 5 s
    //    later, while they join their groups.
    for process in processes.values_mut() {
        process.kill();
    }
    let fault = Instant::now();
    wipe(&h.data_dir("clusterer-b"));
    for instance in ["dedup-b", "clusterer-b"] {
        processes.insert(instance.into(), h.stage(stage_of(instance), instance));
    }
    std::thread::sleep(Duration::from_secs(5));
    h.broker.kill();
    std::thread::sleep(Duration::from_secs(1));
    h.restart_broker();
    let (originals, copies) = batch(&h, 18..22, 4);
    h.produce(originals, copies);
    figures.push((
        "dedup and clusterer SIGKILLed and restarted, broker SIGKILLed 5 s later during their group join",
        h.wait_placed("broker restart during group join", fault),
    ));

    for (fault, took) in &figures {
        eprintln!(
            "RELIABILITY-TABLE | {fault} | 1 | 0 | 0 | {:.0} s |",
            took.as_secs_f64()
        );
    }
}
