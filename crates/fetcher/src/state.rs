//! Fetch state in SQLite: per feed its validators, schedule and failures;
//! per item whether it has been handed on. WAL mode, so a crash loses at most
//! the transaction in progress, never a handed-on item's `seen` mark.
//!
//! synchronous=NORMAL, not FULL: a power loss may take the last commits, and
//! every one of them only records work already done, whose loss means doing
//! it again. A lost `seen` mark re-fetches a page the bus already holds (a
//! page produced twice is harmless downstream: the same article id, the
//! same story); lost validators or schedule re-read a feed; a lost failure
//! retries a page. Nothing the bus acknowledged depends on this file, since
//! the fetcher consumes no input: the bus held the page before its item was
//! marked.
//!
//! Bounded: every table is keyed by input (feeds, item identities), so
//! `prune` forgets items no longer listed in their feed's document for the
//! window (`item_window_secs`), feeds dropped from the feed list for as
//! long, and WebSub requests left unverified past their time.

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

/// Columns added after the first release: (table, column, type). Added to
/// an older database when it is opened.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // When the feed's document was last fetched and read whole (a 200).
    ("feeds", "last_document_at", "INTEGER"),
    // The WebSub (un)subscription asked for and not yet verified; its time
    // is `websub_requested_at`.
    ("feeds", "websub_pending_mode", "TEXT"),
    ("feeds", "websub_pending_topic", "TEXT"),
    ("feeds", "websub_pending_secret", "TEXT"),
    // When a feed's document last listed the item.
    ("items", "last_listed_at", "INTEGER"),
    ("page_failures", "last_listed_at", "INTEGER"),
];

/// What one prune forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneSummary {
    pub items: usize,
    pub page_failures: usize,
    pub feeds: usize,
    pub websub_pending: usize,
}

/// Row counts of the tables `prune` bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateSizes {
    pub feeds: u64,
    pub items: u64,
    pub page_failures: u64,
    pub websub_pending: u64,
}

/// Feeds known to the fetch state, by how their polls go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStates {
    pub active: u64,
    pub failing: u64,
    pub disabled: u64,
}

