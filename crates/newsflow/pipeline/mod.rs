//! Wires stage runners to the bus. The only place that knows both.

mod cleaner_handler;
mod cluster_changelog;
mod cluster_handler;
mod dead_letters;
mod dedup_handler;
mod events_file;
mod feed_reload;
mod fetch_sink;
mod idle;
pub mod internal_events;
mod message_limits;
mod operator_http;
mod progress;
mod readiness;
pub mod shutdown;
pub mod stage_loop;
mod stall_watch;
#[cfg(test)]
mod stateful_recovery_tests;
mod websub_endpoint;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use newsflow_bus::{Bus, BusKind, EmbeddedBus, KafkaBus, TopicKind};
use newsflow_fetcher::{FeedSource, Fetcher, RawPageCompression};
use newsflow_model::topics;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::StageName;
use crate::data_dir_lock::DataDirLock;
use crate::settings::Settings;
use progress::{ProgressBoard, WatchedConsumer};
use readiness::{BusProbe, Readiness};
use stage_loop::{run_stage, HandleError, StageHandler, StateRestore};

/// Topics whose consumers want only the newest record per key.
pub const COMPACTED_TOPICS: &[&str] = &[topics::EVENTS];
/// Every topic on Kafka: the streams between stages, and the logs that hold
/// a stage's state where its data directory alone does not.
const KAFKA_TOPICS: &[(&str, TopicKind)] = &[
    (topics::RAW, TopicKind::Stream),
    (topics::ARTICLES, TopicKind::Stream),
    (topics::UNIQUE, TopicKind::Stream),
    (topics::DUPLICATES, TopicKind::Stream),
    (topics::EVENTS, TopicKind::Compacted),
    (topics::DEAD_LETTERS, TopicKind::DeadLetters),
    (DEAD_LETTERS_REPLAYED, TopicKind::DeadLetters),
    (topics::CLUSTERER_CHANGELOG, TopicKind::StateTable),
    (topics::DEDUP_CHANGELOG, TopicKind::StateTable),
];
/// Which dead letters `newsflow dead-letters replay` re-injected already,
/// one record per letter, so a second replay skips them.
pub const DEAD_LETTERS_REPLAYED: &str = "dead-letters-replayed";
const EVENTS_FILE_GROUP: &str = "events-out";

pub struct PipelineOptions {
    pub stages: Vec<StageName>,
    pub feeds: Vec<FeedSource>,
    /// The file `feeds` came from: re-read on SIGHUP.
    pub feeds_path: Option<PathBuf>,
    pub events_out: Option<PathBuf>,
    pub until_idle: bool,
    /// Where to serve `/metrics` and `/health`, if anywhere.
    pub operator_listen: Option<std::net::SocketAddr>,
    /// Where to serve the WebSub callback (with `fetcher.websub_callback_url`).
    pub websub_listen: Option<std::net::SocketAddr>,
    /// On Kafka, start stateful stages even from an incomplete restore.
    pub accept_incomplete_restore: bool,
}

/// The bus as configured, with the concrete embedded handle kept when there
/// is one (idle detection reads its positions).
pub struct OpenedBus {
    pub bus: Arc<dyn Bus>,
    pub embedded: Option<EmbeddedBus>,
    pub kafka: Option<KafkaBus>,
}

pub async fn open_bus(settings: &Settings) -> anyhow::Result<OpenedBus> {
    match settings.bus.kind {
        BusKind::Embedded => {
            settings.ensure_data_dir()?;
            let bus =
                EmbeddedBus::open(&settings.data_dir, &settings.bus.embedded, COMPACTED_TOPICS)
                    .context("opening the embedded bus")?;
            Ok(OpenedBus {
                bus: Arc::new(bus.clone()),
                embedded: Some(bus),
                kafka: None,
            })
        }
        BusKind::Kafka => {
            let bus =
                KafkaBus::connect(settings.bus.kafka.clone()).context("connecting to Kafka")?;
            bus.ensure_topics(KAFKA_TOPICS)
                .await
                .context("creating topics")?;
            Ok(OpenedBus {
                bus: Arc::new(bus.clone()),
                embedded: None,
                kafka: Some(bus),
            })
        }
    }
}

