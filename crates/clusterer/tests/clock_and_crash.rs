//! Time and crashes at the stage: a page dated far ahead cannot move the
//! event clock, the clock survives a restart, and records of operations
//! whose outputs were never delivered come out after a restart.

#[allow(dead_code)]
mod common;

use chrono::Duration;
use common::{fixture_stories, unique_story};
use newsflow_clusterer::{ClusterStage, ClustererConfig};
use newsflow_model::{EventStatus, UniqueStory};

fn stories() -> Vec<UniqueStory> {
    fixture_stories()
        .iter()
        .map(|s| unique_story(&s.document, &[]))
        .collect()
}

fn active_events(stage: &ClusterStage) -> usize {
    stage
        .clusterer()
        .records()
        .iter()
        .filter(|r| r.status == EventStatus::Active)
        .count()
}

#[test]
fn a_page_dated_years_ahead_does_not_move_the_event_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut stage =
        ClusterStage::open(&dir.path().join("c.db"), ClustererConfig::default()).unwrap();
    let stories = stories();
    let (last, earlier) = stories.split_last().unwrap();
    for story in earlier {
        stage.add_story(story).unwrap();
    }
    stage.close_quiet_events().unwrap();
    let active = active_events(&stage);
    assert!(active > 1);
    let clock = stage.event_clock().unwrap();

    let mut hostile = last.clone();
    let fetched = clock;
    hostile.article.fetched_at = fetched;
    hostile.article.published = Some(fetched + Duration::days(5 * 365));
    stage.add_story(&hostile).unwrap();

    assert_eq!(stage.event_clock(), Some(fetched));
    let closed = stage.close_quiet_events().unwrap();
    assert!(closed.is_empty(), "closed {} events", closed.len());
    assert!(active_events(&stage) >= active);
    let member = stage.clusterer().member(&hostile.story_id).unwrap();
    assert_eq!(member.published, Some(fetched));
}

#[test]
fn a_date_a_little_ahead_of_the_fetch_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut stage =
        ClusterStage::open(&dir.path().join("c.db"), ClustererConfig::default()).unwrap();
    let mut story = stories()[0].clone();
    let published = story.article.fetched_at + Duration::hours(5);
    story.article.published = Some(published);
    stage.add_story(&story).unwrap();
    assert_eq!(stage.event_clock(), Some(published));
}

#[test]
fn the_event_clock_survives_a_restart_and_closes_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let stories = stories();
    let clock;
    {
        let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
        for story in &stories {
            stage.add_story(story).unwrap();
            stage.outputs_delivered().unwrap();
        }
        clock = stage.event_clock().unwrap();
    }
    let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    assert_eq!(stage.event_clock(), Some(clock));
    // A story far later (fetched and published then) moves it, and the
    // idle tick then closes every older event by it.
    let mut later = stories[0].clone();
    later.story_id = "later".into();
    later.article.fetched_at = clock + Duration::days(30);
    later.article.published = Some(clock + Duration::days(30));
    // The story itself closes every event it made due.
    let records = stage.add_story(&later).unwrap();
    let closed: Vec<_> = records
        .iter()
        .filter(|r| r.status == EventStatus::Closed)
        .collect();
    assert!(closed.len() > 1);
    assert!(stage.close_quiet_events().unwrap().is_empty());
}

#[test]
fn records_of_a_tick_logged_but_not_delivered_come_out_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let stories = stories();
    let closed;
    {
        let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
        for story in &stories {
            stage.add_story(story).unwrap();
            stage.outputs_delivered().unwrap();
        }
        let clock = stage.event_clock().unwrap();
        closed = stage.tick(clock + Duration::days(10)).unwrap();
        assert!(closed.len() > 1);
        // The crash: the stage is gone before the records were delivered.
    }
    let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    // The next output, whatever causes it, hands them out first.
    let first = stage.close_quiet_events().unwrap();
    assert_eq!(first, closed);
    // Once handed out they are not owed twice in this process...
    let second = stage.close_quiet_events().unwrap();
    assert!(second.is_empty(), "{second:#?}");
    // ...but until delivered, another crash owes them again.
    drop(stage);
    let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    let again = stage.add_story(stories.last().unwrap()).unwrap();
    assert_eq!(&again[..closed.len()], &closed[..]);
    stage.outputs_delivered().unwrap();
    drop(stage);
    let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    let after_delivery = stage.close_quiet_events().unwrap();
    assert!(after_delivery.is_empty(), "{after_delivery:#?}");
}

#[test]
fn records_of_a_merge_not_delivered_come_out_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let stories = stories();
    // Every output up to some story, delivered; the rest not: whatever those
    // changed (new, grown, merged) is owed, newest version per event.
    let cut = stories.len() / 2;
    let mut expected = std::collections::BTreeMap::new();
    {
        let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
        for story in &stories[..cut] {
            stage.add_story(story).unwrap();
            stage.outputs_delivered().unwrap();
        }
        for story in &stories[cut..] {
            for record in stage.add_story(story).unwrap() {
                expected.insert(record.event_id.clone(), record);
            }
        }
    }
    let mut stage = ClusterStage::open(&db, ClustererConfig::default()).unwrap();
    // A tick at a time that closes nothing outputs only what is owed.
    let owed = stage.tick(chrono::DateTime::UNIX_EPOCH).unwrap();
    let owed: std::collections::BTreeMap<_, _> =
        owed.into_iter().map(|r| (r.event_id.clone(), r)).collect();
    assert_eq!(owed, expected);
}

#[test]
fn an_event_of_an_old_story_outlives_the_next_ticks_so_a_copy_still_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut stage =
        ClusterStage::open(&dir.path().join("c.db"), ClustererConfig::default()).unwrap();
    let stories = stories();
    for story in &stories[1..] {
        stage.add_story(story).unwrap();
    }
    let clock = stage.event_clock().unwrap();
    // An archive page: published two months ago, fetched now.
    let mut old = stories[0].clone();
    old.story_id = "archive".into();
    old.article.published = Some(clock - Duration::days(60));
    old.article.fetched_at = clock;
    let placed = stage.add_story(&old).unwrap();
    let event_id = stage.clusterer().event_of("archive").unwrap().to_string();
    // Due long ago by its own time: closed at once.
    let closed = placed
        .iter()
        .rev()
        .find(|r| r.event_id == event_id)
        .unwrap();
    assert_eq!(closed.status, EventStatus::Closed);
    stage.close_quiet_events().unwrap();
    // Days later a copy of it makes dedup send it again with a new carrier:
    // the same event takes it, with the next version.
    let mut later = stories[1].clone();
    later.story_id = "later".into();
    later.article.published = Some(clock + Duration::days(5));
    later.article.fetched_at = clock + Duration::days(5);
    stage.add_story(&later).unwrap();
    stage.close_quiet_events().unwrap();
    let mut copy = old.clone();
    copy.carriers.push(newsflow_model::Carrier {
        outlet: "copycat".into(),
        url: "https://copycat.example/archive".into(),
    });
    let records = stage.add_story(&copy).unwrap();
    let record = records.iter().find(|r| r.event_id == event_id).unwrap();
    assert_eq!(record.version, 3, "created, closed, updated");
    assert_eq!(record.members.len(), 1);
}
