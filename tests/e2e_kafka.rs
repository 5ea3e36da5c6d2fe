//! The pipeline on Kafka: a real broker process (tansu) on a free loopback
//! port, each stage its own `newsflow run --stage NAME --bus kafka` process
//! in its own consumer group, and the events read back with `newsflow tail`.
//!
//! Needs `tansu` on PATH (`.ci/run` installs it). Without it the test says so
//! and passes locally, but fails under CI, where the broker must be there.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::kafka::{free_port, require_tansu, start_broker, Running, StageProcess, Storage};
use common::*;
use newsflow_fixture_server::FixtureServer;

fn stage(
    name: &'static str,
    brokers: &str,
    data_dir: &Path,
    extra: &[&str],
    log: &Path,
) -> Running {
    let log = log.join(format!("{name}.log"));
    let _ = std::fs::remove_file(&log);
    StageProcess {
        name,
        brokers,
        topic_prefix: "e2e.",
        data_dir: data_dir.join(name),
        log,
        extra: extra.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
    }
    .spawn()
}

#[test]
fn the_fixture_outlets_become_their_events_on_kafka() {
    if !require_tansu() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(FixtureServer::start(&repo_path("tests/fixtures/outlets")))
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let mut broker = start_broker(work.path(), port, Storage::Sqlite);
    let feeds = write_feed_list(server.base_url(), work.path());
    let logs = work.path();

    // The fetcher creates the topics and polls every feed once, then exits.
    let fetch = run_command(
        newsflow_command()
            .args([
                "run",
                "--bus",
                "kafka",
                "--stage",
                "fetcher",
                "--until-idle",
            ])
            .args(["--allow-private-addresses", "--brokers", &brokers])
            .arg("--feeds")
            .arg(&feeds)
            .arg("--data-dir")
            .arg(work.path().join("fetcher"))
            .env("NEWSFLOW_BUS__KAFKA__TOPIC_PREFIX", "e2e."),
    );
    drop(fetch);

    // A malformed record on `raw` must be skipped by the cleaner, not stop it.
    produce(
        &runtime,
        &brokers,
        "raw",
        "poison",
        b"\xff{not json".to_vec(),
    );

    let mut stages = vec![
        stage("cleaner", &brokers, work.path(), &[], logs),
        stage("dedup", &brokers, work.path(), &[], logs),
        stage("clusterer", &brokers, work.path(), &[], logs),
    ];

    // Read the events topic until the expected events are all there, or
    // give up after a generous time (group joins on tansu take ~20 s).
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut last_error = String::new();
    let mut matched = None;
    while Instant::now() < deadline {
        let events = tail_events(&brokers, 25);
        match std::panic::catch_unwind(|| {
            assert_events_match_fixture(&events);
            assert_copies_are_credited(&events);
        }) {
            Ok(()) => {
                matched = Some(events);
                break;
            }
            Err(panic) => {
                last_error = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| "assertion failed".into());
            }
        }
    }
    let mut rebuilt = Ok(());
    if let Some(before) = &matched {
        rebuilt = stage_state_is_rebuilt_from_kafka(
            &runtime,
            &server,
            &brokers,
            work.path(),
            &mut stages,
            before,
        );
    }
    for running in &mut stages {
        running.terminate();
    }
    broker.terminate();
    if let Err(error) = rebuilt {
        panic!("{error}");
    }
    if matched.is_none() {
        for name in ["cleaner", "dedup", "clusterer", "tansu"] {
            let log = std::fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default();
            let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
            eprintln!("--- {name} log (last lines, newest first)\n{tail}");
        }
        panic!("events on Kafka never matched the fixture: {last_error}");
    }
}

