//! A topic read back from the broker, from its earliest retained record up
//! to end positions fixed when reading began. Two uses: a stage that lost
//! its local state rebuilds it by replaying its input up to what its group
//! committed (the topic's retention must then cover the stage's state
//! window), and a stage whose state is a log on its own changelog topic
//! restores it by reading everything that topic holds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::kafka::{client_config, kafka_error};
use crate::{BusError, Delivery, KafkaConfig};

const METADATA_TIMEOUT: Duration = Duration::from_secs(15);

/// Records of one topic from the earliest retained one up to fixed
/// per-partition end offsets.
pub struct TopicHistory {
    consumer: StreamConsumer,
    logical_topic: String,
    /// Per partition, the first offset not to read.
    ends: BTreeMap<i32, i64>,
    /// Longest wait for the next record of a partition that is not yet read
    /// to its end; past it the reading stops short rather than hang.
    stall_limit: Duration,
    /// Why the reading stopped before the end, once it did.
    stopped_short: Option<String>,
}

/// Where each partition of a topic ends for a history.
enum EndAt<'a> {
    /// The group's committed offset: what it already processed.
    Committed { group_id: &'a str },
    /// The high watermark: everything written so far.
    Written,
}

impl TopicHistory {
    /// What `group` already processed; `None` when it committed nothing
    /// that is still retained.
    pub(crate) fn committed(
        config: &KafkaConfig,
        group: &str,
        logical_topic: &str,
        physical_topic: &str,
    ) -> Result<Option<Self>, BusError> {
        let group_id = format!("{}{}", config.group_prefix, group);
        let end_at = EndAt::Committed {
            group_id: &group_id,
        };
        Self::open(
            config,
            end_at,
            &format!("{group_id}-rebuild"),
            logical_topic,
            physical_topic,
        )
    }

    /// Everything the topic holds now; `None` when it holds nothing (or
    /// does not exist). Records written after this call are not read.
    pub(crate) fn written(
        config: &KafkaConfig,
        logical_topic: &str,
        physical_topic: &str,
    ) -> Result<Option<Self>, BusError> {
        let reader_group = format!("{}{}-reader", config.group_prefix, logical_topic);
        Self::open(
            config,
            EndAt::Written,
            &reader_group,
            logical_topic,
            physical_topic,
        )
    }

    fn open(
        config: &KafkaConfig,
        end_at: EndAt,
        reader_group: &str,
        logical_topic: &str,
        physical_topic: &str,
    ) -> Result<Option<Self>, BusError> {
        let probe_group = match end_at {
            EndAt::Committed { group_id } => group_id,
            EndAt::Written => reader_group,
        };
        let probe: BaseConsumer = client_config(config)
            .set("group.id", probe_group)
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
        let candidate_ends: Vec<(i32, i64)> = match end_at {
            EndAt::Committed { group_id } => probe
                .committed_offsets(partitions, METADATA_TIMEOUT)
                .map_err(kafka_error(format!(
                    "reading {group_id}'s offsets on {physical_topic}"
                )))?
                .elements_for_topic(physical_topic)
                .into_iter()
                .filter_map(|element| match element.offset() {
                    Offset::Offset(end) => Some((element.partition(), end)),
                    _ => None,
                })
                .collect(),
            EndAt::Written => {
                let mut highs = Vec::new();
                for element in partitions.elements_for_topic(physical_topic) {
                    let (_, high) = watermarks(&probe, physical_topic, element.partition())?;
                    highs.push((element.partition(), high));
                }
                highs
            }
        };
        let mut ends = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for (partition, end) in candidate_ends {
            let (low, _) = watermarks(&probe, physical_topic, partition)?;
            if end > low {
                ends.insert(partition, end);
                assignment
                    .add_partition_offset(physical_topic, partition, Offset::Beginning)
                    .map_err(kafka_error("building assignment"))?;
            }
        }
        if ends.is_empty() {
            return Ok(None);
        }
        let consumer: StreamConsumer = client_config(config)
            .set("group.id", reader_group)
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
            stall_limit: Duration::from_secs(config.restore_stall_secs.max(1)),
            stopped_short: None,
        }))
    }

    /// The next record, `None` once every partition was read to its end, or
    /// when the next record did not come within the stall limit: then
    /// [`stopped_short`](Self::stopped_short) says so.
    pub async fn next(&mut self) -> Result<Option<Delivery>, BusError> {
        let started = Instant::now();
        while !self.ends.is_empty() {
            let remaining = self.stall_limit.saturating_sub(started.elapsed());
            let message = match tokio::time::timeout(remaining, self.consumer.recv()).await {
                Err(_) => {
                    let why = format!(
                        "no record came for {} s; unread (partition: end offset): {:?}",
                        self.stall_limit.as_secs(),
                        self.ends
                    );
                    tracing::warn!(topic = %self.logical_topic, %why, "history stalled");
                    self.stopped_short = Some(why);
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

impl TopicHistory {
    /// Why the reading stopped before the end it was given, if it did.
    pub fn stopped_short(&self) -> Option<&str> {
        self.stopped_short.as_deref()
    }
}

fn watermarks(
    probe: &BaseConsumer,
    physical_topic: &str,
    partition: i32,
) -> Result<(i64, i64), BusError> {
    probe
        .fetch_watermarks(physical_topic, partition, METADATA_TIMEOUT)
        .map_err(kafka_error(format!(
            "reading watermarks of {physical_topic}"
        )))
}
