//! The whole pipeline, fast or not: real pages served from 20 loopback hosts
//! with feeds, the real `newsflow run` over them on the embedded bus and on
//! Kafka, and in the same run the yardstick of html5ever parsing the same
//! pages alone on one thread.
//!
//! `cargo bench -p newsflow --bench pipeline`
//!
//! Pages come from `../shared/bench/extraction` and
//! `../shared/bench/extraction-general` (or `$NEWSFLOW_PIPELINE_PAGES`, a
//! colon-separated list of folders holding `*.html`). Prints, per bus:
//! stories/s from the first page fetched to the last story placed, page
//! fetched -> event visible (p50, p99) under full load and at a trickle (one
//! new page every 100 ms), CPU seconds and peak RSS per process (and, where
//! the stages share one process, each stage's handler time from its
//! `/metrics`); every rate also as a ratio to the yardstick, and Kafka's as a
//! ratio to the embedded rate of the same run. Then the Kafka scale-out row:
//! `raw` with 4 partitions filled by the fetcher alone, drained by one
//! cleaner process, then by two in one group; first with each cleaning on
//! every core (the default), then with each on one (`[cleaner] workers =
//! 1`, processes sized to a core each).
//!
//! Embedded: one `newsflow run` process (`--until-idle` under full load),
//! events seen in its `--events-out` file. Kafka: a tansu broker (SQLite
//! storage) on a free loopback port in its own temporary directory, each
//! stage its own `newsflow run --bus kafka --stage NAME` process, all
//! started and ready (`/ready`: consumers joined) and the fetcher's producer
//! warmed up 2 s before the feeds list the first page; events seen by the
//! bench's own consumer of the `events` topic. Every child is killed when
//! the bench ends, panics, or is itself killed.
//!
//! Knobs (environment):
//! - `NEWSFLOW_PIPELINE_BUS`: `embedded`, `kafka` or `both` (default).
//! - `NEWSFLOW_PIPELINE_ROWS`: comma-separated rows to run, of `full`,
//!   `trickle`, `scale-out` (default all three; scale-out is Kafka only).
//! - `NEWSFLOW_PIPELINE_MAX_PAGES`: use only the first N pages (a quick
//!   check; the trickle uses at most 120 anyway).
//! - `NEWSFLOW_PIPELINE_TANSU`: the tansu binary (default: `tansu` on PATH,
//!   then `~/.cargo/bin/tansu`); without one the Kafka rows are skipped
//!   with a message.
//! - `NEWSFLOW_PIPELINE_KAFKA_PROPERTIES`: librdkafka properties for every
//!   stage process (`linger.ms=0,fetch.wait.max.ms=10`), written to their
//!   `[bus.kafka.properties]`: to measure a setting before changing a default.
//!   Unset: `max.in.flight.requests.per.connection=1`, as advised for tansu
//!   (set it to anything, even empty, to measure without).
//! - `NEWSFLOW_PIPELINE_KAFKA_COMPRESSION`: the producers' `compression`
//!   on Kafka (default `none`, as advised for tansu; `lz4` is newsflow's
//!   default for Apache Kafka and Redpanda).
//! - `NEWSFLOW_PIPELINE_PAGE_COMPRESSION`: `fetcher.page_compression` on
//!   both buses (`none` or `zstd`; unset: the embedded default, `zstd`, and
//!   on Kafka `zstd` as `config/tansu.toml` advises).
//! - `NEWSFLOW_PIPELINE_RAW_PARTITIONS`: partitions of `raw` in the Kafka
//!   pipeline rows (default 1; 4 measured the same).
//! - `NEWSFLOW_PIPELINE_KEEP`: keep each run's directory (stage logs,
//!   the broker's `tansu.db`, the embedded `data/`) and print where it is.
//! - `NEWSFLOW_PIPELINE_KAFKA_TIMEOUT_SECS`: the longest one Kafka run may
//!   take (default 600).

#[path = "pipeline/kafka_rows.rs"]
mod kafka_rows;
#[path = "pipeline/processes.rs"]
mod processes;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::IntoResponse;

