//! The clusterer's changelog topic on Kafka: where its operation log goes,
//! so that a clusterer on a machine without its database (a new machine, a
//! lost disk) gets the same state back. Operations go out as outputs of the
//! input (or idle tick) that logged them, ahead of its events, so the input
//! is acknowledged only once the broker holds both. The embedded bus keeps
//! the log in the data directory and has no changelog.

use anyhow::Context;
use newsflow_bus::{Delivery, KafkaBus};
use newsflow_clusterer::{ChangelogRecord, ClusterError, ClusterStage, Restored};
use newsflow_model::{decode, topics};

use super::stage_loop::Output;

/// The logged operations on their way to the changelog.
#[derive(Debug, Default)]
pub struct ChangelogOutbox {
    /// The newest operation handed out to be sent; `None` until read from
    /// the stage's mark of what the changelog holds.
    handed_out: Option<i64>,
    /// The newest operation handed out whose delivery is not yet confirmed.
    unconfirmed: Option<i64>,
}

impl ChangelogOutbox {
    /// The operations logged since the last call, or since the changelog's
    /// known end on the first call (what a crash left unsent goes first).
    pub fn take(&mut self, stage: &mut ClusterStage) -> Result<Vec<Output>, ClusterError> {
        let after = self.handed_out.unwrap_or_else(|| stage.published_through());
        let records = stage.take_unpublished(after)?;
        if let Some(last) = records.last() {
            self.handed_out = Some(last.seq);
            self.unconfirmed = Some(last.seq);
        }
        Ok(records.iter().map(Output::of).collect())
    }

    /// The broker acknowledged everything handed out.
    pub fn confirm(&mut self, stage: &mut ClusterStage) -> Result<(), ClusterError> {
        match self.unconfirmed.take() {
            Some(seq) => stage.mark_published(seq),
            None => Ok(()),
        }
    }

    /// What was handed out was never sent: hand it out again.
    pub fn rewind(&mut self) {
        *self = Self::default();
    }
}

/// What a restore from the changelog read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    /// Operations logged and applied.
    pub operations: u64,
    /// Records of operations already applied (sent twice): ignored.
    pub duplicates: u64,
    /// Records that could not be read: reported and skipped.
    pub unreadable: u64,
    /// Operations missing between the records read.
    pub missing: u64,
}

/// Rebuilds an empty stage from everything the changelog topic holds, in
/// order, through the same apply path as the local log's replay.
pub async fn restore(kafka: &KafkaBus, stage: &mut ClusterStage) -> anyhow::Result<RestoreSummary> {
    let reader = kafka.clone();
    let history =
        tokio::task::spawn_blocking(move || reader.written_history(topics::CLUSTERER_CHANGELOG))
            .await
            .context("reading the clusterer changelog")??;
    let mut summary = RestoreSummary::default();
    if let Some(mut history) = history {
        while let Some(delivery) = history
            .next()
            .await
            .context("reading the clusterer changelog")?
        {
            restore_record(stage, &delivery, &mut summary)
                .context("writing restored clusterer state")?;
        }
    }
    Ok(summary)
}

