//! Hands the fetcher's pages to the bus: a page counts as delivered once the
//! bus holds it, which is when the fetcher may mark its item seen.

use std::sync::Arc;

use newsflow_bus::Producer;
use newsflow_fetcher::{PageSink, SinkError};
use newsflow_model::{encode, Message, RawPage};

pub struct BusPageSink {
    pub producer: Arc<dyn Producer>,
}

#[async_trait::async_trait]
impl PageSink for BusPageSink {
    async fn deliver(&self, page: RawPage) -> Result<(), SinkError> {
        self.producer
            .send(RawPage::TOPIC, &page.key(), encode(&page))
            .await
            .map_err(|e| SinkError::Unavailable(e.to_string()))
    }
}
