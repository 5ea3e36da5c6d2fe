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
        accept_incomplete_restore: args.accept_incomplete_restore,
    };
    let signals = shutdown::on_signals();
    // The page stops with the stages: on a signal, or once --until-idle is done.
    let page_stop = signals.child_token();
    let page = match args.serve {
        Some(listen) => {
            let page = super::serve::BoundPage::bind(
                listen,
                args.serve_max_events,
                crate::live_page::MAX_OPEN_STREAMS,
            )
            .await?;
            let (settings, stop) = (settings.clone(), page_stop.clone());
            Some(tokio::spawn(async move {
                page.run(&settings, stop, true).await
            }))
        }
        None => None,
    };
    let ran = pipeline::run(&settings, options, signals).await;
    page_stop.cancel();
    if let Some(task) = page {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(error = %format!("{error:#}"), "live page stopped"),
            Err(error) => tracing::error!(%error, "live page task failed"),
        }
    }
    ran
}
