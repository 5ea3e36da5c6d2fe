//! The live page's memory: the newest record of each event, at most `cap`
//! events.
//!
//! Eviction rule: when a new event would make `cap + 1`, the event whose
//! record arrived longest ago among the finished ones (`closed` or `merged`)
//! goes first; only when every kept event is `active` does the oldest active
//! one go. A finished event is what a reader misses least, and a `merged`
//! record is kept while there is room only so that a late, older record of
//! the same event cannot bring it back onto the page.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use newsflow_model::{EventRecord, EventStatus};

struct Kept {
    version: u64,
    /// When it arrived, in arrival order: the key in `finished` or `active`.
    arrival: u64,
    finished: bool,
    /// The record as the page receives it (JSON), encoded once.
    json: Arc<str>,
}

/// What storing a record did.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    /// The record is the event's newest; these events were evicted to keep
    /// the bound.
    Newest {
        json: Arc<str>,
        evicted: Vec<String>,
    },
    /// A version at most as new as the kept one: nothing changed.
    Stale,
}

pub struct LatestRecords {
    cap: usize,
    next_arrival: u64,
    by_id: HashMap<String, Kept>,
    /// Arrival -> event id, for finished and for active events: the oldest
    /// of each is the first key, so eviction is O(log n).
    finished: BTreeMap<u64, String>,
    active: BTreeMap<u64, String>,
}

impl LatestRecords {
    /// `cap` is raised to 1: a page that keeps nothing shows nothing.
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            next_arrival: 0,
            by_id: HashMap::new(),
            finished: BTreeMap::new(),
            active: BTreeMap::new(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn store(&mut self, record: &EventRecord) -> Result<Stored, serde_json::Error> {
        if let Some(kept) = self.by_id.get(&record.event_id) {
            if kept.version >= record.version {
                return Ok(Stored::Stale);
            }
        }
        let json: Arc<str> = serde_json::to_string(record)?.into();
        if let Some(old) = self.by_id.remove(&record.event_id) {
            self.index_of(old.finished).remove(&old.arrival);
        }
        let mut evicted = Vec::new();
        while self.by_id.len() >= self.cap {
            let oldest = match self.finished.pop_first() {
                Some(entry) => Some(entry),
                None => self.active.pop_first(),
            };
            let Some((_, id)) = oldest else { break };
            self.by_id.remove(&id);
            evicted.push(id);
        }
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        let finished = record.status != EventStatus::Active;
        self.index_of(finished)
            .insert(arrival, record.event_id.clone());
        self.by_id.insert(
            record.event_id.clone(),
            Kept {
                version: record.version,
                arrival,
                finished,
                json: json.clone(),
            },
        );
        Ok(Stored::Newest { json, evicted })
    }

    /// Every kept record, in the order they arrived.
    pub fn snapshot(&self) -> Vec<Arc<str>> {
        let mut kept: Vec<&Kept> = self.by_id.values().collect();
        kept.sort_unstable_by_key(|k| k.arrival);
        kept.into_iter().map(|k| k.json.clone()).collect()
    }

    fn index_of(&mut self, finished: bool) -> &mut BTreeMap<u64, String> {
        if finished {
            &mut self.finished
        } else {
            &mut self.active
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn record(id: &str, version: u64, status: EventStatus) -> EventRecord {
        let time = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        EventRecord {
            schema_version: 1,
            event_id: id.into(),
            version,
            status,
            headline: format!("{id} v{version}"),
            keywords: vec![],
            members: vec![],
            member_count: None,
            first_seen: time,
            last_updated: time,
            merged_into: None,
            absorbed: vec![],
        }
    }

    fn kept_ids(store: &LatestRecords) -> Vec<String> {
        store
            .snapshot()
            .iter()
            .map(|json| serde_json::from_str::<EventRecord>(json).unwrap().event_id)
            .collect()
    }

    #[test]
    fn keeps_the_newest_version_and_ignores_older_or_repeated_ones() {
        let mut store = LatestRecords::new(10);
        assert!(matches!(
            store.store(&record("a", 2, EventStatus::Active)).unwrap(),
            Stored::Newest { .. }
        ));
        assert_eq!(
            store.store(&record("a", 1, EventStatus::Active)).unwrap(),
            Stored::Stale
        );
        assert_eq!(
            store.store(&record("a", 2, EventStatus::Active)).unwrap(),
            Stored::Stale
        );
        store.store(&record("a", 3, EventStatus::Closed)).unwrap();
        let snapshot = store.snapshot();
        assert_eq!(snapshot.len(), 1);
        assert!(snapshot[0].contains("a v3"), "{snapshot:?}");
    }

    #[test]
    fn never_keeps_more_than_cap_events_and_evicts_finished_ones_first() {
        let mut store = LatestRecords::new(3);
        store
            .store(&record("old-active", 1, EventStatus::Active))
            .unwrap();
        store
            .store(&record("closed", 1, EventStatus::Closed))
            .unwrap();
        store
            .store(&record("merged", 1, EventStatus::Merged))
            .unwrap();
        // A fourth event: the oldest finished one goes, not the older active one.
        let stored = store
            .store(&record("new-1", 1, EventStatus::Active))
            .unwrap();
        assert_eq!(
            stored,
            Stored::Newest {
                json: store.snapshot().last().unwrap().clone(),
                evicted: vec!["closed".into()]
            }
        );
        store
            .store(&record("new-2", 1, EventStatus::Active))
            .unwrap();
        assert_eq!(kept_ids(&store), ["old-active", "new-1", "new-2"]);
        // Only active ones left: the one that changed longest ago goes.
        store
            .store(&record("old-active", 2, EventStatus::Active))
            .unwrap();
        store
            .store(&record("new-3", 1, EventStatus::Active))
            .unwrap();
        assert_eq!(kept_ids(&store), ["new-2", "old-active", "new-3"]);
        for i in 0..1000 {
            store
                .store(&record(&format!("flood-{i}"), 1, EventStatus::Active))
                .unwrap();
            assert!(store.len() <= 3);
        }
    }

    #[test]
    fn an_event_that_closes_becomes_evictable_before_active_ones() {
        let mut store = LatestRecords::new(2);
        store.store(&record("a", 1, EventStatus::Active)).unwrap();
        store.store(&record("b", 1, EventStatus::Active)).unwrap();
        store.store(&record("b", 2, EventStatus::Closed)).unwrap();
        store.store(&record("c", 1, EventStatus::Active)).unwrap();
        assert_eq!(kept_ids(&store), ["a", "c"]);
    }
}
