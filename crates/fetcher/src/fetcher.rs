//! The runner: polls feeds over HTTP, fetches each new item's page, hands
//! it to the sink, and keeps the fetch state in SQLite.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::stream::{FuturesUnordered, StreamExt};
use newsflow_model::{RawPage, SCHEMA_VERSION};
use tokio_util::sync::CancellationToken;

use crate::blocking_parse::parse_off_the_async_workers;
use crate::config::{FetcherConfig, RawPageCompression};
use crate::feed_list::FeedSource;
use crate::host_limiter::HostLimiter;
use crate::http::{FetchTarget, HttpClient, HttpError, HttpResponse, Validators};
use crate::parse::{parse_feed_limited, FeedError, FeedLimits, ParsedFeed, ParsedItem};
use crate::schedule::{backoff, due_at_ms, next_interval, FreshnessHints};
use crate::sink::{PageSink, SinkError};
use crate::state::{FeedRow, FeedStatus, PruneSummary, StateError, StateSizes, StateStore};

/// How long to pause a host that said 429/503 without a `Retry-After`.
const DEFAULT_HOST_PAUSE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("HTTP client could not be built: {0}")]
    Client(#[from] HttpError),
}

/// Why one feed could not be fetched and parsed (for `feeds parse URL`).
#[derive(Debug, thiserror::Error)]
pub enum FeedFetchError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("HTTP {0}")]
    Status(u16),
    #[error(transparent)]
    Parse(#[from] FeedError),
}

/// What one pass over the feeds did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PollSummary {
    pub feeds_polled: usize,
    pub feeds_not_modified: usize,
    pub feeds_failed: usize,
    /// Disabled (410) feeds, and feeds whose host asked us to wait.
    pub feeds_skipped: usize,
    pub items_new: usize,
    pub pages_delivered: usize,
    pub pages_failed: usize,
    pub pages_not_html: usize,
    /// Items the document lists that are neither handed on nor given up
    /// after the pass: left for a later poll (the sink was unavailable, the
    /// page's host asked us to wait, a failed page to try again, or past
    /// `max_items_per_poll`).
    pub items_pending: usize,
}

impl PollSummary {
    fn add(&mut self, other: &PollSummary) {
        self.feeds_polled += other.feeds_polled;
        self.feeds_not_modified += other.feeds_not_modified;
        self.feeds_failed += other.feeds_failed;
        self.feeds_skipped += other.feeds_skipped;
        self.items_new += other.items_new;
        self.pages_delivered += other.pages_delivered;
        self.pages_failed += other.pages_failed;
        self.pages_not_html += other.pages_not_html;
        self.items_pending += other.items_pending;
    }
}

/// How often feeds are counted by state while the fetcher runs.
const FEED_COUNT_EVERY: Duration = Duration::from_secs(5);
/// The longest the feed loop sleeps between looks at what is due.
const MAX_TICK: Duration = Duration::from_millis(500);

pub struct Fetcher {
    config: FetcherConfig,
    state: StateStore,
    http: HttpClient,
}

impl Fetcher {
    /// A host that answered 429 or 503 gets no request, feed or page, for
    /// as long as it asked (capped at the backoff maximum), or a default
    /// pause when it did not say.
    fn pause_host(&self, response: &HttpResponse) -> Duration {
        let pause = response
            .retry_after
            .unwrap_or(DEFAULT_HOST_PAUSE)
            .min(Duration::from_secs(self.config.backoff_max_secs.max(1)));
        self.http
            .limiter()
            .pause(&host_of(&response.final_url), pause);
        pause
    }

    /// State (validators, item identities seen, schedule, failures) lives in
    /// SQLite at `db_path`; it survives restarts and crashes.
    pub fn open(db_path: &Path, config: FetcherConfig) -> Result<Self, FetchError> {
        Self::with_state(StateStore::open(db_path)?, config)
    }

    pub fn in_memory(config: FetcherConfig) -> Result<Self, FetchError> {
        Self::with_state(StateStore::in_memory()?, config)
    }

