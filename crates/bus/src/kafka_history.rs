//! What a consumer group has already processed, read back from the topic:
//! a stage that lost its local state (a new machine, a wiped disk) rebuilds
//! it by replaying its input up to the group's committed positions, the
//! input log standing in for a changelog. The topic's retention must cover
//! the stage's state window.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::kafka::{client_config, kafka_error};
use crate::{BusError, Delivery, KafkaConfig};

const METADATA_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for the next record of a partition that is not yet read to
/// its end; past it the rebuild stops with what it has, rather than hang.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Records of one topic from the earliest retained one up to the positions
/// a group committed.
pub struct CommittedHistory {
    consumer: StreamConsumer,
    logical_topic: String,
    /// Per partition, the first offset the group has not processed.
    ends: BTreeMap<i32, i64>,
}

impl CommittedHistory {
    pub(crate) fn open(
        config: &KafkaConfig,
        group: &str,
        logical_topic: &str,
        physical_topic: &str,
    ) -> Result<Option<Self>, BusError> {
        let group_id = format!("{}{}", config.group_prefix, group);
        let probe: BaseConsumer = client_config(config)
            .set("group.id", &group_id)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(kafka_error("creating offset probe"))?;
        let metadata = probe
            .fetch_metadata(Some(physical_topic), METADATA_TIMEOUT)
            .map_err(kafka_error(format!("reading metadata of {physical_topic}")))?;
        let mut partitions = TopicPartitionList::new();
        for topic in metadata.topics() {
            for partition in topic.partitions() {
                partitions.add_partition(physical_topic, partition.id());
            }
        }
        let committed = probe
            .committed_offsets(partitions, METADATA_TIMEOUT)
            .map_err(kafka_error(format!(
                "reading {group_id}'s offsets on {physical_topic}"
            )))?;
        let mut ends = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for element in committed.elements_for_topic(physical_topic) {
            let Offset::Offset(end) = element.offset() else {
                continue;
            };
            let (low, _) = probe
                .fetch_watermarks(physical_topic, element.partition(), METADATA_TIMEOUT)
                .map_err(kafka_error(format!(
                    "reading watermarks of {physical_topic}"
                )))?;
            if end > low {
                ends.insert(element.partition(), end);
                assignment
                    .add_partition_offset(physical_topic, element.partition(), Offset::Beginning)
                    .map_err(kafka_error("building assignment"))?;
            }
        }
        if ends.is_empty() {
            return Ok(None);
        }
        let consumer: StreamConsumer = client_config(config)
            .set("group.id", format!("{group_id}-rebuild"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .map_err(kafka_error("creating history reader"))?;
        consumer
            .assign(&assignment)
            .map_err(kafka_error(format!("assigning {physical_topic}")))?;
        Ok(Some(Self {
            consumer,
            logical_topic: logical_topic.to_string(),
            ends,
        }))
    }

    /// The next already-processed record, `None` once every partition was
    /// read to its committed position (or stalled past the limit).
    pub async fn next(&mut self) -> Result<Option<Delivery>, BusError> {
        let started = Instant::now();
        while !self.ends.is_empty() {
            let remaining = STALL_LIMIT.saturating_sub(started.elapsed());
            let message = match tokio::time::timeout(remaining, self.consumer.recv()).await {
                Err(_) => {
                    tracing::warn!(topic = %self.logical_topic, unread = ?self.ends,
                        "history stalled; rebuilding from what was read");
                    return Ok(None);
                }
                Ok(Err(source)) => {
                    return Err(BusError::Kafka {
                        context: format!("reading history of {}", self.logical_topic),
                        source,
                    })
                }
                Ok(Ok(message)) => message,
            };
            let partition = message.partition();
            let Some(&end) = self.ends.get(&partition) else {
                continue;
            };
            if message.offset() + 1 >= end {
                self.ends.remove(&partition);
            }
            if message.offset() >= end {
                continue;
            }
            return Ok(Some(Delivery {
                topic: self.logical_topic.clone(),
                partition,
                offset: message.offset(),
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: message.payload().unwrap_or_default().to_vec(),
            }));
        }
        Ok(None)
    }
}
