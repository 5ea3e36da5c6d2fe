//! The runner: state in SQLite survives a restart; re-sent stories update
//! their member instead of becoming a second one; the operation log read
//! back as changelog records gives an empty stage the same state.

#[allow(dead_code)]
mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{fixture_stories, unique_story};
use newsflow_clusterer::{ClusterStage, ClustererConfig, Restored};
use newsflow_model::EventStatus;

#[test]
fn a_reopened_stage_has_the_same_events_and_continues_their_versions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clusterer.db");
    let stories = fixture_stories();
    let (first_half, second_half) = stories.split_at(stories.len() / 2);

    let mut uninterrupted =
        ClusterStage::open(&dir.path().join("reference.db"), ClustererConfig::default()).unwrap();
    let mut expected = Vec::new();
    for story in &stories {
        expected.push(
            uninterrupted
                .add_story(&unique_story(&story.document, &[]))
                .unwrap(),
        );
    }

    let mut got = Vec::new();
    {
        let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
        for story in first_half {
            got.push(
                stage
                    .add_story(&unique_story(&story.document, &[]))
                    .unwrap(),
            );
            // Delivered: nothing is owed after the restart.
            stage.outputs_delivered().unwrap();
        }
    }
    let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    for story in first_half {
        assert_eq!(
            stage.clusterer().event_of(&story.document.id),
            uninterrupted.clusterer().event_of(&story.document.id)
        );
    }
    for story in second_half {
        got.push(
            stage
                .add_story(&unique_story(&story.document, &[]))
                .unwrap(),
        );
    }
    assert_eq!(got, expected);
    assert_eq!(
        stage.clusterer().records(),
        uninterrupted.clusterer().records()
    );
}

#[test]
fn closing_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clusterer.db");
    let story = &fixture_stories()[0];
    let published = story.document.time.unwrap();
    let event_id;
    {
        let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
        event_id = stage
            .add_story(&unique_story(&story.document, &[]))
            .unwrap()[0]
            .event_id
            .clone();
        assert!(stage
            .tick(published + Duration::hours(1))
            .unwrap()
            .is_empty());
        let closed = stage.tick(published + Duration::days(10)).unwrap();
        assert_eq!(closed.len(), 1);
        assert_eq!(
            (closed[0].status, closed[0].version),
            (EventStatus::Closed, 2)
        );
    }
    let stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    let record = stage
        .clusterer()
        .current_record(&story.document.id)
        .unwrap();
    assert_eq!(
        (record.event_id, record.status, record.version),
        (event_id, EventStatus::Closed, 2)
    );
}

#[test]
fn a_resent_story_updates_its_member_and_never_becomes_two() {
    let dir = tempfile::tempdir().unwrap();
    let mut stage =
        ClusterStage::open(&dir.path().join("c.db"), ClustererConfig::default()).unwrap();
    let doc = fixture_stories()[0].document.clone();
    let first = stage.add_story(&unique_story(&doc, &[])).unwrap();
    assert_eq!(first[0].version, 1);

    let unchanged = stage.add_story(&unique_story(&doc, &[])).unwrap();
    assert_eq!(
        unchanged, first,
        "an unchanged re-send republishes the current record"
    );

    let carried = stage
        .add_story(&unique_story(&doc, &["metro-herald"]))
        .unwrap();
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0].version, 2);
    assert_eq!(carried[0].members.len(), 1);
    assert_eq!(
        carried[0].members[0].also_carried_by,
        vec!["metro-herald".to_string()]
    );

    let mut revised = unique_story(&doc, &["metro-herald"]);
    revised.revision = 1;
    revised.article.title = "A corrected headline".into();
    let retitled = stage.add_story(&revised).unwrap();
    assert_eq!((retitled[0].version, retitled[0].members.len()), (3, 1));
    assert_eq!(retitled[0].members[0].title, "A corrected headline");
}

