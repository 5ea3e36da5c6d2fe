//! A document's term vector: sub-linear term frequencies, titles above body
//! words, names above other words. Vectorising also teaches the vocabulary
//! (document frequencies, casing), so it runs once per accepted document.

use crate::config::ClustererConfig;
use crate::tokenize::for_each_word;
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
    for (text, weight, teaches_casing) in [(title, config.title_weight, false), (body, 1.0, true)] {
        for_each_word(text, |word, shape| {
            let id = vocabulary.id(word);
            if vocabulary.is_stop_word(id) {
                return;
            }
            // Titles are often in title case, so only body text says how a
            // word is written in running prose.
            if teaches_casing && !shape.sentence_initial && !shape.numeric {
                vocabulary.observe_casing(id, shape.capitalised);
            }
            *frequencies.entry(id).or_insert(0.0) += weight;
        });
    }
    vocabulary.observe_document(frequencies.keys().copied());
    weigh(frequencies, vocabulary, config)
}

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
}
