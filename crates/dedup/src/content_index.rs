//! The content rules over remembered stories: identical normalised body,
//! then near-identical body by sketch.

use std::collections::HashMap;

use newsflow_model::DuplicateReason;

use crate::fingerprint::Fingerprint;
use crate::near_index::{NearIndex, NearMatch, NearRule};

/// A remembered story that a body matches by content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContentMatch {
    pub slot: u32,
    pub reason: DuplicateReason,
    pub similarity: f32,
}

pub struct ContentIndex {
    rule: NearRule,
    by_body: HashMap<u64, u32>,
    near: NearIndex,
}

impl ContentIndex {
    pub fn new(rule: NearRule) -> Self {
        Self {
            rule,
            by_body: HashMap::new(),
            near: NearIndex::new(),
        }
    }

    pub fn rule(&self) -> &NearRule {
        &self.rule
    }

    /// The story whose body equals this one, else the most similar one the
    /// near rule accepts.
    pub fn find(&self, fingerprint: &Fingerprint) -> Option<ContentMatch> {
        let sketch = fingerprint.sketch.as_ref()?;
        if let Some(&slot) = self.by_body.get(&fingerprint.body_hash) {
            return Some(ContentMatch {
                slot,
                reason: DuplicateReason::SameBody,
                similarity: 1.0,
            });
        }
        self.near
            .best_match(sketch, &self.rule)
            .map(|found| ContentMatch {
                slot: found.slot,
                reason: DuplicateReason::NearDuplicateBody,
                similarity: found.jaccard,
            })
    }

    /// Similarity to the sketch remembered for `slot`, when the near rule
    /// accepts it.
    pub fn accepted_similarity(&self, fingerprint: &Fingerprint, slot: u32) -> Option<f32> {
        let found: NearMatch = self.near.compare(fingerprint.sketch.as_ref()?, slot)?;
        self.rule
            .accepts(found.jaccard, found.containment)
            .then_some(found.jaccard)
    }

    /// Remembers a body of the story in `slot` (its own, or a copy's) for
    /// exact matching; the first story to claim a body keeps it.
    pub fn add_body(&mut self, fingerprint: &Fingerprint, slot: u32) {
        if fingerprint.is_matchable() {
            self.by_body.entry(fingerprint.body_hash).or_insert(slot);
        }
    }

    pub fn add_body_hash(&mut self, body_hash: u64, slot: u32) {
        self.by_body.entry(body_hash).or_insert(slot);
    }

    pub fn remove_body(&mut self, body_hash: u64, slot: u32) {
        if self.by_body.get(&body_hash) == Some(&slot) {
            self.by_body.remove(&body_hash);
        }
    }

    /// Sets (or clears) the sketch the story in `slot` is compared on.
    pub fn set_sketch(&mut self, slot: u32, fingerprint: &Fingerprint) {
        match &fingerprint.sketch {
            Some(sketch) => self.near.insert(slot, sketch),
            None => self.near.remove(slot),
        }
    }

    pub fn remove_sketch(&mut self, slot: u32) {
        self.near.remove(slot);
    }

    /// Stories sharing an LSH band with `sketch` (for measurements).
    pub fn candidate_count(&self, sketch: &crate::sketch::Sketch) -> usize {
        self.near.candidate_count(sketch)
    }

    /// Stories with a sketch.
    pub fn sketched(&self) -> usize {
        self.near.len()
    }

    /// Heap memory: sketches, band table, and the body map (estimated from
    /// its capacity: 12 bytes of entry and 1 control byte per bucket).
    pub fn heap_bytes(&self) -> usize {
        self.near.heap_bytes() + self.by_body.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }
}
