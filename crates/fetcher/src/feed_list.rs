//! The list of feeds to poll: a TOML file of `[[feeds]]` tables, or an OPML
//! export from a feed reader. The format is told by content, not file name,
//! so `--feeds` accepts either.

use quick_xml::events::Event;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct FeedSource {
    pub url: String,
    /// The outlet's display name; when absent the feed's title is used.
    #[serde(default)]
    pub outlet: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedListError {
    #[error("feed list is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("feed list looks like OPML but is not well-formed XML: {0}")]
    Opml(String),
    #[error("feed list has no feeds (expected `[[feeds]]` tables with `url`, or OPML outlines with `xmlUrl`)")]
    Empty,
    #[error("feed {index} has an invalid URL {url:?}: {reason}")]
    BadUrl {
        index: usize,
        url: String,
        reason: String,
    },
}

#[derive(Deserialize)]
struct TomlFeedList {
    #[serde(default)]
    feeds: Vec<FeedSource>,
}

/// Parses a feed list, telling TOML from OPML by its first non-blank byte.
/// Every URL must be absolute http(s); duplicates are dropped, first wins.
pub fn parse_feed_list(text: &str) -> Result<Vec<FeedSource>, FeedListError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let feeds = if trimmed.starts_with('<') {
        parse_opml(trimmed)?
    } else {
        toml::from_str::<TomlFeedList>(text)?.feeds
    };
    if feeds.is_empty() {
        return Err(FeedListError::Empty);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(feeds.len());
    for (index, mut feed) in feeds.into_iter().enumerate() {
        feed.url = feed.url.trim().to_string();
        match url::Url::parse(&feed.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => {
                return Err(FeedListError::BadUrl {
                    index,
                    url: feed.url,
                    reason: format!("scheme {} is not http(s)", u.scheme()),
                })
            }
            Err(e) => {
                return Err(FeedListError::BadUrl {
                    index,
                    url: feed.url,
                    reason: e.to_string(),
                })
            }
        }
        feed.outlet = feed
            .outlet
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty());
        if seen.insert(feed.url.clone()) {
            out.push(feed);
        }
    }
    Ok(out)
}

/// Reads an OPML document: every `<outline>` with an `xmlUrl`, at any depth
/// (readers nest feeds in folders). The outline's `title`, else `text`,
/// names the outlet.
pub fn parse_opml(text: &str) -> Result<Vec<FeedSource>, FeedListError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut feeds = Vec::new();
    let mut saw_opml_root = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name();
                if name.as_ref().eq_ignore_ascii_case(b"opml") {
                    saw_opml_root = true;
                }
                if !name.as_ref().eq_ignore_ascii_case(b"outline") {
                    continue;
                }
                let mut url = None;
                let mut title = None;
                let mut text_attr = None;
                // No duplicate check: it compares each attribute with every
                // earlier one, quadratic in a hostile tag's attribute count.
                for attr in e.attributes().with_checks(false).flatten() {
                    let value = attr
                        .decode_and_unescape_value(reader.decoder())
                        .map(|v| v.into_owned())
                        .unwrap_or_else(|_| String::from_utf8_lossy(&attr.value).into_owned());
                    match attr.key.local_name().as_ref() {
                        k if k.eq_ignore_ascii_case(b"xmlurl") => url = Some(value),
                        b"title" => title = Some(value),
                        b"text" => text_attr = Some(value),
                        _ => {}
                    }
                }
                if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
                    let outlet = title.filter(|t| !t.trim().is_empty()).or(text_attr);
                    feeds.push(FeedSource { url, outlet });
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(FeedListError::Opml(format!(
                    "at byte {}: {e}",
                    reader.buffer_position()
                )))
            }
        }
    }
    if !saw_opml_root && feeds.is_empty() {
        return Err(FeedListError::Opml("no <opml> root element".into()));
    }
    Ok(feeds)
}

/// Merges imported feeds into an existing list: feeds already present (same
/// URL) keep their entry; new ones are appended. Returns how many were new.
pub fn merge_feed_lists(existing: &mut Vec<FeedSource>, imported: Vec<FeedSource>) -> usize {
    // A set of the URLs present: a scan of the list per imported feed is
    // quadratic in the size of an import.
    let mut present: std::collections::HashSet<String> =
        existing.iter().map(|f| f.url.clone()).collect();
    let mut added = 0;
    for feed in imported {
        if present.insert(feed.url.clone()) {
            existing.push(feed);
            added += 1;
        }
    }
    added
}

/// `newsflow feeds import FILE.opml`: merges the OPML's feeds into an
/// existing feed list (TOML or OPML text; `None` for a new list) and returns
/// the merged list as TOML with the number of feeds that were new.
pub fn import_opml(opml: &str, existing: Option<&str>) -> Result<(String, usize), FeedListError> {
    let imported = parse_opml(opml)?;
    if imported.is_empty() {
        return Err(FeedListError::Empty);
    }
    let mut feeds = match existing.filter(|t| !t.trim().is_empty()) {
        Some(text) => parse_feed_list(text)?,
        None => Vec::new(),
    };
    let valid: Vec<FeedSource> = parse_feed_list(&feed_list_to_toml(&imported))?;
    let added = merge_feed_lists(&mut feeds, valid);
    Ok((feed_list_to_toml(&feeds), added))
}

