//! What each consuming stage last achieved, recorded by wrapping its
//! consumer: an acknowledged input, or an input found empty, is progress;
//! an input in hand, or records waiting, is a backlog. The stall watcher
//! judges from this board, on either bus, without the stage loop knowing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use newsflow_bus::{BusError, Consumer, Delivery, PartitionBacklog};

use super::internal_events::ConsumerLagMeasured;

/// How often a stage's backlog is read again from the bus, busy or idle,
/// and never more often: on Kafka a read is four requests to the broker
/// (metadata, committed offsets, both watermarks) that the stage waits for.
/// Read at every empty poll and at every input after an idle spell, as
/// it once was, it cost each input at a trickle ~40 ms on tansu before the
/// stage saw it (the whole-pipeline bench: page to event p50 141-144 ms,
/// 96-100 ms without). The stall verdict is taken over minutes, so a
/// backlog a second old (counted down by each ack meanwhile) serves it.
const BACKLOG_REFRESH: Duration = Duration::from_secs(1);

/// Every watched stage of this process.
#[derive(Default)]
pub struct ProgressBoard {
    stages: Mutex<Vec<Arc<StageProgress>>>,
}

/// One stage's progress record.
pub struct StageProgress {
    pub stage: &'static str,
    pub group: String,
    pub topic: String,
    state: Mutex<ProgressState>,
}

struct ProgressState {
    /// The last ack, or the last time the input was seen empty.
    last_progress: Instant,
    /// Records waiting for the stage, as the bus last told (`None`: the bus
    /// cannot tell, as Kafka today).
    backlog: Option<u64>,
    backlog_read: Option<Instant>,
    /// An input was handed to the stage and not yet acknowledged.
    in_hand: bool,
}

/// A stage that made no progress for too long while it had work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    pub stage: &'static str,
    pub group: String,
    pub topic: String,
    /// Records waiting, at least 1 when an input is in hand; `None` when
    /// the bus cannot tell and the verdict rests on an input in hand.
    pub backlog: Option<u64>,
    pub for_secs: u64,
}

impl std::fmt::Display for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stage {} (group {}, topic {}) stalled: no progress for {} s with ",
            self.stage, self.group, self.topic, self.for_secs
        )?;
        match self.backlog {
            Some(backlog) => write!(f, "a backlog of {backlog}"),
            None => write!(f, "an input in hand"),
        }
    }
}

impl ProgressBoard {
    /// Starts watching a stage; its clock starts now.
    pub fn register(&self, stage: &'static str, group: &str, topic: &str) -> Arc<StageProgress> {
        let progress = Arc::new(StageProgress {
            stage,
            group: group.to_string(),
            topic: topic.to_string(),
            state: Mutex::new(ProgressState {
                last_progress: Instant::now(),
                backlog: None,
                backlog_read: None,
                in_hand: false,
            }),
        });
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(progress.clone());
        progress
    }

    /// The stages that had work and made no progress for `after` or more.
    pub fn stalled(&self, now: Instant, after: Duration) -> Vec<Stall> {
        let stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        stages
            .iter()
            .filter_map(|progress| progress.stall(now, after))
            .collect()
    }
}

impl StageProgress {
    fn stall(&self, now: Instant, after: Duration) -> Option<Stall> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let waiting = state.backlog.unwrap_or(0);
        let has_work = state.in_hand || waiting > 0;
        let idle_for = now.saturating_duration_since(state.last_progress);
        (has_work && idle_for >= after).then(|| Stall {
            stage: self.stage,
            group: self.group.clone(),
            topic: self.topic.clone(),
            backlog: state
                .backlog
                .map(|backlog| backlog.max(u64::from(state.in_hand))),
            for_secs: idle_for.as_secs(),
        })
    }

    fn update(&self, f: impl FnOnce(&mut ProgressState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn backlog_due(&self, now: Instant) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .backlog_read
            .is_none_or(|read| now.saturating_duration_since(read) >= BACKLOG_REFRESH)
    }

    fn record_backlog(&self, backlog: Option<u64>, now: Instant) {
        self.update(|state| {
            state.backlog = backlog;
            state.backlog_read = Some(now);
            // Nothing waiting and nothing in hand: an idle stage is not a
            // stalled one, so its clock starts again from here.
            if backlog == Some(0) && !state.in_hand {
                state.last_progress = now;
            }
        });
    }

    /// The stage took an input: work that begins after an idle spell
    /// starts its clock now, not when the stage last acknowledged.
    fn took_input(&self, now: Instant) {
        self.update(|state| {
            if !state.in_hand && state.backlog.unwrap_or(0) == 0 {
                state.last_progress = now;
            }
            state.in_hand = true;
        });
    }

    /// The stage asked for input and got none: nothing in hand. Where the
    /// bus cannot tell a backlog, an empty poll is all there is to go by,
    /// and counts as idle.
    fn found_nothing(&self, now: Instant) {
        self.update(|state| {
            state.in_hand = false;
            if state.backlog.is_none() {
                state.last_progress = now;
            }
        });
    }
}

