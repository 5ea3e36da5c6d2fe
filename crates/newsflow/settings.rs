//! Layered configuration: built-in defaults, then a TOML file, then
//! `NEWSFLOW_*` environment variables (`__` separates levels, e.g.
//! `NEWSFLOW_BUS__KAFKA__BROKERS`), then command-line flags. A key no layer
//! may set (a typo, a misplaced section) is refused before anything runs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use newsflow_bus::{BusConfig, BusKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cli::{BusChoice, ConfigArgs};
use crate::config_keys::{self, KnownKeys, REPORTED_UNKNOWN_KEYS};

/// The file read when no `--config` is given and it exists.
pub const DEFAULT_CONFIG_FILE: &str = "config/newsflow.toml";

/// Prefix of the environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "NEWSFLOW_";

/// `NEWSFLOW_*` variables that are not configuration keys: the file to read,
/// the log filter, and the knobs of the project's own benches and tests
/// (set in a developer's shell, they must not stop the binary).
pub const ENV_NOT_KEYS: &[&str] = &[
    "config",
    "log",
    "bench_dir",
    "extraction_bench",
    "clusterer_config",
    "cleaner_rss_child",
    "throughput_sizes",
    "crash_seed",
    "chaos_faults",
    "pipeline_pages",
];

/// Names of the layers, as `config show` reports them.
pub const DEFAULT_LAYER: &str = "default";
pub const FLAG_LAYER: &str = "command-line flag";

/// The whole configuration of the binary: one section per stage and bus.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// State of every stage and of the embedded bus lives here.
    pub data_dir: PathBuf,
    /// The feed list (TOML or OPML), relative to the working directory.
    pub feeds: Option<PathBuf>,
    /// The bus the stages talk through.
    pub bus: BusConfig,
    /// `/metrics` and `/health` are served here when set ("127.0.0.1:9464").
    pub operator_listen: Option<std::net::SocketAddr>,
    /// The WebSub callback is served here when `fetcher.websub_callback_url`
    /// is set; the callback URL must reach this address from the hubs.
    pub websub_listen: Option<std::net::SocketAddr>,
    /// Consumer group names of the stages that read a topic.
    pub topics: TopicSettings,
    /// When a stage counts as stalled (logged, and `/ready` fails).
    pub readiness: ReadinessSettings,
    /// Polling feeds and fetching article pages.
    pub fetcher: newsflow_fetcher::FetcherConfig,
    /// Turning a fetched page into an article.
    pub cleaner: newsflow_cleaner::CleanerConfig,
    /// Exact and near-duplicate detection.
    pub dedup: newsflow_dedup::DedupConfig,
    /// Grouping stories into events.
    pub clusterer: newsflow_clusterer::ClustererConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            feeds: None,
            bus: BusConfig::default(),
            operator_listen: None,
            websub_listen: None,
            topics: TopicSettings::default(),
            readiness: ReadinessSettings::default(),
            fetcher: Default::default(),
            cleaner: Default::default(),
            dedup: Default::default(),
            clusterer: Default::default(),
        }
    }
}

/// Consumer group names, one per stage; Kafka prefixes them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TopicSettings {
    /// Consumer group of the cleaner (reads `raw`).
    pub cleaner_group: String,
    /// Consumer group of dedup (reads `articles`).
    pub dedup_group: String,
    /// Consumer group of the clusterer (reads `unique`).
    pub clusterer_group: String,
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self {
            cleaner_group: "cleaner".into(),
            dedup_group: "dedup".into(),
            clusterer_group: "clusterer".into(),
        }
    }
}

/// When a stage counts as stalled (logged, and `/ready` fails).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReadinessSettings {
    /// A stage that makes no progress for this long while its input has a
    /// backlog is stalled; `--until-idle` then ends with an error.
    pub stall_after_secs: u64,
}

impl Default for ReadinessSettings {
    fn default() -> Self {
        Self {
            stall_after_secs: 300,
        }
    }
}

/// The flags of [`ConfigArgs`] that set configuration keys, as a layer.
#[derive(Serialize, Default)]
struct FlagLayer {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bus: Option<BusFlags>,
}

#[derive(Serialize, Default)]
struct BusFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<BusKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kafka: Option<KafkaFlags>,
}

#[derive(Serialize)]
struct KafkaFlags {
    brokers: String,
}

impl FlagLayer {
    fn from_args(args: &ConfigArgs) -> Self {
        let kind = args.bus.map(|bus| match bus {
            BusChoice::Embedded => BusKind::Embedded,
            BusChoice::Kafka => BusKind::Kafka,
        });
        let kafka = args.brokers.clone().map(|brokers| KafkaFlags { brokers });
        let bus = (kind.is_some() || kafka.is_some()).then_some(BusFlags { kind, kafka });
        FlagLayer {
            data_dir: args.data_dir.clone(),
            bus,
        }
    }
}

/// A provider under another name, so each layer says what it is.
struct Named<P> {
    name: &'static str,
    inner: P,
}

impl<P: Provider> Provider for Named<P> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.inner.data()
    }
}

/// Every layer of the configuration, before it is checked and read.
pub struct Layers {
    pub figment: Figment,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

impl Layers {
    pub fn gather(args: &ConfigArgs) -> anyhow::Result<Self> {
        let file = args.config.clone().or_else(|| {
            Path::new(DEFAULT_CONFIG_FILE)
                .is_file()
                .then(|| DEFAULT_CONFIG_FILE.into())
        });
        let mut figment = Figment::from(Named {
            name: DEFAULT_LAYER,
            inner: Serialized::defaults(Settings::default()),
        });
        if let Some(file) = &file {
            anyhow::ensure!(
                file.is_file(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed(ENV_PREFIX).split("__").ignore(ENV_NOT_KEYS))
            .merge(Named {
                name: FLAG_LAYER,
                inner: Serialized::defaults(FlagLayer::from_args(args)),
            });
        Ok(Layers { figment, file })
    }

    /// Refuses keys no layer may set, then reads the settings.
    pub fn extract(&self) -> anyhow::Result<Settings> {
        let unknown = config_keys::unknown_keys(&self.figment, &KnownKeys::of_settings())
            .with_context(|| self.reading())?;
        if !unknown.is_empty() {
            let mut lines: Vec<String> = unknown
                .iter()
                .take(REPORTED_UNKNOWN_KEYS)
                .map(ToString::to_string)
                .collect();
            if unknown.len() > REPORTED_UNKNOWN_KEYS {
                lines.push(format!(
                    "... and {} more unknown keys",
                    unknown.len() - REPORTED_UNKNOWN_KEYS
                ));
            }
            anyhow::bail!("{}:\n  {}", self.reading(), lines.join("\n  "));
        }
        self.figment.extract::<Settings>().map_err(|error| {
            let lines: Vec<String> = error
                .into_iter()
                .take(REPORTED_UNKNOWN_KEYS)
                .map(|error| match config_keys::nearest_variant(&error) {
                    Some(variant) => format!("{error}: did you mean {variant}?"),
                    None => error.to_string(),
                })
                .collect();
            anyhow::anyhow!("{}:\n  {}", self.reading(), lines.join("\n  "))
        })
    }

    fn reading(&self) -> String {
        match &self.file {
            Some(file) => format!(
                "invalid configuration (file {}, environment, flags)",
                file.display()
            ),
            None => "invalid configuration (environment, flags)".to_string(),
        }
    }
}

impl Settings {
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Self> {
        Layers::gather(args)?.extract()
    }

    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))
    }
}
