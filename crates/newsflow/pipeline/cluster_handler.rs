//! The clusterer as a stage: `unique` stories in, `events` out (and, on
//! Kafka, its logged operations out to its changelog topic first).

use chrono::{DateTime, Utc};
use newsflow_clusterer::{ClusterError, ClusterStage};
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

    fn outputs_discarded(&mut self) {
        if let Some(outbox) = &mut self.changelog {
            outbox.rewind();
        }
    }
}