/// The consuming stages started so far, and what idle detection watches.
struct RunningStages {
    bus: Arc<dyn Bus>,
    producer: Arc<dyn newsflow_bus::Producer>,
    shutdown: CancellationToken,
    tasks: JoinSet<Result<(), HandleError>>,
    /// (consumer group, topic) of every started stage.
    groups: Vec<(String, &'static str)>,
    /// Each stage's progress, for the stall watcher.
    progress: Arc<ProgressBoard>,
}

impl RunningStages {
    /// Joins `group` on `topic` and runs `handler` over it; with `restore`
    /// (stateful stages on Kafka), the handler's state is restored each
    /// time this member is given partitions, before it processes them.
    async fn start<H: StageHandler + 'static>(
        &mut self,
        handler: H,
        group: &str,
        topic: &'static str,
        restore: Option<Box<dyn StateRestore<H>>>,
    ) -> anyhow::Result<()> {
        let consumer = WatchedConsumer::wrap(
            self.bus.consumer(group, topic).await?,
            self.progress.register(handler.name(), group, topic),
        );
        self.tasks.spawn(run_stage(
            handler,
            consumer,
            self.producer.clone(),
            self.shutdown.child_token(),
            restore,
        ));
        self.groups.push((group.to_string(), topic));
        Ok(())
    }
}

