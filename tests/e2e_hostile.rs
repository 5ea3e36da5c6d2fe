//! `newsflow run` among hostile feeds, pages and HTTP behaviour, beside the
//! fixture outlets: the service must stay up, stay small, say in its dead
//! letters what it refused, and still form the Baku event exactly.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::bounded_child::run_bounded;
use common::hostile_server::HostileServer;
use common::*;
use newsflow_bus::{Bus, EmbeddedBus, EmbeddedConfig, Producer};
use newsflow_fixture_server::FixtureServer;

/// Far above what the pipeline needs on these inputs (about 200 MB), far
/// below what the unbounded paths took (a quadratic entity expansion alone
/// grew past 10 GB).
const PEAK_RSS_LIMIT: u64 = 1536 << 20;
/// The slowest hostile feed is cut by the request budget below; the rest of
/// the run takes well under a minute.
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("newsflow.toml");
    // A short request budget so the trickling bodies are cut quickly, and no
    // per-host gap so the run is not slowed by politeness towards loopback.
    std::fs::write(
        &path,
        "[fetcher]\nrequest_timeout_secs = 8\nper_host_min_gap_ms = 0\n",
    )
    .unwrap();
    path
}

fn run_once(config: &Path, feeds: &Path, data_dir: &Path, events_out: &Path) {
    let mut command = run_service_command(feeds, data_dir);
    command
        .arg("--config")
        .arg(config)
        .arg("--events-out")
        .arg(events_out)
        .arg("--until-idle");
    let cost = run_bounded(&mut command, RUN_LIMIT);
    let stderr = cost.stderr_text();
    // What matters of a long log: any panic, and how it ended.
    let panics = stderr.lines().filter(|l| l.contains("panicked"));
    let last = stderr.lines().rev().take(20).collect::<Vec<_>>();
    let tail: String = panics
        .chain(last.into_iter().rev())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !cost.timed_out,
        "the run did not finish within {RUN_LIMIT:?}:\n{tail}"
    );
    assert_eq!(
        cost.signal, None,
        "the service died of a signal (6 = abort, e.g. a stack overflow):\n{tail}"
    );
    assert_eq!(cost.exit_code, Some(0), "the service failed:\n{tail}");
    assert!(
        cost.peak_rss_bytes < PEAK_RSS_LIMIT,
        "peak memory {} MiB is over the bound",
        cost.peak_rss_bytes >> 20
    );
    eprintln!(
        "hostile run: {:.1} s, peak RSS {} MiB",
        cost.elapsed.as_secs_f64(),
        cost.peak_rss_bytes >> 20
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_feeds_pages_and_servers_do_not_stop_the_service() {
    let outlets = FixtureServer::start(&repo_path("tests/fixtures/outlets"))
        .await
        .unwrap();
    let hostile = HostileServer::start("127.0.0.3").await;
    let work = tempfile::tempdir().unwrap();
    // The hostile feeds come first, so that one which could kill the
    // process does so before any honest feed is read.
    let honest = write_feed_list(outlets.base_url(), work.path());
    let feeds = work.path().join("all-feeds.toml");
    std::fs::write(
        &feeds,
        format!(
            "{}\n{}",
            hostile.feed_list_entries(),
            std::fs::read_to_string(&honest).unwrap()
        ),
    )
    .unwrap();
    let config = write_config(work.path());
    let data_dir = work.path().join("data");
    let events_out = work.path().join("events.jsonl");

    // Records that can never be read wait on `raw` before the run.
    std::fs::create_dir_all(&data_dir).unwrap();
    {
        let bus = EmbeddedBus::open(&data_dir, &EmbeddedConfig::default(), &["events"]).unwrap();
        drop(bus.consumer("cleaner", "raw").await.unwrap());
        bus.send("raw", "poison", b"{not json".to_vec())
            .await
            .unwrap();
        bus.send("raw", "future", br#"{"schema_version": 7}"#.to_vec())
            .await
            .unwrap();
    }

    for _ in 0..2 {
        // Twice: a hostile input that killed the service would kill it again
        // at every restart.
        let (config, feeds, data_dir, events_out) = (
            config.clone(),
            feeds.clone(),
            data_dir.clone(),
            events_out.clone(),
        );
        tokio::task::spawn_blocking(move || run_once(&config, &feeds, &data_dir, &events_out))
            .await
            .unwrap();
    }

    let events = standing_events(read_event_lines(
        &std::fs::read_to_string(&events_out).unwrap(),
    ));
    let baku: BTreeSet<String> = expected()
        .events
        .into_iter()
        .find(|e| e.name == "baku-putin-aliyev")
        .unwrap()
        .articles
        .into_iter()
        .collect();
    let holding: Vec<_> = events
        .iter()
        .filter(|e| !member_paths(e).is_disjoint(&baku))
        .collect();
    assert_eq!(holding.len(), 1, "the Baku stories are spread: {holding:?}");
    assert_eq!(
        member_paths(holding[0]),
        baku,
        "the Baku event is not exact"
    );

    // The dead letters name both unreadable records, with their offsets.
    let listed = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        move || {
            run_command(
                newsflow_command()
                    .args(["dead-letters", "list", "--format", "json", "--data-dir"])
                    .arg(&data_dir),
            )
        }
    })
    .await
    .unwrap();
    let letters: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad letter {l}: {e}")))
        .collect();
    let from_raw: Vec<_> = letters
        .iter()
        .filter(|l| l["stage"] == "cleaner" && l["topic"] == "raw")
        .collect();
    let reasons: BTreeSet<&str> = from_raw
        .iter()
        .filter_map(|l| l["reason"].as_str())
        .collect();
    assert!(
        reasons.contains("malformed") && reasons.contains("schema_version"),
        "the unreadable records are not in the dead letters: {letters:?}"
    );
    let offsets: BTreeSet<i64> = from_raw
        .iter()
        .filter_map(|l| l["offset"].as_i64())
        .collect();
    assert!(
        offsets.contains(&0) && offsets.contains(&1),
        "dead letters must name the offsets: {from_raw:?}"
    );
}
