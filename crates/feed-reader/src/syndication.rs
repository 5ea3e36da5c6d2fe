//! The RSS syndication module's publishing schedule, read from a feed.

use std::time::Duration;

/// `sy:updatePeriod` × `sy:updateFrequency` (RSS syndication module) as an interval.
pub fn syndication_period(period: Option<&str>, frequency: Option<&str>) -> Option<Duration> {
    let base = match period?.trim().to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    let frequency = frequency
        .and_then(|f| f.trim().parse::<u64>().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(Duration::from_secs(base / frequency))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_divided_by_frequency() {
        assert_eq!(
            syndication_period(Some("hourly"), Some("2")),
            Some(Duration::from_secs(1800))
        );
    }
}
