use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which bus the stages talk through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// Every stage in one process; the topics are a SQLite log in the data
    /// directory.
    #[default]
    Embedded,
    /// Every stage a Kafka consumer group; stages can run anywhere.
    Kafka,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `embedded` (one process, no servers) or `kafka`.
    pub kind: BusKind,
    /// Settings of the embedded bus (used when `kind = "embedded"`).
    pub embedded: EmbeddedConfig,
    /// Settings of the Kafka bus (used when `kind = "kafka"`).
    pub kafka: KafkaConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// The log file; relative paths are taken against the data directory.
    pub path: PathBuf,
    /// How many records one topic may hold that its slowest group has not
    /// acknowledged; producers wait beyond that (backpressure).
    pub max_backlog: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("bus.db"),
            max_backlog: 1_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated (`host:port,host:port`).
    pub brokers: String,
    /// Prepended to every logical topic name ("newsflow." gives "newsflow.raw").
    pub topic_prefix: String,
    /// Prepended to every stage's consumer group id.
    pub group_prefix: String,
    /// Partitions for topics the bus creates (stateful stages read one).
    pub partitions: i32,
    /// Replication factor for topics the bus creates.
    pub replication_factor: i32,
    /// Create missing topics at start (off where clients may not create
    /// topics; `deploy/kafka/create-topics.sh` creates them ahead of time).
    pub create_topics: bool,
    /// Extra librdkafka properties for every client (security, tuning),
    /// set in the file: their names have dots, which an environment
    /// variable cannot carry.
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            topic_prefix: "newsflow.".into(),
            group_prefix: "newsflow-".into(),
            partitions: 1,
            replication_factor: 1,
            create_topics: true,
            properties: Default::default(),
        }
    }
}
