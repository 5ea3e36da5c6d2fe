//! `dead-letters`: records a stage could not process or could not deliver,
//! kept with their payload so an operator can look at them and, after a fix,
//! replay them into the topic they belong to.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{topics, Message};

/// The most payload bytes a dead letter carries: enough to diagnose and to
/// replay ordinary records, small enough to always fit a Kafka message.
pub const DEAD_LETTER_PAYLOAD_CAP: usize = 256 * 1024;

/// Why a record became a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// Not valid JSON for its topic.
    Malformed,
    /// A `schema_version` this build cannot read.
    SchemaVersion,
    /// The stage's handler panicked on it.
    Panic,
    /// The stage refused it for good (it would fail the same way again).
    Rejected,
    /// An output too large for the bus to ever accept.
    TooLarge,
    /// An output the bus refused for a reason retrying cannot mend.
    Undeliverable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeadLetter {
    /// The message's schema version: `1` (readers of major version 1
    /// accept any `1.x`).
    pub schema_version: u32,
    /// The stage that gave up on the record (`fetcher`, `cleaner`, ...).
    pub stage: String,
    pub reason: DeadLetterReason,
    /// The error, as the stage reported it.
    pub error: String,
    /// The logical topic the payload belongs to: the stage's input topic,
    /// or for an output that could not be delivered, the topic it was for.
    /// `dead-letters replay` re-injects the payload there.
    pub topic: String,
    /// Where the record was read from; absent for an undelivered output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub at: DateTime<Utc>,
    /// The record's bytes, cut at [`DEAD_LETTER_PAYLOAD_CAP`].
    #[serde(with = "crate::bytes_base64")]
    #[schemars(with = "String", extend("contentEncoding" = "base64"))]
    pub payload: Vec<u8>,
    /// The payload's size before any cut.
    pub payload_bytes: u64,
    /// True when `payload` is only the first part of the record: such a
    /// letter cannot be replayed as it is.
    #[serde(default)]
    pub payload_truncated: bool,
}

impl DeadLetter {
    /// A dead letter carrying at most [`DEAD_LETTER_PAYLOAD_CAP`] bytes of
    /// `payload`, stamped now.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        stage: &str,
        reason: DeadLetterReason,
        error: impl Into<String>,
        topic: &str,
        partition: Option<i32>,
        offset: Option<i64>,
        key: Option<String>,
        payload: &[u8],
    ) -> Self {
        let kept = payload.len().min(DEAD_LETTER_PAYLOAD_CAP);
        Self {
            schema_version: crate::SCHEMA_VERSION,
            stage: stage.to_string(),
            reason,
            error: error.into(),
            topic: topic.to_string(),
            partition,
            offset,
            key,
            at: Utc::now(),
            payload: payload[..kept].to_vec(),
            payload_bytes: payload.len() as u64,
            payload_truncated: kept < payload.len(),
        }
    }
}

impl Message for DeadLetter {
    const TOPIC: &'static str = topics::DEAD_LETTERS;
    /// Keyed by the stage so one stage's letters stay in order.
    fn key(&self) -> String {
        self.stage.clone()
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_payload_is_cut_and_says_so() {
        let payload = vec![b'x'; DEAD_LETTER_PAYLOAD_CAP + 10];
        let letter = DeadLetter::new(
            "cleaner",
            DeadLetterReason::Panic,
            "boom",
            "raw",
            Some(0),
            Some(7),
            None,
            &payload,
        );
        assert_eq!(letter.payload.len(), DEAD_LETTER_PAYLOAD_CAP);
        assert_eq!(letter.payload_bytes, payload.len() as u64);
        assert!(letter.payload_truncated);
        let back: DeadLetter = crate::decode(&crate::encode(&letter)).unwrap();
        assert_eq!(back, letter);
    }
}
