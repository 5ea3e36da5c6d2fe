//! The clusterer's operation log: the entries [`ClusterStage`] appends
//! before it returns any output, how one entry is applied to the core, and
//! the record that carries an entry to a changelog topic. The core is
//! deterministic, so applying the entries in order, to a fresh core,
//! rebuilds exactly the same events, ids and versions.
//!
//! [`ClusterStage`]: crate::ClusterStage

use chrono::{DateTime, Utc};
use newsflow_model::{topics, EventRecord, Message, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};

use crate::{Clusterer, Document};

/// One change to the clusterer's state, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Operation {
    Story {
        id: String,
        title: String,
        body: String,
        time: Option<DateTime<Utc>>,
        outlet: String,
        url: String,
        also_carried_by: Vec<String>,
    },
    Update {
        id: String,
        title: String,
        also_carried_by: Vec<String>,
    },
    Tick {
        now: DateTime<Utc>,
    },
}

/// Applies one logged operation to the core, returning the changed records.
/// A story the core already holds changes nothing, and neither does an
/// update to the title and carriers a member already has.
pub(crate) fn apply(clusterer: &mut Clusterer, operation: Operation) -> Vec<EventRecord> {
    match operation {
        Operation::Story {
            id,
            title,
            body,
            time,
            outlet,
            url,
            also_carried_by,
        } => {
            let doc = Document {
                id,
                title,
                body,
                time,
                outlet,
                url,
            };
            clusterer.add_with_carriers(doc, also_carried_by).changed
        }
        Operation::Update {
            id,
            title,
            also_carried_by,
        } => clusterer
            .update_member(&id, &title, &also_carried_by)
            .into_iter()
            .collect(),
        Operation::Tick { now } => clusterer.close_quiet(now),
    }
}

/// Operations are keyed by their `seq` modulo this ring: the topic is
/// compacted, so an operation is overwritten `OPERATIONS_RING` operations
/// later, by when a snapshot (every [`SNAPSHOT_EVERY`]) covers it.
pub const OPERATIONS_RING: i64 = 4096;
/// A snapshot of the state goes to the changelog every this many operations.
pub const SNAPSHOT_EVERY: i64 = 1024;
/// Bytes of snapshot per changelog record (before base64), well under
/// Kafka's default message size limit.
pub const SNAPSHOT_CHUNK_BYTES: usize = 256 * 1024;

/// One entry of the clusterer's changelog topic: a logged operation with
/// its place in the log, or an ownership claim.
///
/// Only the current owner of the clusterer's input writes the changelog.
/// Each owner, once its restore reached the changelog's end, writes a claim
/// with a new `epoch` (one more than any seen) and the `seq` its state ends
/// at, then stamps every operation it logs with that epoch. A restore
/// ignores operations of an older epoch that come after a newer claim: they
/// were written by a previous owner that had not yet noticed it lost the
/// input (fenced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangelogRecord {
    pub schema_version: u32,
    /// The owner that wrote the record (0: written before owners claimed).
    #[serde(default)]
    pub epoch: u64,
    /// For an operation, its position in the log: one more for each
    /// operation. A record sent twice carries the same `seq`, which is how
    /// a restore tells it is one it already applied. For a claim, the
    /// position the claimer's state ends at: its operations follow it.
    pub seq: i64,
    /// The operation; `None` on a claim or a snapshot chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) operation: Option<Operation>,
    /// One chunk of a snapshot of the whole state as of `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotChunk>,
    /// Set on a claim whose owner started after an incomplete restore,
    /// which the operator accepted: later restores warn about the state it
    /// diverged from rather than refuse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accepted_incomplete: bool,
}

