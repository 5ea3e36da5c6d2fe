//! The pure core: one feed document in, feed title and items out. Bytes are
//! decoded and repaired (see `decode`, `repair`) before feed-rs reads them,
//! and every item gets a stable identity and links resolved to absolute URLs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decode::{decode_feed_bytes, CharsetSource};
use crate::identity::item_identity;
use crate::repair::{repair_feed_text, Repair};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedLink {
    pub href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedItem {
    /// Stable across re-polls; see `identity::item_identity`.
    pub identity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    /// The item's page, absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ParsedLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedFeed {
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// The site the feed belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Format in feedparser's naming: `rss20`, `rss10`, `atom10`, `atom03`, `json`...
    pub format: String,
    /// Charset the bytes were decoded with, and where that came from.
    pub encoding: String,
    pub charset_source: CharsetSource,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<Repair>,
    /// The WebSub hub the feed names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// RSS `<ttl>`, in minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_minutes: Option<u32>,
    /// `sy:updatePeriod` / `sy:updateFrequency`, as seconds between updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_period_secs: Option<u64>,
    pub items: Vec<ParsedItem>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("empty document")]
    Empty,
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("feed could not be parsed: {0}")]
    Malformed(String),
    #[error("feed has {markup} item elements but none could be read")]
    ItemsLost { markup: usize },
}

/// Parses one feed document. `feed_url` is where it was finally fetched
/// from; relative links resolve against it (or the feed's `xml:base`).
pub fn parse_feed(
    body: &[u8],
    content_type: Option<&str>,
    feed_url: &str,
) -> Result<ParsedFeed, FeedError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FeedError::Empty);
    }
    let decoded = decode_feed_bytes(body, content_type);
    let trimmed = decoded.text.trim_start();
    if trimmed.starts_with('{') {
        return parse_with_feed_rs(trimmed, feed_url, FeedMeta::json(&decoded));
    }
    if !trimmed.contains('<') {
        return Err(FeedError::NotAFeed("no XML or JSON content".into()));
    }
    let repaired = repair_feed_text(&decoded.text);
    let meta = FeedMeta {
        encoding: decoded.encoding.name().to_string(),
        charset_source: decoded.source,
        repairs: repaired.repairs.clone(),
        format: crate::format::detect_format(&decoded.text),
        markup_items: count_item_elements(&repaired.text),
        update_period_secs: syndication_hint(&repaired.text),
    };
    parse_with_feed_rs(&repaired.text, feed_url, meta)
}

struct FeedMeta {
    encoding: String,
    charset_source: CharsetSource,
    repairs: Vec<Repair>,
    format: String,
    markup_items: usize,
    update_period_secs: Option<u64>,
}

impl FeedMeta {
    fn json(decoded: &crate::decode::DecodedText) -> Self {
        Self {
            encoding: decoded.encoding.name().to_string(),
            charset_source: decoded.source,
            repairs: Vec::new(),
            format: "json".into(),
            markup_items: 0,
            update_period_secs: None,
        }
    }
}

fn count_item_elements(text: &str) -> usize {
    let pattern =
        regex::Regex::new(r"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]").expect("static regex");
    pattern.find_iter(text).count()
}

fn syndication_hint(text: &str) -> Option<u64> {
    let element = |name: &str| {
        let pattern =
            regex::Regex::new(&format!(r"<(?:[A-Za-z_][\w.-]*:)?{name}>\s*([^<]*?)\s*</"))
                .expect("static regex");
        pattern.captures(text).map(|c| c[1].to_string())
    };
    let period = element("updatePeriod");
    period.as_ref()?;
    crate::schedule::syndication_period(period.as_deref(), element("updateFrequency").as_deref())
        .map(|d| d.as_secs())
}

fn parse_with_feed_rs(text: &str, feed_url: &str, meta: FeedMeta) -> Result<ParsedFeed, FeedError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url))
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(crate::dates::parse_date)
        .build();
    let feed = parser.parse(text.as_bytes()).map_err(|e| match e {
        feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ) => FeedError::NotAFeed("no RSS, Atom, RDF or JSON Feed root element".into()),
        other => FeedError::Malformed(other.to_string()),
    })?;
    if feed.entries.is_empty() && meta.markup_items > 0 {
        return Err(FeedError::ItemsLost {
            markup: meta.markup_items,
        });
    }
    let base = url::Url::parse(feed_url).ok();
    let resolve = |href: &str, entry_base: Option<&str>| -> String {
        let entry_base = entry_base.and_then(|b| match &base {
            Some(base) => base.join(b).ok(),
            None => url::Url::parse(b).ok(),
        });
        entry_base
            .as_ref()
            .or(base.as_ref())
            .and_then(|b| b.join(href.trim()).ok())
            .map(|u| u.to_string())
            .unwrap_or_else(|| href.trim().to_string())
    };
    let convert_links =
        |links: &[feed_rs::model::Link], entry_base: Option<&str>| -> Vec<ParsedLink> {
            links
                .iter()
                .map(|l| ParsedLink {
                    href: resolve(&l.href, entry_base),
                    rel: l.rel.clone(),
                    media_type: l.media_type.clone(),
                    length: l.length,
                })
                .collect()
        };
    let feed_links = convert_links(&feed.links, None);
    let pick_alternate = |links: &[ParsedLink]| {
        links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .map(|l| l.href.clone())
    };
    let items = feed
        .entries
        .iter()
        .map(|entry| {
            let links = convert_links(&entry.links, entry.base.as_deref());
            let link = pick_alternate(&links);
            let title = entry.title.as_ref().map(|t| t.content.trim().to_string());
            let summary = entry.summary.as_ref().map(|t| t.content.trim().to_string());
            let guid = Some(entry.id.trim().to_string()).filter(|g| !g.is_empty());
            let identity = item_identity(
                guid.as_deref(),
                link.as_deref(),
                title.as_deref(),
                summary.as_deref(),
                feed_url,
            );
            ParsedItem {
                identity,
                guid,
                link,
                title,
                published: entry.published.or(entry.updated),
                updated: entry.updated,
                summary,
                content: entry.content.as_ref().and_then(|c| c.body.clone()),
                authors: entry
                    .authors
                    .iter()
                    .filter_map(|p| p.name.clone())
                    .filter(|n| !n.is_empty())
                    .collect(),
                links,
            }
        })
        .collect();
    Ok(ParsedFeed {
        title: feed
            .title
            .map(|t| t.content.trim().to_string())
            .filter(|t| !t.is_empty()),
        subtitle: feed.description.map(|t| t.content.trim().to_string()),
        link: pick_alternate(&feed_links),
        hub: feed_links
            .iter()
            .find(|l| l.rel.as_deref() == Some("hub"))
            .map(|l| l.href.clone()),
        self_link: feed_links
            .iter()
            .find(|l| l.rel.as_deref() == Some("self"))
            .map(|l| l.href.clone()),
        format: meta.format,
        encoding: meta.encoding,
        charset_source: meta.charset_source,
        repairs: meta.repairs,
        ttl_minutes: feed.ttl,
        update_period_secs: meta.update_period_secs,
        items,
    })
}
