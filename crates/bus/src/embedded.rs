//! The embedded bus: an append-only log per topic in one SQLite file in the
//! data directory. It lives in the process that opens it; notifications
//! wake waiting consumers and producers at once, and a second process (such
//! as `newsflow tail`) can read the same file by polling.
//!
//! Durability: a record is committed (and synced, `synchronous = FULL`) to
//! the log before `send` (or what `enqueue` returns) resolves; records and
//! acknowledged positions go through one writer thread that commits what
//! queued up meanwhile together (`embedded_writer`). A position is written
//! with the writer's next batch, and at once by `commit`: a killed process
//! resumes at most a batch before where its stages stopped, and every stage
//! takes a record it already processed as a repeat.
//!
//! Groups: a group is *attached* while a consumer this bus handed out is
//! alive, and *detached* otherwise (registered by an earlier run, such as
//! `--events-out` used once). Backpressure counts attached groups only: a
//! topic holds at most `max_backlog` records its slowest attached group has
//! not acknowledged; beyond that `send` waits. A detached group keeps its
//! position, and its unread records within the topic's retention, for
//! `detached_group_retention_ms`; `maintain` then drops it.
//!
//! Deletion: records every registered group has passed are deleted with
//! the batch that writes the position;
//! compacted topics keep only the newest record per key; and `maintain`
//! deletes records older or beyond the size the topic's retention allows,
//! unless an attached group has yet to read them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;

use crate::embedded_arrivals::Arrivals;
use crate::embedded_schema;
use crate::embedded_writer::{self, LogWrite, LogWriter};
use crate::{Bus, BusError, Consumer, Delivery, EmbeddedConfig, PendingSend, Producer};

/// How long a waiting producer or consumer sleeps before looking again even
/// without a notification (another process may have written).
const RECHECK: Duration = Duration::from_millis(250);
const READ_BATCH: i64 = 128;
const READ_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// (group, topic)
type GroupKey = (String, String);

/// The longest a flush of the log writer's queue is waited for.
const FLUSH_WAIT: Duration = Duration::from_secs(30);

/// Runs `f`, which may block on the disk or a lock: on a multi-threaded
/// runtime the worker first hands its other tasks to another thread, so
/// that the operator endpoint and the stall watcher keep answering.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    let on_multi_thread_runtime = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if on_multi_thread_runtime {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

pub(crate) struct Shared {
    pub(crate) path: PathBuf,
    /// Writes other than records and positions (attaching groups,
    /// maintenance); shared with the log writer.
    pub(crate) connection: Arc<Mutex<Connection>>,
    /// Reads, on a connection of their own: in WAL mode they need not wait
    /// for a writer's sync.
    reader: Mutex<Connection>,
    pub(crate) config: EmbeddedConfig,
    pub(crate) compacted: Vec<String>,
    /// Live consumers per group and topic handed out by this bus.
    pub(crate) attached: Mutex<HashMap<GroupKey, usize>>,
    /// Records and positions on their way to the log writer.
    writer: Mutex<std::sync::mpsc::Sender<LogWrite>>,
    /// Wakes a topic's waiting consumers once records are appended to it.
    pub(crate) arrivals: Arc<Arrivals>,
    pub(crate) capacity_freed: Arc<Notify>,
    /// The log writer's sign that the bus is still open.
    open: Arc<()>,
}

