//! A member of a Kafka consumer group, as a stage reads its input.
//!
//! Beyond reading, it tells two things the stage loop needs:
//! - which partitions this member owns, with a generation that changes at
//!   every rebalance (rdkafka's post-rebalance callback), so that a stateful
//!   stage restores its state before it processes the first record of a new
//!   assignment (a standby taking over, a member given its partition back);
//! - whether its group is stuck: a group that has records to read, whose
//!   committed positions have not moved for `consumer_stall_secs`, and that
//!   this member received nothing from in that time. The member is then
//!   re-created (a new client, a new join), which is what got a stage out of
//!   a broker restart during its group join (see the README's reliability
//!   notes): the old client is dropped on its own thread, since closing a
//!   client whose broker misbehaves may block. A process's first member that
//!   has been given no partition is re-created sooner, once its session
//!   timeout has passed (see `KafkaConsumer::first_join_stall`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use crate::kafka::{client_config_with, consumer_sizes, kafka_error};
use crate::{Assignment, BusError, Consumer, Delivery, KafkaConfig, PartitionBacklog};

const OFFSETS_TIMEOUT: Duration = Duration::from_secs(10);

/// librdkafka's `fetch.wait.max.ms`: how long a fetch may wait on the broker
/// for records that are not there yet. tansu sleeps after each look at the
/// log whether it found records or not (the rest of the wait, or half of it
/// from 250 ms up: `tansu-broker/src/broker/fetch.rs`), so every fetch it
/// answers takes about this long, and every hop of the pipeline pays it: a
/// record sent to an idle topic reached the consumer after 502 ms with
/// librdkafka's default of 500, after 7 ms with 10. 20 ms: the
/// whole-pipeline bench's trickle latency went from p50 15 s to 0.6 s on
/// tansu, for about a tenth of a core of empty fetches while idle; a broker
/// that answers as soon as records arrive (Kafka) only gets more empty
/// fetches from an idle consumer. `bus.kafka.properties` overrides it.
const FETCH_WAIT_MAX_MS: &str = "20";

/// How often the group's progress is looked at while nothing arrives.
const PROGRESS_CHECK_EVERY: Duration = Duration::from_secs(10);

/// The consumers' `session.timeout.ms` unless the operator sets another.
const SESSION_TIMEOUT_MS: u64 = 30_000;

/// Past a session timeout, how much longer a member given nothing waits for
/// the group to move before it joins afresh: the dead member's eviction and
/// a rebalance, if the broker makes one, come within it.
const FIRST_JOIN_MARGIN: Duration = Duration::from_secs(5);

/// What the rebalance callback tells the reading side.
#[derive(Debug, Default)]
struct Ownership {
    generation: u64,
    partitions: Vec<i32>,
    /// Whether this member (any of its clients) has ever been given a
    /// partition: only the first client's early re-join looks at it.
    ever_assigned: bool,
}

/// The client context of a group member: follows its assignment and
/// reports client-level errors (all brokers down, authentication) upstream.
pub(crate) struct MemberContext {
    ownership: Arc<Mutex<Ownership>>,
    group: String,
}

impl ClientContext for MemberContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error
            .rdkafka_error_code()
            .map_or_else(|| "unknown".to_string(), |code| format!("{code:?}"));
        metrics::counter!("newsflow_kafka_client_errors_total", "code" => code.clone())
            .increment(1);
        tracing::error!(group = %self.group, %code, %error, reason, "Kafka client error");
    }
}

impl ConsumerContext for MemberContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(error) = rebalance {
            tracing::warn!(group = %self.group, %error, "rebalance failed");
        }
        let partitions: Vec<i32> = consumer
            .assignment()
            .map(|list| list.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        let mut ownership = self.ownership.lock().unwrap_or_else(|e| e.into_inner());
        ownership.generation += 1;
        tracing::info!(group = %self.group, ?partitions, generation = ownership.generation,
            "partitions assigned");
        ownership.ever_assigned |= !partitions.is_empty();
        ownership.partitions = partitions;
    }
}

type Member = StreamConsumer<MemberContext>;

