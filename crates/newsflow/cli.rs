//! The command line. Subcommand names, flags and output formats are a
//! contract with users and benchmarks: add, never rename.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "newsflow",
    version,
    about = "Streaming news ingestion: feeds in, clustered events out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace). NEWSFLOW_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BusChoice {
    Embedded,
    Kafka,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StageName {
    Fetcher,
    Cleaner,
    Dedup,
    Clusterer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// Options every command that reads the configuration shares.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// TOML configuration file (NEWSFLOW_* environment variables override it).
    #[arg(long, short = 'c', env = "NEWSFLOW_CONFIG")]
    pub config: Option<PathBuf>,
    /// Which bus the stages talk through.
    #[arg(long, value_enum)]
    pub bus: Option<BusChoice>,
    /// Kafka bootstrap servers (overrides bus.kafka.brokers).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Where state is kept (overrides data_dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: every stage, or one with --stage.
    Run(RunArgs),
    /// Offline demonstration over the bundled fixture outlets.
    Demo(DemoArgs),
    /// Follow the events topic and print events as they change.
    Tail(TailArgs),
    /// Serve a live page of the events (HTML, updated as records arrive).
    Serve(ServeArgs),
    /// Run the cleaner on one HTML page.
    Extract(ExtractArgs),
    /// Replay the clusterer over a JSON-lines file of documents.
    Cluster(ClusterArgs),
    /// Replay the deduplicator over a JSON-lines file of documents.
    Dedup(DedupArgs),
    /// Manage and inspect the feed list.
    #[command(subcommand)]
    Feeds(FeedsCommand),
    /// Records the stages could not process or deliver: list and replay them.
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
    /// Inspect and manage the embedded bus.
    #[command(subcommand)]
    Bus(BusCommand),
    /// Check, show and document the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script (e.g. `newsflow completions bash >
    /// /etc/bash_completion.d/newsflow`).
    Completions(CompletionsArgs),
}

#[derive(Debug, Subcommand)]
pub enum BusCommand {
    /// List the consumer groups of the embedded bus (name, topic, position,
    /// pending, attached, last seen), or drop one with --drop.
    Groups(BusGroupsArgs),
}

#[derive(Debug, Args)]
pub struct BusGroupsArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Unregister this group on every topic (refused while a run holds the
    /// data directory).
    #[arg(long, value_name = "NAME")]
    pub drop: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Read the configuration as `run` would; exit non-zero if it is invalid
    /// (an unknown key or variable, a value of the wrong type).
    Check(ConfigCheckArgs),
    /// Print the effective configuration and where each value came from
    /// (default, file, environment variable, flag).
    Show(ConfigShowArgs),
    /// Print the reference of every key (Markdown, from the config types).
    Reference,
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run only this stage (with the Kafka bus, each stage can run alone).
    #[arg(long, value_enum)]
    pub stage: Option<StageName>,
    /// Feed list: TOML (`[[feeds]]` with url, outlet) or OPML.
    #[arg(long)]
    pub feeds: Option<PathBuf>,
    /// Append every event record as a JSON line to this file (embedded bus).
    #[arg(long)]
    pub events_out: Option<PathBuf>,
    /// Poll every feed once, let the stages drain, then exit (embedded bus).
    #[arg(long)]
    pub until_idle: bool,
    /// Allow feeds and pages on loopback and private addresses.
    #[arg(long)]
    pub allow_private_addresses: bool,
    /// On Kafka, start a stateful stage even when its state could not be
    /// restored completely (changelog stalled, unreadable or with gaps);
    /// without it the stage refuses to start.
    #[arg(long)]
    pub accept_incomplete_restore: bool,
    /// Also serve the live event page on this address (as `newsflow
    /// serve` does); it stops with the stages.
    #[arg(long)]
    pub serve: Option<std::net::SocketAddr>,
    /// Events the live page keeps (see `serve --max-events`).
    #[arg(long, default_value_t = 1000)]
    pub serve_max_events: usize,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// The fixture outlets to serve: a folder with `outlets/` and
    /// `feeds.toml` (default: the ones built into the binary).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Keep the demo's state here instead of a temporary folder.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Exit after this many seconds without a new record (default: follow forever).
    #[arg(long)]
    pub idle_exit_secs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address to serve the page on (port 0: any free port; the address is
    /// printed on standard output).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: std::net::SocketAddr,
    /// Events kept for the page; past it, the oldest closed or merged event
    /// goes first, then the oldest active one.
    #[arg(long, default_value_t = 1000)]
    pub max_events: usize,
    /// Event streams (open pages) served at once; one more is answered 503
    /// until one closes.
    #[arg(long, default_value_t = crate::live_page::MAX_OPEN_STREAMS)]
    pub max_streams: usize,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The HTML file.
    pub file: PathBuf,
    /// The URL the page was fetched from (resolves relative links).
    #[arg(long)]
    pub url: Option<String>,
    /// The HTTP Content-Type it was served with, if known.
    #[arg(long)]
    pub content_type: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
    /// The one field that holds each document's text (default: title and text/body).
    #[arg(long)]
    pub text_field: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct DedupArgs {
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Print the configured feeds with their fetch status.
    List(FeedsListArgs),
    /// Add the feeds of an OPML file to the feed list file.
    Import(FeedsImportArgs),
    /// Show what the fetcher makes of one feed.
    Parse(FeedsParseArgs),
    /// Write the feed list as OPML (for a feed reader) or TOML.
    Export(FeedsExportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FeedListFormat {
    #[default]
    Opml,
    Toml,
}

#[derive(Debug, Args)]
pub struct FeedsExportArgs {
    /// Where to write it (default: standard output).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The feed list to export (default: the configured one).
    #[arg(long)]
    pub feeds: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = FeedListFormat::Opml)]
    pub format: FeedListFormat,
}

#[derive(Debug, Args)]
pub struct FeedsListArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long)]
    pub feeds: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct FeedsImportArgs {
    /// The OPML file.
    pub file: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The TOML feed list to add to (default: the configured one).
    #[arg(long)]
    pub feeds: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FeedsParseArgs {
    /// A feed file or an http(s) URL.
    pub source: String,
    #[arg(long)]
    pub content_type: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// Print the dead letters, oldest first (text: one line each; json: one
    /// object per line, the letter with its own position and whether it was
    /// replayed).
    List(DeadLettersListArgs),
    /// Re-inject each letter's payload into its topic, with its key (after
    /// the fix that lets it through). Letters replayed before and letters
    /// whose payload was cut are skipped.
    Replay(DeadLettersReplayArgs),
}

#[derive(Debug, Args)]
pub struct DeadLettersListArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Only letters of this stage (fetcher, cleaner, dedup, clusterer, events-out).
    #[arg(long)]
    pub stage: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeadLettersReplayArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only letters of this stage (fetcher, cleaner, dedup, clusterer, events-out).
    #[arg(long)]
    pub stage: Option<String>,
}
