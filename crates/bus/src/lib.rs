//! The bus between newsflow's stages. Stages never see which implementation
//! carries their messages: the binary picks one and hands out producers and
//! consumers.
//!
//! Delivery is at-least-once on both implementations: a producer's `send`
//! resolves only once the record is durable, and a consumer's position moves
//! past a record only when the stage `ack`s it after its own outputs were
//! sent. Stages make re-delivery harmless by being idempotent per key.

mod config;
mod embedded;
mod embedded_arrivals;
mod embedded_maintenance;
mod embedded_schema;
mod embedded_writer;
mod error;
mod kafka;
mod kafka_consumer;
mod kafka_history;

use async_trait::async_trait;

pub use config::{
    BusConfig, BusKind, EmbeddedConfig, KafkaConfig, Retention, TopicRetention,
    DEFAULT_MAX_MESSAGE_BYTES,
};
pub use embedded::{EmbeddedBus, GroupInfo, TopicReader};
pub use embedded_maintenance::MaintenanceReport;
pub use error::BusError;
pub use kafka::{KafkaBus, TopicKind};
pub use kafka_history::TopicHistory;

/// One record read from a topic.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The logical topic name (no prefix).
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
}

/// A record handed to the bus: resolves once the bus holds it durably.
pub type PendingSend =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), BusError>> + Send>>;

#[async_trait]
pub trait Producer: Send + Sync {
    /// Hands the record to the bus and returns what resolves once it is
    /// durable, so that a stage can keep several records in flight. Records
    /// enqueued one after another are stored in that order (per partition on
    /// Kafka). The wait before it returns is the bus's backpressure.
    async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: Vec<u8>,
    ) -> Result<PendingSend, BusError>;

    /// Resolves once the bus holds the record durably.
    async fn send(&self, topic: &str, key: &str, payload: Vec<u8>) -> Result<(), BusError> {
        self.enqueue(topic, key, payload).await?.await
    }
}

#[async_trait]
pub trait Consumer: Send {
    /// The next record, or `None` when nothing arrived within `wait`.
    async fn poll(&mut self, wait: std::time::Duration) -> Result<Option<Delivery>, BusError>;
    /// Marks `delivery` (and everything before it on its partition) done.
    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError>;
    /// Makes acknowledged positions durable now (also done periodically).
    async fn commit(&mut self) -> Result<(), BusError>;
    /// Records on the subscribed topic that this group has not acknowledged,
    /// when the implementation can tell cheaply.
    async fn backlog(&mut self) -> Result<Option<u64>, BusError>;
    /// The backlog per partition of the subscribed topic, where the
    /// implementation can tell; a bus of one partition reports it as 0.
    async fn partition_backlog(&mut self) -> Result<Option<Vec<PartitionBacklog>>, BusError> {
        Ok(self.backlog().await?.map(|records| {
            vec![PartitionBacklog {
                partition: 0,
                records,
            }]
        }))
    }
    /// This member's share of the topic, where members of a group split its
    /// partitions between them (Kafka); `None` where a member always reads
    /// everything (the embedded bus).
    fn assignment(&self) -> Option<Assignment> {
        None
    }
}

/// Records of one partition a group has not processed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionBacklog {
    pub partition: i32,
    pub records: u64,
}

/// The partitions a group member owns now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Changes at every rebalance (and when the member is re-created), so a
    /// stage can tell a new assignment from the one it restored for.
    pub generation: u64,
    pub partitions: Vec<i32>,
}

/// A way to reach the bus: hands out producers and group consumers.
#[async_trait]
pub trait Bus: Send + Sync {
    async fn producer(&self) -> Result<std::sync::Arc<dyn Producer>, BusError>;
    /// A member of consumer group `group` reading `topic` (logical name).
    async fn consumer(&self, group: &str, topic: &str) -> Result<Box<dyn Consumer>, BusError>;
}