/// How to make (and re-make) the member.
#[derive(Clone)]
pub(crate) struct MemberSpec {
    pub config: KafkaConfig,
    pub group_id: String,
    pub logical_topic: String,
    pub physical_topic: String,
    pub commit: bool,
}

impl MemberSpec {
    fn create(&self, ownership: Arc<Mutex<Ownership>>) -> Result<Member, BusError> {
        let context = MemberContext {
            ownership,
            group: self.group_id.clone(),
        };
        let mut client = client_config_with(&self.config, &consumer_sizes(&self.config));
        client
            .set("group.id", &self.group_id)
            .set(
                "enable.auto.commit",
                if self.commit { "true" } else { "false" },
            )
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("auto.commit.interval.ms", "1000")
            .set("session.timeout.ms", SESSION_TIMEOUT_MS.to_string())
            .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS)
            .set("enable.partition.eof", "false");
        // The operator's properties win over these defaults.
        for (key, value) in &self.config.properties {
            client.set(key, value);
        }
        let consumer: Member = client
            .create_with_context(context)
            .map_err(kafka_error("creating consumer"))?;
        consumer
            .subscribe(&[&self.physical_topic])
            .map_err(kafka_error(format!(
                "subscribing to {}",
                self.physical_topic
            )))?;
        Ok(consumer)
    }
}

/// The group's committed positions summed over the topic's partitions,
/// and what the topic holds beyond them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GroupProgress {
    committed: i64,
    backlog: u64,
}

/// The group's backlog on each partition of the topic.
fn partition_backlogs(
    consumer: &Member,
    physical_topic: &str,
) -> Result<Vec<PartitionBacklog>, BusError> {
    let mut backlogs = Vec::new();
    for_each_partition_position(consumer, physical_topic, |partition, position, high| {
        backlogs.push(PartitionBacklog {
            partition,
            records: (high - position).max(0) as u64,
        });
    })?;
    Ok(backlogs)
}

pub(crate) struct KafkaConsumer {
    consumer: Arc<Member>,
    spec: MemberSpec,
    ownership: Arc<Mutex<Ownership>>,
    stall_after: Duration,
    /// How long a first member given no partition waits (`None` once used).
    ///
    /// tansu gives a member that joins a one-member group whose member was
    /// SIGKILLed no partition, and makes no rebalance when the dead member's
    /// session expires (README, "Reliability on Kafka"): a restarted stage
    /// sat idle for the whole `consumer_stall_secs` (120 s by default) with
    /// its input waiting. Joining afresh once the dead member's session is
    /// over is enough. Only once per process, and never once the group's
    /// positions moved after this member joined (another member is at work:
    /// this one is a standby): a standby that joined afresh while its active
    /// member restores a large state may take the partition over, and doing
    /// that again and again could keep a restore from ever finishing.
    first_join_stall: Option<Duration>,
    /// When the group last showed progress (a record here, a committed
    /// position moving, nothing left to read).
    last_progress: Instant,
    last_check: Instant,
    last_seen: Option<GroupProgress>,
}

impl KafkaConsumer {
    pub(crate) fn open(spec: MemberSpec) -> Result<Self, BusError> {
        let ownership = Arc::new(Mutex::new(Ownership::default()));
        let consumer = spec.create(ownership.clone())?;
        let stall_after = Duration::from_secs(spec.config.consumer_stall_secs.max(1));
        let first_join_stall =
            Some(stall_after.min(session_timeout(&spec.config) + FIRST_JOIN_MARGIN));
        Ok(Self {
            consumer: Arc::new(consumer),
            spec,
            ownership,
            stall_after,
            first_join_stall,
            last_progress: Instant::now(),
            last_check: Instant::now(),
            last_seen: None,
        })
    }

    async fn progress(&self) -> Result<GroupProgress, BusError> {
        let consumer = self.consumer.clone();
        let topic = self.spec.physical_topic.clone();
        tokio::task::spawn_blocking(move || group_progress(&consumer, &topic))
            .await
            .map_err(|_| BusError::Closed)?
    }

