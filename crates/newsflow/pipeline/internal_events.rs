//! What happens inside the pipeline, one type per happening, each emitting
//! its log line (where it has one) and its metric. Metric names of the
//! binary live here and nowhere else, as in Vector's `internal_events`; the
//! README's metrics table lists them (a test compares the two).

use std::time::Duration;

/// Buckets of every `*_seconds` histogram: from a handler's milliseconds to
/// the hour a story may wait in a slow stream.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];

/// A stage finished with one input record.
pub struct InputHandled<'a> {
    pub stage: &'static str,
    /// `processed`, `skipped`, or the dead-letter reason.
    pub outcome: &'static str,
    /// Why it was skipped, for the log line.
    pub skipped_because: Option<&'a str>,
    pub offset: i64,
    /// Time spent in the stage's handler (decoding included).
    pub handler_time: Duration,
}

impl InputHandled<'_> {
    pub fn emit(self) {
        metrics::counter!("newsflow_inputs_total", "stage" => self.stage, "outcome" => self.outcome)
            .increment(1);
        metrics::histogram!("newsflow_stage_handle_seconds", "stage" => self.stage)
            .record(self.handler_time.as_secs_f64());
        if let Some(reason) = self.skipped_because {
            tracing::info!(stage = self.stage, offset = self.offset, %reason, "input skipped");
        }
    }
}

/// The bus took one output of a stage.
pub struct OutputSent {
    pub stage: &'static str,
    pub topic: &'static str,
}

impl OutputSent {
    pub fn emit(self) {
        metrics::counter!("newsflow_outputs_total", "stage" => self.stage, "topic" => self.topic)
            .increment(1);
    }
}

/// Sending an output failed in a way that may pass; it is sent again.
pub struct SendRetried<'a> {
    pub stage: &'static str,
    pub topic: &'static str,
    pub attempt: u32,
    pub error: &'a dyn std::fmt::Display,
}

impl SendRetried<'_> {
    pub fn emit(self) {
        metrics::counter!("newsflow_send_retries_total", "stage" => self.stage).increment(1);
        tracing::error!(stage = self.stage, topic = self.topic, error = %self.error,
            attempt = self.attempt, "sending output failed; retrying");
    }
}

/// A stage's handler panicked; its state is reloaded.
pub struct StagePanicked<'a> {
    pub stage: &'static str,
    pub at: &'a str,
    pub message: &'a str,
}

impl StagePanicked<'_> {
    pub fn emit(self) {
        metrics::counter!("newsflow_stage_panics_total", "stage" => self.stage).increment(1);
        tracing::error!(stage = self.stage, at = self.at, panic = %self.message,
            "the stage panicked; reloading its state and going on");
    }
}

/// Records of one partition of a stage's input that its group has not
/// processed: pending records on the embedded bus, the high watermark less
/// the committed position on Kafka.
pub struct ConsumerLagMeasured<'a> {
    pub stage: &'static str,
    pub topic: &'a str,
    pub partition: i32,
    pub lag: u64,
}

impl ConsumerLagMeasured<'_> {
    pub fn emit(self) {
        metrics::gauge!("newsflow_consumer_lag", "stage" => self.stage,
            "topic" => self.topic.to_string(), "partition" => self.partition.to_string())
        .set(self.lag as f64);
    }
}

/// An event record carrying a story was published: the time from the
/// story's page being fetched to then.
pub struct StoryPublishedInEvent {
    pub since_fetched: chrono::Duration,
}

impl StoryPublishedInEvent {
    pub fn emit(self) {
        // A clock stepped back (or another host's clock) can make it
        // negative: that is no latency, so it counts as none.
        let seconds = self.since_fetched.num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("newsflow_fetch_to_event_seconds").record(seconds);
    }
}

/// The clusterer's state, as it holds it now.
pub struct ClustererStateMeasured {
    pub events_held: usize,
    pub events_active: usize,
    pub stories_held: usize,
    pub vocabulary_terms: usize,
}

impl ClustererStateMeasured {
    pub fn emit(self) {
        metrics::gauge!("newsflow_clusterer_events", "state" => "held")
            .set(self.events_held as f64);
        metrics::gauge!("newsflow_clusterer_events", "state" => "active")
            .set(self.events_active as f64);
        metrics::gauge!("newsflow_clusterer_stories_held").set(self.stories_held as f64);
        metrics::gauge!("newsflow_clusterer_vocabulary_terms").set(self.vocabulary_terms as f64);
    }
}

/// The clusterer reached a cap (`max_held_stories`, or the vocabulary far
/// past `max_vocabulary_terms`) and retired events before their time,
/// closed ones first; it logs each time at warn.
pub struct ClustererRetiredEarly {
    pub events: u64,
    pub stories: u64,
}

impl ClustererRetiredEarly {
    pub fn emit(self) {
        metrics::counter!("newsflow_clusterer_events_retired_early_total").increment(self.events);
        metrics::counter!("newsflow_clusterer_stories_retired_early_total").increment(self.stories);
    }
}

/// The dedup stage's state, as it holds it now.
pub struct DedupStateMeasured {
    pub stories_remembered: usize,
}

impl DedupStateMeasured {
    pub fn emit(self) {
        metrics::gauge!("newsflow_dedup_stories_remembered").set(self.stories_remembered as f64);
    }
}

/// A stage had work and made no progress for too long.
pub struct StageStalled<'a> {
    pub stall: &'a super::progress::Stall,
}

impl StageStalled<'_> {
    pub fn emit(self) {
        let stall = self.stall;
        tracing::warn!(
            stage = stall.stage,
            group = %stall.group,
            topic = %stall.topic,
            backlog = ?stall.backlog,
            stalled_for_secs = stall.for_secs,
            "stage stalled: no progress while its input has a backlog"
        );
        metrics::gauge!("newsflow_stage_stalled", "stage" => stall.stage).set(1.0);
    }
}

/// A stalled stage made progress again.
pub struct StageResumed<'a> {
    pub stage: &'static str,
    pub group: &'a str,
}

impl StageResumed<'_> {
    pub fn emit(self) {
        tracing::info!(stage = self.stage, group = %self.group, "stage resumed: it made progress again");
        metrics::gauge!("newsflow_stage_stalled", "stage" => self.stage).set(0.0);
    }
}

/// The dead-letter topic holds a letter.
pub struct DeadLetterWritten<'a> {
    pub stage: &'a str,
    pub reason: &'static str,
}

impl DeadLetterWritten<'_> {
    pub fn emit(self) {
        metrics::counter!("newsflow_dead_letters_total", "stage" => self.stage.to_string(),
            "reason" => self.reason)
        .increment(1);
    }
}

/// The dead-letter topic refused a letter for good: the record is let go.
pub struct DeadLetterLost<'a> {
    pub stage: &'a str,
    pub reason: &'static str,
    pub error: &'a dyn std::fmt::Display,
}

impl DeadLetterLost<'_> {
    pub fn emit(self) {
        metrics::counter!("newsflow_dead_letters_lost_total", "stage" => self.stage.to_string(),
            "reason" => self.reason)
        .increment(1);
        tracing::error!(stage = self.stage, reason = self.reason, error = %self.error,
            "the dead-letter topic refused a letter; the record is let go");
    }
}