use processes::{free_port, Cost, Guarded, Scrape};

const HOSTS: usize = 20;
const TRICKLE_GAP: Duration = Duration::from_millis(100);
const TRICKLE_PAGES: usize = 120;

struct Page {
    id: String,
    html: Vec<u8>,
}

/// What one host serves, and when each page was first served.
struct Host {
    pages: Vec<Arc<Page>>,
    /// How many of `pages` the feed lists now (the trickle raises it).
    listed: AtomicUsize,
    served: Mutex<HashMap<String, Instant>>,
}

/// Which parts of the bench run (see the knobs in the doc comment).
struct Knobs {
    embedded: bool,
    kafka: bool,
    full: bool,
    trickle: bool,
    scale_out: bool,
    max_pages: usize,
}

impl Knobs {
    fn from_env() -> Self {
        let bus = std::env::var("NEWSFLOW_PIPELINE_BUS").unwrap_or_else(|_| "both".into());
        let rows = std::env::var("NEWSFLOW_PIPELINE_ROWS")
            .unwrap_or_else(|_| "full,trickle,scale-out".into());
        let row = |name: &str| rows.split(',').any(|r| r.trim() == name);
        Self {
            embedded: bus == "both" || bus == "embedded",
            kafka: bus == "both" || bus == "kafka",
            full: row("full"),
            trickle: row("trickle"),
            scale_out: row("scale-out"),
            max_pages: std::env::var("NEWSFLOW_PIPELINE_MAX_PAGES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX),
        }
    }
}

fn main() {
    let knobs = Knobs::from_env();
    let mut pages = load_pages();
    pages.truncate(knobs.max_pages);
    if pages.is_empty() {
        println!("no bench pages found (../shared/bench/extraction*): pipeline bench skipped");
        return;
    }
    let bytes: usize = pages.iter().map(|p| p.html.len()).sum();
    println!(
        "{} pages, {:.1} MB, served from {HOSTS} loopback hosts; machine load {}",
        pages.len(),
        bytes as f64 / 1e6,
        load_average()
    );
    let parse_rate = parse_only_rate(&pages);
    println!("yardstick: html5ever parse-only, one thread: {parse_rate:.0} pages/s\n");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let trickle_pages: Vec<Arc<Page>> = pages.iter().take(TRICKLE_PAGES).cloned().collect();

    println!("| bus | load | stories/s | ratio to parse-only | ratio to embedded | fetched -> visible p50 | p99 | CPU s (all processes) | peak RSS (sum) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<(String, RunFigures)> = Vec::new();
    let mut embedded_rate = None;
    if knobs.embedded && knobs.full {
        let full = runtime.block_on(full_load_embedded(&pages));
        full.print_row("embedded", "full", parse_rate, None);
        embedded_rate = Some(full.rate());
        rows.push(("embedded, full".into(), full));
    }
    if knobs.embedded && knobs.trickle {
        let trickle = runtime.block_on(trickle_embedded(&trickle_pages));
        trickle.print_row("embedded", "trickle (1 page / 100 ms)", parse_rate, None);
        rows.push(("embedded, trickle".into(), trickle));
    }
    let tansu = if knobs.kafka {
        let found = kafka_rows::find_tansu();
        if found.is_none() {
            println!("| kafka | - | skipped: no tansu binary (NEWSFLOW_PIPELINE_TANSU, PATH, ~/.cargo/bin) | | | | | | |");
        }
        found
    } else {
        None
    };
    if let Some(tansu) = &tansu {
        if knobs.full {
            let full = runtime.block_on(kafka_rows::pipeline(tansu, &pages, false));
            full.print_row("kafka", "full", parse_rate, embedded_rate);
            rows.push(("kafka, full".into(), full));
        }
        if knobs.trickle {
            let trickle = runtime.block_on(kafka_rows::pipeline(tansu, &trickle_pages, true));
            trickle.print_row("kafka", "trickle (1 page / 100 ms)", parse_rate, None);
            rows.push(("kafka, trickle".into(), trickle));
        }
    }
    if !rows.is_empty() {
        println!("\nPer process (CPU from /proc/<pid>/stat over the measured work; handler time: the stage's `newsflow_stage_handle_seconds_sum`, wall time inside its handler):\n");
        println!("| row | process | CPU s | handler time s | peak RSS |");
        println!("|---|---|---|---|---|");
        for (row, figures) in &rows {
            figures.print_processes(row);
        }
    }
    if let (Some(tansu), true) = (&tansu, knobs.scale_out) {
        match runtime.block_on(kafka_rows::scale_out(tansu, &pages)) {
            Some(drains) => print_scale_out(&drains, parse_rate),
            None => println!("\nscale-out row: not measured (see the message above)"),
        }
    }
}

fn print_scale_out(drains: &[kafka_rows::Drain], parse_rate: f64) {
    println!("\nScale-out on Kafka: `raw` (4 partitions) filled by the fetcher alone; once every member of a row's cleaner group owns partitions, the members are paused (SIGSTOP), that backlog is copied into the row's `raw`, and they are resumed together; timed from the resumption to the last article seen:\n");
    println!("| cleaners | workers each | raw records | drain s | records/s | ratio to parse-only | CPU s per cleaner | tansu CPU s | peak RSS per cleaner |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for drain in drains {
        let cpu: Vec<String> = drain
            .processes
            .iter()
            .map(|p| format!("{:.2}", p.cost.cpu_seconds))
            .collect();
        let rss: Vec<String> = drain
            .processes
            .iter()
            .map(|p| format!("{} MiB", p.cost.peak_rss_bytes >> 20))
            .collect();
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.2}x | {} | {:.1} | {} |",
            drain.cleaners,
            drain.workers_label(),
            drain.records,
            drain.span.as_secs_f64(),
            drain.rate(),
            drain.rate() / parse_rate,
            cpu.join(" + "),
            drain.broker.cpu_seconds,
            rss.join(", ")
        );
    }
    println!();
    for pair in drains.chunks(2) {
        if let [one, two] = pair {
            println!(
                "two cleaners / one, workers each {}: {:.2}x (bar >= 1.6x)",
                one.workers_label(),
                two.rate() / one.rate().max(1e-9)
            );
        }
    }
    for drain in drains {
        for assignment in &drain.assignments {
            println!("  partitions assigned, {assignment}");
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn page_dirs() -> Vec<PathBuf> {
    if let Some(list) = std::env::var_os("NEWSFLOW_PIPELINE_PAGES") {
        return std::env::split_paths(&list).collect();
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench");
    vec![
        shared.join("extraction/html"),
        shared.join("extraction-general/html"),
    ]
}

/// Every distinct page of the sets, in a stable order.
fn load_pages() -> Vec<Arc<Page>> {
    let mut seen = std::collections::HashSet::new();
    let mut pages = Vec::new();
    for dir in page_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "html"))
            .collect();
        paths.sort();
        for path in paths {
            let Ok(html) = std::fs::read(&path) else {
                continue;
            };
            if !seen.insert(html.clone()) {
                continue;
            }
            let id = path.file_stem().unwrap().to_string_lossy().into_owned();
            pages.push(Arc::new(Page { id, html }));
        }
    }
    pages
}

/// html5ever over every page, one thread, fastest of three rounds.
fn parse_only_rate(pages: &[Arc<Page>]) -> f64 {
    let texts: Vec<String> = pages
        .iter()
        .map(|p| String::from_utf8_lossy(&p.html).into_owned())
        .collect();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        for text in &texts {
            std::hint::black_box(scraper::Html::parse_document(text));
        }
        best = best.min(started.elapsed());
    }
    texts.len() as f64 / best.as_secs_f64()
}