    /// Looks at the group's progress when nothing arrived for a while, and
    /// re-creates the member when the group has been stuck too long.
    async fn watch_progress(&mut self) -> Result<(), BusError> {
        // An observer commits nothing, so its group never shows progress.
        if !self.spec.commit || self.last_check.elapsed() < PROGRESS_CHECK_EVERY {
            return Ok(());
        }
        self.last_check = Instant::now();
        match self.progress().await {
            Ok(progress) => {
                let moved = self
                    .last_seen
                    .is_some_and(|seen| seen.committed != progress.committed);
                if moved || progress.backlog == 0 {
                    self.last_progress = Instant::now();
                }
                // Another member is at work: this one is a standby, and
                // waits for the group's own rebalance like any other.
                if moved {
                    self.first_join_stall = None;
                }
                self.last_seen = Some(progress);
            }
            // The broker cannot say: no progress known, which counts
            // against the group like none made.
            Err(error) => {
                tracing::debug!(group = %self.spec.group_id, %error, "group progress unknown")
            }
        }
        if self.last_progress.elapsed() >= self.stall_limit() {
            self.first_join_stall = None;
            self.recreate()?;
        }
        Ok(())
    }

    /// How long the group may go without progress before this member is
    /// re-created.
    fn stall_limit(&self) -> Duration {
        let ever_assigned = self
            .ownership
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ever_assigned;
        match self.first_join_stall {
            Some(sooner) if !ever_assigned => sooner,
            _ => self.stall_after,
        }
    }

    fn recreate(&mut self) -> Result<(), BusError> {
        tracing::error!(group = %self.spec.group_id, topic = %self.spec.logical_topic,
            stalled_secs = self.last_progress.elapsed().as_secs(), backlog = ?self.last_seen.map(|p| p.backlog),
            "the group has made no progress while its topic has records; re-creating this member");
        metrics::counter!("newsflow_kafka_consumer_recreated_total", "group" => self.spec.group_id.clone())
            .increment(1);
        let fresh = Arc::new(self.spec.create(self.ownership.clone())?);
        let stuck = std::mem::replace(&mut self.consumer, fresh);
        // The old member's partitions are gone with it.
        {
            let mut ownership = self.ownership.lock().unwrap_or_else(|e| e.into_inner());
            ownership.generation += 1;
            ownership.partitions.clear();
            tracing::info!(group = %self.spec.group_id, partitions = ?ownership.partitions,
                generation = ownership.generation, "partitions assigned");
        }
        std::thread::spawn(move || drop(stuck));
        self.last_progress = Instant::now();
        self.last_seen = None;
        Ok(())
    }
}

/// The members' session timeout: the operator's `session.timeout.ms`, else
/// newsflow's default.
fn session_timeout(config: &KafkaConfig) -> Duration {
    let millis = config
        .properties
        .get("session.timeout.ms")
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(SESSION_TIMEOUT_MS);
    Duration::from_millis(millis)
}

/// Errors that say a broker is (still) away or a group is reforming: the
/// client reconnects and rejoins by itself.
fn is_transient(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::AllBrokersDown
                | Code::BrokerTransportFailure
                | Code::RequestTimedOut
                | Code::OperationTimedOut
                | Code::NetworkException
                | Code::BrokerNotAvailable
                | Code::LeaderNotAvailable
                | Code::NotLeaderForPartition
                | Code::CoordinatorNotAvailable
                | Code::NotCoordinator
                | Code::CoordinatorLoadInProgress
                | Code::RebalanceInProgress
                | Code::UnknownMemberId
                | Code::IllegalGeneration
                | Code::Resolve
                | Code::PollExceeded
        )
    )
}

fn group_progress(consumer: &Member, physical_topic: &str) -> Result<GroupProgress, BusError> {
    let mut progress = GroupProgress {
        committed: 0,
        backlog: 0,
    };
    for_each_partition_position(consumer, physical_topic, |_, position, high| {
        progress.committed += position;
        progress.backlog += (high - position).max(0) as u64;
    })?;
    Ok(progress)
}

