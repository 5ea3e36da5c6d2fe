//! The committed `schemas/` are the ones the message types generate: a change
//! to a message that is not reflected there fails here.
//! `UPDATE_SNAPSHOTS=1 cargo test -p newsflow-model --test schemas` rewrites them.

use std::path::PathBuf;

use newsflow_model::{
    schemas, DeadLetter, DeadLetterReason, EventMember, EventRecord, EventStatus,
};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn file_text(schema: &serde_json::Value) -> String {
    serde_json::to_string_pretty(schema).expect("a schema serialises") + "\n"
}

#[test]
fn committed_schemas_match_the_message_types() {
    let dir = schemas_dir();
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    let all = schemas::all();
    for entry in &all {
        let path = dir.join(format!("{}.schema.json", entry.topic));
        let wanted = file_text(&entry.schema);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &wanted).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(wanted.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    // No schema of a topic that no longer exists.
    for file in std::fs::read_dir(&dir).expect("schemas/ exists") {
        let name = file.unwrap().file_name().to_string_lossy().into_owned();
        let topic = name.trim_end_matches(".schema.json");
        if !all.iter().any(|entry| entry.topic == topic) {
            stale.push(format!("{name} (no such topic)"));
        }
    }
    assert!(
        stale.is_empty(),
        "schemas differ from the message types: {stale:?}; \
         run `UPDATE_SNAPSHOTS=1 cargo test -p newsflow-model --test schemas` and commit schemas/"
    );
}

/// Every field a message carries is in its schema, and every field the
/// schema requires is carried: the schema describes what is written.
fn assert_described(topic: &str, message: serde_json::Value) {
    let entry = schemas::all()
        .into_iter()
        .find(|e| e.topic == topic)
        .unwrap();
    let properties = entry.schema["properties"].as_object().unwrap();
    let object = message.as_object().unwrap();
    for key in object.keys() {
        assert!(
            properties.contains_key(key),
            "{topic}: `{key}` is not in the schema"
        );
    }
    for required in entry.schema["required"].as_array().unwrap() {
        let required = required.as_str().unwrap();
        assert!(
            object.contains_key(required),
            "{topic}: required `{required}` not written"
        );
    }
}

#[test]
fn event_and_dead_letter_schemas_describe_written_messages() {
    let time = chrono::DateTime::parse_from_rfc3339("2024-08-19T14:05:00Z")
        .unwrap()
        .to_utc();
    let event = EventRecord {
        schema_version: 1,
        event_id: "ev-a".into(),
        version: 3,
        status: EventStatus::Merged,
        headline: "h".into(),
        keywords: vec!["k".into()],
        members: vec![EventMember {
            story_id: "a".into(),
            outlet: "o".into(),
            url: "https://example.org/a".into(),
            title: "t".into(),
            published: Some(time),
            also_carried_by: vec!["p".into()],
        }],
        member_count: Some(1),
        first_seen: time,
        last_updated: time,
        merged_into: Some("ev-b".into()),
        absorbed: vec!["ev-c".into()],
    };
    let written: serde_json::Value =
        serde_json::from_slice(&newsflow_model::encode(&event)).unwrap();
    assert_described("events", written.clone());
    let member_schema = &schemas::all()
        .into_iter()
        .find(|e| e.topic == "events")
        .unwrap()
        .schema["$defs"]["EventMember"]["properties"];
    for key in written["members"][0].as_object().unwrap().keys() {
        assert!(
            member_schema.get(key).is_some(),
            "member field `{key}` not in the schema"
        );
    }
    let letter = DeadLetter::new(
        "cleaner",
        DeadLetterReason::Panic,
        "boom",
        "raw",
        Some(0),
        Some(1),
        Some("k".into()),
        b"payload",
    );
    assert_described(
        "dead-letters",
        serde_json::from_slice(&newsflow_model::encode(&letter)).unwrap(),
    );
}