/// What one process cost over a measured run.
struct ProcessFigures {
    name: String,
    cost: Cost,
    /// Time inside the stage's handler, from its `/metrics`, where known.
    handler_seconds: Option<f64>,
}

/// One measured run of the service.
struct RunFigures {
    stories: usize,
    span: Duration,
    latencies: Vec<Duration>,
    processes: Vec<ProcessFigures>,
    /// Per stage, for stages sharing one process: time in their handlers.
    stage_handler_seconds: Vec<(&'static str, f64)>,
}

impl RunFigures {
    /// Stories are the pages some event lists; the span runs from the
    /// first page served to the last page becoming visible.
    fn from_observation(
        hosts: &[(String, Arc<Host>)],
        visibility: &Visibility,
        processes: Vec<ProcessFigures>,
    ) -> Self {
        let mut served: HashMap<String, Instant> = HashMap::new();
        for (_, host) in hosts {
            served.extend(
                host.served
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), *v)),
            );
        }
        let first = served.values().min().copied();
        let last = visibility.visible.values().max().copied();
        let span = match (first, last) {
            (Some(first), Some(last)) if last > first => last - first,
            _ => Duration::ZERO,
        };
        let latencies = visibility
            .visible
            .iter()
            .filter_map(|(id, seen)| served.get(id).map(|s| seen.saturating_duration_since(*s)))
            .collect();
        RunFigures {
            stories: visibility.visible.len(),
            span,
            latencies,
            processes,
            stage_handler_seconds: Vec::new(),
        }
    }

    fn rate(&self) -> f64 {
        self.stories as f64 / self.span.as_secs_f64().max(1e-9)
    }

    fn print_row(&self, bus: &str, load: &str, parse_rate: f64, embedded_rate: Option<f64>) {
        let rate = self.rate();
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let quantile = |q: f64| {
            if sorted.is_empty() {
                "-".to_string()
            } else {
                let index = ((sorted.len() - 1) as f64 * q).round() as usize;
                format!("{:.0} ms", sorted[index].as_secs_f64() * 1000.0)
            }
        };
        let cpu: f64 = self.processes.iter().map(|p| p.cost.cpu_seconds).sum();
        let rss: u64 = self.processes.iter().map(|p| p.cost.peak_rss_bytes).sum();
        let to_embedded =
            embedded_rate.map_or("-".to_string(), |e| format!("{:.2}x", rate / e.max(1e-9)));
        println!(
            "| {bus} | {load} | {rate:.0} ({} stories in {:.2} s) | {:.2}x | {to_embedded} | {} | {} | {cpu:.1} | {} MiB |",
            self.stories,
            self.span.as_secs_f64(),
            rate / parse_rate,
            quantile(0.5),
            quantile(0.99),
            rss >> 20
        );
    }

    fn print_processes(&self, row: &str) {
        for process in &self.processes {
            println!(
                "| {row} | {} | {:.2} | {} | {} MiB |",
                process.name,
                process.cost.cpu_seconds,
                process
                    .handler_seconds
                    .map_or("-".to_string(), |s| format!("{s:.2}")),
                process.cost.peak_rss_bytes >> 20
            );
        }
        for (stage, seconds) in &self.stage_handler_seconds {
            println!("| {row} | {stage} (in the process above) | - | {seconds:.2} | - |");
        }
    }
}

