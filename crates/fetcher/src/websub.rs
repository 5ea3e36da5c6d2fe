//! WebSub subscriber: when a feed names a hub, subscribe with a callback
//! URL and a secret; answer the hub's intent verification; accept pushed
//! content only with a valid HMAC signature. Polling continues as a
//! fallback at a long interval while a subscription is live.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::fetcher::{Fetcher, PollSummary};
use crate::sink::PageSink;

#[derive(Debug, thiserror::Error)]
pub enum WebSubError {
    #[error("no subscription for callback {0}")]
    UnknownCallback(String),
    #[error(
        "hub verification for topic {got:?} does not match the subscription's topic {expected:?}"
    )]
    TopicMismatch {
        expected: Option<String>,
        got: String,
    },
    #[error("unsupported hub.mode {0:?}")]
    BadMode(String),
    #[error("push signature missing or invalid")]
    BadSignature,
    #[error("pushed content could not be parsed: {0}")]
    Parse(#[from] crate::parse::FeedError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// The path segment that identifies one feed's subscription.
pub fn callback_id(feed_url: &str) -> String {
    hex::encode(&Sha256::digest(feed_url.as_bytes())[..12])
}

/// A fresh random secret for `hub.secret`.
pub(crate) fn new_secret() -> String {
    (0..32).map(|_| fastrand::alphanumeric()).collect()
}

/// Checks `X-Hub-Signature: method=hexdigest` over `body`.
pub fn signature_is_valid(secret: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some((method, digest)) = header.and_then(|h| h.trim().split_once('=')) else {
        return false;
    };
    let Ok(expected) = hex::decode(digest.trim()) else {
        return false;
    };
    fn check<M: Mac + hmac::digest::KeyInit>(secret: &str, body: &[u8], expected: &[u8]) -> bool {
        let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(expected).is_ok()
    }
    match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => check::<Hmac<sha1::Sha1>>(secret, body, &expected),
        "sha256" => check::<Hmac<Sha256>>(secret, body, &expected),
        "sha384" => check::<Hmac<sha2::Sha384>>(secret, body, &expected),
        "sha512" => check::<Hmac<sha2::Sha512>>(secret, body, &expected),
        _ => false,
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    pub mode: String,
    #[serde(rename = "hub.topic")]
    pub topic: String,
    #[serde(rename = "hub.challenge", default)]
    pub challenge: String,
    #[serde(rename = "hub.lease_seconds", default)]
    pub lease_seconds: Option<u64>,
    #[serde(rename = "hub.reason", default)]
    pub reason: Option<String>,
}

struct CallbackState {
    fetcher: Arc<Fetcher>,
    sink: Arc<dyn PageSink>,
}

/// The callback endpoint, to be served at the path of
/// `FetcherConfig::websub_callback_url`: `GET {base}/{id}` answers intent
/// verification, `POST {base}/{id}` takes pushed content.
pub fn websub_router(
    base_path: &str,
    fetcher: Arc<Fetcher>,
    sink: Arc<dyn PageSink>,
) -> axum::Router {
    let route = format!("{}/{{id}}", base_path.trim_end_matches('/'));
    axum::Router::new()
        .route(&route, axum::routing::get(verify).post(push))
        .with_state(Arc::new(CallbackState { fetcher, sink }))
}

async fn verify(
    State(state): State<Arc<CallbackState>>,
    Path(id): Path<String>,
    Query(query): Query<VerifyQuery>,
) -> axum::response::Response {
    match state.fetcher.websub_verify(&id, &query) {
        Ok(challenge) => (StatusCode::OK, challenge).into_response(),
        Err(e) => {
            tracing::warn!(callback = %id, error = %e, "WebSub verification refused");
            (StatusCode::NOT_FOUND, e.to_string()).into_response()
        }
    }
}

async fn push(
    State(state): State<Arc<CallbackState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match state
        .fetcher
        .websub_push(
            &id,
            header("x-hub-signature"),
            header("content-type"),
            &body,
            state.sink.as_ref(),
        )
        .await
    {
        Ok(summary) => {
            tracing::info!(callback = %id, delivered = summary.pages_delivered, "WebSub push handled");
            StatusCode::ACCEPTED.into_response()
        }
        // The spec wants a 2xx for a bad signature (the content is ignored),
        // so a forger learns nothing.
        Err(WebSubError::BadSignature) => {
            tracing::warn!(callback = %id, "WebSub push with a bad signature ignored");
            StatusCode::ACCEPTED.into_response()
        }
        Err(e @ WebSubError::UnknownCallback(_)) => {
            (StatusCode::NOT_FOUND, e.to_string()).into_response()
        }
        Err(e) => {
            tracing::warn!(callback = %id, error = %e, "WebSub push not handled");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}

impl Fetcher {
    /// Answers a hub's intent verification: the challenge to echo, when the
    /// mode and topic match a subscription we asked for.
    pub fn websub_verify(
        &self,
        callback: &str,
        query: &VerifyQuery,
    ) -> Result<String, WebSubError> {
        let mut row = self
            .state()
            .feed_for_callback(callback)?
            .ok_or_else(|| WebSubError::UnknownCallback(callback.into()))?;
        if row.websub_topic.as_deref() != Some(query.topic.as_str()) {
            return Err(WebSubError::TopicMismatch {
                expected: row.websub_topic.clone(),
                got: query.topic.clone(),
            });
        }
        let now = chrono::Utc::now().timestamp();
        match query.mode.as_str() {
            "subscribe" => {
                let lease = query
                    .lease_seconds
                    .unwrap_or(self.config().websub_lease_secs);
                row.websub_lease_until = Some(now + lease as i64);
                tracing::info!(feed = %row.url, lease_secs = lease, "WebSub subscription verified");
            }
            "unsubscribe" => {
                row.websub_lease_until = None;
                row.websub_topic = None;
            }
            "denied" => {
                row.websub_lease_until = None;
                row.last_error = Some(format!(
                    "WebSub hub denied the subscription: {}",
                    query.reason.clone().unwrap_or_default()
                ));
                self.state().save_feed(&row)?;
                return Ok(String::new());
            }
            other => return Err(WebSubError::BadMode(other.into())),
        }
        self.state().save_feed(&row)?;
        Ok(query.challenge.clone())
    }

    /// Takes content a hub pushed: checks the signature (required when we
    /// gave the hub a secret), parses it, and hands new items on.
    pub async fn websub_push(
        &self,
        callback: &str,
        signature: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        sink: &dyn PageSink,
    ) -> Result<PollSummary, WebSubError> {
        let row = self
            .state()
            .feed_for_callback(callback)?
            .ok_or_else(|| WebSubError::UnknownCallback(callback.into()))?;
        if let Some(secret) = &row.websub_secret {
            if !signature_is_valid(secret, signature, body) {
                return Err(WebSubError::BadSignature);
            }
        }
        let parsed = crate::parse::parse_feed(body, content_type, &row.current_url)?;
        let source = crate::feed_list::FeedSource {
            url: row.url.clone(),
            outlet: None,
        };
        Ok(self.deliver_pushed(&source, &row, &parsed, sink).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked() {
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"body");
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_is_valid("s3cret", Some(&good), b"body"));
        assert!(!signature_is_valid("s3cret", Some(&good), b"body2"));
        assert!(!signature_is_valid("other", Some(&good), b"body"));
        assert!(!signature_is_valid("s3cret", None, b"body"));
        assert!(!signature_is_valid("s3cret", Some("md5=00"), b"body"));
    }
}