/// A WebSub (un)subscription newsflow asked a hub for.
#[derive(Debug, Clone)]
pub struct WebSubRequest<'a> {
    pub mode: &'a str,
    pub topic: &'a str,
    pub secret: Option<&'a str>,
    pub callback: &'a str,
    pub at: i64,
}

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
    pub websub_pending_mode: Option<String>,
    pub websub_pending_topic: Option<String>,
    pub websub_pending_secret: Option<String>,
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
        // Every statement of a poll and of each item is prepared once, not
        // parsed again per call (a third of the store's CPU was parsing).
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(SCHEMA)?;
        for (table, column, kind) in ADDED_COLUMNS {
            let present: bool = conn
                .prepare(&format!(
                    "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
                ))?
                .exists(params![column])?;
            if !present {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
            }
        }
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
        conn.prepare_cached("INSERT OR IGNORE INTO feeds(url, current_url) VALUES (?1, ?1)")?
            .execute(params![url])?;
        let row = conn.prepare_cached(
            "SELECT url, current_url, title, etag, last_modified, last_fetch_at, last_status, last_error, next_poll_at,
                    interval_secs, consecutive_failures, disabled, redirect_target, redirect_seen, hub, websub_topic,
                    websub_secret, websub_lease_until, websub_callback, websub_requested_at, websub_pending_mode,
                    websub_pending_topic, websub_pending_secret FROM feeds WHERE url = ?1",
        )?.query_row(
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
                    websub_pending_mode: r.get(20)?,
                    websub_pending_topic: r.get(21)?,
                    websub_pending_secret: r.get(22)?,
                })
            },
        )?;
        Ok(row)
    }

    /// Saves the poll's columns. The WebSub subscription's columns are
    /// written only by the `websub_*` methods, the moment they change, so a
    /// poll that read the row before a hub's verification cannot undo it.
    pub fn save_feed(&self, row: &FeedRow) -> Result<(), StateError> {
        self.conn().prepare_cached(
            "UPDATE feeds SET current_url=?2, title=?3, etag=?4, last_modified=?5, last_fetch_at=?6, last_status=?7,
                last_error=?8, next_poll_at=?9, interval_secs=?10, consecutive_failures=?11, disabled=?12,
                redirect_target=?13, redirect_seen=?14, hub=?15 WHERE url=?1",
        )?.execute(
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
            ],
        )?;
        Ok(())
    }

    /// Drops the feed's stored ETag and Last-Modified, so that its next
    /// poll reads the document whole (it lists items left for later).
    pub fn forget_validators(&self, feed_url: &str) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE feeds SET etag=NULL, last_modified=NULL WHERE url=?1",
            params![feed_url],
        )?;
        Ok(())
    }

    /// Records a WebSub request before it is sent (a hub may verify before
    /// it answers): until verified or expired, this is the one request a
    /// verification can match.
    pub fn websub_request(
        &self,
        feed_url: &str,
        request: &WebSubRequest,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE feeds SET websub_pending_mode=?2, websub_pending_topic=?3, websub_pending_secret=?4,
                websub_callback=?5, websub_requested_at=?6 WHERE url=?1",
            params![feed_url, request.mode, request.topic, request.secret, request.callback, request.at],
        )?;
        Ok(())
    }

    /// The hub refused or could not be reached: nothing is pending any more
    /// (`websub_requested_at` stays, so the next request waits its turn).
    pub fn websub_request_failed(&self, feed_url: &str) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE feeds SET websub_pending_mode=NULL, websub_pending_topic=NULL, websub_pending_secret=NULL WHERE url=?1",
            params![feed_url],
        )?;
        Ok(())
    }

    /// The hub verified the pending request: a subscription becomes live
    /// (its secret replaces the old one), an unsubscription ends it.
    pub fn websub_verified(
        &self,
        feed_url: &str,
        mode: &str,
        lease_until: Option<i64>,
    ) -> Result<(), StateError> {
        let conn = self.conn();
        if mode == "subscribe" {
            conn.execute(
                "UPDATE feeds SET websub_topic=websub_pending_topic, websub_secret=websub_pending_secret,
                    websub_lease_until=?2 WHERE url=?1",
                params![feed_url, lease_until],
            )?;
        } else {
            conn.execute(
                "UPDATE feeds SET websub_topic=NULL, websub_secret=NULL, websub_lease_until=NULL WHERE url=?1",
                params![feed_url],
            )?;
        }
        conn.execute(
            "UPDATE feeds SET websub_pending_mode=NULL, websub_pending_topic=NULL, websub_pending_secret=NULL WHERE url=?1",
            params![feed_url],
        )?;
        Ok(())
    }

    /// The hub denied the subscription: no lease, and the reason is shown.
    pub fn websub_denied(&self, feed_url: &str, reason: &str) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE feeds SET websub_lease_until=NULL, websub_pending_mode=NULL, websub_pending_topic=NULL,
                websub_pending_secret=NULL, last_error=?2 WHERE url=?1",
            params![feed_url, reason],
        )?;
        Ok(())
    }

    /// Marks the items a feed document listed as listed at `at`, and the
    /// document itself as read at `at` (the same instant, which is how
    /// `prune` tells an item still listed from one that dropped out).
    pub fn mark_listed(
        &self,
        feed_url: &str,
        item_ids: &[&str],
        at: i64,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut items =
                tx.prepare_cached("UPDATE items SET last_listed_at=?2 WHERE item_id=?1")?;
            let mut failures =
                tx.prepare_cached("UPDATE page_failures SET last_listed_at=?2 WHERE item_id=?1")?;
            for id in item_ids {
                items.execute(params![id, at])?;
                failures.execute(params![id, at])?;
            }
            tx.prepare_cached("UPDATE feeds SET last_document_at=?2 WHERE url=?1")?
                .execute(params![feed_url, at])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets what is past its window at `now`:
    /// - items and page failures last listed before `now - window` and not
    ///   listed in their feed's latest document (listed at an earlier time
    ///   than it was read, or their feed is gone);
    /// - feeds not in `live_feeds` and not fetched within the window;
    /// - WebSub requests pending for longer than `pending_ttl`.
    pub fn prune(
        &self,
        now: i64,
        window: i64,
        pending_ttl: i64,
        live_feeds: &[&str],
    ) -> Result<PruneSummary, StateError> {
        let cutoff = now.saturating_sub(window);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS live_feeds(url TEXT PRIMARY KEY); DELETE FROM live_feeds;")?;
        {
            let mut insert =
                tx.prepare_cached("INSERT OR IGNORE INTO live_feeds(url) VALUES (?1)")?;
            for url in live_feeds {
                insert.execute(params![url])?;
            }
        }
        let feeds = tx.execute(
            "DELETE FROM feeds WHERE url NOT IN (SELECT url FROM live_feeds)
                AND COALESCE(last_fetch_at, 0) < ?1",
            params![cutoff],
        )?;
        // A feed whose document was never read whole (only 304s since this
        // column was added) says nothing about what it lists: keep its items.
        let dropped_out = |table: &str, fallback: &str| {
            format!(
                "DELETE FROM {table} WHERE COALESCE(last_listed_at, {fallback}) < ?1
                    AND (NOT EXISTS (SELECT 1 FROM feeds f WHERE f.url = {table}.feed_url)
                        OR COALESCE(last_listed_at, {fallback})
                            < (SELECT last_document_at FROM feeds f WHERE f.url = {table}.feed_url))"
            )
        };
        let items = tx.execute(&dropped_out("items", "seen_at"), params![cutoff])?;
        let page_failures = tx.execute(&dropped_out("page_failures", "0"), params![cutoff])?;
        let websub_pending = tx.execute(
            "UPDATE feeds SET websub_pending_mode=NULL, websub_pending_topic=NULL, websub_pending_secret=NULL
                WHERE websub_pending_mode IS NOT NULL AND COALESCE(websub_requested_at, 0) < ?1",
            params![now.saturating_sub(pending_ttl)],
        )?;
        tx.execute_batch("DELETE FROM live_feeds;")?;
        tx.commit()?;
        Ok(PruneSummary {
            items,
            page_failures,
            feeds,
            websub_pending,
        })
    }

    pub fn sizes(&self) -> Result<StateSizes, StateError> {
        let conn = self.conn();
        let count = |sql: &str| {
            conn.query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        };
        Ok(StateSizes {
            feeds: count("SELECT COUNT(*) FROM feeds")?,
            items: count("SELECT COUNT(*) FROM items")?,
            page_failures: count("SELECT COUNT(*) FROM page_failures")?,
            websub_pending: count(
                "SELECT COUNT(*) FROM feeds WHERE websub_pending_mode IS NOT NULL",
            )?,
        })
    }

    /// How many feeds are active (last poll fine), failing (polled, last
    /// polls failed) and disabled: one pass over the feeds table.
    pub fn feed_states(&self) -> Result<FeedStates, StateError> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(SUM(disabled = 0 AND consecutive_failures = 0), 0),
                    COALESCE(SUM(disabled = 0 AND consecutive_failures > 0), 0),
                    COALESCE(SUM(disabled != 0), 0)
             FROM feeds",
            [],
            |r| {
                Ok(FeedStates {
                    active: r.get::<_, i64>(0)? as u64,
                    failing: r.get::<_, i64>(1)? as u64,
                    disabled: r.get::<_, i64>(2)? as u64,
                })
            },
        )?)
    }

    pub fn is_seen(&self, item_id: &str) -> Result<bool, StateError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM items WHERE item_id = ?1")?
            .query_row(params![item_id], |_| Ok(()))
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
        conn.prepare_cached(
            "INSERT OR IGNORE INTO items(item_id, feed_url, seen_at, published_at, last_listed_at) VALUES (?1, ?2, ?3, ?4, ?3)",
        )?
        .execute(params![item_id, feed_url, Utc::now().timestamp(), published.map(|p| p.timestamp())])?;
        conn.prepare_cached("DELETE FROM page_failures WHERE item_id = ?1")?
            .execute(params![item_id])?;
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
            "INSERT INTO page_failures(item_id, feed_url, attempts, last_error, last_listed_at) VALUES (?1, ?2, 1, ?3, ?4)
             ON CONFLICT(item_id) DO UPDATE SET attempts = attempts + 1, last_error = ?3",
            params![item_id, feed_url, error, Utc::now().timestamp()],
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
            .prepare_cached("SELECT given_up FROM page_failures WHERE item_id = ?1")?
            .query_row(params![item_id], |r| r.get::<_, i64>(0))
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

    #[test]
    fn prune_forgets_only_what_dropped_out_of_its_feed_for_the_window() {
        let store = StateStore::in_memory().unwrap();
        let day = 86_400;
        let window = 30 * day;
        let live = store.feed("https://live.example/rss").unwrap().url;
        let mut gone_row = store.feed("https://gone.example/rss").unwrap();
        gone_row.last_fetch_at = Some(Utc::now().timestamp());
        store.save_feed(&gone_row).unwrap();
        let gone = gone_row.url;
        for id in ["kept-listed", "dropped-out", "dropped-recently"] {
            store.mark_seen(id, &live, None).unwrap();
        }
        store
            .record_page_failure("failed-dropped", &live, "404", 3, true)
            .unwrap();
        store
            .record_page_failure("failed-listed", &live, "404", 3, true)
            .unwrap();
        store.mark_seen("of-gone-feed", &gone, None).unwrap();
        let t0 = Utc::now().timestamp();
        // Document at t0 lists everything; at t0 + 10 days, "dropped-out"
        // and "failed-dropped" are gone; at t0 + 35 days "dropped-recently"
        // is gone too.
        store
            .mark_listed(
                &live,
                &[
                    "kept-listed",
                    "dropped-out",
                    "dropped-recently",
                    "failed-dropped",
                    "failed-listed",
                ],
                t0,
            )
            .unwrap();
        store
            .mark_listed(
                &live,
                &["kept-listed", "dropped-recently", "failed-listed"],
                t0 + 10 * day,
            )
            .unwrap();
        store.mark_listed(&gone, &["of-gone-feed"], t0).unwrap();
        let before = store.sizes().unwrap();
        assert_eq!(
            (before.feeds, before.items, before.page_failures),
            (2, 4, 2)
        );

        let nothing = store.prune(t0 + 20 * day, window, 3600, &[&live]).unwrap();
        assert_eq!(nothing, PruneSummary::default(), "all within the window");

        // Still listed at t0 + 10 days only: its last listing is under the
        // window at t0 + 35 days, but it is in the latest document.
        store
            .mark_listed(&live, &["kept-listed", "failed-listed"], t0 + 35 * day)
            .unwrap();
        let pruned = store.prune(t0 + 35 * day, window, 3600, &[&live]).unwrap();
        assert_eq!(
            pruned,
            PruneSummary {
                items: 2,
                page_failures: 1,
                feeds: 1,
                websub_pending: 0
            }
        );
        assert!(
            store.is_seen("kept-listed").unwrap(),
            "still listed: kept, however old"
        );
        assert!(
            store.is_seen("dropped-recently").unwrap(),
            "dropped out within the window"
        );
        assert!(!store.is_seen("dropped-out").unwrap());
        assert!(!store.is_seen("of-gone-feed").unwrap());
        assert!(store.is_given_up("failed-listed").unwrap());
        assert!(!store.is_given_up("failed-dropped").unwrap());
        let after = store.sizes().unwrap();
        assert_eq!((after.feeds, after.items, after.page_failures), (1, 2, 1));
    }

    #[test]
    fn websub_requests_expire_and_verification_promotes_the_secret() {
        let store = StateStore::in_memory().unwrap();
        let url = store.feed("https://a.example/rss").unwrap().url;
        let now = Utc::now().timestamp();
        let request = WebSubRequest {
            mode: "subscribe",
            topic: "https://a.example/rss",
            secret: Some("s1"),
            callback: "cb",
            at: now,
        };
        store.websub_request(&url, &request).unwrap();
        let row = store.feed_for_callback("cb").unwrap().unwrap();
        assert_eq!(row.websub_pending_mode.as_deref(), Some("subscribe"));
        assert_eq!(row.websub_secret, None, "not live before verification");
        store
            .websub_verified(&url, "subscribe", Some(now + 60))
            .unwrap();
        let row = store.feed(&url).unwrap();
        assert_eq!(row.websub_secret.as_deref(), Some("s1"));
        assert_eq!(row.websub_pending_mode, None);
        store
            .websub_request(
                &url,
                &WebSubRequest {
                    secret: Some("s2"),
                    ..request
                },
            )
            .unwrap();
        assert_eq!(store.sizes().unwrap().websub_pending, 1);
        assert_eq!(
            store
                .prune(now + 10, 86_400, 3600, &[&url])
                .unwrap()
                .websub_pending,
            0
        );
        let expired = store.prune(now + 3601, 86_400, 3600, &[&url]).unwrap();
        assert_eq!(expired.websub_pending, 1);
        assert_eq!(store.sizes().unwrap().websub_pending, 0);
        assert_eq!(
            store.feed(&url).unwrap().websub_secret.as_deref(),
            Some("s1"),
            "the live subscription is untouched"
        );
    }

    #[test]
    fn an_older_database_gains_the_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO items(item_id, feed_url, seen_at) VALUES ('old', 'https://a.example/rss', 1)",
                [],
            )
            .unwrap();
        }
        let store = StateStore::open(&path).unwrap();
        assert!(store.is_seen("old").unwrap());
        store.feed("https://a.example/rss").unwrap();
        // The feed exists but its document was never read since the
        // upgrade: its old item is kept.
        let live = ["https://a.example/rss"];
        assert_eq!(
            store.prune(10 * 86_400, 86_400, 3600, &live).unwrap().items,
            0
        );
    }
}