/// Splits the pages over the hosts and serves each host on its own
/// loopback address; returns each host's base URL.
async fn serve_hosts(pages: &[Arc<Page>], listed_at_start: bool) -> Vec<(String, Arc<Host>)> {
    let mut hosts = Vec::new();
    for h in 0..HOSTS {
        let host_pages: Vec<Arc<Page>> = pages.iter().skip(h).step_by(HOSTS).cloned().collect();
        let listed = if listed_at_start { host_pages.len() } else { 0 };
        let host = Arc::new(Host {
            pages: host_pages,
            listed: AtomicUsize::new(listed),
            served: Mutex::new(HashMap::new()),
        });
        let ip = format!("127.0.0.{}", h + 2);
        let listener = tokio::net::TcpListener::bind((ip.as_str(), 0))
            .await
            .expect("binding a loopback host");
        let address: SocketAddr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/feed.xml", axum::routing::get(feed))
            .route("/p/{id}", axum::routing::get(page))
            .with_state(host.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        hosts.push((format!("http://{address}"), host));
    }
    hosts
}

async fn feed(State(host): State<Arc<Host>>) -> impl IntoResponse {
    let listed = host.listed.load(Ordering::SeqCst).min(host.pages.len());
    let items: String = host.pages[..listed]
        .iter()
        .map(|p| {
            format!(
                "<item><title>{id}</title><link>/p/{id}.html</link><guid isPermaLink=\"false\">{id}</guid>\
                 <pubDate>Mon, 19 Aug 2024 10:00:00 GMT</pubDate></item>",
                id = p.id
            )
        })
        .collect();
    (
        [(header::CONTENT_TYPE, "application/rss+xml")],
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Bench host</title>\
             <link>http://bench.example/</link><description>d</description><ttl>0</ttl>{items}</channel></rss>"
        ),
    )
}

