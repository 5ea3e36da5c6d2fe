//! The runner: the core plus crash-safe state. Every accepted operation
//! (a new story, a member update, a tick that closed events) is appended to
//! an SQLite log before its output is returned; opening the database replays
//! the log through a fresh core. The core is deterministic, so the replay
//! rebuilds exactly the same events, ids and versions.
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

use crate::changelog::{apply, ChangelogRecord, Operation};
use crate::{ClusterError, Clusterer, ClustererConfig, Document};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clusterer_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clusterer_changelog_position (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    published_through INTEGER NOT NULL
);
";

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
/// published, else when it was fetched.
pub fn document_of_story(story: &UniqueStory) -> Document {
    let article = &story.article;
    let first = story.carriers.first();
    Document {
        id: story.story_id.clone(),
        title: article.title.clone(),
        body: article.body.clone(),
        time: Some(article.published.unwrap_or(article.fetched_at)),
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
    /// Opens (or creates) the state database and restores the state it holds.
    pub fn open(db_path: &Path, config: ClustererConfig) -> Result<Self, ClusterError> {
        let connection = Connection::open(db_path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(SCHEMA)?;
        let mut clusterer = Clusterer::new(config);
        let mut last_seq = 0;
        {
            let mut statement =
                connection.prepare("SELECT seq, operation FROM clusterer_log ORDER BY seq")?;
            let mut rows = statement.query([])?;
            let mut replayed = 0u64;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let text: String = row.get(1)?;
                let operation: Operation = serde_json::from_str(&text)
                    .map_err(|source| ClusterError::CorruptLog { seq, source })?;
                apply(&mut clusterer, operation);
                last_seq = seq;
                replayed += 1;
            }
            tracing::info!(replayed, path = %db_path.display(), "clusterer state restored");
        }
        let published_through = connection
            .query_row(
                "SELECT published_through FROM clusterer_changelog_position WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        Ok(Self {
            connection,
            clusterer,
            last_seq,
            published_through,
            epoch: 0,
            unpublished: None,
        })
    }

    /// Forgets every logged operation and starts from an empty core: the
    /// state is about to be restored from the changelog, which is what the
    /// owner of the input before this one left.
    pub fn reset(&mut self) -> Result<(), ClusterError> {
        let transaction = self.connection.transaction()?;
        transaction.execute("DELETE FROM clusterer_log", [])?;
        transaction.execute("DELETE FROM clusterer_changelog_position", [])?;
        transaction.commit()?;
        self.clusterer = Clusterer::new(self.clusterer.config().clone());
        self.last_seq = 0;
        self.published_through = 0;
        self.unpublished = None;
        Ok(())
    }

    /// `seq` of the newest logged operation (0 while the log is empty).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// The owner epoch this stage writes its changelog records with.
    pub fn epoch(&self) -> u64 {
        self.epoch
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
        self.unpublished = None;
        Ok(())
    }

    /// Whether no operation was ever logged: a new or lost state.
    pub fn is_empty(&self) -> bool {
        self.last_seq == 0
    }

    /// Places a story. Returns the records of every event that changed. A
    /// story already placed is never placed twice: a re-send with a new
    /// title or more carriers updates its member; an unchanged re-send
    /// returns its event's current record again (so output lost in a crash
    /// before it was published is published on redelivery).
    pub fn add_story(&mut self, story: &UniqueStory) -> Result<Vec<EventRecord>, ClusterError> {
        let also_carried_by = other_carriers(story);
        if let Some(member) = self.clusterer.member(&story.story_id) {
            if member.title == story.article.title && member.also_carried_by == also_carried_by {
                return Ok(self
                    .clusterer
                    .current_record(&story.story_id)
                    .into_iter()
                    .collect());
            }
            let update = Operation::Update {
                id: story.story_id.clone(),
                title: story.article.title.clone(),
                also_carried_by,
            };
            self.log(&update)?;
            return Ok(apply(&mut self.clusterer, update));
        }
        let doc = document_of_story(story);
        let operation = Operation::Story {
            id: doc.id,
            title: doc.title,
            body: doc.body,
            time: doc.time,
            outlet: doc.outlet,
            url: doc.url,
            also_carried_by,
        };
        self.log(&operation)?;
        Ok(apply(&mut self.clusterer, operation))
    }

    /// Closes events quiet for longer than the configured period before `now`.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Result<Vec<EventRecord>, ClusterError> {
        if !self.clusterer.has_quiet_events(now) {
            return Ok(Vec::new());
        }
        let operation = Operation::Tick { now };
        self.log(&operation)?;
        Ok(apply(&mut self.clusterer, operation))
    }

    /// The core, for inspection.
    pub fn clusterer(&self) -> &Clusterer {
        &self.clusterer
    }

    /// The logged operations after `seq`, oldest first, as changelog records.
    pub fn operations_since(&self, seq: i64) -> Result<Vec<ChangelogRecord>, ClusterError> {
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
    /// `seq`). Operations are held only from the first call on.
    pub fn take_unpublished(&mut self, seq: i64) -> Result<Vec<ChangelogRecord>, ClusterError> {
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
        transaction.commit()?;
        self.last_seq = record.seq;
        self.published_through = record.seq;
        apply(&mut self.clusterer, operation);
        Ok(if missing > 0 {
            Restored::AppliedAfterGap { missing }
        } else {
            Restored::Applied
        })
    }

    fn log(&mut self, operation: &Operation) -> Result<(), ClusterError> {
        // Serialising our own enum of strings and times cannot fail.
        let text = serde_json::to_string(operation).expect("operations serialise infallibly");
        // Numbered explicitly after the newest known operation, which after
        // a restore is the changelog's end, not the local log's.
        let seq = self.last_seq + 1;
        self.connection.execute(
            "INSERT INTO clusterer_log (seq, operation) VALUES (?1, ?2)",
            params![seq, text],
        )?;
        self.last_seq = seq;
        if let Some(held) = &mut self.unpublished {
            held.push(ChangelogRecord::new(self.epoch, seq, operation.clone()));
        }
        Ok(())
    }
}

fn store_published_through(connection: &Connection, seq: i64) -> rusqlite::Result<()> {
    connection.execute(
        "INSERT INTO clusterer_changelog_position (id, published_through) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET published_through = excluded.published_through",
        [seq],
    )?;
    Ok(())
}
