//! Settings of the deduplicator. Every field has a default, so a config file
//! only names what it changes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// A story is forgotten when nothing touched it (first copy, update or
    /// duplicate) for this long, measured on the articles' own fetch clock.
    pub window_secs: i64,
    /// At most this many stories are remembered; the least recently touched
    /// go first.
    pub max_stories: usize,
    /// Words per shingle of the similarity sketch.
    pub shingle_words: usize,
    /// Bodies shorter than this (in words) are only matched exactly (by URL,
    /// feed item or identical body): a sketch of a few words says nothing.
    pub min_words: usize,
    /// Estimated Jaccard similarity of word shingles at or above which two
    /// bodies are one story.
    pub near_jaccard: f32,
    /// Estimated containment (shared shingles over the shorter body's) at or
    /// above which a cut or extended copy is one story, provided the Jaccard
    /// estimate is at least `containment_min_jaccard`.
    pub near_containment: f32,
    /// The Jaccard estimate a containment match needs at least.
    pub containment_min_jaccard: f32,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            window_secs: 7 * 24 * 3600,
            max_stories: 1_000_000,
            shingle_words: 3,
            min_words: 30,
            near_jaccard: 0.18,
            near_containment: 0.6,
            containment_min_jaccard: 0.12,
        }
    }
}

impl DedupConfig {
    /// The near-duplicate acceptance rule these settings describe.
    pub fn near_rule(&self) -> crate::near_index::NearRule {
        crate::near_index::NearRule {
            jaccard: self.near_jaccard,
            containment: self.near_containment,
            containment_min_jaccard: self.containment_min_jaccard,
        }
    }
}
