//! The cleaner as a stage: `raw` pages in, `articles` out.

use newsflow_cleaner::{clean, CleanerConfig};
use newsflow_model::RawPage;

use std::sync::Arc;

use super::stage_loop::{ConcurrentHandle, HandleError, Output, StageHandler};

pub struct CleanerHandler {
    pub config: CleanerConfig,
}

impl StageHandler for CleanerHandler {
    type Input = RawPage;

    fn name(&self) -> &'static str {
        "cleaner"
    }

    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        clean_page(page, &self.config)
    }

    /// Cleaning keeps nothing from one page to the next: pages are cleaned
    /// on every core (or on `workers`).
    fn concurrent(&self) -> Option<ConcurrentHandle<RawPage>> {
        let config = Arc::new(self.config.clone());
        Some(Arc::new(move |page| clean_page(page, &config)))
    }

    fn concurrency(&self) -> Option<usize> {
        (self.config.workers > 0).then_some(self.config.workers)
    }
}

fn clean_page(page: RawPage, config: &CleanerConfig) -> Result<Vec<Output>, HandleError> {
    let _span = tracing::info_span!("clean", url = %page.final_url).entered();
    match clean(&page, config) {
        Ok(article) => Ok(vec![Output::of(&article)]),
        Err(error) => Err(HandleError::Skip(format!("{}: {error}", page.final_url))),
    }
}
