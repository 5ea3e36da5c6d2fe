//! The pure core: one feed document in, feed title and items out. Bytes are
//! decoded and repaired (see `decode`, `repair`) before feed-rs reads them,
//! and every item gets a stable identity and links resolved to absolute URLs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bound_markup::bound_markup;
use crate::decode::{decode_feed_bytes, CharsetSource};
use crate::repair::{note, repair_feed_text, Repair};

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

/// A person named by a feed (author, contributor).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedPerson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

impl ParsedPerson {
    /// One line, as readers show it: `Name (email)`, or whichever is present.
    pub fn display(&self) -> Option<String> {
        match (&self.name, &self.email) {
            (Some(name), Some(email)) => Some(format!("{name} ({email})")),
            (Some(name), None) => Some(name.clone()),
            (None, Some(email)) => Some(email.clone()),
            (None, None) => self.href.clone(),
        }
    }
}

/// A text construct: its value and its media type (`text/plain`,
/// `text/html`, `application/xhtml+xml`, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedText {
    pub value: String,
    #[serde(rename = "type")]
    pub media_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedItem {
    /// Stable across re-polls; see `identity::item_identity`.
    pub identity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    /// The RSS guid is the item's permalink (and served as its link).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub guid_is_link: bool,
    /// The item's page, absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// The dates as the feed wrote them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_text: Option<String>,
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_detail: Option<ParsedText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_detail: Option<ParsedText>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<ParsedText>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<ParsedPerson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ParsedLink>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enclosures: Vec<ParsedLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedFeed {
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_detail: Option<ParsedText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle_detail: Option<ParsedText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The site the feed belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ParsedLink>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<ParsedPerson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_text: Option<String>,
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
    #[error("parsing the feed took longer than {0:?}; given up")]
    TimedOut(std::time::Duration),
    #[error("the feed reader failed on this document: {0}")]
    Panicked(String),
}

/// Items read from one document at most, unless configured otherwise.
pub const DEFAULT_MAX_ITEMS_PER_DOCUMENT: usize = 1000;

/// What one document may make the reader build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// Items read from one document; later ones are left out before any
    /// tree is built (feeds list newest first).
    pub max_items: usize,
}

impl Default for FeedLimits {
    fn default() -> Self {
        Self {
            max_items: DEFAULT_MAX_ITEMS_PER_DOCUMENT,
        }
    }
}

/// Parses one feed document. `feed_url` is where it was finally fetched
/// from; relative links resolve against it (or the feed's `xml:base`).
pub fn parse_feed(
    body: &[u8],
    content_type: Option<&str>,
    feed_url: &str,
) -> Result<ParsedFeed, FeedError> {
    parse_feed_limited(body, content_type, feed_url, &FeedLimits::default())
}

/// `parse_feed` with explicit limits.
pub fn parse_feed_limited(
    body: &[u8],
    content_type: Option<&str>,
    feed_url: &str,
    limits: &FeedLimits,
) -> Result<ParsedFeed, FeedError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FeedError::Empty);
    }
    let decoded = decode_feed_bytes(body, content_type);
    let trimmed = decoded.text.trim_start();
    if trimmed.starts_with('{') {
        let mut meta = FeedMeta::json(&decoded);
        let (bounded, dropped) = crate::bound_json::bound_json_items(trimmed, limits.max_items)
            .map_err(|e| FeedError::Malformed(e.to_string()))?;
        if dropped > 0 {
            note(&mut meta.repairs, Repair::ItemsLimited);
        }
        return parse_with_feed_rs(&bounded, feed_url, meta);
    }
    if !trimmed.contains('<') {
        return Err(FeedError::NotAFeed("no XML or JSON content".into()));
    }
    let repaired = repair_feed_text(&decoded.text);
    let mut repairs = repaired.repairs;
    // Before any tree is built: depth, items, attributes bounded.
    let (text, bounds) = bound_markup(&repaired.text, limits.max_items);
    for (happened, repair) in [
        (bounds.flattened_elements > 0, Repair::DepthCapped),
        (bounds.items_dropped > 0, Repair::ItemsLimited),
        (bounds.elements_dropped > 0, Repair::ElementsLimited),
        (bounds.attributes_dropped > 0, Repair::AttributesLimited),
        (bounds.truncated, Repair::TruncatedAtError),
        (
            bounds.misplaced_declarations > 0,
            Repair::MisplacedDeclarationRemoved,
        ),
    ] {
        if happened {
            note(&mut repairs, repair);
        }
    }
    let meta = FeedMeta {
        encoding: decoded.encoding_name.clone(),
        charset_source: decoded.source,
        repairs,
        format: crate::format::detect_format(&decoded.text),
        markup_items: count_item_elements(&text),
        update_period_secs: syndication_hint(&text),
    };
    parse_with_feed_rs(&text, feed_url, meta)
}

pub(crate) struct FeedMeta {
    pub(crate) encoding: String,
    pub(crate) charset_source: CharsetSource,
    pub(crate) repairs: Vec<Repair>,
    pub(crate) format: String,
    pub(crate) markup_items: usize,
    pub(crate) update_period_secs: Option<u64>,
}

