//! Sparse term vectors, sorted by term id. Weights are stored without IDF,
//! which is applied when vectors are compared: IDF keeps learning as the
//! stream goes on, and early stories must not keep the weights of a time
//! when every word looked rare.

use crate::vocabulary::{TermId, Vocabulary};

pub type SparseVector = Vec<(TermId, f32)>;

/// Cosine of `a` and `b` once each weight is multiplied by its term's IDF.
pub fn idf_cosine(a: &[(TermId, f32)], b: &[(TermId, f32)], vocabulary: &Vocabulary) -> f32 {
    let norms = idf_norm(a, vocabulary) * idf_norm(b, vocabulary);
    if norms <= 0.0 {
        return 0.0;
    }
    idf_dot(a, b, vocabulary) / norms
}

/// How two vectors compare overall and on names alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// IDF-weighted cosine over all terms.
    pub cosine: f32,
    /// IDF-weighted cosine over name terms only (0 when either has none).
    pub name_cosine: f32,
    /// Share of each side's squared IDF-weighted mass that lies on names.
    pub name_share: (f32, f32),
}

/// Squared IDF-weighted mass of a vector: in all, and on names alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mass {
    pub all: f32,
    pub names: f32,
}

pub fn idf_mass(v: &[(TermId, f32)], vocabulary: &Vocabulary) -> Mass {
    let mut mass = Mass::default();
    for &(t, w) in v {
        let x = w * vocabulary.idf(t);
        mass.all += x * x;
        if vocabulary.is_name(t) {
            mass.names += x * x;
        }
    }
    mass
}

/// Compares `a` and `b` overall and on their names.
pub fn idf_similarity(
    a: &[(TermId, f32)],
    b: &[(TermId, f32)],
    vocabulary: &Vocabulary,
) -> Similarity {
    idf_similarity_with_masses(
        a,
        idf_mass(a, vocabulary),
        b,
        idf_mass(b, vocabulary),
        vocabulary,
    )
}

/// As [`idf_similarity`], with the masses given (e.g. cached per event).
pub fn idf_similarity_with_masses(
    a: &[(TermId, f32)],
    a_mass: Mass,
    b: &[(TermId, f32)],
    b_mass: Mass,
    vocabulary: &Vocabulary,
) -> Similarity {
    // Walk the shorter vector and search the longer one: a story has tens
    // of terms, an event's centroid up to hundreds.
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let (mut rest, mut dot, mut name_dot) = (long, 0.0f32, 0.0f32);
    for &(term, weight) in short {
        let skip = rest.partition_point(|&(t, _)| t < term);
        rest = &rest[skip..];
        match rest.first() {
            Some(&(t, other)) if t == term => {
                let idf = vocabulary.idf(term);
                let x = weight * other * idf * idf;
                dot += x;
                if vocabulary.is_name(term) {
                    name_dot += x;
                }
                rest = &rest[1..];
            }
            Some(_) => {}
            None => break,
        }
    }
    similarity_from(dot, name_dot, a_mass, b_mass)
}

/// One story's vector spread over a dense array indexed by term, so that
/// comparing it with many event centroids is a plain scan of each centroid.
#[derive(Debug, Default)]
pub struct DenseQuery {
    /// Weight times IDF squared, per term; zero for absent terms.
    all: Vec<f32>,
    /// The same, for name terms only.
    names: Vec<f32>,
    loaded: Vec<TermId>,
    mass: Mass,
}

impl DenseQuery {
    pub fn load(&mut self, v: &[(TermId, f32)], vocabulary: &Vocabulary) {
        self.clear();
        let needed = vocabulary.len();
        if self.all.len() < needed {
            self.all.resize(needed, 0.0);
            self.names.resize(needed, 0.0);
        }
        for &(t, w) in v {
            let idf = vocabulary.idf(t);
            self.all[t as usize] = w * idf * idf;
            if vocabulary.is_name(t) {
                self.names[t as usize] = w * idf * idf;
            }
            self.loaded.push(t);
        }
        self.mass = idf_mass(v, vocabulary);
    }

    /// The loaded story compared with `centroid` (whose mass is given).
    pub fn similarity(&self, centroid: &[(TermId, f32)], centroid_mass: Mass) -> Similarity {
        let (mut dot, mut name_dot) = (0.0f32, 0.0f32);
        for &(t, w) in centroid {
            if let (Some(&a), Some(&n)) = (self.all.get(t as usize), self.names.get(t as usize)) {
                dot += a * w;
                name_dot += n * w;
            }
        }
        similarity_from(dot, name_dot, self.mass, centroid_mass)
    }

    fn clear(&mut self) {
        for t in self.loaded.drain(..) {
            self.all[t as usize] = 0.0;
            self.names[t as usize] = 0.0;
        }
    }
}

fn similarity_from(dot: f32, name_dot: f32, a: Mass, b: Mass) -> Similarity {
    let ratio = |x: f32, y: f32| if y > 0.0 { x / y } else { 0.0 };
    Similarity {
        cosine: ratio(dot, (a.all * b.all).sqrt()),
        name_cosine: ratio(name_dot, (a.names * b.names).sqrt()),
        name_share: (ratio(a.names, a.all), ratio(b.names, b.all)),
    }
}

