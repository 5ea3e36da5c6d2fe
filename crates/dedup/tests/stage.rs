//! The runner: state survives a restart, and replaying input changes nothing.

mod common;

use common::*;
use newsflow_dedup::{DedupConfig, DedupStage, Verdict};
use newsflow_model::Article;

fn input() -> Vec<Article> {
    let seeds = seeds();
    let mut articles = Vec::new();
    for (index, (title, body)) in seeds.iter().enumerate() {
        let mut item = article(
            &format!("outlet{index}.example"),
            &format!("https://outlet{index}.example/baku"),
            title,
            body,
        );
        item.fetched_at = at_hours(index as i64);
        articles.push(item);
    }
    let mut verbatim = article(
        "wire.example",
        "https://wire.example/baku",
        &seeds[0].0,
        &seeds[0].1,
    );
    verbatim.fetched_at = at_hours(6);
    articles.push(verbatim);
    let mut edited = article(
        "copy.example",
        "https://copy.example/baku",
        "Another headline",
        &replace_every_nth_word(&seeds[1].1, 12),
    );
    edited.fetched_at = at_hours(7);
    articles.push(edited);
    let mut update = article(
        "outlet2.example",
        "https://outlet2.example/baku",
        "Updated",
        &format!("{}\n\nUPDATE: a paragraph added later.", seeds[2].1),
    );
    update.fetched_at = at_hours(8);
    articles.push(update);
    articles
}

fn dump(path: &std::path::Path) -> Vec<(String, i64, String)> {
    let db = rusqlite_dump::open(path);
    rusqlite_dump::rows(&db)
}

/// Reads the state table directly, to compare it across runs.
mod rusqlite_dump {
    pub fn open(path: &std::path::Path) -> rusqlite::Connection {
        rusqlite::Connection::open(path).unwrap()
    }
    pub fn rows(db: &rusqlite::Connection) -> Vec<(String, i64, String)> {
        let mut statement = db
            .prepare("SELECT story_id, seq, state FROM dedup_stories ORDER BY story_id")
            .unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

#[test]
fn a_restart_remembers_the_stories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    let articles = input();
    let (first_half, second_half) = articles.split_at(5);
    let mut uninterrupted =
        DedupStage::open(&dir.path().join("other.sqlite"), DedupConfig::default()).unwrap();
    let expected: Vec<Verdict> = articles
        .iter()
        .map(|a| uninterrupted.check(a).unwrap())
        .collect();

    let mut verdicts = Vec::new();
    {
        let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
        verdicts.extend(first_half.iter().map(|a| stage.check(a).unwrap()));
    }
    let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
    assert_eq!(stage.len(), 5);
    verdicts.extend(second_half.iter().map(|a| stage.check(a).unwrap()));
    assert_eq!(verdicts, expected);
    let kinds: Vec<_> = verdicts.iter().map(Verdict::kind).collect();
    assert_eq!(
        kinds,
        [
            "new",
            "new",
            "new",
            "new",
            "new",
            "duplicate",
            "duplicate",
            "updated"
        ]
    );
}

#[test]
fn replaying_the_same_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    let articles = input();
    let first_pass: Vec<Verdict> = {
        let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
        articles.iter().map(|a| stage.check(a).unwrap()).collect()
    };
    let state_after_first = dump(&path);
    let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
    let second_pass: Vec<Verdict> = articles.iter().map(|a| stage.check(a).unwrap()).collect();
    drop(stage);
    assert!(
        dump(&path) == state_after_first,
        "the replay changed the stored state"
    );
    for (index, (first, second)) in first_pass.iter().zip(&second_pass).enumerate() {
        match (first, second) {
            (Verdict::Duplicate { record: a, .. }, Verdict::Duplicate { record: b, .. }) => {
                assert_eq!(a, b)
            }
            (_, Verdict::Unchanged(story)) => assert_eq!(story.story_id, first.story().story_id),
            _ => panic!("article {index}: {} then {}", first.kind(), second.kind()),
        }
    }
    // The replayed original page reports the latest revision, and the story
    // lists every carrier once.
    let replayed_update = &second_pass[7];
    assert_eq!(replayed_update.story().revision, 2);
    let seed0_story = second_pass[0].story();
    assert_eq!(seed0_story.carriers.len(), 2);
}

