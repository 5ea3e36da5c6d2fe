//! The runner: the core plus crash-safe state. Every accepted operation
//! (a new story, a member update, a tick that closed events) is appended to
//! an SQLite log before its output is returned; opening the database replays
//! the log through a fresh core. The core is deterministic, so the replay
//! rebuilds exactly the same events, ids and versions.

use std::path::Path;

use chrono::{DateTime, Utc};
use newsflow_model::{EventRecord, UniqueStory};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::{ClusterError, Clusterer, ClustererConfig, Document};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Operation {
    Story {
        id: String,
        title: String,
        body: String,
        time: Option<DateTime<Utc>>,
        outlet: String,
        url: String,
        also_carried_by: Vec<String>,
    },
    Update {
        id: String,
        title: String,
        also_carried_by: Vec<String>,
    },
    Tick {
        now: DateTime<Utc>,
    },
}

pub struct ClusterStage {
    connection: Connection,
    clusterer: Clusterer,
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
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS clusterer_log (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 operation TEXT NOT NULL
             );",
        )?;
        let mut clusterer = Clusterer::new(config);
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
                replayed += 1;
            }
            tracing::info!(replayed, path = %db_path.display(), "clusterer state restored");
        }
        Ok(Self {
            connection,
            clusterer,
        })
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

    fn log(&self, operation: &Operation) -> Result<(), ClusterError> {
        // Serialising our own enum of strings and times cannot fail.
        let text = serde_json::to_string(operation).expect("operations serialise infallibly");
        self.connection.execute(
            "INSERT INTO clusterer_log (operation) VALUES (?1)",
            params![text],
        )?;
        Ok(())
    }
}

/// Applies one logged operation to the core, returning the changed records.
fn apply(clusterer: &mut Clusterer, operation: Operation) -> Vec<EventRecord> {
    match operation {
        Operation::Story {
            id,
            title,
            body,
            time,
            outlet,
            url,
            also_carried_by,
        } => {
            let doc = Document {
                id,
                title,
                body,
                time,
                outlet,
                url,
            };
            clusterer.add_with_carriers(doc, also_carried_by).changed
        }
        Operation::Update {
            id,
            title,
            also_carried_by,
        } => clusterer
            .update_member(&id, &title, &also_carried_by)
            .into_iter()
            .collect(),
        Operation::Tick { now } => clusterer.close_quiet(now),
    }
}