/// Runs the chosen stages until `shutdown` is cancelled (or, with
/// `until_idle`, until every feed was polled once and the stages drained).
pub async fn run(
    settings: &Settings,
    options: PipelineOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    settings.ensure_data_dir()?;
    let _lock = uses_data_dir(settings, &options.stages)
        .then(|| DataDirLock::acquire(&settings.data_dir))
        .transpose()?;
    let opened = open_bus(settings).await?;
    let bus = opened.bus.clone();
    let producer = bus.producer().await?;
    let groups = &settings.topics;
    let stages_shutdown = CancellationToken::new();
    let progress = Arc::new(ProgressBoard::default());
    let readiness = Arc::new(Readiness::new(match (&opened.embedded, &opened.kafka) {
        (Some(embedded), _) => BusProbe::Embedded(embedded.clone()),
        (None, Some(kafka)) => BusProbe::Kafka(kafka.clone()),
        (None, None) => anyhow::bail!("no bus opened"),
    }));
    let stall_after = Duration::from_secs(settings.readiness.stall_after_secs.max(1));
    if let Some(listen) = options.operator_listen {
        let metrics = operator_http::install_recorder()?;
        let token = stages_shutdown.child_token();
        let readiness = readiness.clone();
        tokio::spawn(async move {
            if let Err(error) = operator_http::serve(listen, metrics, readiness, token).await {
                tracing::error!(%error, "operator endpoint stopped");
            }
        });
    }
    let mut stages = RunningStages {
        bus: bus.clone(),
        producer: producer.clone(),
        shutdown: stages_shutdown.clone(),
        tasks: JoinSet::new(),
        groups: Vec::new(),
        progress: progress.clone(),
    };

    // Consumers join before the fetcher starts, so the embedded bus keeps
    // every record for them from the first one on.
    if options.stages.contains(&StageName::Cleaner) {
        let handler = cleaner_handler::CleanerHandler {
            config: settings.cleaner.clone(),
        };
        stages
            .start(handler, &groups.cleaner_group, topics::RAW, None)
            .await?;
    }
    if options.stages.contains(&StageName::Dedup) {
        let path = settings.data_dir.join("dedup.db");
        let handler = dedup_handler::DedupHandler::open(path.clone(), settings.dedup.clone())
            .with_context(|| format!("opening dedup state {}", path.display()))?;
        let restore = opened.kafka.clone().map(|kafka| {
            Box::new(dedup_handler::DedupChangelogRestore {
                kafka,
                group: groups.dedup_group.clone(),
                accept_incomplete: options.accept_incomplete_restore,
            }) as Box<dyn StateRestore<_>>
        });
        stages
            .start(handler, &groups.dedup_group, topics::ARTICLES, restore)
            .await?;
    }
    if options.stages.contains(&StageName::Clusterer) {
        let path = settings.data_dir.join("clusterer.db");
        let handler = cluster_handler::ClusterHandler::open(
            path.clone(),
            settings.clusterer.clone(),
            opened.kafka.is_some(),
        )
        .with_context(|| format!("opening clusterer state {}", path.display()))?;
        let restore = opened.kafka.clone().map(|kafka| {
            Box::new(cluster_changelog::ClusterRestore {
                kafka,
                group: groups.clusterer_group.clone(),
                accept_incomplete: options.accept_incomplete_restore,
            }) as Box<dyn StateRestore<_>>
        });
        stages
            .start(handler, &groups.clusterer_group, topics::UNIQUE, restore)
            .await?;
    }
    if let Some(path) = options.events_out.clone() {
        let handler = events_file::EventsFileHandler::open(path.clone())
            .with_context(|| format!("opening {}", path.display()))?;
        stages
            .start(handler, EVENTS_FILE_GROUP, topics::EVENTS, None)
            .await?;
    }

    // Every consuming stage has joined: retention may now tell what they
    // still need, and readiness no longer waits for them.
    if let Some(embedded) = &opened.embedded {
        tokio::spawn(maintain_embedded(
            embedded.clone(),
            Duration::from_millis(settings.bus.embedded.maintenance_interval_ms.max(100)),
            stages_shutdown.child_token(),
        ));
    }
    tokio::spawn(stall_watch::watch(
        progress.clone(),
        readiness.clone(),
        stall_after,
        stages_shutdown.child_token(),
    ));
    readiness.mark_started();

    let fetcher = if options.stages.contains(&StageName::Fetcher) {
        let (limit, limit_key) = match settings.bus.kind {
            BusKind::Embedded => (
                settings.bus.embedded.max_message_bytes,
                "bus.embedded.max_message_bytes",
            ),
            BusKind::Kafka => (
                settings.bus.kafka.max_message_bytes,
                "bus.kafka.max_message_bytes",
            ),
        };
        message_limits::warn_if_inconsistent(
            settings.fetcher.max_body_bytes,
            limit as u64,
            limit_key,
        );
        let path = settings.data_dir.join("fetcher.db");
        Some(Arc::new(
            Fetcher::open(&path, fetcher_config(settings))
                .with_context(|| format!("opening fetcher state {}", path.display()))?,
        ))
    } else {
        None
    };
    let sink = Arc::new(fetch_sink::BusPageSink {
        producer: producer.clone(),
    });
    if let (Some(fetcher), Some(callback_url)) = (
        fetcher.clone(),
        settings.fetcher.websub_callback_url.clone(),
    ) {
        let listen = options
            .websub_listen
            .context("fetcher.websub_callback_url is set but websub_listen is not")?;
        let sink: Arc<dyn newsflow_fetcher::PageSink> = sink.clone();
        let token = stages_shutdown.child_token();
        tokio::spawn(async move {
            if let Err(error) =
                websub_endpoint::serve(listen, &callback_url, fetcher, sink, token).await
            {
                tracing::error!(%error, "WebSub callback endpoint stopped");
            }
        });
    }

    if options.until_idle {
        // A stalled stage would keep a run that must finish waiting for
        // ever: it ends the run with the stall as its error instead.
        let stalled = stall_watch::first_stall(progress.clone(), stall_after);
        tokio::pin!(stalled);
        if let Some(fetcher) = &fetcher {
            let summary = tokio::select! {
                summary = fetcher.poll_once(&options.feeds, sink.as_ref()) => Some(summary),
                stalls = &mut stalled => return Err(stalled_error(stalls)),
                _ = shutdown.cancelled() => None,
            };
            tracing::info!(?summary, "poll pass finished");
        }
        if let Some(embedded) = &opened.embedded {
            tokio::select! {
                drained = idle::wait_until_drained(embedded, &stages.groups, &mut stages.tasks) => drained?,
                stalls = &mut stalled => return Err(stalled_error(stalls)),
                _ = shutdown.cancelled() => {}
            }
        } else if options.stages.iter().any(|s| *s != StageName::Fetcher) {
            anyhow::bail!("--until-idle drains consuming stages only on the embedded bus");
        }
    } else {
        if let Some(fetcher) = fetcher.clone() {
            let feeds = options.feeds.clone();
            let list = options.feeds_path.clone();
            let token = stages_shutdown.child_token();
            stages.tasks.spawn(async move {
                feed_reload::run_fetcher(fetcher, feeds, list, sink, token).await;
                Ok(())
            });
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            Some(finished) = stages.tasks.join_next() => {
                stages_shutdown.cancel();
                report_stage_end(finished)?;
            }
        }
    }
    stages_shutdown.cancel();
    let mut outcome = Ok(());
    while let Some(finished) = stages.tasks.join_next().await {
        if let Err(error) = report_stage_end(finished) {
            outcome = Err(error);
        }
    }
    outcome
}

