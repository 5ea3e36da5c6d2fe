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

use newsflow_bus::{Consumer, KafkaBus, KafkaConfig, TopicKind};
use newsflow_model::topics;

use super::processes::{free_port, wait_ready, Cost, Guarded, Scrape};
use super::{
    serve_hosts, write_config, write_feed_list, Host, Page, ProcessFigures, RunFigures, Visibility,
    TRICKLE_GAP,
};

const TOPIC_PREFIX: &str = "bench.";
/// How long a stage may take to join its group (tansu takes ~20 s).
const READY_LIMIT: Duration = Duration::from_secs(120);
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

fn kafka_config(brokers: &str, partitions: i32) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_string(),
        topic_prefix: TOPIC_PREFIX.into(),
        partitions,
        ..Default::default()
    }
}

/// The topics the stages exchange, created before any stage starts (so
/// the bench's own consumers find them), `raw` with `raw_partitions`.
async fn create_topics(brokers: &str, raw_partitions: i32) -> KafkaBus {
    let raw = KafkaBus::connect(kafka_config(brokers, raw_partitions)).unwrap();
    raw.ensure_topics(&[(topics::RAW, TopicKind::Stream)])
        .await
        .expect("creating raw");
    let bus = KafkaBus::connect(kafka_config(brokers, 1)).unwrap();
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
    group_prefix: &'a str,
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
            .env("NEWSFLOW_BUS__KAFKA__TOPIC_PREFIX", TOPIC_PREFIX)
            .env("NEWSFLOW_BUS__KAFKA__GROUP_PREFIX", self.group_prefix)
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
    let hosts = serve_hosts(pages, !trickle).await;
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(work.path(), &hosts);
    let config = write_config(work.path(), if trickle { 1 } else { 900 });
    let mut broker = start_broker(tansu, work.path());
    let bus = create_topics(&broker.brokers, 1).await;
    let spec = |stage: &'static str| StageSpec {
        stage,
        label: stage.to_string(),
        brokers: &broker.brokers,
        work: work.path(),
        config: &config,
        feeds: &feeds,
        group_prefix: "newsflow-",
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
    for stage in &mut stages {
        stage.baseline = Cost::of(stage.process.pid());
    }
    let broker_baseline = Cost::of(broker.process.pid());
    stages.insert(0, spec("fetcher").spawn());

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
    pub records: u64,
    pub span: Duration,
    pub processes: Vec<ProcessFigures>,
    /// The partitions each cleaner was given, in order of the assignments.
    pub assignments: Vec<String>,
}

impl Drain {
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.span.as_secs_f64().max(1e-9)
    }
}

/// `raw` with 4 partitions filled by the fetcher alone, then drained by one
/// cleaner, then (a new group, from the start again) by two cleaners.
pub async fn scale_out(tansu: &Path, pages: &[Arc<Page>]) -> Option<Vec<Drain>> {
    let hosts = serve_hosts(pages, true).await;
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(work.path(), &hosts);
    let config = write_config(work.path(), 900);
    let mut broker = start_broker(tansu, work.path());
    let bus = create_topics(&broker.brokers, 4).await;
    let spec = |stage: &'static str, label: String, group_prefix: &'static str| StageSpec {
        stage,
        label,
        brokers: &broker.brokers,
        work: work.path(),
        config: &config,
        feeds: &feeds,
        group_prefix,
        until_idle: stage == "fetcher",
    };
    let mut fetcher = spec("fetcher", "fill-fetcher".into(), "newsflow-").spawn();
    let deadline = Instant::now() + run_limit();
    while !fetcher.process.exited() {
        if Instant::now() > deadline {
            eprintln!("the fetcher did not fill raw in time; scale-out row skipped");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut raw_counter = bus
        .observer(topics::RAW, "bench-raw-count")
        .expect("a consumer of raw");
    let records = raw_counter
        .backlog()
        .await
        .ok()
        .flatten()
        .expect("raw's size");
    drop(raw_counter);
    let mut articles = joined_observer(&bus, topics::ARTICLES, "bench-articles").await;
    let mut drains = Vec::new();
    for (cleaners, group_prefix) in [(1, "one-"), (2, "two-")] {
        let mut members: Vec<Stage> = (1..=cleaners)
            .map(|i| {
                spec(
                    "cleaner",
                    format!("cleaner-{group_prefix}{i}"),
                    group_prefix,
                )
                .spawn()
            })
            .collect();
        let mut first: Option<Instant> = None;
        let mut last: Option<Instant> = None;
        let mut last_scrape = Instant::now();
        let mut handled = 0.0;
        let deadline = Instant::now() + run_limit();
        // Until every raw record is handled and the last article arrived.
        let mut done_at: Option<Instant> = None;
        while done_at.is_none_or(|at| at.elapsed() < Duration::from_secs(1)) {
            if let Ok(Some(_)) = articles.poll(Duration::from_millis(5)).await {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
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
        let processes = members.iter().map(|m| m.figures(Some("cleaner"))).collect();
        for member in &mut members {
            member.process.terminate(Duration::from_secs(10));
        }
        let assignments = members
            .iter()
            .map(|m| assignment_log(work.path(), &m.process.name))
            .collect();
        drains.push(Drain {
            cleaners,
            records,
            span: match (first, last) {
                (Some(first), Some(last)) => last - first,
                _ => Duration::ZERO,
            },
            processes,
            assignments,
        });
    }
    broker.process.terminate(Duration::from_secs(5));
    Some(drains)
}

/// The partitions a stage process was given, from its log's "partitions
/// assigned" lines, in order.
fn assignment_log(work: &Path, label: &str) -> String {
    let log = std::fs::read_to_string(work.join(format!("{label}.log"))).unwrap_or_default();
    let assigned: Vec<String> = log
        .lines()
        .filter(|line| line.contains("partitions assigned"))
        .filter_map(|line| {
            let start = line.find("partitions=")? + "partitions=".len();
            let rest = &line[start..];
            let end = rest.find(']')? + 1;
            Some(rest[..end].to_string())
        })
        .collect();
    format!("{label}: {}", assigned.join(" -> "))
}

/// The last lines of a process's log, for a failure message.
fn log_tail(work: &Path, label: &str) -> String {
    let log = std::fs::read_to_string(work.join(format!("{label}.log"))).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
