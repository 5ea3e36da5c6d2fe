//! Fetch state in SQLite: per feed its validators, schedule and failures;
//! per item whether it has been handed on. WAL mode, so a crash loses at most
//! the transaction in progress, never a handed-on item's `seen` mark.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,            -- as configured; the key that never changes
    current_url TEXT NOT NULL,       -- where we fetch it now (after permanent redirects)
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    last_fetch_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    next_poll_at INTEGER NOT NULL DEFAULT 0,
    interval_secs INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    redirect_target TEXT,
    redirect_seen INTEGER NOT NULL DEFAULT 0,
    hub TEXT,
    websub_topic TEXT,
    websub_secret TEXT,
    websub_lease_until INTEGER,
    websub_callback TEXT,
    websub_requested_at INTEGER
);
CREATE INDEX IF NOT EXISTS feeds_by_callback ON feeds(websub_callback);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX IF NOT EXISTS items_by_feed ON items(feed_url);
CREATE TABLE IF NOT EXISTS page_failures (
    item_id TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    given_up INTEGER NOT NULL DEFAULT 0
);
";

#[derive(Debug, Clone, Default)]
pub struct FeedRow {
    pub url: String,
    pub current_url: String,
    pub title: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_fetch_at: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub next_poll_at: i64,
    pub interval_secs: Option<i64>,
    pub consecutive_failures: u32,
    pub disabled: bool,
    pub redirect_target: Option<String>,
    pub redirect_seen: u32,
    pub hub: Option<String>,
    pub websub_topic: Option<String>,
    pub websub_secret: Option<String>,
    pub websub_lease_until: Option<i64>,
    pub websub_callback: Option<String>,
    pub websub_requested_at: Option<i64>,
}

/// What `newsflow feeds list` shows for one feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedStatus {
    pub url: String,
    /// Differs from `url` after a permanent redirect was adopted.
    pub current_url: String,
    pub title: Option<String>,
    pub last_fetch: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub next_poll: Option<DateTime<Utc>>,
    pub interval_secs: Option<i64>,
    pub consecutive_failures: u32,
    pub disabled: bool,
    pub items_seen: u64,
    pub websub_hub: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("fetch state database: {0}")]
pub struct StateError(#[from] rusqlite::Error);

pub struct StateStore {
    conn: Mutex<Connection>,
}

fn ts(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|s| Utc.timestamp_opt(s, 0).single())
}

