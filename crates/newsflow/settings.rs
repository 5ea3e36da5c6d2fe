//! Layered configuration: built-in defaults, then a TOML file, then
//! `NEWSFLOW_*` environment variables (`__` separates levels, e.g.
//! `NEWSFLOW_BUS__KAFKA__BROKERS`), then command-line flags.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use newsflow_bus::{BusConfig, BusKind};
use serde::{Deserialize, Serialize};

use crate::cli::{BusChoice, ConfigArgs};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// State of every stage and of the embedded bus lives here.
    pub data_dir: PathBuf,
    /// The feed list (TOML or OPML), relative to the working directory.
    pub feeds: Option<PathBuf>,
    pub bus: BusConfig,
    /// `/metrics` and `/health` are served here when set ("127.0.0.1:9464").
    pub operator_listen: Option<std::net::SocketAddr>,
    /// The WebSub callback is served here when `fetcher.websub_callback_url`
    /// is set; the callback URL must reach this address from the hubs.
    pub websub_listen: Option<std::net::SocketAddr>,
    pub topics: TopicSettings,
    pub readiness: ReadinessSettings,
    pub fetcher: newsflow_fetcher::FetcherConfig,
    pub cleaner: newsflow_cleaner::CleanerConfig,
    pub dedup: newsflow_dedup::DedupConfig,
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicSettings {
    pub cleaner_group: String,
    pub dedup_group: String,
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Serialize)]
struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
}

impl Settings {
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        let file = args.config.clone().or_else(|| {
            Path::new("config/newsflow.toml")
                .is_file()
                .then(|| "config/newsflow.toml".into())
        });
        if let Some(file) = &file {
            anyhow::ensure!(
                file.is_file(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(
                Env::prefixed("NEWSFLOW_")
                    .split("__")
                    .ignore(&["config", "log"]),
            )
            .merge(Serialized::defaults(FlagOverrides {
                data_dir: args.data_dir.clone(),
            }));
        let mut settings: Settings = figment.extract().with_context(|| match &file {
            Some(file) => format!("reading configuration from {}", file.display()),
            None => "reading configuration from the environment".to_string(),
        })?;
        if let Some(bus) = args.bus {
            settings.bus.kind = match bus {
                BusChoice::Embedded => BusKind::Embedded,
                BusChoice::Kafka => BusKind::Kafka,
            };
        }
        if let Some(brokers) = &args.brokers {
            settings.bus.kafka.brokers = brokers.clone();
        }
        Ok(settings)
    }

    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))
    }
}
