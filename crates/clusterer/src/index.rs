//! Inverted index from terms to the events recently indexed under them, so
//! a story is compared with a bounded set of candidates however many events
//! are active. Posting lists keep only their most recent entries: an event
//! that stopped growing long ago drifts out of the lists it no longer renews,
//! and an event that was freed is skipped until it does.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::vocabulary::TermId;

/// An event's number: events are numbered in order of creation.
pub type EventIndex = u32;

#[derive(Debug, Serialize, Deserialize)]
pub struct PostingIndex {
    postings: Vec<Vec<EventIndex>>,
    max_per_term: usize,
    /// Scratch per query: each touched event's accumulated overlap, and the
    /// last query term counted (so an event listed twice under a term counts
    /// once). Emptied after every query.
    #[serde(skip)]
    overlap: FxHashMap<EventIndex, (f32, u32)>,
}

impl PostingIndex {
    pub fn new(max_per_term: usize) -> Self {
        Self {
            postings: Vec::new(),
            max_per_term: max_per_term.max(1),
            overlap: FxHashMap::default(),
        }
    }

    /// Applies the configured list length (after a snapshot is read).
    pub fn set_max_per_term(&mut self, max_per_term: usize) {
        self.max_per_term = max_per_term.max(1);
    }

    /// Empties the list of a term whose id was freed (and may be reused).
    pub fn clear_term(&mut self, term: TermId) {
        if let Some(list) = self.postings.get_mut(term as usize) {
            *list = Vec::new();
        }
    }

    /// Lists `event` under each of `terms`.
    pub fn insert(&mut self, event: EventIndex, terms: impl Iterator<Item = TermId>) {
        for term in terms {
            let term = term as usize;
            if self.postings.len() <= term {
                self.postings.resize_with(term + 1, Vec::new);
            }
            let list = &mut self.postings[term];
            if list.last() == Some(&event) {
                continue;
            }
            list.push(event);
            // Trim in batches so the amortised cost per insert stays O(1).
            if list.len() >= 2 * self.max_per_term {
                list.drain(..list.len() - self.max_per_term);
            }
        }
    }

    /// Up to `limit` events sharing the most query weight with `query`
    /// (terms with weights, heaviest first), best first; ties go to the
    /// older event. Only events for which `eligible` holds are returned.
    pub fn candidates(
        &mut self,
        query: &[(TermId, f32)],
        limit: usize,
        eligible: impl Fn(EventIndex) -> bool,
    ) -> Vec<EventIndex> {
        for (position, &(term, weight)) in query.iter().enumerate() {
            let Some(list) = self.postings.get(term as usize) else {
                continue;
            };
            for &event in list.iter().rev().take(self.max_per_term) {
                let (overlap, last_term) = self.overlap.entry(event).or_insert((0.0, u32::MAX));
                if *last_term == position as u32 {
                    continue;
                }
                *last_term = position as u32;
                *overlap += weight;
            }
        }
        // The order of the map does not matter: the sort below is total.
        let mut scored: Vec<(f32, EventIndex)> = self
            .overlap
            .drain()
            .filter(|&(event, _)| eligible(event))
            .map(|(event, (overlap, _))| (overlap, event))
            .collect();
        scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(limit);
        scored.into_iter().map(|(_, e)| e).collect()
    }

    /// Approximate heap bytes held, for the memory bench.
    pub fn heap_bytes(&self) -> usize {
        self.postings.capacity() * std::mem::size_of::<Vec<EventIndex>>()
            + self
                .postings
                .iter()
                .map(|l| l.capacity() * 4)
                .sum::<usize>()
            + self.overlap.capacity() * 13
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_sharing_heavier_terms_rank_first() {
        let mut index = PostingIndex::new(8);
        index.insert(0, [1, 2].into_iter());
        index.insert(1, [2, 3].into_iter());
        index.insert(2, [4].into_iter());
        let found = index.candidates(&[(3, 2.0), (2, 1.0)], 10, |_| true);
        assert_eq!(found, vec![1, 0]);
    }

    #[test]
    fn an_event_listed_twice_under_a_term_counts_once() {
        let mut index = PostingIndex::new(8);
        index.insert(0, [1].into_iter());
        index.insert(1, [1].into_iter());
        index.insert(0, [1].into_iter());
        index.insert(1, [2].into_iter());
        let found = index.candidates(&[(1, 1.0), (2, 0.5)], 10, |_| true);
        assert_eq!(found, vec![1, 0]);
    }

    #[test]
    fn ineligible_events_are_skipped_and_lists_stay_bounded() {
        let mut index = PostingIndex::new(4);
        for event in 0..20 {
            index.insert(event, [7].into_iter());
        }
        assert!(index.postings[7].len() < 8);
        let found = index.candidates(&[(7, 1.0)], 10, |e| e % 2 == 0);
        assert_eq!(found, vec![16, 18]);
    }
}
