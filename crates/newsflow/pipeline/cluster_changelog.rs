//! The clusterer's changelog topic on Kafka: where its operation log goes,
//! so that a clusterer on a machine without its database (a new machine, a
//! lost disk) gets the same state back. Operations go out as outputs of the
//! input (or idle tick) that logged them, ahead of its events, so the input
//! is acknowledged only once the broker holds both. The embedded bus keeps
//! the log in the data directory and has no changelog.

use async_trait::async_trait;
use newsflow_bus::{KafkaBus, Producer as _};
use newsflow_clusterer::{
    ChangelogRecord, ChangelogRestore, ClusterError, ClusterStage, ReadEnd, RestoreFailure,
    RestoreSummary,
};
use newsflow_model::{encode, topics, Message as _};

use super::cluster_handler::ClusterHandler;
use super::stage_loop::{rebuild_from_history, HandleError, Output, StateRestore};

/// The logged operations on their way to the changelog.
#[derive(Debug, Default)]
pub struct ChangelogOutbox {
    /// The newest operation handed out to be sent; `None` until read from
    /// the stage's mark of what the changelog holds.
    handed_out: Option<i64>,
}

impl ChangelogOutbox {
    /// The operations logged since the last call, or since the changelog's
    /// known end on the first call (what a crash left unsent goes first),
    /// with a snapshot now and then (see `ClusterStage::take_for_changelog`).
    pub fn take(&mut self, stage: &mut ClusterStage) -> Result<Vec<Output>, ClusterError> {
        let after = self.handed_out.unwrap_or_else(|| stage.published_through());
        let records = stage.take_for_changelog(after)?;
        if let Some(last) = records.last() {
            self.handed_out = Some(last.seq);
        }
        Ok(records.iter().map(Output::of).collect())
    }

    /// The newest operation handed out so far, if any: what a later
    /// [`ChangelogOutbox::confirm_through`] confirms once the outputs of the
    /// input that took it are delivered.
    pub fn handed_out(&self) -> Option<i64> {
        self.handed_out
    }

    /// The broker acknowledged everything handed out through `seq` (outputs
    /// of later inputs may still be on their way).
    pub fn confirm_through(
        &mut self,
        stage: &mut ClusterStage,
        seq: Option<i64>,
    ) -> Result<(), ClusterError> {
        match seq {
            Some(seq) => stage.mark_published(seq),
            None => Ok(()),
        }
    }

    /// What was handed out was never sent: hand it out again.
    pub fn rewind(&mut self) {
        *self = Self::default();
    }
}

/// Restores the clusterer from its changelog whenever this member is given
/// the clusterer's input: the protocol (which records count, claims, when
/// to refuse) is the clusterer crate's [`ChangelogRestore`]; this reads
/// the topic and writes the claim.
pub struct ClusterRestore {
    pub kafka: KafkaBus,
    /// The clusterer's consumer group, for a changelog that predates it.
    pub group: String,
    /// Start from what could be read when the changelog cannot be read to
    /// its end (`--accept-incomplete-restore`).
    pub accept_incomplete: bool,
}

/// Restores that stopped short of the changelog's end (a broker away, a
/// stalled read) are tried this many times before the stage refuses.
const RESTORE_ATTEMPTS: u32 = 3;

#[async_trait]
impl StateRestore<ClusterHandler> for ClusterRestore {
    async fn restore(&mut self, handler: &mut ClusterHandler) -> Result<(), HandleError> {
        let mut attempt = 0;
        let (summary, claim) = loop {
            attempt += 1;
            match restore(&self.kafka, &mut handler.stage, self.accept_incomplete).await {
                Ok(done) => break done,
                // A broker away or a stalled read may pass: try again
                // before refusing.
                Err(RestoreError::Failed(RestoreFailure::Incomplete(incomplete)))
                    if incomplete.stopped_short && attempt < RESTORE_ATTEMPTS =>
                {
                    tracing::warn!(attempt, reasons = %incomplete.reasons,
                        "the clusterer changelog was not read to its end; trying again");
                    tokio::time::sleep(super::stage_loop::backoff(attempt + 3)).await;
                }
                Err(error) => return Err(HandleError::Fatal(error.to_string())),
            }
        };
        send_claim(&self.kafka, &claim).await?;
        if let Some(outbox) = &mut handler.changelog {
            outbox.rewind();
        }
        tracing::info!(
            operations = summary.operations,
            duplicates = summary.duplicates,
            unreadable = summary.unreadable,
            missing = summary.missing,
            fenced = summary.fenced,
            snapshots = summary.snapshots,
            snapshot_seq = summary.snapshot_seq,
            diverged = summary.diverged + summary.diverged_accepted,
            epoch = claim.epoch,
            continues_after = claim.seq,
            "clusterer state restored from the changelog"
        );
        if summary.operations == 0 && claim.seq == 0 {
            self.rebuild_from_input(handler).await?;
        }
        Ok(())
    }
}

