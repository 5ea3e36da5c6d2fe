//! The deduplicator as a stage: `articles` in, `unique` and `duplicates` out
//! (and, on Kafka, its changed rows out to its changelog topic first).

use std::path::PathBuf;

use async_trait::async_trait;
use newsflow_bus::{KafkaBus, Producer as _};
use newsflow_dedup::{
    ChangelogEntry, DedupChangelogRecord, DedupConfig, DedupRestore, DedupRestoreFailure,
    DedupRestoreSummary, DedupStage, Verdict,
};
use newsflow_model::{encode, topics, Article, Message as _};

use super::internal_events::DedupStateMeasured;
use super::stage_loop::{
    backoff, rebuild_from_history, HandleError, Output, StageHandler, StateRestore,
};

pub struct DedupHandler {
    pub stage: DedupStage,
    /// Where the stage's state is stored, for what a failure reports.
    pub path: PathBuf,
}

impl DedupHandler {
    pub fn open(path: PathBuf, config: DedupConfig) -> Result<Self, newsflow_dedup::DedupError> {
        let mut stage = DedupStage::open(&path, config)?;
        // The stage loop calls `make_state_durable` before it hands over
        // verdicts or acknowledges inputs: one sync for the checks of
        // the inputs it handled back to back.
        stage.defer_syncs()?;
        Ok(Self { stage, path })
    }
}

fn state_failed(error: impl std::fmt::Display) -> HandleError {
    HandleError::Fatal(format!("dedup state: {error}"))
}

impl StageHandler for DedupHandler {
    type Input = Article;

    fn name(&self) -> &'static str {
        "dedup"
    }

    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        // The store committed whole checks only; what memory holds beyond
        // them is dropped and read back (the owner epoch and changelog mode
        // are kept: they are this member's, not the store's).
        self.stage.reload_from_store().map_err(|e| {
            HandleError::Fatal(format!(
                "reloading dedup state {}: {e}",
                self.path.display()
            ))
        })
    }

    fn make_state_durable(&mut self) -> Result<(), HandleError> {
        self.stage.sync().map_err(state_failed)
    }

    fn defers_state_syncs(&self) -> bool {
        self.stage.defers_syncs()
    }

    fn handle(&mut self, article: Article) -> Result<Vec<Output>, HandleError> {
        let verdict = self.stage.check(&article).map_err(state_failed)?;
        DedupStateMeasured {
            stories_remembered: self.stage.len(),
        }
        .emit();
        // The state changes go out ahead of what they caused, so the input
        // is acknowledged only once the broker holds both.
        let mut outputs: Vec<Output> = self
            .stage
            .take_changelog()
            .into_iter()
            .map(|entry| match entry {
                ChangelogEntry::Row(record) => Output::of(record.as_ref()),
                ChangelogEntry::Tombstone { key } => Output {
                    topic: topics::DEDUP_CHANGELOG,
                    key,
                    payload: Vec::new(),
                },
            })
            .collect();
        match verdict {
            Verdict::New(story) | Verdict::Updated(story) | Verdict::Unchanged(story) => {
                outputs.push(Output::of(&story));
            }
            Verdict::Duplicate { record, story } => {
                tracing::info!(url = %record.url, duplicate_of = %record.duplicate_of,
                    reason = ?record.reason, "duplicate");
                outputs.push(Output::of(&record));
                outputs.push(Output::of(&story));
            }
        }
        Ok(outputs)
    }
}

/// Restores dedup's state whenever this member is given dedup's input: the
/// protocol is the dedup crate's [`DedupRestore`]; this reads the changelog
/// topic and writes the claim.
pub struct DedupChangelogRestore {
    pub kafka: KafkaBus,
    /// dedup's consumer group, for a changelog that predates it.
    pub group: String,
    /// Go on with what could be read when the changelog cannot be read to
    /// its end (`--accept-incomplete-restore`).
    pub accept_incomplete: bool,
}

/// Restores that stopped short of the changelog's end are tried this many
/// times before the stage refuses.
const RESTORE_ATTEMPTS: u32 = 3;

