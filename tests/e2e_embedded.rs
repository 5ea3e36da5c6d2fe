//! The whole pipeline on the embedded bus, as one `newsflow run` process,
//! over the fixture outlets served on loopback.

mod common;

use std::path::Path;

use common::*;
use newsflow_bus::{EmbeddedBus, EmbeddedConfig, Producer};
use newsflow_fixture_server::FixtureServer;

/// `newsflow run` as a user would start it over the fixture feeds.
fn service_command(feeds: &Path, data_dir: &Path, events_out: &Path) -> std::process::Command {
    let mut command = run_service_command(feeds, data_dir);
    command.arg("--events-out").arg(events_out);
    command
}

fn run_until_idle(feeds: &Path, data_dir: &Path, events_out: &Path) {
    run_command(service_command(feeds, data_dir, events_out).arg("--until-idle"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fixture_outlets_become_their_events() {
    let server = FixtureServer::start(&repo_path("tests/fixtures/outlets"))
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(server.base_url(), work.path());
    let data_dir = work.path().join("data");
    let events_out = work.path().join("events.jsonl");

    // A malformed record already waiting on `raw` must be skipped, not stop
    // the cleaner.
    std::fs::create_dir_all(&data_dir).unwrap();
    {
        let bus = EmbeddedBus::open(&data_dir, &EmbeddedConfig::default(), &["events"]).unwrap();
        use newsflow_bus::Bus;
        drop(bus.consumer("cleaner", "raw").await.unwrap());
        bus.send("raw", "poison", b"{not json".to_vec())
            .await
            .unwrap();
        bus.send("raw", "old", br#"{"schema_version": 0}"#.to_vec())
            .await
            .unwrap();
    }

    let run = {
        let (feeds, data_dir, events_out) = (feeds.clone(), data_dir.clone(), events_out.clone());
        tokio::task::spawn_blocking(move || run_until_idle(&feeds, &data_dir, &events_out))
    };
    run.await.unwrap();

    let first_pass = std::fs::read_to_string(&events_out).unwrap();
    let events = standing_events(read_event_lines(&first_pass));
    assert_events_match_fixture(&events);
    assert_copies_are_credited(&events);

    // A second run over the same state finds nothing new: no story is
    // counted twice and no event changes.
    let run = {
        let (feeds, data_dir, events_out) = (feeds.clone(), data_dir.clone(), events_out.clone());
        tokio::task::spawn_blocking(move || run_until_idle(&feeds, &data_dir, &events_out))
    };
    run.await.unwrap();
    let second_pass = std::fs::read_to_string(&events_out).unwrap();
    let again = standing_events(read_event_lines(&second_pass));
    assert_eq!(again, events, "a second run changed the events");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_prints_the_baku_event_with_its_five_outlets() {
    let output = tokio::task::spawn_blocking(|| {
        run_command(newsflow_command().args(["demo", "--format", "json"]))
    })
    .await
    .unwrap();
    let events = read_event_lines(&String::from_utf8(output.stdout).unwrap());
    let baku = expected()
        .events
        .into_iter()
        .find(|e| e.name == "baku-putin-aliyev")
        .unwrap();
    let event = events
        .iter()
        .find(|e| member_paths(e).contains(&baku.articles[0]))
        .expect("the demo prints the Baku event");
    let outlets: std::collections::BTreeSet<&str> =
        event.members.iter().map(|m| m.outlet.as_str()).collect();
    assert_eq!(outlets.len(), 5, "{outlets:?}");
    assert_eq!(event.members.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_service_resumes_without_losing_or_repeating_a_story() {
    let server = FixtureServer::start(&repo_path("tests/fixtures/outlets"))
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(server.base_url(), work.path());
    let data_dir = work.path().join("data");
    let events_out = work.path().join("events.jsonl");

    // The long-lived service, killed without warning once events flow.
    let mut service = service_command(&feeds, &data_dir, &events_out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let written = std::fs::read_to_string(&events_out).unwrap_or_default();
        if written.lines().count() >= 3 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    service.kill().unwrap();
    service.wait().unwrap();
    let before_restart =
        read_event_lines(&std::fs::read_to_string(&events_out).unwrap_or_default());
    assert!(
        !before_restart.is_empty(),
        "the service produced no event before it was killed"
    );

    let run = {
        let (feeds, data_dir, events_out) = (feeds.clone(), data_dir.clone(), events_out.clone());
        tokio::task::spawn_blocking(move || run_until_idle(&feeds, &data_dir, &events_out))
    };
    run.await.unwrap();
    let events = standing_events(read_event_lines(
        &std::fs::read_to_string(&events_out).unwrap(),
    ));
    assert_events_match_fixture(&events);
    assert_copies_are_credited(&events);
    for event in &events {
        let mut stories: Vec<&str> = event.members.iter().map(|m| m.story_id.as_str()).collect();
        let count = stories.len();
        stories.sort_unstable();
        stories.dedup();
        assert_eq!(
            stories.len(),
            count,
            "a story counted twice in {}",
            event.event_id
        );
    }
}
