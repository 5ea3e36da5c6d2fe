//! The Kafka rows: a tansu broker (SQLite storage) on a free loopback port
//! in its own directory, each stage its own `newsflow run --bus kafka
//! --stage NAME` process, and the bench reading `events` (or `articles`)
//! with a Kafka consumer of its own to see when a record became visible.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use newsflow_bus::{Consumer, KafkaBus, KafkaConfig, Producer, TopicKind};
use newsflow_model::topics;

use super::processes::{free_port, wait_ready, Cost, Guarded, Scrape};
use super::{
    serve_hosts, write_config, write_feed_list, Host, Page, ProcessFigures, RunFigures, Visibility,
    TRICKLE_GAP,
};

const TOPIC_PREFIX: &str = "bench.";
/// How long a stage may take to join its group (tansu takes ~20 s).
const READY_LIMIT: Duration = Duration::from_secs(120);
/// How long the fetcher runs before its feeds list the first page.
const FETCHER_WARM_UP: Duration = Duration::from_secs(2);
/// A run is over when nothing new became visible for this long.
const QUIET: Duration = Duration::from_secs(5);

/// The tansu binary: `$NEWSFLOW_PIPELINE_TANSU`, `tansu` on PATH, or
/// `~/.cargo/bin/tansu`; `None` when none runs.
pub fn find_tansu() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("NEWSFLOW_PIPELINE_TANSU") {
        candidates.push(PathBuf::from(path));
    }
    candidates.push(PathBuf::from("tansu"));
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/tansu"));
    }
    candidates.into_iter().find(|candidate| {
        Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The longest a Kafka run may take before the bench gives up on it.
fn run_limit() -> Duration {
    let secs = std::env::var("NEWSFLOW_PIPELINE_KAFKA_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}

struct Broker {
    process: Guarded,
    brokers: String,
}

/// tansu on a free loopback port, its SQLite file in `dir`.
fn start_broker(tansu: &Path, dir: &Path) -> Broker {
    let port = free_port();
    let listener = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("tansu.log")).unwrap();
    let process = Guarded::spawn(
        "tansu",
        Command::new(tansu)
            .arg("broker")
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Broker {
        process,
        brokers: format!("127.0.0.1:{port}"),
    }
}

/// The stages' configuration file plus `[bus.kafka.properties]` from
/// `$NEWSFLOW_PIPELINE_KAFKA_PROPERTIES` (`key=value,key=value`), to
/// measure librdkafka settings without rebuilding.
fn write_kafka_config(dir: &Path, poll_secs: u64) -> PathBuf {
    let path = write_config(dir, poll_secs);
    // One produce request in flight per connection, as the README advises
    // on tansu: it answers a connection's requests one after another, and
    // with five in flight librdkafka's broker thread spun while it waited.
    let properties = std::env::var("NEWSFLOW_PIPELINE_KAFKA_PROPERTIES")
        .unwrap_or_else(|_| "max.in.flight.requests.per.connection=1".into());
    let mut text = std::fs::read_to_string(&path).unwrap();
    if !text.contains("page_compression") {
        // As `config/tansu.toml` advises.
        text = text.replace("[fetcher]\n", "[fetcher]\npage_compression = \"zstd\"\n");
    }
    text.push_str(&format!(
        "\n[bus.kafka]\ncompression = \"{}\"\n",
        kafka_compression()
    ));
    text.push_str("\n[bus.kafka.properties]\n");
    for pair in properties.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .expect("NEWSFLOW_PIPELINE_KAFKA_PROPERTIES: key=value,key=value");
        text.push_str(&format!("\"{}\" = \"{}\"\n", key.trim(), value.trim()));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn kafka_config(brokers: &str, prefix: &str, partitions: i32) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_string(),
        topic_prefix: prefix.into(),
        partitions,
        compression: kafka_compression(),
        ..Default::default()
    }
}

/// Partitions of `raw` in the pipeline rows
/// (`$NEWSFLOW_PIPELINE_RAW_PARTITIONS`, default 1).
fn raw_partitions() -> i32 {
    positive_knob("NEWSFLOW_PIPELINE_RAW_PARTITIONS", 1)
}

/// A count from the environment variable `name`; `default` when it is
/// unset, unreadable or not above zero.
fn positive_knob<T: std::str::FromStr + PartialOrd + Default>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > T::default())
        .unwrap_or(default)
}

/// The producers' `compression` (`$NEWSFLOW_PIPELINE_KAFKA_COMPRESSION`,
/// default `none`, what the README advises on tansu: it stores records
/// uncompressed and compresses a batch again for every fetch, so lz4 costs
/// the broker and both clients without saving it a byte).
fn kafka_compression() -> String {
    std::env::var("NEWSFLOW_PIPELINE_KAFKA_COMPRESSION").unwrap_or_else(|_| "none".into())
}

/// The topics the stages exchange, created before any stage starts (so
/// the bench's own consumers find them), `raw` with `raw_partitions`.
async fn create_topics(brokers: &str, prefix: &str, raw_partitions: i32) -> KafkaBus {
    let raw = KafkaBus::connect(kafka_config(brokers, prefix, raw_partitions)).unwrap();
    raw.ensure_topics(&[(topics::RAW, TopicKind::Stream)])
        .await
        .expect("creating raw");
    let bus = KafkaBus::connect(kafka_config(brokers, prefix, 1)).unwrap();
    bus.ensure_topics(&[
        (topics::ARTICLES, TopicKind::Stream),
        (topics::UNIQUE, TopicKind::Stream),
        (topics::DUPLICATES, TopicKind::Stream),
        (topics::EVENTS, TopicKind::Compacted),
        (topics::DEAD_LETTERS, TopicKind::DeadLetters),
        (topics::CLUSTERER_CHANGELOG, TopicKind::StateTable),
        (topics::DEDUP_CHANGELOG, TopicKind::StateTable),
    ])
    .await
    .expect("creating the topics");
    bus
}

/// One `newsflow run --bus kafka --stage NAME` process and its operator
/// endpoint.
struct Stage {
    process: Guarded,
    operator: SocketAddr,
    /// Its cost when the measured work began.
    baseline: Cost,
}

struct StageSpec<'a> {
    stage: &'static str,
    /// The process's name in the tables (`cleaner#2`).
    label: String,
    brokers: &'a str,
    work: &'a Path,
    config: &'a Path,
    feeds: &'a Path,
    topic_prefix: &'a str,
    until_idle: bool,
}