impl StateStore {
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<Self, StateError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StateError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The feed's row, created (due now) when the feed is new.
    pub fn feed(&self, url: &str) -> Result<FeedRow, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO feeds(url, current_url) VALUES (?1, ?1)",
            params![url],
        )?;
        let row = conn.query_row(
            "SELECT url, current_url, title, etag, last_modified, last_fetch_at, last_status, last_error, next_poll_at,
                    interval_secs, consecutive_failures, disabled, redirect_target, redirect_seen, hub, websub_topic,
                    websub_secret, websub_lease_until, websub_callback, websub_requested_at FROM feeds WHERE url = ?1",
            params![url],
            |r| {
                Ok(FeedRow {
                    url: r.get(0)?,
                    current_url: r.get(1)?,
                    title: r.get(2)?,
                    etag: r.get(3)?,
                    last_modified: r.get(4)?,
                    last_fetch_at: r.get(5)?,
                    last_status: r.get(6)?,
                    last_error: r.get(7)?,
                    next_poll_at: r.get(8)?,
                    interval_secs: r.get(9)?,
                    consecutive_failures: r.get(10)?,
                    disabled: r.get::<_, i64>(11)? != 0,
                    redirect_target: r.get(12)?,
                    redirect_seen: r.get(13)?,
                    hub: r.get(14)?,
                    websub_topic: r.get(15)?,
                    websub_secret: r.get(16)?,
                    websub_lease_until: r.get(17)?,
                    websub_callback: r.get(18)?,
                    websub_requested_at: r.get(19)?,
                })
            },
        )?;
        Ok(row)
    }

    pub fn save_feed(&self, row: &FeedRow) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE feeds SET current_url=?2, title=?3, etag=?4, last_modified=?5, last_fetch_at=?6, last_status=?7,
                last_error=?8, next_poll_at=?9, interval_secs=?10, consecutive_failures=?11, disabled=?12,
                redirect_target=?13, redirect_seen=?14, hub=?15, websub_topic=?16, websub_secret=?17,
                websub_lease_until=?18, websub_callback=?19, websub_requested_at=?20 WHERE url=?1",
            params![
                row.url,
                row.current_url,
                row.title,
                row.etag,
                row.last_modified,
                row.last_fetch_at,
                row.last_status,
                row.last_error,
                row.next_poll_at,
                row.interval_secs,
                row.consecutive_failures,
                row.disabled as i64,
                row.redirect_target,
                row.redirect_seen,
                row.hub,
                row.websub_topic,
                row.websub_secret,
                row.websub_lease_until,
                row.websub_callback,
                row.websub_requested_at,
            ],
        )?;
        Ok(())
    }

    pub fn is_seen(&self, item_id: &str) -> Result<bool, StateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM items WHERE item_id = ?1",
                params![item_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records that an item's page was handed on. Called only after the sink
    /// acknowledged it.
    pub fn mark_seen(
        &self,
        item_id: &str,
        feed_url: &str,
        published: Option<DateTime<Utc>>,
    ) -> Result<(), StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO items(item_id, feed_url, seen_at, published_at) VALUES (?1, ?2, ?3, ?4)",
            params![item_id, feed_url, Utc::now().timestamp(), published.map(|p| p.timestamp())],
        )?;
        conn.execute(
            "DELETE FROM page_failures WHERE item_id = ?1",
            params![item_id],
        )?;
        Ok(())
    }

    /// An item whose page failed: counts the attempt and returns whether the
    /// item is now given up (attempts reached `max_attempts`, or `permanent`).
    pub fn record_page_failure(
        &self,
        item_id: &str,
        feed_url: &str,
        error: &str,
        max_attempts: u32,
        permanent: bool,
    ) -> Result<bool, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO page_failures(item_id, feed_url, attempts, last_error) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT(item_id) DO UPDATE SET attempts = attempts + 1, last_error = ?3",
            params![item_id, feed_url, error],
        )?;
        conn.execute(
            "UPDATE page_failures SET given_up = 1 WHERE item_id = ?1 AND (attempts >= ?2 OR ?3)",
            params![item_id, max_attempts, permanent],
        )?;
        let given_up: i64 = conn.query_row(
            "SELECT given_up FROM page_failures WHERE item_id = ?1",
            params![item_id],
            |r| r.get(0),
        )?;
        Ok(given_up != 0)
    }

    pub fn is_given_up(&self, item_id: &str) -> Result<bool, StateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT given_up FROM page_failures WHERE item_id = ?1",
                params![item_id],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .is_some_and(|g| g != 0))
    }

    /// The feed whose WebSub subscription uses this callback id.
    pub fn feed_for_callback(&self, callback: &str) -> Result<Option<FeedRow>, StateError> {
        let url: Option<String> = self
            .conn()
            .query_row(
                "SELECT url FROM feeds WHERE websub_callback = ?1",
                params![callback],
                |r| r.get(0),
            )
            .optional()?;
        url.map(|u| self.feed(&u)).transpose()
    }

    pub fn statuses(&self) -> Result<Vec<FeedStatus>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT f.url, f.current_url, f.title, f.last_fetch_at, f.last_status, f.last_error, f.next_poll_at,
                    f.interval_secs, f.consecutive_failures, f.disabled, f.hub,
                    (SELECT COUNT(*) FROM items i WHERE i.feed_url = f.url)
             FROM feeds f ORDER BY f.url",
        )?;
        let rows = stmt.query_map([], |r| {
            let next: i64 = r.get(6)?;
            Ok(FeedStatus {
                url: r.get(0)?,
                current_url: r.get(1)?,
                title: r.get(2)?,
                last_fetch: ts(r.get(3)?),
                last_status: r.get(4)?,
                last_error: r.get(5)?,
                next_poll: ts(Some(next).filter(|n| *n > 0)),
                interval_secs: r.get(7)?,
                consecutive_failures: r.get(8)?,
                disabled: r.get::<_, i64>(9)? != 0,
                websub_hub: r.get(10)?,
                items_seen: r.get::<_, i64>(11)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_items_and_failures_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let store = StateStore::open(&path).unwrap();
            let mut feed = store.feed("https://a.example/rss").unwrap();
            feed.etag = Some("\"v1\"".into());
            store.save_feed(&feed).unwrap();
            store.mark_seen("item-1", &feed.url, None).unwrap();
            assert!(!store
                .record_page_failure("item-2", &feed.url, "404", 2, false)
                .unwrap());
            assert!(store
                .record_page_failure("item-2", &feed.url, "404", 2, false)
                .unwrap());
        }
        let store = StateStore::open(&path).unwrap();
        assert_eq!(
            store.feed("https://a.example/rss").unwrap().etag.as_deref(),
            Some("\"v1\"")
        );
        assert!(store.is_seen("item-1").unwrap());
        assert!(store.is_given_up("item-2").unwrap());
        assert_eq!(store.statuses().unwrap()[0].items_seen, 1);
    }
}