#[test]
fn evicted_stories_are_deleted_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    let config = DedupConfig {
        max_stories: 3,
        ..DedupConfig::default()
    };
    let mut stage = DedupStage::open(&path, config.clone()).unwrap();
    for item in input() {
        stage.check(&item).unwrap();
    }
    assert_eq!(stage.len(), 3);
    drop(stage);
    assert_eq!(dump(&path).len(), 3);
    // A smaller window on restart applies at once.
    let smaller = DedupConfig {
        max_stories: 1,
        ..config
    };
    let stage = DedupStage::open(&path, smaller).unwrap();
    assert_eq!(stage.len(), 1);
    drop(stage);
    assert_eq!(dump(&path).len(), 1);
}

#[test]
fn stories_past_the_time_window_leave_memory_and_the_database_with_their_texts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    let config = DedupConfig {
        window_secs: 2 * 3600,
        ..DedupConfig::default()
    };
    let count = |db: &rusqlite::Connection, table: &str| -> i64 {
        db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
    };
    let mut stage = DedupStage::open(&path, config.clone()).unwrap();
    // One new story an hour for two days: at most the last two hours' (and
    // the one arriving) are remembered, on disk as in memory.
    let (title, body) = seeds()[0].clone();
    for hour in 0..48 {
        let mut item = article(
            &format!("outlet{hour}.example"),
            &format!("https://outlet{hour}.example/story"),
            &format!("{title} {hour}"),
            &format!(
                "Story number {hour} of the day. {}",
                replace_every_nth_word(&body, 2 + hour as usize % 5)
            ),
        );
        item.fetched_at = at_hours(hour);
        stage.check(&item).unwrap();
        assert!(
            stage.len() <= 3,
            "{} stories held at hour {hour}",
            stage.len()
        );
    }
    let db = rusqlite::Connection::open(&path).unwrap();
    assert!(count(&db, "dedup_stories") <= 3);
    assert_eq!(count(&db, "dedup_stories"), stage.len() as i64);
    assert_eq!(count(&db, "dedup_bodies"), stage.len() as i64);
    let remembered: Vec<String> = db
        .prepare("SELECT body FROM dedup_bodies")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(remembered.iter().all(|b| !b.starts_with("Story number 0 ")));
}

#[test]
fn an_unreadable_state_row_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    drop(DedupStage::open(&path, DedupConfig::default()).unwrap());
    let db = rusqlite_dump::open(&path);
    db.execute("INSERT INTO dedup_stories VALUES ('x', 0, 'not json')", [])
        .unwrap();
    drop(db);
    let error = DedupStage::open(&path, DedupConfig::default())
        .err()
        .unwrap();
    assert!(error.to_string().contains("story x"), "{error}");
}

#[test]
fn a_stored_story_without_pages_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
    for item in input().iter().take(2) {
        stage.check(item).unwrap();
    }
    drop(stage);
    let db = rusqlite_dump::open(&path);
    let (story_id, _, state) = rusqlite_dump::rows(&db).remove(0);
    let mut value: serde_json::Value = serde_json::from_str(&state).unwrap();
    value["pages"] = serde_json::json!([]);
    db.execute(
        "UPDATE dedup_stories SET state = ?1 WHERE story_id = ?2",
        rusqlite::params![value.to_string(), story_id],
    )
    .unwrap();
    drop(db);
    let stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
    assert_eq!(stage.len(), 1);
}

