//! Any bytes, any content type: `extract` returns, never panics, and never
//! hands back an article with an empty body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsflow_cleaner::{extract, CleanerConfig};

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("text/html"),
    Some("text/html; charset=windows-1251"),
    Some("application/octet-stream"),
];

fuzz_target!(|data: &[u8]| {
    let (selector, page) = data.split_first().map_or((0, data), |(s, rest)| (*s, rest));
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let config = CleanerConfig { min_body_chars: 20, ..CleanerConfig::default() };
    if let Ok(article) = extract(page, content_type, Some("https://example.com/a/b"), &config) {
        assert!(!article.body.trim().is_empty());
    }
});
