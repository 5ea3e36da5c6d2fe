//! Group commit for the embedded log. Every stage hands its records and its
//! acknowledgements to one writer thread, which writes whatever has queued
//! up meanwhile in one transaction and one sync of the log, then tells each
//! sender its record is durable. Stages that keep several records in
//! flight (and several stages at once) so pay one sync per batch instead of
//! one per record, and records queued one after another are appended in
//! that order.
//!
//! Like a Kafka producer with `message.timeout.ms = 0`, the writer never
//! expires a queued record: a write that fails (the disk full, another
//! process holding the write lock) is tried again with a growing pause,
//! logged each time, for as long as the bus is open. A stage waiting on it
//! makes no progress meanwhile, which the stall watch reports. Once the bus
//! is dropped, the writer still writes what was queued before it ends.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rusqlite::{params, Connection};
use tokio::sync::{oneshot, Notify};

use crate::embedded::{delete_passed, head_of, now_ms, write_transaction};
use crate::embedded_arrivals::Arrivals;

/// A batch ends at this many writes or bytes, whichever comes first: a
/// bound on one transaction's size and on the wait of its first sender.
const MAX_BATCH_WRITES: usize = 512;
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// Attempts at a failing write once the bus is dropped (nobody waits).
const ATTEMPTS_AFTER_CLOSE: u32 = 3;

/// One write waiting for the writer.
pub(crate) enum LogWrite {
    /// A record to append; `durable` is told once it is synced.
    Record {
        topic: String,
        key: String,
        payload: Vec<u8>,
        durable: oneshot::Sender<()>,
    },
    /// A group acknowledged everything before `next` (made durable with the
    /// next batch: a lost position is a redelivery, never a loss).
    Position {
        group: String,
        topic: String,
        next: i64,
    },
    /// Told once everything queued before it is written.
    Flush(std::sync::mpsc::Sender<()>),
}

impl LogWrite {
    fn bytes(&self) -> usize {
        match self {
            LogWrite::Record { key, payload, .. } => key.len() + payload.len(),
            _ => 64,
        }
    }
}

/// What the writer needs of the bus: its own handles, so that it can write
/// what was queued after the bus itself is gone.
pub(crate) struct LogWriter {
    pub(crate) path: String,
    pub(crate) connection: Arc<Mutex<Connection>>,
    pub(crate) compacted: Vec<String>,
    pub(crate) arrivals: Arc<Arrivals>,
    pub(crate) capacity_freed: Arc<Notify>,
    /// Held strongly by the bus while it is open: nobody waits for a write
    /// once it is gone.
    pub(crate) bus_open: Weak<()>,
}

/// The queue to the writer, and its other end for [`LogWriter::start`].
/// Its senders bound it: a record is queued only once the topic's backlog
/// is under `max_backlog`, a stage keeps a bounded window of inputs
/// (and their outputs) unacknowledged, and a position follows a record
/// already durable.
pub(crate) fn queue() -> (Sender<LogWrite>, Receiver<LogWrite>) {
    std::sync::mpsc::channel()
}

impl LogWriter {
    /// Starts writing what arrives on `queued`, until every sender is
    /// dropped and the queue is empty.
    pub(crate) fn start(self, queued: Receiver<LogWrite>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("newsflow-log-writer".into())
            .spawn(move || self.write_until_closed(queued))?;
        Ok(())
    }

