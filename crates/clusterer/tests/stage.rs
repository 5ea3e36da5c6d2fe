//! The runner: state in SQLite survives a restart; re-sent stories update
//! their member instead of becoming a second one.

#[allow(dead_code)]
mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{fixture_stories, unique_story};
use newsflow_clusterer::{ClusterStage, ClustererConfig};
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
        let closed = stage.tick(published + Duration::days(30)).unwrap();
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
