//! The runner: the core plus crash-safe state. Every accepted operation
//! (a new story, a member update, a tick that closed events) is appended to
//! an SQLite log before its output is returned. Every
//! `checkpoint_every_operations` operations whose outputs were delivered, a
//! snapshot of the core replaces the log entries it covers; opening the
//! database loads the snapshot and replays only the log after it. The core
//! is deterministic, so this rebuilds exactly the same events, ids and
//! versions, and a restart costs the same after a million stories as after
//! ten thousand.
//!
//! Outputs owed: the caller says when the outputs returned so far were
//! delivered ([`ClusterStage::outputs_delivered`]). Operations logged after
//! that point had outputs that a crash may have lost (a tick's Closed
//! records, a merge's Merged record, which no redelivered input brings
//! back); opening the database re-derives them from the replay and the next
//! output hands them out first.
//!
//! Where the local database can be lost (a stage on Kafka moving machines),
//! the log is also published, entry by entry, as [`ChangelogRecord`]s: the
//! stage tells which entries the changelog does not hold yet, and a stage
//! with an empty database restores from the changelog's records. Moving
//! them is the binary's job; this crate knows no bus.

use std::path::Path;

use chrono::{DateTime, Utc};
use newsflow_model::{EventRecord, UniqueStory};
use rusqlite::{params, Connection, OptionalExtension};

use crate::changelog::{apply, ChangelogRecord, Operation, SNAPSHOT_EVERY};
use crate::{snapshot, ClusterError, Clusterer, ClustererConfig, Document};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clusterer_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clusterer_changelog_position (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    published_through INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS clusterer_snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS clusterer_stage_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Outputs of every operation up to this `seq` were delivered.
const DELIVERED_THROUGH: &str = "delivered_through";
/// Operations up to this `seq` were synced by [`ClusterStage::sync`].
const SYNCED_THROUGH: &str = "synced_through";
/// The `synchronous` level that sync's commit was made at (2: FULL).
const SYNC_LEVEL: &str = "sync_level";
/// Log entries up to this `seq` were folded into a snapshot and deleted.
const COMPACTED_THROUGH: &str = "compacted_through";
/// 1 once operations were taken for a changelog: from then on, log entries
/// not yet on the changelog are kept even when a snapshot covers them.
const CHANGELOG_ATTACHED: &str = "changelog_attached";

/// Events are closed by the stage's own clock once they are this much past
/// due (in story time): a stream that never idles still closes its events,
/// without scanning every event for every story.
const CLOSE_SLACK: chrono::Duration = chrono::Duration::hours(1);

/// Bound on the WAL file left after a checkpoint of the database: a snapshot
/// passes through it, and without a limit it would keep its largest size.
const JOURNAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

pub struct ClusterStage {
    connection: Connection,
    clusterer: Clusterer,
    /// `seq` of the newest logged operation; 0 while the log is empty.
    last_seq: i64,
    /// Every operation up to this `seq` is known to be on the changelog.
    published_through: i64,
    /// The owner epoch stamped on changelog records (see
    /// [`ChangelogRecord`]); set by a restore from the changelog.
    epoch: u64,
    /// Once a caller takes operations for a changelog: those this process
    /// logged since the last take, so handing them out needs no read back.
    unpublished: Option<Vec<ChangelogRecord>>,
    /// `seq` the stored snapshot covers; 0 without one.
    snapshot_seq: i64,
    /// Log entries up to here are deleted (covered by the snapshot).
    compacted_through: i64,
    /// Outputs of every operation up to here were delivered.
    delivered_through: i64,
    /// Whether operations go to a changelog (see [`CHANGELOG_ATTACHED`]).
    changelog_attached: bool,
    /// Records owed from before the last restart (newest per event, in the
    /// order of their last change), handed out ahead of the next output.
    owed: Vec<EventRecord>,
    /// How the store's commits reach the disk.
    durability: Durability,
}

/// How a [`ClusterStage`]'s operations are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Each commit waits for the disk (synchronous=FULL): the store is the
    /// only durable copy and nobody syncs for it.
    EachCommit,
    /// Commits do not wait; [`ClusterStage::sync`] makes them durable (see
    /// [`ClusterStage::defer_syncs`]). `unsynced`: an operation was logged
    /// since the last sync.
    Deferred { unsynced: bool },
    /// Commits do not wait: a changelog holds the operations (see
    /// [`ClusterStage::rely_on_changelog`]).
    Changelog,
}

