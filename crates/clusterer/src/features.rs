//! A document's term vector: sub-linear term frequencies, titles above body
//! words, names above other words. Vectorising also teaches the vocabulary
//! (document frequencies, casing), so it runs once per accepted document.

use crate::config::ClustererConfig;
use crate::tokenize::{for_each_word, Shape};
use crate::vector::SparseVector;
use crate::vocabulary::{TermId, Vocabulary};
use rustc_hash::FxHashMap;

/// Vectorises a document of the stream and counts it in the vocabulary.
pub fn learn_document(
    title: &str,
    body: &str,
    vocabulary: &mut Vocabulary,
    config: &ClustererConfig,
) -> SparseVector {
    let mut frequencies: FxHashMap<TermId, f32> = FxHashMap::default();
    let mut words_left = config.max_document_words;
    for_each_word(title, |word, _| {
        if !takes_word(word, &mut words_left) {
            return;
        }
        let id = vocabulary.id(word);
        if !vocabulary.is_stop_word(id) {
            *frequencies.entry(id).or_insert(0.0) += config.title_weight;
        }
    });
    // Titles are often in title case, so only body text says how a word is
    // written in running prose; and within the body, headlines and
    // captions set in title case say nothing either.
    let mut body_words: Vec<(TermId, Shape)> = Vec::new();
    for_each_word(body, |word, shape| {
        if !takes_word(word, &mut words_left) {
            return;
        }
        let id = vocabulary.id(word);
        if !vocabulary.is_stop_word(id) {
            *frequencies.entry(id).or_insert(0.0) += 1.0;
            body_words.push((id, shape));
        }
    });
    let title_case = title_case_runs(&body_words);
    for (&(id, shape), in_run) in body_words.iter().zip(title_case) {
        if !in_run && !shape.sentence_initial && !shape.numeric {
            vocabulary.observe_casing(id, shape.capitalised);
        }
    }
    vocabulary.observe_document(frequencies.keys().copied());
    weigh(frequencies, vocabulary, config)
}

/// Longer words are no news vocabulary but hashes, encoded data or text
/// run together, and each would be a vocabulary entry of its own.
const MAX_TERM_BYTES: usize = 64;

/// Whether a document's word goes into its vector: within the document's
/// word budget (counted down here) and no longer than a term may be.
fn takes_word(word: &str, words_left: &mut usize) -> bool {
    if *words_left == 0 {
        return false;
    }
    *words_left -= 1;
    word.len() <= MAX_TERM_BYTES
}

/// Marks the words inside runs of at least `TITLE_CASE_RUN` capitalised
/// content words in a row: a headline or caption set in title case, whose
/// capitals say nothing about how its words are written in prose.
fn title_case_runs(words: &[(TermId, Shape)]) -> Vec<bool> {
    let mut marks = vec![false; words.len()];
    let mut start = 0;
    for end in 0..=words.len() {
        let capitalised = words
            .get(end)
            .is_some_and(|(_, s)| s.capitalised && !s.numeric);
        if !capitalised {
            if end - start >= TITLE_CASE_RUN {
                marks[start..end].iter_mut().for_each(|m| *m = true);
            }
            start = end + 1;
        }
    }
    marks
}

const TITLE_CASE_RUN: usize = 5;

/// Vectorises text against the vocabulary without teaching it (unknown
/// words are left out), e.g. to compare a title with an event.
pub fn lookup_text(text: &str, vocabulary: &Vocabulary, config: &ClustererConfig) -> SparseVector {
    let mut frequencies: FxHashMap<TermId, f32> = FxHashMap::default();
    for_each_word(text, |word, _| {
        if let Some(id) = vocabulary
            .lookup(word)
            .filter(|&id| !vocabulary.is_stop_word(id))
        {
            *frequencies.entry(id).or_insert(0.0) += 1.0;
        }
    });
    weigh(frequencies, vocabulary, config)
}

fn weigh(
    frequencies: FxHashMap<TermId, f32>,
    vocabulary: &Vocabulary,
    config: &ClustererConfig,
) -> SparseVector {
    let mut vector: SparseVector = frequencies
        .into_iter()
        .map(|(id, tf)| {
            let sublinear = if tf > 1.0 { 1.0 + tf.ln() } else { tf };
            let boost = if vocabulary.is_name(id) {
                config.name_weight
            } else {
                1.0
            };
            (id, sublinear * boost)
        })
        .collect();
    vector.sort_unstable_by_key(|&(id, _)| id);
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_words_weigh_more_than_body_words() {
        let mut vocabulary = Vocabulary::default();
        let config = ClustererConfig::default();
        let v = learn_document("earthquake", "the flood came", &mut vocabulary, &config);
        let weight = |term: &str| {
            let id = vocabulary.lookup(term).unwrap();
            v.iter().find(|(t, _)| *t == id).unwrap().1
        };
        assert!(weight("earthquake") > weight("flood"));
    }

    #[test]
    fn names_weigh_more_than_common_words() {
        let mut vocabulary = Vocabulary::default();
        let config = ClustererConfig::default();
        let v = learn_document(
            "",
            "Talks with Aliyev were held in talks",
            &mut vocabulary,
            &config,
        );
        let weight = |term: &str| {
            let id = vocabulary.lookup(term).unwrap();
            v.iter().find(|(t, _)| *t == id).unwrap().1
        };
        assert!(weight("aliyev") > weight("held"));
    }

    #[test]
    fn a_title_case_headline_in_the_body_does_not_make_its_words_names() {
        let mut vocabulary = Vocabulary::default();
        let config = ClustererConfig::default();
        learn_document(
            "",
            "Sixers Hire New Head Coach Today the team said the coach met Cheeks",
            &mut vocabulary,
            &config,
        );
        let is_name = |term: &str| vocabulary.is_name(vocabulary.lookup(term).unwrap());
        assert!(!is_name("coach") && !is_name("hire"));
        assert!(is_name("cheeks"));
    }

    #[test]
    fn the_title_is_read_first_within_the_word_budget() {
        let config = ClustererConfig {
            max_document_words: 3,
            ..ClustererConfig::default()
        };
        let mut vocabulary = Vocabulary::default();
        learn_document(
            "Earthquake strikes",
            "Tsunami warning issued after the quake",
            &mut vocabulary,
            &config,
        );
        assert!(vocabulary.lookup("earthquake").is_some());
        assert!(vocabulary.lookup("strikes").is_some());
        assert!(vocabulary.lookup("tsunami").is_some());
        assert!(vocabulary.lookup("warning").is_none(), "past the budget");
    }

    #[test]
    fn words_longer_than_a_term_may_be_are_left_out() {
        let config = ClustererConfig::default();
        let mut vocabulary = Vocabulary::default();
        let glued = "ab".repeat(40);
        learn_document(
            "Budget",
            &format!("the {glued} vote"),
            &mut vocabulary,
            &config,
        );
        assert!(vocabulary.lookup(&glued).is_none());
        assert!(vocabulary.lookup("vote").is_some());
    }
}