async fn page(State(host): State<Arc<Host>>, UrlPath(file): UrlPath<String>) -> impl IntoResponse {
    let id = file.trim_end_matches(".html");
    let Some(page) = host.pages.iter().find(|p| p.id == id) else {
        return (axum::http::StatusCode::NOT_FOUND, Vec::new()).into_response();
    };
    host.served
        .lock()
        .unwrap()
        .entry(page.id.clone())
        .or_insert_with(Instant::now);
    ([(header::CONTENT_TYPE, "text/html")], page.html.clone()).into_response()
}

fn write_feed_list(dir: &Path, hosts: &[(String, Arc<Host>)]) -> PathBuf {
    let list: String = hosts
        .iter()
        .enumerate()
        .map(|(i, (base, _))| {
            format!("[[feeds]]\nurl = \"{base}/feed.xml\"\noutlet = \"Bench {i}\"\n\n")
        })
        .collect();
    let path = dir.join("feeds.toml");
    std::fs::write(&path, list).unwrap();
    path
}

fn write_config(dir: &Path, poll_secs: u64) -> PathBuf {
    let path = dir.join("newsflow.toml");
    let mut text = format!(
        "[fetcher]\nper_host_min_gap_ms = 0\nmin_interval_secs = {poll_secs}\n\
         default_interval_secs = {poll_secs}\nmax_interval_secs = {poll_secs}\n"
    );
    if let Ok(compression) = std::env::var("NEWSFLOW_PIPELINE_PAGE_COMPRESSION") {
        text.push_str(&format!("page_compression = \"{compression}\"\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn service(config: &Path, feeds: &Path, data_dir: &Path, events: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
    command
        .current_dir(data_dir.parent().unwrap())
        .arg("run")
        .arg("--config")
        .arg(config)
        .arg("--feeds")
        .arg(feeds)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--events-out")
        .arg(events)
        .arg("--allow-private-addresses")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// When each page first showed up as a member of some event record.
#[derive(Default)]
struct Visibility {
    visible: HashMap<String, Instant>,
}

impl Visibility {
    /// Notes the members of one event record seen at `now`; true when one
    /// of them is seen for the first time.
    fn note_event(&mut self, payload: &[u8], now: Instant) -> bool {
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return false;
        };
        let mut news = false;
        for member in record["members"].as_array().into_iter().flatten() {
            if let Some(url) = member["url"].as_str() {
                let id = url
                    .rsplit('/')
                    .next()
                    .unwrap_or(url)
                    .trim_end_matches(".html")
                    .to_string();
                if let std::collections::hash_map::Entry::Vacant(entry) = self.visible.entry(id) {
                    entry.insert(now);
                    news = true;
                }
            }
        }
        news
    }
}

/// Follows the events file as the service appends to it, noting when each
/// member page first became visible.
struct EventsWatcher {
    path: PathBuf,
    offset: u64,
    partial: String,
    visibility: Visibility,
}

impl EventsWatcher {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            offset: 0,
            partial: String::new(),
            visibility: Visibility::default(),
        }
    }

    fn poll(&mut self) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let now = Instant::now();
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        while let Ok(read) = reader.read_line(&mut line) {
            if read == 0 {
                break;
            }
            self.offset += read as u64;
            if !line.ends_with('\n') {
                self.partial.push_str(&line);
                line.clear();
                continue;
            }
            let whole = std::mem::take(&mut self.partial) + &line;
            line.clear();
            self.visibility.note_event(whole.as_bytes(), now);
        }
    }
}

