//! Term ids and what the stream has taught about each term so far: how many
//! documents used it (for IDF) and how it is usually written (for names).

use rustc_hash::FxHashMap;

use crate::tokenize::is_stop_word;

pub type TermId = u32;

#[derive(Debug, Clone, Default)]
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

#[derive(Debug, Default)]
pub struct Vocabulary {
    ids: FxHashMap<Box<str>, TermId>,
    terms: Vec<Box<str>>,
    stats: Vec<TermStats>,
    documents: u64,
    ln_documents: f32,
}

impl Vocabulary {
    pub fn id(&mut self, term: &str) -> TermId {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        let id = self.terms.len() as TermId;
        let boxed: Box<str> = term.into();
        self.ids.insert(boxed.clone(), id);
        self.terms.push(boxed);
        self.stats.push(TermStats {
            numeric: term.chars().any(|c| c.is_ascii_digit()),
            stop: is_stop_word(term),
            ..TermStats::default()
        });
        id
    }

    pub fn lookup(&self, term: &str) -> Option<TermId> {
        self.ids.get(term).copied()
    }

    pub fn term(&self, id: TermId) -> &str {
        &self.terms[id as usize]
    }

    /// Distinct terms seen so far.
    pub fn len(&self) -> usize {
        self.terms.len()
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
        // Each term's text is held twice (map key and list), plus map slots.
        2 * strings
            + self.terms.capacity() * std::mem::size_of::<Box<str>>()
            + self.stats.capacity() * std::mem::size_of::<TermStats>()
            + self.ids.capacity() * (std::mem::size_of::<Box<str>>() + 4 + 1)
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
}
