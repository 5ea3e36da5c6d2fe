use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    #[default]
    Embedded,
    Kafka,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct BusConfig {
    pub kind: BusKind,
    pub embedded: EmbeddedConfig,
    pub kafka: KafkaConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    pub brokers: String,
    /// Prepended to every logical topic name ("newsflow." gives "newsflow.raw").
    pub topic_prefix: String,
    /// Prepended to every stage's consumer group id.
    pub group_prefix: String,
    /// Partitions for topics the bus creates (stateful stages read one).
    pub partitions: i32,
    pub replication_factor: i32,
    pub create_topics: bool,
    /// Extra librdkafka properties for every client (security, tuning).
    pub properties: std::collections::BTreeMap<String, String>,
    /// A stage's consumer whose group has records to read but has neither
    /// received one nor seen its committed positions move for this many
    /// seconds is re-created (a new client joins the group afresh).
    pub consumer_stall_secs: u64,
    /// How long reading a changelog (a stage restoring its state) may wait
    /// for its next record before the reading counts as stopped short.
    pub restore_stall_secs: u64,
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
            consumer_stall_secs: 120,
            restore_stall_secs: 60,
        }
    }
}