impl ClusterRestore {
    /// A changelog that holds no operation while the group committed input
    /// (a deployment from before the changelog): the input is replayed, and
    /// what that logs goes to the changelog with the next outputs.
    async fn rebuild_from_input(&self, handler: &mut ClusterHandler) -> Result<(), HandleError> {
        let kafka = self.kafka.clone();
        let group = self.group.clone();
        let history =
            tokio::task::spawn_blocking(move || kafka.committed_history(&group, topics::UNIQUE))
                .await
                .map_err(|e| HandleError::Fatal(format!("reading committed input: {e}")))?
                .map_err(|e| HandleError::Fatal(format!("reading committed input: {e}")))?;
        if let Some(history) = history {
            let (replayed, stopped_short) = rebuild_from_history(handler, history).await?;
            if let Some(why) = stopped_short {
                if !self.accept_incomplete {
                    return Err(HandleError::Fatal(format!(
                        "the clusterer's committed input could not be read back ({why}); \
                         refusing to start; --accept-incomplete-restore goes on with it"
                    )));
                }
            }
            tracing::info!(
                stage = "clusterer",
                replayed,
                "state rebuilt from committed input"
            );
        }
        Ok(())
    }
}

/// Sends the owner's claim, retrying while the broker is away: nothing may
/// be processed (and so nothing written) before it is on the changelog.
async fn send_claim(kafka: &KafkaBus, claim: &ChangelogRecord) -> Result<(), HandleError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match kafka
            .send(topics::CLUSTERER_CHANGELOG, &claim.key(), encode(claim))
            .await
        {
            Ok(()) => return Ok(()),
            Err(error) if attempt < 10 => {
                tracing::warn!(%error, attempt, "writing the clusterer's ownership claim failed; retrying");
                tokio::time::sleep(super::stage_loop::backoff(attempt)).await;
            }
            Err(error) => {
                return Err(HandleError::Fatal(format!(
                    "writing the clusterer's ownership claim: {error}"
                )))
            }
        }
    }
}

/// Why a restore did not give a usable state.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("reading the clusterer changelog: {0}")]
    Read(#[from] newsflow_bus::BusError),
    #[error(transparent)]
    Failed(#[from] RestoreFailure),
    #[error("restoring the clusterer state: {0}")]
    State(#[from] ClusterError),
}

/// Rebuilds the stage from everything the changelog topic holds, in
/// order. Returns what was read and the claim this owner must write.
pub async fn restore(
    kafka: &KafkaBus,
    stage: &mut ClusterStage,
    accept_incomplete: bool,
) -> Result<(RestoreSummary, ChangelogRecord), RestoreError> {
    let reader = kafka.clone();
    let history =
        tokio::task::spawn_blocking(move || reader.written_history(topics::CLUSTERER_CHANGELOG))
            .await
            .map_err(|_| RestoreError::Read(newsflow_bus::BusError::Closed))??;
    let mut restore = ChangelogRestore::begin(stage)?;
    let mut end = ReadEnd::Reached;
    if let Some(mut history) = history {
        loop {
            match history.next().await {
                Ok(Some(delivery)) => restore.offer(&delivery.payload)?,
                Ok(None) => {
                    if let Some(why) = history.stopped_short() {
                        end = ReadEnd::Stopped(why.to_string());
                    }
                    break;
                }
                Err(error) => {
                    end = ReadEnd::Stopped(error.to_string());
                    break;
                }
            }
        }
    }
    Ok(restore.finish(end, accept_incomplete)?)
}

#[cfg(test)]
mod tests {
    use newsflow_clusterer::ClustererConfig;
    use newsflow_model::{decode, Article, Carrier, UniqueStory, SCHEMA_VERSION};

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

    fn open(dir: &tempfile::TempDir, name: &str) -> ClusterStage {
        ClusterStage::open(&dir.path().join(name), ClustererConfig::default()).unwrap()
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
        let through = outbox.handed_out();
        outbox.confirm_through(&mut stage, through).unwrap();
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
