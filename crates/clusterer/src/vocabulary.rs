//! Term ids and what the stream has taught about each term so far: how many
//! documents used it (for IDF) and how it is usually written (for names).
//!
//! The statistics are bounded: every so often they are halved (a decay that
//! keeps their proportions, so IDF and name shares hardly move) and terms
//! whose count fell to zero are forgotten, their ids reused. A stream of
//! months therefore holds the terms of its recent past and its common words,
//! not every number and typo it ever carried.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::tokenize::is_stop_word;

pub type TermId = u32;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TermStats {
    /// Documents that contained the term.
    document_frequency: u32,
    /// Mid-sentence occurrences, and how many of them were capitalised.
    mid_sentence: u32,
    mid_sentence_capitalised: u32,
    numeric: bool,
    /// A function word: never part of a document's vector.
    stop: bool,
    /// ln(1 + document_frequency), kept so IDF costs no logarithm per use.
    ln_document_frequency: f32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Rebuilt from `terms` after a snapshot is read. Keys of up to 23
    /// bytes (nearly every word) sit inside the table, so a lookup compares
    /// them without a further memory access: this is the clusterer's
    /// hottest lookup, once per word of every story.
    #[serde(skip)]
    ids: FxHashMap<SmolStr, TermId>,
    /// Indexed by id; a forgotten term's slot is empty until reused.
    terms: Vec<Box<str>>,
    stats: Vec<TermStats>,
    /// Ids of forgotten terms, reused (last freed first) by new terms.
    free: Vec<TermId>,
    /// Documents counted (decayed with the statistics).
    documents: u64,
    ln_documents: f32,
    /// Documents counted since the statistics were last decayed.
    documents_since_decay: u64,
}

