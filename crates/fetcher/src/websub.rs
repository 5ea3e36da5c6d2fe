//! WebSub subscriber: when a feed names a hub, subscribe with a callback
//! URL and a secret; answer the hub's intent verification; accept pushed
//! content only with a valid HMAC signature. Polling continues as a
//! fallback at a long interval while a subscription is live.
//!
//! Only what newsflow asked for is confirmed: a verification must match the
//! mode and topic of the request pending for that callback (one per feed,
//! forgotten after `websub_pending_secs`), so nobody can subscribe or
//! unsubscribe newsflow on its behalf. Callback ids and secrets come from
//! the operating system's random source; lease seconds are clamped.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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
    #[error("no {0} request pending for this callback")]
    NotPending(String),
    #[error("push signature missing or invalid")]
    BadSignature,
    #[error("pushed content could not be parsed: {0}")]
    Parse(#[from] crate::parse::FeedError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// Longest lease a hub's verification can set (a year; hubs grant days).
pub(crate) const MAX_LEASE_SECS: u64 = 366 * 86_400;

/// `n` bytes from the operating system's random source, in hex.
fn os_random_hex(n: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// A fresh path segment for a feed's callback: unguessable, so only the
/// hub learns where to push.
pub(crate) fn new_callback_id() -> Result<String, getrandom::Error> {
    os_random_hex(16)
}

/// A fresh secret for `hub.secret` (256 bits).
pub(crate) fn new_secret() -> Result<String, getrandom::Error> {
    os_random_hex(32)
}

/// `hub.lease_seconds` as a hub may send it: digits of any length saturate,
/// anything else counts as absent (the configured lease applies).
fn saturating_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let raw: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(raw.and_then(|value| {
        let value = value.trim();
        (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
            .then(|| value.parse::<u64>().unwrap_or(u64::MAX))
    }))
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
    #[serde(
        rename = "hub.lease_seconds",
        default,
        deserialize_with = "saturating_seconds"
    )]
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
            metrics::counter!("newsflow_fetcher_websub_verifications_total", "outcome" => "refused").increment(1);
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
            metrics::counter!("newsflow_fetcher_websub_pushes_total", "outcome" => "accepted")
                .increment(1);
            tracing::info!(callback = %id, delivered = summary.pages_delivered, "WebSub push handled");
            StatusCode::ACCEPTED.into_response()
        }
        // The spec wants a 2xx for a bad signature (the content is ignored),
        // so a forger learns nothing.
        Err(WebSubError::BadSignature) => {
            metrics::counter!("newsflow_fetcher_websub_pushes_total", "outcome" => "bad_signature")
                .increment(1);
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
    /// mode and topic match the request newsflow has pending for this
    /// callback. Anything else (a forged unsubscription for a public feed, a
    /// replay after the request was verified or expired) is refused.
    pub fn websub_verify(
        &self,
        callback: &str,
        query: &VerifyQuery,
    ) -> Result<String, WebSubError> {
        let row = self
            .state()
            .feed_for_callback(callback)?
            .ok_or_else(|| WebSubError::UnknownCallback(callback.into()))?;
        let now = chrono::Utc::now().timestamp();
        let pending_for = i64::try_from(self.config().websub_pending_secs).unwrap_or(i64::MAX);
        let pending_mode = row.websub_pending_mode.as_deref().filter(|_| {
            row.websub_requested_at
                .is_some_and(|at| now.saturating_sub(at) <= pending_for)
        });
        match query.mode.as_str() {
            mode @ ("subscribe" | "unsubscribe") => {
                if pending_mode != Some(mode) {
                    return Err(WebSubError::NotPending(mode.to_string()));
                }
                if row.websub_pending_topic.as_deref() != Some(query.topic.as_str()) {
                    return Err(WebSubError::TopicMismatch {
                        expected: row.websub_pending_topic.clone(),
                        got: query.topic.clone(),
                    });
                }
                let lease_until = (mode == "subscribe").then(|| {
                    let lease = query
                        .lease_seconds
                        .unwrap_or(self.config().websub_lease_secs)
                        .clamp(1, MAX_LEASE_SECS);
                    tracing::info!(feed = %row.url, lease_secs = lease, "WebSub subscription verified");
                    now.saturating_add(lease as i64)
                });
                self.state().websub_verified(&row.url, mode, lease_until)?;
                metrics::counter!("newsflow_fetcher_websub_verifications_total", "outcome" => "verified").increment(1);
                Ok(query.challenge.clone())
            }
            "denied" => {
                let ours = [&row.websub_pending_topic, &row.websub_topic]
                    .iter()
                    .any(|t| t.as_deref() == Some(query.topic.as_str()));
                if !ours {
                    return Err(WebSubError::TopicMismatch {
                        expected: row.websub_topic.clone(),
                        got: query.topic.clone(),
                    });
                }
                let reason: String = query
                    .reason
                    .as_deref()
                    .unwrap_or_default()
                    .chars()
                    .take(500)
                    .collect();
                self.state().websub_denied(
                    &row.url,
                    &format!("WebSub hub denied the subscription: {reason}"),
                )?;
                Ok(String::new())
            }
            other => Err(WebSubError::BadMode(other.chars().take(64).collect())),
        }
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
        // Every subscription newsflow makes has a secret; content signed
        // with neither the live one nor a renewal's pending one is ignored.
        let signed = [&row.websub_secret, &row.websub_pending_secret]
            .into_iter()
            .flatten()
            .any(|secret| signature_is_valid(secret, signature, body));
        if !signed {
            return Err(WebSubError::BadSignature);
        }
        // A pushed document is as hostile as a polled one: parsed on the
        // blocking pool within the same limits and time budget.
        let (owned, content_type, base) = (
            body.to_vec(),
            content_type.map(str::to_string),
            row.current_url.clone(),
        );
        let limits = crate::parse::FeedLimits {
            max_items: self.config().max_items_per_document,
        };
        let parsed = crate::blocking_parse::parse_off_the_async_workers(
            move || {
                crate::parse::parse_feed_limited(&owned, content_type.as_deref(), &base, &limits)
            },
            std::time::Duration::from_secs(self.config().feed_parse_timeout_secs),
        )
        .await?;
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

    #[test]
    fn random_ids_and_secrets_differ_and_lease_seconds_saturate() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(new_callback_id().unwrap(), new_callback_id().unwrap());
        let parse = |lease: &str| -> Option<u64> {
            let query: VerifyQuery = serde_urlencoded_query(&format!(
                "hub.mode=subscribe&hub.topic=t&hub.challenge=c&hub.lease_seconds={lease}"
            ));
            query.lease_seconds
        };
        assert_eq!(parse("86400"), Some(86_400));
        assert_eq!(parse("99999999999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse("-5"), None);
        assert_eq!(parse("1e9"), None);
        assert_eq!(parse(""), None);
    }

    fn serde_urlencoded_query(query: &str) -> VerifyQuery {
        let uri: axum::http::Uri = format!("http://x/?{query}").parse().unwrap();
        axum::extract::Query::<VerifyQuery>::try_from_uri(&uri)
            .unwrap()
            .0
    }
}
