//! The embedded pipeline killed (SIGKILL) at random moments while a stream
//! of synthetic stories flows through it, and restarted each time: nothing
//! may be lost, nothing counted twice, no event version may go back, and the
//! end result must be the placement an uninterrupted run makes of the same
//! input. The seed is printed; `NEWSFLOW_CRASH_SEED=N` replays one.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::bounded_child::run_bounded;
use common::child_guard::ChildGuard;
use common::synthetic_news::{SyntheticNews, SyntheticStory};
use common::*;
use newsflow_fixture_server::FixtureServer;
use newsflow_model::{decode, DuplicateRecord, EventRecord};

/// Kills that must land while the service works.
const KILLS: usize = 8;
/// Parts the stream arrives in.
const WAVES: usize = 6;

fn service(feeds: &Path, data_dir: &Path, events_out: &Path) -> Command {
    let mut command = run_service_command(feeds, data_dir);
    command
        .arg("--events-out")
        .arg(events_out)
        .env("NEWSFLOW_FETCHER__PER_HOST_MIN_GAP_MS", "0")
        // A small backlog keeps every stage busy at once, so that a kill
        // lands in the middle of all of them.
        .env("NEWSFLOW_BUS__EMBEDDED__MAX_BACKLOG", "20");
    command
}

/// Runs until idle, returning how long it took.
fn run_to_the_end(feeds: &Path, data_dir: &Path, events_out: &Path) -> Duration {
    let started = Instant::now();
    let run = run_bounded(
        service(feeds, data_dir, events_out).arg("--until-idle"),
        Duration::from_secs(150),
    );
    assert!(
        run.exit_code == Some(0),
        "run to the end failed ({:?}, timed out: {}):\n{}",
        run.exit_code,
        run.timed_out,
        run.stderr_text()
    );
    started.elapsed()
}

/// The story a path stands for: a syndicated copy stands for its original.
fn story_key(stories: &[SyntheticStory], path: &str) -> String {
    stories
        .iter()
        .find(|s| s.path == path)
        .and_then(|s| s.copy_of.clone())
        .unwrap_or_else(|| path.to_string())
}

/// What a finished run says: the standing events, the duplicates reported.
struct Outcome {
    records: Vec<EventRecord>,
    events: Vec<EventRecord>,
    duplicates: BTreeSet<String>,
    /// Each duplicate's path with the story id it is a duplicate of.
    duplicate_of: Vec<(String, String)>,
}

fn outcome(data_dir: &Path, events_out: &Path) -> Outcome {
    let records = read_event_lines(&std::fs::read_to_string(events_out).unwrap());
    let events = standing_events(records.clone());
    let bus = newsflow_bus::EmbeddedBus::open(
        data_dir,
        &newsflow_bus::EmbeddedConfig::default(),
        &["events"],
    )
    .unwrap();
    let mut reader = bus.reader("duplicates", 0);
    let mut duplicates = BTreeSet::new();
    let mut duplicate_of = Vec::new();
    loop {
        let batch = reader.read_available().unwrap();
        if batch.is_empty() {
            break;
        }
        for delivery in batch {
            let record: DuplicateRecord = decode(&delivery.payload).unwrap();
            duplicates.insert(fixture_path(&record.url));
            duplicate_of.push((fixture_path(&record.url), record.duplicate_of));
        }
    }
    Outcome {
        records,
        events,
        duplicates,
        duplicate_of,
    }
}