    fn with_state(state: StateStore, config: FetcherConfig) -> Result<Self, FetchError> {
        let limiter = Arc::new(HostLimiter::new(
            config.per_host_concurrency,
            Duration::from_millis(config.per_host_min_gap_ms),
            config.global_concurrency,
            Duration::from_secs(config.host_idle_secs),
        ));
        let http = HttpClient::new(&config, limiter)?;
        Ok(Self {
            config,
            state,
            http,
        })
    }

    pub fn config(&self) -> &FetcherConfig {
        &self.config
    }

    pub(crate) fn state(&self) -> &StateStore {
        &self.state
    }

    /// Hands on the new items of content a WebSub hub pushed.
    pub(crate) async fn deliver_pushed(
        &self,
        source: &FeedSource,
        row: &FeedRow,
        parsed: &ParsedFeed,
        sink: &dyn PageSink,
    ) -> PollSummary {
        let source = FeedSource {
            url: source.url.clone(),
            outlet: source.outlet.clone().or_else(|| row.title.clone()),
        };
        let summary = self.deliver_new_items(&source, row, parsed, sink).await;
        if summary.items_pending > 0 {
            // The next poll must read the document whole to find them.
            if let Err(error) = self.state.forget_validators(&row.url) {
                tracing::error!(feed = %row.url, %error, "cannot clear the feed's validators");
            }
        }
        summary
    }

    /// Subscribes to the feed's hub when WebSub is configured and there is
    /// no live subscription nor a recent request. The request is recorded
    /// as pending before it is sent, since a hub may verify it at once.
    async fn maybe_subscribe(&self, row: &mut FeedRow, parsed: &ParsedFeed) {
        let (Some(base), Some(hub)) = (self.config.websub_callback_url.as_deref(), row.hub.clone())
        else {
            return;
        };
        let now = Utc::now().timestamp();
        // Renew while at least one fallback poll remains before the lease
        // ends, since that poll is the next chance to do it.
        let renew_margin = i64::try_from(self.config.websub_fallback_interval_secs)
            .unwrap_or(i64::MAX)
            .saturating_add(3600);
        let live = row
            .websub_lease_until
            .is_some_and(|until| until > now.saturating_add(renew_margin));
        let pending_for = i64::try_from(self.config.websub_pending_secs).unwrap_or(i64::MAX);
        let recently_requested = row
            .websub_requested_at
            .is_some_and(|at| at > now.saturating_sub(pending_for));
        if live || recently_requested {
            return;
        }
        let topic = parsed
            .self_link
            .clone()
            .unwrap_or_else(|| row.current_url.clone());
        // The callback stays the feed's across renewals (a hub keys its
        // subscriptions by topic and callback); the secret is new each time.
        let ids = match (&row.websub_callback, crate::websub::new_secret()) {
            (Some(callback), Ok(secret)) => Ok((callback.clone(), secret)),
            (None, Ok(secret)) => crate::websub::new_callback_id().map(|c| (c, secret)),
            (_, Err(e)) => Err(e),
        };
        let (callback, secret) = match ids {
            Ok(ids) => ids,
            Err(error) => {
                tracing::error!(feed = %row.url, %error, "no randomness for a WebSub secret; not subscribing");
                return;
            }
        };
        let callback_url = format!("{}/{}", base.trim_end_matches('/'), callback);
        let lease = self.config.websub_lease_secs.to_string();
        let request = crate::state::WebSubRequest {
            mode: "subscribe",
            topic: &topic,
            secret: Some(&secret),
            callback: &callback,
            at: now,
        };
        if let Err(error) = self.state.websub_request(&row.url, &request) {
            tracing::error!(feed = %row.url, %error, "cannot record the WebSub request; not subscribing");
            return;
        }
        row.websub_requested_at = Some(now);
        row.websub_callback = Some(callback.clone());
        let fields = [
            ("hub.mode", "subscribe"),
            ("hub.topic", topic.as_str()),
            ("hub.callback", callback_url.as_str()),
            ("hub.secret", secret.as_str()),
            ("hub.lease_seconds", lease.as_str()),
        ];
        let failed = match self.http.post_form(&hub, &fields).await {
            Ok(status) if (200..300).contains(&status) => {
                tracing::info!(feed = %row.url, %hub, "WebSub subscription requested");
                false
            }
            Ok(status) => {
                tracing::warn!(feed = %row.url, %hub, status, "WebSub hub refused the subscription");
                true
            }
            Err(error) => {
                tracing::warn!(feed = %row.url, %hub, %error, "WebSub subscription failed");
                true
            }
        };
        if failed {
            if let Err(error) = self.state.websub_request_failed(&row.url) {
                tracing::error!(feed = %row.url, %error, "cannot clear the failed WebSub request");
            }
        }
    }

