//! Restoring a [`ClusterStage`] from its changelog: which records count,
//! in which order, and when the result may be used.
//!
//! A restore reads the changelog in its order and offers every record here.
//! Operations are applied through the local log's replay path; ownership
//! claims move the current epoch on, after which operations of an older
//! epoch are fenced (a previous owner still writing). At the end, the
//! restore is complete only if the reading reached the changelog's end and
//! nothing was unreadable, missing or contradictory; otherwise it refuses
//! unless the operator accepted an incomplete restore. Either way the stage
//! then continues the changelog: its claim takes the next epoch, and its
//! operations are numbered after the highest `seq` seen, so none reuses a
//! number already on the changelog. Moving records is the binary's job:
//! this module knows no bus.

use newsflow_model::decode;

use crate::{ChangelogRecord, ClusterError, ClusterStage, Restored};

/// What a restore read, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    /// Operations applied (on top of the newest snapshot, if any).
    pub operations: u64,
    /// Records of operations (or claims) already applied, sent twice.
    pub duplicates: u64,
    /// Records that could not be read.
    pub unreadable: u64,
    /// Operations missing between the records read.
    pub missing: u64,
    /// Operations of a previous owner written after a newer owner's claim.
    pub fenced: u64,
    /// Claims whose owner's state ended elsewhere than what was restored up
    /// to them (`accepted` of them made by an owner whose operator had
    /// accepted an incomplete restore).
    pub diverged: u64,
    pub diverged_accepted: u64,
    /// Snapshots applied (each replaces everything read before it), and the
    /// `seq` the newest of them covers.
    pub snapshots: u64,
    pub snapshot_seq: i64,
    /// Snapshot chunks that belong to no complete snapshot (a newer
    /// snapshot overwrote part of an older one, or a chunk is missing).
    pub stray_chunks: u64,
    /// The newest epoch claimed.
    pub epoch: u64,
    /// The highest operation `seq` seen in any readable record.
    pub highest_seq: i64,
}

/// How the reading of the changelog ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// Every record up to the changelog's end when reading began was read.
    Reached,
    /// The reading stopped before the end: why.
    Stopped(String),
}

/// A restore that could not rebuild exactly what the changelog holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the clusterer changelog could not be restored completely ({reasons}); refusing to start \
     with state that differs from the previous owner's. Fix the broker or topic, or start with \
     --accept-incomplete-restore to go on with what was read"
)]
pub struct IncompleteRestore {
    pub reasons: String,
    /// Whether the reading stopped before the end (which may pass, unlike
    /// records that are unreadable or missing).
    pub stopped_short: bool,
    pub summary: RestoreSummary,
}

/// A restore in progress into one stage.
pub struct ChangelogRestore<'a> {
    stage: &'a mut ClusterStage,
    summary: RestoreSummary,
    /// Added to the `seq` of the current epoch's operations: an owner that
    /// started from less than was restored up to its claim (an accepted
    /// incomplete restore) numbered its operations after its own end, and
    /// they must land after everything restored before them.
    shift: i64,
    /// The snapshot being gathered: its `seq`, chunk count, next chunk
    /// index and bytes so far.
    gathering: Option<(i64, u32, u32, Vec<u8>)>,
}

impl<'a> ChangelogRestore<'a> {
    /// Starts a restore: the stage forgets what it held (the changelog is
    /// the state of record on a bus that has one).
    pub fn begin(stage: &'a mut ClusterStage) -> Result<Self, ClusterError> {
        stage.reset()?;
        Ok(Self {
            stage,
            summary: RestoreSummary::default(),
            shift: 0,
            gathering: None,
        })
    }

