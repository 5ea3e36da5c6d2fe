//! What syncing every commit costs the embedded bus: records sent (each
//! its own transaction, acknowledged by a consumer) per second through
//! `EmbeddedBus` (sends synced, `synchronous = FULL`; acks not), beside the same
//! insert-and-commit loop on a bare WAL database at NORMAL and at FULL.
//! `cargo bench -p newsflow-bus --bench embedded_durability` (the data goes
//! to the system's temporary folder: run it on the disk you deploy on,
//! with TMPDIR).

use std::time::{Duration, Instant};

use newsflow_bus::{Bus, EmbeddedBus, EmbeddedConfig, Producer};

const RECORDS: usize = 2_000;
const PAYLOAD: usize = 2_000;

fn bare_commits(synchronous: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let connection = rusqlite::Connection::open(dir.path().join("bare.db")).unwrap();
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
             CREATE TABLE records (offset INTEGER PRIMARY KEY, payload BLOB NOT NULL);"
        ))
        .unwrap();
    let payload = vec![7u8; PAYLOAD];
    let started = Instant::now();
    for offset in 0..RECORDS {
        connection
            .execute(
                "INSERT INTO records (offset, payload) VALUES (?1, ?2)",
                rusqlite::params![offset as i64, payload],
            )
            .unwrap();
    }
    RECORDS as f64 / started.elapsed().as_secs_f64()
}

async fn bus_send_and_ack() -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let bus = EmbeddedBus::open(dir.path(), &EmbeddedConfig::default(), &[]).unwrap();
    let mut consumer = bus.consumer("g", "t").await.unwrap();
    let payload = vec![7u8; PAYLOAD];
    let started = Instant::now();
    for i in 0..RECORDS {
        bus.send("t", &i.to_string(), payload.clone())
            .await
            .unwrap();
        let delivery = consumer
            .poll(Duration::from_secs(1))
            .await
            .unwrap()
            .unwrap();
        consumer.ack(&delivery).unwrap();
    }
    RECORDS as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("{RECORDS} records of {PAYLOAD} bytes, one transaction each:");
    println!(
        "  bare WAL insert, synchronous=NORMAL: {:>9.0} commits/s",
        bare_commits("NORMAL")
    );
    println!(
        "  bare WAL insert, synchronous=FULL:   {:>9.0} commits/s",
        bare_commits("FULL")
    );
    println!(
        "  EmbeddedBus send (FULL) + poll + ack (NORMAL): {:>8.0} records/s",
        runtime.block_on(bus_send_and_ack())
    );
}
