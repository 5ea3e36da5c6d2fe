//! An event record lists a bounded number of members, whatever the event's
//! size, so that it always fits one bus message.

use newsflow_clusterer::{Clusterer, ClustererConfig, Document};
use newsflow_model::{decode, encode, EventRecord};

fn doc(i: usize) -> Document {
    Document {
        id: format!("story-{i}"),
        title: "Earthquake strikes northern Chile near Iquique".into(),
        body: "A strong earthquake struck northern Chile near the port of Iquique.".into(),
        time: None,
        outlet: format!("outlet-{}", i % 7),
        url: format!("https://example.org/story-{i}"),
    }
}

#[test]
fn a_huge_event_lists_only_its_newest_members_and_counts_them_all() {
    let config = ClustererConfig::default();
    let cap = config.max_record_members;
    let stories = cap + 150;
    let mut clusterer = Clusterer::new(config);
    let mut last = None;
    for i in 0..stories {
        last = clusterer.add(doc(i)).changed.pop();
    }
    let record = last.expect("every add changes an event");
    assert_eq!(
        record.member_count,
        Some(stories as u64),
        "all stories joined one event"
    );
    assert_eq!(record.members.len(), cap);
    let listed: Vec<&str> = record.members.iter().map(|m| m.story_id.as_str()).collect();
    let newest: Vec<String> = (stories - cap..stories)
        .map(|i| format!("story-{i}"))
        .collect();
    assert_eq!(
        listed,
        newest.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // The current record, as a restart or a late reader sees it, is cut the same way.
    let current = clusterer.current_record("story-0").unwrap();
    assert_eq!(current.members.len(), cap);
    assert_eq!(current.total_members(), stories as u64);
    let back: EventRecord = decode(&encode(&record)).unwrap();
    assert_eq!(back, record);
}

#[test]
fn the_member_bound_is_configurable_and_small_events_list_everyone() {
    let config = ClustererConfig {
        max_record_members: 10,
        ..Default::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut records = Vec::new();
    for i in 0..25 {
        records.extend(clusterer.add(doc(i)).changed);
    }
    let small = records.iter().find(|r| r.version == 5).unwrap();
    assert_eq!(small.members.len(), 5);
    assert_eq!(small.member_count, Some(5));
    let big = records.last().unwrap();
    assert_eq!(big.members.len(), 10);
    assert_eq!(big.member_count, Some(25));
    assert_eq!(big.members[9].story_id, "story-24");
}

#[test]
fn a_record_without_member_count_still_reads() {
    let old = r#"{"schema_version":1,"event_id":"ev-1","version":3,"status":"active",
        "headline":"h","keywords":[],"members":[{"story_id":"s","outlet":"o","url":"u",
        "title":"t","published":null}],"first_seen":"2024-08-19T14:05:00Z",
        "last_updated":"2024-08-19T14:05:00Z"}"#;
    let record: EventRecord = decode(old.as_bytes()).unwrap();
    assert_eq!(record.member_count, None);
    assert_eq!(record.total_members(), 1);
}
