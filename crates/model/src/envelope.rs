//! Every message is a JSON object carrying `schema_version`.
//!
//! Compatibility: `schema_version` names a major version, optionally with a
//! minor part (`1`, `1.2` or `"1.2"`). Within one major version writers only
//! add optional fields, so a reader accepts every minor version of its major
//! and ignores fields it does not know; a different major version is
//! refused instead of guessed at.

use serde::{de::DeserializeOwned, Serialize};

/// The major version written by this build. Readers accept any minor
/// version of it.
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
    // Nearly every message carries this build's major version as a plain
    // number and reads straight into its type; only the others (a minor
    // part, a string, another major, bad JSON) go through a JSON tree,
    // which for a page on `raw` would copy its whole body once more.
    if let Ok(message) = serde_json::from_slice::<M>(payload) {
        if message.schema_version() == SCHEMA_VERSION {
            return Ok(message);
        }
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|source| DecodeError::Json {
            topic: M::TOPIC,
            source,
        })?;
    let found = value
        .get("schema_version")
        .and_then(major_version)
        .unwrap_or(0);
    if found != u64::from(SCHEMA_VERSION) {
        return Err(DecodeError::SchemaVersion {
            topic: M::TOPIC,
            found,
            expected: SCHEMA_VERSION,
        });
    }
    // The typed field holds the major version; a minor part was only a
    // promise that nothing this reader knows has changed.
    if let Some(object) = value.as_object_mut() {
        object.insert("schema_version".into(), found.into());
    }
    serde_json::from_value(value).map_err(|source| DecodeError::Json {
        topic: M::TOPIC,
        source,
    })
}

/// The major part of a `schema_version`: `1`, `1.2` and `"1.2"` are all 1.
fn major_version(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v.trunc() as u64)
        }),
        serde_json::Value::String(text) => text.split('.').next()?.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventRecord;

    fn event_json(version: &str) -> String {
        format!(
            r#"{{"schema_version":{version},"event_id":"ev-1","version":3,"status":"active",
            "headline":"h","keywords":[],"members":[],"first_seen":"2024-08-19T14:05:00Z",
            "last_updated":"2024-08-19T14:05:00Z","a_field_from_the_future":{{"x":[1,2]}}}}"#
        )
    }

    #[test]
    fn a_newer_minor_version_with_an_extra_field_is_read() {
        for version in ["1", "1.3", "\"1.3\"", "\"1\""] {
            let event: EventRecord = decode(event_json(version).as_bytes())
                .unwrap_or_else(|e| panic!("version {version}: {e}"));
            assert_eq!(event.schema_version, 1);
            assert_eq!(event.version, 3);
        }
    }

    #[test]
    fn another_major_version_is_refused() {
        for version in ["2", "2.0", "\"2.1\"", "0", "null", "\"x\""] {
            let refused = decode::<EventRecord>(event_json(version).as_bytes());
            assert!(
                matches!(refused, Err(DecodeError::SchemaVersion { .. })),
                "version {version} must be refused"
            );
        }
    }
}
