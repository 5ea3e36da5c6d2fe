//! What the content rules compare: the normalised body's hash and its
//! MinHash sketch.

use crate::sketch::Sketch;
use crate::text::{body_hash, shingle_hashes, word_hashes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub body_hash: u64,
    pub words: u32,
    /// Present when the body has at least `min_words` words: shorter bodies
    /// take part in no content rule (identical teasers are not one story).
    pub sketch: Option<Sketch>,
}

impl Fingerprint {
    pub fn of(body: &str, shingle_words: usize, min_words: usize) -> Self {
        let words = word_hashes(body);
        let sketch = if words.len() >= min_words.max(1) {
            Sketch::from_shingles(&shingle_hashes(&words, shingle_words))
        } else {
            None
        };
        Self {
            body_hash: body_hash(&words),
            words: words.len() as u32,
            sketch,
        }
    }

    /// Whether the content rules apply to this body at all.
    pub fn is_matchable(&self) -> bool {
        self.sketch.is_some()
    }
}