#[test]
fn a_story_first_seen_with_copies_lists_them_in_version_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut stage =
        ClusterStage::open(&dir.path().join("c.db"), ClustererConfig::default()).unwrap();
    let mut doc = fixture_stories()[0].document.clone();
    doc.time = Some(Utc.with_ymd_and_hms(2024, 8, 1, 0, 0, 0).unwrap());
    let records = stage
        .add_story(&unique_story(&doc, &["global-wire"]))
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].version, 1);
    assert_eq!(
        records[0].members[0].also_carried_by,
        vec!["global-wire".to_string()]
    );
}

/// A stage that placed the first half of the fixture, updated a member and
/// closed quiet events; its log as changelog records.
fn stage_with_history(dir: &std::path::Path) -> ClusterStage {
    let stories = fixture_stories();
    let mut stage =
        ClusterStage::open(&dir.join("original.db"), ClustererConfig::default()).unwrap();
    for story in &stories[..stories.len() / 2] {
        stage
            .add_story(&unique_story(&story.document, &[]))
            .unwrap();
    }
    stage
        .add_story(&unique_story(&stories[0].document, &["metro-herald"]))
        .unwrap();
    let latest = stories[stories.len() / 2 - 1].document.time.unwrap();
    stage.tick(latest + Duration::days(4)).unwrap();
    stage
}

#[test]
fn a_stage_restored_from_the_changelog_continues_exactly_as_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    let mut original = stage_with_history(dir.path());
    let records = original.operations_since(0).unwrap();
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records.len() as i64).collect::<Vec<_>>());

    let restored_db = dir.path().join("restored.db");
    let mut restored = ClusterStage::open(&restored_db, ClustererConfig::default()).unwrap();
    assert!(restored.is_empty());
    for record in &records {
        assert_eq!(restored.restore(record.clone()).unwrap(), Restored::Applied);
    }
    assert_eq!(
        restored.clusterer().records(),
        original.clusterer().records()
    );
    assert_eq!(restored.published_through(), records.len() as i64);
    assert_eq!(restored.operations_since(0).unwrap(), records);

    // The restored log is the stage's own: reopening needs no changelog.
    drop(restored);
    let mut restored = ClusterStage::open(&restored_db, ClustererConfig::default()).unwrap();
    assert_eq!(
        restored.clusterer().records(),
        original.clusterer().records()
    );

    // A story redelivered after the restore is the same member, not a second
    // (one whose event is still held: retired events are freed).
    let redelivered = unique_story(&stories[stories.len() / 2 - 1].document, &[]);
    assert_eq!(
        restored.add_story(&redelivered).unwrap(),
        original.add_story(&redelivered).unwrap()
    );
    assert!(restored
        .operations_since(records.len() as i64)
        .unwrap()
        .is_empty());

    for story in &stories[stories.len() / 2..] {
        let story = unique_story(&story.document, &[]);
        assert_eq!(
            restored.add_story(&story).unwrap(),
            original.add_story(&story).unwrap()
        );
    }
    assert_eq!(
        restored.clusterer().records(),
        original.clusterer().records()
    );
    assert_eq!(
        restored.operations_since(0).unwrap(),
        original.operations_since(0).unwrap(),
        "new operations continue the restored log's numbering"
    );
}

#[test]
fn changelog_records_sent_twice_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let original = stage_with_history(dir.path());
    let records = original.operations_since(0).unwrap();

    let mut restored =
        ClusterStage::open(&dir.path().join("restored.db"), ClustererConfig::default()).unwrap();
    for record in &records {
        assert_eq!(restored.restore(record.clone()).unwrap(), Restored::Applied);
        assert_eq!(
            restored.restore(record.clone()).unwrap(),
            Restored::AlreadyApplied
        );
    }
    // The whole log again, as after a producer retried everything unsent.
    for record in &records {
        assert_eq!(
            restored.restore(record.clone()).unwrap(),
            Restored::AlreadyApplied
        );
    }
    assert_eq!(
        restored.clusterer().records(),
        original.clusterer().records()
    );
    assert_eq!(restored.operations_since(0).unwrap(), records);
}