impl FeedMeta {
    fn json(decoded: &crate::decode::DecodedText) -> Self {
        Self {
            encoding: decoded.encoding_name.clone(),
            charset_source: decoded.source,
            repairs: Vec::new(),
            format: "json".into(),
            markup_items: 0,
            update_period_secs: None,
        }
    }
}

fn count_item_elements(text: &str) -> usize {
    let pattern = static_regex!(r"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]");
    pattern.find_iter(text).count()
}

fn syndication_hint(text: &str) -> Option<u64> {
    let period = static_regex!(r"<(?:[A-Za-z_][\w.-]*:)?updatePeriod(?:\s[^>]*)?>\s*([^<]*?)\s*</");
    let frequency =
        static_regex!(r"<(?:[A-Za-z_][\w.-]*:)?updateFrequency(?:\s[^>]*)?>\s*([^<]*?)\s*</");
    let period = period.captures(text).map(|c| c[1].to_string())?;
    let frequency = frequency.captures(text).map(|c| c[1].to_string());
    crate::syndication::syndication_period(Some(&period), frequency.as_deref()).map(|d| d.as_secs())
}

fn parse_with_feed_rs(
    text: &str,
    feed_url: &str,
    mut meta: FeedMeta,
) -> Result<ParsedFeed, FeedError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(url::Url::parse(feed_url).ok().map(|u| u.to_string()))
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(newsflow_dates::parse_date)
        .build();
    // A panic inside the parser library must not take the stage down: it
    // counts as a refusal, and the lenient reader gets its turn.
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parser.parse(text.as_bytes())
    }));
    let strict = match attempt {
        Ok(result) => result.map_err(|e| match e {
            feed_rs::parser::ParseFeedError::ParseError(
                feed_rs::parser::ParseErrorKind::NoFeedRoot,
            ) => FeedError::NotAFeed("no RSS, Atom, RDF or JSON Feed root element".into()),
            other => FeedError::Malformed(other.to_string()),
        }),
        Err(_) => Err(FeedError::Malformed(
            "the feed parser failed on this document".into(),
        )),
    };
    // JSON Feed has no XML tree to fall back on or supplement from.
    let tree = if meta.format == "json" {
        None
    } else {
        crate::xml_tree::parse_tree(text)
    };
    let markup_items = meta.markup_items;
    let mut parsed = match strict {
        Ok(feed) => crate::convert::convert_feed(feed, feed_url, meta),
        // feed-rs refused the document; when the root says it is a feed,
        // read it leniently from the tree instead.
        Err(error) if meta.format.is_empty() || tree.is_none() => return Err(error),
        Err(error) => {
            tracing::debug!(%error, "feed-rs rejected the feed; reading it leniently");
            note(&mut meta.repairs, Repair::LenientRecovery);
            crate::convert::empty_feed(meta)
        }
    };
    if let Some(root) = &tree {
        crate::supplement::supplement(
            &mut parsed,
            root,
            &crate::convert::Resolver::new(feed_url),
            feed_url,
        );
    }
    if parsed.items.is_empty() && markup_items > 0 {
        return Err(FeedError::ItemsLost {
            markup: markup_items,
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctype_text_inside_cdata_is_content() {
        let feed = parse_feed(
            b"<rss>\n<item>\n<description><![CDATA[ <!DOCTYPE ]]></description>\n</item>\n</rss>",
            None,
            "",
        )
        .unwrap();
        assert_eq!(feed.items[0].summary.as_deref(), Some("<!DOCTYPE"));
    }

    #[test]
    fn items_lost_is_an_error_not_an_empty_success() {
        let body = b"<rss version=\"2.0\"><channel><title>t</title><item><title>a</title></item></channel></rss>";
        assert_eq!(parse_feed(body, None, "").unwrap().items.len(), 1);
        assert!(matches!(
            parse_feed(b"<html><body>hi</body></html>", Some("text/html"), ""),
            Err(FeedError::NotAFeed(_))
        ));
    }

    #[test]
    fn feed_without_encoding_declaration_uses_http_charset() {
        let (latin1, _, _) = encoding_rs::WINDOWS_1252
            .encode("<rss version=\"2.0\"><channel><title>Notícias</title></channel></rss>");
        let feed =
            parse_feed(&latin1, Some("application/rss+xml; charset=iso-8859-1"), "").unwrap();
        assert_eq!(feed.title.as_deref(), Some("Notícias"));
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// Found by the parse_feed fuzz target: an XML declaration after the
    /// start made feed-rs's reader (quick-xml 0.42) panic in set_encoding.
    /// The panic was caught and the feed read leniently; now the stray
    /// declaration is dropped and the strict reader reads the feed.
    #[test]
    fn a_declaration_in_the_middle_is_dropped_not_a_panic() {
        let body = b"<!-- c -->\n<rss version=\"2.0\">\n<channel>\n<title>tes\0\0ting &su<?xml version='1.0' encoding='iso-8859-1'?>\n<!-- x --></title><item><title>a</title></item></channel></rss>";
        let feed = parse_feed(body, None, "https://x.example/feed").unwrap();
        assert!(
            !feed.repairs.contains(&Repair::LenientRecovery),
            "{:?}",
            feed.repairs
        );
        assert_eq!(feed.items.len(), 1);
    }
}
