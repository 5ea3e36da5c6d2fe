//! Where fetched pages go. The binary implements this over the bus.

use newsflow_model::RawPage;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink cannot take anything now (the bus is away): the item stays
    /// new and is tried again at a later poll.
    #[error("page sink unavailable: {0}")]
    Unavailable(String),
    /// This page can never be delivered (too large for the bus, say): the
    /// sink has put it in the dead letters, and the item is marked failed so
    /// the feed's pass goes on without it.
    #[error("page sink refused the page for good: {0}")]
    Rejected(String),
}

#[async_trait::async_trait]
pub trait PageSink: Send + Sync {
    /// Resolves only when the page is durably handed on (or, with
    /// [`SinkError::Rejected`], durably dead-lettered); the fetcher marks the
    /// item seen only after an `Ok`.
    async fn deliver(&self, page: RawPage) -> Result<(), SinkError>;
}
