use std::collections::BTreeMap;
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

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// The log file; relative paths are taken against the data directory.
    pub path: PathBuf,
    /// How many records one topic may hold that its slowest attached group
    /// (a consumer open in this process) has not acknowledged; producers
    /// wait beyond that (backpressure). Detached groups never hold
    /// producers back.
    pub max_backlog: u64,
    /// How long a consumer group nobody has attached stays registered (its
    /// position kept, its unread records retained within the topic's
    /// retention) before it is dropped with a warning. Default 7 days.
    pub detached_group_retention_ms: u64,
    /// How long a record is kept once no attached group still needs it, as
    /// Kafka's `retention.ms` (default 7 days). Per topic: `topics`.
    pub retention_ms: u64,
    /// How many bytes of records one topic keeps at most, beyond what
    /// attached groups still need, as Kafka's `retention.bytes` (default
    /// 1 GiB). Per topic: `topics`.
    pub retention_bytes: u64,
    /// Per-topic overrides of `retention_ms` / `retention_bytes`, by
    /// logical topic name (`[bus.embedded.topics.duplicates]`).
    pub topics: BTreeMap<String, TopicRetention>,
    /// How often the running service enforces retention, drops expired
    /// detached groups and marks its attached groups as seen.
    pub maintenance_interval_ms: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("bus.db"),
            max_backlog: 1_000,
            detached_group_retention_ms: 7 * DAY_MS,
            retention_ms: 7 * DAY_MS,
            retention_bytes: 1 << 30,
            topics: BTreeMap::new(),
            maintenance_interval_ms: 60_000,
        }
    }
}

impl EmbeddedConfig {
    /// The retention that applies to `topic`: its override where it has
    /// one, the defaults otherwise.
    pub fn retention_of(&self, topic: &str) -> Retention {
        let override_ = self.topics.get(topic);
        Retention {
            max_age_ms: override_
                .and_then(|o| o.retention_ms)
                .unwrap_or(self.retention_ms),
            max_bytes: override_
                .and_then(|o| o.retention_bytes)
                .unwrap_or(self.retention_bytes),
        }
    }
}

/// One topic's retention override; a key left out keeps the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicRetention {
    pub retention_ms: Option<u64>,
    pub retention_bytes: Option<u64>,
}

/// The limits a topic's unneeded records are kept within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_ms: u64,
    pub max_bytes: u64,
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
