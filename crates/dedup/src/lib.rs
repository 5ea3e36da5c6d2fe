//! The deduplicator stage: one story, however many times it is published.
//!
//! An article is the same story as a remembered one when, in this order:
//! its canonical URL is known (same text: unchanged; changed text: an
//! update of the story), its feed item (feed URL + GUID) is known, its
//! `rel=canonical` names a known page whose text agrees, its normalised body
//! is identical, or its body is near-identical by a MinHash sketch of word
//! shingles found through LSH banding. Otherwise it starts a new story.
//! See `DedupConfig` for the thresholds and the crate README for the
//! measurements they were chosen from.

mod analysis;
mod band_table;
pub mod benchmark_set;
mod changelog;
mod config;
pub mod content_index;
mod deduplicator;
mod fingerprint;
mod hashing;
pub mod near_index;
pub mod replay;
pub mod sketch;
mod stage;
mod state;
pub mod text;
mod verdict;

pub use changelog::{
    story_key, ChangelogEntry, DedupChangelogRecord, DedupIncompleteRestore, DedupRestore,
    DedupRestoreFailure, DedupRestoreSummary,
};
pub use config::DedupConfig;
pub use content_index::{ContentIndex, ContentMatch};
pub use deduplicator::Deduplicator;
pub use fingerprint::Fingerprint;
pub use near_index::NearRule;
pub use replay::{ReplayError, ReplaySummary};
pub use stage::{DedupError, DedupStage};
pub use state::{KnownPage, StateChanges, StoredStory};
pub use verdict::Verdict;
