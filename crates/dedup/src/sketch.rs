//! A MinHash sketch of a body's word shingles, built by one-permutation
//! hashing: each shingle is hashed once and falls into one of
//! `SIGNATURE_LEN` bins, each bin keeps its minimum, and empty bins borrow
//! from a pseudo-randomly chosen filled bin ("optimal densification",
//! Shrivastava 2017). The cost is linear in the body, not in
//! body × signature length, and the fraction of equal bins of two sketches
//! is an unbiased estimate of the shingle sets' Jaccard similarity.

use crate::hashing::mix64;

/// Bins per sketch. 256 keeps the Jaccard estimate's standard deviation at
/// or below 0.03 for the similarities the thresholds sit between.
pub const SIGNATURE_LEN: usize = 256;
/// LSH banding: `BANDS` bands of `ROWS` bins each, over the sketch's first
/// `BANDS * ROWS` bins. A pair becomes a candidate when any band agrees.
pub const BANDS: usize = 64;
pub const ROWS: usize = 2;

/// Each bin keeps 16 bits of (a hash of) its minimum: two different minima
/// agree by chance with probability 2^-16, which `jaccard` corrects for.
pub type Bin = u16;
const CHANCE_AGREEMENT: f32 = 1.0 / 65536.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    pub bins: [Bin; SIGNATURE_LEN],
    /// Number of shingles (with repeats) the body had.
    pub shingles: u32,
}

impl Sketch {
    /// `None` when there is nothing to sketch.
    pub fn from_shingles(shingles: &[u64]) -> Option<Self> {
        if shingles.is_empty() {
            return None;
        }
        let mut minima = [u32::MAX; SIGNATURE_LEN];
        let mut filled = [false; SIGNATURE_LEN];
        for &hash in shingles {
            let bin = (((hash >> 32) * SIGNATURE_LEN as u64) >> 32) as usize;
            let value = hash as u32;
            if !filled[bin] || value < minima[bin] {
                minima[bin] = value;
                filled[bin] = true;
            }
        }
        let mut bins = [0; SIGNATURE_LEN];
        for (index, bin) in bins.iter_mut().enumerate() {
            let source = if filled[index] {
                index
            } else {
                densify_source(index, &filled)
            };
            // Re-hash the minimum (and the bin it came from) so the kept
            // 16 bits are uniform: minima themselves are small numbers whose
            // high bits are mostly zero.
            *bin = mix64(u64::from(minima[source]) ^ ((source as u64) << 40)) as Bin;
        }
        Some(Self {
            bins,
            shingles: shingles.len() as u32,
        })
    }

    /// Estimated Jaccard similarity of the two shingle sets.
    pub fn jaccard(&self, other: &Sketch) -> f32 {
        let agree = self
            .bins
            .iter()
            .zip(other.bins.iter())
            .filter(|(a, b)| a == b)
            .count();
        jaccard_from_agreement(agree)
    }

    /// Estimated share of the smaller body's shingles found in the other.
    pub fn containment(&self, other: &Sketch, jaccard: f32) -> f32 {
        containment(self.shingles, other.shingles, jaccard)
    }

    /// One key per band; equal keys mean the band's bins all agree.
    pub fn band_keys(&self) -> impl Iterator<Item = u64> + '_ {
        (0..BANDS).map(move |band| {
            let rows = &self.bins[band * ROWS..(band + 1) * ROWS];
            let packed = rows
                .iter()
                .fold(band as u64, |acc, &bin| (acc << 16) | u64::from(bin));
            mix64(packed)
        })
    }
}

/// Jaccard estimate from the number of agreeing bins.
pub fn jaccard_from_agreement(agree: usize) -> f32 {
    let observed = agree as f32 / SIGNATURE_LEN as f32;
    ((observed - CHANCE_AGREEMENT) / (1.0 - CHANCE_AGREEMENT)).clamp(0.0, 1.0)
}

/// Shared shingles over the smaller body's, derived from the Jaccard
/// estimate and both sizes: |A ∩ B| = J (|A| + |B|) / (1 + J).
pub fn containment(shingles_a: u32, shingles_b: u32, jaccard: f32) -> f32 {
    let (a, b) = (shingles_a.max(1) as f32, shingles_b.max(1) as f32);
    let shared = jaccard * (a + b) / (1.0 + jaccard);
    (shared / a.min(b)).clamp(0.0, 1.0)
}

/// The filled bin an empty bin copies: a fixed pseudo-random walk from the
/// empty bin's index, so two sketches borrow from the same place.
fn densify_source(index: usize, filled: &[bool; SIGNATURE_LEN]) -> usize {
    let mut state = index as u64 ^ 0xd1b5_4a32_d192_ed03;
    loop {
        state = mix64(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
        let candidate = (((state >> 32) * SIGNATURE_LEN as u64) >> 32) as usize;
        if filled[candidate] {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shingles(range: std::ops::Range<u64>) -> Vec<u64> {
        range.map(mix64).collect()
    }

    #[test]
    fn identical_sets_have_identical_sketches() {
        let a = Sketch::from_shingles(&shingles(0..500)).unwrap();
        let mut reversed = shingles(0..500);
        reversed.reverse();
        let b = Sketch::from_shingles(&reversed).unwrap();
        assert_eq!(a, b);
        assert!((a.jaccard(&b) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn jaccard_estimate_is_close_to_the_truth() {
        // |A ∩ B| = 300, |A ∪ B| = 900: J = 1/3.
        let a = Sketch::from_shingles(&shingles(0..600)).unwrap();
        let b = Sketch::from_shingles(&shingles(300..900)).unwrap();
        let estimate = a.jaccard(&b);
        assert!((estimate - 1.0 / 3.0).abs() < 0.1, "estimate {estimate}");
        let unrelated = Sketch::from_shingles(&shingles(10_000..10_600)).unwrap();
        assert!(a.jaccard(&unrelated) < 0.05);
    }

    #[test]
    fn small_sets_are_densified_consistently() {
        let a = Sketch::from_shingles(&shingles(0..20)).unwrap();
        let b = Sketch::from_shingles(&shingles(0..20)).unwrap();
        assert_eq!(a, b);
        let c = Sketch::from_shingles(&shingles(0..19)).unwrap();
        assert!(a.jaccard(&c) > 0.8);
    }

    #[test]
    fn containment_of_a_cut_copy_is_high() {
        let full = Sketch::from_shingles(&shingles(0..900)).unwrap();
        let cut = Sketch::from_shingles(&shingles(0..300)).unwrap();
        let jaccard = full.jaccard(&cut);
        assert!(full.containment(&cut, jaccard) > 0.75);
    }

    #[test]
    fn empty_input_has_no_sketch() {
        assert!(Sketch::from_shingles(&[]).is_none());
    }
}
