//! One HTTP GET as the fetcher needs it: conditional, capped, redirects
//! followed by hand (at most N, each hop through the SSRF guard and the
//! host limiter), and the response headers that drive scheduling.
//!
//! What a hostile server can do and where it stops:
//! - drip headers or body a byte at a time: one time budget for the whole
//!   fetch, all hops together (`request_timeout_secs`);
//! - redirect in a loop: at most `max_redirects` hops;
//! - send a huge or endless body, or a compression bomb: the decoded body
//!   is counted as it arrives and cut at `max_body_bytes`;
//! - send a huge header block: hyper (HTTP/1 only here) refuses a response
//!   head beyond its ~400 KB read buffer or with more than 100 headers, and
//!   the fetch fails like any network error;
//! - ask us to wait (`Retry-After`) for ever, or in garbage: the wait is
//!   clamped to the backoff maximum, and what does not parse is ignored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;

use crate::config::FetcherConfig;
use crate::host_limiter::HostLimiter;
use crate::ssrf::{literal_host_is_forbidden, GuardedResolver};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("refused by the SSRF guard: {0}")]
    Refused(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("redirect without a usable Location header")]
    BadRedirect,
    #[error("timed out")]
    Timeout,
    #[error("body larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("network error: {0}")]
    Network(String),
}

/// Validators sent with a conditional GET.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub final_url: String,
    /// Set when every hop of the redirect chain was permanent (301/308):
    /// where the resource now lives.
    pub permanent_redirect_to: Option<String>,
    pub redirected: bool,
    pub content_type: Option<String>,
    pub content_location: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub retry_after: Option<Duration>,
    pub max_age: Option<Duration>,
    pub link_header: Option<String>,
    pub body: Vec<u8>,
}

/// What is being fetched: decides the `Accept` header and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchTarget {
    Feed,
    Page,
}

impl FetchTarget {
    fn accept(self) -> &'static str {
        match self {
            FetchTarget::Feed => "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            FetchTarget::Page => "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FetchTarget::Feed => "feed",
            FetchTarget::Page => "page",
        }
    }
}

impl HttpError {
    /// Short, fixed name of the failure class (a metric label).
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::InvalidUrl { .. } => "invalid_url",
            HttpError::Refused(_) => "refused",
            HttpError::TooManyRedirects(_) => "too_many_redirects",
            HttpError::BadRedirect => "bad_redirect",
            HttpError::Timeout => "timeout",
            HttpError::BodyTooLarge { .. } => "too_large",
            HttpError::Network(_) => "network",
        }
    }
}

pub struct HttpClient {
    client: reqwest::Client,
    limiter: Arc<HostLimiter>,
    allow_private: bool,
    max_redirects: usize,
    max_body_bytes: u64,
    /// Network time one `get` may take, all hops together.
    budget: Duration,
    /// The longest wait a `Retry-After` can ask for.
    retry_after_cap: Duration,
}

