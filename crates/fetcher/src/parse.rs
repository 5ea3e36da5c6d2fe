//! The feed reader's parsing API (crate `newsflow-feed-reader`), where the
//! runner's modules look for it.

pub use newsflow_feed_reader::{
    parse_feed_limited, FeedError, FeedLimits, ParsedFeed, ParsedItem,
    DEFAULT_MAX_ITEMS_PER_DOCUMENT,
};
