//! Inverted index from terms to the events recently indexed under them, so
//! a story is compared with a bounded set of candidates however many events
//! are active. Posting lists keep only their most recent entries: an event
//! that stopped growing long ago drifts out of the lists it no longer renews.

use crate::vocabulary::TermId;

pub type EventIndex = u32;

#[derive(Debug)]
pub struct PostingIndex {
    postings: Vec<Vec<EventIndex>>,
    max_per_term: usize,
    /// Per event: accumulated overlap with the current query, and the last
    /// query term counted (so an event listed twice under a term counts once).
    overlap: Vec<f32>,
    last_term: Vec<u32>,
    touched: Vec<EventIndex>,
}

impl PostingIndex {
    pub fn new(max_per_term: usize) -> Self {
        Self {
            postings: Vec::new(),
            max_per_term: max_per_term.max(1),
            overlap: Vec::new(),
            last_term: Vec::new(),
            touched: Vec::new(),
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
                let slot = event as usize;
                if self.overlap.len() <= slot {
                    self.overlap.resize(slot + 1, 0.0);
                    self.last_term.resize(slot + 1, u32::MAX);
                }
                if self.last_term[slot] == position as u32 {
                    continue;
                }
                if self.overlap[slot] == 0.0 {
                    self.touched.push(event);
                }
                self.last_term[slot] = position as u32;
                self.overlap[slot] += weight;
            }
        }
        let mut scored: Vec<(f32, EventIndex)> = Vec::with_capacity(self.touched.len());
        for event in self.touched.drain(..) {
            let slot = event as usize;
            if eligible(event) {
                scored.push((self.overlap[slot], event));
            }
            self.overlap[slot] = 0.0;
            self.last_term[slot] = u32::MAX;
        }
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
            + self.overlap.capacity() * 4
            + self.last_term.capacity() * 4
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
