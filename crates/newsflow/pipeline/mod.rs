//! Wires stage runners to the bus. The only place that knows both.

mod cleaner_handler;
mod cluster_changelog;
mod cluster_handler;
mod dedup_handler;
mod events_file;
mod feed_reload;
mod fetch_sink;
mod idle;
mod operator_http;
pub mod shutdown;
pub mod stage_loop;
mod websub_endpoint;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use newsflow_bus::{Bus, BusKind, EmbeddedBus, KafkaBus, TopicKind};
use newsflow_fetcher::{FeedSource, Fetcher};
use newsflow_model::topics;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::StageName;
use crate::settings::Settings;
use stage_loop::{run_stage, HandleError, StageHandler};

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
    (topics::CLUSTERER_CHANGELOG, TopicKind::StateLog),
];
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
    /// On Kafka, where a stage with lost state replays its processed input.
    history: Option<KafkaBus>,
}

impl RunningStages {
    /// A stateful stage whose local state is empty (first start, or a new
    /// machine) replays what its group already processed, so its state
    /// matches the committed positions it resumes from: dedup's way back.
    /// The clusterer restores from its changelog before this, and comes here
    /// only when that held nothing while its group had committed input (a
    /// deployment from before the changelog; what this replay logs is then
    /// published to the changelog). The embedded bus keeps stage state
    /// beside its log, so there is nothing to rebuild.
    async fn rebuild<H: StageHandler>(
        &self,
        handler: &mut H,
        group: &str,
        topic: &'static str,
    ) -> anyhow::Result<()> {
        let Some(kafka) = self.history.clone() else {
            return Ok(());
        };
        let group_name = group.to_string();
        let history =
            tokio::task::spawn_blocking(move || kafka.committed_history(&group_name, topic))
                .await
                .context("reading committed history")??;
        if let Some(history) = history {
            let replayed = stage_loop::rebuild_from_history(handler, history)
                .await
                .map_err(|e| anyhow::anyhow!("rebuilding {} state: {e}", handler.name()))?;
            tracing::info!(
                stage = handler.name(),
                topic,
                replayed,
                "state rebuilt from committed input"
            );
        }
        Ok(())
    }

    /// Joins `group` on `topic` and runs `handler` over it, after rebuilding
    /// the handler's state if it lost it.
    async fn start<H: StageHandler + 'static>(
        &mut self,
        mut handler: H,
        group: &str,
        topic: &'static str,
    ) -> anyhow::Result<()> {
        if handler.lacks_state() {
            self.rebuild(&mut handler, group, topic).await?;
        }
        let consumer = self.bus.consumer(group, topic).await?;
        self.tasks.spawn(run_stage(
            handler,
            consumer,
            self.producer.clone(),
            self.shutdown.child_token(),
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
    let opened = open_bus(settings).await?;
    let bus = opened.bus.clone();
    let producer = bus.producer().await?;
    let groups = &settings.topics;
    let stages_shutdown = CancellationToken::new();
    if let Some(listen) = options.operator_listen {
        let metrics = operator_http::install_recorder()?;
        let token = stages_shutdown.child_token();
        tokio::spawn(async move {
            if let Err(error) = operator_http::serve(listen, metrics, token).await {
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
        history: opened.kafka.clone(),
    };

    // Consumers join before the fetcher starts, so the embedded bus keeps
    // every record for them from the first one on.
    if options.stages.contains(&StageName::Cleaner) {
        let handler = cleaner_handler::CleanerHandler {
            config: settings.cleaner.clone(),
        };
        stages
            .start(handler, &groups.cleaner_group, topics::RAW)
            .await?;
    }
    if options.stages.contains(&StageName::Dedup) {
        let path = settings.data_dir.join("dedup.db");
        let stage = newsflow_dedup::DedupStage::open(&path, settings.dedup.clone())
            .with_context(|| format!("opening dedup state {}", path.display()))?;
        let handler = dedup_handler::DedupHandler { stage };
        stages
            .start(handler, &groups.dedup_group, topics::ARTICLES)
            .await?;
    }
    if options.stages.contains(&StageName::Clusterer) {
        let path = settings.data_dir.join("clusterer.db");
        let mut stage = newsflow_clusterer::ClusterStage::open(&path, settings.clusterer.clone())
            .with_context(|| format!("opening clusterer state {}", path.display()))?;
        if let (Some(kafka), true) = (&opened.kafka, stage.is_empty()) {
            restore_clusterer(kafka, &mut stage).await?;
        }
        let handler = cluster_handler::ClusterHandler {
            stage,
            latest_story_time: None,
            changelog: opened
                .kafka
                .is_some()
                .then(cluster_changelog::ChangelogOutbox::default),
        };
        stages
            .start(handler, &groups.clusterer_group, topics::UNIQUE)
            .await?;
    }
    if let Some(path) = options.events_out.clone() {
        let handler = events_file::EventsFileHandler::open(path.clone())
            .with_context(|| format!("opening {}", path.display()))?;
        stages
            .start(handler, EVENTS_FILE_GROUP, topics::EVENTS)
            .await?;
    }

    let fetcher = if options.stages.contains(&StageName::Fetcher) {
        let path = settings.data_dir.join("fetcher.db");
        Some(Arc::new(
            Fetcher::open(&path, settings.fetcher.clone())
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
        if let Some(fetcher) = &fetcher {
            let summary = tokio::select! {
                summary = fetcher.poll_once(&options.feeds, sink.as_ref()) => Some(summary),
                _ = shutdown.cancelled() => None,
            };
            tracing::info!(?summary, "poll pass finished");
        }
        if let Some(embedded) = &opened.embedded {
            tokio::select! {
                drained = idle::wait_until_drained(embedded, &stages.groups, &mut stages.tasks) => drained?,
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

/// Gives a clusterer without local state the state its changelog holds.
async fn restore_clusterer(
    kafka: &KafkaBus,
    stage: &mut newsflow_clusterer::ClusterStage,
) -> anyhow::Result<()> {
    let summary = cluster_changelog::restore(kafka, stage).await?;
    if summary.operations == 0 {
        tracing::info!(
            unreadable = summary.unreadable,
            "the clusterer changelog holds no operations: nothing to restore from it"
        );
        return Ok(());
    }
    tracing::info!(
        operations = summary.operations,
        duplicates = summary.duplicates,
        unreadable = summary.unreadable,
        missing = summary.missing,
        "clusterer state restored from the changelog"
    );
    Ok(())
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
