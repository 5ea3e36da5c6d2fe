//! The runner's state: the pure core plus every state change written to
//! SQLite before `check` returns, so a restart rebuilds the same window.
//!
//! Story texts live only in SQLite (`dedup_bodies`): the core keeps sketches
//! and hashes in memory, and a text is read back only when its story is
//! re-emitted (a copy or a replay arrived). That keeps memory per remembered
//! story to a few KB however long the articles are.

use std::path::Path;

use newsflow_model::Article;
use rusqlite::{params, Connection, OptionalExtension};

use crate::changelog::{story_key, ChangelogEntry};
use crate::config::DedupConfig;
use crate::deduplicator::Deduplicator;
use crate::state::{StateChanges, StoredStory};
use crate::verdict::Verdict;

#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    #[error("dedup state database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("dedup state row for story {story_id} is unreadable: {source}")]
    CorruptRow {
        story_id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("encoding dedup state of story {story_id}: {source}")]
    Encode {
        story_id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("dedup state was written by an unknown layout version {0}")]
    UnknownLayout(i64),
}

/// Version of the table layout below; bump when it changes.
const LAYOUT_VERSION: i64 = 1;

pub struct DedupStage {
    core: Deduplicator,
    db: Connection,
    /// The owner epoch stamped on changelog records (set by a restore).
    epoch: u64,
    /// With a changelog: what the checks since the last take changed.
    changelog: Option<Vec<ChangelogEntry>>,
    /// Checks commit without waiting for the disk; [`DedupStage::sync`]
    /// makes them durable (see [`DedupStage::defer_syncs`]).
    syncs_deferred: bool,
    /// A check was committed since the last sync.
    unsynced: bool,
}

impl DedupStage {
    /// Opens (or creates) the state database and restores the window.
    pub fn open(db_path: &Path, config: DedupConfig) -> Result<Self, DedupError> {
        let db = Connection::open(db_path)?;
        // WAL with synchronous=FULL: a check is on disk before its verdict
        // goes out and its input is acknowledged, so a power loss (not only
        // a process crash) cannot lose a story whose input the bus counts as
        // done; with NORMAL, a copy of that story would later pass as new.
        // A changelog relaxes this (see `enable_changelog`); a caller that
        // syncs before it hands verdicts over keeps it with fewer syncs
        // (see `defer_syncs`).
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS dedup_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS dedup_stories (
                 story_id TEXT PRIMARY KEY,
                 seq INTEGER NOT NULL,
                 state TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS dedup_bodies (
                 story_id TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );",
        )?;
        let layout: Option<i64> = db
            .query_row(
                "SELECT value FROM dedup_meta WHERE key = 'layout'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        match layout {
            None => {
                db.execute(
                    "INSERT INTO dedup_meta (key, value) VALUES ('layout', ?1)",
                    params![LAYOUT_VERSION],
                )?;
            }
            Some(LAYOUT_VERSION) => {}
            Some(other) => return Err(DedupError::UnknownLayout(other)),
        }
        let (core, texts_to_move) = load_core(&db, config)?;
        let mut stage = Self {
            core,
            db,
            epoch: 0,
            changelog: None,
            syncs_deferred: false,
            unsynced: false,
        };
        // The window may have shrunk since the state was written.
        let evicted = stage.core.evict();
        stage.persist(&mut StateChanges {
            written: texts_to_move,
            evicted,
        })?;
        tracing::info!(stories = stage.core.len(), "dedup state restored");
        Ok(stage)
    }

    /// Forgets every remembered story: the state is about to be rebuilt
    /// from what the previous owner of the input left on the bus.
    pub fn reset(&mut self) -> Result<(), DedupError> {
        let transaction = self.db.transaction()?;
        transaction.execute("DELETE FROM dedup_stories", [])?;
        transaction.execute("DELETE FROM dedup_bodies", [])?;
        transaction.commit()?;
        self.core = Deduplicator::new(self.core.config().clone());
        self.take_changelog();
        Ok(())
    }

