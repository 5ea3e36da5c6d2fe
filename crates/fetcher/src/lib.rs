//! newsflow's fetcher stage: reads feed lists, polls feeds politely, and
//! hands each new item's page on to the pipeline.
//!
//! The pure core — decoding, repair, parsing, identities, dates, schedule —
//! does no I/O; `Fetcher` is the thin async runner around it.

/// A regex compiled once, on first use, at the place it is written.
macro_rules! static_regex {
    ($pattern:literal) => {{
        static PATTERN: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new($pattern).expect("static regex"));
        &*PATTERN
    }};
}

mod config;
mod convert;
mod decode;
mod describe;
mod feed_list;
mod fetcher;
mod format;
mod host_limiter;
mod html_entities;
mod http;
mod identity;
mod parse;
mod repair;
mod schedule;
mod sink;
mod ssrf;
mod state;
mod supplement;
mod websub;
mod xml_tree;

pub use config::FetcherConfig;
pub use decode::{decode_feed_bytes, CharsetSource, DecodedText};
pub use describe::{describe_feed, describe_feed_statuses};
pub use feed_list::{
    feed_list_to_toml, import_opml, merge_feed_lists, parse_feed_list, parse_opml, FeedListError,
    FeedSource,
};
pub use fetcher::{FeedFetchError, FetchError, Fetcher, PollSummary};
pub use http::HttpError;
pub use identity::item_identity;
pub use newsflow_dates::parse_date;
pub use parse::{
    parse_feed, FeedError, ParsedFeed, ParsedItem, ParsedLink, ParsedPerson, ParsedText,
};
pub use repair::{repair_feed_text, Repair};
pub use sink::{PageSink, SinkError};
pub use ssrf::is_forbidden_address;
pub use state::{FeedStates, FeedStatus, PruneSummary, StateSizes};
pub use websub::{signature_is_valid, websub_router, VerifyQuery, WebSubError};
