//! The runner's state: the pure core plus every state change written to
//! SQLite before `check` returns, so a restart rebuilds the same window.

use std::path::Path;

use newsflow_model::Article;
use rusqlite::{params, Connection, OptionalExtension};

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
}

impl DedupStage {
    /// Opens (or creates) the state database and restores the window.
    pub fn open(db_path: &Path, config: DedupConfig) -> Result<Self, DedupError> {
        let db = Connection::open(db_path)?;
        // WAL with synchronous=NORMAL: a committed check survives a process
        // crash; an OS crash may lose the last few, which at-least-once input
        // redelivers and the core then recognises.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS dedup_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS dedup_stories (
                 story_id TEXT PRIMARY KEY,
                 seq INTEGER NOT NULL,
                 state TEXT NOT NULL
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
        let mut core = Deduplicator::new(config);
        {
            let mut statement =
                db.prepare("SELECT story_id, state FROM dedup_stories ORDER BY seq")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let story_id: String = row.get(0)?;
                let state: String = row.get(1)?;
                let stored: StoredStory = serde_json::from_str(&state)
                    .map_err(|source| DedupError::CorruptRow { story_id, source })?;
                core.restore(stored);
            }
        }
        let mut stage = Self { core, db };
        // The window may have shrunk since the state was written.
        let evicted = stage.core.evict();
        stage.persist(&StateChanges {
            written: Vec::new(),
            evicted,
        })?;
        tracing::info!(stories = stage.core.len(), "dedup state restored");
        Ok(stage)
    }

    pub fn check(&mut self, article: &Article) -> Result<Verdict, DedupError> {
        let (verdict, changes) = self.core.check_with_changes(article);
        self.persist(&changes)?;
        Ok(verdict)
    }

    /// Number of remembered stories.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    pub fn is_empty(&self) -> bool {
        self.core.is_empty()
    }

    fn persist(&mut self, changes: &StateChanges) -> Result<(), DedupError> {
        if changes.written.is_empty() && changes.evicted.is_empty() {
            return Ok(());
        }
        let transaction = self.db.transaction()?;
        {
            // Deletes first: an id evicted and started afresh in one check
            // must end up present.
            let mut delete =
                transaction.prepare_cached("DELETE FROM dedup_stories WHERE story_id = ?1")?;
            for story_id in &changes.evicted {
                delete.execute(params![story_id])?;
            }
            let mut upsert = transaction.prepare_cached(
                "INSERT INTO dedup_stories (story_id, seq, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT (story_id) DO UPDATE SET seq = excluded.seq, state = excluded.state
                 WHERE state IS NOT excluded.state",
            )?;
            for stored in &changes.written {
                let state = serde_json::to_string(stored).map_err(|source| DedupError::Encode {
                    story_id: stored.story.story_id.clone(),
                    source,
                })?;
                upsert.execute(params![stored.story.story_id, stored.seq as i64, state])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }
}