    /// Forgets state past its window (see [`FetcherConfig::item_window_secs`]):
    /// items and page failures no longer listed by their feed, feeds no
    /// longer in `feeds`, expired WebSub requests, and idle hosts.
    pub fn prune_state(&self, feeds: &[FeedSource]) -> Result<PruneSummary, FetchError> {
        let live: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        let summary = self.state.prune(
            Utc::now().timestamp(),
            i64::try_from(self.config.item_window_secs).unwrap_or(i64::MAX),
            i64::try_from(self.config.websub_pending_secs).unwrap_or(i64::MAX),
            &live,
        )?;
        self.http.limiter().evict_idle();
        for (table, count) in [
            ("items", summary.items),
            ("page_failures", summary.page_failures),
            ("feeds", summary.feeds),
            ("websub_pending", summary.websub_pending),
        ] {
            metrics::counter!("newsflow_fetcher_state_pruned_total", "table" => table)
                .increment(count as u64);
        }
        if let Ok(sizes) = self.state.sizes() {
            for (table, rows) in [
                ("items", sizes.items),
                ("page_failures", sizes.page_failures),
                ("feeds", sizes.feeds),
                ("websub_pending", sizes.websub_pending),
            ] {
                metrics::gauge!("newsflow_fetcher_state_rows", "table" => table).set(rows as f64);
            }
        }
        if summary != PruneSummary::default() {
            tracing::info!(?summary, "fetch state pruned");
        }
        Ok(summary)
    }

    /// Rows in the fetch state's bounded tables.
    pub fn state_sizes(&self) -> Result<StateSizes, FetchError> {
        Ok(self.state.sizes()?)
    }

    /// Hosts in the per-host politeness map.
    pub fn hosts_tracked(&self) -> usize {
        self.http.limiter().hosts_tracked()
    }

    /// The largest number of requests ever in flight to one host.
    pub fn peak_requests_per_host(&self) -> usize {
        self.http.limiter().peak_per_host()
    }

    /// Sets the gauge of feeds by state (active, failing, disabled).
    pub fn report_feed_states(&self) {
        match self.state.feed_states() {
            Ok(states) => {
                for (state, feeds) in [
                    ("active", states.active),
                    ("failing", states.failing),
                    ("disabled", states.disabled),
                ] {
                    metrics::gauge!("newsflow_fetcher_feeds", "state" => state).set(feeds as f64);
                }
            }
            Err(error) => tracing::debug!(%error, "counting feeds by state failed"),
        }
    }

    pub fn feed_statuses(&self) -> Result<Vec<FeedStatus>, FetchError> {
        Ok(self.state.statuses()?)
    }

    /// One pass over every feed (disabled ones and those whose host asked us
    /// to wait are skipped). Failures are logged and recorded; none stops the pass.
    pub async fn poll_once(&self, feeds: &[FeedSource], sink: &dyn PageSink) -> PollSummary {
        let mut summary = PollSummary::default();
        let mut polls = futures::stream::iter(
            interleave_hosts(feeds)
                .into_iter()
                .map(|feed| self.poll_feed(feed, sink)),
        )
        .buffer_unordered(self.config.feed_concurrency.max(1));
        while let Some(outcome) = polls.next().await {
            summary.add(&outcome);
        }
        drop(polls);
        self.report_feed_states();
        summary
    }

