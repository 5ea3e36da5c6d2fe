//! Bounded restart: the stage folds its operation log into snapshots, a
//! snapshot plus the operations after it rebuilds exactly the state that
//! wrote it, and operations a changelog still needs are never folded away.

#[allow(dead_code)]
mod common;

use chrono::Duration;
use common::{fixture_stories, unique_story};
use newsflow_clusterer::{ClusterError, ClusterStage, ClustererConfig};
use newsflow_model::{EventRecord, UniqueStory};

fn stories() -> Vec<UniqueStory> {
    fixture_stories()
        .iter()
        .map(|s| unique_story(&s.document, &[]))
        .collect()
}

/// Small periods, so that checkpoints and vocabulary decay both happen
/// many times over the fixture.
fn config(checkpoint_every: u64) -> ClustererConfig {
    ClustererConfig {
        checkpoint_every_operations: checkpoint_every,
        vocabulary_decay_documents: 7,
        ..ClustererConfig::default()
    }
}

fn log_rows(db: &std::path::Path) -> i64 {
    let connection = rusqlite::Connection::open(db).unwrap();
    connection
        .query_row("SELECT COUNT(*) FROM clusterer_log", [], |row| row.get(0))
        .unwrap()
}

/// Places each story and confirms its outputs, as the binary does.
fn place_all(stage: &mut ClusterStage, stories: &[UniqueStory]) -> Vec<Vec<EventRecord>> {
    stories
        .iter()
        .map(|story| {
            let records = stage.add_story(story).unwrap();
            stage.outputs_delivered().unwrap();
            records
        })
        .collect()
}

/// What a stage does with more input: its outputs, a tick far ahead, and
/// its records afterwards.
fn continue_with(stage: &mut ClusterStage, more: &[UniqueStory]) -> Vec<Vec<EventRecord>> {
    let mut outputs = place_all(stage, more);
    let latest = stage.event_clock().unwrap();
    outputs.push(stage.tick(latest + Duration::days(5)).unwrap());
    outputs.push(stage.clusterer().records());
    outputs
}

#[test]
fn a_restart_loads_the_checkpoint_and_replays_only_the_operations_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let stories = stories();
    let (first, rest) = stories.split_at(stories.len() * 2 / 3);
    let every = 4;

    let mut uninterrupted =
        ClusterStage::open(&dir.path().join("reference.db"), config(every)).unwrap();
    place_all(&mut uninterrupted, first);

    {
        let mut stage = ClusterStage::open(&db, config(every)).unwrap();
        place_all(&mut stage, first);
        assert_eq!(stage.last_seq(), uninterrupted.last_seq());
    }
    // Everything but the operations since the last checkpoint was folded
    // into the snapshot and deleted.
    let rows = log_rows(&db);
    assert!(
        rows < every as i64,
        "{rows} log entries left after {} operations",
        first.len()
    );

    let mut reopened = ClusterStage::open(&db, config(every)).unwrap();
    assert_eq!(reopened.last_seq(), uninterrupted.last_seq());
    assert_eq!(
        reopened.clusterer().records(),
        uninterrupted.clusterer().records()
    );
    assert_eq!(reopened.event_clock(), uninterrupted.event_clock());
    assert_eq!(
        continue_with(&mut reopened, rest),
        continue_with(&mut uninterrupted, rest)
    );
}

#[test]
fn a_snapshot_plus_the_operations_after_it_equals_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let stories = stories();
    let k = stories.len() / 3;
    let n = 2 * stories.len() / 3;
    // No checkpoints of its own: its whole log stays readable.
    let mut original = ClusterStage::open(&dir.path().join("original.db"), config(0)).unwrap();
    place_all(&mut original, &stories[..k]);
    let (seq, bytes) = original.snapshot().unwrap();
    assert_eq!(seq, original.last_seq());
    place_all(&mut original, &stories[k..n]);
    // A member update and a tick among the later operations.
    original
        .add_story(&unique_story(
            &fixture_stories()[0].document,
            &["metro-herald"],
        ))
        .unwrap();
    let clock = original.event_clock().unwrap();
    original.tick(clock + Duration::days(4)).unwrap();
    original.outputs_delivered().unwrap();
    let later = original.operations_since(seq).unwrap();
    assert!(later.len() > n - k);
    assert_eq!(later[0].seq, seq + 1);

    let restored_db = dir.path().join("restored.db");
    let mut restored = ClusterStage::open(&restored_db, config(0)).unwrap();
    // A stage with content of its own: the snapshot replaces it.
    place_all(&mut restored, &stories[n..]);
    restored.restore_snapshot(seq, &bytes).unwrap();
    for record in later {
        restored.restore(record).unwrap();
    }
    assert_eq!(restored.last_seq(), original.last_seq());
    assert_eq!(
        restored.clusterer().records(),
        original.clusterer().records()
    );
    // The restored state is the database's own: it survives a reopen.
    drop(restored);
    let mut restored = ClusterStage::open(&restored_db, config(0)).unwrap();
    assert_eq!(
        continue_with(&mut restored, &stories[n..]),
        continue_with(&mut original, &stories[n..])
    );
    assert_eq!(
        restored.operations_since(original.last_seq() - 3).unwrap(),
        original.operations_since(original.last_seq() - 3).unwrap(),
        "new operations continue the numbering after the snapshot"
    );
}

#[test]
fn a_damaged_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stories = stories();
    let mut stage = ClusterStage::open(&dir.path().join("c.db"), config(0)).unwrap();
    place_all(&mut stage, &stories[..5]);
    let (seq, bytes) = stage.snapshot().unwrap();
    let mut other = ClusterStage::open(&dir.path().join("d.db"), config(0)).unwrap();
    for damaged in [&bytes[..bytes.len() / 2], &[0xff; 16][..], &[][..]] {
        assert!(matches!(
            other.restore_snapshot(seq, damaged),
            Err(ClusterError::Snapshot(_))
        ));
    }
    assert!(other.is_empty(), "a refused snapshot changes nothing");
}

#[test]
fn operations_not_yet_on_the_changelog_outlive_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let stories = stories();
    let every = 3;
    {
        let mut stage = ClusterStage::open(&db, config(every)).unwrap();
        assert!(stage.take_unpublished(0).unwrap().is_empty());
        place_all(&mut stage, &stories[..10]);
        stage.mark_published(4).unwrap();
        place_all(&mut stage, &stories[10..12]);
    }
    let mut stage = ClusterStage::open(&db, config(every)).unwrap();
    let unpublished = stage.operations_since(stage.published_through()).unwrap();
    assert_eq!(
        unpublished.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (5..=stage.last_seq()).collect::<Vec<_>>()
    );
    // Once published, the next checkpoint folds them away: what is left is
    // what was logged since (not yet published).
    let published = stage.last_seq();
    stage.mark_published(published).unwrap();
    place_all(&mut stage, &stories[12..18]);
    assert_eq!(log_rows(&db), stage.last_seq() - published);
    assert!(matches!(
        stage.operations_since(0),
        Err(ClusterError::Compacted { .. })
    ));
}
