//! Records a stage hands to Kafka together (its in-flight window) go in one
//! batch and are all readable once the broker acknowledged them. tansu's
//! `memory://` storage fails this (the tail of a multi-record batch stays
//! hidden until the partition's next write: 1 of 5, 6 of 10, 11 of 15
//! readable), which would hide a stage's last outputs and the last
//! operations a state restore must read; its `sqlite://` storage, what the
//! tests and local runs use, passes.

mod common;

use common::kafka::{free_port, require_tansu, start_broker, Storage};
use newsflow_bus::{KafkaBus, KafkaConfig, Producer, TopicKind};

async fn readable(bus: &KafkaBus, topic: &str) -> usize {
    let Some(mut history) = bus.written_history(topic).unwrap() else {
        return 0;
    };
    let mut read = 0;
    while history.next().await.unwrap().is_some() {
        read += 1;
    }
    read
}

#[test]
fn records_enqueued_together_are_all_readable_once_acknowledged() {
    if !require_tansu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut broker = start_broker(dir.path(), port, Storage::Sqlite);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outcome = runtime.block_on(async {
        let config = KafkaConfig {
            brokers: format!("127.0.0.1:{port}"),
            ..KafkaConfig::default()
        };
        let bus = KafkaBus::connect(config).unwrap();
        bus.ensure_topics(&[("window", TopicKind::Stream)])
            .await
            .unwrap();
        let mut seen = Vec::new();
        for round in 1..=3 {
            let mut pending = Vec::new();
            for i in 0..5 {
                let payload = format!("round {round} record {i}").into_bytes();
                pending.push(bus.enqueue("window", "k", payload).await.unwrap());
            }
            for acknowledged in pending {
                acknowledged.await.unwrap();
            }
            seen.push((readable(&bus, "window").await, round * 5));
        }
        seen
    });
    broker.terminate();
    for (read, written) in outcome {
        assert_eq!(read, written, "acknowledged records are not all readable");
    }
}
