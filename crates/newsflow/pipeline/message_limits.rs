//! Whether the fetcher's page body cap fits the bus's message limit.
//!
//! A `raw` record carries the page body base64-encoded: 4 bytes for every 3
//! (rounded up), plus the record's other fields (URLs, title, summary, a
//! few hundred bytes usually; [`RAW_METADATA_ALLOWANCE`] leaves room for
//! long ones). With the defaults, a 10 MiB body is at most 13,981,016 bytes
//! of base64, plus 64 KiB, under the 16 MiB limit of either bus. A page
//! above the limit is not lost, but goes to the dead letters: a cap that
//! lets such pages through is a configuration worth a warning.

/// Room for a `raw` record's fields other than the body.
pub const RAW_METADATA_ALLOWANCE: u64 = 64 * 1024;

/// The largest `raw` record a body of `max_body_bytes` makes.
pub fn largest_raw_record(max_body_bytes: u64) -> u64 {
    max_body_bytes.div_ceil(3).saturating_mul(4) + RAW_METADATA_ALLOWANCE
}

/// The largest body whose `raw` record fits `max_message_bytes`.
pub fn largest_fitting_body(max_message_bytes: u64) -> u64 {
    max_message_bytes.saturating_sub(RAW_METADATA_ALLOWANCE) / 4 * 3
}

/// Warns when pages the fetcher accepts could not be put on the bus.
pub fn warn_if_inconsistent(max_body_bytes: u64, max_message_bytes: u64, limit_key: &str) {
    let largest = largest_raw_record(max_body_bytes);
    if largest > max_message_bytes {
        tracing::warn!(
            fetcher.max_body_bytes = max_body_bytes,
            largest_raw_record = largest,
            max_message_bytes,
            "a page at fetcher.max_body_bytes makes a raw record (base64, 4 bytes per 3, plus \
             metadata) larger than {limit_key}: such pages go to the dead letters; set \
             fetcher.max_body_bytes to at most {} or raise {limit_key}",
            largest_fitting_body(max_message_bytes)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_body_cap_fits_the_default_message_limit() {
        let body = newsflow_fetcher::FetcherConfig::default().max_body_bytes;
        let limit = newsflow_bus::KafkaConfig::default().max_message_bytes as u64;
        assert!(largest_raw_record(body) <= limit);
        assert_eq!(
            limit,
            newsflow_bus::EmbeddedConfig::default().max_message_bytes as u64
        );
    }

    #[test]
    fn the_largest_fitting_body_fits_and_one_more_third_does_not() {
        for limit in [1_000_000u64, 8 << 20, 16 << 20] {
            let body = largest_fitting_body(limit);
            assert!(largest_raw_record(body) <= limit, "{limit}");
            assert!(largest_raw_record(body + 3) > limit, "{limit}");
        }
    }

    #[test]
    fn a_real_raw_record_stays_within_the_estimate() {
        let body = vec![b'x'; 30_001];
        let page = newsflow_model::RawPage {
            schema_version: 1,
            item_id: "id".into(),
            feed_url: "https://example.org/feed".into(),
            outlet: "Outlet".into(),
            item_link: "https://example.org/a".into(),
            item_title: Some("Title".into()),
            item_summary: Some("Summary".into()),
            item_published: None,
            final_url: "https://example.org/a".into(),
            http_status: 200,
            content_type: Some("text/html".into()),
            fetched_at: chrono::Utc::now(),
            body,
            body_compression: None,
        };
        let encoded = newsflow_model::encode(&page).len() as u64;
        assert!(encoded <= largest_raw_record(30_001));
        assert!(encoded > 30_001 * 4 / 3, "the body is base64-encoded");
    }
}
