//! The live event page: `/` is one HTML file (script and style inline, no
//! other asset) and `/events` a server-sent event stream: `snapshot` (every
//! kept record, a JSON array) on connect, then `record` (one JSON record)
//! per change and `evict` (a JSON string, the event id) when the bound drops
//! an event.

mod hub;
mod latest_records;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
pub use hub::LiveHub;
use hub::LiveUpdate;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const PAGE: &str = include_str!("page.html");

/// The page may run its own inline script and style and talk to this
/// server, nothing else: no other script, image, frame or form target, even
/// if a hostile headline got past the page's escaping.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Event streams open at once unless told otherwise; one more is answered
/// 503 (the browser's EventSource retries by itself). Each holds a
/// broadcast receiver and is sent the whole state on connect, so their
/// number is bounded.
pub const MAX_OPEN_STREAMS: usize = 256;

#[derive(Clone)]
struct PageState {
    hub: Arc<LiveHub>,
    streams: Arc<Semaphore>,
}

/// Serves the page on an already bound listener. After `shutdown` it takes
/// no new connection and returns once the open event streams ended: they
/// end when the hub is closed, after sending what it still buffers (the
/// caller bounds that wait; a browser that stops reading must not hold the
/// process).
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Arc<LiveHub>,
    max_streams: usize,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state = PageState {
        hub,
        streams: Arc::new(Semaphore::new(max_streams)),
    };
    let app = axum::Router::new()
        .route("/", get(page))
        .route("/events", get(event_stream))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("live page server")
}

pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the live page on {listen}"))
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
}

fn snapshot_event(records: &[Arc<str>]) -> Event {
    let mut data = String::from("[");
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        data.push_str(record);
    }
    data.push(']');
    Event::default().event("snapshot").data(data)
}

fn update_event(update: &LiveUpdate) -> Event {
    match update {
        LiveUpdate::Record(json) => Event::default().event("record").data(&**json),
        LiveUpdate::Evicted(id) => Event::default()
            .event("evict")
            .data(serde_json::Value::String(id.to_string()).to_string()),
    }
}

async fn event_stream(State(state): State<PageState>) -> Response {
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many open event streams\n",
        )
            .into_response();
    };
    let (snapshot, updates) = state.hub.connect();
    let first = futures::stream::once(std::future::ready(Ok::<_, Infallible>(snapshot_event(
        &snapshot,
    ))));
    let hub = state.hub.clone();
    let changes = futures::stream::unfold(updates, move |updates| {
        let hub = hub.clone();
        async move {
            // A hub already closed: the snapshot is all there is.
            let mut updates = updates?;
            let event = match updates.recv().await {
                Ok(update) => update_event(&update),
                // Fell behind the broadcast: the whole state again replaces
                // what the page holds; the changes still buffered after it
                // are older or equal versions, which the page ignores.
                Err(RecvError::Lagged(_)) => snapshot_event(&hub.snapshot()),
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), Some(updates)))
        }
    });
    // The permit goes when the stream is dropped: the page closed.
    let stream = first.chain(changes).map(move |event| {
        let _held = &permit;
        event
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
