//! What the end-to-end tests share: the fixture's ground truth, running the
//! binary, and judging the events it produced.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use newsflow_model::{EventRecord, EventStatus};
use serde::Deserialize;

pub mod bounded_child;
pub mod child_guard;
pub mod headless_chromium;
pub mod hostile_server;
pub mod kafka;
pub mod kafka_pipeline;
pub mod metrics_scrape;
pub mod stage_logs;
pub mod synthetic_news;

/// The seed of a randomised fault test: `$NEWSFLOW_CRASH_SEED` (to replay a
/// run), else the clock.
pub fn crash_seed() -> u64 {
    std::env::var("NEWSFLOW_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn newsflow_binary() -> &'static str {
    env!("CARGO_BIN_EXE_newsflow")
}

/// The binary, started outside the repo so that the repo's own
/// `config/newsflow.toml` (operator port, data directory) stays out of it.
pub fn newsflow_command() -> std::process::Command {
    let mut command = std::process::Command::new(newsflow_binary());
    command.current_dir(std::env::temp_dir());
    command
}

/// `newsflow run` over the feed list `feeds`, its state in `data_dir`, with
/// loopback addresses allowed (the test servers live there); callers add
/// the rest of what their run needs.
pub fn run_service_command(feeds: &Path, data_dir: &Path) -> std::process::Command {
    let mut command = newsflow_command();
    command
        .arg("run")
        .arg("--feeds")
        .arg(feeds)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--allow-private-addresses");
    command
}

#[derive(Debug, Deserialize)]
pub struct Expected {
    pub events: Vec<ExpectedEvent>,
    pub duplicates: Vec<ExpectedDuplicate>,
    pub not_articles: Vec<String>,
    pub missing: Vec<String>,
    pub broken_feeds: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExpectedEvent {
    pub name: String,
    pub articles: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExpectedDuplicate {
    pub article: String,
    pub duplicate_of: String,
    pub kind: String,
}

pub fn expected() -> Expected {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture's feed list with the server's base URL written in.
pub fn write_feed_list(base_url: &str, dir: &Path) -> PathBuf {
    let template = std::fs::read_to_string(repo_path("tests/fixtures/feeds.toml")).unwrap();
    let path = dir.join("feeds.toml");
    std::fs::write(&path, template.replace("{{BASE}}", base_url)).unwrap();
    path
}

/// A URL's path, the part the fixture's ground truth names.
pub fn fixture_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| url.to_string())
}

/// Events whose version went down in the records' order, each as
/// "ID vN after vM".
pub fn versions_gone_back(records: &[EventRecord]) -> Vec<String> {
    let mut gone_back = Vec::new();
    let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
    for record in records {
        let known = newest.entry(&record.event_id).or_default();
        if record.version < *known {
            gone_back.push(format!(
                "{} v{} after v{known}",
                record.event_id, record.version
            ));
        }
        *known = (*known).max(record.version);
    }
    gone_back
}

/// Folds event records (in the order they were published) to the newest
/// version of each event that still stands.
pub fn standing_events(records: impl IntoIterator<Item = EventRecord>) -> Vec<EventRecord> {
    let mut latest: BTreeMap<String, EventRecord> = BTreeMap::new();
    for record in records {
        let newer = latest
            .get(&record.event_id)
            .is_none_or(|known| record.version > known.version);
        if newer {
            latest.insert(record.event_id.clone(), record);
        }
    }
    latest
        .into_values()
        .filter(|e| e.status != EventStatus::Merged)
        .collect()
}

pub fn read_event_lines(text: &str) -> Vec<EventRecord> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line {l}: {e}")))
        .collect()
}

pub fn member_paths(event: &EventRecord) -> BTreeSet<String> {
    event.members.iter().map(|m| fixture_path(&m.url)).collect()
}

/// Member paths with each copy named by its original: whichever copy of a
/// story arrives first becomes the story, so either may be the member.
fn story_paths(event: &EventRecord, duplicates: &[ExpectedDuplicate]) -> BTreeSet<String> {
    member_paths(event)
        .into_iter()
        .map(|path| {
            duplicates
                .iter()
                .find(|d| d.article == path)
                .map_or(path, |d| d.duplicate_of.clone())
        })
        .collect()
}

/// Checks the fixture's ground truth against the standing events: each
/// expected event is exactly one produced event, with nothing else in it;
/// copies are reported as carried by the original's member, never members.
pub fn assert_events_match_fixture(events: &[EventRecord]) {
    let expected = expected();
    let summary: Vec<String> = events
        .iter()
        .map(|e| format!("{} {:?}", e.event_id, member_paths(e)))
        .collect();
    let stories = |e: &EventRecord| story_paths(e, &expected.duplicates);
    for wanted in &expected.events {
        let wanted_paths: BTreeSet<String> = wanted.articles.iter().cloned().collect();
        let holding: Vec<&EventRecord> = events
            .iter()
            .filter(|e| !stories(e).is_disjoint(&wanted_paths))
            .collect();
        assert_eq!(
            holding.len(),
            1,
            "event {} is spread over {} events:\n{}",
            wanted.name,
            holding.len(),
            summary.join("\n")
        );
        assert_eq!(
            stories(holding[0]),
            wanted_paths,
            "event {} does not hold exactly its stories:\n{}",
            wanted.name,
            summary.join("\n")
        );
    }
    let all_members: Vec<String> = events.iter().flat_map(member_paths).collect();
    for copy in &expected.duplicates {
        assert!(
            !(all_members.contains(&copy.article) && all_members.contains(&copy.duplicate_of)),
            "{} copy {} and its original {} both became event members",
            copy.kind,
            copy.article,
            copy.duplicate_of
        );
    }
    let all_stories: Vec<String> = events.iter().flat_map(stories).collect();
    let unexpected: Vec<&String> = all_stories
        .iter()
        .filter(|p| !expected.events.iter().any(|e| e.articles.contains(p)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "members outside the ground truth: {unexpected:?}"
    );
}

/// The member standing for a copied story names the other copy's outlet.
pub fn assert_copies_are_credited(events: &[EventRecord]) {
    let expected = expected();
    for copy in &expected.duplicates {
        let original = events
            .iter()
            .flat_map(|e| e.members.iter())
            .find(|m| {
                let path = fixture_path(&m.url);
                path == copy.duplicate_of || path == copy.article
            })
            .unwrap_or_else(|| panic!("neither copy of {} is an event member", copy.duplicate_of));
        assert!(
            !original.also_carried_by.is_empty(),
            "{} lists no outlet for its {} copy {}",
            copy.duplicate_of,
            copy.kind,
            copy.article
        );
    }
}

pub fn run_command(command: &mut std::process::Command) -> std::process::Output {
    let output = command.output().expect("the newsflow binary runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
