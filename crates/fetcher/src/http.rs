//! One HTTP GET as the fetcher needs it: conditional, capped, redirects
//! followed by hand (at most N, each hop through the SSRF guard and the
//! host limiter), and the response headers that drive scheduling.

use std::sync::Arc;
use std::time::Duration;

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

pub struct HttpClient {
    client: reqwest::Client,
    limiter: Arc<HostLimiter>,
    allow_private: bool,
    max_redirects: usize,
    max_body_bytes: u64,
}

impl HttpClient {
    pub fn new(config: &FetcherConfig, limiter: Arc<HostLimiter>) -> Result<Self, HttpError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(Duration::from_secs(config.request_timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.per_host_concurrency.max(1))
            .pool_idle_timeout(Duration::from_secs(30));
        if !config.allow_private_addresses {
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
        })
    }

    pub fn limiter(&self) -> &Arc<HostLimiter> {
        &self.limiter
    }

    /// GETs `url`, following up to `max_redirects` redirects. Status codes
    /// are not errors here: the caller decides what 304, 404 or 429 mean.
    pub async fn get(
        &self,
        url: &str,
        validators: &Validators,
        accept: &'static str,
    ) -> Result<HttpResponse, HttpError> {
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
            let response = self
                .client
                .get(current.clone())
                .headers(headers)
                .send()
                .await
                .map_err(classify)?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                drop(permit);
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(HttpError::BadRedirect)?;
                let next = current.join(location).map_err(|_| HttpError::BadRedirect)?;
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
                continue;
            }
            let result = self
                .read(response, &current, redirected && all_permanent, redirected)
                .await;
            drop(permit);
            return result;
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
            retry_after: text(header::RETRY_AFTER).and_then(|v| parse_retry_after(&v)),
            max_age: text(header::CACHE_CONTROL).and_then(|v| parse_max_age(&v)),
            link_header: text(header::LINK),
            body,
        })
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

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
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
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_max_age("no-store"), None);
    }
}
