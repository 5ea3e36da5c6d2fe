//! Every message is a JSON object carrying `schema_version`; a reader refuses
//! versions it does not know instead of guessing at their fields.

use serde::{de::DeserializeOwned, Serialize};

/// The version written by this build. Readers accept exactly this version.
pub const SCHEMA_VERSION: u32 = 1;

/// A message that travels on one topic, and the key it is partitioned by.
pub trait Message: Serialize + DeserializeOwned {
    /// The logical topic this message is written to.
    const TOPIC: &'static str;
    /// The partitioning key. Chosen per topic so that all versions of one
    /// thing (a page, a story, an event) land on one partition, in order.
    fn key(&self) -> String;
    fn schema_version(&self) -> u32;
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not valid JSON for {topic}: {source}")]
    Json {
        topic: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("message on {topic} has schema_version {found}, this build reads {expected}")]
    SchemaVersion {
        topic: &'static str,
        found: u64,
        expected: u32,
    },
}

pub fn encode<M: Message>(message: &M) -> Vec<u8> {
    // Serialising our own plain structs cannot fail: no maps with non-string
    // keys, no custom serialisers that error.
    serde_json::to_vec(message).expect("message types serialise infallibly")
}

pub fn decode<M: Message>(payload: &[u8]) -> Result<M, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|source| DecodeError::Json {
            topic: M::TOPIC,
            source,
        })?;
    let found = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if found != u64::from(SCHEMA_VERSION) {
        return Err(DecodeError::SchemaVersion {
            topic: M::TOPIC,
            found,
            expected: SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| DecodeError::Json {
        topic: M::TOPIC,
        source,
    })
}
