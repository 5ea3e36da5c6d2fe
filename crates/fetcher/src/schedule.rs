//! When to poll a feed next: adaptive to how often it posts, never sooner
//! than the feed or server asks (`ttl`, `sy:updatePeriod`, `max-age`), and
//! backing off exponentially (with jitter) while it fails.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::FetcherConfig;

/// Hints the feed and server gave about how often to come back.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreshnessHints {
    pub ttl: Option<Duration>,
    pub update_period: Option<Duration>,
    pub max_age: Option<Duration>,
}

impl FreshnessHints {
    fn floor(&self) -> Duration {
        [self.ttl, self.update_period, self.max_age]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// Interval after a successful poll. With item dates, half the median gap
/// between posts (so a new post waits on average a quarter of the gap);
/// without them, the previous interval grows by half when nothing was new
/// and shrinks by half when something was.
pub fn next_interval(
    config: &FetcherConfig,
    previous: Option<Duration>,
    item_dates: &[DateTime<Utc>],
    found_new_items: bool,
    hints: FreshnessHints,
) -> Duration {
    let min = Duration::from_secs(config.min_interval_secs);
    let max = Duration::from_secs(config.max_interval_secs.max(config.min_interval_secs));
    let previous = previous.unwrap_or(Duration::from_secs(config.default_interval_secs));
    let from_rate = median_gap(item_dates).map(|gap| gap / 2);
    let adjusted = match (from_rate, found_new_items) {
        (Some(rate), true) => rate,
        (Some(rate), false) => rate.max(previous.mul_f64(1.25)).min(rate * 4),
        (None, true) => previous / 2,
        (None, false) => previous.mul_f64(1.5),
    };
    adjusted.max(hints.floor()).clamp(min, max)
}

fn median_gap(dates: &[DateTime<Utc>]) -> Option<Duration> {
    let mut sorted: Vec<i64> = dates.iter().map(|d| d.timestamp()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() < 3 {
        return None;
    }
    let mut gaps: Vec<i64> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    (median > 0).then(|| Duration::from_secs(median as u64))
}

/// Delay before retrying a feed that failed `failures` times in a row:
/// base·2^(n−1), capped, ±20 % jitter so failing feeds do not retry in step.
/// A server's `Retry-After` lengthens it, never beyond the maximum.
pub fn backoff(config: &FetcherConfig, failures: u32, retry_after: Option<Duration>) -> Duration {
    let max = Duration::from_secs(config.backoff_max_secs.max(1));
    let base = config.backoff_base_secs.max(1) as f64;
    let exponent = failures.saturating_sub(1).min(30) as i32;
    let raw = (base * 2f64.powi(exponent)).min(max.as_secs_f64());
    let jittered = raw * (0.8 + 0.4 * fastrand::f64());
    let delay = Duration::try_from_secs_f64(jittered)
        .unwrap_or(max)
        .min(max);
    retry_after.map_or(delay, |asked| delay.max(asked.min(max)))
}

/// Where in its second a feed's polls fall, in milliseconds: stable for a
/// feed, spread over the second by its URL. Due times are kept in whole
/// seconds, so without it every feed due in the same second is polled at
/// the same moment: once a second a burst of pages on the fetcher, and on
/// every stage after it, where each page waits behind the others.
pub fn poll_phase_ms(url: &str) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut hasher);
    (hasher.finish() % 1000) as i64
}

/// When a feed whose state says `next_poll_at` (unix seconds) is due, in
/// unix milliseconds; `i64::MAX` (never) stays never.
pub fn due_at_ms(next_poll_at: i64, url: &str) -> i64 {
    if next_poll_at == i64::MAX {
        return i64::MAX;
    }
    next_poll_at
        .saturating_mul(1000)
        .saturating_add(poll_phase_ms(url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config() -> FetcherConfig {
        FetcherConfig {
            min_interval_secs: 120,
            max_interval_secs: 6 * 3600,
            default_interval_secs: 900,
            ..Default::default()
        }
    }

    #[test]
    fn busy_feeds_are_polled_often_and_quiet_ones_rarely() {
        let hourly: Vec<_> = (0..10)
            .map(|h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap())
            .collect();
        let busy = next_interval(&config(), None, &hourly, true, FreshnessHints::default());
        assert_eq!(busy, Duration::from_secs(1800));
        let every_minute: Vec<_> = (0..10)
            .map(|m| Utc.with_ymd_and_hms(2026, 1, 1, 0, m, 0).unwrap())
            .collect();
        assert_eq!(
            next_interval(
                &config(),
                None,
                &every_minute,
                true,
                FreshnessHints::default()
            ),
            Duration::from_secs(120)
        );
        let mut quiet = Some(Duration::from_secs(900));
        for _ in 0..20 {
            quiet = Some(next_interval(
                &config(),
                quiet,
                &[],
                false,
                FreshnessHints::default(),
            ));
        }
        assert_eq!(quiet, Some(Duration::from_secs(6 * 3600)));
    }

    #[test]
    fn hints_are_a_floor() {
        let hints = FreshnessHints {
            ttl: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        assert_eq!(
            next_interval(&config(), None, &[], true, hints),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let c = config();
        let first = backoff(&c, 1, None).as_secs_f64();
        assert!((48.0..=72.0).contains(&first), "{first}");
        let fifth = backoff(&c, 5, None).as_secs_f64();
        assert!(
            (60.0 * 16.0 * 0.8..=60.0 * 16.0 * 1.2).contains(&fifth),
            "{fifth}"
        );
        assert!(backoff(&c, 40, None).as_secs() <= (6 * 3600) as u64 * 12 / 10);
        assert!(backoff(&c, 1, Some(Duration::from_secs(600))) >= Duration::from_secs(600));
        assert_eq!(
            backoff(&c, 1, Some(Duration::MAX)),
            Duration::from_secs(6 * 3600),
            "Retry-After is clamped to the backoff maximum"
        );
        assert_eq!(
            backoff(&c, u32::MAX, Some(Duration::MAX)),
            Duration::from_secs(6 * 3600)
        );
    }

    #[test]
    fn feeds_due_in_one_second_are_spread_over_it() {
        let due: Vec<i64> = (0..200)
            .map(|i| due_at_ms(1_000, &format!("https://outlet{i}.example/feed.xml")))
            .collect();
        assert!(due.iter().all(|d| (1_000_000..1_001_000).contains(d)));
        // Ten 100 ms slices of the second: none empty, none with a pile.
        let mut slices = [0usize; 10];
        for d in &due {
            slices[((d - 1_000_000) / 100) as usize] += 1;
        }
        assert!(slices.iter().all(|&n| (5..=40).contains(&n)), "{slices:?}");
        let url = "https://outlet7.example/feed.xml";
        assert_eq!(
            due_at_ms(5, url) - due_at_ms(4, url),
            1_000,
            "a feed keeps its phase"
        );
        assert_eq!(due_at_ms(i64::MAX, url), i64::MAX);
    }
}