impl StageSpec<'_> {
    fn spawn(&self) -> Stage {
        let port = free_port();
        let operator: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = std::fs::File::create(self.work.join(format!("{}.log", self.label))).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
        command
            .current_dir(self.work)
            .args(["run", "--bus", "kafka", "--stage", self.stage])
            .args(["--brokers", self.brokers])
            .arg("--config")
            .arg(self.config)
            .arg("--feeds")
            .arg(self.feeds)
            .arg("--data-dir")
            .arg(self.work.join(format!("data-{}", self.label)))
            .arg("--allow-private-addresses")
            .env("NEWSFLOW_BUS__KAFKA__TOPIC_PREFIX", self.topic_prefix)
            .env("NEWSFLOW_OPERATOR_LISTEN", operator.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if self.until_idle {
            command.arg("--until-idle");
        }
        Stage {
            process: Guarded::spawn(self.label.clone(), &mut command),
            operator,
            baseline: Cost::default(),
        }
    }
}

impl Stage {
    fn ready(&mut self) -> bool {
        wait_ready(&mut self.process, self.operator, READY_LIMIT)
    }

    /// Its cost since the baseline, with the handler time `/metrics` tells.
    fn figures(&self, handler_stage: Option<&str>) -> ProcessFigures {
        let scrape = Scrape::of(self.operator);
        ProcessFigures {
            name: self.process.name.clone(),
            cost: Cost::of(self.process.pid()).since(self.baseline),
            handler_seconds: handler_stage
                .and_then(|stage| scrape.as_ref().map(|s| s.handler_seconds(stage))),
        }
    }
}

