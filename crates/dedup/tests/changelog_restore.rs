//! dedup's changelog: the rows a stage writes, read back into an empty
//! stage, give the same window (a copy of a remembered story is still a
//! copy, an evicted story is gone); a previous owner still writing after a
//! newer claim is fenced; an incomplete reading refuses unless accepted.
//! The changelog here is a list of (key, payload), as a topic holds them.

mod common;

use common::*;
use newsflow_dedup::{
    ChangelogEntry, DedupConfig, DedupRestore, DedupRestoreFailure, DedupStage, Verdict,
};
use newsflow_model::{encode, Article, Message};

type Changelog = Vec<(String, Vec<u8>)>;

fn open(dir: &tempfile::TempDir, name: &str, config: &DedupConfig) -> DedupStage {
    DedupStage::open(&dir.path().join(name), config.clone()).unwrap()
}

/// Restores into `stage` from `changelog` and writes its claim there.
fn take_over(stage: &mut DedupStage, changelog: &mut Changelog) {
    let (_, claim) = restore(stage, changelog, None, false).unwrap();
    changelog.push((claim.key(), encode(&claim)));
}

fn restore(
    stage: &mut DedupStage,
    changelog: &Changelog,
    stopped_short: Option<&str>,
    accept: bool,
) -> Result<
    (
        newsflow_dedup::DedupRestoreSummary,
        newsflow_dedup::DedupChangelogRecord,
    ),
    DedupRestoreFailure,
> {
    stage.enable_changelog().unwrap();
    let mut restore = DedupRestore::begin(stage).unwrap();
    for (key, payload) in changelog {
        restore.offer(Some(key), payload).unwrap();
    }
    restore.finish(stopped_short, accept)
}

fn check(stage: &mut DedupStage, changelog: &mut Changelog, article: &Article) -> Verdict {
    let verdict = stage.check(article).unwrap();
    for entry in stage.take_changelog() {
        changelog.push(match entry {
            ChangelogEntry::Row(record) => (record.key(), encode(record.as_ref())),
            ChangelogEntry::Tombstone { key } => (key, Vec::new()),
        });
    }
    verdict
}

fn stories() -> Vec<Article> {
    seeds()
        .iter()
        .enumerate()
        .map(|(index, (title, body))| {
            let mut item = article(
                &format!("outlet{index}.example"),
                &format!("https://outlet{index}.example/story"),
                title,
                body,
            );
            item.fetched_at = at_hours(index as i64);
            item
        })
        .collect()
}

fn copy_of(original: &Article, hours: i64) -> Article {
    let mut copy = article(
        "copier.example",
        &format!(
            "{}-copy",
            original.url.replace("https://", "https://copier.")
        ),
        &original.title,
        &original.body,
    );
    copy.fetched_at = at_hours(hours);
    copy
}

#[test]
fn a_restored_stage_remembers_the_same_window() {
    let dir = tempfile::tempdir().unwrap();
    let stories = stories();
    assert!(stories.len() >= 4);
    // A window of three stories: the first ones are evicted on the way.
    let config = DedupConfig {
        max_stories: 3,
        ..DedupConfig::default()
    };
    let mut changelog = Changelog::new();
    let mut owner = open(&dir, "owner.db", &config);
    take_over(&mut owner, &mut changelog);
    for story in &stories {
        assert!(matches!(
            check(&mut owner, &mut changelog, story),
            Verdict::New(_)
        ));
    }
    assert!(changelog.iter().any(|(_, payload)| payload.is_empty()));

    let mut restored = open(&dir, "restored.db", &config);
    let (summary, _) = restore(&mut restored, &changelog, None, false).unwrap();
    assert_eq!(restored.len(), owner.len());
    assert!(summary.tombstones > 0);

    // A copy of the newest story is a copy to both; of an evicted one, a
    // new story to both.
    let hours = stories.len() as i64 + 1;
    let newest = copy_of(stories.last().unwrap(), hours);
    let evicted = copy_of(&stories[0], hours);
    for (copy, is_copy) in [(newest, true), (evicted, false)] {
        let from_owner = owner.check(&copy).unwrap();
        let from_restored = restored.check(&copy).unwrap();
        assert_eq!(
            matches!(from_owner, Verdict::Duplicate { .. }),
            is_copy,
            "{}",
            copy.url
        );
        assert_eq!(from_owner, from_restored, "{}", copy.url);
    }
}

#[test]
fn a_previous_owner_still_writing_after_a_newer_claim_is_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let stories = stories();
    let config = DedupConfig::default();
    let mut changelog = Changelog::new();
    let mut old_owner = open(&dir, "old.db", &config);
    take_over(&mut old_owner, &mut changelog);
    check(&mut old_owner, &mut changelog, &stories[0]);

    let mut new_owner = open(&dir, "new.db", &config);
    take_over(&mut new_owner, &mut changelog);
    // The old owner has not noticed yet.
    check(&mut old_owner, &mut changelog, &stories[1]);
    check(&mut new_owner, &mut changelog, &stories[2]);

    let mut restored = open(&dir, "restored.db", &config);
    let (summary, _) = restore(&mut restored, &changelog, None, false).unwrap();
    assert_eq!(summary.fenced, 1);
    assert_eq!(restored.len(), 2);
    assert!(matches!(
        restored.check(&stories[1]).unwrap(),
        Verdict::New(_)
    ));
}

#[test]
fn an_incomplete_reading_refuses_unless_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let stories = stories();
    let config = DedupConfig::default();
    let mut changelog = Changelog::new();
    let mut owner = open(&dir, "owner.db", &config);
    take_over(&mut owner, &mut changelog);
    for story in &stories[..3] {
        check(&mut owner, &mut changelog, story);
    }
    let mut unreadable = changelog.clone();
    unreadable[2].1 = b"\xff{not json".to_vec();
    let cases = [
        ("unreadable", unreadable, None),
        ("stalled", changelog.clone(), Some("stalled")),
    ];
    for (name, records, stopped_short) in cases {
        let mut stage = open(&dir, &format!("{name}.db"), &config);
        let refused = restore(&mut stage, &records, stopped_short, false);
        assert!(
            matches!(refused, Err(DedupRestoreFailure::Incomplete(_))),
            "{name}"
        );
        assert!(
            restore(&mut stage, &records, stopped_short, true).is_ok(),
            "{name}"
        );
    }
}
