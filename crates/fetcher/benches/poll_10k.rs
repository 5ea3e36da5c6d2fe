//! Scale bench: 10,000 feeds on 500 loopback hosts (127.0.1.x/127.0.2.x),
//! served by a local HTTP server that answers most polls with 304, some
//! with a new item (whose article page is then fetched), some with errors.
//! Prints the time of a full poll cycle, requests/s, peak RSS of the
//! process (fetcher and server together), and the most requests any host
//! saw at once. Run: `cargo bench -p newsflow-fetcher --bench poll_10k`.
//! `POLL_BENCH_FEEDS` and `POLL_BENCH_HOSTS` change the scale,
//! `POLL_BENCH_GAP_MS` the minimum gap between requests to one host (0
//! lets the per-host concurrency limit do all the work).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use newsflow_fetcher::{FeedSource, Fetcher, FetcherConfig, PageSink, SinkError};
use newsflow_model::RawPage;

/// One loopback host's server state.
#[derive(Default)]
struct Host {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    requests: AtomicUsize,
    /// Second cycle: every 20th feed has a new item, every 50th fails.
    second_cycle: AtomicBool,
}

async fn handle(State(host): State<Arc<Host>>, request: Request) -> Response {
    let now = host.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    host.peak.fetch_max(now, Ordering::SeqCst);
    host.requests.fetch_add(1, Ordering::SeqCst);
    // A little service time so that concurrency is real.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let path = request.uri().path().to_string();
    let second = host.second_cycle.load(Ordering::SeqCst);
    let response = if let Some(rest) = path.strip_prefix("/feed/") {
        let n: usize = rest.trim_end_matches(".xml").parse().unwrap_or(0);
        let version = if second && n.is_multiple_of(20) { 2 } else { 1 };
        let etag = format!("\"v{version}\"");
        let conditional = request
            .headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            == Some(etag.as_str());
        if second && n % 50 == 7 {
            Response::builder()
                .status(503)
                .header("retry-after", "600")
                .body(Body::empty())
                .unwrap()
        } else if conditional {
            Response::builder()
                .status(304)
                .header("etag", etag)
                .body(Body::empty())
                .unwrap()
        } else {
            let items: String = (1..=version)
                .map(|i| format!("<item><title>Story {n}-{i}</title><link>/article/{n}-{i}.html</link><guid>urn:bench:{n}:{i}</guid></item>"))
                .collect();
            let body = format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {n}</title><link>/</link>{items}</channel></rss>");
            Response::builder()
                .status(200)
                .header("etag", etag)
                .header("content-type", "application/rss+xml")
                .body(Body::from(body))
                .unwrap()
        }
    } else {
        Response::builder()
            .status(200)
            .header("content-type", "text/html; charset=utf-8")
            .body(Body::from(format!(
                "<html><head><title>{path}</title></head><body><p>Article {path}</p></body></html>"
            )))
            .unwrap()
    };
    host.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

struct CountingSink(AtomicUsize);

#[async_trait::async_trait]
impl PageSink for CountingSink {
    async fn deliver(&self, _page: RawPage) -> Result<(), SinkError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let feeds_total = env_usize("POLL_BENCH_FEEDS", 10_000);
    let host_count = env_usize("POLL_BENCH_HOSTS", 500);
    let mut hosts = Vec::new();
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for h in 0..host_count {
        let ip = format!("127.0.{}.{}", 1 + h / 250, 1 + h % 250);
        let listener = match tokio::net::TcpListener::bind(format!("{ip}:0")).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot bind {ip}: {e}; this bench needs the 127.0.0.0/8 loopback range");
                return;
            }
        };
        addrs.push(listener.local_addr().unwrap());
        let host = Arc::new(Host::default());
        hosts.push(host.clone());
        let app = axum::Router::new().fallback(handle).with_state(host);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let feeds: Vec<FeedSource> = (0..feeds_total)
        .map(|n| FeedSource {
            url: format!("http://{}/feed/{n}.xml", addrs[n % host_count]),
            outlet: None,
        })
        .collect();
    let per_host_limit = 2;
    let gap_ms = env_usize("POLL_BENCH_GAP_MS", 100) as u64;
    let config = FetcherConfig {
        allow_private_addresses: true,
        per_host_concurrency: per_host_limit,
        per_host_min_gap_ms: gap_ms,
        global_concurrency: 128,
        feed_concurrency: 1024,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::open(&dir.path().join("fetcher.db"), config).unwrap();
    let sink = CountingSink(AtomicUsize::new(0));

    println!("poll bench: {feeds_total} feeds on {host_count} hosts, per-host limit {per_host_limit}, min gap {gap_ms} ms");
    for cycle in 1..=2 {
        if cycle == 2 {
            for h in &hosts {
                h.second_cycle.store(true, Ordering::SeqCst);
            }
        }
        let before: usize = hosts
            .iter()
            .map(|h| h.requests.load(Ordering::SeqCst))
            .sum();
        let started = Instant::now();
        let summary = fetcher.poll_once(&feeds, &sink).await;
        let elapsed = started.elapsed().as_secs_f64();
        let requests: usize = hosts
            .iter()
            .map(|h| h.requests.load(Ordering::SeqCst))
            .sum::<usize>()
            - before;
        let label = if cycle == 1 {
            "cold (all 200, every item new)"
        } else {
            "warm (mostly 304, 5% new items, 2% 503)"
        };
        println!("cycle {cycle} {label}:");
        println!(
            "  time {elapsed:.2} s, {requests} requests, {:.0} req/s",
            requests as f64 / elapsed
        );
        println!(
            "  feeds polled {}, not modified {}, failed {}, pages delivered {}",
            summary.feeds_polled,
            summary.feeds_not_modified,
            summary.feeds_failed,
            summary.pages_delivered
        );
    }
    let server_peak = hosts
        .iter()
        .map(|h| h.peak.load(Ordering::SeqCst))
        .max()
        .unwrap_or(0);
    println!("max concurrent requests seen by any host: {server_peak} (limit {per_host_limit}); fetcher's own count: {}", fetcher.peak_requests_per_host());
    println!(
        "peak RSS (fetcher + server, one process): {:.1} MiB",
        peak_rss_mib()
    );
    if server_peak > per_host_limit {
        println!("PER-HOST LIMIT EXCEEDED");
        std::process::exit(1);
    }
}
