//! newsflow's feed reader: one feed document (RSS 0.9x/1.0/2.0, Atom 0.3/1.0,
//! CDF, JSON Feed) in, its title and items out. Pure: no I/O, no clock.
//!
//! Bytes are decoded (`decode`) and repaired (`repair`), bounded before any
//! tree is built (`bound_markup`, `bound_json`), read by feed-rs, filled in
//! from a lenient tree (`xml_tree`, `supplement`), and every item gets a
//! stable identity (`identity`). The fetcher's runner polls and calls this.

/// A regex compiled once, on first use, at the place it is written.
macro_rules! static_regex {
    ($pattern:literal) => {{
        static PATTERN: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new($pattern).expect("static regex"));
        &*PATTERN
    }};
}

mod bound_json;
mod bound_markup;
mod convert;
mod decode;
mod format;
mod identity;
mod parse;
mod repair;
mod supplement;
mod syndication;
mod xml_tree;

pub use bound_markup::{
    MAX_ATTRIBUTES_PER_ELEMENT, MAX_ELEMENTS_PER_DOCUMENT, MAX_ELEMENT_DEPTH,
    MAX_NAMESPACES_IN_SCOPE,
};
pub use decode::{decode_feed_bytes, CharsetSource, DecodedText};
pub use identity::item_identity;
pub use newsflow_dates::parse_date;
pub use parse::{
    parse_feed, parse_feed_limited, FeedError, FeedLimits, ParsedFeed, ParsedItem, ParsedLink,
    ParsedPerson, ParsedText, DEFAULT_MAX_ITEMS_PER_DOCUMENT,
};
pub use repair::{repair_feed_text, Repair, ENTITY_EXPANSION_FACTOR, MAX_ENTITY_VALUE_BYTES};
pub use syndication::syndication_period;