/// Stories that dedup found to be the same story, in either run, each
/// mapped to one of them: which one an event lists depends on which arrived
/// first (the runs get the stream in different orders), and that is not a
/// difference in placement.
fn same_story_classes(stories: &[SyntheticStory], runs: &[&Outcome]) -> BTreeMap<String, String> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    fn root(parent: &BTreeMap<String, String>, key: &str) -> String {
        let mut key = key.to_string();
        while let Some(up) = parent.get(&key).filter(|up| **up != key) {
            key = up.clone();
        }
        key
    }
    for run in runs {
        let path_of: BTreeMap<&str, String> = run
            .records
            .iter()
            .flat_map(|r| r.members.iter())
            .map(|m| (m.story_id.as_str(), fixture_path(&m.url)))
            .collect();
        for (copy, original_id) in &run.duplicate_of {
            let Some(original) = path_of.get(original_id.as_str()) else {
                continue;
            };
            let (a, b) = (
                root(&parent, &story_key(stories, copy)),
                root(&parent, &story_key(stories, original)),
            );
            if a != b {
                let (low, high) = if a < b { (a, b) } else { (b, a) };
                parent.insert(high, low);
            }
        }
    }
    let keys: Vec<String> = parent.keys().cloned().collect();
    keys.into_iter()
        .map(|key| {
            let top = root(&parent, &key);
            (key, top)
        })
        .collect()
}

/// Each event as the set of stories it holds.
fn placement(
    stories: &[SyntheticStory],
    events: &[EventRecord],
    same_story: &BTreeMap<String, String>,
) -> BTreeSet<BTreeSet<String>> {
    events
        .iter()
        .map(|e| {
            e.members
                .iter()
                .map(|m| {
                    let key = story_key(stories, &fixture_path(&m.url));
                    same_story.get(&key).cloned().unwrap_or(key)
                })
                .collect()
        })
        .collect()
}

fn assert_whole(stories: &[SyntheticStory], outcome: &Outcome, run: &str) {
    let mut holders: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for event in &outcome.events {
        let mut seen = BTreeSet::new();
        for member in &event.members {
            assert!(
                seen.insert(member.story_id.as_str()),
                "{run}: event {} lists story {} twice",
                event.event_id,
                member.story_id
            );
            holders
                .entry(fixture_path(&member.url))
                .or_default()
                .push(&event.event_id);
        }
    }
    let mut lost = Vec::new();
    for story in stories {
        let events = holders.get(&story.path).map_or(0, Vec::len);
        let duplicate = outcome.duplicates.contains(&story.path);
        assert!(events <= 1, "{run}: {} is in {events} events", story.path);
        assert!(
            !(events == 1 && duplicate),
            "{run}: {} is both a member and a duplicate",
            story.path
        );
        if events == 0 && !duplicate {
            lost.push(story.path.clone());
        }
    }
    assert!(lost.is_empty(), "{run}: stories lost: {lost:?}");
}

