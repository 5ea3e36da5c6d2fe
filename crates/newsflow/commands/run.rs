//! `newsflow run`: the long-lived service.

use anyhow::Context;

use crate::cli::{RunArgs, StageName};
use crate::pipeline::{self, shutdown, PipelineOptions};
use crate::settings::Settings;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(&args.config)?;
    if args.allow_private_addresses {
        settings.fetcher.allow_private_addresses = true;
    }
    let stages = match args.stage {
        Some(stage) => vec![stage],
        None => vec![
            StageName::Fetcher,
            StageName::Cleaner,
            StageName::Dedup,
            StageName::Clusterer,
        ],
    };
    let (feeds, feeds_path) = if stages.contains(&StageName::Fetcher) {
        let path = args
            .feeds
            .clone()
            .or_else(|| settings.feeds.clone())
            .context("no feed list: pass --feeds FILE or set `feeds` in the configuration")?;
        (super::feeds::load_feed_list(&path)?, Some(path))
    } else {
        (Vec::new(), None)
    };
    tracing::info!(bus = ?settings.bus.kind, ?stages, feeds = feeds.len(),
        data_dir = %settings.data_dir.display(), "starting newsflow");
    let options = PipelineOptions {
        stages,
        feeds,
        feeds_path,
        events_out: args.events_out,
        until_idle: args.until_idle,
        operator_listen: settings.operator_listen,
        websub_listen: settings.websub_listen,
    };
    pipeline::run(&settings, options, shutdown::on_signals()).await
}
