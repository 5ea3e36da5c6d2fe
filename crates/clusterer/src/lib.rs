//! newsflow's clusterer: stories from many outlets grouped into events the
//! moment they arrive.
//!
//! - [`Clusterer`] is the pure core: single pass, deterministic, no I/O.
//!   Each story is compared, by an IDF-weighted cosine learned online, with
//!   the active events an inverted index proposes; it joins the most similar
//!   one (with time decay) or opens a new event. Events that converge are
//!   merged; events that stay quiet are closed.
//! - [`ClusterStage`] is the runner: the core plus crash-safe state in SQLite
//!   (an operation log replayed on open). The same log, as
//!   [`ChangelogRecord`]s, can be published elsewhere and restored from.
//! - [`replay`] runs the core over a JSON-lines file, for `newsflow cluster`
//!   and the quality benchmarks.

mod changelog;
mod clusterer;
mod config;
mod error;
mod event;
mod features;
mod index;
mod pace;
pub mod replay;
mod restore;
pub mod scoring;
mod snapshot;
mod stage;
mod tokenize;
mod vector;
mod vocabulary;
mod word_segments;

pub use changelog::{
    ChangelogRecord, SnapshotChunk, OPERATIONS_RING, SNAPSHOT_CHUNK_BYTES, SNAPSHOT_EVERY,
};
pub use clusterer::{Assignment, Clusterer, Document, EarlyRetirements};
pub use config::ClustererConfig;
pub use error::ClusterError;
pub use restore::{ChangelogRestore, IncompleteRestore, ReadEnd, RestoreFailure, RestoreSummary};
pub use stage::{document_of_story, ClusterStage, Restored};
pub use tokenize::{tokenize, Token};
