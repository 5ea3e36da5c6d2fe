//! Dead letters on Kafka (a real tansu broker): topics created with their
//! size limit, a compressed record above Kafka's usual 1 MB default goes
//! through, hostile records on `raw` become dead letters that
//! `newsflow dead-letters list --bus kafka` shows and `replay` re-injects
//! once. Needs `tansu` on PATH; without it the test says so and passes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kafka::{free_port, tansu_available, Running, Storage};
use common::*;
use newsflow_bus::{KafkaBus, KafkaConfig, Producer, TopicKind};
use serde_json::Value;

const PREFIX: &str = "dl.";

/// A tansu broker (in memory) on a free loopback port, and its address.
fn start_broker(dir: &Path) -> (Running, String) {
    let port = free_port();
    let broker = common::kafka::start_broker(dir, port, Storage::Sqlite);
    (broker, format!("127.0.0.1:{port}"))
}

fn newsflow(brokers: &str, args: &[&str]) -> Command {
    let mut command = newsflow_command();
    command
        .args(args)
        .args(["--bus", "kafka", "--brokers", brokers])
        .env("NEWSFLOW_BUS__KAFKA__TOPIC_PREFIX", PREFIX);
    command
}

fn list_letters(brokers: &str) -> Vec<Value> {
    let output = run_command(&mut newsflow(
        brokers,
        &["dead-letters", "list", "--format", "json"],
    ));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn hostile_records_on_kafka_become_dead_letters_that_replay_once() {
    if !tansu_available() {
        eprintln!("SKIPPED: tansu is not on PATH (install it with the command in README.md)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(work.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = KafkaConfig {
        brokers: brokers.clone(),
        topic_prefix: PREFIX.into(),
        ..Default::default()
    };
    let bus = KafkaBus::connect(config).unwrap();
    runtime.block_on(async {
        bus.ensure_topics(&[
            ("raw", TopicKind::Stream),
            ("dead-letters", TopicKind::DeadLetters),
        ])
        .await
        .unwrap();
        // Twice Kafka's usual 1 MB default, compressed on the way: the
        // producer's, the topic's and the consumer's limits all take it.
        let large = format!(
            r#"{{"schema_version": 7, "filler": "{}"}}"#,
            "newsflow ".repeat(2_000_000 / 9)
        );
        for (key, payload) in [
            ("not-json", b"{not json".to_vec()),
            ("next-major", large.into_bytes()),
            (
                "wrong-shape",
                br#"{"schema_version": 1, "item_id": 42}"#.to_vec(),
            ),
        ] {
            bus.send("raw", key, payload).await.unwrap();
        }
    });

    let log = std::fs::File::create(work.path().join("cleaner.log")).unwrap();
    let cleaner = Running(
        newsflow(&brokers, &["run", "--stage", "cleaner"])
            .arg("--data-dir")
            .arg(work.path().join("cleaner"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(150);
    let letters = loop {
        let letters = list_letters(&brokers);
        if letters.len() >= 3 || Instant::now() > deadline {
            break letters;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let reasons: Vec<(&str, &str)> = letters
        .iter()
        .map(|l| (l["key"].as_str().unwrap(), l["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("not-json", "malformed"),
            ("next-major", "schema_version"),
            ("wrong-shape", "malformed"),
        ],
        "cleaner log: {}",
        std::fs::read_to_string(work.path().join("cleaner.log")).unwrap_or_default()
    );
    let large = &letters[1];
    assert_eq!(large["payload_truncated"], true);
    assert!(large["payload_bytes"].as_u64().unwrap() > 2_000_000);

    // Stopped, so that what replay re-injects is not dead-lettered anew
    // (a new letter) between the two replays.
    drop(cleaner);
    let first = run_command(&mut newsflow(&brokers, &["dead-letters", "replay"]));
    let first = String::from_utf8(first.stdout).unwrap();
    assert!(first.contains("replayed 2 dead letters"), "{first}");
    let second = run_command(&mut newsflow(&brokers, &["dead-letters", "replay"]));
    let second = String::from_utf8(second.stdout).unwrap();
    assert!(
        second.contains("replayed 0 dead letters (2 replayed before"),
        "{second}"
    );
}