/// Whether this process keeps state in the data directory (and so must be
/// its only user): the embedded bus, or a stage with a database there.
fn uses_data_dir(settings: &Settings, stages: &[StageName]) -> bool {
    settings.bus.kind == BusKind::Embedded
        || stages.iter().any(|s| {
            matches!(
                s,
                StageName::Fetcher | StageName::Dedup | StageName::Clusterer
            )
        })
}

/// Applies the embedded bus's retention and group expiry periodically.
async fn maintain_embedded(bus: EmbeddedBus, every: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let bus = bus.clone();
        match tokio::task::spawn_blocking(move || bus.maintain()).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "embedded bus maintenance failed"),
            Err(join) => tracing::error!(%join, "embedded bus maintenance crashed"),
        }
    }
}

fn stalled_error(stalls: Vec<progress::Stall>) -> anyhow::Error {
    let described: Vec<String> = stalls.iter().map(ToString::to_string).collect();
    anyhow::anyhow!(
        "the pipeline cannot finish: {} (readiness.stall_after_secs)",
        described.join("; ")
    )
}

fn report_stage_end(
    finished: Result<Result<(), HandleError>, tokio::task::JoinError>,
) -> anyhow::Result<()> {
    match finished {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(anyhow::anyhow!("a stage stopped: {error}")),
        Err(join) => Err(anyhow::anyhow!("a stage crashed: {join}")),
    }
}

/// The fetcher's settings with `page_compression` decided for the bus when
/// the operator left it unset: compressed on the embedded bus, whose only
/// reader of `raw` is this binary; as served on Kafka, where others may
/// read `raw`.
fn fetcher_config(settings: &Settings) -> newsflow_fetcher::FetcherConfig {
    let mut config = settings.fetcher.clone();
    config
        .page_compression
        .get_or_insert(match settings.bus.kind {
            BusKind::Embedded => RawPageCompression::Zstd,
            BusKind::Kafka => RawPageCompression::None,
        });
    config
}

#[cfg(test)]
mod fetcher_config_tests {
    use super::*;

    #[test]
    fn pages_are_compressed_by_default_on_the_embedded_bus_only() {
        let mut settings = Settings::default();
        assert_eq!(settings.bus.kind, BusKind::Embedded);
        let compression = |s: &Settings| fetcher_config(s).page_compression;
        assert_eq!(compression(&settings), Some(RawPageCompression::Zstd));
        settings.bus.kind = BusKind::Kafka;
        assert_eq!(compression(&settings), Some(RawPageCompression::None));
        for chosen in [RawPageCompression::None, RawPageCompression::Zstd] {
            settings.fetcher.page_compression = Some(chosen);
            for kind in [BusKind::Embedded, BusKind::Kafka] {
                settings.bus.kind = kind;
                assert_eq!(compression(&settings), Some(chosen), "{kind:?}");
            }
        }
    }
}
