//! Any bytes, any content type: `parse_feed` returns (a feed or an error),
//! never panics or overflows the stack, and never reads more items than
//! the per-document limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsflow_fetcher::{parse_feed_limited, FeedLimits};

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=windows-1252"),
    Some("application/feed+json"),
    Some("text/xml; charset=utf-16"),
];

fuzz_target!(|data: &[u8]| {
    let (selector, body) = data.split_first().map_or((0, data), |(s, rest)| (*s, rest));
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let limits = FeedLimits { max_items: 5 };
    if let Ok(feed) = parse_feed_limited(body, content_type, "https://example.com/feed/", &limits) {
        assert!(feed.items.len() <= limits.max_items, "{} items", feed.items.len());
    }
});