/// What restoring one changelog record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// The record was the next operation: logged and applied.
    Applied,
    /// Logged and applied, but `missing` operations before it never came
    /// (records that could not be read): the state may differ from the one
    /// that wrote the changelog.
    AppliedAfterGap { missing: i64 },
    /// An operation already in the log (a record sent twice): ignored.
    AlreadyApplied,
}

/// The document the clusterer sees for a story: its time is when it was
/// published, else when it was fetched. A publication date further ahead of
/// the fetch than `max_published_ahead_secs` is wrong (or hostile): the
/// fetch time stands in, so that one page dated years ahead cannot move the
/// clusterer's clock and close every active event.
pub fn document_of_story(story: &UniqueStory, config: &ClustererConfig) -> Document {
    let article = &story.article;
    let first = story.carriers.first();
    let max_ahead = chrono::Duration::seconds(
        config.max_published_ahead_secs.min(i64::MAX as u64 / 2000) as i64,
    );
    let time = match article.published {
        Some(published) if published - article.fetched_at <= max_ahead => published,
        _ => article.fetched_at,
    };
    Document {
        id: story.story_id.clone(),
        title: article.title.clone(),
        body: article.body.clone(),
        time: Some(time),
        outlet: first.map_or_else(|| article.outlet.clone(), |c| c.outlet.clone()),
        url: first.map_or_else(|| article.url.clone(), |c| c.url.clone()),
    }
}

fn other_carriers(story: &UniqueStory) -> Vec<String> {
    story
        .carriers
        .iter()
        .skip(1)
        .map(|c| c.outlet.clone())
        .collect()
}

