//! `raw`: a fetched article page together with what its feed said about it.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::page_compression::page_bytes;
use crate::{topics, Message, PageBodyError, PageCompression};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RawPage {
    /// The message's schema version: `1` (readers of major version 1
    /// accept any `1.x`).
    pub schema_version: u32,
    /// Stable identity of the feed item (trusted GUID, else canonical link).
    pub item_id: String,
    pub feed_url: String,
    /// The outlet's name, from config or the feed title.
    pub outlet: String,
    /// Link given by the feed item, resolved against the feed URL.
    pub item_link: String,
    pub item_title: Option<String>,
    pub item_summary: Option<String>,
    pub item_published: Option<DateTime<Utc>>,
    /// URL the page was finally served from, after redirects.
    pub final_url: String,
    pub http_status: u16,
    pub content_type: Option<String>,
    pub fetched_at: DateTime<Utc>,
    /// The page as served, or compressed as `body_compression` says.
    #[serde(with = "crate::bytes_base64")]
    #[schemars(with = "String", extend("contentEncoding" = "base64"))]
    pub body: Vec<u8>,
    /// Absent: `body` is the page as served. `zstd`: the fetcher
    /// compressed it (`fetcher.page_compression`); read it with
    /// [`RawPage::page`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_compression: Option<PageCompression>,
}

impl RawPage {
    /// The page as served, however it travelled; at most `limit` bytes.
    pub fn page(&self, limit: usize) -> Result<Cow<'_, [u8]>, PageBodyError> {
        page_bytes(&self.body, self.body_compression, limit)
    }
}

impl Message for RawPage {
    const TOPIC: &'static str = topics::RAW;
    /// Keyed by item identity so re-fetches of one item stay in order.
    fn key(&self) -> String {
        self.item_id.clone()
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}
