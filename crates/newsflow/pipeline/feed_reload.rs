//! The fetcher of a running service, re-reading its feed list on SIGHUP:
//! it stops between polls (as it does on shutdown: each poll records its
//! own outcome, and a page sent twice is the same story to dedup), then
//! starts again over the new list, whose new feeds are due at once. A list
//! that cannot be read is reported and the old one kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use newsflow_fetcher::{parse_feed_list, FeedSource, Fetcher, PageSink};
use tokio_util::sync::CancellationToken;

pub async fn run_fetcher(
    fetcher: Arc<Fetcher>,
    mut feeds: Vec<FeedSource>,
    list: Option<PathBuf>,
    sink: Arc<dyn PageSink>,
    shutdown: CancellationToken,
) {
    let mut hangups = list.as_ref().and_then(|_| hangup_signals());
    loop {
        let round = shutdown.child_token();
        let run = fetcher.run(feeds.clone(), sink.clone(), round.clone());
        tokio::pin!(run);
        let hangup = async {
            match &mut hangups {
                Some(signals) => signals.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut run => return,
            _ = hangup => {
                round.cancel();
                run.await;
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
        let Some(path) = &list else { return };
        match read_feed_list(path) {
            Ok(new) => {
                tracing::info!(feeds = new.len(), was = feeds.len(), list = %path.display(),
                    "feed list re-read (SIGHUP)");
                feeds = new;
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), list = %path.display(),
                    "feed list not re-read (SIGHUP): keeping the current one");
            }
        }
    }
}

fn read_feed_list(path: &Path) -> anyhow::Result<Vec<FeedSource>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_feed_list(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(unix)]
fn hangup_signals() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup())
        .map_err(
            |error| tracing::warn!(%error, "cannot listen for SIGHUP: the feed list is read once"),
        )
        .ok()
}

/// No SIGHUP off Unix: the feed list is read once.
#[cfg(not(unix))]
struct NoSignals;

#[cfg(not(unix))]
impl NoSignals {
    async fn recv(&mut self) -> Option<()> {
        std::future::pending().await
    }
}

#[cfg(not(unix))]
fn hangup_signals() -> Option<NoSignals> {
    None
}