/// In publication order, an event's version never goes back, and one
/// version is always the same record.
fn assert_versions_go_forward(records: &[EventRecord]) {
    let mut newest: BTreeMap<&str, &EventRecord> = BTreeMap::new();
    for record in records {
        if let Some(known) = newest.get(record.event_id.as_str()) {
            assert!(
                record.version >= known.version,
                "event {} went back from version {} to {}",
                record.event_id,
                known.version,
                record.version
            );
            if record.version == known.version {
                let (now, before) = (
                    serde_json::to_value(record).unwrap(),
                    serde_json::to_value(known).unwrap(),
                );
                let differing: Vec<String> = now
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(field, value)| before.get(field.as_str()) != Some(*value))
                    .map(|(field, value)| {
                        format!("{field}: {} then {value}", before[field.as_str()])
                    })
                    .collect();
                assert!(
                    differing.is_empty(),
                    "two different records of event {} version {}: {differing:?}",
                    record.event_id,
                    record.version
                );
            }
        }
        newest.insert(&record.event_id, record);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_random_moments_the_pipeline_loses_and_repeats_nothing() {
    let seed = common::crash_seed();
    eprintln!("crash test seed: {seed} (NEWSFLOW_CRASH_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);

    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let server = FixtureServer::start(&site).await.unwrap();
    let news = SyntheticNews::generate(seed, 44, 5, 9);
    let stories = news.stories;
    assert!(stories.len() >= 200);
    let feeds = SyntheticNews::write_site(&stories, &site, server.base_url());

    // The reference: one uninterrupted run.
    let (reference_dir, reference_out) = (work.path().join("ref"), work.path().join("ref.jsonl"));
    let (f, d, o) = (feeds.clone(), reference_dir.clone(), reference_out.clone());
    let uninterrupted = tokio::task::spawn_blocking(move || run_to_the_end(&f, &d, &o))
        .await
        .unwrap();
    let reference = outcome(&reference_dir, &reference_out);
    assert_whole(&stories, &reference, "uninterrupted run");

    // The same input, with the service killed again and again.
    let (data_dir, events_out) = (
        work.path().join("crashed"),
        work.path().join("crashed.jsonl"),
    );
    let log = work.path().join("crashed.log");
    // The stream arrives in waves, a new one in the feeds before each of
    // the first restarts; runs are killed until KILLS kills have landed
    // while the service was still at work (a run that finished before its
    // kill does not count). How far each run had got is printed.
    let mut kills = Vec::new();
    let mut landed = 0;
    for run in 1..=40usize {
        if landed >= KILLS && run > WAVES {
            break;
        }
        let wave = run.min(WAVES);
        SyntheticNews::write_site(
            &stories[..stories.len() * wave / WAVES],
            &site,
            server.base_url(),
        );
        let delay = Duration::from_millis(rng.u64(50..1_200));
        // `--until-idle` polls every feed at start, whatever the feeds'
        // schedule says, so each wave is fetched by the run it is for.
        let mut service = ChildGuard::spawn(
            service(&feeds, &data_dir, &events_out).arg("--until-idle"),
            &log,
        );
        tokio::time::sleep(delay).await;
        let finished_first = service.wait_for(Duration::ZERO).is_some();
        service.kill();
        landed += usize::from(!finished_first);
        let written = std::fs::read_to_string(&events_out).unwrap_or_default();
        kills.push(format!(
            "{delay:?}: {} event records{}",
            written.lines().count(),
            if finished_first {
                " (had finished)"
            } else {
                ""
            }
        ));
    }
    assert!(landed >= KILLS, "only {landed} kills landed: {kills:?}");
    SyntheticNews::write_site(&stories, &site, server.base_url());
    let (f, d, o) = (feeds.clone(), data_dir.clone(), events_out.clone());
    let recovery = tokio::task::spawn_blocking(move || run_to_the_end(&f, &d, &o))
        .await
        .unwrap();
    let crashed = outcome(&data_dir, &events_out);
    eprintln!(
        "stories {}, {landed} kills landed ({kills:?}); uninterrupted run {uninterrupted:?}, \
         final run after the kills {recovery:?}; events {} vs {}, records {} vs {}",
        stories.len(),
        reference.events.len(),
        crashed.events.len(),
        reference.records.len(),
        crashed.records.len()
    );
    assert_whole(&stories, &crashed, "killed run");
    assert_versions_go_forward(&crashed.records);

    // `tail` (the compacted topic) holds each event's newest version.
    let output = run_command(
        newsflow_command()
            .args([
                "tail",
                "--format",
                "json",
                "--idle-exit-secs",
                "1",
                "--data-dir",
            ])
            .arg(&data_dir),
    );
    let on_topic = read_event_lines(&String::from_utf8(output.stdout).unwrap());
    let newest_in_file: BTreeMap<&str, u64> = crashed
        .records
        .iter()
        .map(|r| (r.event_id.as_str(), r.version))
        .fold(BTreeMap::new(), |mut m, (id, v)| {
            let e = m.entry(id).or_insert(v);
            *e = (*e).max(v);
            m
        });
    for record in &on_topic {
        assert_eq!(
            Some(&record.version),
            newest_in_file.get(record.event_id.as_str()),
            "the topic's version of {} is not its newest",
            record.event_id
        );
    }

    let same_story = same_story_classes(&stories, &[&reference, &crashed]);
    let expected = placement(&stories, &reference.events, &same_story);
    let got = placement(&stories, &crashed.events, &same_story);
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the killed run placed stories differently (seed {seed}):\n\
         only uninterrupted: {missing:?}\nonly killed: {extra:?}"
    );
}
