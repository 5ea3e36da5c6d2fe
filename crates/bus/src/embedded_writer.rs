//! Group commit for the embedded log. Every stage hands its records to one
//! writer thread, which appends whatever has queued up meanwhile in one
//! transaction and one sync of the log, then tells each sender its record
//! is durable. A stage that keeps several records in flight (or several
//! stages at once) so pays one sync per batch instead of one per record,
//! and records queued one after another are appended in that order.
//!
//! Like a Kafka producer with `message.timeout.ms = 0`, the writer never
//! expires a queued record: a write that fails (the disk full, another
//! process holding the write lock) is tried again with a growing pause,
//! logged each time, until it succeeds or the bus is dropped. A stage
//! waiting on it makes no progress meanwhile, which the stall watch
//! reports.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use crate::embedded::{now_ms, write_transaction, Shared};

/// A batch ends at this many records or bytes, whichever comes first: a
/// bound on one transaction's size and on the wait of its first sender.
const MAX_BATCH_RECORDS: usize = 512;
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// One record waiting for the writer.
pub(crate) struct QueuedRecord {
    pub(crate) topic: String,
    pub(crate) key: String,
    pub(crate) payload: Vec<u8>,
    /// Told once the record is durable; dropped unsent when the bus went
    /// away first.
    pub(crate) durable: oneshot::Sender<()>,
}

/// The queue to the writer, and its other end for [`start`].
pub(crate) fn queue() -> (Sender<QueuedRecord>, Receiver<QueuedRecord>) {
    std::sync::mpsc::channel()
}

/// Starts the writer of the log `shared` describes, taking records from
/// `queued`. It ends when every sender is dropped (with the bus).
pub(crate) fn start(shared: Weak<Shared>, queued: Receiver<QueuedRecord>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("newsflow-log-writer".into())
        .spawn(move || write_until_closed(shared, queued))?;
    Ok(())
}

fn write_until_closed(shared: Weak<Shared>, queued: Receiver<QueuedRecord>) {
    while let Ok(first) = queued.recv() {
        let mut bytes = first.payload.len() + first.key.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_RECORDS && bytes < MAX_BATCH_BYTES {
            match queued.try_recv() {
                Ok(record) => {
                    bytes += record.payload.len() + record.key.len();
                    batch.push(record);
                }
                Err(_) => break,
            }
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if !append_until_done(&shared, &batch) {
            return;
        }
        for record in batch {
            let _ = record.durable.send(());
        }
        shared.new_records.notify_waiters();
    }
}

/// Appends `batch`, trying again after a failure; false when the bus was
/// dropped meanwhile (nobody waits for the records any more).
fn append_until_done(shared: &Arc<Shared>, batch: &[QueuedRecord]) -> bool {
    let mut attempt = 0u32;
    loop {
        match shared.with_connection(|c| append(c, &shared.compacted, batch)) {
            Ok(()) => return true,
            Err(error) => {
                attempt += 1;
                // Only this thread holds the bus: nobody can be waiting.
                if Arc::strong_count(shared) == 1 {
                    return false;
                }
                let pause =
                    (Duration::from_millis(50) * 2u32.pow(attempt.min(7))).min(MAX_RETRY_PAUSE);
                tracing::error!(%error, attempt, records = batch.len(), ?pause,
                    "appending to the embedded log failed; trying again");
                std::thread::sleep(pause);
            }
        }
    }
}

fn append(
    connection: &mut Connection,
    compacted: &[String],
    batch: &[QueuedRecord],
) -> rusqlite::Result<()> {
    crate::embedded::set_synchronous(connection, crate::embedded::Synchronous::Full)?;
    let appended_ms = now_ms();
    let tx = write_transaction(connection)?;
    let mut heads: HashMap<&str, i64> = HashMap::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO records (topic, offset, key, payload, appended_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut supersede =
            tx.prepare_cached("DELETE FROM records WHERE topic = ?1 AND key = ?2 AND offset < ?3")?;
        for record in batch {
            let topic = record.topic.as_str();
            let offset = match heads.get(topic) {
                Some(head) => *head,
                None => crate::embedded::head_of(&tx, topic)?,
            };
            insert.execute(params![
                topic,
                offset,
                record.key,
                record.payload,
                appended_ms
            ])?;
            if compacted.iter().any(|t| t == topic) {
                supersede.execute(params![topic, record.key, offset])?;
            }
            heads.insert(topic, offset + 1);
        }
        let mut advance = tx.prepare_cached(
            "INSERT INTO topic_heads (topic, next_offset) VALUES (?1, ?2)
             ON CONFLICT (topic) DO UPDATE SET next_offset = excluded.next_offset",
        )?;
        for (topic, head) in &heads {
            advance.execute(params![topic, head])?;
        }
    }
    tx.commit()
}