#[test]
fn a_copy_found_after_a_restart_re_emits_the_original_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    let articles = input();
    {
        let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
        for item in &articles[..5] {
            stage.check(item).unwrap();
        }
    }
    let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
    // articles[5] is a verbatim copy of articles[0] from another outlet.
    let verdict = stage.check(&articles[5]).unwrap();
    let Verdict::Duplicate { story, .. } = verdict else {
        panic!("expected a duplicate, got {}", verdict.kind());
    };
    assert_eq!(story.article.url, articles[0].url);
    assert_eq!(story.article.body, articles[0].body);
    // A replay of the original itself also comes back whole.
    let replayed = stage.check(&articles[0]).unwrap();
    assert_eq!(replayed.story().article.body, articles[0].body);
}

#[test]
fn texts_stored_inside_older_state_rows_are_moved_to_their_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.sqlite");
    let articles = input();
    {
        let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
        stage.check(&articles[0]).unwrap();
    }
    // Rewrite the row as an earlier build stored it: text inside the state.
    let db = rusqlite_dump::open(&path);
    let (story_id, _, state) = rusqlite_dump::rows(&db).remove(0);
    let mut value: serde_json::Value = serde_json::from_str(&state).unwrap();
    value["story"]["article"]["body"] = serde_json::json!(articles[0].body);
    db.execute(
        "UPDATE dedup_stories SET state = ?1 WHERE story_id = ?2",
        rusqlite::params![value.to_string(), story_id],
    )
    .unwrap();
    db.execute("DELETE FROM dedup_bodies", []).unwrap();
    drop(db);

    let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
    let verdict = stage.check(&articles[5]).unwrap();
    assert_eq!(verdict.kind(), "duplicate");
    assert_eq!(verdict.story().article.body, articles[0].body);
    drop(stage);
    let db = rusqlite_dump::open(&path);
    let moved: String = db
        .query_row("SELECT body FROM dedup_bodies", [], |row| row.get(0))
        .unwrap();
    assert_eq!(moved, articles[0].body);
    let (_, _, state) = rusqlite_dump::rows(&db).remove(0);
    assert!(
        !state.contains(&articles[0].body[..40]),
        "the text stayed in the state row"
    );
}

/// A value a stage with deferred syncs keeps about its syncs.
fn sync_meta(path: &std::path::Path, key: &str) -> i64 {
    use rusqlite::OptionalExtension;
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT value FROM dedup_meta WHERE key = ?1",
            [key],
            |row| row.get(0),
        )
        .optional()
        .unwrap()
        .unwrap_or(0)
}

/// The syncs a stage with deferred syncs made, as its store counts them.
fn syncs_made(path: &std::path::Path) -> i64 {
    sync_meta(path, "syncs")
}

#[test]
fn deferred_checks_are_committed_at_once_and_share_one_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.db");
    let mut stage = DedupStage::open(&path, DedupConfig::default()).unwrap();
    stage.defer_syncs().unwrap();
    stage.sync().unwrap();
    assert_eq!(syncs_made(&path), 0, "no check to sync yet");
    let articles = input();
    for item in &articles {
        stage.check(item).unwrap();
    }
    assert_eq!(syncs_made(&path), 0, "checks wait for the caller's sync");
    stage.sync().unwrap();
    assert_eq!(
        syncs_made(&path),
        1,
        "one sync for all the checks before it"
    );
    assert_eq!(
        sync_meta(&path, "sync_level"),
        2,
        "the sync's commit is made with synchronous=FULL, which syncs the log"
    );
    stage.sync().unwrap();
    assert_eq!(syncs_made(&path), 1, "nothing new to sync");
    stage.check(&articles[0]).unwrap();
    stage.sync().unwrap();
    assert_eq!(syncs_made(&path), 2, "a check since the last sync");
    let remembered = stage.len();
    drop(stage);
    let reopened = DedupStage::open(&path, DedupConfig::default()).unwrap();
    assert_eq!(reopened.len(), remembered);
}
