//! The embedded bus's tables, and the columns later versions added (a log
//! written by an older newsflow is upgraded in place when opened).

use rusqlite::Connection;

use crate::embedded::write_transaction;

/// `synchronous = FULL`: in WAL mode a commit is only durable against power
/// loss once the WAL is synced; NORMAL syncs at checkpoints only, so the
/// last records a producer was told were durable could vanish with the
/// power. FULL syncs the WAL at every commit (measured in the README).
/// Acknowledgements switch to NORMAL for their own commit (see `ack`).
const SYNC: &str = "PRAGMA synchronous = FULL;";

/// `records` is a rowid table: payloads (whole pages on `raw`) are far
/// larger than SQLite's advice for WITHOUT ROWID rows, and there every
/// B-tree step over the primary key read payload bytes (measured: most of
/// the log's time went to it). Its key lives in `records_by_offset`.
const RECORDS: &str = "
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL,
    offset INTEGER NOT NULL,
    key TEXT,
    payload BLOB NOT NULL,
    appended_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS records_by_offset ON records (topic, offset);
CREATE INDEX IF NOT EXISTS records_by_key ON records (topic, key);
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS topic_heads (
    topic TEXT PRIMARY KEY,
    next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_positions (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    last_seen_ms INTEGER,
    attached_pid INTEGER,
    PRIMARY KEY (grp, topic)
);
";

/// Columns added after the first release: (table, column). Rows written
/// before the upgrade count as appended / seen at the upgrade, so that
/// retention starts from then rather than dropping them at once.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("records", "appended_ms"),
    ("group_positions", "last_seen_ms"),
    ("group_positions", "attached_pid"),
];

/// Readers (`tail`, `bus groups`) open the log while a run writes it: what
/// is already in place is only read, never set again, since switching the
/// journal mode or creating tables takes locks a busy writer holds.
pub fn create_or_upgrade(connection: &mut Connection, now_ms: i64) -> rusqlite::Result<()> {
    connection.execute_batch(SYNC)?;
    let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        connection.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    }
    let tables: i64 = connection.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'index')
         AND name IN ('records', 'records_by_key', 'topic_heads', 'group_positions')",
        [],
        |row| row.get(0),
    )?;
    if tables < 4 {
        connection.execute_batch(RECORDS)?;
        connection.execute_batch(SCHEMA)?;
    }
    for (table, column) in ADDED_COLUMNS {
        if has_column(connection, table, column)? {
            continue;
        }
        let tx = write_transaction(connection)?;
        tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} INTEGER"))?;
        if *column != "attached_pid" {
            tx.execute(&format!("UPDATE {table} SET {column} = ?1"), [now_ms])?;
        }
        tx.commit()?;
    }
    if records_without_rowid(connection)? {
        move_records_to_rowid_table(connection)?;
    }
    Ok(())
}

pub(crate) fn records_without_rowid(connection: &Connection) -> rusqlite::Result<bool> {
    let sql: String = connection.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'",
        [],
        |row| row.get(0),
    )?;
    Ok(sql.to_ascii_uppercase().contains("WITHOUT ROWID"))
}

/// A log written before `records` became a rowid table is copied over in
/// one transaction: a crash halfway leaves the old table as it was.
fn move_records_to_rowid_table(connection: &mut Connection) -> rusqlite::Result<()> {
    let tx = write_transaction(connection)?;
    tx.execute_batch(
        "DROP INDEX IF EXISTS records_by_key;
         DROP INDEX IF EXISTS records_by_offset;
         ALTER TABLE records RENAME TO records_without_rowid;",
    )?;
    tx.execute_batch(RECORDS)?;
    tx.execute_batch(
        "INSERT INTO records (topic, offset, key, payload, appended_ms)
         SELECT topic, offset, key, payload, appended_ms FROM records_without_rowid
         ORDER BY topic, offset;
         DROP TABLE records_without_rowid;",
    )?;
    tx.commit()
}

fn has_column(connection: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut statement = connection.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = statement.query_map([], |row| row.get::<_, String>(1))?;
    for name in names {
        if name? == column {
            return Ok(true);
        }
    }
    Ok(false)
}