/// Dedup and clusterer stages that lost their local state (a new machine)
/// get it back from Kafka: dedup by replaying the input its group already
/// processed, the clusterer from its changelog topic, where a record sent
/// twice and an unreadable record wait. A verbatim copy of a story seen
/// before the loss is still recognised as a copy and credited to the
/// original's member in its one event, never a member or an event of its
/// own; event ids and versions go on from where they were.
fn stage_state_is_rebuilt_from_kafka(
    runtime: &tokio::runtime::Runtime,
    server: &FixtureServer,
    brokers: &str,
    work: &Path,
    stages: &mut [Running],
    before: &[newsflow_model::EventRecord],
) -> Result<(), String> {
    // stages: cleaner, dedup, clusterer.
    for index in [1, 2] {
        stages[index].terminate();
    }
    let logged = changelog_records(runtime, brokers);
    let last = logged
        .last()
        .ok_or("the clusterer published no changelog record")?;
    let operations = last.seq;
    let mut seqs: Vec<i64> = logged.iter().map(|r| r.seq).collect();
    seqs.dedup();
    if seqs.iter().copied().ne(1..=operations) {
        return Err(format!(
            "changelog sequence numbers are not 1..={operations}: {seqs:?}"
        ));
    }
    // Records a producer retry may already have repeated, and the one
    // repeat made here.
    let repeats = (logged.len() - seqs.len()) as i64 + 1;
    produce(
        runtime,
        brokers,
        CHANGELOG,
        "clusterer",
        newsflow_model::encode(last),
    );
    produce(
        runtime,
        brokers,
        CHANGELOG,
        "clusterer",
        b"{\"seq\":".to_vec(),
    );
    for (index, name) in [(1, "dedup"), (2, "clusterer")] {
        std::fs::remove_dir_all(work.join(name)).unwrap();
        let extra: &[&str] = if name == "clusterer" {
            &["--log-format", "json"]
        } else {
            &[]
        };
        stages[index] = stage(name, brokers, work, extra, work);
    }
    clusterer_refused_incomplete_restore(&mut stages[2], work)?;
    stages[2] = stage(
        "clusterer",
        brokers,
        work,
        &["--log-format", "json", "--accept-incomplete-restore"],
        work,
    );
    clusterer_restored_from_changelog(work, operations, repeats)?;

    let original = expected()
        .duplicates
        .into_iter()
        .find(|d| d.kind == "verbatim")
        .expect("the fixture has a verbatim copy");
    let page = std::fs::read_to_string(repo_path(&format!(
        "tests/fixtures/outlets{}",
        original.duplicate_of
    )))
    .unwrap();
    let html = server.render(&page);
    let extracted = newsflow_cleaner::extract(
        html.as_bytes(),
        Some("text/html; charset=utf-8"),
        None,
        &newsflow_cleaner::CleanerConfig::default(),
    )
    .unwrap();
    let url = "https://injected.example/world/copied-story";
    let copy = newsflow_model::Article {
        schema_version: newsflow_model::SCHEMA_VERSION,
        article_id: newsflow_model::story_id_for_url(url),
        item_id: url.into(),
        feed_url: "https://injected.example/feed".into(),
        url: url.into(),
        canonical_url: newsflow_model::canonical_url(url),
        outlet: "Injected Outlet".into(),
        title: "A copied story".into(),
        byline: None,
        published: extracted.published,
        language: extracted.language,
        lead_image: None,
        body: extracted.body,
        fetched_at: chrono::Utc::now(),
    };
    {
        use newsflow_model::Message;
        produce(
            runtime,
            brokers,
            "articles",
            &copy.key(),
            newsflow_model::encode(&copy),
        );
    }

    let deadline = Instant::now() + Duration::from_secs(150);
    let mut last = String::new();
    while Instant::now() < deadline {
        let events = tail_events(brokers, 20);
        let members: Vec<_> = events.iter().flat_map(|e| e.members.iter()).collect();
        if members.iter().any(|m| m.url == url) {
            return Err("the copy became an event member: dedup state was not rebuilt".into());
        }
        let holding_original = events
            .iter()
            .filter(|e| {
                member_paths(e).contains(&original.duplicate_of)
                    || member_paths(e).contains(&original.article)
            })
            .count();
        if holding_original > 1 {
            return Err("the original is in two events: clusterer state was not rebuilt".into());
        }
        let credited = members.iter().any(|m| {
            let path = fixture_path(&m.url);
            (path == original.duplicate_of || path == original.article)
                && m.also_carried_by.iter().any(|o| o == "Injected Outlet")
        });
        if credited {
            events_continue(before, &events, &original)?;
            let published = changelog_records(runtime, brokers);
            let newest = published.last().map(|r| r.seq);
            if newest != Some(operations + 1) {
                return Err(format!(
                    "after the restore the credit should be operation {} on the changelog, \
                     the newest there is {newest:?}",
                    operations + 1
                ));
            }
            return Ok(());
        }
        last = format!("{} events, copy not credited yet", events.len());
    }
    Err(format!(
        "the injected copy was never credited to its original: {last}"
    ))
}

const CHANGELOG: &str = newsflow_model::topics::CLUSTERER_CHANGELOG;

/// Every readable operation on the clusterer's changelog, in order (the
/// owners' claims and snapshots left out).
fn changelog_records(
    runtime: &tokio::runtime::Runtime,
    brokers: &str,
) -> Vec<newsflow_clusterer::ChangelogRecord> {
    runtime.block_on(async {
        let bus = newsflow_bus::KafkaBus::connect(kafka_config(brokers)).unwrap();
        let mut records: Vec<newsflow_clusterer::ChangelogRecord> = Vec::new();
        let Some(mut history) = bus.written_history(CHANGELOG).unwrap() else {
            return records;
        };
        while let Some(delivery) = history.next().await.unwrap() {
            if let Ok(record) =
                newsflow_model::decode::<newsflow_clusterer::ChangelogRecord>(&delivery.payload)
            {
                if record.is_operation() {
                    records.push(record);
                }
            }
        }
        records
    })
}

