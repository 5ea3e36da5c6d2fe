//! The Kafka bus over rdkafka. Each stage is a consumer group, so running the
//! same stage on several machines splits its input's partitions between them.
//!
//! At-least-once, as in rust-rdkafka's at-least-once example: the producer is
//! idempotent with `acks=all`; consumers store an offset only when the stage
//! acknowledges a record, which it does after the broker confirmed the
//! stage's outputs; stored offsets are committed in the background and on
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

use crate::kafka_consumer::{KafkaConsumer, MemberSpec};
use crate::kafka_history::TopicHistory;
use crate::{Bus, BusError, Consumer, KafkaConfig, PendingSend, Producer};

/// Longest wait for room in the producer's local queue; records in the
/// queue themselves never expire (`message.timeout.ms=0`).
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn kafka_error(context: impl Into<String>) -> impl FnOnce(KafkaError) -> BusError {
    let context = context.into();
    move |source| BusError::Kafka { context, source }
}

/// How a topic the bus creates keeps its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// A stream between stages: the broker's retention, the configured
    /// number of partitions.
    Stream,
    /// `cleanup.policy=compact`: the newest record per key is kept.
    Compacted,
    /// Records stages gave up on: one partition (one order for listing and
    /// replay), kept for 90 days so an operator has time to look and fix.
    DeadLetters,
    /// A stage's state as a table: one partition, compacted, so the newest
    /// record per key stays (an empty record deletes its key).
    StateTable,
}

/// How long the dead-letter topic keeps a letter: 90 days.
const DEAD_LETTER_RETENTION_MS: &str = "7776000000";

#[derive(Clone)]
pub struct KafkaBus {
    config: KafkaConfig,
    producer: FutureProducer,
}

impl KafkaBus {
    pub fn connect(config: KafkaConfig) -> Result<Self, BusError> {
        let producer: FutureProducer = client_config_with(&config, &producer_sizes(&config))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            // A record waits in the queue for as long as the broker is
            // away (0: no expiry), retried by the idempotent producer in
            // order: a broker restart delays sends, never drops them.
            .set("message.timeout.ms", "0")
            .create()
            .map_err(kafka_error("creating producer"))?;
        Ok(Self { config, producer })
    }

    pub fn physical_topic(&self, logical: &str) -> String {
        format!("{}{}", self.config.topic_prefix, logical)
    }