    /// Polls each feed when it is due, until `shutdown` is cancelled.
    pub async fn run(
        &self,
        feeds: Vec<FeedSource>,
        sink: Arc<dyn PageSink>,
        shutdown: CancellationToken,
    ) {
        let feeds: Vec<FeedSource> = interleave_hosts(&feeds).into_iter().cloned().collect();
        // When each feed is next due (unix ms), kept in memory so that a
        // tick does not read the state of every feed; refreshed after each
        // poll.
        let mut due: Vec<i64> = feeds.iter().map(|f| self.next_due_ms(&f.url)).collect();
        let mut busy: HashSet<usize> = HashSet::new();
        let mut in_flight = FuturesUnordered::new();
        let concurrency = self.config.feed_concurrency.max(1);
        let prune_every = Duration::from_secs(self.config.prune_interval_secs.max(1));
        let mut next_prune = tokio::time::Instant::now();
        let mut next_feed_count = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_prune {
                next_prune = tokio::time::Instant::now() + prune_every;
                if let Err(error) = self.prune_state(&feeds) {
                    tracing::error!(%error, "cannot prune the fetch state");
                }
            }
            if tokio::time::Instant::now() >= next_feed_count {
                next_feed_count = tokio::time::Instant::now() + FEED_COUNT_EVERY;
                self.report_feed_states();
            }
            let now = Utc::now().timestamp_millis();
            for (index, feed) in feeds.iter().enumerate() {
                if in_flight.len() >= concurrency {
                    break;
                }
                if due[index] > now || busy.contains(&index) {
                    continue;
                }
                busy.insert(index);
                let sink = sink.clone();
                in_flight.push(async move {
                    self.poll_feed(feed, sink.as_ref()).await;
                    index
                });
            }
            // Sleep until the next feed falls due (each has its own moment
            // in the second), at most a tick; with every slot taken, only a
            // poll ending frees one.
            let next_due = due
                .iter()
                .enumerate()
                .filter(|(index, _)| !busy.contains(index))
                .map(|(_, at)| *at)
                .min()
                .unwrap_or(i64::MAX);
            let wait = if in_flight.len() >= concurrency {
                MAX_TICK
            } else {
                Duration::from_millis(
                    next_due
                        .saturating_sub(now)
                        .clamp(0, MAX_TICK.as_millis() as i64) as u64,
                )
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(index) = in_flight.next(), if !in_flight.is_empty() => {
                    busy.remove(&index);
                    due[index] = self.next_due_ms(&feeds[index].url);
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(in_flight = in_flight.len(), "fetcher stopping");
    }

    /// When a feed is next due, in unix ms (never, once it is disabled).
    fn next_due_ms(&self, url: &str) -> i64 {
        match self.state.feed(url) {
            Ok(row) if row.disabled => i64::MAX,
            Ok(row) => due_at_ms(row.next_poll_at, url),
            Err(e) => {
                tracing::error!(feed = %url, error = %e, "cannot read fetch state");
                due_at_ms(Utc::now().timestamp() + 60, url)
            }
        }
    }

    /// Fetches and parses one feed without touching the fetch state: what
    /// the fetcher makes of it (`newsflow feeds parse URL`).
    pub async fn fetch_feed(&self, url: &str) -> Result<ParsedFeed, FeedFetchError> {
        let response = self
            .http
            .get(url, &Validators::default(), FetchTarget::Feed)
            .await?;
        if !(200..300).contains(&response.status) {
            return Err(FeedFetchError::Status(response.status));
        }
        Ok(self.parse_response(&response).await?)
    }

    /// Parses a feed response on the blocking pool, within the configured
    /// limits and time budget (a panic or a timeout is a `FeedError`).
    async fn parse_response(&self, response: &HttpResponse) -> Result<ParsedFeed, FeedError> {
        let body = response.body.clone();
        let content_type = response.content_type.clone();
        let base = document_base(response);
        let limits = FeedLimits {
            max_items: self.config.max_items_per_document,
        };
        parse_off_the_async_workers(
            move || parse_feed_limited(&body, content_type.as_deref(), &base, &limits),
            Duration::from_secs(self.config.feed_parse_timeout_secs),
        )
        .await
    }

    /// Polls one feed now, whatever its schedule.
    pub async fn poll_feed(&self, source: &FeedSource, sink: &dyn PageSink) -> PollSummary {
        let summary = self.poll_feed_inner(source, sink).await;
        let outcome = if summary.feeds_skipped > 0 {
            "skipped"
        } else if summary.feeds_failed > 0 {
            "failed"
        } else if summary.feeds_not_modified > 0 {
            "not_modified"
        } else {
            "updated"
        };
        metrics::counter!("newsflow_fetcher_polls_total", "outcome" => outcome).increment(1);
        summary
    }

    async fn poll_feed_inner(&self, source: &FeedSource, sink: &dyn PageSink) -> PollSummary {
        let mut summary = PollSummary::default();
        let mut row = match self.state.feed(&source.url) {
            Ok(row) => row,
            Err(e) => {
                tracing::error!(feed = %source.url, error = %e, "cannot read fetch state");
                summary.feeds_failed = 1;
                return summary;
            }
        };
        if row.disabled {
            summary.feeds_skipped = 1;
            return summary;
        }
        let host = host_of(&row.current_url);
        if let Some(until) = self.http.limiter().paused_until(&host) {
            tracing::debug!(feed = %source.url, "host asked us to wait; skipping");
            let wait = until.duration_since(tokio::time::Instant::now()).as_secs();
            row.next_poll_at = row.next_poll_at.max(
                Utc::now()
                    .timestamp()
                    .saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
                    .saturating_add(1),
            );
            self.save(&row);
            summary.feeds_skipped = 1;
            return summary;
        }
        summary.feeds_polled = 1;
        let validators = Validators {
            etag: row.etag.clone(),
            last_modified: row.last_modified.clone(),
        };
        let result = self
            .http
            .get(&row.current_url, &validators, FetchTarget::Feed)
            .await;
        row.last_fetch_at = Some(Utc::now().timestamp());
        match result {
            Err(error) => {
                row.last_status = None;
                self.record_feed_failure(&mut row, error.kind(), &error.to_string(), None);
                summary.feeds_failed = 1;
            }
            Ok(response) => {
                row.last_status = Some(response.status);
                self.track_redirect(&mut row, &response);
                self.handle_feed_response(source, &mut row, response, sink, &mut summary)
                    .await;
            }
        }
        self.save(&row);
        summary
    }

    async fn handle_feed_response(
        &self,
        source: &FeedSource,
        row: &mut FeedRow,
        response: HttpResponse,
        sink: &dyn PageSink,
        summary: &mut PollSummary,
    ) {
        match response.status {
            304 => {
                summary.feeds_not_modified = 1;
                self.record_feed_success(row, &[], false, hints(&response, None));
            }
            200..=299 => match self.parse_response(&response).await {
                Ok(parsed) => {
                    row.etag = response.etag.clone();
                    row.last_modified = response.last_modified.clone();
                    row.title = parsed.title.clone().or(row.title.take());
                    row.hub = parsed.hub.clone().or_else(|| {
                        response
                            .link_header
                            .as_deref()
                            .and_then(|l| link_with_rel(l, "hub"))
                    });
                    self.maybe_subscribe(row, &parsed).await;
                    let pages = self.deliver_new_items(source, row, &parsed, sink).await;
                    if pages.items_pending > 0 {
                        // Items are left for a later poll: with the
                        // validators kept, that poll would get a 304 and
                        // not see them again until the feed changes (a
                        // quiet feed: never). Read the document whole.
                        row.etag = None;
                        row.last_modified = None;
                    }
                    self.mark_listed(&source.url, &parsed);
                    summary.add(&pages);
                    let dates: Vec<_> = parsed.items.iter().filter_map(|i| i.published).collect();
                    self.record_feed_success(
                        row,
                        &dates,
                        pages.items_new > 0,
                        hints(&response, Some(&parsed)),
                    );
                }
                Err(error) => {
                    summary.feeds_failed = 1;
                    self.record_feed_failure(
                        row,
                        "parse",
                        &format!("feed could not be parsed: {error}"),
                        None,
                    );
                }
            },
            410 => {
                summary.feeds_failed = 1;
                metrics::counter!("newsflow_fetcher_feed_failures_total", "kind" => "gone")
                    .increment(1);
                row.disabled = true;
                row.last_error =
                    Some("HTTP 410 Gone: the feed was removed; polling disabled".into());
                tracing::warn!(feed = %source.url, "feed is gone (410); disabled");
            }
            429 | 503 => {
                summary.feeds_failed = 1;
                let pause = self.pause_host(&response);
                self.record_feed_failure(
                    row,
                    "throttled",
                    &format!(
                        "HTTP {} (asked to wait {}s)",
                        response.status,
                        pause.as_secs()
                    ),
                    Some(pause),
                );
            }
            status => {
                summary.feeds_failed = 1;
                self.record_feed_failure(row, "http_status", &format!("HTTP {status}"), None);
            }
        }
    }

    async fn deliver_new_items(
        &self,
        source: &FeedSource,
        row: &FeedRow,
        parsed: &ParsedFeed,
        sink: &dyn PageSink,
    ) -> PollSummary {
        let mut summary = PollSummary::default();
        let outlet = source
            .outlet
            .clone()
            .or_else(|| parsed.title.clone())
            .unwrap_or_else(|| host_of(&row.current_url));
        // Once the sink is down, the rest of the pass only counts what is
        // left for later; nothing more is fetched.
        let mut sink_down = false;
        for item in &parsed.items {
            let Some(link) = item.link.as_deref() else {
                tracing::debug!(feed = %source.url, item = %item.identity, "item has no link; nothing to fetch");
                continue;
            };
            match (
                self.state.is_seen(&item.identity),
                self.state.is_given_up(&item.identity),
            ) {
                (Ok(false), Ok(false)) => {}
                (Ok(_), Ok(_)) => continue,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "cannot read fetch state");
                    summary.items_pending += 1;
                    continue;
                }
            }
            // The cap counts pages fetched, not items listed: the items past
            // it are fetched by the next polls.
            if sink_down || summary.items_new >= self.config.max_items_per_poll {
                summary.items_pending += 1;
                continue;
            }
            summary.items_new += 1;
            match self.fetch_page(source, item, link, &outlet).await {
                PageResult::Page(page) => match sink.deliver(*page).await {
                    Ok(()) => {
                        summary.pages_delivered += 1;
                        page_outcome("delivered");
                        if let Err(e) =
                            self.state
                                .mark_seen(&item.identity, &source.url, item.published)
                        {
                            tracing::error!(item = %item.identity, error = %e, "page delivered but not marked seen; it will be delivered again");
                            summary.items_pending += 1;
                        }
                    }
                    Err(SinkError::Rejected(message)) => {
                        // Dead-lettered by the sink: this item is done with,
                        // the rest of the feed is not held up by it.
                        summary.pages_failed += 1;
                        page_outcome("rejected");
                        tracing::warn!(feed = %source.url, item = %item.identity, error = %message, "page can never be delivered; dead-lettered");
                        if !self.page_failed(&item.identity, &source.url, &message, true) {
                            summary.items_pending += 1;
                        }
                    }
                    Err(e @ SinkError::Unavailable(_)) => {
                        // The sink is down: leave the rest for the next poll.
                        tracing::error!(feed = %source.url, item = %item.identity, error = %e, "sink refused page; stopping this feed's pass");
                        summary.pages_failed += 1;
                        summary.items_pending += 1;
                        page_outcome("sink_unavailable");
                        sink_down = true;
                    }
                },
                PageResult::NotHtml(content_type) => {
                    summary.pages_not_html += 1;
                    page_outcome("not_html");
                    let message = format!("not an HTML page (Content-Type {content_type})");
                    tracing::warn!(feed = %source.url, url = %link, "{message}; skipped");
                    if !self.page_failed(&item.identity, &source.url, &message, true) {
                        summary.items_pending += 1;
                    }
                }
                PageResult::Failed { message, permanent } => {
                    summary.pages_failed += 1;
                    page_outcome("failed");
                    tracing::warn!(feed = %source.url, url = %link, error = %message, "page fetch failed");
                    if !self.page_failed(&item.identity, &source.url, &message, permanent) {
                        summary.items_pending += 1;
                    }
                }
                PageResult::Deferred => {
                    summary.items_pending += 1;
                    page_outcome("deferred");
                    tracing::debug!(feed = %source.url, url = %link, "page host asked us to wait; next poll");
                }
            }
        }
        summary
    }