    /// From now on, every check also tells its state changes as changelog
    /// entries, taken with [`take_changelog`](Self::take_changelog).
    ///
    /// The caller sends those entries to a durable changelog before it
    /// acknowledges the input, and rebuilds the state from that changelog
    /// (after [`reset`](Self::reset)) whenever it takes the input over. The
    /// local database is then only a copy, and commits with
    /// synchronous=NORMAL: a power loss may cost it its last checks, which
    /// the next restore brings back from the changelog.
    pub fn enable_changelog(&mut self) -> Result<(), DedupError> {
        self.changelog.get_or_insert_with(Vec::new);
        self.syncs_deferred = false;
        self.unsynced = false;
        self.db.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    /// From now on a check commits without waiting for the disk, and is
    /// durable only once [`sync`](Self::sync) returns. The caller syncs
    /// before it hands over the verdicts of any check since the last sync
    /// and before it acknowledges any input: once for all the checks made
    /// in between (a group commit), rather than once per check. Without a
    /// changelog the store is the only durable copy of the state, so no
    /// verdict goes out, and no input counts as done, before its check is
    /// on disk.
    pub fn defer_syncs(&mut self) -> Result<(), DedupError> {
        if self.changelog.is_some() {
            // The changelog holds the checks already.
            return Ok(());
        }
        self.syncs_deferred = true;
        self.db.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    /// Whether checks wait for [`sync`](Self::sync) to be durable.
    pub fn defers_syncs(&self) -> bool {
        self.syncs_deferred
    }

    /// Puts every check committed so far on disk, with one sync of the
    /// write-ahead log (it holds the commits in order, so syncing it covers
    /// them all); nothing to do when none was made since the last sync, or
    /// when a changelog holds them.
    pub fn sync(&mut self) -> Result<(), DedupError> {
        if !self.unsynced {
            return Ok(());
        }
        // A commit under synchronous=FULL syncs the log: the smallest one
        // does, for every commit before it. It counts the syncs and notes
        // the level it was made at, which is what makes it one.
        self.db.pragma_update(None, "synchronous", "FULL")?;
        let written = self
            .db
            .query_row("PRAGMA synchronous", [], |row| row.get::<_, i64>(0))
            .and_then(|level| {
                self.db.execute(
                    "INSERT INTO dedup_meta (key, value) VALUES ('syncs', 1), ('sync_level', ?1)
                     ON CONFLICT (key) DO UPDATE SET value =
                         CASE key WHEN 'syncs' THEN value + 1 ELSE excluded.value END",
                    [level],
                )
            });
        self.db.pragma_update(None, "synchronous", "NORMAL")?;
        written?;
        self.unsynced = false;
        Ok(())
    }

    /// The changelog entries of the checks since the last take.
    pub fn take_changelog(&mut self) -> Vec<ChangelogEntry> {
        self.changelog
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The owner epoch this stage writes its changelog records with.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Writes one story's row as restored from the changelog.
    pub(crate) fn put_row(&mut self, stored: StoredStory) -> Result<(), DedupError> {
        self.persist(&mut StateChanges {
            written: vec![stored],
            evicted: Vec::new(),
        })
    }

    /// Deletes one story's row, as a changelog tombstone says.
    pub(crate) fn forget_row(&mut self, story_id: &str) -> Result<(), DedupError> {
        self.persist(&mut StateChanges {
            written: Vec::new(),
            evicted: vec![story_id.to_string()],
        })
    }

    /// Drops what memory holds and reads the state back from the store,
    /// keeping the owner epoch and the changelog mode: after a failure (a
    /// panic) that may have left the core half-updated. The store only ever
    /// holds whole checks, so nothing of the failed one survives.
    pub fn reload_from_store(&mut self) -> Result<(), DedupError> {
        self.take_changelog();
        self.reload(self.epoch)
    }

    /// Rebuilds the core from the rows (after a restore wrote them), and
    /// continues as owner `epoch`.
    pub(crate) fn reload(&mut self, epoch: u64) -> Result<(), DedupError> {
        let (core, texts_to_move) = load_core(&self.db, self.core.config().clone())?;
        self.core = core;
        self.epoch = epoch;
        let evicted = self.core.evict();
        let mut changes = StateChanges {
            written: texts_to_move,
            evicted,
        };
        self.log_changes(&changes)?;
        self.persist(&mut changes)?;
        tracing::info!(stories = self.core.len(), epoch, "dedup state restored");
        Ok(())
    }

    /// Adds `changes` to the changelog entries, when there is a changelog:
    /// each written story's row with its text (read back when the core
    /// released it), each evicted story's tombstone.
    fn log_changes(&mut self, changes: &StateChanges) -> Result<(), DedupError> {
        if self.changelog.is_none() {
            return Ok(());
        }
        let mut entries = Vec::new();
        for story_id in &changes.evicted {
            entries.push(ChangelogEntry::Tombstone {
                key: story_key(story_id),
            });
        }
        for stored in &changes.written {
            let mut stored = stored.clone();
            if stored.story.article.body.is_empty() {
                stored.story.article.body = self
                    .stored_body(&stored.story.story_id)?
                    .unwrap_or_default();
            }
            entries.push(ChangelogEntry::row(self.epoch, stored));
        }
        if let Some(log) = &mut self.changelog {
            log.extend(entries);
        }
        Ok(())
    }

    pub fn check(&mut self, article: &Article) -> Result<Verdict, DedupError> {
        let (mut verdict, mut changes) = self.core.check_with_changes(article);
        self.log_changes(&changes)?;
        self.persist(&mut changes)?;
        let story = verdict.story_mut();
        if story.article.body.is_empty() {
            story.article.body = self.stored_body(&story.story_id)?.unwrap_or_default();
        }
        for stored in &changes.written {
            self.core.release_body(&stored.story.story_id);
        }
        Ok(verdict)
    }

    fn stored_body(&self, story_id: &str) -> Result<Option<String>, DedupError> {
        Ok(self
            .db
            .prepare_cached("SELECT body FROM dedup_bodies WHERE story_id = ?1")?
            .query_row(params![story_id], |row| row.get(0))
            .optional()?)
    }

    /// Number of remembered stories.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    pub fn is_empty(&self) -> bool {
        self.core.is_empty()
    }

    /// Writes the changes; each written story's text moves to `dedup_bodies`
    /// (taken out of `changes`, which keep the rest).
    fn persist(&mut self, changes: &mut StateChanges) -> Result<(), DedupError> {
        if changes.written.is_empty() && changes.evicted.is_empty() {
            return Ok(());
        }
        let transaction = self.db.transaction()?;
        {
            // Deletes first: an id evicted and started afresh in one check
            // must end up present.
            let mut delete =
                transaction.prepare_cached("DELETE FROM dedup_stories WHERE story_id = ?1")?;
            let mut delete_body =
                transaction.prepare_cached("DELETE FROM dedup_bodies WHERE story_id = ?1")?;
            for story_id in &changes.evicted {
                delete.execute(params![story_id])?;
                delete_body.execute(params![story_id])?;
            }
            let mut upsert_body = transaction.prepare_cached(
                "INSERT INTO dedup_bodies (story_id, body) VALUES (?1, ?2)
                 ON CONFLICT (story_id) DO UPDATE SET body = excluded.body
                 WHERE body IS NOT excluded.body",
            )?;
            let mut upsert = transaction.prepare_cached(
                "INSERT INTO dedup_stories (story_id, seq, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT (story_id) DO UPDATE SET seq = excluded.seq, state = excluded.state
                 WHERE state IS NOT excluded.state",
            )?;
            for stored in &mut changes.written {
                let body = std::mem::take(&mut stored.story.article.body);
                let story_id = &stored.story.story_id;
                // An empty text here is one the core already released: the
                // stored one stands.
                if !body.is_empty() {
                    upsert_body.execute(params![story_id, body])?;
                }
                let state =
                    serde_json::to_string(&*stored).map_err(|source| DedupError::Encode {
                        story_id: story_id.clone(),
                        source,
                    })?;
                upsert.execute(params![story_id, stored.seq as i64, state])?;
            }
        }
        transaction.commit()?;
        self.unsynced |= self.syncs_deferred;
        Ok(())
    }
}

/// The core rebuilt from the stored rows, and the rows whose text must move
/// to `dedup_bodies` (written before texts had their own table).
fn load_core(
    db: &Connection,
    config: DedupConfig,
) -> Result<(Deduplicator, Vec<StoredStory>), DedupError> {
    let mut core = Deduplicator::new(config);
    let mut texts_to_move = Vec::new();
    let mut statement = db.prepare(
        "SELECT s.story_id, s.state, b.body FROM dedup_stories s
         LEFT JOIN dedup_bodies b USING (story_id) ORDER BY s.seq",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let story_id: String = row.get(0)?;
        let state: String = row.get(1)?;
        let body: Option<String> = row.get(2)?;
        let mut stored: StoredStory =
            serde_json::from_str(&state).map_err(|source| DedupError::CorruptRow {
                story_id: story_id.clone(),
                source,
            })?;
        match body {
            Some(body) => stored.story.article.body = body,
            None if !stored.story.article.body.is_empty() => {
                texts_to_move.push(stored.clone());
            }
            None => {}
        }
        if core.restore(stored) {
            core.release_body(&story_id);
        }
    }
    Ok((core, texts_to_move))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous(stage: &DedupStage) -> i64 {
        stage
            .db
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn checks_are_synced_unless_a_changelog_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage =
            DedupStage::open(&dir.path().join("dedup.db"), DedupConfig::default()).unwrap();
        assert_eq!(synchronous(&stage), 2, "FULL: the only durable copy");
        stage.enable_changelog().unwrap();
        assert_eq!(synchronous(&stage), 1, "NORMAL: the changelog holds it");
    }

    #[test]
    fn deferred_checks_wait_for_the_callers_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage =
            DedupStage::open(&dir.path().join("dedup.db"), DedupConfig::default()).unwrap();
        stage.defer_syncs().unwrap();
        assert_eq!(synchronous(&stage), 1, "NORMAL until `sync`");
        stage.unsynced = true;
        stage.sync().unwrap();
        assert!(!stage.unsynced);
        assert_eq!(synchronous(&stage), 1, "back to NORMAL after the sync");
        // A changelog holds the checks: nothing is left for `sync` to do.
        stage.unsynced = true;
        stage.enable_changelog().unwrap();
        assert!(!stage.unsynced && !stage.syncs_deferred);
        stage.defer_syncs().unwrap();
        assert!(!stage.defers_syncs(), "a changelog holds them already");
    }
}