/// A consumer that reports what happens through it to a progress record.
pub struct WatchedConsumer {
    inner: Box<dyn Consumer>,
    progress: Arc<StageProgress>,
}

impl WatchedConsumer {
    pub fn wrap(inner: Box<dyn Consumer>, progress: Arc<StageProgress>) -> Box<dyn Consumer> {
        Box::new(Self { inner, progress })
    }

    async fn refresh_backlog(&mut self) {
        let now = Instant::now();
        if !self.progress.backlog_due(now) {
            return;
        }
        match self.inner.partition_backlog().await {
            Ok(partitions) => {
                let backlog = partitions.map(|partitions| {
                    for backlog in &partitions {
                        ConsumerLagMeasured {
                            stage: self.progress.stage,
                            topic: &self.progress.topic,
                            partition: backlog.partition,
                            lag: backlog.records,
                        }
                        .emit();
                    }
                    partitions.iter().map(|p| p.records).sum()
                });
                self.progress.record_backlog(backlog, now)
            }
            Err(error) => {
                tracing::debug!(stage = self.progress.stage, %error, "reading the backlog failed")
            }
        }
    }
}

#[async_trait]
impl Consumer for WatchedConsumer {
    async fn poll(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let polled = self.inner.poll(wait).await;
        match &polled {
            Ok(Some(_)) => {
                self.progress.took_input(Instant::now());
                self.refresh_backlog().await;
            }
            Ok(None) => {
                // Nothing in hand once the stage asks for more and gets
                // nothing; then the backlog says whether it is idle.
                self.progress.found_nothing(Instant::now());
                self.refresh_backlog().await;
            }
            Err(_) => {}
        }
        polled
    }

    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        self.inner.ack(delivery)?;
        let now = Instant::now();
        self.progress.update(|state| {
            state.in_hand = false;
            state.last_progress = now;
            state.backlog = state.backlog.map(|b| b.saturating_sub(1));
        });
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), BusError> {
        self.inner.commit().await
    }

    async fn backlog(&mut self) -> Result<Option<u64>, BusError> {
        let backlog = self.inner.backlog().await?;
        self.progress.record_backlog(backlog, Instant::now());
        Ok(backlog)
    }

    async fn partition_backlog(&mut self) -> Result<Option<Vec<PartitionBacklog>>, BusError> {
        self.inner.partition_backlog().await
    }

    fn assignment(&self) -> Option<newsflow_bus::Assignment> {
        self.inner.assignment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A consumer over a fixed backlog, counting how often it is asked
    /// for it.
    #[derive(Default)]
    struct Scripted {
        waiting: u64,
        backlog_known: bool,
        backlog_reads: Arc<std::sync::atomic::AtomicUsize>,
    }

    #[async_trait]
    impl Consumer for Scripted {
        async fn poll(&mut self, _wait: Duration) -> Result<Option<Delivery>, BusError> {
            Ok((self.waiting > 0).then(|| Delivery {
                topic: "t".into(),
                partition: 0,
                offset: 0,
                key: None,
                payload: Vec::new(),
            }))
        }
        fn ack(&mut self, _delivery: &Delivery) -> Result<(), BusError> {
            self.waiting -= 1;
            Ok(())
        }
        async fn commit(&mut self) -> Result<(), BusError> {
            Ok(())
        }
        async fn backlog(&mut self) -> Result<Option<u64>, BusError> {
            self.backlog_reads
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.backlog_known.then_some(self.waiting))
        }
    }

    fn watched(board: &ProgressBoard, waiting: u64, backlog_known: bool) -> Box<dyn Consumer> {
        WatchedConsumer::wrap(
            Box::new(Scripted {
                waiting,
                backlog_known,
                ..Scripted::default()
            }),
            board.register("cleaner", "cleaner", "raw"),
        )
    }

    const AFTER: Duration = Duration::from_secs(5);

    /// A Kafka-like consumer: two partitions, owned by this member.
    struct Partitioned;

    #[async_trait]
    impl Consumer for Partitioned {
        async fn poll(&mut self, _wait: Duration) -> Result<Option<Delivery>, BusError> {
            Ok(None)
        }
        fn ack(&mut self, _delivery: &Delivery) -> Result<(), BusError> {
            Ok(())
        }
        async fn commit(&mut self) -> Result<(), BusError> {
            Ok(())
        }
        async fn backlog(&mut self) -> Result<Option<u64>, BusError> {
            Ok(Some(7))
        }
        async fn partition_backlog(&mut self) -> Result<Option<Vec<PartitionBacklog>>, BusError> {
            Ok(Some(vec![
                PartitionBacklog {
                    partition: 0,
                    records: 3,
                },
                PartitionBacklog {
                    partition: 1,
                    records: 4,
                },
            ]))
        }
        fn assignment(&self) -> Option<newsflow_bus::Assignment> {
            Some(newsflow_bus::Assignment {
                generation: 2,
                partitions: vec![0, 1],
            })
        }
    }

    #[tokio::test]
    async fn the_watch_passes_on_the_assignment_and_the_backlog_per_partition() {
        let board = ProgressBoard::default();
        let progress = board.register("dedup", "dedup", "articles");
        let mut consumer = WatchedConsumer::wrap(Box::new(Partitioned), progress.clone());
        // The stage loop restores state by the assignment it sees.
        assert_eq!(consumer.assignment().unwrap().partitions, vec![0, 1]);
        let partitions = consumer.partition_backlog().await.unwrap().unwrap();
        assert_eq!(partitions.len(), 2);
        // An empty poll reads the backlog: the board holds their sum.
        assert!(consumer.poll(AFTER).await.unwrap().is_none());
        let stalls = board.stalled(Instant::now() + AFTER, AFTER);
        assert_eq!(stalls.len(), 1);
        assert_eq!(stalls[0].backlog, Some(7));
    }

    #[tokio::test]
    async fn a_stage_holding_an_input_without_progress_is_stalled_and_recovers_on_ack() {
        let board = ProgressBoard::default();
        let mut consumer = watched(&board, 3, true);
        let delivery = consumer.poll(AFTER).await.unwrap().unwrap();
        let later = Instant::now() + AFTER;
        let stalls = board.stalled(later, AFTER);
        assert_eq!(stalls.len(), 1);
        assert_eq!(stalls[0].backlog, Some(3));
        assert!(stalls[0]
            .to_string()
            .contains("stage cleaner (group cleaner, topic raw)"));
        consumer.ack(&delivery).unwrap();
        assert!(board.stalled(Instant::now() + AFTER / 2, AFTER).is_empty());
    }

    #[tokio::test]
    async fn an_idle_stage_is_never_stalled() {
        let board = ProgressBoard::default();
        let mut consumer = watched(&board, 0, true);
        assert!(consumer.poll(AFTER).await.unwrap().is_none());
        assert!(board.stalled(Instant::now() + AFTER * 10, AFTER).is_empty());
    }

    #[tokio::test]
    async fn without_a_backlog_from_the_bus_an_input_held_too_long_is_still_a_stall() {
        let board = ProgressBoard::default();
        let mut consumer = watched(&board, 1, false);
        consumer.poll(AFTER).await.unwrap().unwrap();
        let stalls = board.stalled(Instant::now() + AFTER, AFTER);
        assert_eq!(stalls.len(), 1);
        assert_eq!(stalls[0].backlog, None);
        assert!(stalls[0].to_string().ends_with("an input in hand"));
    }

    #[tokio::test]
    async fn a_stage_that_keeps_acknowledging_is_not_stalled_however_long_its_backlog() {
        let board = ProgressBoard::default();
        let mut consumer = watched(&board, 100, true);
        for _ in 0..10 {
            let delivery = consumer.poll(AFTER).await.unwrap().unwrap();
            consumer.ack(&delivery).unwrap();
        }
        assert!(board.stalled(Instant::now() + AFTER / 2, AFTER).is_empty());
        assert_eq!(board.stalled(Instant::now() + AFTER * 2, AFTER).len(), 1);
    }

    #[tokio::test]
    async fn empty_polls_read_the_backlog_once_per_refresh_not_each_time() {
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let board = ProgressBoard::default();
        let progress = board.register("dedup", "dedup", "articles");
        let empty = Scripted {
            backlog_known: true,
            backlog_reads: reads.clone(),
            ..Scripted::default()
        };
        let mut consumer = WatchedConsumer::wrap(Box::new(empty), progress.clone());
        for _ in 0..50 {
            assert!(consumer.poll(Duration::ZERO).await.unwrap().is_none());
        }
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        progress.update(|state| state.backlog_read = Some(Instant::now() - BACKLOG_REFRESH));
        consumer.poll(Duration::ZERO).await.unwrap();
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_input_after_an_idle_spell_does_not_wait_for_a_backlog_read() {
        let board = ProgressBoard::default();
        let progress = board.register("cleaner", "cleaner", "raw");
        let mut consumer = WatchedConsumer::wrap(
            Box::new(Scripted {
                waiting: 1,
                backlog_known: true,
                ..Scripted::default()
            }),
            progress.clone(),
        );
        let read_at = Instant::now();
        progress.update(|state| state.backlog_read = Some(read_at));
        consumer.poll(AFTER).await.unwrap().unwrap();
        let state = progress.state.lock().unwrap();
        assert_eq!(
            state.backlog_read,
            Some(read_at),
            "the backlog was read again"
        );
        assert!(state.in_hand);
    }

    #[tokio::test]
    async fn work_taken_after_an_idle_spell_starts_its_clock_then() {
        let board = ProgressBoard::default();
        let progress = board.register("dedup", "dedup", "articles");
        let long_ago = Instant::now() - AFTER * 10;
        progress.update(|state| state.last_progress = long_ago);
        progress.took_input(Instant::now());
        assert!(board.stalled(Instant::now(), AFTER).is_empty());
        assert_eq!(board.stalled(Instant::now() + AFTER, AFTER).len(), 1);
    }
}