impl ClusterStage {
    /// Opens (or creates) the state database and restores the state it
    /// holds: its snapshot, then the operations logged after it.
    pub fn open(db_path: &Path, config: ClustererConfig) -> Result<Self, ClusterError> {
        let connection = Connection::open(db_path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // synchronous=FULL: an operation is on disk before the records it
        // made go out and its input is acknowledged, so a power loss (not
        // only a process crash) cannot lose a story whose input the bus
        // counts as done (with NORMAL, its event would later be published
        // again at a version already out, without it). A changelog relaxes
        // this (see `rely_on_changelog`); a caller that syncs before it
        // hands records over keeps it with fewer syncs (`defer_syncs`).
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
        connection.execute_batch(SCHEMA)?;
        let stored_snapshot: Option<(i64, Vec<u8>)> = connection
            .query_row(
                "SELECT seq, state FROM clusterer_snapshot WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (snapshot_seq, mut clusterer) = match stored_snapshot {
            Some((seq, bytes)) => (seq, snapshot::decode(&bytes, config)?),
            None => (0, Clusterer::new(config)),
        };
        let delivered = read_meta(&connection, DELIVERED_THROUGH)?;
        let mut last_seq = snapshot_seq;
        let mut owed = Vec::new();
        let mut replayed = 0u64;
        {
            let mut statement = connection
                .prepare("SELECT seq, operation FROM clusterer_log WHERE seq > ?1 ORDER BY seq")?;
            let mut rows = statement.query([snapshot_seq])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let text: String = row.get(1)?;
                let operation: Operation = serde_json::from_str(&text)
                    .map_err(|source| ClusterError::CorruptLog { seq, source })?;
                let records = apply(&mut clusterer, operation);
                if delivered.is_some_and(|through| seq > through) {
                    owed.extend(records);
                }
                last_seq = seq;
                replayed += 1;
            }
        }
        let published_through = connection
            .query_row(
                "SELECT published_through FROM clusterer_changelog_position WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        // A database written before delivery was tracked owes nothing.
        let delivered_through = match delivered {
            Some(through) => through,
            None => {
                write_meta(&connection, DELIVERED_THROUGH, last_seq)?;
                last_seq
            }
        };
        let owed = newest_per_event(owed);
        tracing::info!(
            snapshot_seq,
            replayed,
            owed = owed.len(),
            path = %db_path.display(),
            "clusterer state restored"
        );
        Ok(Self {
            compacted_through: read_meta(&connection, COMPACTED_THROUGH)?.unwrap_or(0),
            changelog_attached: read_meta(&connection, CHANGELOG_ATTACHED)? == Some(1),
            connection,
            clusterer,
            last_seq,
            published_through,
            epoch: 0,
            unpublished: None,
            snapshot_seq,
            delivered_through,
            owed,
            durability: Durability::EachCommit,
        })
    }

    /// From now on an operation commits without waiting for the disk and
    /// is durable once [`sync`](Self::sync) returns. The caller syncs
    /// before it hands over the records of any operation since the last
    /// sync and before it acknowledges any input: once for all the stories
    /// handled in between (a group commit), rather than once per story.
    /// So a record never goes out before the operation that made it is on
    /// disk, as with a sync per commit. Nothing to do where a changelog
    /// holds the operations.
    pub fn defer_syncs(&mut self) -> Result<(), ClusterError> {
        if self.durability != Durability::EachCommit {
            return Ok(());
        }
        self.connection
            .pragma_update(None, "synchronous", "NORMAL")?;
        self.durability = Durability::Deferred { unsynced: false };
        Ok(())
    }

    /// One commit: operations up to `last_seq` synced, at the level the
    /// connection commits with now.
    fn write_sync_mark(&mut self) -> Result<(), ClusterError> {
        let level: i64 = self
            .connection
            .query_row("PRAGMA synchronous", [], |row| row.get(0))?;
        let transaction = self.connection.transaction()?;
        write_meta(&transaction, SYNCED_THROUGH, self.last_seq)?;
        write_meta(&transaction, SYNC_LEVEL, level)?;
        transaction.commit()?;
        Ok(())
    }

    /// Whether operations wait for [`sync`](Self::sync) to be durable.
    pub fn defers_syncs(&self) -> bool {
        matches!(self.durability, Durability::Deferred { .. })
    }

    /// Puts every operation logged so far on disk with one sync of the
    /// write-ahead log, which holds the commits in order. An operation a
    /// panic left half-logged is rolled back first: it never happened.
    pub fn sync(&mut self) -> Result<(), ClusterError> {
        self.roll_back_unfinished()?;
        if self.durability != (Durability::Deferred { unsynced: true }) {
            return Ok(());
        }
        // A commit under synchronous=FULL syncs the log: the smallest one
        // does, for every commit before it. It marks how far the log is
        // synced and the level the mark was made at, which is what makes it
        // a sync.
        self.write_at_level("FULL", Self::write_sync_mark)?;
        self.durability = Durability::Deferred { unsynced: false };
        Ok(())
    }

    /// Makes one write with the connection at synchronous `level`, then
    /// sets it back to the level its durability commits at, whether the
    /// write worked or not.
    fn write_at_level(
        &mut self,
        level: &str,
        write: impl FnOnce(&mut Self) -> Result<(), ClusterError>,
    ) -> Result<(), ClusterError> {
        self.connection.pragma_update(None, "synchronous", level)?;
        let written = write(self);
        let own = if self.durability == Durability::EachCommit {
            "FULL"
        } else {
            "NORMAL"
        };
        self.connection.pragma_update(None, "synchronous", own)?;
        written
    }

    /// The caller sends every operation to a durable changelog before it
    /// acknowledges the input, and rebuilds the state from that changelog
    /// (after [`reset`](Self::reset)) whenever it takes the input over: the
    /// local database is then only a copy, and commits with
    /// synchronous=NORMAL. A power loss may cost it its last operations,
    /// which the next restore brings back from the changelog.
    pub fn rely_on_changelog(&mut self) -> Result<(), ClusterError> {
        self.connection
            .pragma_update(None, "synchronous", "NORMAL")?;
        self.durability = Durability::Changelog;
        Ok(())
    }

    /// Forgets every logged operation and starts from an empty core: the
    /// state is about to be restored from the changelog, which is what the
    /// owner of the input before this one left.
    pub fn reset(&mut self) -> Result<(), ClusterError> {
        let transaction = self.connection.transaction()?;
        transaction.execute("DELETE FROM clusterer_log", [])?;
        transaction.execute("DELETE FROM clusterer_changelog_position", [])?;
        transaction.execute("DELETE FROM clusterer_snapshot", [])?;
        write_meta(&transaction, DELIVERED_THROUGH, 0)?;
        write_meta(&transaction, COMPACTED_THROUGH, 0)?;
        transaction.commit()?;
        self.clusterer = Clusterer::new(self.clusterer.config().clone());
        self.last_seq = 0;
        self.published_through = 0;
        self.unpublished = None;
        self.snapshot_seq = 0;
        self.compacted_through = 0;
        self.delivered_through = 0;
        self.owed.clear();
        Ok(())
    }

    /// The owner epoch this stage writes its changelog records with.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Keeps writing as owner `epoch` after this process reopened its own
    /// store (recovering from a panic): the epoch belongs to the process's
    /// ownership, which the store does not hold, and records written under
    /// a lower one would be fenced off at the next restore.
    pub fn keep_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// From now on this stage writes as owner `epoch`, and its operations
    /// are numbered after `seq` (the changelog's end as far as it could be
    /// read), so that no new operation reuses a number the changelog
    /// already holds.
    pub(crate) fn continue_as(&mut self, epoch: u64, seq: i64) -> Result<(), ClusterError> {
        self.epoch = epoch;
        if seq > self.last_seq {
            self.last_seq = seq;
        }
        self.mark_published(self.last_seq)?;
        // What the restored operations caused was their writer's to deliver.
        write_meta(&self.connection, DELIVERED_THROUGH, self.last_seq)?;
        self.delivered_through = self.last_seq;
        self.unpublished = None;
        Ok(())
    }

    /// Whether no operation was ever logged: a new or lost state.
    pub fn is_empty(&self) -> bool {
        self.last_seq == 0
    }

    /// `seq` of the newest operation logged (or covered by a snapshot).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// The whole state as of [`ClusterStage::last_seq`]: that `seq` and the
    /// core serialised. [`ClusterStage::restore_snapshot`] with both gives
    /// a stage that behaves exactly like this one.
    pub fn snapshot(&self) -> Result<(i64, Vec<u8>), ClusterError> {
        Ok((self.last_seq, snapshot::encode(&self.clusterer)?))
    }

    /// What to publish to the changelog after `seq`: the operations logged
    /// since (see [`ClusterStage::take_unpublished`]), then, when they pass
    /// a multiple of [`SNAPSHOT_EVERY`], a snapshot of the state after them.
    /// The changelog is compacted and operations are keyed by `seq` modulo
    /// [`OPERATIONS_RING`]: an operation is overwritten long after a
    /// snapshot covers it, so a restore starts from the newest snapshot,
    /// not from the first operation ever logged.
    ///
    /// [`SNAPSHOT_EVERY`]: crate::changelog::SNAPSHOT_EVERY
    /// [`OPERATIONS_RING`]: crate::changelog::OPERATIONS_RING
    pub fn take_for_changelog(&mut self, seq: i64) -> Result<Vec<ChangelogRecord>, ClusterError> {
        let mut records = self.take_unpublished(seq)?;
        let Some(last) = records.last().map(|r| r.seq) else {
            return Ok(records);
        };
        if last / SNAPSHOT_EVERY > seq / SNAPSHOT_EVERY {
            let (covered, bytes) = self.snapshot()?;
            records.extend(ChangelogRecord::snapshot(self.epoch, covered, &bytes));
        }
        Ok(records)
    }

    /// Replaces the state, in memory and in the database, with a snapshot
    /// taken at `seq` (e.g. read from a changelog): the local log is
    /// dropped, and operations with a `seq` above it apply on top
    /// ([`ClusterStage::restore`]). The snapshot counts as published and its
    /// outputs as delivered: whoever took it already did both.
    pub fn restore_snapshot(&mut self, seq: i64, bytes: &[u8]) -> Result<(), ClusterError> {
        if seq < 0 {
            return Err(ClusterError::Snapshot(format!("negative seq {seq}")));
        }
        let clusterer = snapshot::decode(bytes, self.clusterer.config().clone())?;
        let transaction = self.connection.transaction()?;
        transaction.execute("DELETE FROM clusterer_log", [])?;
        transaction.execute(
            "INSERT INTO clusterer_snapshot (id, seq, state) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, state = excluded.state",
            params![seq, bytes],
        )?;
        store_published_through(&transaction, seq)?;
        write_meta(&transaction, DELIVERED_THROUGH, seq)?;
        write_meta(&transaction, COMPACTED_THROUGH, seq)?;
        transaction.commit()?;
        self.clusterer = clusterer;
        self.last_seq = seq;
        self.snapshot_seq = seq;
        self.compacted_through = seq;
        self.published_through = seq;
        self.delivered_through = seq;
        self.unpublished = None;
        self.owed.clear();
        Ok(())
    }

    /// The clock events are closed by: the latest story time seen (story
    /// times clamped by [`document_of_story`]). It is part of the state, so
    /// it survives a restart.
    pub fn event_clock(&self) -> Option<DateTime<Utc>> {
        self.clusterer.clock()
    }

    /// Closes (and retires) the events due by the stage's own
    /// [`ClusterStage::event_clock`], as every new story does too (with
    /// owed records first).
    pub fn close_quiet_events(&mut self) -> Result<Vec<EventRecord>, ClusterError> {
        let records = self.close_due_by_clock()?;
        Ok(self.with_owed(records))
    }

    /// Logs and applies a tick at the event clock when an event is more than
    /// [`CLOSE_SLACK`] past due. The rule depends on the state alone, so a
    /// restored stage ticks exactly where the original did.
    fn close_due_by_clock(&mut self) -> Result<Vec<EventRecord>, ClusterError> {
        let Some(now) = self.clusterer.clock() else {
            return Ok(Vec::new());
        };
        if !self.clusterer.due_with_slack(now, CLOSE_SLACK) {
            return Ok(Vec::new());
        }
        let operation = Operation::Tick { now };
        self.log(&operation)?;
        Ok(apply(&mut self.clusterer, operation))
    }

    /// Every output returned so far was delivered: nothing is owed any more
    /// after a crash. Writes a checkpoint when enough operations were logged
    /// since the last one.
    pub fn outputs_delivered(&mut self) -> Result<(), ClusterError> {
        self.outputs_delivered_through(self.last_seq)
    }

    /// The outputs of every operation up to `seq` were delivered (those of
    /// later ones may still be on their way): they are not owed after a
    /// crash. A checkpoint is written only once nothing logged is owed,
    /// since it replaces the log entries the owed records are rebuilt from.
    pub fn outputs_delivered_through(&mut self, seq: i64) -> Result<(), ClusterError> {
        let seq = seq.min(self.last_seq);
        if self.delivered_through < seq {
            self.write_delivered_through(seq)?;
            self.delivered_through = seq;
        }
        if seq == self.last_seq && self.checkpoint_due() {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Rolls back an operation left half-logged by a panic (its story's
    /// commit never came), so that the store reopened after it is not kept
    /// waiting for this connection's write lock.
    pub fn roll_back_unfinished(&mut self) -> Result<(), ClusterError> {
        if !self.connection.is_autocommit() {
            self.connection.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    /// Stores the delivery mark without a disk sync of its own: it only
    /// spares sending records again after a restart, and the next logged
    /// operation's sync carries it to disk (the log is written in order). A
    /// power loss before then costs the newest record of each event sent
    /// again, the same as the one already out; a process crash costs
    /// nothing (the system holds the write). With a sync it was one of the
    /// clusterer's three per story.
    fn write_delivered_through(&mut self, seq: i64) -> Result<(), ClusterError> {
        let write = |stage: &mut Self| Ok(write_meta(&stage.connection, DELIVERED_THROUGH, seq)?);
        if self.durability == Durability::EachCommit {
            self.write_at_level("NORMAL", write)
        } else {
            write(self)
        }
    }

    /// Enough operations were logged since the last checkpoint for the next
    /// confirmation of every output to write one.
    pub fn checkpoint_due(&self) -> bool {
        let every = self.clusterer.config().checkpoint_every_operations;
        every > 0 && self.last_seq - self.snapshot_seq >= every.min(i64::MAX as u64) as i64
    }

    /// Stores a snapshot of the state at `last_seq` (whose outputs were all
    /// delivered) and deletes the log entries it covers, except those a
    /// changelog still needs.
    fn checkpoint(&mut self) -> Result<(), ClusterError> {
        let started = std::time::Instant::now();
        let (seq, bytes) = self.snapshot()?;
        let deletable = if self.changelog_attached {
            seq.min(self.published_through)
        } else {
            seq
        };
        let transaction = self.connection.transaction()?;
        transaction.execute(
            "INSERT INTO clusterer_snapshot (id, seq, state) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, state = excluded.state",
            params![seq, bytes],
        )?;
        let compacted_through = self.compacted_through.max(deletable);
        transaction.execute(
            "DELETE FROM clusterer_log WHERE seq <= ?1",
            [compacted_through],
        )?;
        write_meta(&transaction, COMPACTED_THROUGH, compacted_through)?;
        transaction.commit()?;
        self.snapshot_seq = seq;
        self.compacted_through = compacted_through;
        tracing::debug!(
            seq,
            bytes = bytes.len(),
            compacted_through,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "clusterer checkpoint written"
        );
        Ok(())
    }

    /// Records still owed from before the last restart, ahead of `records`.
    fn with_owed(&mut self, records: Vec<EventRecord>) -> Vec<EventRecord> {
        if self.owed.is_empty() {
            return records;
        }
        let mut all = std::mem::take(&mut self.owed);
        all.extend(records);
        all
    }

    /// Places a story, then closes the events its time (on the stage's clock)
    /// made due. Returns the records of every event that changed. A
    /// story already placed is never placed twice: a re-send with a new
    /// title or more carriers updates its member; an unchanged re-send
    /// returns its event's current record again (so output lost in a crash
    /// before it was published is published on redelivery).
    pub fn add_story(&mut self, story: &UniqueStory) -> Result<Vec<EventRecord>, ClusterError> {
        if self.clusterer.is_retired_story(&story.story_id) {
            // Its event's record is final.
            return Ok(self.with_owed(Vec::new()));
        }
        let also_carried_by = other_carriers(story);
        if let Some(member) = self.clusterer.member(&story.story_id) {
            if member.title == story.article.title && member.also_carried_by == also_carried_by {
                let current = self.clusterer.current_record(&story.story_id);
                return Ok(self.with_owed(current.into_iter().collect()));
            }
            let update = Operation::Update {
                id: story.story_id.clone(),
                title: story.article.title.clone(),
                also_carried_by,
            };
            self.log(&update)?;
            let records = apply(&mut self.clusterer, update);
            return Ok(self.with_owed(records));
        }
        let doc = document_of_story(story, self.clusterer.config());
        let operation = Operation::Story {
            id: doc.id,
            title: doc.title,
            body: doc.body,
            time: doc.time,
            outlet: doc.outlet,
            url: doc.url,
            also_carried_by,
        };
        // The story and the tick it makes due are committed together: one
        // disk sync instead of two (none, with syncs deferred). A failed
        // commit stops the stage (its memory is then ahead of its store),
        // which reopens from the store.
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        let logged = self.log(&operation);
        let records = logged.and_then(|()| {
            let mut records = apply(&mut self.clusterer, operation);
            records.extend(self.close_due_by_clock()?);
            self.connection.execute_batch("COMMIT")?;
            Ok(records)
        });
        match records {
            Ok(records) => Ok(self.with_owed(records)),
            Err(error) => {
                // Best effort: the error is what the caller needs.
                let _ = self.roll_back_unfinished();
                Err(error)
            }
        }
    }

    /// Closes events quiet for longer than the configured period before
    /// `now`, and retires (frees) those closed for longer than late arrivals
    /// are waited for. Records owed from before a restart come first.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Result<Vec<EventRecord>, ClusterError> {
        if !self.clusterer.has_quiet_events(now) {
            return Ok(std::mem::take(&mut self.owed));
        }
        let operation = Operation::Tick { now };
        self.log(&operation)?;
        let records = apply(&mut self.clusterer, operation);
        Ok(self.with_owed(records))
    }

    /// The core, for inspection.
    pub fn clusterer(&self) -> &Clusterer {
        &self.clusterer
    }

    /// The logged operations after `seq`, oldest first, as changelog records.
    /// Operations folded into a snapshot and deleted cannot be listed: asking
    /// for them is an error (a changelog's unpublished ones are never
    /// deleted, see [`ClusterStage::take_unpublished`]).
    pub fn operations_since(&self, seq: i64) -> Result<Vec<ChangelogRecord>, ClusterError> {
        if seq < self.compacted_through {
            return Err(ClusterError::Compacted {
                requested: seq,
                compacted: self.compacted_through,
            });
        }
        let mut statement = self.connection.prepare_cached(
            "SELECT seq, operation FROM clusterer_log WHERE seq > ?1 ORDER BY seq",
        )?;
        let mut rows = statement.query([seq])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let text: String = row.get(1)?;
            let operation = serde_json::from_str(&text)
                .map_err(|source| ClusterError::CorruptLog { seq, source })?;
            records.push(ChangelogRecord::new(self.epoch, seq, operation));
        }
        Ok(records)
    }

    /// The logged operations after `seq`, oldest first, as changelog records,
    /// for a caller that publishes them: from memory when they are all held
    /// there (the usual case, one call per input), else read back from the
    /// log (the first call, or when the caller starts over from an earlier
    /// `seq`). Operations are held only from the first call on, and from
    /// then on (across restarts too) checkpoints keep every logged operation
    /// not yet marked published.
    pub fn take_unpublished(&mut self, seq: i64) -> Result<Vec<ChangelogRecord>, ClusterError> {
        self.attach_changelog()?;
        if seq >= self.last_seq {
            return Ok(Vec::new());
        }
        let held = self.unpublished.take().unwrap_or_default();
        let from_memory = held.first().is_some_and(|r| r.seq == seq + 1)
            && held.last().is_some_and(|r| r.seq == self.last_seq);
        self.unpublished = Some(Vec::new());
        if from_memory {
            Ok(held)
        } else {
            self.operations_since(seq)
        }
    }

    /// Every operation up to this `seq` is on the changelog (0: none is).
    pub fn published_through(&self) -> i64 {
        self.published_through
    }

    /// Records that the changelog now holds every operation up to `seq`.
    pub fn mark_published(&mut self, seq: i64) -> Result<(), ClusterError> {
        self.attach_changelog()?;
        if seq <= self.published_through {
            return Ok(());
        }
        store_published_through(&self.connection, seq)?;
        self.published_through = seq;
        Ok(())
    }

    /// Takes one operation record read back from the changelog, in
    /// changelog order: logs it under its own `seq` (as published, since it
    /// came from there) and applies it through the same path as the local
    /// log's replay. A record at or below the newest logged `seq` is one
    /// already applied, and so is a claim (it holds no operation): which
    /// records to offer is [`ChangelogRestore`](crate::ChangelogRestore)'s
    /// business.
    pub fn restore(&mut self, record: ChangelogRecord) -> Result<Restored, ClusterError> {
        if record.seq <= self.last_seq {
            return Ok(Restored::AlreadyApplied);
        }
        let Some(operation) = record.operation else {
            return Ok(Restored::AlreadyApplied);
        };
        let missing = record.seq - self.last_seq - 1;
        let text = serde_json::to_string(&operation).expect("operations serialise infallibly");
        let transaction = self.connection.transaction()?;
        transaction.execute(
            "INSERT INTO clusterer_log (seq, operation) VALUES (?1, ?2)",
            params![record.seq, text],
        )?;
        store_published_through(&transaction, record.seq)?;
        // Its outputs were the writer's to deliver.
        write_meta(&transaction, DELIVERED_THROUGH, record.seq)?;
        transaction.commit()?;
        self.last_seq = record.seq;
        self.published_through = record.seq;
        self.delivered_through = record.seq;
        apply(&mut self.clusterer, operation);
        Ok(if missing > 0 {
            Restored::AppliedAfterGap { missing }
        } else {
            Restored::Applied
        })
    }

    /// Marks, once and for good, that operations go to a changelog.
    fn attach_changelog(&mut self) -> Result<(), ClusterError> {
        if !self.changelog_attached {
            write_meta(&self.connection, CHANGELOG_ATTACHED, 1)?;
            self.changelog_attached = true;
        }
        Ok(())
    }

    fn log(&mut self, operation: &Operation) -> Result<(), ClusterError> {
        // Serialising our own enum of strings and times cannot fail.
        let text = serde_json::to_string(operation).expect("operations serialise infallibly");
        // Numbered explicitly after the newest known operation: after a
        // restore that is the changelog's end, not the local log's, and
        // after a snapshot restore the table may be empty.
        let seq = self.last_seq + 1;
        // Cached: this and the marks below run for every story.
        self.connection
            .prepare_cached("INSERT INTO clusterer_log (seq, operation) VALUES (?1, ?2)")?
            .execute(params![seq, text])?;
        self.last_seq = seq;
        if let Durability::Deferred { unsynced } = &mut self.durability {
            *unsynced = true;
        }
        if let Some(held) = &mut self.unpublished {
            held.push(ChangelogRecord::new(self.epoch, seq, operation.clone()));
        }
        Ok(())
    }
}

fn store_published_through(connection: &Connection, seq: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO clusterer_changelog_position (id, published_through) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET published_through = excluded.published_through",
        )?
        .execute([seq])?;
    Ok(())
}

fn read_meta(connection: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    connection
        .query_row(
            "SELECT value FROM clusterer_stage_meta WHERE key = ?1",
            [key],
            |row| row.get(0),
        )
        .optional()
}

fn write_meta(connection: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO clusterer_stage_meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![key, value])?;
    Ok(())
}

/// The newest record of each event, in the order of their last change: what
/// a consumer that keeps the newest version of each event needs.
fn newest_per_event(records: Vec<EventRecord>) -> Vec<EventRecord> {
    let mut last_index = rustc_hash::FxHashMap::default();
    for (index, record) in records.iter().enumerate() {
        last_index.insert(record.event_id.clone(), index);
    }
    records
        .into_iter()
        .enumerate()
        .filter(|(index, record)| last_index[&record.event_id] == *index)
        .map(|(_, record)| record)
        .collect()
}

#[cfg(test)]
mod durability_tests {
    use super::*;

    fn synchronous(stage: &ClusterStage) -> i64 {
        stage
            .connection
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn operations_are_synced_unless_a_changelog_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage =
            ClusterStage::open(&dir.path().join("clusterer.db"), ClustererConfig::default())
                .unwrap();
        assert_eq!(synchronous(&stage), 2, "FULL: the only durable copy");
        stage.rely_on_changelog().unwrap();
        assert_eq!(synchronous(&stage), 1, "NORMAL: the changelog holds it");
    }

    fn story(n: u32) -> UniqueStory {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 8, 19, 12, 0, 0).unwrap();
        let url = format!("https://outlet.example/{n}");
        let article = newsflow_model::Article {
            schema_version: newsflow_model::SCHEMA_VERSION,
            article_id: newsflow_model::story_id_for_url(&url),
            item_id: format!("{url}#guid"),
            feed_url: "https://outlet.example/feed.xml".into(),
            canonical_url: newsflow_model::canonical_url(&url),
            url,
            outlet: "Outlet".into(),
            title: format!("Report number {n} on the talks in Baku"),
            byline: None,
            published: Some(at),
            language: Some("eng".into()),
            lead_image: None,
            body: "President Putin met President Aliyev in Baku for talks. ".repeat(5),
            fetched_at: at,
        };
        UniqueStory {
            schema_version: newsflow_model::SCHEMA_VERSION,
            story_id: article.article_id.clone(),
            revision: 1,
            carriers: vec![],
            article,
        }
    }

    #[test]
    fn a_delivery_mark_leaves_the_sync_level_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusterer.db");
        let mut stage = ClusterStage::open(&path, ClustererConfig::default()).unwrap();
        stage.add_story(&story(1)).unwrap();
        stage.outputs_delivered().unwrap();
        assert_eq!(synchronous(&stage), 2);
        stage.rely_on_changelog().unwrap();
        stage.add_story(&story(2)).unwrap();
        stage.outputs_delivered().unwrap();
        assert_eq!(synchronous(&stage), 1);
        // Stored all the same: nothing is owed after a reopen.
        drop(stage);
        let reopened = ClusterStage::open(&path, ClustererConfig::default()).unwrap();
        assert!(reopened.owed.is_empty());
    }