/// With an unreadable record on its changelog, the clusterer refuses to
/// start (exits with an error that names the way out) rather than run on a
/// state that may differ from the previous owner's.
fn clusterer_refused_incomplete_restore(
    clusterer: &mut Running,
    work: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while clusterer.alive() {
        if Instant::now() > deadline {
            return Err("the clusterer started from a changelog with an unreadable record".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(work.join("clusterer.log")).unwrap_or_default();
    if !log.contains("--accept-incomplete-restore") {
        return Err(format!(
            "the clusterer stopped without naming --accept-incomplete-restore:\n{log}"
        ));
    }
    if log.contains("clusterer state restored from the changelog") {
        return Err("the clusterer said it restored an incomplete changelog".into());
    }
    // The next start appends to the same log: keep this one apart.
    std::fs::rename(
        work.join("clusterer.log"),
        work.join("clusterer-refused.log"),
    )
    .unwrap();
    Ok(())
}

/// The restarted clusterer's log says it restored every operation from the
/// changelog, ignoring the repeated records and skipping the unreadable
/// one (as accepted), and never fell back to replaying its input.
fn clusterer_restored_from_changelog(
    work: &Path,
    operations: i64,
    repeats: i64,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read_to_string(work.join("clusterer.log")).unwrap_or_default();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let message =
            |line: &serde_json::Value| line["fields"]["message"].as_str().map(str::to_string);
        if lines
            .iter()
            .any(|l| message(l).as_deref() == Some("state rebuilt from committed input"))
        {
            return Err("the clusterer replayed its input instead of its changelog".into());
        }
        let restored = lines
            .iter()
            .find(|l| message(l).as_deref() == Some("clusterer state restored from the changelog"));
        if let Some(restored) = restored {
            let fields = &restored["fields"];
            let counts = (
                fields["operations"].as_i64(),
                fields["duplicates"].as_i64(),
                fields["unreadable"].as_i64(),
                fields["missing"].as_i64(),
            );
            return if counts == (Some(operations), Some(repeats), Some(1), Some(0)) {
                Ok(())
            } else {
                Err(format!(
                    "clusterer restore counted (operations, duplicates, unreadable, missing) = \
                     {counts:?}, expected ({operations}, {repeats}, 1, 0)"
                ))
            };
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the clusterer never said it restored its state:\n{log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// After the restore, every event is still there under its id at the
/// version it had, but for the original's event, one version on for the
/// credit; and no story is in two events.
fn events_continue(
    before: &[newsflow_model::EventRecord],
    after: &[newsflow_model::EventRecord],
    original: &ExpectedDuplicate,
) -> Result<(), String> {
    let holds_original = |e: &newsflow_model::EventRecord| {
        let paths = member_paths(e);
        paths.contains(&original.duplicate_of) || paths.contains(&original.article)
    };
    let versions =
        |events: &[newsflow_model::EventRecord]| -> std::collections::BTreeMap<String, u64> {
            events
                .iter()
                .map(|e| (e.event_id.clone(), e.version))
                .collect()
        };
    let mut expected = versions(before);
    for event in before.iter().filter(|e| holds_original(e)) {
        *expected.get_mut(&event.event_id).unwrap() += 1;
    }
    let found = versions(after);
    if found != expected {
        return Err(format!(
            "event ids and versions after the restore are {found:?}, expected {expected:?}"
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for member in after.iter().flat_map(|e| e.members.iter()) {
        if !seen.insert(&member.story_id) {
            return Err(format!("story {} is in two events", member.story_id));
        }
    }
    Ok(())
}

fn kafka_config(brokers: &str) -> newsflow_bus::KafkaConfig {
    common::kafka::kafka_config(brokers, "e2e.")
}

/// Produces one record with newsflow's own Kafka bus, as a stage would.
fn produce(
    runtime: &tokio::runtime::Runtime,
    brokers: &str,
    topic: &str,
    key: &str,
    payload: Vec<u8>,
) {
    common::kafka::produce(runtime, &kafka_config(brokers), topic, key, payload);
}

/// The standing events as `newsflow tail` reads them, once the topic has
/// been idle for `idle_secs`.
fn tail_events(brokers: &str, idle_secs: u64) -> Vec<newsflow_model::EventRecord> {
    let output = newsflow_command()
        .args(["tail", "--bus", "kafka", "--format", "json"])
        .args(["--idle-exit-secs", &idle_secs.to_string()])
        .args(["--brokers", brokers])
        .env("NEWSFLOW_BUS__KAFKA__TOPIC_PREFIX", "e2e.")
        .output()
        .unwrap();
    standing_events(read_event_lines(&String::from_utf8_lossy(&output.stdout)))
}
