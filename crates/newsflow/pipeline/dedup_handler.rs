//! The deduplicator as a stage: `articles` in, `unique` and `duplicates` out.

use newsflow_dedup::{DedupStage, Verdict};
use newsflow_model::Article;

use super::stage_loop::{HandleError, Output, StageHandler};

pub struct DedupHandler {
    pub stage: DedupStage,
}

impl StageHandler for DedupHandler {
    type Input = Article;

    fn name(&self) -> &'static str {
        "dedup"
    }

    fn lacks_state(&self) -> bool {
        self.stage.is_empty()
    }

    fn handle(&mut self, article: Article) -> Result<Vec<Output>, HandleError> {
        let verdict = self
            .stage
            .check(&article)
            .map_err(|e| HandleError::Fatal(format!("dedup state: {e}")))?;
        Ok(match verdict {
            Verdict::New(story) | Verdict::Updated(story) | Verdict::Unchanged(story) => {
                vec![Output::of(&story)]
            }
            Verdict::Duplicate { record, story } => {
                tracing::info!(url = %record.url, duplicate_of = %record.duplicate_of,
                    reason = ?record.reason, "duplicate");
                vec![Output::of(&record), Output::of(&story)]
            }
        })
    }
}