    /// Records that the feed's document, just read whole, lists its items
    /// now (what `prune` keeps them by).
    fn mark_listed(&self, feed_url: &str, parsed: &ParsedFeed) {
        let ids: Vec<&str> = parsed.items.iter().map(|i| i.identity.as_str()).collect();
        if let Err(error) = self
            .state
            .mark_listed(feed_url, &ids, Utc::now().timestamp())
        {
            tracing::error!(feed = %feed_url, %error, "cannot record the items the feed lists");
        }
    }

    /// Records a failed page; returns whether its item is given up (done
    /// with) rather than left for a later poll.
    fn page_failed(&self, item_id: &str, feed_url: &str, message: &str, permanent: bool) -> bool {
        match self.state.record_page_failure(
            item_id,
            feed_url,
            message,
            self.config.max_page_attempts,
            permanent,
        ) {
            Ok(true) => {
                metrics::counter!("newsflow_fetcher_pages_given_up_total").increment(1);
                tracing::info!(item = %item_id, "giving up on this item's page");
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::error!(item = %item_id, error = %e, "cannot record page failure");
                false
            }
        }
    }

    async fn fetch_page(
        &self,
        source: &FeedSource,
        item: &ParsedItem,
        link: &str,
        outlet: &str,
    ) -> PageResult {
        if self.http.limiter().paused_until(&host_of(link)).is_some() {
            return PageResult::Deferred;
        }
        let response = match self
            .http
            .get(link, &Validators::default(), FetchTarget::Page)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let permanent = matches!(
                    e,
                    HttpError::Refused(_)
                        | HttpError::InvalidUrl { .. }
                        | HttpError::BodyTooLarge { .. }
                );
                return PageResult::Failed {
                    message: e.to_string(),
                    permanent,
                };
            }
        };
        match response.status {
            200..=299 => {}
            429 | 503 => {
                self.pause_host(&response);
                return PageResult::Failed {
                    message: format!("HTTP {}", response.status),
                    permanent: false,
                };
            }
            status => {
                return PageResult::Failed {
                    message: format!("HTTP {status}"),
                    permanent: status == 410,
                }
            }
        }
        if !is_html(response.content_type.as_deref(), &response.body) {
            return PageResult::NotHtml(response.content_type.unwrap_or_else(|| "absent".into()));
        }
        // Unset means as served here; the binary sets it for its bus.
        let wanted = self
            .config
            .page_compression
            .and_then(RawPageCompression::body_compression);
        let (body, body_compression) = match wanted.map(|c| (c, c.compress(&response.body))) {
            Some((compression, Ok(compressed))) => (compressed, Some(compression)),
            Some((_, Err(error))) => {
                tracing::warn!(url = %response.final_url, %error, "page not compressed; sent as served");
                (response.body, None)
            }
            None => (response.body, None),
        };
        PageResult::Page(Box::new(RawPage {
            schema_version: SCHEMA_VERSION,
            item_id: item.identity.clone(),
            feed_url: source.url.clone(),
            outlet: outlet.to_string(),
            item_link: link.to_string(),
            item_title: item.title.clone(),
            item_summary: item.summary.clone(),
            item_published: item.published,
            final_url: response.final_url,
            http_status: response.status,
            content_type: response.content_type,
            fetched_at: Utc::now(),
            body,
            body_compression,
        }))
    }

    fn track_redirect(&self, row: &mut FeedRow, response: &HttpResponse) {
        match &response.permanent_redirect_to {
            Some(target) if (200..300).contains(&response.status) || response.status == 304 => {
                if row.redirect_target.as_deref() == Some(target) {
                    row.redirect_seen += 1;
                } else {
                    row.redirect_target = Some(target.clone());
                    row.redirect_seen = 1;
                }
                if row.redirect_seen >= self.config.permanent_redirect_threshold.max(1) {
                    tracing::info!(feed = %row.url, from = %row.current_url, to = %target, "feed moved permanently; URL updated");
                    row.current_url = target.clone();
                    row.redirect_target = None;
                    row.redirect_seen = 0;
                }
            }
            _ if !response.redirected => {}
            _ => {
                row.redirect_target = None;
                row.redirect_seen = 0;
            }
        }
    }

    fn record_feed_success(
        &self,
        row: &mut FeedRow,
        dates: &[chrono::DateTime<Utc>],
        found_new: bool,
        hints: FreshnessHints,
    ) {
        row.consecutive_failures = 0;
        row.last_error = None;
        let previous = row
            .interval_secs
            .map(|s| Duration::from_secs(s.max(0) as u64));
        let mut interval = next_interval(&self.config, previous, dates, found_new, hints);
        if row.hub.is_some()
            && row
                .websub_lease_until
                .is_some_and(|l| l > Utc::now().timestamp())
        {
            interval = interval.max(Duration::from_secs(
                self.config.websub_fallback_interval_secs,
            ));
        }
        let interval_secs = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX);
        row.interval_secs = Some(interval_secs);
        row.next_poll_at = Utc::now().timestamp().saturating_add(interval_secs);
    }

    fn record_feed_failure(
        &self,
        row: &mut FeedRow,
        kind: &'static str,
        message: &str,
        retry_after: Option<Duration>,
    ) {
        metrics::counter!("newsflow_fetcher_feed_failures_total", "kind" => kind).increment(1);
        row.consecutive_failures = row.consecutive_failures.saturating_add(1);
        row.last_error = Some(message.to_string());
        let delay = backoff(&self.config, row.consecutive_failures, retry_after);
        row.next_poll_at = Utc::now()
            .timestamp()
            .saturating_add(i64::try_from(delay.as_secs().max(1)).unwrap_or(i64::MAX));
        tracing::warn!(feed = %row.url, url = %row.current_url, failures = row.consecutive_failures, retry_in_secs = delay.as_secs(), error = %message, "feed poll failed");
    }

    fn save(&self, row: &FeedRow) {
        if let Err(e) = self.state.save_feed(row) {
            tracing::error!(feed = %row.url, error = %e, "cannot save fetch state");
        }
    }
}

