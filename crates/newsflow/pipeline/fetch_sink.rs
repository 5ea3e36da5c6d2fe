//! Hands the fetcher's pages to the bus: a page counts as delivered once the
//! bus holds it, which is when the fetcher may mark its item seen. A page
//! the bus can never take (larger than its message limit) goes to the dead
//! letters and is refused for good, so the fetcher marks its item failed
//! and the feed's pass goes on: one item never blocks its feed.

use std::sync::Arc;

use newsflow_bus::Producer;
use newsflow_fetcher::{PageSink, SinkError};
use newsflow_model::{encode, DeadLetter, Message, RawPage};

use super::dead_letters::{self, Persistence, Sent};

/// Attempts at sending a page's dead letter before the page counts as not
/// delivered for now (its item is then tried again at the next poll).
const DEAD_LETTER_ATTEMPTS: u32 = 3;

pub struct BusPageSink {
    pub producer: Arc<dyn Producer>,
}

#[async_trait::async_trait]
impl PageSink for BusPageSink {
    async fn deliver(&self, page: RawPage) -> Result<(), SinkError> {
        let key = page.key();
        let payload = encode(&page);
        let error = match self
            .producer
            .send(RawPage::TOPIC, &key, payload.clone())
            .await
        {
            Ok(()) => return Ok(()),
            Err(error) if error.is_permanent() => error,
            Err(error) => return Err(SinkError::Unavailable(error.to_string())),
        };
        let message = format!("page {}: {error}", page.final_url);
        let letter = DeadLetter::new(
            "fetcher",
            dead_letters::reason_for_refusal(&error),
            dead_letters::capped_error(&message),
            RawPage::TOPIC,
            None,
            None,
            Some(key),
            &payload,
        );
        match dead_letters::send(
            self.producer.as_ref(),
            &letter,
            Persistence::Attempts(DEAD_LETTER_ATTEMPTS),
        )
        .await
        {
            Sent::Held | Sent::Refused => Err(SinkError::Rejected(message)),
            Sent::NotYet => Err(SinkError::Unavailable(format!(
                "{message}; and its dead letter could not be sent yet"
            ))),
        }
    }
}
