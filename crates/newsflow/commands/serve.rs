//! `newsflow serve`: the live event page over the `events` topic.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use newsflow_model::{decode, EventRecord};

use crate::cli::ServeArgs;
use crate::live_page::{self, LiveHub};
use crate::settings::Settings;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let listener = live_page::bind(args.listen).await?;
    let address = listener.local_addr().context("reading the bound address")?;
    // On stdout, flushed, so a script (or a test binding port 0) can read it.
    println!("live page on http://{address}/");
    std::io::stdout().flush().ok();
    tracing::info!(%address, bus = ?settings.bus.kind, max_events = args.max_events, "serving the live event page");

    let hub = Arc::new(LiveHub::new(args.max_events));
    let shutdown = crate::pipeline::shutdown::on_signals();
    let server = tokio::spawn(live_page::serve(listener, hub.clone(), shutdown.clone()));
    let followed =
        super::follow_events::follow(
            &settings,
            "serve",
            None,
            &shutdown,
            |payload| match decode::<EventRecord>(payload) {
                Ok(record) => hub.publish(&record),
                Err(error) => tracing::warn!(%error, "skipping a malformed event record"),
            },
        )
        .await;
    // Reading failed or a signal came: either way the page stops with it.
    shutdown.cancel();
    let served = server.await.context("live page server task")?;
    followed.and(served)
}
