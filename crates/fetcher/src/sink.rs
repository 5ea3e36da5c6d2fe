//! Where fetched pages go. The binary implements this over the bus.

use newsflow_model::RawPage;

#[derive(Debug, thiserror::Error)]
#[error("page sink failed: {0}")]
pub struct SinkError(pub String);

#[async_trait::async_trait]
pub trait PageSink: Send + Sync {
    /// Resolves only when the page is durably handed on; the fetcher marks
    /// the item seen only after an `Ok`.
    async fn deliver(&self, page: RawPage) -> Result<(), SinkError>;
}
