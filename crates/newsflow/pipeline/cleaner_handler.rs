//! The cleaner as a stage: `raw` pages in, `articles` out.

use newsflow_cleaner::{clean, CleanerConfig};
use newsflow_model::RawPage;

use super::stage_loop::{HandleError, Output, StageHandler};

pub struct CleanerHandler {
    pub config: CleanerConfig,
}

impl StageHandler for CleanerHandler {
    type Input = RawPage;

    fn name(&self) -> &'static str {
        "cleaner"
    }

    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        let _span = tracing::info_span!("clean", url = %page.final_url).entered();
        match clean(&page, &self.config) {
            Ok(article) => Ok(vec![Output::of(&article)]),
            Err(error) => Err(HandleError::Skip(format!("{}: {error}", page.final_url))),
        }
    }
}
