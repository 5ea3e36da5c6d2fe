use std::collections::BTreeMap;
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

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// The log file; relative paths are taken against the data directory.
    pub path: PathBuf,
    /// How many records one topic may hold that its slowest attached group
    /// (a consumer open in this process) has not acknowledged; producers
    /// wait beyond that (backpressure). Detached groups never hold
    /// producers back.
    pub max_backlog: u64,
    /// The largest record (key and payload) the log takes; a larger one is
    /// refused for good (`BusError::TooLarge`) and goes to the dead letters,
    /// as on Kafka, so both buses treat one page alike.
    pub max_message_bytes: usize,
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

/// The largest record newsflow sends, on either bus, unless configured:
/// a page the fetcher took at its default 10 MiB body cap is 13.4 MiB once
/// base64-encoded in its `raw` record (4 bytes per 3), plus its metadata.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("bus.db"),
            max_backlog: 1_000,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TopicRetention {
    /// This topic's `retention_ms`.
    pub retention_ms: Option<u64>,
    /// This topic's `retention_bytes`.
    pub retention_bytes: Option<u64>,
}

/// The limits a topic's unneeded records are kept within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_ms: u64,
    pub max_bytes: u64,
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
    /// The largest record (key and payload, before compression) newsflow
    /// produces. A larger one is refused before sending (`BusError::TooLarge`)
    /// and goes to the dead letters. The producer's `message.max.bytes` and
    /// the topics' `max.message.bytes` are this plus
    /// [`KafkaConfig::BATCH_OVERHEAD_BYTES`] (room for the record batch's own
    /// framing); consumers fetch at least that much per partition.
    pub max_message_bytes: usize,
    /// The producer's `compression.type`: `lz4` (the default; what every
    /// broker, tansu included, reads), `zstd`, `gzip`, `snappy` or `none`.
    /// Pages are HTML and compress several-fold, so the limit above is
    /// rarely what the broker stores. On tansu use `none`: it stores
    /// records uncompressed and compresses each batch again for every fetch,
    /// so compression costs it and the clients CPU and saves nothing (the
    /// whole pipeline ran twice as fast without, README "Whole pipeline").
    pub compression: String,
    /// Extra librdkafka properties for every client (security, tuning);
    /// they override the ones newsflow derives from the settings above.
    pub properties: std::collections::BTreeMap<String, String>,
    /// A stage's consumer whose group has records to read but has neither
    /// received one nor seen its committed positions move for this many
    /// seconds is re-created (a new client joins the group afresh).
    pub consumer_stall_secs: u64,
    /// How long reading a changelog (a stage restoring its state) may wait
    /// for its next record before the reading counts as stopped short.
    pub restore_stall_secs: u64,
}

impl KafkaConfig {
    /// Framing a record batch adds around its one record, at most.
    pub const BATCH_OVERHEAD_BYTES: usize = 64 * 1024;

    /// The producer's `message.max.bytes` and the topics' `max.message.bytes`.
    pub fn max_batch_bytes(&self) -> usize {
        self.max_message_bytes
            .saturating_add(Self::BATCH_OVERHEAD_BYTES)
    }
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
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            compression: "lz4".into(),
            properties: Default::default(),
            consumer_stall_secs: 120,
            restore_stall_secs: 60,
        }
    }
}
