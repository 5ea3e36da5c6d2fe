//! Event lifecycle in the core: idempotent adds, versions, merges, closing,
//! determinism.

#[allow(dead_code)]
mod common;

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::fixture_stories;
use newsflow_clusterer::{Clusterer, ClustererConfig, Document};
use newsflow_model::EventStatus;

fn doc(id: &str, text: &str, time: Option<DateTime<Utc>>) -> Document {
    Document {
        id: id.into(),
        title: String::new(),
        body: text.into(),
        time,
        outlet: "outlet".into(),
        url: format!("https://example.org/{id}"),
    }
}

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 8, d, 12, 0, 0).unwrap()
}

#[test]
fn the_same_id_added_again_changes_nothing() {
    let mut clusterer = Clusterer::new(ClustererConfig::default());
    let first = clusterer.add(doc("a", "Earthquake strikes northern Chile", None));
    assert_eq!(first.changed.len(), 1);
    assert_eq!(first.changed[0].version, 1);
    let again = clusterer.add(doc("a", "something else entirely", None));
    assert_eq!(again.event_id, first.event_id);
    assert!(again.changed.is_empty());
    assert_eq!(clusterer.current_record("a").unwrap().version, 1);
}

#[test]
fn a_growing_event_keeps_its_id_and_bumps_its_version() {
    let mut clusterer = Clusterer::new(ClustererConfig::default());
    let a = clusterer.add(doc(
        "a",
        "Strong earthquake strikes northern Chile near Iquique",
        None,
    ));
    let b = clusterer.add(doc(
        "b",
        "Earthquake near Iquique in northern Chile kills two",
        None,
    ));
    assert_eq!(a.event_id, b.event_id);
    assert_eq!(a.event_id, "ev-a");
    assert_eq!(b.changed.len(), 1);
    assert_eq!(b.changed[0].version, 2);
    assert_eq!(b.changed[0].members.len(), 2);
}

#[test]
fn converging_events_merge_with_a_record_of_who_absorbed_whom() {
    let config = ClustererConfig {
        join_threshold: 0.3,
        merge_threshold: 0.2,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut add = |clusterer: &mut Clusterer, id: &str, text: &str| {
        let assignment = clusterer.add(doc(id, text, None));
        for record in &assignment.changed {
            let previous = versions
                .insert(record.event_id.clone(), record.version)
                .unwrap_or(0);
            assert_eq!(
                record.version,
                previous + 1,
                "every record carries version + 1"
            );
        }
        assignment
    };
    let left = add(&mut clusterer, "l1", "alpha bravo charlie delta").event_id;
    add(&mut clusterer, "l2", "alpha bravo charlie delta echo");
    add(&mut clusterer, "l3", "alpha bravo charlie delta kilo");
    let right = add(&mut clusterer, "r1", "foxtrot golf hotel india").event_id;
    assert_ne!(left, right);
    let bridge = add(
        &mut clusterer,
        "x",
        "alpha bravo charlie delta foxtrot golf hotel india",
    );

    let merged = bridge
        .changed
        .iter()
        .find(|r| r.status == EventStatus::Merged)
        .expect("a merge");
    let absorber = bridge
        .changed
        .iter()
        .find(|r| r.status == EventStatus::Active)
        .expect("the absorber");
    // The larger event absorbs the smaller one.
    assert_eq!(merged.event_id, right);
    assert_eq!(merged.merged_into.as_deref(), Some(left.as_str()));
    assert_eq!(absorber.event_id, left);
    assert_eq!(absorber.absorbed, vec![right.clone()]);
    assert_eq!(absorber.members.len(), 5);
    assert_eq!(bridge.event_id, left);
    assert_eq!(clusterer.event_of("r1"), Some(left.as_str()));
}

#[test]
fn quiet_events_close_and_a_later_story_opens_a_new_event() {
    let config = ClustererConfig {
        quiet_period_secs: 2 * 86_400,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let first = clusterer
        .add(doc(
            "a",
            "Typhoon Shanshan makes landfall in Kyushu",
            Some(day(1)),
        ))
        .event_id;
    assert!(clusterer.close_quiet(day(2)).is_empty());
    let closed = clusterer.close_quiet(day(4));
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].event_id, first);
    assert_eq!(closed[0].status, EventStatus::Closed);
    assert_eq!(closed[0].version, 2);
    assert!(clusterer.close_quiet(day(5)).is_empty(), "closed only once");
    let later = clusterer.add(doc(
        "b",
        "Typhoon Shanshan makes landfall in Kyushu",
        Some(day(5)),
    ));
    assert_ne!(later.event_id, first);
}

