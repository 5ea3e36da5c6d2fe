//! `/metrics` of a running `newsflow run` over the fixture outlets: every
//! family the operations section promises is there, with values that agree
//! with what the run did.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::child_guard::{free_port, http_get, ChildGuard};
use common::*;
use newsflow_fixture_server::FixtureServer;

/// One scrape: every sample by its series (name and labels as rendered),
/// and the declared type of every family.
struct Scrape {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(declared) = line.strip_prefix("# TYPE ") {
                let mut parts = declared.split_whitespace();
                if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                    types.insert(name.to_string(), kind.to_string());
                }
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let (series, value) = line.rsplit_once(' ').expect("a sample line");
                samples.insert(series.to_string(), value.parse().expect("a sample value"));
            }
        }
        Self { samples, types }
    }

    /// Samples of `name` whose labels include every `label="value"` given.
    fn series<'a>(&'a self, name: &'a str, labels: &'a [&str]) -> impl Iterator<Item = f64> + 'a {
        self.samples.iter().filter_map(move |(series, value)| {
            let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
            (series_name == name && labels.iter().all(|label| rest.contains(label)))
                .then_some(*value)
        })
    }

    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.series(name, labels).sum()
    }

    fn has(&self, name: &str, labels: &[&str]) -> bool {
        self.series(name, labels).next().is_some()
    }
}

fn scrape(port: u16) -> Option<Scrape> {
    match http_get(port, "/metrics")? {
        (200, body) => Some(Scrape::parse(&body)),
        _ => None,
    }
}

/// What a drained pipeline no longer changes.
fn progress_of(scrape: &Scrape) -> Vec<f64> {
    let mut progress = Vec::new();
    for stage in ["cleaner", "dedup", "clusterer"] {
        let stage_label = format!("stage=\"{stage}\"");
        progress.push(scrape.sum("newsflow_inputs_total", &[&stage_label]));
        progress.push(scrape.sum("newsflow_stage_handle_seconds_count", &[&stage_label]));
    }
    progress.push(scrape.sum("newsflow_fetch_to_event_seconds_count", &[]));
    progress
}

