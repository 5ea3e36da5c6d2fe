//! A Kafka group's lag per partition, as `newsflow_consumer_lag` reports it:
//! each partition's high watermark less the group's committed position, on
//! a real broker (tansu) with a topic of three partitions.
//!
//! Needs `tansu` on PATH (`.ci/run` installs it); without it the test says
//! so and passes locally, but fails under CI.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::kafka::{free_port, kafka_config, require_tansu, start_broker, Storage};
use newsflow_bus::{Bus, KafkaBus, Producer, TopicKind};

const PARTITIONS: i32 = 3;
const RECORDS: usize = 30;
const CONSUMED: usize = 10;

fn by_partition(backlog: Vec<newsflow_bus::PartitionBacklog>) -> BTreeMap<i32, u64> {
    backlog
        .into_iter()
        .map(|p| (p.partition, p.records))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lag_of_each_partition_is_its_high_watermark_less_the_committed_position() {
    if !require_tansu() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let _broker = start_broker(work.path(), port, Storage::Sqlite);
    let config = newsflow_bus::KafkaConfig {
        partitions: PARTITIONS,
        ..kafka_config(&format!("127.0.0.1:{port}"), "lag.")
    };
    let bus = KafkaBus::connect(config).unwrap();
    bus.ensure_topics(&[("raw", TopicKind::Stream)])
        .await
        .unwrap();
    for i in 0..RECORDS {
        bus.send(
            "raw",
            &format!("key-{i}"),
            format!("record {i}").into_bytes(),
        )
        .await
        .unwrap();
    }

    let mut consumer = bus.consumer("lag", "raw").await.unwrap();
    let before = by_partition(consumer.partition_backlog().await.unwrap().unwrap());
    assert_eq!(
        before.keys().copied().collect::<Vec<_>>(),
        (0..PARTITIONS).collect::<Vec<_>>(),
        "one lag per partition"
    );
    assert_eq!(before.values().sum::<u64>(), RECORDS as u64);
    assert_eq!(consumer.backlog().await.unwrap(), Some(RECORDS as u64));

    // Consume some (the group forms first: seconds on tansu), commit.
    let mut taken: BTreeMap<i32, u64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut consumed = 0;
    while consumed < CONSUMED {
        assert!(Instant::now() < deadline, "the group never got its records");
        if let Some(delivery) = consumer.poll(Duration::from_millis(500)).await.unwrap() {
            consumer.ack(&delivery).unwrap();
            *taken.entry(delivery.partition).or_default() += 1;
            consumed += 1;
        }
    }
    consumer.commit().await.unwrap();

    let after = by_partition(consumer.partition_backlog().await.unwrap().unwrap());
    for (partition, lag) in &after {
        let taken = taken.get(partition).copied().unwrap_or(0);
        assert_eq!(*lag, before[partition] - taken, "partition {partition}");
    }
    assert_eq!(after.values().sum::<u64>(), (RECORDS - CONSUMED) as u64);
}
