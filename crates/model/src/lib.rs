//! The messages newsflow's stages exchange, one module per topic, and the
//! envelope rules every message follows (JSON, `schema_version`, keys).

pub mod bytes_base64;
mod dead_letter;
mod envelope;
mod event;
mod page_compression;
mod raw;
pub mod schemas;
mod story;
mod url_canon;

pub use dead_letter::{DeadLetter, DeadLetterReason, DEAD_LETTER_PAYLOAD_CAP};
pub use envelope::{decode, encode, DecodeError, Message, SCHEMA_VERSION};
pub use event::{EventMember, EventRecord, EventStatus};
pub use page_compression::{PageBodyError, PageCompression};
pub use raw::RawPage;
pub use story::{Article, Carrier, DuplicateReason, DuplicateRecord, UniqueStory};
pub use url_canon::{canonical_url, story_id_for_url, TRACKING_PARAMS};

/// Logical topic names; the bus maps them to physical names (with a prefix).
pub mod topics {
    pub const RAW: &str = "raw";
    pub const ARTICLES: &str = "articles";
    pub const UNIQUE: &str = "unique";
    pub const DUPLICATES: &str = "duplicates";
    pub const EVENTS: &str = "events";
    /// Not a message between stages: the clusterer's operation log, which
    /// is its state on Kafka (read back by a clusterer that lost its own).
    pub const CLUSTERER_CHANGELOG: &str = "clusterer-changelog";
    /// Not a message between stages: dedup's remembered stories, one record
    /// per story (compacted), which is its state on Kafka.
    pub const DEDUP_CHANGELOG: &str = "dedup-changelog";
    /// Records a stage could not process or deliver, with their payloads.
    pub const DEAD_LETTERS: &str = "dead-letters";
}
