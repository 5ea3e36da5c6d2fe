//! Faults on the embedded bus, each through the real binary: a consumer
//! group left behind by an earlier run, a second process on the same data
//! directory, and a stage that cannot make progress (readiness).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::bounded_child::run_bounded;
use common::child_guard::{free_port, http_get, ChildGuard};
use common::synthetic_news::SyntheticNews;
use common::*;
use newsflow_fixture_server::FixtureServer;

/// `newsflow run` over `feeds` in `data_dir`, pages fetched without the
/// politeness gap (every outlet is on the one loopback host).
fn service(feeds: &Path, data_dir: &Path) -> Command {
    let mut command = run_service_command(feeds, data_dir);
    command.env("NEWSFLOW_FETCHER__PER_HOST_MIN_GAP_MS", "0");
    command
}

fn tool(args: &[&str], data_dir: &Path) -> Command {
    let mut command = newsflow_command();
    command.args(args).arg("--data-dir").arg(data_dir);
    command
}

fn groups_json(data_dir: &Path) -> Vec<serde_json::Value> {
    let output = run_command(&mut tool(&["bus", "groups", "--format", "json"], data_dir));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn tail_events(data_dir: &Path) -> Vec<newsflow_model::EventRecord> {
    let output = run_command(&mut tool(
        &["tail", "--format", "json", "--idle-exit-secs", "1"],
        data_dir,
    ));
    read_event_lines(&String::from_utf8(output.stdout).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_without_events_out_after_one_with_it_finishes() {
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let server = FixtureServer::start(&site).await.unwrap();
    let news = SyntheticNews::generate(14, 12, 4, 0);
    let (first, second) = news.stories.split_at(6 * 4);
    let feeds = SyntheticNews::write_site(first, &site, server.base_url());
    let data_dir = work.path().join("data");
    let events_out = work.path().join("events.jsonl");

    // The README's first command, with a small backlog limit.
    let feeds_for_run = feeds.clone();
    let data = data_dir.clone();
    let events = events_out.clone();
    let first_run = tokio::task::spawn_blocking(move || {
        run_bounded(
            service(&feeds_for_run, &data)
                .arg("--until-idle")
                .arg("--events-out")
                .arg(&events)
                .env("NEWSFLOW_BUS__EMBEDDED__MAX_BACKLOG", "10"),
            Duration::from_secs(120),
        )
    })
    .await
    .unwrap();
    assert_eq!(first_run.exit_code, Some(0), "{}", first_run.stderr_text());

    // New stories, and a run without --events-out: the `events-out` group
    // stays registered, detached, and must hold nothing back.
    SyntheticNews::write_site(&news.stories, &site, server.base_url());
    let data = data_dir.clone();
    let started = Instant::now();
    let second_run = tokio::task::spawn_blocking(move || {
        run_bounded(
            service(&feeds, &data)
                .arg("--until-idle")
                .env("NEWSFLOW_BUS__EMBEDDED__MAX_BACKLOG", "10"),
            Duration::from_secs(120),
        )
    })
    .await
    .unwrap();
    assert!(
        !second_run.timed_out && second_run.exit_code == Some(0),
        "the second run did not finish ({:?} after {:?}):\n{}",
        second_run.exit_code,
        started.elapsed(),
        second_run.stderr_text()
    );

    eprintln!(
        "second run (no --events-out, max_backlog 10) finished in {:?}",
        started.elapsed()
    );
    // Every new story reached an event although the old group lags.
    let events = standing_events(tail_events(&data_dir));
    let members: std::collections::BTreeSet<String> = events
        .iter()
        .flat_map(|e| e.members.iter().map(|m| fixture_path(&m.url)))
        .collect();
    for story in second {
        assert!(
            members.contains(&story.path),
            "{} is in no event",
            story.path
        );
    }

    let groups = groups_json(&data_dir);
    let events_out_group = groups
        .iter()
        .find(|g| g["group"] == "events-out")
        .expect("the detached group is listed");
    assert_eq!(events_out_group["attached"], false);
    assert_eq!(events_out_group["topic"], "events");
    assert!(events_out_group["pending"].as_u64().unwrap() > 10);
    assert!(events_out_group["last_seen"].is_string());
    for stage in ["cleaner", "dedup", "clusterer"] {
        let group = groups.iter().find(|g| g["group"] == stage).unwrap();
        assert_eq!(group["pending"], 0, "{stage}");
    }
    run_command(&mut tool(
        &["bus", "groups", "--drop", "events-out"],
        &data_dir,
    ));
    assert!(groups_json(&data_dir)
        .iter()
        .all(|g| g["group"] != "events-out"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_directory_serves_one_run_and_any_number_of_readers() {
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let server = FixtureServer::start(&site).await.unwrap();
    let news = SyntheticNews::generate(21, 4, 3, 0);
    let feeds = SyntheticNews::write_site(&news.stories, &site, server.base_url());
    let data_dir = work.path().join("data");
    let log = work.path().join("run.log");

    let mut running = ChildGuard::spawn(
        service(&feeds, &data_dir)
            .arg("--events-out")
            .arg(work.path().join("events.jsonl")),
        &log,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tail_events_ready(&data_dir) {
        assert!(Instant::now() < deadline, "no event after 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }

    let second = run_bounded(&mut service(&feeds, &data_dir), Duration::from_secs(30));
    assert_eq!(second.exit_code, Some(1), "{}", second.stderr_text());
    let refused = second.stderr_text();
    assert!(
        refused.contains(&data_dir.display().to_string())
            && refused.contains(&format!("pid {}", running.id())),
        "the refusal names neither the directory nor the holder: {refused}"
    );

    // Readers work meanwhile; dropping a group needs the directory.
    assert!(!tail_events(&data_dir).is_empty());
    let groups = groups_json(&data_dir);
    let cleaner = groups.iter().find(|g| g["group"] == "cleaner").unwrap();
    assert_eq!(cleaner["attached"], true);
    assert_eq!(cleaner["attached_pid"], running.id());
    let drop = run_bounded(
        &mut tool(&["bus", "groups", "--drop", "events-out"], &data_dir),
        Duration::from_secs(30),
    );
    assert_eq!(drop.exit_code, Some(1));
    assert!(
        drop.stderr_text().contains("in use"),
        "{}",
        drop.stderr_text()
    );

    // Killed, the holder leaves no lock behind.
    running.kill();
    assert!(groups_json(&data_dir)
        .iter()
        .all(|g| g["attached"] == false));
    let after = run_bounded(
        service(&feeds, &data_dir).arg("--until-idle"),
        Duration::from_secs(60),
    );
    assert_eq!(after.exit_code, Some(0), "{}", after.stderr_text());
}

fn tail_events_ready(data_dir: &Path) -> bool {
    data_dir.join("bus.db").is_file() && !tail_events(data_dir).is_empty()
}

/// Polls `path` until `want` holds for its (status, body), or panics.
fn wait_for_endpoint(
    port: u16,
    path: &str,
    limit: Duration,
    (what, log): (&str, &Path),
    want: impl Fn(u16, &str) -> bool,
) -> String {
    let deadline = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < deadline {
        if let Some((status, body)) = http_get(port, path) {
            if want(status, &body) {
                return body;
            }
            last = Some((status, body));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let logged = std::fs::read_to_string(log).unwrap_or_default();
    let tail: String = logged.lines().rev().take(30).collect::<Vec<_>>().join("\n");
    panic!("{what}: {path} never did within {limit:?}; last answer {last:?}; log (newest first):\n{tail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stage_that_cannot_progress_makes_readiness_fail_until_it_resumes() {
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let log = work.path().join("run.log");
    let port = free_port();
    let mut cleaner = newsflow_command();
    cleaner
        .args(["run", "--stage", "cleaner", "--data-dir"])
        .arg(&data_dir)
        .env("NEWSFLOW_OPERATOR_LISTEN", format!("127.0.0.1:{port}"))
        .env("NEWSFLOW_READINESS__STALL_AFTER_SECS", "2");
    let cleaner_process = ChildGuard::spawn(&mut cleaner, &log);
    wait_for_endpoint(
        port,
        "/ready",
        Duration::from_secs(60),
        ("become ready", &log),
        |s, _| s == 200,
    );
    assert_eq!(http_get(port, "/health").unwrap().0, 200);

    // Input arrives, and another process takes the log's write lock, so
    // the cleaner can neither acknowledge nor send. The cleaner is paused
    // meanwhile: running, it could clean all of the input before the lock
    // is taken, and then it has nothing to stall on.
    let cleaner_pid = cleaner_process.id() as libc::pid_t;
    assert_eq!(unsafe { libc::kill(cleaner_pid, libc::SIGSTOP) }, 0);
    let bus = newsflow_bus::EmbeddedBus::open(
        &data_dir,
        &newsflow_bus::EmbeddedConfig::default(),
        &["events"],
    )
    .unwrap();
    for i in 0..200 {
        use newsflow_bus::Producer;
        bus.send("raw", &format!("k{i}"), b"{not a page".to_vec())
            .await
            .unwrap();
    }
    let mut blocker = rusqlite::Connection::open(data_dir.join("bus.db")).unwrap();
    let lock = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    assert_eq!(unsafe { libc::kill(cleaner_pid, libc::SIGCONT) }, 0);
    let locked = Instant::now();
    let reason = wait_for_endpoint(
        port,
        "/ready",
        Duration::from_secs(30),
        ("fail while stalled", &log),
        |s, body| s == 503 && body.contains("stalled"),
    );
    let seen_503 = locked.elapsed();
    assert!(
        reason.contains("stage cleaner (group cleaner, topic raw)"),
        "{reason}"
    );
    assert_eq!(
        http_get(port, "/health").unwrap().0,
        200,
        "the process still lives"
    );

    drop(lock);
    let released = Instant::now();
    wait_for_endpoint(
        port,
        "/ready",
        Duration::from_secs(90),
        ("recover", &log),
        |s, _| s == 200,
    );
    eprintln!(
        "/ready: 503 {seen_503:?} after the lock, 200 again {:?} after its release",
        released.elapsed()
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("stage stalled") && logged.contains("stage resumed"),
        "the stall is not in the log:\n{logged}"
    );
}