/// A consumer of `topic` in a group of the bench's own, once it owns the
/// topic's partitions (so nothing it should see arrives before it reads).
async fn joined_observer(bus: &KafkaBus, topic: &str, group: &str) -> Box<dyn Consumer> {
    let mut consumer = bus.observer(topic, group).expect("opening an observer");
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        // Polling drives the join; nothing is on the topic yet.
        let _ = consumer.poll(Duration::from_millis(100)).await;
        if consumer
            .assignment()
            .is_some_and(|a| !a.partitions.is_empty())
        {
            return consumer;
        }
        assert!(
            Instant::now() < deadline,
            "the bench's consumer of {topic} never joined its group"
        );
    }
}

/// The whole pipeline on Kafka over `pages`: every page listed from the
/// start (full load), or one more every 100 ms while the fetcher polls each
/// feed every second (trickle).
pub async fn pipeline(tansu: &Path, pages: &[Arc<Page>], trickle: bool) -> RunFigures {
    // The feeds list nothing until every process has started (see below).
    let hosts = serve_hosts(pages, false).await;
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(work.path(), &hosts);
    let config = write_kafka_config(work.path(), 1);
    let mut broker = start_broker(tansu, work.path());
    let bus = create_topics(&broker.brokers, TOPIC_PREFIX, raw_partitions()).await;
    let spec = |stage: &'static str| StageSpec {
        stage,
        label: stage.to_string(),
        brokers: &broker.brokers,
        work: work.path(),
        config: &config,
        feeds: &feeds,
        topic_prefix: TOPIC_PREFIX,
        until_idle: false,
    };
    // Consumers first, all joined, so that the clock starts with the work.
    let mut stages: Vec<Stage> = ["cleaner", "dedup", "clusterer"]
        .into_iter()
        .map(|s| spec(s).spawn())
        .collect();
    for stage in &mut stages {
        assert!(
            stage.ready(),
            "{} never became ready; its log ends:\n{}",
            stage.process.name,
            log_tail(work.path(), &stage.process.name)
        );
    }
    let mut events = joined_observer(&bus, topics::EVENTS, "bench-events").await;
    // The fetcher too, polling its (empty) feeds every second: a fresh
    // producer waits about a second for its first acknowledgements on
    // tansu (its producer id), which a long-running service pays once, not
    // per page.
    let mut fetcher = spec("fetcher").spawn();
    assert!(
        fetcher.ready(),
        "the fetcher never became ready; its log ends:\n{}",
        log_tail(work.path(), "fetcher")
    );
    stages.insert(0, fetcher);
    tokio::time::sleep(FETCHER_WARM_UP).await;
    for stage in &mut stages {
        stage.baseline = Cost::of(stage.process.pid());
    }
    let broker_baseline = Cost::of(broker.process.pid());
    if !trickle {
        for (_, host) in &hosts {
            host.listed.store(host.pages.len(), Ordering::SeqCst);
        }
    }

    let mut visibility = Visibility::default();
    let started = Instant::now();
    let limit = run_limit();
    let mut revealed = 0;
    let mut next_reveal = Instant::now();
    let mut last_news = Instant::now();
    loop {
        let now = Instant::now();
        if trickle && revealed < pages.len() && now >= next_reveal {
            hosts[revealed % hosts.len()]
                .1
                .listed
                .fetch_add(1, Ordering::SeqCst);
            revealed += 1;
            next_reveal = now + TRICKLE_GAP;
            last_news = now;
        }
        match events.poll(Duration::from_millis(5)).await {
            Ok(Some(delivery)) => {
                if visibility.note_event(&delivery.payload, Instant::now()) {
                    last_news = Instant::now();
                }
            }
            Ok(None) => {}
            Err(error) => eprintln!("reading events: {error}"),
        }
        if let Some(served) = last_served(&hosts) {
            last_news = last_news.max(served);
        }
        if last_news.elapsed() >= QUIET && (!trickle || revealed == pages.len()) {
            break;
        }
        if started.elapsed() > limit {
            eprintln!("Kafka run stopped after {limit:?} (NEWSFLOW_PIPELINE_KAFKA_TIMEOUT_SECS)");
            break;
        }
    }
    let_go(events);
    drop(bus);
    let handler_stage = |name: &str| (name != "fetcher").then_some(name).map(str::to_string);
    let mut processes: Vec<ProcessFigures> = stages
        .iter()
        .map(|s| s.figures(handler_stage(&s.process.name).as_deref()))
        .collect();
    processes.push(ProcessFigures {
        name: "tansu (broker)".into(),
        cost: Cost::of(broker.process.pid()).since(broker_baseline),
        handler_seconds: None,
    });
    for stage in &mut stages {
        stage.process.terminate(Duration::from_secs(10));
    }
    broker.process.terminate(Duration::from_secs(5));
    keep_for_inspection(work);
    RunFigures::from_observation(&hosts, &visibility, processes)
}

