//! Serves the fetcher's WebSub callback, so hubs can push new items; the
//! fetcher keeps polling those feeds at a long interval as a fallback.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use newsflow_fetcher::{websub_router, Fetcher, PageSink};
use tokio_util::sync::CancellationToken;

pub async fn serve(
    listen: SocketAddr,
    callback_url: &str,
    fetcher: Arc<Fetcher>,
    sink: Arc<dyn PageSink>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let path = url::Url::parse(callback_url)
        .with_context(|| format!("fetcher.websub_callback_url {callback_url:?} is not a URL"))?
        .path()
        .to_string();
    let app = websub_router(&path, fetcher, sink);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the WebSub callback on {listen}"))?;
    tracing::info!(%listen, %path, "WebSub callback endpoint");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("WebSub callback endpoint")
}