impl Shared {
    pub(crate) fn store_error(&self, source: rusqlite::Error) -> BusError {
        BusError::Store {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Runs `f` on the log. A call can block for as long as the busy
    /// timeout (another process holds the write lock, a slow disk syncs):
    /// on a multi-threaded runtime the worker hands its other tasks to
    /// another thread first, so that the operator endpoint and the stall
    /// watcher keep answering while a stage waits on the log.
    pub(crate) fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, BusError> {
        blocking(|| {
            let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut connection).map_err(|e| self.store_error(e))
        })
    }

    /// Runs `f` on the connection for reads (see `with_connection`).
    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, BusError> {
        blocking(|| {
            let connection = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            f(&connection).map_err(|e| self.store_error(e))
        })
    }

    /// Queues `write` for the log writer.
    fn queue(&self, write: LogWrite) -> Result<(), BusError> {
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(write)
            .map_err(|_| BusError::Closed)
    }

    /// Waits until everything queued for the log writer so far is written.
    pub(crate) fn flush(&self) -> Result<(), BusError> {
        let (done, written) = std::sync::mpsc::channel();
        self.queue(LogWrite::Flush(done))?;
        blocking(|| {
            written
                .recv_timeout(FLUSH_WAIT)
                .map_err(|_| BusError::Closed)
        })
    }

    /// The groups attached to `topic` in this process.
    pub(crate) fn attached_groups(&self, topic: &str) -> Vec<String> {
        let attached = self.attached.lock().unwrap_or_else(|p| p.into_inner());
        attached
            .keys()
            .filter(|(_, t)| t == topic)
            .map(|(g, _)| g.clone())
            .collect()
    }

    pub(crate) fn is_attached(&self, group: &str, topic: &str) -> bool {
        let attached = self.attached.lock().unwrap_or_else(|p| p.into_inner());
        attached.contains_key(&(group.to_string(), topic.to_string()))
    }
}

/// Every transaction that writes takes the write lock at its start: a
/// deferred one that read first and must then upgrade fails at once, with
/// no busy wait, when another process (a reader tool, a test) wrote in
/// between.
pub(crate) fn write_transaction(
    connection: &mut Connection,
) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One registered consumer group on one topic, as `newsflow bus groups`
/// shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub group: String,
    pub topic: String,
    /// The offset the group reads next.
    pub position: i64,
    /// Records on the topic the group has not acknowledged.
    pub pending: u64,
    /// When the group was last attached or acknowledged a record (ms since
    /// the Unix epoch).
    pub last_seen_ms: Option<i64>,
    /// The process that attached it last, while attached (may have died:
    /// compare with the data directory's lock holder).
    pub attached_pid: Option<u32>,
    /// Attached through this very bus handle.
    pub attached_here: bool,
}

/// The in-process bus over a SQLite log. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedBus {
    pub(crate) shared: Arc<Shared>,
}

