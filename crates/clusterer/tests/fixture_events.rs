//! The Baku case: the five seed stories form one event with nothing else,
//! and the fixture's other events stay apart.

#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{fixture_stories, seed_documents, LabelledDocument};
use newsflow_clusterer::{Clusterer, ClustererConfig};

/// Places the stories in the given order; returns predicted event -> gold events of its members.
fn cluster(stories: &[&LabelledDocument]) -> (Clusterer, BTreeMap<String, Vec<String>>) {
    let mut clusterer = Clusterer::new(ClustererConfig::default());
    for story in stories {
        clusterer.add(story.document.clone());
    }
    let mut events: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for story in stories {
        let event = clusterer
            .event_of(&story.document.id)
            .expect("placed")
            .to_string();
        events
            .entry(event)
            .or_default()
            .push(story.gold_event.clone());
    }
    (clusterer, events)
}

fn assert_baku_alone_and_events_pure(events: &BTreeMap<String, Vec<String>>) {
    let baku: Vec<&Vec<String>> = events
        .values()
        .filter(|g| g.iter().any(|e| e == "baku-putin-aliyev"))
        .collect();
    assert_eq!(baku.len(), 1, "the Baku stories were split: {events:#?}");
    assert_eq!(
        baku[0].len(),
        5,
        "the Baku event is not exactly the five seeds: {:?}",
        baku[0]
    );
    assert!(
        baku[0].iter().all(|e| e == "baku-putin-aliyev"),
        "{:?}",
        baku[0]
    );
    for golds in events.values() {
        let distinct: BTreeSet<&String> = golds.iter().collect();
        assert_eq!(
            distinct.len(),
            1,
            "an event mixes stories of different events: {golds:?}"
        );
    }
}

#[test]
fn the_five_seeds_alone_form_one_event() {
    let mut clusterer = Clusterer::new(ClustererConfig::default());
    let events: BTreeSet<String> = seed_documents()
        .into_iter()
        .map(|d| clusterer.add(d).event_id)
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn baku_stays_one_event_among_the_fixture_stories_in_publication_order() {
    let stories = fixture_stories();
    assert!(stories.len() >= 25);
    let (_, events) = cluster(&stories.iter().collect::<Vec<_>>());
    assert_baku_alone_and_events_pure(&events);
}

#[test]
fn baku_stays_one_event_in_reverse_order_too() {
    let stories = fixture_stories();
    let (_, events) = cluster(&stories.iter().rev().collect::<Vec<_>>());
    assert_baku_alone_and_events_pure(&events);
}

#[test]
fn the_baku_record_names_the_event() {
    let stories = fixture_stories();
    let (clusterer, _) = cluster(&stories.iter().collect::<Vec<_>>());
    let baku_id = stories
        .iter()
        .find(|s| s.gold_event == "baku-putin-aliyev")
        .unwrap();
    let record = clusterer.current_record(&baku_id.document.id).unwrap();
    assert_eq!(record.members.len(), 5);
    let keywords = record.keywords.join(" ");
    assert!(
        keywords.contains("Baku") || keywords.contains("Putin"),
        "{keywords}"
    );
    assert!(
        record.headline.contains("Putin") || record.headline.contains("Peace"),
        "{}",
        record.headline
    );
}
