//! JSON Schema of the message on every topic, generated from the types
//! above; the repository keeps them under `schemas/` for consumers, and a
//! test fails when the two differ.

use schemars::JsonSchema;

use crate::{topics, Article, DeadLetter, DuplicateRecord, EventRecord, RawPage, UniqueStory};

/// One topic's message schema.
pub struct TopicSchema {
    /// The logical topic name (the file is `schemas/<topic>.schema.json`).
    pub topic: &'static str,
    pub schema: serde_json::Value,
}

fn schema_of<M: JsonSchema>(topic: &'static str, key: &str) -> TopicSchema {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<M>();
    schema.insert(
        "$comment".into(),
        format!(
            "newsflow topic `{topic}` (physical name: bus.kafka.topic_prefix + `{topic}`), \
             keyed by {key}. Schema major version 1: minor versions only add optional \
             fields; readers ignore fields they do not know."
        )
        .into(),
    );
    TopicSchema {
        topic,
        schema: schema.to_value(),
    }
}

/// Every topic whose messages are typed here, in pipeline order.
pub fn all() -> Vec<TopicSchema> {
    vec![
        schema_of::<RawPage>(topics::RAW, "item_id"),
        schema_of::<Article>(topics::ARTICLES, "article_id"),
        schema_of::<UniqueStory>(topics::UNIQUE, "story_id"),
        schema_of::<DuplicateRecord>(topics::DUPLICATES, "duplicate_of"),
        schema_of::<EventRecord>(topics::EVENTS, "event_id"),
        schema_of::<DeadLetter>(topics::DEAD_LETTERS, "stage"),
    ]
}
