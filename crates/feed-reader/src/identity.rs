//! The identity of a feed item, stable across re-polls, so an item is
//! fetched once however its feed reorders, retitles or re-stamps it.

use newsflow_model::canonical_url;
use sha2::{Digest, Sha256};

/// Chooses an item's identity:
/// - a GUID that is a URL → that URL in canonical form (fragments and
///   tracking parameters dropped: BBC's GUIDs end in a changing `#0`/`#1`);
/// - another globally scoped GUID (`tag:`, `urn:`) → the GUID itself;
/// - a bare GUID (`12345`) → scoped by the feed, since feeds reuse numbers;
/// - no GUID → the canonical link;
/// - neither → a digest of title and summary, scoped by the feed.
pub fn item_identity(
    guid: Option<&str>,
    link: Option<&str>,
    title: Option<&str>,
    summary: Option<&str>,
    feed_url: &str,
) -> String {
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        if is_http_url(guid) {
            return canonical_url(guid);
        }
        if has_uri_scheme(guid) {
            return guid.to_string();
        }
        return format!("{}#guid={}", canonical_url(feed_url), guid);
    }
    if let Some(link) = link.map(str::trim).filter(|l| !l.is_empty()) {
        return canonical_url(link);
    }
    let mut hasher = Sha256::new();
    hasher.update(title.unwrap_or_default().trim().as_bytes());
    hasher.update([0]);
    hasher.update(summary.unwrap_or_default().trim().as_bytes());
    let digest = hasher.finalize();
    format!(
        "{}#content={}",
        canonical_url(feed_url),
        hex::encode(&digest[..12])
    )
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn has_uri_scheme(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme.len() >= 2
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = "https://feeds.example.com/news/rss.xml";

    #[test]
    fn bbc_guid_suffix_does_not_make_a_new_story() {
        let a = item_identity(
            Some("https://www.bbc.com/news/articles/c1x#0"),
            None,
            None,
            None,
            FEED,
        );
        let b = item_identity(
            Some("https://www.bbc.com/news/articles/c1x#2"),
            None,
            None,
            None,
            FEED,
        );
        let by_link = item_identity(
            None,
            Some("https://www.bbc.com/news/articles/c1x?at_medium=RSS&at_campaign=rss"),
            None,
            None,
            FEED,
        );
        assert_eq!(a, b);
        assert_eq!(a, by_link);
    }

    #[test]
    fn tag_guids_are_kept_and_bare_guids_are_scoped() {
        assert_eq!(
            item_identity(Some("tag:example.com,2004:1"), None, None, None, FEED),
            "tag:example.com,2004:1"
        );
        let bare = item_identity(Some("12345"), Some("https://x.example/a"), None, None, FEED);
        assert!(bare.ends_with("#guid=12345"));
        assert_ne!(
            bare,
            item_identity(
                Some("12345"),
                None,
                None,
                None,
                "https://other.example/feed"
            )
        );
    }

    #[test]
    fn linkless_items_get_a_content_identity_that_is_stable() {
        let a = item_identity(None, None, Some("Title"), Some("Body"), FEED);
        assert_eq!(
            a,
            item_identity(None, None, Some("Title"), Some("Body"), FEED)
        );
        assert_ne!(
            a,
            item_identity(None, None, Some("Title 2"), Some("Body"), FEED)
        );
    }
}
