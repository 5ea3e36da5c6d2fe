//! What keeps the embedded log from growing for ever: records nobody
//! attached still needs are kept within their topic's retention (age and
//! size, as Kafka's `retention.ms` / `retention.bytes`), and consumer
//! groups detached for longer than `detached_group_retention_ms` are
//! dropped. The running service calls `maintain` periodically.

use rusqlite::{params, Connection};

use crate::embedded::{delete_passed, now_ms, write_transaction};
use crate::{BusError, EmbeddedBus, Retention};

/// What one `maintain` pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// (group, topic) registrations dropped for being detached too long.
    pub dropped_groups: Vec<(String, String)>,
    /// Records deleted by retention (or because a dropped group held them).
    pub deleted_records: u64,
}

impl EmbeddedBus {
    /// Marks the groups attached here as seen, drops groups detached for
    /// too long (with a warning) and applies every topic's retention.
    pub fn maintain(&self) -> Result<MaintenanceReport, BusError> {
        self.maintain_at(now_ms())
    }

    pub(crate) fn maintain_at(&self, now: i64) -> Result<MaintenanceReport, BusError> {
        let shared = &self.shared;
        // Positions still queued would make records look unread.
        shared.flush()?;
        let attached: Vec<(String, String)> = shared
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let pid = std::process::id();
        let detached_limit = shared.config.detached_group_retention_ms as i64;
        let mut report = MaintenanceReport::default();
        shared.with_connection(|c| {
            let tx = write_transaction(c)?;
            for (group, topic) in &attached {
                tx.execute(
                    "UPDATE group_positions SET last_seen_ms = ?3, attached_pid = ?4
                     WHERE grp = ?1 AND topic = ?2",
                    params![group, topic, now, pid],
                )?;
            }
            let registered: Vec<(String, String, Option<i64>, i64)> = {
                let mut statement = tx
                    .prepare("SELECT grp, topic, last_seen_ms, next_offset FROM group_positions")?;
                let rows = statement.query_map([], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (group, topic, last_seen, position) in registered {
                let key = (group.clone(), topic.clone());
                let expired =
                    last_seen.is_none_or(|seen| now.saturating_sub(seen) > detached_limit);
                if attached.contains(&key) || !expired {
                    continue;
                }
                tx.execute(
                    "DELETE FROM group_positions WHERE grp = ?1 AND topic = ?2",
                    params![group, topic],
                )?;
                tracing::warn!(%group, %topic, position, last_seen_ms = ?last_seen,
                    detached_group_retention_ms = detached_limit,
                    "dropping a consumer group that has not been attached for longer than \
                     bus.embedded.detached_group_retention_ms");
                report.dropped_groups.push(key);
            }
            let topics: Vec<String> = {
                let mut statement = tx.prepare("SELECT topic FROM topic_heads")?;
                let rows = statement.query_map([], |row| row.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for topic in topics {
                if !shared.compacted.contains(&topic) {
                    report.deleted_records += delete_passed(&tx, &topic)? as u64;
                }
                // Records an attached group has yet to acknowledge are
                // never deleted: retention is for what nobody here reads.
                let mut protected_from = i64::MAX;
                for (group, attached_topic) in &attached {
                    if *attached_topic == topic {
                        let position: i64 = tx.query_row(
                            "SELECT next_offset FROM group_positions WHERE grp = ?1 AND topic = ?2",
                            params![group, topic],
                            |row| row.get(0),
                        )?;
                        protected_from = protected_from.min(position);
                    }
                }
                let retention = shared.config.retention_of(&topic);
                report.deleted_records +=
                    apply_retention(&tx, &topic, retention, protected_from, now)?;
            }
            tx.commit()
        })?;
        if !report.dropped_groups.is_empty() || report.deleted_records > 0 {
            shared.capacity_freed.notify_waiters();
            tracing::debug!(
                dropped_groups = report.dropped_groups.len(),
                deleted_records = report.deleted_records,
                "embedded bus maintenance"
            );
        }
        Ok(report)
    }
}

/// Deletes the records of `topic` below `protected_from` that are older
/// than the retention's age, and the oldest of them beyond its size.
fn apply_retention(
    connection: &Connection,
    topic: &str,
    retention: Retention,
    protected_from: i64,
    now: i64,
) -> rusqlite::Result<u64> {
    let oldest_kept = now.saturating_sub(retention.max_age_ms.min(i64::MAX as u64) as i64);
    let mut deleted = connection.execute(
        "DELETE FROM records WHERE topic = ?1 AND offset < ?2 AND COALESCE(appended_ms, 0) < ?3",
        params![topic, protected_from, oldest_kept],
    )? as u64;
    // Walk from the newest record back until the size limit is reached;
    // everything older goes. The walk is as long as what the topic holds,
    // which retention itself bounds.
    let cut: Option<i64> = {
        let mut statement = connection.prepare_cached(
            "SELECT offset, length(payload) + COALESCE(length(key), 0) FROM records
             WHERE topic = ?1 ORDER BY offset DESC",
        )?;
        let mut rows = statement.query([topic])?;
        let mut total = 0u64;
        let mut cut = None;
        while let Some(row) = rows.next()? {
            total = total.saturating_add(row.get::<_, i64>(1)? as u64);
            if total > retention.max_bytes {
                cut = Some(row.get::<_, i64>(0)?);
                break;
            }
        }
        cut
    };
    if let Some(cut) = cut {
        deleted += connection.execute(
            "DELETE FROM records WHERE topic = ?1 AND offset <= ?2 AND offset < ?3",
            params![topic, cut, protected_from],
        )? as u64;
    }
    Ok(deleted)
}
