//! Fetcher settings. Every field has a default, so a config file names only
//! what it changes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the fetcher hands page bodies to `raw` (`fetcher.page_compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawPageCompression {
    /// As served.
    None,
    /// Compressed with zstd inside the message.
    Zstd,
}

impl RawPageCompression {
    /// What a `raw` message's `body_compression` says with this setting.
    pub fn body_compression(self) -> Option<newsflow_model::PageCompression> {
        match self {
            Self::None => None,
            Self::Zstd => Some(newsflow_model::PageCompression::Zstd),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FetcherConfig {
    /// SSRF guard: feeds and article links that resolve to loopback, private,
    /// link-local or metadata addresses are refused unless this is set.
    pub allow_private_addresses: bool,
    /// Proxy every request goes through (`http://proxy.internal:3128`).
    /// Without it, `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` in the environment
    /// are ignored: the SSRF guard must check the address the fetcher
    /// really connects to, and through an unnamed proxy that would be the
    /// proxy, not the target. With it, the guard still refuses target URLs
    /// whose host is a non-public IP literal; names are resolved by the
    /// proxy, which the operator trusts to filter them.
    pub proxy: Option<String>,
    /// The User-Agent header of every request.
    pub user_agent: String,
    /// Time budget of one fetch, from the first connection to the last byte
    /// of the body, over every redirect hop together (waiting for the host's
    /// turn does not count). Cuts servers that drip headers or body a byte
    /// at a time (slowloris) however steady the drip.
    pub request_timeout_secs: u64,
    /// A connection not established in this many seconds fails.
    pub connect_timeout_secs: u64,
    /// Bodies larger than this are cut off and the fetch counts as failed.
    pub max_body_bytes: u64,
    /// Redirects followed per request at most.
    pub max_redirects: usize,
    /// Requests in flight to one host at once, feeds and pages together.
    pub per_host_concurrency: usize,
    /// Minimum gap between the starts of two requests to one host.
    pub per_host_min_gap_ms: u64,
    /// Requests in flight over all hosts.
    pub global_concurrency: usize,
    /// Feeds being polled at once (most of them wait on their host's turn;
    /// the host and global limits bound the requests themselves).
    pub feed_concurrency: usize,
    /// Shortest adaptive poll interval of a feed.
    pub min_interval_secs: u64,
    /// Longest adaptive poll interval of a feed.
    pub max_interval_secs: u64,
    /// Interval for a feed with no history yet.
    pub default_interval_secs: u64,
    /// Backoff after failures: base * 2^(failures-1), capped, with jitter.
    pub backoff_base_secs: u64,
    /// The cap of the backoff after failures; also the longest a server's
    /// `Retry-After` can make us wait, whatever its size or syntax.
    pub backoff_max_secs: u64,
    /// An item whose page keeps failing is given up after this many tries.
    pub max_page_attempts: u32,
    /// A 301/308 must be seen this many polls in a row before the stored
    /// feed URL is replaced (a one-off misconfiguration must not move it).
    pub permanent_redirect_threshold: u32,
    /// Pages fetched per feed per poll at most (a new feed may list
    /// hundreds); the items past it are fetched by the following polls.
    pub max_items_per_poll: usize,
    /// `"zstd"`: each page's body goes to `raw` compressed inside its
    /// message (`body_compression`), about 4x smaller, so the bus stores,
    /// syncs and serves a quarter of the bytes. `"none"`: pages as served.
    /// Unset: `zstd` on the embedded bus (every reader of `raw` is this
    /// binary), `none` on Kafka, where other programs may read `raw` and a
    /// cleaner older than the field would take the compressed bytes for the
    /// page; there set `zstd` once every cleaner is of this version, and on
    /// tansu, which recompresses records for every fetch so the bus's own
    /// `compression` stays `none`, it pays most (`config/tansu.toml`).
    pub page_compression: Option<RawPageCompression>,
    /// When a feed names a WebSub hub, polling falls back to this interval.
    pub websub_fallback_interval_secs: u64,
    /// Public base URL of the WebSub callback endpoint (served by
    /// `websub_router`), e.g. `https://news.example.org/websub`. Without
    /// it the fetcher does not subscribe to hubs.
    pub websub_callback_url: Option<String>,
    /// Lease asked of WebSub hubs for a subscription; renewed before it ends.
    pub websub_lease_secs: u64,
    /// A subscription request the hub has not verified within this time
    /// is forgotten: its verification is refused, and the next poll asks
    /// again.
    pub websub_pending_secs: u64,
    /// How long an item is remembered (seen, failed or given up) after it
    /// was last listed in its feed's document. An item still listed is
    /// never forgotten, whatever its age, so nothing a feed still carries is
    /// fetched again; the window only has to outlast feeds that drop an item
    /// and list it again later (flapping caches, paged or truncated views),
    /// hence weeks, far beyond the hours to days a feed keeps an item.
    pub item_window_secs: u64,
    /// How often the fetch state is pruned to its window while running.
    pub prune_interval_secs: u64,
    /// A host with nothing in flight, no pause and no request for this long
    /// is dropped from the per-host politeness map (its minimum gap has long
    /// passed, so forgetting it changes nothing).
    pub host_idle_secs: u64,
    /// Items read from one feed document at most; later ones are left out
    /// before the document is parsed (feeds list newest first), so a feed of
    /// 100,000 items costs what one of this many does.
    pub max_items_per_document: usize,
    /// Time budget for parsing one feed document (on the blocking pool);
    /// past it the poll counts as failed and the other feeds go on.
    pub feed_parse_timeout_secs: u64,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            proxy: None,
            user_agent: concat!("newsflow/", env!("CARGO_PKG_VERSION"), " (+feed fetcher)")
                .to_string(),
            request_timeout_secs: 30,
            connect_timeout_secs: 10,
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            per_host_concurrency: 2,
            per_host_min_gap_ms: 250,
            global_concurrency: 64,
            feed_concurrency: 512,
            min_interval_secs: 120,
            max_interval_secs: 6 * 3600,
            default_interval_secs: 900,
            backoff_base_secs: 60,
            backoff_max_secs: 6 * 3600,
            max_page_attempts: 3,
            permanent_redirect_threshold: 2,
            max_items_per_poll: 200,
            page_compression: None,
            websub_fallback_interval_secs: 6 * 3600,
            websub_callback_url: None,
            websub_lease_secs: 7 * 86_400,
            websub_pending_secs: 3600,
            item_window_secs: 30 * 86_400,
            prune_interval_secs: 3600,
            host_idle_secs: 600,
            max_items_per_document: crate::parse::DEFAULT_MAX_ITEMS_PER_DOCUMENT,
            feed_parse_timeout_secs: 20,
        }
    }
}
