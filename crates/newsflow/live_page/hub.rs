//! Between the `events` reader and the open pages: the kept records and a
//! broadcast of every change.

use std::sync::{Arc, Mutex, PoisonError};

use newsflow_model::EventRecord;
use tokio::sync::broadcast;

use super::latest_records::{LatestRecords, Stored};

/// Changes a slow page may fall behind by before it is sent the whole state
/// again instead (the broadcast keeps only this many).
const UPDATES_BUFFERED: usize = 256;

#[derive(Clone, Debug)]
pub enum LiveUpdate {
    /// An event's newest record, as JSON.
    Record(Arc<str>),
    /// An event no longer kept (see `LatestRecords`' eviction rule).
    Evicted(Arc<str>),
}

pub struct LiveHub {
    /// The records and the sender, under one lock; no sender once closed.
    inner: Mutex<Inner>,
}

struct Inner {
    records: LatestRecords,
    updates: Option<broadcast::Sender<LiveUpdate>>,
}

impl LiveHub {
    pub fn new(max_events: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                records: LatestRecords::new(max_events),
                updates: Some(broadcast::channel(UPDATES_BUFFERED).0),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the record if it is its event's newest and tells every open
    /// page. Under the lock, so that a page connecting meanwhile either sees
    /// the record in its snapshot or receives it after.
    pub fn publish(&self, record: &EventRecord) {
        let mut inner = self.lock();
        let stored = inner.records.store(record);
        let Some(updates) = &inner.updates else {
            return;
        };
        match stored {
            Ok(Stored::Newest { json, evicted }) => {
                for id in evicted {
                    // No page open is not an error: the record is kept.
                    let _ = updates.send(LiveUpdate::Evicted(id.into()));
                }
                let _ = updates.send(LiveUpdate::Record(json));
            }
            Ok(Stored::Stale) => {}
            Err(error) => tracing::warn!(%error, event = %record.event_id, "cannot encode event"),
        }
    }

    /// The kept records (oldest first) and the changes after them (none
    /// once the hub is closed).
    pub fn connect(&self) -> (Vec<Arc<str>>, Option<broadcast::Receiver<LiveUpdate>>) {
        let inner = self.lock();
        let updates = inner.updates.as_ref().map(broadcast::Sender::subscribe);
        (inner.records.snapshot(), updates)
    }

    /// The kept records again, for a page that fell behind.
    pub fn snapshot(&self) -> Vec<Arc<str>> {
        self.lock().records.snapshot()
    }

    /// No more changes: each open stream sends what it has buffered, then
    /// ends.
    pub fn close(&self) {
        self.lock().updates = None;
    }
}
