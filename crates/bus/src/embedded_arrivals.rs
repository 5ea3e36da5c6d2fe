//! Wake-ups for the embedded bus's waiting consumers, one per topic: a
//! commit of the log writer wakes only the consumers of the topics it
//! appended to. With one wake-up for all, every commit woke every idle
//! consumer of the process (the cleaner, dedup, the clusterer, the events
//! writer), and each of those that found nothing new had read the log and
//! handed its runtime thread over for nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// One [`Notify`] per topic a consumer of this bus reads. Topics are named
/// by the stages and the configuration, never by input, so the table holds
/// as many entries as the process has topics and never needs evicting.
#[derive(Default)]
pub(crate) struct Arrivals {
    by_topic: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Arrivals {
    /// What a consumer of `topic` waits on.
    pub(crate) fn of(&self, topic: &str) -> Arc<Notify> {
        // Called once per consumer, not per poll: the key's allocation is no cost.
        let mut by_topic = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        by_topic.entry(topic.to_string()).or_default().clone()
    }

    /// Wakes every consumer waiting on one of `topics`.
    pub(crate) fn announce<'a>(&self, topics: impl IntoIterator<Item = &'a str>) {
        let by_topic = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        for topic in topics {
            if let Some(notify) = by_topic.get(topic) {
                notify.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn an_append_wakes_the_consumers_of_its_topic_and_no_other() {
        let arrivals = Arrivals::default();
        let raw = arrivals.of("raw");
        let events = arrivals.of("events");
        let raw_woken = raw.notified();
        let events_woken = events.notified();
        tokio::pin!(raw_woken, events_woken);
        raw_woken.as_mut().enable();
        events_woken.as_mut().enable();

        arrivals.announce(["raw"]);

        tokio::time::timeout(Duration::from_secs(5), raw_woken)
            .await
            .expect("the consumer of raw was woken");
        let woken = tokio::time::timeout(Duration::from_millis(50), events_woken).await;
        assert!(woken.is_err(), "the consumer of events was woken too");
    }

    #[test]
    fn every_consumer_of_a_topic_waits_on_the_same_wake_up() {
        let arrivals = Arrivals::default();
        assert!(Arc::ptr_eq(&arrivals.of("raw"), &arrivals.of("raw")));
        assert!(!Arc::ptr_eq(&arrivals.of("raw"), &arrivals.of("unique")));
    }
}
