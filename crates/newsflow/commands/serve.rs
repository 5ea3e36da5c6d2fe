//! `newsflow serve` (and `run --serve`): the live event page over the
//! `events` topic.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use newsflow_bus::BusKind;
use newsflow_model::{decode, EventRecord};
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::live_page::{self, LiveHub};
use crate::settings::Settings;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let page = BoundPage::bind(args.listen, args.max_events, args.max_streams).await?;
    page.run(&settings, crate::pipeline::shutdown::on_signals(), false)
        .await
}

/// How long open event streams may take to send what they buffer once the
/// page stops (a browser that stops reading must not hold the process).
const STREAMS_END_WITHIN: Duration = Duration::from_secs(5);

/// The page's port, bound before anything else starts so that a taken
/// port fails the command at once.
pub struct BoundPage {
    listener: tokio::net::TcpListener,
    max_events: usize,
    max_streams: usize,
}

impl BoundPage {
    pub async fn bind(
        listen: SocketAddr,
        max_events: usize,
        max_streams: usize,
    ) -> anyhow::Result<Self> {
        let listener = live_page::bind(listen).await?;
        let address = listener.local_addr().context("reading the bound address")?;
        // On stdout, flushed, so a script (or a test binding port 0) can read it.
        println!("live page on http://{address}/");
        std::io::stdout().flush().ok();
        tracing::info!(%address, max_events, "serving the live event page");
        Ok(Self {
            listener,
            max_events,
            max_streams,
        })
    }

    /// Serves the page and feeds it every record of `events` until
    /// `shutdown` or until reading fails. With `drain_on_stop` (embedded
    /// bus), the records already on the log when `shutdown` comes still
    /// reach the open pages before their streams end: `run --until-idle
    /// --serve` shows every event it made.
    pub async fn run(
        self,
        settings: &Settings,
        shutdown: CancellationToken,
        drain_on_stop: bool,
    ) -> anyhow::Result<()> {
        // The page may start before any stage made the data directory.
        if settings.bus.kind == BusKind::Embedded {
            settings.ensure_data_dir()?;
        }
        let hub = Arc::new(LiveHub::new(self.max_events));
        let server_stop = CancellationToken::new();
        let mut server = tokio::spawn(live_page::serve(
            self.listener,
            hub.clone(),
            self.max_streams,
            server_stop.clone(),
        ));
        let followed = super::follow_events::follow(
            settings,
            "serve",
            None,
            &shutdown,
            drain_on_stop,
            |payload| match decode::<EventRecord>(payload) {
                Ok(record) => hub.publish(&record),
                Err(error) => tracing::warn!(%error, "skipping a malformed event record"),
            },
        )
        .await;
        // Reading failed or a stop came: either way the page stops with it,
        // giving open streams a moment to send what they still buffer.
        hub.close();
        server_stop.cancel();
        let served = match tokio::time::timeout(STREAMS_END_WITHIN, &mut server).await {
            Ok(joined) => joined.context("live page server task")?,
            Err(_) => {
                tracing::warn!("a live page stream did not end in time; closing it");
                server.abort();
                Ok(())
            }
        };
        followed.and(served)
    }
}