impl EmbeddedBus {
    /// Opens (creating when missing) the log at `config.path`, relative
    /// paths being taken against `data_dir`.
    pub fn open(
        data_dir: &Path,
        config: &EmbeddedConfig,
        compacted: &[&str],
    ) -> Result<Self, BusError> {
        let path = Self::log_path(data_dir, config);
        let store_error = |source| BusError::Store {
            path: path.display().to_string(),
            source,
        };
        let mut connection = Connection::open(&path).map_err(store_error)?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(store_error)?;
        // Some lock waits inside SQLite (a writer in another process
        // checkpointing, say) fail at once instead of calling the busy
        // handler: opening tries again for as long as the busy timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match embedded_schema::create_or_upgrade(&mut connection, now_ms()) {
                Ok(()) => break,
                Err(error)
                    if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => return Err(store_error(error)),
            }
        }
        let mut config = config.clone();
        config.max_backlog = config.max_backlog.max(1);
        let reader = Connection::open(&path).map_err(store_error)?;
        reader
            .busy_timeout(Duration::from_secs(10))
            .map_err(store_error)?;
        let (queue, queued) = embedded_writer::queue();
        let shared = Arc::new(Shared {
            path,
            connection: Arc::new(Mutex::new(connection)),
            reader: Mutex::new(reader),
            config,
            compacted: compacted.iter().map(|t| t.to_string()).collect(),
            attached: Mutex::new(HashMap::new()),
            writer: Mutex::new(queue),
            arrivals: Arc::new(Arrivals::default()),
            capacity_freed: Arc::new(Notify::new()),
            open: Arc::new(()),
        });
        let writer = LogWriter {
            path: shared.path.display().to_string(),
            connection: shared.connection.clone(),
            compacted: shared.compacted.clone(),
            arrivals: shared.arrivals.clone(),
            capacity_freed: shared.capacity_freed.clone(),
            bus_open: Arc::downgrade(&shared.open),
        };
        writer.start(queued).map_err(|source| BusError::Writer {
            path: shared.path.display().to_string(),
            source,
        })?;
        Ok(Self { shared })
    }

    /// Where the log of a bus opened with `config` in `data_dir` lives.
    pub fn log_path(data_dir: &Path, config: &EmbeddedConfig) -> PathBuf {
        if config.path.is_absolute() {
            config.path.clone()
        } else {
            data_dir.join(&config.path)
        }
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

    /// How many records `topic` holds, and their bytes (keys and payloads).
    pub fn stored(&self, topic: &str) -> Result<(u64, u64), BusError> {
        self.shared.with_connection(|c| {
            c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(length(payload) + COALESCE(length(key), 0)), 0)
                 FROM records WHERE topic = ?1",
                [topic],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
            )
        })
    }

    /// Every registered group on every topic, attached or not.
    pub fn groups(&self) -> Result<Vec<GroupInfo>, BusError> {
        // Positions still queued for the writer count as acknowledged.
        self.shared.flush()?;
        let rows = self.shared.with_connection(|c| {
            let mut statement = c.prepare(
                "SELECT g.grp, g.topic, g.next_offset, g.last_seen_ms, g.attached_pid,
                        COALESCE(h.next_offset, 0)
                 FROM group_positions g LEFT JOIN topic_heads h ON h.topic = g.topic
                 ORDER BY g.grp, g.topic",
            )?;
            let rows = statement.query_map([], |row| {
                let position: i64 = row.get(2)?;
                let head: i64 = row.get(5)?;
                Ok(GroupInfo {
                    group: row.get(0)?,
                    topic: row.get(1)?,
                    position,
                    pending: (head - position).max(0) as u64,
                    last_seen_ms: row.get(3)?,
                    attached_pid: row.get::<_, Option<i64>>(4)?.map(|p| p as u32),
                    attached_here: false,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(rows
            .into_iter()
            .map(|mut info| {
                info.attached_here = self.shared.is_attached(&info.group, &info.topic);
                info
            })
            .collect())
    }

    /// Unregisters `group` on every topic; returns how many (group, topic)
    /// registrations it removed. A group attached here cannot be dropped.
    /// Records only that group held back are deleted.
    pub fn drop_group(&self, group: &str) -> Result<usize, BusError> {
        let attached = self
            .shared
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .any(|(g, _)| g == group);
        if attached {
            return Err(BusError::GroupAttached(group.to_string()));
        }
        let compacted = self.shared.compacted.clone();
        let removed = self.shared.with_connection(|c| {
            let tx = write_transaction(c)?;
            let topics: Vec<String> = {
                let mut statement =
                    tx.prepare("SELECT topic FROM group_positions WHERE grp = ?1")?;
                let rows = statement.query_map([group], |row| row.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            tx.execute("DELETE FROM group_positions WHERE grp = ?1", [group])?;
            for topic in &topics {
                if !compacted.contains(topic) {
                    delete_passed(&tx, topic)?;
                }
            }
            tx.commit()?;
            Ok(topics.len())
        })?;
        self.shared.capacity_freed.notify_waiters();
        Ok(removed)
    }

    fn backlog_limit_reached(&self, topic: &str) -> Result<bool, BusError> {
        let groups = self.shared.attached_groups(topic);
        if groups.is_empty() {
            return Ok(false);
        }
        let max_backlog = self.shared.config.max_backlog;
        self.shared.with_reader(|c| {
            for group in &groups {
                if pending_of(c, group, topic)? >= max_backlog {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }
}

pub(crate) fn head_of(connection: &Connection, topic: &str) -> rusqlite::Result<i64> {
    Ok(connection
        .prepare_cached("SELECT next_offset FROM topic_heads WHERE topic = ?1")?
        .query_row([topic], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

fn pending_of(connection: &Connection, group: &str, topic: &str) -> rusqlite::Result<u64> {
    let head = head_of(connection, topic)?;
    let position: Option<i64> = connection
        .prepare_cached("SELECT next_offset FROM group_positions WHERE grp = ?1 AND topic = ?2")?
        .query_row(params![group, topic], |row| row.get(0))
        .optional()?;
    Ok(position.map_or(0, |position| (head - position).max(0) as u64))
}

/// Deletes the records of `topic` every registered group has passed (none
/// when no group is registered: retention alone deletes those).
pub(crate) fn delete_passed(connection: &Connection, topic: &str) -> rusqlite::Result<usize> {
    connection
        .prepare_cached(
            "DELETE FROM records WHERE topic = ?1 AND offset <
             (SELECT MIN(next_offset) FROM group_positions WHERE topic = ?1)",
        )?
        .execute(params![topic])
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
    // A batch ends early past READ_BATCH_BYTES (after at least one record).
    let mut batch = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let delivery = row?;
        bytes += delivery.payload.len();
        batch.push(delivery);
        if bytes >= READ_BATCH_BYTES {
            break;
        }
    }
    Ok(batch)
}

#[async_trait]
impl Producer for EmbeddedBus {
    /// Waits while the topic's slowest attached group is `max_backlog`
    /// behind, then queues the record for the log writer (see
    /// `embedded_writer`); what it returns resolves once the record is
    /// committed and synced (`synchronous = FULL`).
    async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: Vec<u8>,
    ) -> Result<PendingSend, BusError> {
        let size = key.len() + payload.len();
        if size > self.shared.config.max_message_bytes {
            return Err(BusError::TooLarge {
                topic: topic.to_string(),
                size,
                limit: self.shared.config.max_message_bytes,
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
        let (durable, committed) = tokio::sync::oneshot::channel();
        self.shared.queue(LogWrite::Record {
            topic: topic.to_string(),
            key: key.to_string(),
            payload,
            durable,
        })?;
        Ok(Box::pin(async move {
            committed.await.map_err(|_| BusError::Closed)
        }))
    }
}

#[async_trait]
impl Bus for EmbeddedBus {
    async fn producer(&self) -> Result<Arc<dyn Producer>, BusError> {
        Ok(Arc::new(self.clone()))
    }

    async fn consumer(&self, group: &str, topic: &str) -> Result<Box<dyn Consumer>, BusError> {
        let pid = std::process::id();
        let position = self.shared.with_connection(|c| {
            let tx = write_transaction(c)?;
            tx.execute(
                "INSERT OR IGNORE INTO group_positions (grp, topic, next_offset)
                 SELECT ?1, ?2, COALESCE(MIN(offset), 0) FROM records WHERE topic = ?2",
                params![group, topic],
            )?;
            tx.execute(
                "UPDATE group_positions SET last_seen_ms = ?3, attached_pid = ?4
                 WHERE grp = ?1 AND topic = ?2",
                params![group, topic, now_ms(), pid],
            )?;
            let position = tx.query_row(
                "SELECT next_offset FROM group_positions WHERE grp = ?1 AND topic = ?2",
                params![group, topic],
                |row| row.get(0),
            )?;
            tx.commit()?;
            Ok(position)
        })?;
        *self
            .shared
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((group.to_string(), topic.to_string()))
            .or_default() += 1;
        let reader = Connection::open(&self.shared.path)
            .and_then(|c| c.busy_timeout(Duration::from_secs(10)).map(|()| c))
            .map_err(|e| self.shared.store_error(e))?;
        Ok(Box::new(EmbeddedConsumer {
            shared: self.shared.clone(),
            reader,
            group: group.to_string(),
            topic: topic.to_string(),
            arrived: self.shared.arrivals.of(topic),
            read_position: position,
            buffered: Default::default(),
        }))
    }
}

struct EmbeddedConsumer {
    shared: Arc<Shared>,
    /// Its own connection for reading the topic: a batch of large records
    /// (whole pages) takes a while to read, and must not hold up other
    /// consumers or the producers' backlog checks.
    reader: Connection,
    group: String,
    topic: String,
    /// Woken when records are appended to `topic`.
    arrived: Arc<Notify>,
    read_position: i64,
    buffered: std::collections::VecDeque<Delivery>,
}

impl Drop for EmbeddedConsumer {
    /// The group detaches when its last consumer here goes: it stops
    /// counting for backpressure at once, and its detached time starts.
    fn drop(&mut self) {
        // Its acknowledgements are written before it goes, so that a
        // consumer of the same group opened next starts after them.
        if let Err(error) = self.shared.flush() {
            tracing::warn!(group = %self.group, topic = %self.topic, %error,
                "could not write a consumer's last acknowledgements");
        }
        let key = (self.group.clone(), self.topic.clone());
        let detached = {
            let mut attached = self
                .shared
                .attached
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match attached.get_mut(&key) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    attached.remove(&key);
                    true
                }
                None => false,
            }
        };
        if detached {
            let marked = self.shared.with_connection(|c| {
                c.execute(
                    "UPDATE group_positions SET last_seen_ms = ?3, attached_pid = NULL
                     WHERE grp = ?1 AND topic = ?2",
                    params![self.group, self.topic, now_ms()],
                )
            });
            if let Err(error) = marked {
                tracing::warn!(group = %self.group, topic = %self.topic, %error,
                    "could not mark a consumer group detached");
            }
            self.shared.capacity_freed.notify_waiters();
        }
    }
}

#[async_trait]
impl Consumer for EmbeddedConsumer {
    async fn poll(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(delivery) = self.buffered.pop_front() {
                self.read_position = delivery.offset + 1;
                // A stage working through a full batch never waits on
                // anything: let the scheduler run other tasks now and then.
                tokio::task::consume_budget().await;
                return Ok(Some(delivery));
            }
            let arrived = self.arrived.notified();
            let (topic, from) = (self.topic.clone(), self.read_position);
            let batch = blocking(|| read_batch(&self.reader, &topic, from))
                .map_err(|e| self.shared.store_error(e))?;
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

    /// Queues the new position for the log writer, which makes it durable
    /// with its next batch (and deletes what every group has passed);
    /// `commit` waits for that.
    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        self.shared.queue(LogWrite::Position {
            group: self.group.clone(),
            topic: self.topic.clone(),
            next: delivery.offset + 1,
        })
    }

    async fn commit(&mut self) -> Result<(), BusError> {
        self.shared.flush()
    }

    async fn backlog(&mut self) -> Result<Option<u64>, BusError> {
        let pending = self
            .shared
            .with_reader(|c| pending_of(c, &self.group, &self.topic))?;
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
        let batch = self.shared.with_reader(|c| read_batch(c, &topic, from))?;
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
            max_backlog,
            ..EmbeddedConfig::default()
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
        consumer.commit().await.unwrap();
        assert!(bus.reader("t", 0).read_available().unwrap().is_empty());
        assert_eq!(bus.head("t").unwrap(), 1);
    }

    fn open_with(dir: &Path, config: EmbeddedConfig) -> EmbeddedBus {
        EmbeddedBus::open(dir, &config, &["events"]).unwrap()
    }

    #[tokio::test]
    async fn a_detached_group_does_not_hold_producers_back() {
        let dir = tempfile::tempdir().unwrap();
        {
            // An earlier run had a second group (`--events-out`), now gone.
            let earlier = open(dir.path(), 3);
            drop(earlier.consumer("events-out", "t").await.unwrap());
        }
        let bus = open(dir.path(), 3);
        let mut live = bus.consumer("live", "t").await.unwrap();
        for i in 0..10u8 {
            tokio::time::timeout(Duration::from_secs(2), bus.send("t", "k", vec![i]))
                .await
                .expect("a detached group must not make the producer wait")
                .unwrap();
            let delivery = live.poll(RECHECK).await.unwrap().unwrap();
            live.ack(&delivery).unwrap();
        }
        let groups = bus.groups().unwrap();
        let old = groups.iter().find(|g| g.group == "events-out").unwrap();
        assert_eq!(
            (old.pending, old.attached_here, old.attached_pid),
            (10, false, None)
        );
        let attached = groups.iter().find(|g| g.group == "live").unwrap();
        assert_eq!(attached.pending, 0);
        assert!(attached.attached_here);
        assert_eq!(attached.attached_pid, Some(std::process::id()));
        // The detached group's records are kept for it meanwhile.
        assert_eq!(bus.stored("t").unwrap().0, 10);
    }

    #[tokio::test]
    async fn a_group_detaching_frees_the_producer_waiting_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 1);
        let consumer = bus.consumer("g", "t").await.unwrap();
        bus.send("t", "a", vec![0]).await.unwrap();
        let blocked = tokio::time::timeout(Duration::from_millis(300), bus.send("t", "b", vec![1]));
        assert!(
            blocked.await.is_err(),
            "the attached group holds the producer"
        );
        drop(consumer);
        tokio::time::timeout(Duration::from_secs(2), bus.send("t", "b", vec![1]))
            .await
            .expect("a detached group no longer holds the producer")
            .unwrap();
    }

    #[tokio::test]
    async fn a_detached_group_is_dropped_after_its_retention_and_its_records_go() {
        let dir = tempfile::tempdir().unwrap();
        let config = EmbeddedConfig {
            detached_group_retention_ms: 60_000,
            ..EmbeddedConfig::default()
        };
        {
            let earlier = open_with(dir.path(), config.clone());
            drop(earlier.consumer("gone", "t").await.unwrap());
        }
        let bus = open_with(dir.path(), config);
        let mut live = bus.consumer("live", "t").await.unwrap();
        for i in 0..5u8 {
            bus.send("t", "k", vec![i]).await.unwrap();
            let delivery = live.poll(RECHECK).await.unwrap().unwrap();
            live.ack(&delivery).unwrap();
        }
        let now = now_ms();
        let report = bus.maintain_at(now + 30_000).unwrap();
        assert!(
            report.dropped_groups.is_empty(),
            "kept within its retention"
        );
        assert_eq!(bus.stored("t").unwrap().0, 5);
        let report = bus.maintain_at(now + 61_000).unwrap();
        assert_eq!(
            report.dropped_groups,
            vec![("gone".to_string(), "t".to_string())]
        );
        assert_eq!(
            bus.stored("t").unwrap().0,
            0,
            "only the dropped group held them"
        );
        let names: Vec<String> = bus.groups().unwrap().into_iter().map(|g| g.group).collect();
        assert_eq!(
            names,
            vec!["live".to_string()],
            "attached groups are never dropped"
        );
    }

    #[tokio::test]
    async fn drop_group_removes_a_detached_group_and_refuses_an_attached_one() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 100);
        drop(bus.consumer("old", "t").await.unwrap());
        let _live = bus.consumer("live", "t").await.unwrap();
        bus.send("t", "k", vec![1]).await.unwrap();
        assert!(matches!(
            bus.drop_group("live"),
            Err(BusError::GroupAttached(_))
        ));
        assert_eq!(bus.drop_group("old").unwrap(), 1);
        assert_eq!(bus.groups().unwrap().len(), 1);
        assert_eq!(bus.drop_group("old").unwrap(), 0);
    }

    #[tokio::test]
    async fn retention_by_age_spares_what_attached_groups_have_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let config = EmbeddedConfig {
            retention_ms: 1_000,
            ..EmbeddedConfig::default()
        };
        let bus = open_with(dir.path(), config);
        let _reader = bus.consumer("slow", "t").await.unwrap();
        for i in 0..3u8 {
            bus.send("t", "k", vec![i]).await.unwrap();
            bus.send("nobody-reads", "k", vec![i]).await.unwrap();
        }
        let report = bus.maintain_at(now_ms() + 5_000).unwrap();
        assert_eq!(report.deleted_records, 3);
        assert_eq!(
            bus.stored("t").unwrap().0,
            3,
            "the attached group still needs them"
        );
        assert_eq!(bus.stored("nobody-reads").unwrap().0, 0);
        assert_eq!(bus.head("nobody-reads").unwrap(), 3, "offsets go on");
    }

    #[tokio::test]
    async fn retention_by_size_keeps_a_topic_nobody_reads_from_growing() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmbeddedConfig::default();
        config.topics.insert(
            "duplicates".into(),
            crate::TopicRetention {
                retention_ms: None,
                retention_bytes: Some(50_000),
            },
        );
        let bus = open_with(dir.path(), config);
        let log_size = || {
            ["bus.db", "bus.db-wal"]
                .iter()
                .map(|f| std::fs::metadata(dir.path().join(f)).map_or(0, |m| m.len()))
                .sum::<u64>()
        };
        let mut sizes = Vec::new();
        for round in 0..12u32 {
            for i in 0..100u32 {
                let payload = format!("{round}-{i}-{}", "x".repeat(1_000)).into_bytes();
                bus.send("duplicates", &format!("{round}-{i}"), payload)
                    .await
                    .unwrap();
            }
            bus.maintain().unwrap();
            let (_, bytes) = bus.stored("duplicates").unwrap();
            assert!(bytes <= 50_000, "round {round}: {bytes} bytes kept");
            sizes.push(log_size());
        }
        // 1.2 MB were written; once retention holds, the file stops growing
        // (freed pages are reused).
        let settled = *sizes[..6].iter().max().unwrap();
        let last = *sizes[6..].iter().max().unwrap();
        assert!(
            last <= settled + 64 * 1024,
            "the log grew from {settled} to {last} bytes: {sizes:?}"
        );
        assert_eq!(bus.head("duplicates").unwrap(), 1_200);
    }

    #[tokio::test]
    async fn an_older_log_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        {
            let connection = Connection::open(dir.path().join("bus.db")).unwrap();
            connection
                .execute_batch(
                    "CREATE TABLE records (topic TEXT NOT NULL, offset INTEGER NOT NULL,
                        key TEXT, payload BLOB NOT NULL, PRIMARY KEY (topic, offset)) WITHOUT ROWID;
                     CREATE TABLE topic_heads (topic TEXT PRIMARY KEY, next_offset INTEGER NOT NULL);
                     CREATE TABLE group_positions (grp TEXT NOT NULL, topic TEXT NOT NULL,
                        next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic));
                     INSERT INTO records VALUES ('t', 0, 'k', x'01');
                     INSERT INTO topic_heads VALUES ('t', 1);
                     INSERT INTO group_positions VALUES ('g', 't', 0);",
                )
                .unwrap();
        }
        let bus = open(dir.path(), 10);
        let layout: String = bus
            .shared
            .with_connection(|c| {
                c.query_row(
                    "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master
                     WHERE tbl_name = 'records' AND sql IS NOT NULL ORDER BY name)",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(layout, "records,records_by_key,records_by_offset");
        assert!(!crate::embedded_schema::records_without_rowid(
            &bus.shared.connection.lock().unwrap()
        )
        .unwrap());
        // Retention counts from the upgrade, not from the epoch.
        assert_eq!(bus.maintain().unwrap(), Default::default());
        let mut consumer = bus.consumer("g", "t").await.unwrap();
        assert_eq!(
            consumer.poll(RECHECK).await.unwrap().unwrap().payload,
            vec![1]
        );
    }

    #[tokio::test]
    async fn records_enqueued_together_are_stored_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 10_000);
        let mut pending = Vec::new();
        for i in 0..300u16 {
            let topic = if i % 3 == 0 { "a" } else { "b" };
            pending.push(
                bus.enqueue(topic, &i.to_string(), i.to_be_bytes().to_vec())
                    .await
                    .unwrap(),
            );
        }
        for durable in pending {
            durable.await.unwrap();
        }
        let read = |topic: &str| -> Vec<u16> {
            let mut reader = bus.reader(topic, 0);
            let mut all = Vec::new();
            loop {
                let batch = reader.read_available().unwrap();
                if batch.is_empty() {
                    return all;
                }
                all.extend(
                    batch
                        .into_iter()
                        .map(|d| u16::from_be_bytes([d.payload[0], d.payload[1]])),
                );
            }
        };
        let expected_a: Vec<u16> = (0..300).filter(|i| i % 3 == 0).collect();
        let expected_b: Vec<u16> = (0..300).filter(|i| i % 3 != 0).collect();
        assert_eq!(read("a"), expected_a);
        assert_eq!(read("b"), expected_b);
        assert_eq!((bus.head("a").unwrap(), bus.head("b").unwrap()), (100, 200));
    }

    #[tokio::test]
    async fn the_log_is_synced_at_every_commit_and_a_committed_ack_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 100);
        let synchronous = bus
            .shared
            .with_connection(|c| c.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)))
            .unwrap();
        assert_eq!(synchronous, 2, "FULL: the WAL is synced at every commit");
        let mut consumer = bus.consumer("g", "t").await.unwrap();
        bus.send("t", "a", vec![0]).await.unwrap();
        bus.send("t", "b", vec![1]).await.unwrap();
        let delivery = consumer.poll(RECHECK).await.unwrap().unwrap();
        consumer.ack(&delivery).unwrap();
        consumer.commit().await.unwrap();
        let stored = bus.groups().unwrap();
        assert_eq!((stored[0].position, stored[0].pending), (1, 1));
    }

    #[tokio::test]
    async fn a_committed_record_wakes_the_consumers_of_its_topic_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let bus = open(dir.path(), 100);
        let _raw = bus.consumer("cleaner", "raw").await.unwrap();
        let _unique = bus.consumer("clusterer", "unique").await.unwrap();
        let (raw_arrived, unique_arrived) = (
            bus.shared.arrivals.of("raw"),
            bus.shared.arrivals.of("unique"),
        );
        let raw_woken = raw_arrived.notified();
        let unique_woken = unique_arrived.notified();
        tokio::pin!(raw_woken, unique_woken);
        raw_woken.as_mut().enable();
        unique_woken.as_mut().enable();

        bus.send("raw", "k", vec![1]).await.unwrap();

        tokio::time::timeout(Duration::from_secs(5), raw_woken)
            .await
            .expect("the consumer of raw was woken by the commit");
        let woken = tokio::time::timeout(Duration::from_millis(50), unique_woken).await;
        assert!(
            woken.is_err(),
            "a commit to raw woke the consumer of unique"
        );
    }
}
