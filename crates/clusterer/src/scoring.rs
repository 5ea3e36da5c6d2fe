//! Clustering quality against gold labels: BCubed precision/recall/F1 and
//! NMI as MStream (Yin et al. 2018) defines it. Mirrors the benchmark's
//! `score.py`, so the quality bench can print one table without Python.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub bcubed_precision: f64,
    pub bcubed_recall: f64,
    pub bcubed_f1: f64,
    pub nmi: f64,
    pub predicted_clusters: usize,
    pub gold_clusters: usize,
}

/// Scores `predicted[i]` against `gold[i]` (one label per document).
pub fn score(gold: &[&str], predicted: &[&str]) -> Scores {
    assert_eq!(
        gold.len(),
        predicted.len(),
        "one predicted label per gold label"
    );
    let n = gold.len() as f64;
    let mut cells: HashMap<(&str, &str), f64> = HashMap::new();
    let mut gold_sizes: HashMap<&str, f64> = HashMap::new();
    let mut predicted_sizes: HashMap<&str, f64> = HashMap::new();
    for (&g, &p) in gold.iter().zip(predicted) {
        *cells.entry((g, p)).or_default() += 1.0;
        *gold_sizes.entry(g).or_default() += 1.0;
        *predicted_sizes.entry(p).or_default() += 1.0;
    }
    let (mut precision, mut recall, mut mutual) = (0.0, 0.0, 0.0);
    for (&(g, p), &v) in &cells {
        let (a, b) = (gold_sizes[g], predicted_sizes[p]);
        precision += v * v / b;
        recall += v * v / a;
        mutual += v / n * (n * v / (a * b)).ln();
    }
    let (precision, recall) = if n > 0.0 {
        (precision / n, recall / n)
    } else {
        (0.0, 0.0)
    };
    let entropy =
        |sizes: &HashMap<&str, f64>| -sizes.values().map(|s| s / n * (s / n).ln()).sum::<f64>();
    let (hg, hp) = (entropy(&gold_sizes), entropy(&predicted_sizes));
    let nmi = if hg > 0.0 && hp > 0.0 {
        mutual / (hg * hp).sqrt()
    } else if hg == hp {
        1.0
    } else {
        0.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Scores {
        bcubed_precision: precision,
        bcubed_recall: recall,
        bcubed_f1: f1,
        nmi,
        predicted_clusters: predicted_sizes.len(),
        gold_clusters: gold_sizes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_clustering_scores_one() {
        let s = score(&["a", "a", "b"], &["x", "x", "y"]);
        assert!((s.bcubed_f1 - 1.0).abs() < 1e-12 && (s.nmi - 1.0).abs() < 1e-12);
    }

    #[test]
    fn matches_hand_computed_bcubed() {
        // Gold {1,2,3}{4}; predicted {1,2}{3,4}.
        let s = score(&["a", "a", "a", "b"], &["x", "x", "y", "y"]);
        // Precision: 1, 1, 1/2, 1/2 -> 0.75. Recall: 2/3, 2/3, 1/3, 1 -> 2/3.
        assert!((s.bcubed_precision - 0.75).abs() < 1e-12);
        assert!((s.bcubed_recall - 2.0 / 3.0).abs() < 1e-12);
    }
}