/// Counts what became of one new item's page.
fn page_outcome(outcome: &'static str) {
    metrics::counter!("newsflow_fetcher_pages_total", "outcome" => outcome).increment(1);
}

enum PageResult {
    Page(Box<RawPage>),
    NotHtml(String),
    Failed {
        message: String,
        permanent: bool,
    },
    /// The page's host asked us to wait; tried again on a later poll
    /// without counting as a failed attempt.
    Deferred,
}

fn hints(response: &HttpResponse, parsed: Option<&ParsedFeed>) -> FreshnessHints {
    FreshnessHints {
        ttl: parsed
            .and_then(|p| p.ttl_minutes)
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        update_period: parsed
            .and_then(|p| p.update_period_secs)
            .map(Duration::from_secs),
        max_age: response.max_age,
    }
}

/// Orders feeds round-robin over their hosts, so that a run of feeds on one
/// host does not fill every concurrent slot with requests waiting their turn.
fn interleave_hosts(feeds: &[FeedSource]) -> Vec<&FeedSource> {
    let mut by_host: Vec<(String, std::collections::VecDeque<&FeedSource>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for feed in feeds {
        let host = host_of(&feed.url);
        let slot = *index.entry(host.clone()).or_insert_with(|| {
            by_host.push((host, std::collections::VecDeque::new()));
            by_host.len() - 1
        });
        by_host[slot].1.push_back(feed);
    }
    let mut out = Vec::with_capacity(feeds.len());
    while out.len() < feeds.len() {
        for (_, queue) in by_host.iter_mut() {
            if let Some(feed) = queue.pop_front() {
                out.push(feed);
            }
        }
    }
    out
}

/// The URL relative links in a feed resolve against: `Content-Location`
/// when it is a usable http(s) URL, else the URL the feed came from.
fn document_base(response: &HttpResponse) -> String {
    response
        .content_location
        .as_deref()
        .and_then(|cl| {
            url::Url::parse(&response.final_url)
                .ok()?
                .join(cl.trim())
                .ok()
        })
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.to_string())
        .unwrap_or_else(|| response.final_url.clone())
}

/// The target of the first `rel` link in an HTTP `Link` header (WebSub
/// discovery allows the hub to be announced there instead of in the feed).
fn link_with_rel(header: &str, rel: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let names_rel = params.split(';').any(|p| {
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|v| v.eq_ignore_ascii_case(rel))
        });
        names_rel.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

pub(crate) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// HTML by Content-Type; without one, by a sniff of the first bytes.
fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type {
        Some(ct) => {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            mime == "text/html" || mime == "application/xhtml+xml"
        }
        None => {
            let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
            head.contains("<!doctype html") || head.contains("<html")
        }
    }
}
