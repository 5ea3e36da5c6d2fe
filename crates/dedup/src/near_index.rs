//! Remembered sketches and the LSH band table over them: finds the stories
//! whose text is near a new body without comparing against every story.

use crate::band_table::BandTable;
use crate::sketch::{Bin, Sketch, BANDS, ROWS, SIGNATURE_LEN};

/// A remembered story whose sketch is close to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearMatch {
    pub slot: u32,
    pub jaccard: f32,
    pub containment: f32,
}

/// When a candidate counts as the same story.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearRule {
    pub jaccard: f32,
    pub containment: f32,
    pub containment_min_jaccard: f32,
}

impl NearRule {
    pub fn accepts(&self, jaccard: f32, containment: f32) -> bool {
        jaccard >= self.jaccard
            || (containment >= self.containment && jaccard >= self.containment_min_jaccard)
    }
}

/// Bins compared first, to reject most LSH candidates after reading two
/// cache lines instead of eight. They lie outside the banded bins, so for
/// a candidate they are an unbiased sample of its similarity.
const SCREEN: std::ops::Range<usize> = BANDS * ROWS..BANDS * ROWS + 64;

/// Fewest agreeing screening bins a pair the rule could accept shows,
/// except with negligible probability: with 64 bins, 3 agreements at
/// J = 0.18 fail with probability ~3e-4, at J = 0.23 ~1e-5; pairs only
/// near the containment floor (J = 0.12) lose ~1 %.
fn screen_floor(rule: &NearRule) -> usize {
    let lowest = rule.jaccard.min(rule.containment_min_jaccard);
    if lowest >= 0.1 {
        3
    } else {
        0
    }
}

/// Sketches are stored by slot (the caller's story slot) in one flat array,
/// so a story costs `SIGNATURE_LEN` bins and its band entries, no more.
pub struct NearIndex {
    bins: Vec<Bin>,
    /// Shingle count per slot; 0 marks a slot with no sketch.
    shingles: Vec<u32>,
    bands: BandTable,
    indexed: usize,
}