impl Vocabulary {
    pub fn id(&mut self, term: &str) -> TermId {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        let boxed: Box<str> = term.into();
        let stats = TermStats {
            numeric: term.chars().any(|c| c.is_ascii_digit()),
            stop: is_stop_word(term),
            ..TermStats::default()
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.terms[id as usize] = boxed;
                self.stats[id as usize] = stats;
                id
            }
            None => {
                self.terms.push(boxed);
                self.stats.push(stats);
                (self.terms.len() - 1) as TermId
            }
        };
        self.ids.insert(SmolStr::new(term), id);
        id
    }

    /// Rebuilds the term lookup after the vocabulary was deserialised.
    pub fn rebuild_lookup(&mut self) {
        let free: rustc_hash::FxHashSet<TermId> = self.free.iter().copied().collect();
        self.ids = self
            .terms
            .iter()
            .enumerate()
            .filter(|(id, _)| !free.contains(&(*id as TermId)))
            .map(|(id, term)| (SmolStr::new(term), id as TermId))
            .collect();
    }

    /// Checks what a snapshot could get wrong and indexing relies on.
    pub fn check(&self) -> Result<(), String> {
        if self.terms.len() != self.stats.len() {
            return Err("vocabulary terms and statistics differ in length".into());
        }
        if self.free.iter().any(|&id| id as usize >= self.terms.len()) {
            return Err("vocabulary frees an id it does not have".into());
        }
        Ok(())
    }

    /// Documents counted since the last [`Vocabulary::decay`].
    pub fn documents_since_decay(&self) -> u64 {
        self.documents_since_decay
    }

    /// Halves every count (documents, document frequencies, casing
    /// observations) and forgets the terms whose document frequency fell to
    /// zero, except stop words (a fixed, small set) and those `in_use` says
    /// something still refers to. Returns the ids freed.
    pub fn decay(&mut self, in_use: impl Fn(TermId) -> bool) -> Vec<TermId> {
        self.documents /= 2;
        self.ln_documents = (1.0 + self.documents as f32).ln();
        self.documents_since_decay = 0;
        let already_free: rustc_hash::FxHashSet<TermId> = self.free.iter().copied().collect();
        let mut freed = Vec::new();
        for (id, stats) in self.stats.iter_mut().enumerate() {
            let id = id as TermId;
            if already_free.contains(&id) {
                continue;
            }
            stats.document_frequency /= 2;
            stats.ln_document_frequency = (1.0 + stats.document_frequency as f32).ln();
            stats.mid_sentence /= 2;
            stats.mid_sentence_capitalised /= 2;
            if stats.document_frequency == 0 && !stats.stop && !in_use(id) {
                freed.push(id);
            }
        }
        for &id in &freed {
            let term = std::mem::take(&mut self.terms[id as usize]);
            self.ids.remove(&*term);
            self.stats[id as usize] = TermStats::default();
        }
        // Freed last-to-first so that the lowest ids are reused first.
        self.free.extend(freed.iter().rev());
        freed
    }

    pub fn lookup(&self, term: &str) -> Option<TermId> {
        self.ids.get(term).copied()
    }

    pub fn term(&self, id: TermId) -> &str {
        &self.terms[id as usize]
    }

    /// Term slots (known terms and freed ids): every id is below this.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Terms currently known.
    pub fn known_terms(&self) -> usize {
        self.terms.len() - self.free.len()
    }

    /// Documents seen so far.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    pub fn is_stop_word(&self, id: TermId) -> bool {
        self.stats[id as usize].stop
    }

    /// Records one casing observation of a term.
    pub fn observe_casing(&mut self, id: TermId, capitalised: bool) {
        let stats = &mut self.stats[id as usize];
        stats.mid_sentence += 1;
        stats.mid_sentence_capitalised += u32::from(capitalised);
    }

    /// Counts one document containing each of `distinct_terms`.
    pub fn observe_document(&mut self, distinct_terms: impl Iterator<Item = TermId>) {
        self.documents += 1;
        self.documents_since_decay += 1;
        self.ln_documents = (1.0 + self.documents as f32).ln();
        for id in distinct_terms {
            let stats = &mut self.stats[id as usize];
            stats.document_frequency += 1;
            stats.ln_document_frequency = (1.0 + stats.document_frequency as f32).ln();
        }
    }

    /// Smoothed inverse document frequency over the documents seen so far.
    pub fn idf(&self, id: TermId) -> f32 {
        self.ln_documents - self.stats[id as usize].ln_document_frequency + 1.0
    }

    /// Whether the term behaves like a name: a number, or a word the stream
    /// mostly writes with a capital in mid-sentence. Lower-cased input never
    /// shows capitals, so there only numbers count.
    pub fn is_name(&self, id: TermId) -> bool {
        let stats = &self.stats[id as usize];
        stats.numeric
            || (stats.mid_sentence >= 1 && 2 * stats.mid_sentence_capitalised > stats.mid_sentence)
    }

    /// The term as a reader would write it (names capitalised).
    pub fn display(&self, id: TermId) -> String {
        let term = self.term(id);
        if self.is_name(id) {
            let mut chars = term.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        } else {
            term.to_string()
        }
    }

    /// Approximate heap bytes held, for the memory bench.
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self.terms.iter().map(|t| t.len()).sum();
        // Map keys longer than they hold inline are a second copy.
        let long_keys: usize = self
            .ids
            .keys()
            .filter(|k| k.is_heap_allocated())
            .map(|k| k.len())
            .sum();
        strings
            + long_keys
            + self.terms.capacity() * std::mem::size_of::<Box<str>>()
            + self.stats.capacity() * std::mem::size_of::<TermStats>()
            + self.ids.capacity() * (std::mem::size_of::<SmolStr>() + 4 + 1)
            + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_terms_weigh_more_than_common_ones() {
        let mut vocabulary = Vocabulary::default();
        let common = vocabulary.id("said");
        let rare = vocabulary.id("baku");
        for i in 0..10 {
            let mut terms = vec![common];
            if i == 0 {
                terms.push(rare);
            }
            vocabulary.observe_document(terms.into_iter());
        }
        assert!(vocabulary.idf(rare) > vocabulary.idf(common));
    }

    #[test]
    fn names_are_learned_from_mid_sentence_capitals() {
        let mut vocabulary = Vocabulary::default();
        let putin = vocabulary.id("putin");
        let ready = vocabulary.id("ready");
        let year = vocabulary.id("2024");
        for _ in 0..3 {
            vocabulary.observe_casing(putin, true);
            vocabulary.observe_casing(ready, false);
        }
        vocabulary.observe_casing(ready, true);
        assert!(vocabulary.is_name(putin));
        assert!(!vocabulary.is_name(ready));
        assert!(vocabulary.is_name(year));
        assert_eq!(vocabulary.display(putin), "Putin");
    }

    #[test]
    fn decay_forgets_rare_unused_terms_and_reuses_their_ids() {
        let mut vocabulary = Vocabulary::default();
        let common = vocabulary.id("said");
        let rare = vocabulary.id("x17b");
        let kept = vocabulary.id("baku");
        vocabulary.observe_document([common, rare, kept].into_iter());
        for _ in 0..9 {
            vocabulary.observe_document([common].into_iter());
        }
        let idf_before = vocabulary.idf(common);
        let freed = vocabulary.decay(|id| id == kept);
        assert_eq!(freed, vec![rare]);
        assert_eq!(vocabulary.lookup("x17b"), None);
        assert_eq!(vocabulary.lookup("baku"), Some(kept));
        assert!((vocabulary.idf(common) - idf_before).abs() < 0.1);
        assert_eq!(vocabulary.known_terms(), 2);
        let new = vocabulary.id("fresh");
        assert_eq!(new, rare, "a freed id is reused");
        assert_eq!(vocabulary.len(), 3);
    }
}