pub fn idf_dot(a: &[(TermId, f32)], b: &[(TermId, f32)], vocabulary: &Vocabulary) -> f32 {
    let (mut i, mut j, mut dot) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let idf = vocabulary.idf(a[i].0);
                dot += a[i].1 * b[j].1 * idf * idf;
                i += 1;
                j += 1;
            }
        }
    }
    dot
}

pub fn idf_norm(v: &[(TermId, f32)], vocabulary: &Vocabulary) -> f32 {
    v.iter()
        .map(|&(t, w)| {
            let x = w * vocabulary.idf(t);
            x * x
        })
        .sum::<f32>()
        .sqrt()
}

/// `acc += scale * v`, keeping term order.
pub fn add_scaled(acc: &mut SparseVector, v: &[(TermId, f32)], scale: f32) {
    let mut merged = Vec::with_capacity(acc.len() + v.len());
    let (mut i, mut j) = (0, 0);
    while i < acc.len() || j < v.len() {
        if j == v.len() || (i < acc.len() && acc[i].0 < v[j].0) {
            merged.push(acc[i]);
            i += 1;
        } else if i == acc.len() || v[j].0 < acc[i].0 {
            merged.push((v[j].0, v[j].1 * scale));
            j += 1;
        } else {
            merged.push((acc[i].0, acc[i].1 + v[j].1 * scale));
            i += 1;
            j += 1;
        }
    }
    *acc = merged;
}

/// Keeps the `limit` terms heaviest after IDF, in term order. Ties are
/// broken by term id so the result never depends on anything but the input.
pub fn keep_heaviest(v: &mut SparseVector, limit: usize, vocabulary: &Vocabulary) {
    if v.len() <= limit {
        return;
    }
    let mut by_weight: Vec<(f32, TermId)> =
        v.iter().map(|&(t, w)| (w * vocabulary.idf(t), t)).collect();
    // Only the limit-th heaviest matters: a selection, not a full sort.
    let (_, &mut cutoff, _) = by_weight.select_nth_unstable_by(limit.max(1) - 1, |a, b| {
        b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
    });
    v.retain(|&(t, w)| {
        let x = (w * vocabulary.idf(t), t);
        x.0 > cutoff.0 || (x.0 == cutoff.0 && x.1 <= cutoff.1)
    });
    v.shrink_to_fit();
}

/// Term ids of the `limit` heaviest terms after IDF, heaviest first.
pub fn heaviest_terms(
    v: &[(TermId, f32)],
    limit: usize,
    vocabulary: &Vocabulary,
) -> Vec<(TermId, f32)> {
    let mut by_weight: Vec<(TermId, f32)> =
        v.iter().map(|&(t, w)| (t, w * vocabulary.idf(t))).collect();
    let heavier_first =
        |a: &(TermId, f32), b: &(TermId, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if limit < by_weight.len() {
        // Select the heaviest first, then order only those.
        by_weight.select_nth_unstable_by(limit, heavier_first);
        by_weight.truncate(limit);
    }
    by_weight.sort_unstable_by(heavier_first);
    by_weight
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary_with(terms: usize) -> Vocabulary {
        let mut vocabulary = Vocabulary::default();
        for i in 0..terms {
            vocabulary.id(&format!("t{i}"));
        }
        vocabulary
    }

    #[test]
    fn cosine_of_a_vector_with_itself_is_one_and_disjoint_is_zero() {
        let vocabulary = vocabulary_with(4);
        let a = vec![(0, 1.0), (2, 2.0)];
        let b = vec![(1, 1.0), (3, 1.0)];
        assert!((idf_cosine(&a, &a, &vocabulary) - 1.0).abs() < 1e-6);
        assert_eq!(idf_cosine(&a, &b, &vocabulary), 0.0);
    }

    #[test]
    fn dense_query_agrees_with_the_sparse_comparison() {
        let mut vocabulary = vocabulary_with(6);
        vocabulary.observe_document([0, 1, 2].into_iter());
        vocabulary.observe_casing(4, true);
        let story = vec![(0, 1.0), (2, 2.0), (4, 1.5)];
        let centroid = vec![(1, 0.5), (2, 1.0), (4, 2.0), (5, 1.0)];
        let mut dense = DenseQuery::default();
        dense.load(&story, &vocabulary);
        let fast = dense.similarity(&centroid, idf_mass(&centroid, &vocabulary));
        let slow = idf_similarity(&story, &centroid, &vocabulary);
        assert!((fast.cosine - slow.cosine).abs() < 1e-6);
        assert!((fast.name_cosine - slow.name_cosine).abs() < 1e-6);
        assert!(fast.name_cosine > 0.0);
    }

    #[test]
    fn add_scaled_merges_in_term_order() {
        let mut acc = vec![(0, 1.0), (3, 1.0)];
        add_scaled(&mut acc, &[(1, 1.0), (3, 2.0)], 0.5);
        assert_eq!(acc, vec![(0, 1.0), (1, 0.5), (3, 2.0)]);
    }

    #[test]
    fn keep_heaviest_drops_the_lightest_terms() {
        let vocabulary = vocabulary_with(4);
        let mut v = vec![(0, 0.1), (1, 3.0), (2, 2.0), (3, 0.2)];
        keep_heaviest(&mut v, 2, &vocabulary);
        assert_eq!(v, vec![(1, 3.0), (2, 2.0)]);
    }
}
