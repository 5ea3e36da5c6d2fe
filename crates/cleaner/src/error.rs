//! Why a page did not become an article. Every variant is an expected outcome
//! for some page on the web, so each says plainly what was wrong with it.

#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    /// The body is not an HTML document (an image, a PDF, JSON, plain text...).
    #[error("not an HTML page (content type {content_type:?})")]
    NotHtml { content_type: String },
    /// The page is HTML but holds no article: an index page, a video page, a
    /// paywall stub, an empty shell filled in by JavaScript.
    #[error("not an article: {reason}")]
    NotAnArticle { reason: String },
    /// The record's compressed body could not be read.
    #[error(transparent)]
    UnreadableBody(#[from] newsflow_model::PageBodyError),
}

impl CleanError {
    pub(crate) fn not_an_article(reason: impl Into<String>) -> Self {
        CleanError::NotAnArticle {
            reason: reason.into(),
        }
    }
}