impl HttpClient {
    pub fn new(config: &FetcherConfig, limiter: Arc<HostLimiter>) -> Result<Self, HttpError> {
        let budget = Duration::from_secs(config.request_timeout_secs.max(1));
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            // Per hop, a backstop; the budget over all hops is kept in `get`.
            .timeout(budget)
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.per_host_concurrency.max(1))
            .pool_idle_timeout(Duration::from_secs(30));
        builder =
            match config.proxy.as_deref() {
                // Never the environment's proxy: see `FetcherConfig::proxy`.
                None => builder.no_proxy(),
                Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy).map_err(|e| {
                    HttpError::InvalidUrl {
                        url: proxy.to_string(),
                        reason: format!("fetcher.proxy: {e}"),
                    }
                })?),
            };
        // Through a proxy the fetcher resolves only the proxy's own name
        // (the proxy resolves the targets), and an operator's proxy may well
        // sit on a private address: the resolver guard stays out, and
        // literal target addresses are still checked in `get`.
        if !config.allow_private_addresses && config.proxy.is_none() {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        let client = builder
            .build()
            .map_err(|e| HttpError::Network(e.to_string()))?;
        Ok(Self {
            client,
            limiter,
            allow_private: config.allow_private_addresses,
            max_redirects: config.max_redirects,
            max_body_bytes: config.max_body_bytes,
            budget,
            retry_after_cap: Duration::from_secs(config.backoff_max_secs.max(1)),
        })
    }

    pub fn limiter(&self) -> &Arc<HostLimiter> {
        &self.limiter
    }

    /// GETs `url`, following up to `max_redirects` redirects. Status codes
    /// are not errors here: the caller decides what 304, 404 or 429 mean.
    /// Counts the outcome, bytes and network time in the fetcher's metrics.
    pub async fn get(
        &self,
        url: &str,
        validators: &Validators,
        target: FetchTarget,
    ) -> Result<HttpResponse, HttpError> {
        let mut network_time = Duration::ZERO;
        let result = self
            .get_hops(url, validators, target, &mut network_time)
            .await;
        let label = target.label();
        metrics::histogram!("newsflow_fetcher_fetch_duration_seconds", "target" => label)
            .record(network_time.as_secs_f64());
        match &result {
            Ok(response) => {
                metrics::counter!("newsflow_fetcher_requests_total", "target" => label, "status" => status_class(response.status)).increment(1);
                metrics::counter!("newsflow_fetcher_bytes_fetched_total", "target" => label)
                    .increment(response.body.len() as u64);
            }
            Err(error) => {
                metrics::counter!("newsflow_fetcher_request_failures_total", "target" => label, "kind" => error.kind()).increment(1);
            }
        }
        result
    }

    async fn get_hops(
        &self,
        url: &str,
        validators: &Validators,
        target: FetchTarget,
        network_time: &mut Duration,
    ) -> Result<HttpResponse, HttpError> {
        let accept = target.accept();
        let mut current = parse_http_url(url)?;
        let mut all_permanent = true;
        let mut redirected = false;
        for hop in 0..=self.max_redirects {
            if !self.allow_private && literal_host_is_forbidden(&current) {
                return Err(HttpError::Refused(format!(
                    "{} is not a public address",
                    current.host_str().unwrap_or("")
                )));
            }
            let host = current.host_str().unwrap_or_default().to_string();
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
            // Validators belong to the URL they were issued for; a redirect
            // target still gets them, since servers key them by content.
            if let Some(etag) = validators
                .etag
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = validators
                .last_modified
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_MODIFIED_SINCE, lm);
            }
            let permit = self.limiter.acquire(&host).await;
            let remaining = self
                .budget
                .checked_sub(*network_time)
                .ok_or(HttpError::Timeout)?;
            let started = Instant::now();
            let hop_result = tokio::time::timeout(remaining, async {
                let response = self
                    .client
                    .get(current.clone())
                    .headers(headers)
                    .send()
                    .await
                    .map_err(classify)?;
                let status = response.status();
                if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                    let location = response
                        .headers()
                        .get(header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    return Ok(Hop::Redirect(status, location));
                }
                self.read(response, &current, redirected && all_permanent, redirected)
                    .await
                    .map(|r| Hop::Done(Box::new(r)))
            })
            .await;
            *network_time += started.elapsed();
            drop(permit);
            match hop_result.map_err(|_| HttpError::Timeout)?? {
                Hop::Done(response) => return Ok(*response),
                Hop::Redirect(status, location) => {
                    let location = location.ok_or(HttpError::BadRedirect)?;
                    let next = current
                        .join(&location)
                        .map_err(|_| HttpError::BadRedirect)?;
                    if !matches!(next.scheme(), "http" | "https") {
                        return Err(HttpError::BadRedirect);
                    }
                    all_permanent &= matches!(
                        status,
                        StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                    );
                    redirected = true;
                    if hop == self.max_redirects {
                        break;
                    }
                    current = next;
                }
            }
        }
        Err(HttpError::TooManyRedirects(self.max_redirects))
    }

    /// POSTs a form (WebSub subscription requests); returns the status.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Result<u16, HttpError> {
        let target = parse_http_url(url)?;
        if !self.allow_private && literal_host_is_forbidden(&target) {
            return Err(HttpError::Refused(format!(
                "{} is not a public address",
                target.host_str().unwrap_or("")
            )));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let _permit = self
            .limiter
            .acquire(target.host_str().unwrap_or_default())
            .await;
        let response = self
            .client
            .post(target)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        Ok(response.status().as_u16())
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
        url: &url::Url,
        permanent: bool,
        redirected: bool,
    ) -> Result<HttpResponse, HttpError> {
        let headers = response.headers().clone();
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if let Some(length) = response.content_length() {
            if length > self.max_body_bytes {
                return Err(HttpError::BodyTooLarge {
                    limit: self.max_body_bytes,
                });
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if (body.len() + chunk.len()) as u64 > self.max_body_bytes {
                return Err(HttpError::BodyTooLarge {
                    limit: self.max_body_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let status = response.status().as_u16();
        Ok(HttpResponse {
            status,
            final_url: url.to_string(),
            permanent_redirect_to: permanent.then(|| url.to_string()),
            redirected,
            content_type: text(header::CONTENT_TYPE),
            content_location: text(header::CONTENT_LOCATION),
            etag: text(header::ETAG),
            last_modified: text(header::LAST_MODIFIED),
            retry_after: text(header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(&v, self.retry_after_cap)),
            max_age: text(header::CACHE_CONTROL).and_then(|v| parse_max_age(&v)),
            link_header: text(header::LINK),
            body,
        })
    }
}

/// One hop of a fetch: a redirect to follow, or the final response.
enum Hop {
    Redirect(StatusCode, Option<String>),
    Done(Box<HttpResponse>),
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        304 => "304",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn parse_http_url(url: &str) -> Result<url::Url, HttpError> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| HttpError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(HttpError::InvalidUrl {
            url: url.to_string(),
            reason: "not an http(s) URL with a host".into(),
        });
    }
    Ok(parsed)
}

fn classify(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        return HttpError::Timeout;
    }
    // The resolver's refusal arrives wrapped in connect errors.
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<crate::ssrf::SsrfRefused>() {
            return HttpError::Refused(refused.to_string());
        }
        source = e.source();
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    HttpError::Network(message)
}

/// `Retry-After` as seconds or an HTTP date, never longer than `cap`. A
/// number too large for any integer type is as good as "for ever", so it
/// becomes `cap`; a date in the past is no wait; anything else (negative,
/// fractional, garbage) is no answer, and the caller's default applies.
pub fn parse_retry_after(value: &str, cap: Duration) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(cap));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(cap),
    )
}