impl Default for NearIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl NearIndex {
    pub fn new() -> Self {
        Self {
            bins: Vec::new(),
            shingles: Vec::new(),
            bands: BandTable::new(),
            indexed: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.indexed
    }

    pub fn is_empty(&self) -> bool {
        self.indexed == 0
    }

    pub fn contains(&self, slot: u32) -> bool {
        self.shingles.get(slot as usize).is_some_and(|&n| n > 0)
    }

    /// Remembers `sketch` under `slot`, replacing what the slot had.
    pub fn insert(&mut self, slot: u32, sketch: &Sketch) {
        self.remove(slot);
        let index = slot as usize;
        if self.shingles.len() <= index {
            self.shingles.resize(index + 1, 0);
            self.bins.resize((index + 1) * SIGNATURE_LEN, 0);
        }
        self.bins[index * SIGNATURE_LEN..(index + 1) * SIGNATURE_LEN].copy_from_slice(&sketch.bins);
        self.shingles[index] = sketch.shingles.max(1);
        for key in sketch.band_keys() {
            self.bands.insert(key, slot);
        }
        self.indexed += 1;
    }

    pub fn remove(&mut self, slot: u32) {
        let Some(stored) = self.sketch(slot) else {
            return;
        };
        for key in stored.band_keys() {
            self.bands.remove(key, slot);
        }
        self.shingles[slot as usize] = 0;
        self.indexed -= 1;
    }

    pub fn sketch(&self, slot: u32) -> Option<Sketch> {
        let index = slot as usize;
        let shingles = *self.shingles.get(index)?;
        if shingles == 0 {
            return None;
        }
        let mut bins = [0; SIGNATURE_LEN];
        bins.copy_from_slice(&self.bins[index * SIGNATURE_LEN..(index + 1) * SIGNATURE_LEN]);
        Some(Sketch { bins, shingles })
    }

    /// Compares `sketch` with the remembered sketch in `slot`.
    pub fn compare(&self, sketch: &Sketch, slot: u32) -> Option<NearMatch> {
        self.compare_with_floor(sketch, slot, 0)
    }

    /// `compare`, but gives up early (`None`) when fewer than `floor` of the
    /// screening bins agree.
    fn compare_with_floor(&self, sketch: &Sketch, slot: u32, floor: usize) -> Option<NearMatch> {
        let index = slot as usize;
        let shingles = *self.shingles.get(index)?;
        if shingles == 0 {
            return None;
        }
        let stored = &self.bins[index * SIGNATURE_LEN..(index + 1) * SIGNATURE_LEN];
        let screened = stored[SCREEN]
            .iter()
            .zip(sketch.bins[SCREEN].iter())
            .filter(|(a, b)| a == b)
            .count();
        if screened < floor {
            return None;
        }
        let agree = stored
            .iter()
            .zip(sketch.bins.iter())
            .filter(|(a, b)| a == b)
            .count();
        let jaccard = crate::sketch::jaccard_from_agreement(agree);
        let containment = crate::sketch::containment(sketch.shingles, shingles, jaccard);
        Some(NearMatch {
            slot,
            jaccard,
            containment,
        })
    }

    /// How many distinct stories share at least one band with `sketch`
    /// (the work a lookup does; for measurements).
    pub fn candidate_count(&self, sketch: &Sketch) -> usize {
        self.candidates(sketch).len()
    }

    fn candidates(&self, sketch: &Sketch) -> Vec<u32> {
        let keys: Vec<u64> = sketch.band_keys().collect();
        self.bands.warm(&keys);
        let mut candidates: Vec<u32> = Vec::new();
        for &key in &keys {
            self.bands.for_each(key, |slot| candidates.push(slot));
        }
        candidates.sort_unstable();
        candidates.dedup();
        // Same trick for the candidates' screening bins (see `compare`).
        let touched = candidates.iter().fold(0u16, |acc, &slot| {
            let start = slot as usize * SIGNATURE_LEN + SCREEN.start;
            acc ^ self.bins[start] ^ self.bins[start + SCREEN.len() - 1]
        });
        std::hint::black_box(touched);
        candidates
    }

    /// The most similar remembered story that `rule` accepts. Ties go to the
    /// lower slot so the answer does not depend on probe order.
    pub fn best_match(&self, sketch: &Sketch, rule: &NearRule) -> Option<NearMatch> {
        let floor = screen_floor(rule);
        self.candidates(sketch)
            .into_iter()
            .filter_map(|slot| self.compare_with_floor(sketch, slot, floor))
            .filter(|found| rule.accepts(found.jaccard, found.containment))
            .fold(None, |best: Option<NearMatch>, found| match best {
                Some(b) if b.jaccard >= found.jaccard => Some(b),
                _ => Some(found),
            })
    }

    /// Heap memory held by the index (sketches, sizes, band table).
    pub fn heap_bytes(&self) -> usize {
        self.bins.capacity() * std::mem::size_of::<Bin>()
            + self.shingles.capacity() * std::mem::size_of::<u32>()
            + self.bands.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::mix64;

    fn sketch_of(range: std::ops::Range<u64>) -> Sketch {
        let shingles: Vec<u64> = range.map(mix64).collect();
        Sketch::from_shingles(&shingles).unwrap()
    }

    const RULE: NearRule = NearRule {
        jaccard: 0.3,
        containment: 0.8,
        containment_min_jaccard: 0.1,
    };

    #[test]
    fn finds_the_near_copy_among_unrelated_ones() {
        let mut index = NearIndex::new();
        for slot in 0..200u32 {
            let start = 1_000_000 + u64::from(slot) * 1000;
            index.insert(slot, &sketch_of(start..start + 400));
        }
        index.insert(500, &sketch_of(0..400));
        let found = index.best_match(&sketch_of(40..440), &RULE).unwrap();
        assert_eq!(found.slot, 500);
        assert!(found.jaccard > 0.6);
        assert!(index.best_match(&sketch_of(5000..5400), &RULE).is_none());
    }

    #[test]
    fn removed_and_replaced_sketches_are_not_found() {
        let mut index = NearIndex::new();
        index.insert(3, &sketch_of(0..400));
        index.insert(3, &sketch_of(9000..9400));
        assert_eq!(index.len(), 1);
        assert!(index.best_match(&sketch_of(0..400), &RULE).is_none());
        assert_eq!(
            index
                .best_match(&sketch_of(9000..9400), &RULE)
                .unwrap()
                .slot,
            3
        );
        index.remove(3);
        assert!(index.is_empty());
        assert!(index.best_match(&sketch_of(9000..9400), &RULE).is_none());
    }
}