impl ChangelogRecord {
    pub(crate) fn new(epoch: u64, seq: i64, operation: Operation) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            epoch,
            seq,
            operation: Some(operation),
            snapshot: None,
            accepted_incomplete: false,
        }
    }

    /// The records that carry the snapshot `bytes` of the state as of
    /// `seq`, chunk by chunk; the last one completes it.
    pub(crate) fn snapshot(epoch: u64, seq: i64, bytes: &[u8]) -> Vec<Self> {
        let chunks: Vec<&[u8]> = bytes.chunks(SNAPSHOT_CHUNK_BYTES).collect();
        let count = chunks.len().max(1) as u32;
        let chunks = if chunks.is_empty() {
            vec![&[][..]]
        } else {
            chunks
        };
        chunks
            .into_iter()
            .enumerate()
            .map(|(index, chunk)| Self {
                schema_version: SCHEMA_VERSION,
                epoch,
                seq,
                operation: None,
                snapshot: Some(SnapshotChunk {
                    index: index as u32,
                    count,
                    bytes: chunk.to_vec(),
                }),
                accepted_incomplete: false,
            })
            .collect()
    }

    /// An owner's claim: it writes from here on as `epoch`, its state ends
    /// at `seq`.
    pub(crate) fn claim(epoch: u64, seq: i64, accepted_incomplete: bool) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            epoch,
            seq,
            operation: None,
            snapshot: None,
            accepted_incomplete,
        }
    }

    /// Whether this is an ownership claim.
    pub fn is_claim(&self) -> bool {
        self.operation.is_none() && self.snapshot.is_none()
    }

    /// Whether this carries an operation.
    pub fn is_operation(&self) -> bool {
        self.operation.is_some()
    }
}

/// A part of a snapshot: `count` chunks with the same `seq`, in order,
/// make the serialised state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotChunk {
    pub index: u32,
    pub count: u32,
    #[serde(with = "newsflow_model::bytes_base64")]
    pub bytes: Vec<u8>,
}

impl Message for ChangelogRecord {
    const TOPIC: &'static str = topics::CLUSTERER_CHANGELOG;
    /// Compaction keeps the newest record per key: the newest claim, the
    /// newest snapshot's chunks, the last `OPERATIONS_RING` operations.
    fn key(&self) -> String {
        match (&self.operation, &self.snapshot) {
            (Some(_), _) => format!("op/{}", self.seq.rem_euclid(OPERATIONS_RING)),
            (None, Some(chunk)) => format!("snapshot/{}", chunk.index),
            (None, None) => "claim".to_string(),
        }
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use newsflow_model::{decode, encode, DecodeError};

    use super::*;
    use crate::ClustererConfig;

    fn story(id: &str, title: &str, hour: u32) -> Operation {
        Operation::Story {
            id: id.into(),
            title: title.into(),
            body: format!("{title}. The report continues with details about {title}."),
            time: Some(Utc.with_ymd_and_hms(2024, 8, 19, hour, 0, 0).unwrap()),
            outlet: "Caspian Times".into(),
            url: format!("https://caspian.example/{id}"),
            also_carried_by: vec!["Metro Herald".into()],
        }
    }

    #[test]
    fn every_kind_of_record_survives_encoding() {
        let operations = [
            story("s1", "Putin arrives in Baku", 14),
            Operation::Update {
                id: "s1".into(),
                title: "Putin arrives in Baku for talks".into(),
                also_carried_by: vec!["Metro Herald".into(), "Global Wire".into()],
            },
            Operation::Tick {
                now: Utc.with_ymd_and_hms(2024, 8, 25, 0, 0, 0).unwrap(),
            },
        ];
        for (seq, operation) in (1..).zip(operations) {
            let record = ChangelogRecord::new(1, seq, operation);
            let decoded: ChangelogRecord = decode(&encode(&record)).unwrap();
            assert_eq!(decoded, record);
            assert_eq!(decoded.key(), format!("op/{seq}"));
        }
    }

    #[test]
    fn a_record_of_another_schema_version_is_refused() {
        let mut record = ChangelogRecord::new(1, 1, story("s1", "Putin arrives in Baku", 14));
        record.schema_version = SCHEMA_VERSION + 1;
        let refused = decode::<ChangelogRecord>(&encode(&record));
        assert!(matches!(refused, Err(DecodeError::SchemaVersion { .. })));
    }

    #[test]
    fn applying_an_operation_twice_changes_nothing_the_second_time() {
        let mut clusterer = Clusterer::new(ClustererConfig::default());
        let operations = [
            story("s1", "Putin arrives in Baku", 14),
            story("s2", "Putin arrives in Baku for talks with Aliyev", 15),
            Operation::Update {
                id: "s1".into(),
                title: "Putin lands in Baku".into(),
                also_carried_by: vec![],
            },
            Operation::Tick {
                now: Utc.with_ymd_and_hms(2024, 9, 30, 0, 0, 0).unwrap(),
            },
        ];
        for operation in operations {
            let first = apply(&mut clusterer, operation.clone());
            assert!(!first.is_empty(), "{operation:?} changed nothing");
            let before = clusterer.records();
            assert_eq!(apply(&mut clusterer, operation.clone()), Vec::new());
            assert_eq!(clusterer.records(), before, "{operation:?} applied twice");
        }
    }
}