/// Writes a feed list as the TOML `parse_feed_list` reads.
pub fn feed_list_to_toml(feeds: &[FeedSource]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        feeds: &'a [FeedSource],
    }
    toml::to_string(&Out { feeds }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_list_with_and_without_outlet() {
        let feeds = parse_feed_list(
            "[[feeds]]\nurl = \"https://a.example/rss\"\noutlet = \"A\"\n\n[[feeds]]\nurl = \"https://b.example/atom\"\n",
        )
        .unwrap();
        assert_eq!(feeds.len(), 2);
        assert_eq!(feeds[0].outlet.as_deref(), Some("A"));
        assert_eq!(feeds[1].outlet, None);
    }

    #[test]
    fn opml_nested_outlines_are_found() {
        let opml = r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
          <outline text="News"><outline type="rss" text="BBC" title="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/rss.xml"/>
          <outline text="Heise" xmlUrl="https://www.heise.de/rss/heise-atom.xml?a=1&amp;b=2"/></outline></body></opml>"#;
        let feeds = parse_feed_list(opml).unwrap();
        assert_eq!(feeds.len(), 2);
        assert_eq!(feeds[0].outlet.as_deref(), Some("BBC News"));
        assert_eq!(
            feeds[1].url,
            "https://www.heise.de/rss/heise-atom.xml?a=1&b=2"
        );
        assert_eq!(feeds[1].outlet.as_deref(), Some("Heise"));
    }

    #[test]
    fn errors_are_clear() {
        assert!(matches!(
            parse_feed_list("feeds = 3"),
            Err(FeedListError::Toml(_))
        ));
        assert!(matches!(parse_feed_list(""), Err(FeedListError::Empty)));
        assert!(matches!(
            parse_feed_list("[[feeds]]\nurl = \"ftp://x/y\"\n"),
            Err(FeedListError::BadUrl { .. })
        ));
        let err =
            parse_feed_list("<opml><body><outline xmlUrl=\"https://x.example/\"></body></opml")
                .unwrap_err();
        assert!(
            err.to_string().contains("OPML") || matches!(err, FeedListError::Empty),
            "{err}"
        );
    }

    #[test]
    fn opml_import_merges_into_an_existing_list() {
        let existing = "[[feeds]]\nurl = \"https://a.example/rss\"\noutlet = \"A\"\n";
        let opml = r#"<opml version="1.0"><body><outline text="A again" xmlUrl="https://a.example/rss"/><outline text="B" xmlUrl="https://b.example/feed"/></body></opml>"#;
        let (merged, added) = import_opml(opml, Some(existing)).unwrap();
        assert_eq!(added, 1);
        let feeds = parse_feed_list(&merged).unwrap();
        assert_eq!(feeds.len(), 2);
        assert_eq!(
            feeds[0].outlet.as_deref(),
            Some("A"),
            "existing entries keep their outlet"
        );
        assert_eq!(feeds[1].outlet.as_deref(), Some("B"));
    }

    /// From the parse_opml fuzz target: a mangled OPML whose outlines name
    /// `https:5/feeds…` (no slashes: the WHATWG parser reads it as
    /// `https://5/feeds…`) and `htps://…`. Accepted URLs are absolute
    /// http(s) as parsed; the bad scheme is refused with its index.
    #[test]
    fn outline_urls_are_judged_as_parsed() {
        let opml = "<?xml version=\"1.0\"\u{fffd}?><opml version=\"2.0\"><hea<body><outline ttext=\"News\"><outline title=\"BBC\" xmlUrl=\"https:5/feeds.bbci.co.uk\u{fffd}Zs/rss.xml\"/><outline text=\"H\" xmlUrl=\"htps://www.heise.de/\"/></outline></body></opml>";
        match parse_feed_list(opml) {
            Err(FeedListError::BadUrl { index, url, .. }) => {
                assert_eq!((index, url.as_str()), (1, "htps://www.heise.de/"))
            }
            other => panic!("expected the htps URL refused, got {other:?}"),
        }
        let feeds = parse_feed_list(&opml.replace("htps://", "https://")).unwrap();
        for feed in feeds {
            let url = url::Url::parse(&feed.url).unwrap();
            assert!(matches!(url.scheme(), "http" | "https"), "{}", feed.url);
        }
    }

    #[test]
    fn round_trip_through_toml() {
        let feeds = vec![FeedSource {
            url: "https://a.example/rss".into(),
            outlet: Some("A".into()),
        }];
        assert_eq!(parse_feed_list(&feed_list_to_toml(&feeds)).unwrap(), feeds);
    }
}