/// Calls `visit(partition, committed position, high watermark)` for each
/// partition of the topic, the position of a group that committed nothing
/// yet being the earliest record (where it starts).
fn for_each_partition_position(
    consumer: &Member,
    physical_topic: &str,
    mut visit: impl FnMut(i32, i64, i64),
) -> Result<(), BusError> {
    let metadata = consumer
        .fetch_metadata(Some(physical_topic), OFFSETS_TIMEOUT)
        .map_err(kafka_error(format!("reading metadata of {physical_topic}")))?;
    let mut partitions = TopicPartitionList::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            partitions.add_partition(physical_topic, partition.id());
        }
    }
    let committed = consumer
        .committed_offsets(partitions, OFFSETS_TIMEOUT)
        .map_err(kafka_error(format!(
            "reading committed offsets on {physical_topic}"
        )))?;
    for element in committed.elements_for_topic(physical_topic) {
        let (low, high) = consumer
            .fetch_watermarks(physical_topic, element.partition(), OFFSETS_TIMEOUT)
            .map_err(kafka_error(format!(
                "reading watermarks of {physical_topic}"
            )))?;
        let position = match element.offset() {
            Offset::Offset(position) => position.max(low),
            _ => low,
        };
        visit(element.partition(), position, high);
    }
    Ok(())
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn poll(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let received = tokio::time::timeout(wait, self.consumer.recv()).await;
        match received {
            Err(_) => {
                self.watch_progress().await?;
                Ok(None)
            }
            // librdkafka recovers from these by itself, as long as it is
            // polled: the client context has logged and counted them, and
            // the caller must come straight back (a caller that backed off
            // for each of them, as the stage loop once did, left the client
            // unpolled for 30 s per queued error after a broker restart and
            // its group never formed again).
            Ok(Err(source)) if is_transient(&source) => {
                tracing::debug!(group = %self.spec.group_id, error = %source,
                    "transient consumer error; the client recovers by itself");
                self.watch_progress().await?;
                Ok(None)
            }
            Ok(Err(source)) => {
                self.watch_progress().await?;
                Err(BusError::Kafka {
                    context: format!("consuming {}", self.spec.physical_topic),
                    source,
                })
            }
            Ok(Ok(message)) => {
                self.last_progress = Instant::now();
                Ok(Some(Delivery {
                    topic: self.spec.logical_topic.clone(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: message.payload().unwrap_or_default().to_vec(),
                }))
            }
        }
    }

    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        // The stored offset names the next record to read.
        let mut positions = TopicPartitionList::new();
        positions
            .add_partition_offset(
                &self.spec.physical_topic,
                delivery.partition,
                Offset::Offset(delivery.offset + 1),
            )
            .map_err(kafka_error("building offset list"))?;
        self.consumer
            .store_offsets(&positions)
            .map_err(kafka_error(format!(
                "storing offset on {}",
                self.spec.physical_topic
            )))
    }

    async fn commit(&mut self) -> Result<(), BusError> {
        let consumer = self.consumer.clone();
        let topic = self.spec.physical_topic.clone();
        tokio::task::spawn_blocking(move || {
            match consumer.commit_consumer_state(CommitMode::Sync) {
                // Nothing stored since the last commit.
                Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
                other => other.map_err(kafka_error(format!("committing offsets on {topic}"))),
            }
        })
        .await
        .map_err(|_| BusError::Closed)?
    }

    /// What the group has not committed of the topic: the high watermark
    /// minus the committed position, summed over partitions.
    async fn backlog(&mut self) -> Result<Option<u64>, BusError> {
        Ok(Some(self.progress().await?.backlog))
    }

    /// Read off the async threads: the client blocks on the broker.
    async fn partition_backlog(&mut self) -> Result<Option<Vec<PartitionBacklog>>, BusError> {
        let consumer = self.consumer.clone();
        let topic = self.spec.physical_topic.clone();
        tokio::task::spawn_blocking(move || partition_backlogs(&consumer, &topic))
            .await
            .map_err(|_| BusError::Closed)?
            .map(Some)
    }

    fn assignment(&self) -> Option<Assignment> {
        let ownership = self.ownership.lock().unwrap_or_else(|e| e.into_inner());
        Some(Assignment {
            generation: ownership.generation,
            partitions: ownership.partitions.clone(),
        })
    }
}
