//! newsflow's fetcher stage: reads feed lists, polls feeds politely, and
//! hands each new item's page on to the pipeline.
//!
//! The pure feed reader (decoding, repair, parsing, identities) is the crate
//! `newsflow-feed-reader`, re-exported here; `Fetcher` is the async runner
//! around it: schedule, HTTP, state, WebSub.

mod blocking_parse;
mod config;
mod describe;
mod feed_list;
mod fetcher;
mod host_limiter;
mod http;
mod opml_export;
mod parse;
mod schedule;
mod sink;
mod ssrf;
mod state;
mod websub;

pub use config::{FetcherConfig, RawPageCompression};
pub use describe::{describe_feed, describe_feed_statuses};
pub use feed_list::{
    feed_list_to_toml, import_opml, merge_feed_lists, parse_feed_list, parse_opml, FeedListError,
    FeedSource,
};
pub use fetcher::{FeedFetchError, FetchError, Fetcher, PollSummary};
pub use http::HttpError;
pub use opml_export::feed_list_to_opml;
// The feed reader, re-exported: the runner's users name it through here.
pub use newsflow_feed_reader::{
    decode_feed_bytes, item_identity, parse_date, parse_feed, parse_feed_limited, repair_feed_text,
    CharsetSource, DecodedText, FeedError, FeedLimits, ParsedFeed, ParsedItem, ParsedLink,
    ParsedPerson, ParsedText, Repair, DEFAULT_MAX_ITEMS_PER_DOCUMENT, ENTITY_EXPANSION_FACTOR,
    MAX_ATTRIBUTES_PER_ELEMENT, MAX_ELEMENTS_PER_DOCUMENT, MAX_ELEMENT_DEPTH,
    MAX_ENTITY_VALUE_BYTES, MAX_NAMESPACES_IN_SCOPE,
};
pub use sink::{PageSink, SinkError};
pub use ssrf::is_forbidden_address;
pub use state::{FeedStates, FeedStatus, PruneSummary, StateSizes};
pub use websub::{signature_is_valid, websub_router, VerifyQuery, WebSubError};