#[test]
fn operations_missing_from_the_changelog_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let original = stage_with_history(dir.path());
    let records = original.operations_since(0).unwrap();
    let mut restored =
        ClusterStage::open(&dir.path().join("restored.db"), ClustererConfig::default()).unwrap();
    restored.restore(records[0].clone()).unwrap();
    assert_eq!(
        restored.restore(records[3].clone()).unwrap(),
        Restored::AppliedAfterGap { missing: 2 }
    );
}

#[test]
fn what_the_changelog_holds_is_remembered_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let stories = fixture_stories();
    {
        let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
        assert_eq!(stage.published_through(), 0);
        for story in &stories[..3] {
            stage
                .add_story(&unique_story(&story.document, &[]))
                .unwrap();
        }
        assert_eq!(
            stage
                .operations_since(stage.published_through())
                .unwrap()
                .len(),
            3
        );
        stage.mark_published(2).unwrap();
        // A mark never moves back (a late confirmation of older records).
        stage.mark_published(1).unwrap();
    }
    let stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    assert_eq!(stage.published_through(), 2);
    let unpublished = stage.operations_since(stage.published_through()).unwrap();
    assert_eq!(
        unpublished.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![3]
    );
}

#[test]
fn operations_taken_for_the_changelog_are_those_the_log_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut stage =
        ClusterStage::open(&dir.path().join("c.db"), ClustererConfig::default()).unwrap();
    let stories = fixture_stories();
    let mut taken = Vec::new();
    let mut after = 0;
    for story in &stories[..4] {
        stage
            .add_story(&unique_story(&story.document, &[]))
            .unwrap();
        let records = stage.take_unpublished(after).unwrap();
        after = records.last().map_or(after, |r| r.seq);
        taken.extend(records);
    }
    assert!(stage.take_unpublished(after).unwrap().is_empty());
    assert_eq!(taken, stage.operations_since(0).unwrap());
    // Starting over from an earlier point reads the log back.
    assert_eq!(
        stage.take_unpublished(1).unwrap(),
        stage.operations_since(1).unwrap()
    );
}

/// A story delivered again after other stories moved the vocabulary (an
/// upstream stage re-sent it after a crash) shows its event's record as it
/// was published for that version: one version, one record.
#[test]
fn a_story_delivered_again_later_gets_the_record_published_for_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    // The fixture spans weeks: no event may close or be retired (each a
    // change of the event) while the first story is delivered again.
    let config = ClustererConfig {
        quiet_period_secs: 10 * 365 * 24 * 3600,
        late_arrival_secs: 10 * 365 * 24 * 3600,
        ..ClustererConfig::default()
    };
    let mut reference =
        ClusterStage::open(&dir.path().join("reference.db"), config.clone()).unwrap();
    for story in &stories {
        reference
            .add_story(&unique_story(&story.document, &[]))
            .unwrap();
    }
    let home = reference
        .clusterer()
        .event_of(&stories[0].document.id)
        .unwrap()
        .to_string();
    let mut stage = ClusterStage::open(&dir.path().join("clusterer.db"), config.clone()).unwrap();
    let published = stage
        .add_story(&unique_story(&stories[0].document, &[]))
        .unwrap();
    // Every story of other events: the vocabulary moves, this event does not.
    for story in &stories[1..] {
        if reference.clusterer().event_of(&story.document.id) != Some(home.as_str()) {
            let changed = stage
                .add_story(&unique_story(&story.document, &[]))
                .unwrap();
            assert!(changed.iter().all(|r| r.event_id != published[0].event_id));
        }
    }
    let again = stage
        .add_story(&unique_story(&stories[0].document, &[]))
        .unwrap();
    assert_eq!(again, published);
}