    /// Creates the given logical topics when missing, each kept as its
    /// kind asks.
    pub async fn ensure_topics(&self, topics: &[(&str, TopicKind)]) -> Result<(), BusError> {
        if !self.config.create_topics {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = client_config(&self.config)
            .create()
            .map_err(kafka_error("creating admin client"))?;
        let max_batch_bytes = self.config.max_batch_bytes().to_string();
        let names: Vec<String> = topics
            .iter()
            .map(|(logical, _)| self.physical_topic(logical))
            .collect();
        let new_topics: Vec<NewTopic> = names
            .iter()
            .zip(topics)
            .map(|(name, (_, kind))| {
                let replication = TopicReplication::Fixed(self.config.replication_factor);
                let topic = match kind {
                    TopicKind::Stream => NewTopic::new(name, self.config.partitions, replication),
                    TopicKind::Compacted => {
                        NewTopic::new(name, self.config.partitions, replication)
                            .set("cleanup.policy", "compact")
                    }
                    TopicKind::StateTable => {
                        NewTopic::new(name, 1, replication).set("cleanup.policy", "compact")
                    }
                    TopicKind::DeadLetters => NewTopic::new(name, 1, replication)
                        .set("cleanup.policy", "delete")
                        .set("retention.ms", DEAD_LETTER_RETENTION_MS),
                };
                // Every topic takes the largest record a producer may send.
                topic.set("max.message.bytes", &max_batch_bytes)
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(&new_topics, &options)
            .await
            .map_err(kafka_error("creating topics"))?;
        for result in results {
            match result {
                Ok(name) => tracing::info!(topic = %name, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                // Not fatal: the topic may exist under rules this client may
                // not see (ACLs), or the broker may create it on first use.
                // Producing to a topic that truly is missing fails loudly.
                Err((name, code)) => {
                    tracing::warn!(topic = %name, %code, "could not create topic")
                }
            }
        }
        Ok(())
    }

    /// What `group` has already processed of `topic`, for a stage that
    /// must rebuild lost state; `None` when the group has committed nothing.
    pub fn committed_history(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<Option<TopicHistory>, BusError> {
        TopicHistory::committed(&self.config, group, topic, &self.physical_topic(topic))
    }

    /// Everything `topic` holds now, for a stage restoring its state from
    /// its changelog; `None` when the topic holds nothing.
    pub fn written_history(&self, topic: &str) -> Result<Option<TopicHistory>, BusError> {
        TopicHistory::written(&self.config, topic, &self.physical_topic(topic))
    }

    /// A consumer that reads `topic` from the start without committing, for
    /// observers such as `tail`.
    pub fn observer(&self, topic: &str, group: &str) -> Result<Box<dyn Consumer>, BusError> {
        self.make_consumer(group, topic, false)
    }

    fn make_consumer(
        &self,
        group: &str,
        topic: &str,
        commit: bool,
    ) -> Result<Box<dyn Consumer>, BusError> {
        Ok(Box::new(KafkaConsumer::open(MemberSpec {
            config: self.config.clone(),
            group_id: format!("{}{}", self.config.group_prefix, group),
            logical_topic: topic.to_string(),
            physical_topic: self.physical_topic(topic),
            commit,
        })?))
    }

    /// Whether a broker answers a metadata request within `timeout`, for
    /// readiness. Blocks: call it off the async threads.
    pub fn probe(&self, timeout: Duration) -> Result<(), BusError> {
        use rdkafka::producer::Producer as _;
        self.producer
            .client()
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(kafka_error("fetching metadata"))
    }
}

pub(crate) fn client_config(config: &KafkaConfig) -> ClientConfig {
    client_config_with(config, &[])
}

/// A client for `config.brokers` with `derived` settings, which the
/// operator's `properties` override.
pub(crate) fn client_config_with(config: &KafkaConfig, derived: &[(&str, String)]) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.brokers);
    // TCP_NODELAY, as Kafka's own Java client sets it: with Nagle on, a
    // request's last small segment could wait for the broker's delayed ACK
    // (40 ms on Linux). Measured on tansu: at a trickle some runs took ~70 ms
    // per hop instead of ~25 for the whole run (2 of 9 runs); with this, 0
    // of 8.
    client.set("socket.nagle.disable", "true");
    for (key, value) in derived {
        client.set(*key, value);
    }
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    client
}

/// librdkafka's own default `fetch.max.bytes` (50 MiB): kept unless one
/// record batch is larger.
const DEFAULT_FETCH_MAX_BYTES: usize = 52_428_800;
/// librdkafka's default `receive.message.max.bytes` (100 MB).
const DEFAULT_RECEIVE_MAX_BYTES: usize = 100_000_000;

/// The producer compresses, and takes a batch as large as the largest
/// record newsflow sends (its own size check, before sending, keeps the
/// payload to `max_message_bytes`; librdkafka checks the same on the
/// uncompressed record and reports `MSG_SIZE_TOO_LARGE`).
///
/// Records queued together go in one batch (librdkafka's default): tansu
/// answers a connection's requests one after another, so a record per
/// request capped a producer at what one request costs there. tansu's
/// `memory://` storage hides the tail of a multi-record batch until the
/// partition's next write; its `sqlite://` storage, what the tests and
/// local runs use, does not (`tests/kafka_batches.rs`).
fn producer_sizes(config: &KafkaConfig) -> Vec<(&'static str, String)> {
    vec![
        ("compression.type", config.compression.clone()),
        ("message.max.bytes", config.max_batch_bytes().to_string()),
    ]
}

/// A consumer fetches at least one whole batch of the largest size per
/// partition; librdkafka wants its receive buffer above the fetch size.
pub(crate) fn consumer_sizes(config: &KafkaConfig) -> Vec<(&'static str, String)> {
    let batch = config.max_batch_bytes();
    let fetch = batch.max(DEFAULT_FETCH_MAX_BYTES);
    vec![
        ("max.partition.fetch.bytes", batch.to_string()),
        ("fetch.max.bytes", fetch.to_string()),
        (
            "receive.message.max.bytes",
            (fetch + 1024 * 1024)
                .max(DEFAULT_RECEIVE_MAX_BYTES)
                .to_string(),
        ),
    ]
}

#[async_trait]
impl Producer for KafkaBus {
    /// Puts the record in the producer's queue (waiting while the queue is
    /// full, up to `SEND_TIMEOUT`); what it returns resolves with the
    /// broker's acknowledgement. The idempotent producer keeps a
    /// partition's records in the order they were queued, retries included.
    async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: Vec<u8>,
    ) -> Result<PendingSend, BusError> {
        let physical = self.physical_topic(topic);
        let size = key.len() + payload.len();
        if size > self.config.max_message_bytes {
            return Err(BusError::TooLarge {
                topic: topic.to_string(),
                size,
                limit: self.config.max_message_bytes,
            });
        }
        let deadline = tokio::time::Instant::now() + SEND_TIMEOUT;
        let delivery = loop {
            let mut record = FutureRecord::<str, [u8]>::to(&physical).key(key);
            // An empty record is a tombstone: no value at all, which is
            // what makes compaction delete its key.
            if !payload.is_empty() {
                record = record.payload(&payload);
            }
            match self.producer.send_result(record) {
                Ok(delivery) => break delivery,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((source, _)) => {
                    return Err(BusError::Kafka {
                        context: format!("producing to {physical}"),
                        source,
                    })
                }
            }
        };
        Ok(Box::pin(async move {
            match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((source, _))) => Err(BusError::Kafka {
                    context: format!("producing to {physical}"),
                    source,
                }),
                Err(_) => Err(BusError::Closed),
            }
        }))
    }
}

