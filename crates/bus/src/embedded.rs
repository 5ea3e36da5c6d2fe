//! The embedded bus: an append-only log per topic in one SQLite file in the
//! data directory. It lives in the process that opens it; notifications
//! wake waiting consumers and producers at once, and a second process (such
//! as `newsflow tail`) can read the same file by polling.
//!
//! Durability: a record is committed to the log before `send` resolves, and
//! a group's position is committed when the stage acknowledges a record, so
//! a killed process resumes where its stages stopped. Backpressure: a topic
//! holds at most `max_backlog` records its slowest group has not
//! acknowledged; beyond that `send` waits. Records every group has passed
//! are deleted; compacted topics keep only the newest record per key.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;

use crate::{Bus, BusError, Consumer, Delivery, EmbeddedConfig, Producer};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL,
    offset INTEGER NOT NULL,
    key TEXT,
    payload BLOB NOT NULL,
    PRIMARY KEY (topic, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_key ON records (topic, key);
CREATE TABLE IF NOT EXISTS topic_heads (
    topic TEXT PRIMARY KEY,
    next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_positions (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
);
";

/// How long a waiting producer or consumer sleeps before looking again even
/// without a notification (another process may have written).
const RECHECK: Duration = Duration::from_millis(250);
const READ_BATCH: i64 = 128;

struct Shared {
    path: PathBuf,
    connection: Mutex<Connection>,
    max_backlog: u64,
    max_message_bytes: usize,
    compacted: Vec<String>,
    new_records: Notify,
    capacity_freed: Notify,
}

impl Shared {
    fn store_error(&self, source: rusqlite::Error) -> BusError {
        BusError::Store {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, BusError> {
        let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut connection).map_err(|e| self.store_error(e))
    }
}

/// The in-process bus over a SQLite log. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedBus {
    shared: Arc<Shared>,
}

impl EmbeddedBus {
    /// Opens (creating when missing) the log at `config.path`, relative
    /// paths being taken against `data_dir`.
    pub fn open(
        data_dir: &Path,
        config: &EmbeddedConfig,
        compacted: &[&str],
    ) -> Result<Self, BusError> {
        let path = if config.path.is_absolute() {
            config.path.clone()
        } else {
            data_dir.join(&config.path)
        };
        let store_error = |source| BusError::Store {
            path: path.display().to_string(),
            source,
        };
        let connection = Connection::open(&path).map_err(store_error)?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(store_error)?;
        connection.execute_batch(SCHEMA).map_err(store_error)?;
        Ok(Self {
            shared: Arc::new(Shared {
                path,
                connection: Mutex::new(connection),
                max_backlog: config.max_backlog.max(1),
                max_message_bytes: config.max_message_bytes,
                compacted: compacted.iter().map(|t| t.to_string()).collect(),
                new_records: Notify::new(),
                capacity_freed: Notify::new(),
            }),
        })
    }

    /// Reads `topic` from `from_offset` on without joining a group: for
    /// observers such as `tail`, which must not hold back the producers.
    pub fn reader(&self, topic: &str, from_offset: i64) -> TopicReader {
        TopicReader {
            shared: self.shared.clone(),
            topic: topic.to_string(),
            next_offset: from_offset,
        }
    }

    /// The offset the next record on `topic` will get.
    pub fn head(&self, topic: &str) -> Result<i64, BusError> {
        self.shared.with_connection(|c| head_of(c, topic))
    }

    /// Records on `topic` that `group` has not acknowledged (0 for a group
    /// that never joined).
    pub fn pending(&self, group: &str, topic: &str) -> Result<u64, BusError> {
        self.shared.with_connection(|c| pending_of(c, group, topic))
    }

    fn backlog_limit_reached(&self, topic: &str) -> Result<bool, BusError> {
        let max_backlog = self.shared.max_backlog as i64;
        self.shared.with_connection(|c| {
            let head = head_of(c, topic)?;
            let slowest: Option<i64> = c.query_row(
                "SELECT MIN(next_offset) FROM group_positions WHERE topic = ?1",
                [topic],
                |row| row.get(0),
            )?;
            Ok(slowest.is_some_and(|slowest| head - slowest >= max_backlog))
        })
    }
}

fn head_of(connection: &Connection, topic: &str) -> rusqlite::Result<i64> {
    Ok(connection
        .query_row(
            "SELECT next_offset FROM topic_heads WHERE topic = ?1",
            [topic],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

fn pending_of(connection: &Connection, group: &str, topic: &str) -> rusqlite::Result<u64> {
    let head = head_of(connection, topic)?;
    let position: Option<i64> = connection
        .query_row(
            "SELECT next_offset FROM group_positions WHERE grp = ?1 AND topic = ?2",
            params![group, topic],
            |row| row.get(0),
        )
        .optional()?;
    Ok(position.map_or(0, |position| (head - position).max(0) as u64))
}

fn read_batch(
    connection: &Connection,
    topic: &str,
    from_offset: i64,
) -> rusqlite::Result<Vec<Delivery>> {
    let mut statement = connection.prepare_cached(
        "SELECT offset, key, payload FROM records
         WHERE topic = ?1 AND offset >= ?2 ORDER BY offset LIMIT ?3",
    )?;
    let rows = statement.query_map(params![topic, from_offset, READ_BATCH], |row| {
        Ok(Delivery {
            topic: topic.to_string(),
            partition: 0,
            offset: row.get(0)?,
            key: row.get(1)?,
            payload: row.get(2)?,
        })
    })?;
    rows.collect()
}

#[async_trait]
impl Producer for EmbeddedBus {
    async fn send(&self, topic: &str, key: &str, payload: Vec<u8>) -> Result<(), BusError> {
        let size = key.len() + payload.len();
        if size > self.shared.max_message_bytes {
            return Err(BusError::TooLarge {
                topic: topic.to_string(),
                size,
                limit: self.shared.max_message_bytes,
            });
        }
        loop {
            // Register interest before checking, so a commit that frees room
            // between the check and the wait still wakes this producer.
            let freed = self.shared.capacity_freed.notified();
            if !self.backlog_limit_reached(topic)? {
                break;
            }
            let _ = tokio::time::timeout(RECHECK, freed).await;
        }
        let compacted = self.shared.compacted.iter().any(|t| t == topic);
        self.shared.with_connection(|c| {
            let tx = c.transaction()?;
            let offset = head_of(&tx, topic)?;
            tx.execute(
                "INSERT INTO records (topic, offset, key, payload) VALUES (?1, ?2, ?3, ?4)",
                params![topic, offset, key, payload],
            )?;
            tx.execute(
                "INSERT INTO topic_heads (topic, next_offset) VALUES (?1, ?2)
                 ON CONFLICT (topic) DO UPDATE SET next_offset = excluded.next_offset",
                params![topic, offset + 1],
            )?;
            if compacted {
                tx.execute(
                    "DELETE FROM records WHERE topic = ?1 AND key = ?2 AND offset < ?3",
                    params![topic, key, offset],
                )?;
            }
            tx.commit()
        })?;
        self.shared.new_records.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl Bus for EmbeddedBus {
    async fn producer(&self) -> Result<Arc<dyn Producer>, BusError> {
        Ok(Arc::new(self.clone()))
    }

    async fn consumer(&self, group: &str, topic: &str) -> Result<Box<dyn Consumer>, BusError> {
        let position = self.shared.with_connection(|c| {
            c.execute(
                "INSERT OR IGNORE INTO group_positions (grp, topic, next_offset)
                 SELECT ?1, ?2, COALESCE(MIN(offset), 0) FROM records WHERE topic = ?2",
                params![group, topic],
            )?;
            c.query_row(
                "SELECT next_offset FROM group_positions WHERE grp = ?1 AND topic = ?2",
                params![group, topic],
                |row| row.get(0),
            )
        })?;
        Ok(Box::new(EmbeddedConsumer {
            shared: self.shared.clone(),
            group: group.to_string(),
            topic: topic.to_string(),
            read_position: position,
            buffered: Default::default(),
        }))
    }
}

struct EmbeddedConsumer {
    shared: Arc<Shared>,
    group: String,
    topic: String,
    read_position: i64,
    buffered: std::collections::VecDeque<Delivery>,
}

#[async_trait]
impl Consumer for EmbeddedConsumer {
    async fn poll(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(delivery) = self.buffered.pop_front() {
                self.read_position = delivery.offset + 1;
                return Ok(Some(delivery));
            }
            let arrived = self.shared.new_records.notified();
            let (topic, from) = (self.topic.clone(), self.read_position);
            let batch = self
                .shared
                .with_connection(|c| read_batch(c, &topic, from))?;
            if !batch.is_empty() {
                self.buffered.extend(batch);
                continue;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let _ = tokio::time::timeout((deadline - now).min(RECHECK), arrived).await;
        }
    }

    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        let next = delivery.offset + 1;
        self.shared.with_connection(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE group_positions SET next_offset = MAX(next_offset, ?3)
                 WHERE grp = ?1 AND topic = ?2",
                params![self.group, self.topic, next],
            )?;
            // Records every group has passed are of no further use, unless
            // the topic is compacted: there the newest per key is the state.
            if !self.shared.compacted.contains(&self.topic) {
                tx.execute(
                    "DELETE FROM records WHERE topic = ?1 AND offset <
                     (SELECT MIN(next_offset) FROM group_positions WHERE topic = ?1)",
                    params![self.topic],
                )?;
            }
            tx.commit()
        })?;
        self.shared.capacity_freed.notify_waiters();
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), BusError> {
        // Every ack is already committed.
        Ok(())
    }

    async fn backlog(&mut self) -> Result<Option<u64>, BusError> {
        let pending = self
            .shared
            .with_connection(|c| pending_of(c, &self.group, &self.topic))?;
        Ok(Some(pending))
    }
}

/// A group-less reader of one topic.
pub struct TopicReader {
    shared: Arc<Shared>,
    topic: String,
    next_offset: i64,
}

impl TopicReader {
    /// Records from the current position on, at most one batch; empty when
    /// there is nothing new.
    pub fn read_available(&mut self) -> Result<Vec<Delivery>, BusError> {
        let (topic, from) = (self.topic.clone(), self.next_offset);
        let batch = self
            .shared
            .with_connection(|c| read_batch(c, &topic, from))?;
        if let Some(last) = batch.last() {
            self.next_offset = last.offset + 1;
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path, max_backlog: u64) -> EmbeddedBus {
        let config = EmbeddedConfig {
            path: "bus.db".into(),
            max_backlog,
            ..Default::default()
        };
        EmbeddedBus::open(dir, &config, &["events"]).unwrap()
    }

    #[tokio::test]
    async fn acknowledged_records_are_not_delivered_again_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let bus = open(dir.path(), 100);
            let mut consumer = bus.consumer("g", "t").await.unwrap();
            for i in 0..3 {
                bus.send("t", "k", vec![i]).await.unwrap();
            }
            let first = consumer.poll(RECHECK).await.unwrap().unwrap();
            consumer.ack(&first).unwrap();
            // The second is read but not acknowledged: it must come back.
            let second = consumer.poll(RECHECK).await.unwrap().unwrap();
            assert_eq!(second.payload, vec![1]);
        }
        let bus = open(dir.path(), 100);
        let mut consumer = bus.consumer("g", "t").await.unwrap();
        let again = consumer.poll(RECHECK).await.unwrap().unwrap();
        assert_eq!(again.payload, vec![1]);
        assert_eq!(consumer.backlog().await.unwrap(), Some(2));
    }

    #[tokio::test]
    async fn a_full_backlog_makes_the_producer_wait_for_an_ack() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 2);
        let mut consumer = bus.consumer("g", "t").await.unwrap();
        bus.send("t", "a", vec![0]).await.unwrap();
        bus.send("t", "b", vec![1]).await.unwrap();
        let blocked = tokio::time::timeout(Duration::from_millis(400), bus.send("t", "c", vec![2]));
        assert!(
            blocked.await.is_err(),
            "third send must wait while two are pending"
        );
        let first = consumer.poll(RECHECK).await.unwrap().unwrap();
        consumer.ack(&first).unwrap();
        tokio::time::timeout(Duration::from_secs(2), bus.send("t", "c", vec![2]))
            .await
            .expect("an ack frees room")
            .unwrap();
    }

    #[tokio::test]
    async fn compacted_topics_keep_the_newest_record_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 100);
        bus.send("events", "e1", b"v1".to_vec()).await.unwrap();
        bus.send("events", "e2", b"w1".to_vec()).await.unwrap();
        bus.send("events", "e1", b"v2".to_vec()).await.unwrap();
        let mut reader = bus.reader("events", 0);
        let payloads: Vec<_> = reader
            .read_available()
            .unwrap()
            .into_iter()
            .map(|d| d.payload)
            .collect();
        assert_eq!(payloads, vec![b"w1".to_vec(), b"v2".to_vec()]);
        assert!(reader.read_available().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_record_above_the_size_limit_is_refused_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let config = EmbeddedConfig {
            max_message_bytes: 100,
            ..Default::default()
        };
        let bus = EmbeddedBus::open(dir.path(), &config, &[]).unwrap();
        bus.send("t", "k", vec![0; 99]).await.unwrap();
        let refused = bus.send("t", "k", vec![0; 100]).await.unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        assert!(matches!(
            refused,
            BusError::TooLarge {
                size: 101,
                limit: 100,
                ..
            }
        ));
        assert_eq!(
            bus.head("t").unwrap(),
            1,
            "the refused record is not in the log"
        );
    }

    #[tokio::test]
    async fn records_all_groups_passed_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 100);
        let mut consumer = bus.consumer("g", "t").await.unwrap();
        bus.send("t", "a", vec![0]).await.unwrap();
        let d = consumer.poll(RECHECK).await.unwrap().unwrap();
        consumer.ack(&d).unwrap();
        assert!(bus.reader("t", 0).read_available().unwrap().is_empty());
        assert_eq!(bus.head("t").unwrap(), 1);
    }
}