    fn write_until_closed(self, queued: Receiver<LogWrite>) {
        while let Ok(first) = queued.recv() {
            let mut bytes = first.bytes();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH_WRITES && bytes < MAX_BATCH_BYTES {
                match queued.try_recv() {
                    Ok(write) => {
                        bytes += write.bytes();
                        batch.push(write);
                    }
                    Err(_) => break,
                }
            }
            let written = self.write_until_done(&batch);
            let mut appended_to: Vec<String> = Vec::new();
            let mut acknowledged = false;
            for write in batch {
                match write {
                    LogWrite::Record { topic, durable, .. } => {
                        if !appended_to.contains(&topic) {
                            appended_to.push(topic);
                        }
                        if written {
                            let _ = durable.send(());
                        }
                    }
                    LogWrite::Position { .. } => acknowledged = true,
                    LogWrite::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
            if written {
                self.arrivals
                    .announce(appended_to.iter().map(String::as_str));
            }
            if acknowledged && written {
                self.capacity_freed.notify_waiters();
            }
        }
    }

    /// Writes `batch`, trying again after a failure; false when it gave up
    /// (only once the bus is dropped: nobody waits for the records then).
    fn write_until_done(&self, batch: &[LogWrite]) -> bool {
        let mut attempt = 0u32;
        loop {
            let written = {
                let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
                write(&mut connection, &self.compacted, batch)
            };
            let error = match written {
                Ok(()) => return true,
                Err(error) => error,
            };
            attempt += 1;
            if self.bus_open.strong_count() == 0 && attempt >= ATTEMPTS_AFTER_CLOSE {
                tracing::error!(path = %self.path, %error, records = batch.len(),
                    "giving up writing to the embedded log after the bus closed");
                return false;
            }
            let pause = (Duration::from_millis(50) * 2u32.pow(attempt.min(7))).min(MAX_RETRY_PAUSE);
            tracing::error!(path = %self.path, %error, attempt, writes = batch.len(), ?pause,
                "writing to the embedded log failed; trying again");
            std::thread::sleep(pause);
        }
    }
}

/// One transaction, synced (`synchronous = FULL`): the records appended in
/// queue order, then each group's newest position, then the records every
/// group has passed deleted.
fn write(
    connection: &mut Connection,
    compacted: &[String],
    batch: &[LogWrite],
) -> rusqlite::Result<()> {
    let now = now_ms();
    let tx = write_transaction(connection)?;
    let mut heads: HashMap<&str, i64> = HashMap::new();
    let mut positions: HashMap<(&str, &str), i64> = HashMap::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO records (topic, offset, key, payload, appended_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut supersede =
            tx.prepare_cached("DELETE FROM records WHERE topic = ?1 AND key = ?2 AND offset < ?3")?;
        for write in batch {
            match write {
                LogWrite::Record {
                    topic,
                    key,
                    payload,
                    ..
                } => {
                    let offset = match heads.get(topic.as_str()) {
                        Some(head) => *head,
                        None => head_of(&tx, topic)?,
                    };
                    insert.execute(params![topic, offset, key, payload, now])?;
                    if compacted.iter().any(|t| t == topic) {
                        supersede.execute(params![topic, key, offset])?;
                    }
                    heads.insert(topic, offset + 1);
                }
                LogWrite::Position { group, topic, next } => {
                    let newest = positions.entry((group, topic)).or_insert(*next);
                    *newest = (*newest).max(*next);
                }
                LogWrite::Flush(_) => {}
            }
        }
        let mut advance_head = tx.prepare_cached(
            "INSERT INTO topic_heads (topic, next_offset) VALUES (?1, ?2)
             ON CONFLICT (topic) DO UPDATE SET next_offset = excluded.next_offset",
        )?;
        for (topic, head) in &heads {
            advance_head.execute(params![topic, head])?;
        }
        let mut advance_group = tx.prepare_cached(
            "UPDATE group_positions SET next_offset = MAX(next_offset, ?3), last_seen_ms = ?4
             WHERE grp = ?1 AND topic = ?2",
        )?;
        let mut passed_topics: Vec<&str> = Vec::new();
        for ((group, topic), next) in &positions {
            advance_group.execute(params![group, topic, next, now])?;
            if !passed_topics.contains(topic) {
                passed_topics.push(topic);
            }
        }
        // Records every group has passed are of no further use, unless the
        // topic is compacted: there the newest per key is the state.
        for topic in passed_topics {
            if !compacted.iter().any(|t| t == topic) {
                delete_passed(&tx, topic)?;
            }
        }
    }
    tx.commit()
}