#[test]
fn a_late_story_from_inside_a_closed_events_window_reopens_it() {
    let config = ClustererConfig {
        quiet_period_secs: 2 * 86_400,
        late_arrival_secs: 10 * 86_400,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let first = clusterer
        .add(doc(
            "a",
            "Typhoon Shanshan makes landfall in Kyushu",
            Some(day(1)),
        ))
        .event_id;
    // The stream moves on (another feed's newer stories), the event closes...
    let closed = clusterer.close_quiet(day(8));
    assert_eq!(closed[0].status, EventStatus::Closed);
    // ...then a feed polled late brings a story published on day 1.
    let late = clusterer.add(doc(
        "b",
        "Typhoon Shanshan landfall in Kyushu",
        Some(day(1) + Duration::hours(5)),
    ));
    assert_eq!(late.event_id, first);
    let record = late.changed.last().unwrap();
    assert_eq!(
        record.status,
        EventStatus::Active,
        "the late story reopens it"
    );
    assert_eq!(record.members.len(), 2);
    assert_eq!(record.version, 3);
}

#[test]
fn a_retired_event_takes_no_late_story() {
    let config = ClustererConfig {
        quiet_period_secs: 2 * 86_400,
        late_arrival_secs: 3 * 86_400,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let first = clusterer
        .add(doc(
            "a",
            "Typhoon Shanshan makes landfall in Kyushu",
            Some(day(1)),
        ))
        .event_id;
    assert_eq!(clusterer.close_quiet(day(4)).len(), 1);
    // Past quiet + late arrival: retired, publishing nothing more.
    assert!(clusterer.has_quiet_events(day(7)));
    assert!(clusterer.close_quiet(day(7)).is_empty());
    assert!(!clusterer.has_quiet_events(day(8)));
    let late = clusterer.add(doc(
        "b",
        "Typhoon Shanshan landfall in Kyushu",
        Some(day(1) + Duration::hours(5)),
    ));
    assert_ne!(late.event_id, first);
}

#[test]
fn a_story_after_the_quiet_period_opens_a_new_event_even_without_a_tick() {
    let config = ClustererConfig {
        quiet_period_secs: 86_400,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let first = clusterer
        .add(doc(
            "a",
            "Typhoon Shanshan makes landfall in Kyushu",
            Some(day(1)),
        ))
        .event_id;
    let same_day = clusterer.add(doc(
        "b",
        "Typhoon Shanshan landfall Kyushu",
        Some(day(1) + Duration::hours(3)),
    ));
    assert_eq!(same_day.event_id, first);
    let later = clusterer.add(doc(
        "c",
        "Typhoon Shanshan makes landfall in Kyushu",
        Some(day(9)),
    ));
    assert_ne!(later.event_id, first);
}

#[test]
fn the_same_input_twice_gives_the_same_assignments_and_records() {
    let run = || {
        let mut clusterer = Clusterer::new(ClustererConfig::default());
        let assignments: Vec<_> = fixture_stories()
            .into_iter()
            .map(|s| clusterer.add(s.document))
            .collect();
        (assignments, clusterer.records())
    };
    assert_eq!(run(), run());
}

/// An untimed stream: an earthquake story, then 60 unrelated events of three
/// stories each (grouped or interleaved), then the earthquake again.
fn earthquake_after_fillers(clusterer: &mut Clusterer, interleaved: bool) -> (String, String) {
    let first = clusterer.add(doc(
        "quake-1",
        "Earthquake strikes Iquique in northern Chile",
        None,
    ));
    let filler = |event: usize, round: usize| {
        doc(
            &format!("filler-{event}-{round}"),
            &format!("Storm{event} floods valley{event} near town{event} river{event}"),
            None,
        )
    };
    for outer in 0..if interleaved { 3 } else { 60 } {
        for inner in 0..if interleaved { 60 } else { 3 } {
            let (event, round) = if interleaved {
                (inner, outer)
            } else {
                (outer, inner)
            };
            clusterer.add(filler(event, round));
        }
    }
    let again = clusterer.add(doc(
        "quake-2",
        "Earthquake strikes Iquique in northern Chile again",
        None,
    ));
    (first.event_id, again.event_id)
}

#[test]
fn where_events_arrive_grouped_a_same_kind_story_long_after_opens_a_new_event() {
    let config = ClustererConfig {
        pace_min_joins: 50,
        ..ClustererConfig::default()
    };
    let (first, again) = earthquake_after_fillers(&mut Clusterer::new(config.clone()), false);
    assert_ne!(first, again, "the learned pace lets the old event fade");
    // The fixed half-life alone would have kept the old event's pull.
    let fixed = ClustererConfig {
        pace_min_joins: u64::MAX,
        ..config
    };
    let (first, again) = earthquake_after_fillers(&mut Clusterer::new(fixed), false);
    assert_eq!(first, again);
}

#[test]
fn where_events_arrive_interleaved_the_same_late_story_still_joins() {
    let config = ClustererConfig {
        pace_min_joins: 50,
        ..ClustererConfig::default()
    };
    let (first, again) = earthquake_after_fillers(&mut Clusterer::new(config), true);
    assert_eq!(first, again);
}