/// Applies one changelog record to the stage, counting what it was. A
/// record that cannot be read is logged and skipped: the rest of the log
/// is still worth more than no state.
fn restore_record(
    stage: &mut ClusterStage,
    delivery: &Delivery,
    summary: &mut RestoreSummary,
) -> Result<(), ClusterError> {
    let record = match decode::<ChangelogRecord>(&delivery.payload) {
        Ok(record) => record,
        Err(error) => {
            tracing::warn!(topic = %delivery.topic, partition = delivery.partition,
                offset = delivery.offset, %error, "skipping an unreadable changelog record");
            summary.unreadable += 1;
            return Ok(());
        }
    };
    let seq = record.seq;
    match stage.restore(record)? {
        Restored::Applied => summary.operations += 1,
        Restored::AlreadyApplied => summary.duplicates += 1,
        Restored::AppliedAfterGap { missing } => {
            tracing::warn!(
                seq,
                missing,
                offset = delivery.offset,
                "operations missing from the clusterer changelog before this one"
            );
            summary.operations += 1;
            summary.missing += missing as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use newsflow_clusterer::ClustererConfig;
    use newsflow_model::{encode, Article, Carrier, UniqueStory, SCHEMA_VERSION};

    use super::*;

    fn story(id: &str, title: &str) -> UniqueStory {
        let url = format!("https://caspian.example/{id}");
        let article = Article {
            schema_version: SCHEMA_VERSION,
            article_id: id.into(),
            item_id: url.clone(),
            feed_url: "https://caspian.example/feed".into(),
            url: url.clone(),
            canonical_url: url.clone(),
            outlet: "Caspian Times".into(),
            title: title.into(),
            byline: None,
            published: Some("2024-08-19T14:05:00Z".parse().unwrap()),
            language: Some("en".into()),
            lead_image: None,
            body: format!("{title}. The visit was announced on Monday by officials."),
            fetched_at: "2024-08-19T15:00:00Z".parse().unwrap(),
        };
        UniqueStory {
            schema_version: SCHEMA_VERSION,
            story_id: id.into(),
            revision: 0,
            carriers: vec![Carrier {
                outlet: article.outlet.clone(),
                url,
            }],
            article,
        }
    }

    fn delivery(offset: i64, payload: Vec<u8>) -> Delivery {
        Delivery {
            topic: topics::CLUSTERER_CHANGELOG.into(),
            partition: 0,
            offset,
            key: None,
            payload,
        }
    }

    fn open(dir: &tempfile::TempDir, name: &str) -> ClusterStage {
        ClusterStage::open(&dir.path().join(name), ClustererConfig::default()).unwrap()
    }

    #[test]
    fn unreadable_and_repeated_records_are_counted_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut original = open(&dir, "original.db");
        original
            .add_story(&story("s1", "Putin arrives in Baku"))
            .unwrap();
        original
            .add_story(&story("s2", "Floods close the port of Lankaran"))
            .unwrap();
        let records = original.operations_since(0).unwrap();
        let mut stale = records[0].clone();
        stale.schema_version = SCHEMA_VERSION + 1;
        let payloads = [
            encode(&records[0]),
            b"\xff{not json".to_vec(),
            encode(&stale),
            encode(&records[0]),
            encode(&records[1]),
            encode(&records[1]),
        ];

        let mut restored = open(&dir, "restored.db");
        let mut summary = RestoreSummary::default();
        for (offset, payload) in (0..).zip(payloads) {
            restore_record(&mut restored, &delivery(offset, payload), &mut summary).unwrap();
        }
        assert_eq!(
            summary,
            RestoreSummary {
                operations: 2,
                duplicates: 2,
                unreadable: 2,
                missing: 0
            }
        );
        assert_eq!(
            restored.clusterer().records(),
            original.clusterer().records()
        );
    }

    #[test]
    fn the_outbox_hands_out_each_operation_once_and_again_after_a_rewind() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = open(&dir, "c.db");
        let mut outbox = ChangelogOutbox::default();
        stage
            .add_story(&story("s1", "Putin arrives in Baku"))
            .unwrap();
        let first = outbox.take(&mut stage).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].topic, topics::CLUSTERER_CHANGELOG);
        assert!(outbox.take(&mut stage).unwrap().is_empty());

        // Handed out but never confirmed (a rebuild dropped it): it must
        // go out again.
        outbox.rewind();
        assert_eq!(outbox.take(&mut stage).unwrap().len(), 1);
        outbox.confirm(&mut stage).unwrap();
        assert_eq!(stage.published_through(), 1);

        // A new process starts from what the changelog is known to hold.
        stage
            .add_story(&story("s2", "Floods close the port of Lankaran"))
            .unwrap();
        drop(stage);
        let mut stage = open(&dir, "c.db");
        let mut outbox = ChangelogOutbox::default();
        let pending = outbox.take(&mut stage).unwrap();
        assert_eq!(pending.len(), 1);
        let record: ChangelogRecord = decode(&pending[0].payload).unwrap();
        assert_eq!(record.seq, 2);
    }
}
