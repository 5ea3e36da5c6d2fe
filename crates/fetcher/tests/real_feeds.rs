//! The real outlet captures (crates/feed-reader/tests/conformance/real), served from a local
//! server as if live: every one parses with the item count SOURCES.md
//! gives, and item identities are unique and free of the things that change
//! between polls (BBC's `#0/#1` GUID suffix, `at_medium` tracking).

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::{test_config, Route, TestServer};
use newsflow_fetcher::Fetcher;

fn captures() -> Vec<(String, usize)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../feed-reader/tests/conformance/real");
    let sources = std::fs::read_to_string(dir.join("SOURCES.md")).unwrap();
    sources
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| file"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            Some((cells.get(1)?.to_string(), cells.get(8)?.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn real_captures_served_live_parse_with_stable_identities() {
    let server = TestServer::start().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../feed-reader/tests/conformance/real");
    let captures = captures();
    assert_eq!(captures.len(), 18);
    for (file, _) in &captures {
        // No charset in the header: the fetcher must find it in the document or guess.
        server.route(
            &format!("/{file}"),
            Route::ok("application/xml", std::fs::read(dir.join(file)).unwrap()),
        );
    }
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    for (file, expected_items) in &captures {
        let url = server.url(&format!("/{file}"));
        let first = fetcher
            .fetch_feed(&url)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let second = fetcher.fetch_feed(&url).await.unwrap();
        assert_eq!(first.items.len(), *expected_items, "{file}");
        let ids: Vec<&str> = first.items.iter().map(|i| i.identity.as_str()).collect();
        let again: Vec<&str> = second.items.iter().map(|i| i.identity.as_str()).collect();
        assert_eq!(
            ids, again,
            "{file}: identities must not change between polls"
        );
        // BBC lists one article twice under GUIDs that differ only in the
        // `#N` suffix; that is one story (checked below), elsewhere ids are unique.
        if !file.starts_with("bbc_fastnewsreader") {
            assert_eq!(
                ids.iter().collect::<HashSet<_>>().len(),
                ids.len(),
                "{file}: identities must be unique"
            );
        }
        for id in &ids {
            assert!(
                !id.contains("at_medium") && !id.contains("utm_"),
                "{file}: tracking parameters in {id}"
            );
        }
        // An item with neither title nor summary must be empty in the source
        // too (Le Cercle Psy publishes one with empty elements).
        for item in &first.items {
            if item.title.is_none() && item.summary.is_none() {
                assert!(item.link.is_none(), "{file}: item lost its text: {item:?}");
            }
        }
    }
}

#[tokio::test]
async fn bbc_guid_suffixes_collapse_to_the_article() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../feed-reader/tests/conformance/real");
    let body = std::fs::read(dir.join("bbc_fastnewsreader.xml")).unwrap();
    let feed =
        newsflow_fetcher::parse_feed(&body, None, "https://feeds.bbci.co.uk/news/rss.xml").unwrap();
    for item in &feed.items {
        assert!(!item.identity.contains('#'), "{}", item.identity);
        let link = item.link.as_deref().unwrap();
        assert_eq!(
            item.identity,
            newsflow_model::canonical_url(link),
            "GUID and link name one article"
        );
    }
    let identities: HashSet<&str> = feed.items.iter().map(|i| i.identity.as_str()).collect();
    assert_eq!(
        (feed.items.len(), identities.len()),
        (27, 26),
        "the article listed twice (#0 and #1) is one story"
    );
}

#[tokio::test]
async fn undeclared_latin1_feeds_decode_to_proper_text() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../feed-reader/tests/conformance/real");
    let body = std::fs::read(dir.join("uol_noticias_rssparser.rss")).unwrap();
    let feed =
        newsflow_fetcher::parse_feed(&body, None, "https://rss.uol.com.br/feed/noticias.xml")
            .unwrap();
    let text: String = feed.items.iter().filter_map(|i| i.title.clone()).collect();
    assert!(
        !text.contains('\u{fffd}'),
        "no replacement characters: {text}"
    );
    assert!(
        text.chars().any(|c| "áéíóúãõçâêô".contains(c)),
        "Portuguese accents survive: {text}"
    );
}