    /// Takes the next changelog record's payload, in changelog order.
    pub fn offer(&mut self, payload: &[u8]) -> Result<(), ClusterError> {
        let record = match decode::<ChangelogRecord>(payload) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%error, "skipping an unreadable clusterer changelog record");
                self.summary.unreadable += 1;
                return Ok(());
            }
        };
        if record.is_claim() {
            self.claim(&record);
            return Ok(());
        }
        if record.epoch < self.summary.epoch {
            self.summary.fenced += 1;
            return Ok(());
        }
        if record.snapshot.is_some() {
            return self.snapshot_chunk(record);
        }
        if record.epoch > self.summary.epoch {
            // An operation of an epoch never claimed: its claim was lost or
            // unreadable (counted there); the newest writer still wins.
            self.summary.epoch = record.epoch;
            self.shift = 0;
        }
        let mut record = record;
        record.seq += self.shift;
        self.summary.highest_seq = self.summary.highest_seq.max(record.seq);
        let seq = record.seq;
        match self.stage.restore(record)? {
            Restored::Applied => self.summary.operations += 1,
            Restored::AlreadyApplied => self.summary.duplicates += 1,
            Restored::AppliedAfterGap { missing } => {
                tracing::warn!(
                    seq,
                    missing,
                    "operations missing from the clusterer changelog before this one"
                );
                self.summary.operations += 1;
                self.summary.missing += missing as u64;
            }
        }
        Ok(())
    }

    /// Gathers a snapshot's chunks; a complete snapshot replaces the state
    /// restored so far (it is the whole state as of its `seq`, so what came
    /// before it, gaps and unreadable records included, no longer counts).
    fn snapshot_chunk(&mut self, record: ChangelogRecord) -> Result<(), ClusterError> {
        let Some(chunk) = record.snapshot else {
            return Ok(());
        };
        let seq = record.seq + self.shift;
        let continues = matches!(&self.gathering,
            Some((gathering, count, next, _)) if *gathering == seq && *count == chunk.count && *next == chunk.index);
        if chunk.index == 0 {
            if let Some((_, _, next, _)) = self.gathering.take() {
                self.summary.stray_chunks += u64::from(next);
            }
            self.gathering = Some((seq, chunk.count, 0, Vec::new()));
        } else if !continues {
            self.summary.stray_chunks += 1;
            return Ok(());
        }
        let Some((_, count, next, bytes)) = &mut self.gathering else {
            return Ok(());
        };
        bytes.extend_from_slice(&chunk.bytes);
        *next += 1;
        if *next < *count {
            return Ok(());
        }
        let (seq, _, _, bytes) = self.gathering.take().expect("gathering a snapshot");
        if seq < self.stage.last_seq() {
            // Older than operations already applied after it: those would
            // be lost by going back to it.
            self.summary.stray_chunks += 1;
            return Ok(());
        }
        self.stage.restore_snapshot(seq, &bytes)?;
        self.summary.snapshots += 1;
        self.summary.snapshot_seq = seq;
        self.summary.highest_seq = self.summary.highest_seq.max(seq);
        self.summary.operations = 0;
        self.summary.missing = 0;
        self.summary.unreadable = 0;
        self.summary.diverged = 0;
        Ok(())
    }

    fn claim(&mut self, record: &ChangelogRecord) {
        let restored_to = self.stage.last_seq();
        if record.epoch <= self.summary.epoch {
            // The same claim sent twice, or a stale owner claiming late.
            if record.epoch == self.summary.epoch && record.seq <= restored_to {
                self.summary.duplicates += 1;
            } else {
                self.summary.fenced += 1;
            }
            return;
        }
        self.summary.epoch = record.epoch;
        self.shift = (restored_to - record.seq).max(0);
        if record.seq != restored_to {
            // The claimer's state ended elsewhere: it missed operations (an
            // incomplete restore) or knew some this restore did not read.
            tracing::warn!(
                epoch = record.epoch,
                claimed = record.seq,
                restored = restored_to,
                accepted = record.accepted_incomplete,
                "a clusterer changelog owner started from a different state than the one restored"
            );
            if record.accepted_incomplete {
                self.summary.diverged_accepted += 1;
            } else {
                self.summary.diverged += 1;
            }
        }
    }

    /// Ends the restore. Complete, or incomplete and `accept_incomplete`:
    /// the stage continues after the changelog's end as the next owner, and
    /// the claim to write before any of its operations is returned.
    pub fn finish(
        self,
        end: ReadEnd,
        accept_incomplete: bool,
    ) -> Result<(RestoreSummary, ChangelogRecord), RestoreFailure> {
        let summary = self.summary;
        let mut reasons = Vec::new();
        if let ReadEnd::Stopped(why) = &end {
            reasons.push(format!("the reading stopped before the end: {why}"));
        }
        if summary.unreadable > 0 {
            reasons.push(format!("{} unreadable records", summary.unreadable));
        }
        if summary.missing > 0 {
            reasons.push(format!("{} operations missing", summary.missing));
        }
        if summary.diverged > 0 {
            reasons.push(format!(
                "{} owners started from another state",
                summary.diverged
            ));
        }
        let incomplete = !reasons.is_empty();
        if incomplete && !accept_incomplete {
            return Err(RestoreFailure::Incomplete(Box::new(IncompleteRestore {
                reasons: reasons.join(", "),
                stopped_short: matches!(end, ReadEnd::Stopped(_)),
                summary,
            })));
        }
        if incomplete {
            tracing::warn!(reasons = %reasons.join(", "),
                "starting from an incomplete clusterer restore, as the operator accepted");
        }
        let epoch = summary.epoch + 1;
        let continue_after = summary.highest_seq.max(self.stage.last_seq());
        self.stage
            .continue_as(epoch, continue_after)
            .map_err(RestoreFailure::State)?;
        let claim = ChangelogRecord::claim(epoch, self.stage.last_seq(), incomplete);
        Ok((summary, claim))
    }
}

/// Why a restore's result cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RestoreFailure {
    #[error(transparent)]
    Incomplete(Box<IncompleteRestore>),
    #[error(transparent)]
    State(ClusterError),
}
