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

/// Every changelog record has this key: one key keeps them on one partition
/// and so in log order, however many partitions the topic was given.
const CHANGELOG_KEY: &str = "clusterer";

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
    /// The operation; `None` on a claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) operation: Option<Operation>,
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
            accepted_incomplete: false,
        }
    }

    /// An owner's claim: it writes from here on as `epoch`, its state ends
    /// at `seq`.
    pub(crate) fn claim(epoch: u64, seq: i64, accepted_incomplete: bool) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            epoch,
            seq,
            operation: None,
            accepted_incomplete,
        }
    }

    /// Whether this is an ownership claim rather than an operation.
    pub fn is_claim(&self) -> bool {
        self.operation.is_none()
    }
}

impl Message for ChangelogRecord {
    const TOPIC: &'static str = topics::CLUSTERER_CHANGELOG;
    fn key(&self) -> String {
        CHANGELOG_KEY.to_string()
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
            assert_eq!(decoded.key(), CHANGELOG_KEY);
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
