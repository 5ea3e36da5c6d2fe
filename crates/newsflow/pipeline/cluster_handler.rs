//! The clusterer as a stage: `unique` stories in, `events` out (and, on
//! Kafka, its logged operations out to its changelog topic first).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use newsflow_clusterer::{ClusterError, ClusterStage, ClustererConfig, EarlyRetirements};
use newsflow_model::{EventRecord, UniqueStory};

use super::cluster_changelog::ChangelogOutbox;
use super::internal_events::{
    ClustererRetiredEarly, ClustererStateMeasured, StoryPublishedInEvent,
};
use super::stage_loop::{HandleError, Output, StageHandler};

pub struct ClusterHandler {
    pub stage: ClusterStage,
    /// Set where the stage's database alone does not keep its state (Kafka).
    pub changelog: Option<ChangelogOutbox>,
    /// Where the stage's state is stored, and how it was opened: a panic
    /// reopens it from there.
    pub path: PathBuf,
    pub config: ClustererConfig,
    /// What the metrics are told once the outputs are out.
    pub telemetry: ClusterTelemetry,
    /// Outputs in flight, oldest first.
    unconfirmed: VecDeque<Unconfirmed>,
}

/// When the state was last measured.
#[derive(Default)]
pub struct ClusterTelemetry {
    state_measured: Option<Instant>,
}

/// What one `handle` or `on_idle` left to confirm once its outputs are
/// delivered (the stage loop keeps several inputs in flight, and confirms
/// them in order).
struct Unconfirmed {
    /// The newest logged operation when its outputs were made.
    seq: i64,
    /// The newest changelog operation handed out with them or before.
    changelog_through: Option<i64>,
    /// When the story was fetched, when its event's records are among the
    /// outputs.
    story_fetched_at: Option<DateTime<Utc>>,
}

/// Measuring the state counts active events one by one: at most this often.
const STATE_MEASURE_EVERY: Duration = Duration::from_secs(1);

impl ClusterHandler {
    fn measure_state(&mut self) {
        let now = Instant::now();
        if self
            .telemetry
            .state_measured
            .is_some_and(|at| now.duration_since(at) < STATE_MEASURE_EVERY)
        {
            return;
        }
        self.telemetry.state_measured = Some(now);
        let clusterer = self.stage.clusterer();
        ClustererStateMeasured {
            events_held: clusterer.held_events(),
            events_active: clusterer.active_events(),
            stories_held: clusterer.held_stories(),
            vocabulary_terms: clusterer.known_terms(),
        }
        .emit();
    }
}

impl ClusterHandler {
    /// Counts what this input retired early (taken as a difference around
    /// it: a restore's replay retires again what was counted live).
    fn count_early_retirements(&self, before: EarlyRetirements) {
        let after = self.stage.clusterer().early_retirements();
        if after != before {
            ClustererRetiredEarly {
                events: after.events.saturating_sub(before.events),
                stories: after.stories.saturating_sub(before.stories),
            }
            .emit();
        }
    }

    /// Opens the stage's state at `path`; `with_changelog` where the
    /// database alone does not keep the state (Kafka).
    pub fn open(
        path: PathBuf,
        config: ClustererConfig,
        with_changelog: bool,
    ) -> Result<Self, ClusterError> {
        let mut stage = ClusterStage::open(&path, config.clone())?;
        set_durability(&mut stage, with_changelog)?;
        Ok(Self {
            stage,
            changelog: with_changelog.then(ChangelogOutbox::default),
            path,
            config,
            telemetry: ClusterTelemetry::default(),
            unconfirmed: VecDeque::new(),
        })
    }

    /// The changelog records of operations not yet handed out, then `events`;
    /// notes what to confirm once they are delivered.
    fn outputs(
        &mut self,
        records: &[EventRecord],
        story_fetched_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<Output>, HandleError> {
        let mut outputs = match &mut self.changelog {
            Some(outbox) => outbox.take(&mut self.stage).map_err(state_failed)?,
            None => Vec::new(),
        };
        outputs.extend(records.iter().map(Output::of));
        self.unconfirmed.push_back(Unconfirmed {
            seq: self.stage.last_seq(),
            changelog_through: self
                .changelog
                .as_ref()
                .and_then(ChangelogOutbox::handed_out),
            story_fetched_at: (!records.is_empty()).then_some(story_fetched_at).flatten(),
        });
        Ok(outputs)
    }
}

/// With a changelog, the changelog holds the operations; without one (the
/// embedded bus), the stage loop syncs them through `make_state_durable`
/// before it hands over records or acknowledges inputs.
fn set_durability(stage: &mut ClusterStage, with_changelog: bool) -> Result<(), ClusterError> {
    if with_changelog {
        stage.rely_on_changelog()
    } else {
        stage.defer_syncs()
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
        let before = self.stage.clusterer().early_retirements();
        let records = self.stage.add_story(&story).map_err(state_failed)?;
        self.count_early_retirements(before);
        // The records of an added story include its event's.
        self.outputs(&records, Some(story.article.fetched_at))
    }

    /// Event time runs on the stories' own clock, not the wall clock, so
    /// that a replay of old stories closes events exactly as it did live.
    fn on_idle(&mut self, _now: DateTime<Utc>) -> Result<Vec<Output>, HandleError> {
        let before = self.stage.clusterer().early_retirements();
        let records = self.stage.close_quiet_events().map_err(state_failed)?;
        self.count_early_retirements(before);
        self.outputs(&records, None)
    }

    fn make_state_durable(&mut self) -> Result<(), HandleError> {
        self.stage.sync().map_err(state_failed)
    }

    fn defers_state_syncs(&self) -> bool {
        self.stage.defers_syncs()
    }

    fn outputs_delivered(&mut self) -> Result<(), HandleError> {
        let Some(delivered) = self.unconfirmed.pop_front() else {
            return Ok(());
        };
        if let Some(outbox) = &mut self.changelog {
            outbox
                .confirm_through(&mut self.stage, delivered.changelog_through)
                .map_err(state_failed)?;
        }
        self.stage
            .outputs_delivered_through(delivered.seq)
            .map_err(state_failed)?;
        if let Some(fetched_at) = delivered.story_fetched_at {
            StoryPublishedInEvent {
                since_fetched: Utc::now() - fetched_at,
            }
            .emit();
        }
        self.measure_state();
        Ok(())
    }

    /// A checkpoint replaces the log entries owed records are rebuilt
    /// from: it is written once every output so far is delivered.
    fn settle_before_next(&self) -> bool {
        self.stage.checkpoint_due()
    }

    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        // The stage loop settled every earlier input before this.
        self.unconfirmed.clear();
        // The store committed whole operations only; memory may hold half
        // of one. Reopening replays the store's log into a new clusterer.
        self.stage.roll_back_unfinished().map_err(state_failed)?;
        let epoch = self.stage.epoch();
        self.stage = ClusterStage::open(&self.path, self.config.clone()).map_err(|e| {
            HandleError::Fatal(format!(
                "reopening clusterer state {}: {e}",
                self.path.display()
            ))
        })?;
        self.stage.keep_epoch(epoch);
        set_durability(&mut self.stage, self.changelog.is_some()).map_err(state_failed)?;
        // What goes to the changelog next is read again from the store's
        // mark of what the changelog holds.
        if let Some(outbox) = &mut self.changelog {
            outbox.rewind();
        }
        Ok(())
    }

    fn outputs_discarded(&mut self) {
        self.unconfirmed.clear();
        if let Some(outbox) = &mut self.changelog {
            outbox.rewind();
        }
    }
}