/// `max-age` from Cache-Control (ignored when `no-cache`/`no-store` say otherwise).
pub fn parse_max_age(value: &str) -> Option<Duration> {
    value.split(',').find_map(|directive| {
        let (name, seconds) = directive.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        seconds
            .trim()
            .trim_matches('"')
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_and_max_age() {
        let cap = Duration::from_secs(6 * 3600);
        assert_eq!(
            parse_retry_after("120", cap),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_max_age("no-store"), None);
    }

    #[test]
    fn retry_after_of_any_size_or_syntax_is_clamped_or_ignored() {
        let cap = Duration::from_secs(3600);
        let clamped = [
            "3601",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999999999999999999999999999999",
            " 000000000000000000000000000000000000000000000000000009999 ",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Fri Dec 31 23:59:59 9999",
        ];
        for value in clamped {
            assert_eq!(parse_retry_after(value, cap), Some(cap), "{value:?}");
        }
        let ignored = [
            "",
            "-1",
            "-99999999999999999999999",
            "1.5",
            "1e9",
            "+60",
            "soon",
            "Fri, 31 Dec 99999 23:59:59 GMT",
            "\u{0}\u{7f}",
            "60 60",
        ];
        for value in ignored {
            assert_eq!(parse_retry_after(value, cap), None, "{value:?}");
        }
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", cap),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("0", cap), Some(Duration::ZERO));
        // A cap of zero still works (no underflow anywhere).
        assert_eq!(
            parse_retry_after("120", Duration::ZERO),
            Some(Duration::ZERO)
        );
    }
}