#[async_trait]
impl StateRestore<DedupHandler> for DedupChangelogRestore {
    async fn restore(&mut self, handler: &mut DedupHandler) -> Result<(), HandleError> {
        handler.stage.enable_changelog().map_err(state_failed)?;
        let mut attempt = 0;
        let (summary, claim) = loop {
            attempt += 1;
            match self.restore_once(&mut handler.stage).await {
                Ok(done) => break done,
                Err(DedupRestoreFailure::Incomplete(incomplete))
                    if incomplete.stopped_short && attempt < RESTORE_ATTEMPTS =>
                {
                    tracing::warn!(attempt, reasons = %incomplete.reasons,
                        "dedup's changelog was not read to its end; trying again");
                    tokio::time::sleep(backoff(attempt + 3)).await;
                }
                Err(error) => return Err(HandleError::Fatal(error.to_string())),
            }
        };
        send_with_retry(&self.kafka, &claim.key(), encode(&claim)).await?;
        tracing::info!(
            stories = summary.stories,
            tombstones = summary.tombstones,
            unreadable = summary.unreadable,
            fenced = summary.fenced,
            epoch = claim.epoch,
            "dedup state restored from the changelog"
        );
        // No story at all (claims aside): a changelog from before this
        // one, or a rebuild whose rows were never sent. The input rebuilds it.
        if summary.stories == 0 && summary.tombstones == 0 {
            self.rebuild_from_input(handler).await?;
        }
        Ok(())
    }
}

impl DedupChangelogRestore {
    /// One reading of the changelog into the stage.
    async fn restore_once(
        &self,
        stage: &mut DedupStage,
    ) -> Result<(DedupRestoreSummary, DedupChangelogRecord), DedupRestoreFailure> {
        let reader = self.kafka.clone();
        let history =
            tokio::task::spawn_blocking(move || reader.written_history(topics::DEDUP_CHANGELOG))
                .await
                .map_err(|e| e.to_string());
        let mut restore = DedupRestore::begin(stage)?;
        let mut stopped_short = None;
        match history {
            Ok(Ok(Some(mut history))) => loop {
                match history.next().await {
                    Ok(Some(delivery)) => {
                        restore.offer(delivery.key.as_deref(), &delivery.payload)?
                    }
                    Ok(None) => {
                        stopped_short = history.stopped_short().map(str::to_string);
                        break;
                    }
                    Err(error) => {
                        stopped_short = Some(error.to_string());
                        break;
                    }
                }
            },
            Ok(Ok(None)) => {}
            Ok(Err(error)) => stopped_short = Some(error.to_string()),
            Err(error) => stopped_short = Some(error),
        }
        restore.finish(stopped_short.as_deref(), self.accept_incomplete)
    }

    /// An empty changelog while the group committed input (a deployment
    /// from before the changelog): the input is replayed (outputs
    /// discarded, they were sent the first time), and the rows that logs go
    /// to the changelog with the next outputs.
    async fn rebuild_from_input(&self, handler: &mut DedupHandler) -> Result<(), HandleError> {
        let kafka = self.kafka.clone();
        let group = self.group.clone();
        let history =
            tokio::task::spawn_blocking(move || kafka.committed_history(&group, topics::ARTICLES))
                .await
                .map_err(|e| HandleError::Fatal(format!("reading committed input: {e}")))?
                .map_err(|e| HandleError::Fatal(format!("reading committed input: {e}")))?;
        let Some(history) = history else {
            return Ok(());
        };
        let (replayed, stopped_short) = rebuild_from_history(handler, history).await?;
        if let Some(why) = stopped_short {
            if !self.accept_incomplete {
                return Err(HandleError::Fatal(format!(
                    "dedup's committed input could not be read back to its end ({why}); \
                     refusing to start with a partial window. Fix the broker, or start \
                     with --accept-incomplete-restore to go on with what was read"
                )));
            }
        }
        tracing::info!(
            stage = "dedup",
            replayed,
            "state rebuilt from committed input"
        );
        Ok(())
    }
}

/// Sends one record, retrying while the broker is away.
pub async fn send_with_retry(
    kafka: &KafkaBus,
    key: &str,
    payload: Vec<u8>,
) -> Result<(), HandleError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match kafka
            .send(topics::DEDUP_CHANGELOG, key, payload.clone())
            .await
        {
            Ok(()) => return Ok(()),
            Err(error) if attempt < 10 => {
                tracing::warn!(%error, attempt, "writing dedup's ownership claim failed; retrying");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(error) => {
                return Err(HandleError::Fatal(format!(
                    "writing dedup's ownership claim: {error}"
                )))
            }
        }
    }
}