/// Reaps the child: its CPU seconds and peak RSS over its whole life.
fn child_cost(child: &mut Child) -> Cost {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cost {
        cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
    }
}

const EMBEDDED_STAGES: [&str; 3] = ["cleaner", "dedup", "clusterer"];

/// Every page listed from the start; `run --until-idle` drains them. Its
/// `/metrics` is read as it runs, for each stage's handler time.
async fn full_load_embedded(pages: &[Arc<Page>]) -> RunFigures {
    let hosts = serve_hosts(pages, true).await;
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(work.path(), &hosts);
    let config = write_config(work.path(), 900);
    let data_dir = work.path().join("data");
    let events = work.path().join("events.jsonl");
    let operator: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let child = Guarded::spawn(
        "newsflow run (all stages)",
        service(&config, &feeds, &data_dir, &events)
            .arg("--until-idle")
            .env("NEWSFLOW_OPERATOR_LISTEN", operator.to_string()),
    );
    let name = child.name.clone();
    let mut child = child.into_child();
    let mut watcher = EventsWatcher::new(events.clone());
    let mut waiting = tokio::task::spawn_blocking(move || child_cost(&mut child));
    let mut scrape = None;
    let mut last_scrape = Instant::now();
    let cost = loop {
        tokio::select! {
            done = &mut waiting => break done.unwrap(),
            _ = tokio::time::sleep(Duration::from_millis(5)) => watcher.poll(),
        }
        // The service exits once drained: the last scrape before that
        // holds every handler's time (it idles 0.4 s before it exits).
        if last_scrape.elapsed() >= Duration::from_millis(100) {
            last_scrape = Instant::now();
            if let Some(fresh) = Scrape::of(operator) {
                scrape = Some(fresh);
            }
        }
    };
    watcher.poll();
    let mut figures = RunFigures::from_observation(
        &hosts,
        &watcher.visibility,
        vec![ProcessFigures {
            name,
            cost,
            handler_seconds: None,
        }],
    );
    if let Some(scrape) = scrape {
        figures.stage_handler_seconds = EMBEDDED_STAGES
            .iter()
            .map(|stage| (*stage, scrape.handler_seconds(stage)))
            .collect();
    }
    kafka_rows::keep_for_inspection(work);
    figures
}

/// The feeds reveal one more page every 100 ms while the service runs and
/// polls every second; latency is from the page's fetch, not its listing.
async fn trickle_embedded(pages: &[Arc<Page>]) -> RunFigures {
    let hosts = serve_hosts(pages, false).await;
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(work.path(), &hosts);
    let config = write_config(work.path(), 1);
    let data_dir = work.path().join("data");
    let events = work.path().join("events.jsonl");
    let child = Guarded::spawn(
        "newsflow run (all stages)",
        &mut service(&config, &feeds, &data_dir, &events),
    );
    let name = child.name.clone();
    let mut watcher = EventsWatcher::new(events.clone());
    // Round-robin over the hosts: page i goes live on host i % HOSTS.
    for i in 0..pages.len() {
        hosts[i % HOSTS].1.listed.fetch_add(1, Ordering::SeqCst);
        let until = Instant::now() + TRICKLE_GAP;
        while Instant::now() < until {
            watcher.poll();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // Let the last pages through: until nothing new shows for 5 s.
    let mut quiet_since = Instant::now();
    let mut known = watcher.visibility.visible.len();
    while quiet_since.elapsed() < Duration::from_secs(5) {
        watcher.poll();
        if watcher.visibility.visible.len() != known {
            known = watcher.visibility.visible.len();
            quiet_since = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.signal(libc::SIGTERM);
    let mut child = child.into_child();
    let cost = tokio::task::spawn_blocking(move || child_cost(&mut child))
        .await
        .unwrap();
    RunFigures::from_observation(
        &hosts,
        &watcher.visibility,
        vec![ProcessFigures {
            name,
            cost,
            handler_seconds: None,
        }],
    )
}