fn log_tail(log: &Path) -> String {
    let logged = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = logged.lines().rev().take(30).collect();
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_pipeline_exports_every_metric_family_with_sane_values() {
    let server = FixtureServer::start(&repo_path("tests/fixtures/outlets"))
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(server.base_url(), work.path());
    let feed_count = std::fs::read_to_string(&feeds)
        .unwrap()
        .matches("[[feeds]]")
        .count();
    assert!(feed_count > 0);
    let data_dir = work.path().join("data");
    let log = work.path().join("run.log");
    let port = free_port();
    let mut command = newsflow_command();
    command
        .arg("run")
        .arg("--feeds")
        .arg(&feeds)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--allow-private-addresses")
        .env("NEWSFLOW_OPERATOR_LISTEN", format!("127.0.0.1:{port}"))
        // Below the fixture's stories, so that the cap retires events early.
        .env(
            "NEWSFLOW_CLUSTERER__MAX_HELD_STORIES",
            MAX_HELD_STORIES.to_string(),
        );
    let _service = ChildGuard::spawn(&mut command, &log);

    // Until events went out and two scrapes a second apart agree: the
    // fixture's stories all went through and the stages are idle.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut previous: Option<Vec<f64>> = None;
    let metrics = loop {
        assert!(
            Instant::now() < deadline,
            "the pipeline never settled with events out; log (newest first):\n{}",
            log_tail(&log)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(now) = scrape(port) else { continue };
        let events_out = now.sum(
            "newsflow_outputs_total",
            &["stage=\"clusterer\"", "topic=\"events\""],
        );
        let progress = progress_of(&now);
        let lag = now.sum("newsflow_consumer_lag", &[]);
        let feeds_counted = now.sum("newsflow_fetcher_feeds", &[]) == feed_count as f64;
        if events_out > 0.0 && lag == 0.0 && feeds_counted && previous.as_ref() == Some(&progress) {
            break now;
        }
        previous = Some(progress);
    };

    // Fetcher: polls, pages, bytes, request latency, feeds by state.
    assert!(metrics.sum("newsflow_fetcher_polls_total", &[]) >= feed_count as f64);
    assert!(metrics.sum("newsflow_fetcher_pages_total", &[]) > 0.0);
    assert!(metrics.sum("newsflow_fetcher_bytes_fetched_total", &[]) > 0.0);
    assert!(metrics.sum("newsflow_fetcher_requests_total", &[]) > 0.0);
    assert_eq!(
        metrics.types.get("newsflow_fetcher_fetch_duration_seconds"),
        Some(&"histogram".to_string())
    );
    assert!(metrics.sum("newsflow_fetcher_fetch_duration_seconds_count", &[]) > 0.0);
    for state in ["active", "failing", "disabled"] {
        assert!(
            metrics.has("newsflow_fetcher_feeds", &[&format!("state=\"{state}\"")]),
            "feeds in state {state}"
        );
    }
    assert_eq!(
        metrics.sum("newsflow_fetcher_feeds", &[]),
        feed_count as f64,
        "every polled feed is in one state"
    );

    // Every stage: inputs processed, each timed once, lag measured.
    for (stage, topic) in [
        ("cleaner", "raw"),
        ("dedup", "articles"),
        ("clusterer", "unique"),
    ] {
        let stage_label = format!("stage=\"{stage}\"");
        let processed = metrics.sum(
            "newsflow_inputs_total",
            &[&stage_label, "outcome=\"processed\""],
        );
        assert!(processed > 0.0, "{stage} processed nothing");
        assert_eq!(
            metrics.sum("newsflow_stage_handle_seconds_count", &[&stage_label]),
            metrics.sum("newsflow_inputs_total", &[&stage_label]),
            "{stage}: one handler time per input"
        );
        assert!(metrics.sum("newsflow_stage_handle_seconds_sum", &[&stage_label]) > 0.0);
        let lag_labels = [
            stage_label.as_str(),
            &format!("topic=\"{topic}\""),
            "partition=\"0\"",
        ];
        assert!(
            metrics.has("newsflow_consumer_lag", &lag_labels),
            "no lag gauge for {stage} on {topic}"
        );
        assert_eq!(metrics.sum("newsflow_consumer_lag", &lag_labels), 0.0);
        assert!(metrics.sum("newsflow_outputs_total", &[&stage_label]) > 0.0);
    }
    assert_eq!(
        metrics.types.get("newsflow_stage_handle_seconds"),
        Some(&"histogram".to_string())
    );

    // Fetched -> published: one observation per story published in an
    // event, each no longer than the run has lasted.
    let published = metrics.sum("newsflow_fetch_to_event_seconds_count", &[]);
    assert!(published > 0.0);
    assert!(
        published
            <= metrics.sum(
                "newsflow_inputs_total",
                &["stage=\"clusterer\"", "outcome=\"processed\""]
            )
    );
    let mean = metrics.sum("newsflow_fetch_to_event_seconds_sum", &[]) / published;
    assert!((0.0..120.0).contains(&mean), "mean latency {mean} s");

    // State sizes.
    let active = metrics.sum("newsflow_clusterer_events", &["state=\"active\""]);
    let held = metrics.sum("newsflow_clusterer_events", &["state=\"held\""]);
    assert!(
        active > 0.0 && held >= active,
        "active {active}, held {held}"
    );
    let stories_held = metrics.sum("newsflow_clusterer_stories_held", &[]);
    assert!(stories_held > 0.0 && stories_held <= MAX_HELD_STORIES as f64);
    assert!(metrics.sum("newsflow_clusterer_vocabulary_terms", &[]) > 0.0);
    assert!(metrics.sum("newsflow_dedup_stories_remembered", &[]) > 0.0);

    // Early retirements for capacity: every story the clusterer took and
    // no longer holds was retired early (none falls due by time in a run
    // this short), in at least one event each time.
    let retired_stories = metrics.sum("newsflow_clusterer_stories_retired_early_total", &[]);
    let retired_events = metrics.sum("newsflow_clusterer_events_retired_early_total", &[]);
    let taken = metrics.sum(
        "newsflow_inputs_total",
        &["stage=\"clusterer\"", "outcome=\"processed\""],
    );
    assert!(retired_stories > 0.0, "no early retirement counted");
    assert!(retired_events > 0.0 && retired_events <= retired_stories);
    assert!(
        retired_stories + stories_held <= taken,
        "{retired_stories} retired + {stories_held} held of {taken} taken"
    );
}

/// The clusterer's cap on held stories in this run.
const MAX_HELD_STORIES: usize = 12;