    #[test]
    fn a_half_logged_story_is_rolled_back_before_the_store_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusterer.db");
        let mut torn = ClusterStage::open(&path, ClustererConfig::default()).unwrap();
        torn.add_story(&story(1)).unwrap();
        // What a panic between a story's log entry and its commit leaves.
        torn.connection.execute_batch("BEGIN IMMEDIATE").unwrap();
        torn.log(&Operation::Tick { now: Utc::now() }).unwrap();
        torn.roll_back_unfinished().unwrap();
        let mut reopened = ClusterStage::open(&path, ClustererConfig::default()).unwrap();
        assert_eq!(reopened.last_seq(), 1, "the torn entry is gone");
        reopened
            .add_story(&story(2))
            .expect("the store takes writes: no lock left behind");
        drop(torn);
    }

    fn synced_through(stage: &ClusterStage) -> Option<i64> {
        read_meta(&stage.connection, SYNCED_THROUGH).unwrap()
    }

    #[test]
    fn deferred_operations_wait_for_one_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusterer.db");
        let mut stage = ClusterStage::open(&path, ClustererConfig::default()).unwrap();
        stage.defer_syncs().unwrap();
        assert!(stage.defers_syncs());
        assert_eq!(synchronous(&stage), 1, "NORMAL until `sync`");
        stage.sync().unwrap();
        assert_eq!(synced_through(&stage), None, "nothing to sync yet");
        for n in 1..=5 {
            stage.add_story(&story(n)).unwrap();
        }
        stage.outputs_delivered().unwrap();
        assert_eq!(synced_through(&stage), None, "operations wait for the sync");
        stage.sync().unwrap();
        assert_eq!(synced_through(&stage), Some(stage.last_seq()));
        assert_eq!(
            read_meta(&stage.connection, SYNC_LEVEL).unwrap(),
            Some(2),
            "the sync's commit is made with synchronous=FULL, which syncs the log"
        );
        assert_eq!(synchronous(&stage), 1, "back to NORMAL after the sync");
        // A panic's half-logged operation is rolled back, not synced.
        stage.add_story(&story(6)).unwrap();
        let logged = stage.last_seq();
        stage.connection.execute_batch("BEGIN IMMEDIATE").unwrap();
        stage.log(&Operation::Tick { now: Utc::now() }).unwrap();
        stage.sync().unwrap();
        drop(stage);
        let reopened = ClusterStage::open(&path, ClustererConfig::default()).unwrap();
        assert_eq!(reopened.last_seq(), logged, "the torn entry is gone");
        assert!(synced_through(&reopened).is_some_and(|seq| seq >= logged));
        // A changelog holds the operations: nothing is deferred.
        let mut stage = reopened;
        stage.rely_on_changelog().unwrap();
        assert!(!stage.defers_syncs());
        stage.defer_syncs().unwrap();
        assert!(!stage.defers_syncs(), "a changelog holds them already");
    }
}