#[async_trait]
impl Bus for KafkaBus {
    async fn producer(&self) -> Result<Arc<dyn Producer>, BusError> {
        Ok(Arc::new(self.clone()))
    }

    async fn consumer(&self, group: &str, topic: &str) -> Result<Box<dyn Consumer>, BusError> {
        self.make_consumer(group, topic, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_record_above_the_limit_is_refused_before_it_is_sent() {
        // No broker listens there: the refusal must come before any send.
        let config = KafkaConfig {
            brokers: "127.0.0.1:1".into(),
            max_message_bytes: 1_000,
            ..Default::default()
        };
        let bus = KafkaBus::connect(config).unwrap();
        let refused = tokio::time::timeout(
            Duration::from_secs(5),
            bus.send("raw", "key", vec![b'x'; 1_000]),
        )
        .await
        .expect("refused at once")
        .unwrap_err();
        assert!(refused.is_too_large(), "{refused}");
    }

    #[test]
    fn clients_send_without_waiting_for_acknowledgements_of_small_segments() {
        let config = KafkaConfig::default();
        let client = client_config_with(&config, &producer_sizes(&config));
        assert_eq!(client.get("socket.nagle.disable"), Some("true"));
        let mut overridden = KafkaConfig::default();
        overridden
            .properties
            .insert("socket.nagle.disable".into(), "false".into());
        let client = client_config_with(&overridden, &[]);
        assert_eq!(client.get("socket.nagle.disable"), Some("false"));
    }

    #[test]
    fn every_documented_compression_makes_a_producer() {
        for compression in ["lz4", "zstd", "gzip", "snappy", "none"] {
            let config = KafkaConfig {
                compression: compression.into(),
                ..KafkaConfig::default()
            };
            if let Err(error) = KafkaBus::connect(config) {
                panic!("compression {compression}: {error}");
            }
        }
    }

    #[test]
    fn producer_topics_and_consumers_agree_on_the_batch_size() {
        let config = KafkaConfig::default();
        let batch = config.max_batch_bytes().to_string();
        let producer = producer_sizes(&config);
        assert!(producer.contains(&("message.max.bytes", batch.clone())));
        assert!(producer.contains(&("compression.type", "lz4".to_string())));
        let consumer = consumer_sizes(&config);
        assert!(consumer.contains(&("max.partition.fetch.bytes", batch)));
        let value = |key: &str| -> usize {
            consumer
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap()
                .1
                .parse()
                .unwrap()
        };
        assert!(value("fetch.max.bytes") >= config.max_batch_bytes());
        assert!(value("receive.message.max.bytes") >= value("fetch.max.bytes") + 512);
    }
}
