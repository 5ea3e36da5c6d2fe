//! dedup's changelog on a bus whose consumers can move between machines
//! (Kafka): its state is a table of remembered stories, so the changelog is
//! that table as a compacted topic, one record per story keyed by its id
//! (the story's row, text included), and a tombstone (an empty record) when
//! the story leaves the window. It does not grow with history: compaction
//! keeps the newest record per story and drops evicted ones.
//!
//! Ownership works as on the clusterer's changelog: once a new owner's
//! restore reached the end, it writes a claim with the next epoch and
//! stamps its rows with it; a restore ignores rows of an older epoch that
//! come after a newer claim (a previous owner that has not noticed yet).
//! This module knows no bus: it turns state changes into records and
//! records back into state.

use newsflow_model::{decode, topics, Message, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};

use crate::stage::{DedupError, DedupStage};
use crate::state::StoredStory;

const CLAIM_KEY: &str = "claim";

/// The key of a story's record.
pub fn story_key(story_id: &str) -> String {
    format!("story/{story_id}")
}

/// One record of dedup's changelog: a story's row, or an owner's claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedupChangelogRecord {
    pub schema_version: u32,
    /// The owner that wrote the record.
    pub epoch: u64,
    /// The story as remembered, its text included; `None` on a claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<StoredStory>,
}

impl Message for DedupChangelogRecord {
    const TOPIC: &'static str = topics::DEDUP_CHANGELOG;
    fn key(&self) -> String {
        match &self.story {
            Some(stored) => story_key(&stored.story.story_id),
            None => CLAIM_KEY.to_string(),
        }
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

/// What a check changed, for the changelog.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangelogEntry {
    /// A story's row, new or changed.
    Row(Box<DedupChangelogRecord>),
    /// A story left the window: an empty record under its key.
    Tombstone { key: String },
}

impl ChangelogEntry {
    pub(crate) fn row(epoch: u64, story: StoredStory) -> Self {
        Self::Row(Box::new(DedupChangelogRecord {
            schema_version: SCHEMA_VERSION,
            epoch,
            story: Some(story),
        }))
    }
}

/// What a restore read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupRestoreSummary {
    pub stories: u64,
    pub tombstones: u64,
    pub unreadable: u64,
    /// Rows of a previous owner written after a newer claim.
    pub fenced: u64,
    pub epoch: u64,
}

/// A restore that could not read dedup's changelog completely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "dedup's changelog could not be restored completely ({reasons}); refusing to start with a \
     partial window. Fix the broker or topic, or start with --accept-incomplete-restore to go \
     on with what was read"
)]
pub struct DedupIncompleteRestore {
    pub reasons: String,
    pub stopped_short: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DedupRestoreFailure {
    #[error(transparent)]
    Incomplete(DedupIncompleteRestore),
    #[error(transparent)]
    State(#[from] DedupError),
}

/// A restore in progress into one stage.
pub struct DedupRestore<'a> {
    stage: &'a mut DedupStage,
    summary: DedupRestoreSummary,
}

impl<'a> DedupRestore<'a> {
    /// Starts a restore: the stage forgets what it held.
    pub fn begin(stage: &'a mut DedupStage) -> Result<Self, DedupError> {
        stage.reset()?;
        Ok(Self {
            stage,
            summary: DedupRestoreSummary::default(),
        })
    }

    /// Takes the next changelog record (key and payload), in changelog
    /// order.
    pub fn offer(&mut self, key: Option<&str>, payload: &[u8]) -> Result<(), DedupError> {
        if payload.is_empty() {
            match key.and_then(|k| k.strip_prefix("story/")) {
                Some(story_id) => {
                    self.stage.forget_row(story_id)?;
                    self.summary.tombstones += 1;
                }
                None => self.summary.unreadable += 1,
            }
            return Ok(());
        }
        let record = match decode::<DedupChangelogRecord>(payload) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%error, ?key, "skipping an unreadable dedup changelog record");
                self.summary.unreadable += 1;
                return Ok(());
            }
        };
        match record.story {
            None if record.epoch > self.summary.epoch => self.summary.epoch = record.epoch,
            // A claim sent twice, or a stale owner's late one.
            None => {}
            Some(_) if record.epoch < self.summary.epoch => self.summary.fenced += 1,
            Some(stored) => {
                self.summary.epoch = record.epoch;
                self.stage.put_row(stored)?;
                self.summary.stories += 1;
            }
        }
        Ok(())
    }

    /// Ends the restore: complete (or accepted incomplete), the stage
    /// rebuilds its core from the restored rows and continues as the next
    /// owner; the claim to write before anything else is returned.
    pub fn finish(
        self,
        stopped_short: Option<&str>,
        accept_incomplete: bool,
    ) -> Result<(DedupRestoreSummary, DedupChangelogRecord), DedupRestoreFailure> {
        let mut reasons = Vec::new();
        if let Some(why) = stopped_short {
            reasons.push(format!("the reading stopped before the end: {why}"));
        }
        if self.summary.unreadable > 0 {
            reasons.push(format!("{} unreadable records", self.summary.unreadable));
        }
        if !reasons.is_empty() && !accept_incomplete {
            return Err(DedupRestoreFailure::Incomplete(DedupIncompleteRestore {
                reasons: reasons.join(", "),
                stopped_short: stopped_short.is_some(),
            }));
        }
        if !reasons.is_empty() {
            tracing::warn!(reasons = %reasons.join(", "),
                "starting from an incomplete dedup restore, as the operator accepted");
        }
        let epoch = self.summary.epoch + 1;
        self.stage.reload(epoch)?;
        let claim = DedupChangelogRecord {
            schema_version: SCHEMA_VERSION,
            epoch,
            story: None,
        };
        Ok((self.summary, claim))
    }
}
