//! The clusterer as a stage: `unique` stories in, `events` out.

use chrono::{DateTime, Utc};
use newsflow_clusterer::ClusterStage;
use newsflow_model::UniqueStory;

use super::stage_loop::{HandleError, Output, StageHandler};

pub struct ClusterHandler {
    pub stage: ClusterStage,
    /// Event time runs on the stories' own clock, not the wall clock, so
    /// that a replay of old stories closes events exactly as it did live.
    pub latest_story_time: Option<DateTime<Utc>>,
}

impl StageHandler for ClusterHandler {
    type Input = UniqueStory;

    fn name(&self) -> &'static str {
        "clusterer"
    }

    fn lacks_state(&self) -> bool {
        self.stage.clusterer().records_count() == 0
    }

    fn handle(&mut self, story: UniqueStory) -> Result<Vec<Output>, HandleError> {
        let story_time = story.article.published.unwrap_or(story.article.fetched_at);
        self.latest_story_time = self.latest_story_time.max(Some(story_time));
        let records = self
            .stage
            .add_story(&story)
            .map_err(|e| HandleError::Fatal(format!("clusterer state: {e}")))?;
        Ok(records.iter().map(Output::of).collect())
    }

    fn on_idle(&mut self, _now: DateTime<Utc>) -> Result<Vec<Output>, HandleError> {
        let Some(now) = self.latest_story_time else {
            return Ok(Vec::new());
        };
        let records = self
            .stage
            .tick(now)
            .map_err(|e| HandleError::Fatal(format!("clusterer state: {e}")))?;
        Ok(records.iter().map(Output::of).collect())
    }
}
