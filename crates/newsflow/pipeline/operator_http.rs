//! The operator's endpoint: `/metrics` (Prometheus text), `/health` (the
//! process lives: always 200) and `/ready` (200 when the bus answers, every
//! stage has started and none is stalled; 503 with the reasons otherwise).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use super::internal_events::SECONDS_BUCKETS;
use super::readiness::Readiness;

pub fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    // Buckets make every `*_seconds` histogram a Prometheus histogram
    // (aggregatable across processes), not the exporter's default summary.
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .context("setting histogram buckets")?
        .install_recorder()
        .context("installing the metrics recorder")
}

pub async fn serve(
    listen: SocketAddr,
    metrics: PrometheusHandle,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(move || ready(readiness.clone())))
        .route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the operator endpoint on {listen}"))?;
    tracing::info!(%listen, "operator endpoint: /metrics, /health and /ready");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("operator endpoint")
}

/// `{"ready":true}`, or 503 with `{"ready":false,"reasons":[...]}`.
async fn ready(readiness: Arc<Readiness>) -> impl IntoResponse {
    let (status, body) = match readiness.verdict().await {
        Ok(()) => (StatusCode::OK, serde_json::json!({ "ready": true })),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "ready": false, "reasons": reasons }),
        ),
    };
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
}
