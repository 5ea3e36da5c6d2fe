//! How fast events grow in this stream, learned as it flows: the gaps, in
//! stories, between an event's consecutive members. Stories without a time
//! fade by this pace instead of by a fixed count, so one configuration fits
//! a stream where each event's stories come together and one where they are
//! shuffled across the whole stream.

/// Gap histogram buckets per doubling: fine enough that the learned
/// half-life moves in steps of about 19 %.
const BUCKETS_PER_DOUBLING: f64 = 4.0;
const BUCKETS: usize = 4 * 48;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JoinPace {
    /// Count of observed gaps per logarithmic bucket.
    histogram: Vec<u64>,
    observed: u64,
}

impl Default for JoinPace {
    fn default() -> Self {
        Self {
            histogram: vec![0; BUCKETS],
            observed: 0,
        }
    }
}

impl JoinPace {
    /// Records that an event grew `gap` stories after it last grew.
    pub fn observe(&mut self, gap: u64) {
        let bucket = ((1.0 + gap as f64).log2() * BUCKETS_PER_DOUBLING) as usize;
        self.histogram[bucket.min(BUCKETS - 1)] += 1;
        self.observed += 1;
    }

    /// Checks what a snapshot could get wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.histogram.len() != BUCKETS {
            return Err(format!(
                "pace histogram has {} buckets",
                self.histogram.len()
            ));
        }
        Ok(())
    }

    pub fn observed(&self) -> u64 {
        self.observed
    }

    /// The gap below which a share `quantile` of the observed gaps fall
    /// (the upper edge of its bucket), or `None` before any was observed.
    pub fn quantile(&self, quantile: f64) -> Option<f64> {
        if self.observed == 0 {
            return None;
        }
        let wanted = (quantile.clamp(0.0, 1.0) * self.observed as f64)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0;
        for (bucket, &count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return Some(2f64.powf((bucket + 1) as f64 / BUCKETS_PER_DOUBLING) - 1.0);
            }
        }
        None
    }

    pub fn heap_bytes(&self) -> usize {
        self.histogram.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_observed_has_no_quantile() {
        assert_eq!(JoinPace::default().quantile(0.9), None);
    }

    #[test]
    fn the_quantile_bounds_the_observed_gaps_within_a_bucket() {
        let mut pace = JoinPace::default();
        for gap in 1..=100 {
            pace.observe(gap);
        }
        let q90 = pace.quantile(0.9).unwrap();
        assert!((90.0..=90.0 * 1.2).contains(&q90), "{q90}");
        let q50 = pace.quantile(0.5).unwrap();
        assert!((50.0..=50.0 * 1.2).contains(&q50), "{q50}");
    }

    #[test]
    fn a_shuffled_stream_learns_a_slower_pace_than_a_grouped_one() {
        let (mut grouped, mut shuffled) = (JoinPace::default(), JoinPace::default());
        for _ in 0..500 {
            grouped.observe(1);
            shuffled.observe(300);
        }
        assert!(grouped.quantile(0.9).unwrap() < shuffled.quantile(0.9).unwrap());
    }
}