/// When the hosts last served a page for the first time.
fn last_served(hosts: &[(String, Arc<Host>)]) -> Option<Instant> {
    hosts
        .iter()
        .filter_map(|(_, host)| host.served.lock().unwrap().values().max().copied())
        .max()
}

/// One cleaner group's drain of the pre-filled `raw` backlog.
pub struct Drain {
    pub cleaners: usize,
    /// `[cleaner] workers` of each (`None`: one per core).
    pub workers: Option<usize>,
    pub records: u64,
    pub span: Duration,
    /// The cleaners', over the drain.
    pub processes: Vec<ProcessFigures>,
    /// The broker's, over the drain.
    pub broker: Cost,
    /// The partitions each cleaner was given, in order of the assignments.
    pub assignments: Vec<String>,
}

impl Drain {
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.span.as_secs_f64().max(1e-9)
    }

    /// Its cleaners' `workers`, as the tables print it.
    pub fn workers_label(&self) -> String {
        self.workers
            .map_or("one per core".to_string(), |w| w.to_string())
    }
}

/// The fetcher alone fills a `raw` topic; then, for one cleaner and for
/// two in one group (each process cleaning on every core, then on one),
/// each row on topics of its own with `raw` of 4 partitions: the cleaners
/// start and join until every member owns partitions (tansu gives the
/// first member to join everything at once), are paused (SIGSTOP) while
/// the bench copies the backlog into the row's `raw` (`scale_out_copies`
/// times), and are timed from their resumption to the last article.
pub async fn scale_out(tansu: &Path, pages: &[Arc<Page>]) -> Option<Vec<Drain>> {
    let hosts = serve_hosts(pages, true).await;
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(work.path(), &hosts);
    let config = write_kafka_config(work.path(), 900);
    let mut broker = start_broker(tansu, work.path());
    let rows = [
        (1, None, "one."),
        (2, None, "two."),
        (1, Some(1), "solo."),
        (2, Some(1), "duo."),
    ];
    let row_configs: Vec<PathBuf> = rows
        .iter()
        .map(|(_, workers, prefix)| row_config(&config, prefix, *workers))
        .collect();
    let spec = |stage: &'static str, label: String, topic_prefix: &'static str, config| StageSpec {
        stage,
        label,
        brokers: &broker.brokers,
        work: work.path(),
        config,
        feeds: &feeds,
        topic_prefix,
        until_idle: stage == "fetcher",
    };
    let fill = create_topics(&broker.brokers, "fill.", 4).await;
    let mut fetcher = spec("fetcher", "fill-fetcher".into(), "fill.", config.as_path()).spawn();
    let deadline = Instant::now() + run_limit();
    while !fetcher.process.exited() {
        if Instant::now() > deadline {
            eprintln!("the fetcher did not fill raw in time; scale-out row skipped");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let backlog = read_topic(&fill, topics::RAW).await?;
    let mut drains = Vec::new();
    let copies = scale_out_copies();
    let records = backlog.len() as u64 * copies;
    for ((cleaners, workers, prefix), row_config) in rows.into_iter().zip(&row_configs) {
        let bus = create_topics(&broker.brokers, prefix, 4).await;
        let name = prefix.trim_end_matches('.');
        let mut articles =
            joined_observer(&bus, topics::ARTICLES, &format!("bench-articles-{name}")).await;
        let mut members: Vec<Stage> = Vec::new();
        for i in 1..=cleaners {
            let label = format!("cleaner-{prefix}{i}");
            members.push(spec("cleaner", label, prefix, row_config).spawn());
        }
        for member in &mut members {
            assert!(
                member.ready(),
                "{} never became ready; its log ends:\n{}",
                member.process.name,
                log_tail(work.path(), &member.process.name)
            );
        }
        let labels: Vec<String> = members.iter().map(|m| m.process.name.clone()).collect();
        let settle_deadline = Instant::now() + READY_LIMIT;
        while !spread_assignment(work.path(), &labels, 4) {
            if Instant::now() > settle_deadline {
                eprintln!(
                    "{cleaners} cleaner(s) never shared raw's 4 partitions; scale-out row skipped"
                );
                keep_for_inspection(work);
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The group has settled on an empty `raw`. The members are paused
        // while the backlog goes in (copying takes seconds on tansu, far
        // less than the session timeout) and resumed together: every member
        // starts on a full share of its partitions, and the copy is not
        // what is timed.
        for member in &members {
            member.process.signal(libc::SIGSTOP);
        }
        for _ in 0..copies {
            let sends = backlog
                .iter()
                .map(|(key, payload)| bus.send(topics::RAW, key, payload.clone()));
            for sent in futures::future::join_all(sends).await {
                sent.expect("copying the backlog into raw");
            }
        }
        for member in &mut members {
            member.baseline = Cost::of(member.process.pid());
        }
        let broker_baseline = Cost::of(broker.process.pid());
        let started = Instant::now();
        for member in &members {
            member.process.signal(libc::SIGCONT);
        }
        let mut last: Option<Instant> = None;
        let mut last_scrape = Instant::now();
        let mut handled = 0.0;
        let deadline = Instant::now() + run_limit();
        // Until every raw record is handled and the last article arrived.
        let mut done_at: Option<Instant> = None;
        while done_at.is_none_or(|at| at.elapsed() < Duration::from_secs(1)) {
            if let Ok(Some(_)) = articles.poll(Duration::from_millis(5)).await {
                last = Some(Instant::now());
            }
            if done_at.is_none() && last_scrape.elapsed() >= Duration::from_millis(100) {
                last_scrape = Instant::now();
                handled = members
                    .iter()
                    .filter_map(|m| Scrape::of(m.operator))
                    .map(|s| s.inputs("cleaner"))
                    .sum::<f64>();
                if handled >= records as f64 {
                    done_at = Some(Instant::now());
                }
            }
            if Instant::now() > deadline {
                eprintln!("{cleaners} cleaner(s) handled {handled} of {records} raw records before the limit");
                break;
            }
        }
        let_go(articles);
        drop(bus);
        let processes = members.iter().map(|m| m.figures(Some("cleaner"))).collect();
        let broker_cost = Cost::of(broker.process.pid()).since(broker_baseline);
        for member in &mut members {
            member.process.terminate(Duration::from_secs(10));
        }
        let assignments = labels
            .iter()
            .map(|label| format!("{label}: {}", assignments(work.path(), label).join(" -> ")))
            .collect();
        drains.push(Drain {
            cleaners,
            workers,
            records,
            span: last.map_or(Duration::ZERO, |last| {
                last.saturating_duration_since(started)
            }),
            processes,
            broker: broker_cost,
            assignments,
        });
    }
    drop(fill);
    broker.process.terminate(Duration::from_secs(5));
    keep_for_inspection(work);
    Some(drains)
}

/// How many times the fetched backlog is copied into each scale-out row's
/// `raw` (`$NEWSFLOW_PIPELINE_SCALE_OUT_COPIES`, default 3): a drain of
/// seconds, not tenths.
fn scale_out_copies() -> u64 {
    positive_knob("NEWSFLOW_PIPELINE_SCALE_OUT_COPIES", 3)
}

/// The scale-out row's configuration: a consumer group of its own (tansu
/// gives a member joining a group whose members just left no partitions
/// until the stall watch re-creates it), and `[cleaner] workers`: with one,
/// each process cleans on one thread, as processes sized to a core each
/// would, so that what a second process adds is not hidden by the first
/// already using both cores of this machine.
fn row_config(base: &Path, prefix: &str, workers: Option<usize>) -> PathBuf {
    let mut text = std::fs::read_to_string(base).unwrap();
    let name = prefix.trim_end_matches('.');
    text.push_str(&format!("\n[topics]\ncleaner_group = \"cleaner-{name}\"\n"));
    if let Some(workers) = workers {
        text.push_str(&format!("\n[cleaner]\nworkers = {workers}\n"));
    }
    let path = base.with_file_name(format!("newsflow-{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Every record `topic` holds, as (key, payload).
async fn read_topic(bus: &KafkaBus, topic: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let mut records = Vec::new();
    let Some(mut history) = bus.written_history(topic).ok()? else {
        return Some(records);
    };
    while let Some(delivery) = history.next().await.ok()? {
        records.push((delivery.key.unwrap_or_default(), delivery.payload));
    }
    if let Some(reason) = history.stopped_short() {
        eprintln!("reading {topic} stopped short: {reason}");
        return None;
    }
    Some(records)
}

/// Whether the members' latest assignments (from their logs) are all
/// non-empty and cover `partitions` partitions together.
fn spread_assignment(work: &Path, labels: &[String], partitions: usize) -> bool {
    let owned: Vec<usize> = labels
        .iter()
        .map(|label| {
            assignments(work, label)
                .pop()
                .map_or(0, |a| a.matches(|c: char| c.is_ascii_digit()).count())
        })
        .collect();
    owned.iter().all(|n| *n > 0) && owned.iter().sum::<usize>() == partitions
}

/// The partitions a stage process was given, from its log's "partitions
/// assigned" lines, in order (`[0, 1]`).
fn assignments(work: &Path, label: &str) -> Vec<String> {
    let log = std::fs::read_to_string(work.join(format!("{label}.log"))).unwrap_or_default();
    log.lines()
        .filter(|line| line.contains("partitions assigned"))
        .filter_map(|line| {
            let start = line.find("partitions=")? + "partitions=".len();
            let rest = &line[start..];
            let end = rest.find(']')? + 1;
            Some(rest[..end].to_string())
        })
        .collect()
}

/// The last lines of a process's log, for a failure message.
fn log_tail(work: &Path, label: &str) -> String {
    let log = std::fs::read_to_string(work.join(format!("{label}.log"))).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// With `$NEWSFLOW_PIPELINE_KEEP` set, the run's directory (logs, the
/// broker's or the embedded log's SQLite file) stays for a look afterwards.
pub(crate) fn keep_for_inspection(work: tempfile::TempDir) {
    if std::env::var_os("NEWSFLOW_PIPELINE_KEEP").is_some() {
        println!("kept for inspection: {}", work.keep().display());
    }
}

/// Closes one of the bench's consumers on a thread of its own: closing
/// leaves the group, which blocks for as long as the broker does not
/// answer (rdkafka's close waits on the rebalance), and must never hold up
/// the bench.
fn let_go(consumer: Box<dyn Consumer>) {
    std::thread::spawn(move || drop(consumer));
}
