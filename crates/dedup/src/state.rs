//! What is remembered about one story: the unit the runner persists and a
//! restart restores.

use newsflow_model::{DuplicateRecord, UniqueStory};
use serde::{Deserialize, Serialize};

/// A page (one URL, under all its canonical spellings) known to carry a
/// story: the story's own page, or a copy of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownPage {
    /// Canonical URLs naming this page: its own, and its `rel=canonical`
    /// when that differs.
    pub keys: Vec<String>,
    /// `feed_url` + GUID of the feed item that announced the page.
    pub feed_item: Option<String>,
    /// Hash of the normalised body as last seen on this page.
    pub body_hash: u64,
    /// Words in that body: short bodies take no part in body matching.
    pub body_words: u32,
    /// Hashes of this page's earlier texts (latest last, at most
    /// `MAX_EARLIER_VERSIONS`): a replayed old version is recognised instead
    /// of being taken for yet another update.
    #[serde(default)]
    pub earlier_body_hashes: Vec<u64>,
    /// For a copy, the record that was emitted for it (re-emitted as is when
    /// the copy is seen again); `None` for the story's own page.
    pub duplicate: Option<DuplicateRecord>,
}

pub const MAX_EARLIER_VERSIONS: usize = 16;

/// One remembered story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStory {
    pub story: UniqueStory,
    /// The story's own page first, then its copies in arrival order.
    pub pages: Vec<KnownPage>,
    /// Unix seconds of the latest fetch that touched the story.
    pub last_seen: i64,
    /// Creation order; breaks ties in eviction.
    pub seq: u64,
}

/// The state changes of one `check`, for a runner to persist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateChanges {
    /// Stories created or modified, in their new state.
    pub written: Vec<StoredStory>,
    /// Ids of stories forgotten (evicted from the window).
    pub evicted: Vec<String>,
}
