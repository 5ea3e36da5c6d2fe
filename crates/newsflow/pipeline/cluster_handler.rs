//! The clusterer as a stage: `unique` stories in, `events` out (and, on
//! Kafka, its logged operations out to its changelog topic first).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use newsflow_clusterer::{ClusterError, ClusterStage, ClustererConfig};
use newsflow_model::{EventRecord, UniqueStory};

use super::cluster_changelog::ChangelogOutbox;
use super::stage_loop::{HandleError, Output, StageHandler};

pub struct ClusterHandler {
    pub stage: ClusterStage,
    /// The stage's event clock as of the last story (for inspection: the
    /// stage keeps the clock, clamped and persisted, and ticks by it).
    pub latest_story_time: Option<DateTime<Utc>>,
    /// Set where the stage's database alone does not keep its state (Kafka).
    pub changelog: Option<ChangelogOutbox>,
    /// Where the stage's state is stored, and how it was opened: a panic
    /// reopens it from there.
    pub path: PathBuf,
    pub config: ClustererConfig,
}

impl ClusterHandler {
    /// The changelog records of operations not yet handed out, then `events`.
    fn outputs(&mut self, records: &[EventRecord]) -> Result<Vec<Output>, HandleError> {
        let mut outputs = match &mut self.changelog {
            Some(outbox) => outbox.take(&mut self.stage).map_err(state_failed)?,
            None => Vec::new(),
        };
        outputs.extend(records.iter().map(Output::of));
        Ok(outputs)
    }
}

fn state_failed(error: ClusterError) -> HandleError {
    HandleError::Fatal(format!("clusterer state: {error}"))
}

impl StageHandler for ClusterHandler {
    type Input = UniqueStory;

    fn name(&self) -> &'static str {
        "clusterer"
    }

    fn handle(&mut self, story: UniqueStory) -> Result<Vec<Output>, HandleError> {
        let records = self.stage.add_story(&story).map_err(state_failed)?;
        self.latest_story_time = self.stage.event_clock();
        self.outputs(&records)
    }

    /// Event time runs on the stories' own clock, not the wall clock, so
    /// that a replay of old stories closes events exactly as it did live.
    fn on_idle(&mut self, _now: DateTime<Utc>) -> Result<Vec<Output>, HandleError> {
        let records = self.stage.close_quiet_events().map_err(state_failed)?;
        self.outputs(&records)
    }

    fn outputs_delivered(&mut self) -> Result<(), HandleError> {
        if let Some(outbox) = &mut self.changelog {
            outbox.confirm(&mut self.stage).map_err(state_failed)?;
        }
        self.stage.outputs_delivered().map_err(state_failed)
    }

    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        // The store committed whole operations only; memory may hold half
        // of one. Reopening replays the store's log into a new clusterer.
        let epoch = self.stage.epoch();
        self.stage = ClusterStage::open(&self.path, self.config.clone()).map_err(|e| {
            HandleError::Fatal(format!(
                "reopening clusterer state {}: {e}",
                self.path.display()
            ))
        })?;
        self.stage.keep_epoch(epoch);
        // What goes to the changelog next is read again from the store's
        // mark of what the changelog holds.
        if let Some(outbox) = &mut self.changelog {
            outbox.rewind();
        }
        Ok(())
    }

    fn outputs_discarded(&mut self) {
        if let Some(outbox) = &mut self.changelog {
            outbox.rewind();
        }
    }
}
