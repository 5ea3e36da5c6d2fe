//! The deduplicator as a stage: `articles` in, `unique` and `duplicates` out.

use std::path::PathBuf;

use newsflow_dedup::{DedupConfig, DedupStage, Verdict};
use newsflow_model::Article;

use super::stage_loop::{HandleError, Output, StageHandler};

pub struct DedupHandler {
    pub stage: DedupStage,
    /// Where the stage's state is stored, and how it was opened: a panic
    /// reopens it from there.
    pub path: PathBuf,
    pub config: DedupConfig,
}

impl DedupHandler {
    pub fn open(path: PathBuf, config: DedupConfig) -> Result<Self, newsflow_dedup::DedupError> {
        let stage = DedupStage::open(&path, config.clone())?;
        Ok(Self {
            stage,
            path,
            config,
        })
    }
}

impl StageHandler for DedupHandler {
    type Input = Article;

    fn name(&self) -> &'static str {
        "dedup"
    }

    fn lacks_state(&self) -> bool {
        self.stage.is_empty()
    }

    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        // The store committed whole checks only; what memory holds beyond
        // them is dropped with the old stage.
        self.stage = DedupStage::open(&self.path, self.config.clone()).map_err(|e| {
            HandleError::Fatal(format!(
                "reopening dedup state {}: {e}",
                self.path.display()
            ))
        })?;
        Ok(())
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
