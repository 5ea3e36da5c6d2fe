//! `clean`: from a `raw` message to an `articles` message.

use chrono::{TimeZone, Utc};
use newsflow_cleaner::{clean, CleanError, CleanerConfig};
use newsflow_model::{canonical_url, story_id_for_url, PageCompression, RawPage, SCHEMA_VERSION};

const STORY: &str = "<p>The delegation met again on Tuesday, and the talks, which had stalled over the border for weeks, resumed with a new proposal from the mediators.</p><p>Officials said a first draft of the treaty could be ready within a month, though several questions remain open on both sides.</p>";

fn raw(body: String, final_url: &str) -> RawPage {
    RawPage {
        schema_version: SCHEMA_VERSION,
        item_id: "item-1".into(),
        feed_url: "https://paper.example/feed.xml".into(),
        outlet: "The Paper".into(),
        item_link: final_url.into(),
        item_title: Some("Feed title".into()),
        item_summary: None,
        item_published: Some(Utc.with_ymd_and_hms(2024, 8, 19, 10, 0, 0).unwrap()),
        final_url: final_url.into(),
        http_status: 200,
        content_type: Some("text/html; charset=utf-8".into()),
        fetched_at: Utc.with_ymd_and_hms(2024, 8, 19, 11, 0, 0).unwrap(),
        body: body.into_bytes(),
        body_compression: None,
    }
}

#[test]
fn page_metadata_wins_and_identity_follows_the_canonical_url() {
    let page = format!(
        r#"<html><head><title>Page title</title><link rel="canonical" href="/world/talks">
        <meta property="article:published_time" content="2024-08-19T08:30:00Z"></head>
        <body><article><h1>Page title</h1>{STORY}</article></body></html>"#
    );
    let article = clean(
        &raw(page, "https://www.paper.example/world/talks?utm_source=rss"),
        &CleanerConfig::default(),
    )
    .unwrap();
    assert_eq!(article.title, "Page title");
    assert_eq!(
        article.published,
        Some(Utc.with_ymd_and_hms(2024, 8, 19, 8, 30, 0).unwrap())
    );
    assert_eq!(
        article.url,
        "https://www.paper.example/world/talks?utm_source=rss"
    );
    assert_eq!(
        article.canonical_url,
        canonical_url("https://www.paper.example/world/talks")
    );
    assert_eq!(article.article_id, story_id_for_url(&article.canonical_url));
    assert_eq!(article.outlet, "The Paper");
    assert_eq!(article.item_id, "item-1");
    assert!(article.body.starts_with("The delegation met again"));
    assert_eq!(article.body.split("\n\n").count(), 2);
}

#[test]
fn feed_item_fills_what_the_page_lacks() {
    let page = format!("<html><body><div>{STORY}</div></body></html>");
    let article = clean(
        &raw(page, "https://paper.example/a"),
        &CleanerConfig::default(),
    )
    .unwrap();
    assert_eq!(article.title, "Feed title");
    assert_eq!(
        article.published,
        Some(Utc.with_ymd_and_hms(2024, 8, 19, 10, 0, 0).unwrap())
    );
    assert_eq!(article.canonical_url, "https://paper.example/a");
}

#[test]
fn a_canonical_url_on_another_site_is_not_taken() {
    let page = format!(
        r#"<html><head><link rel="canonical" href="https://wire.example/original"></head><body><div>{STORY}</div></body></html>"#
    );
    let article = clean(
        &raw(page, "https://paper.example/copy"),
        &CleanerConfig::default(),
    )
    .unwrap();
    assert_eq!(article.canonical_url, "https://paper.example/copy");
}

#[test]
fn a_page_without_a_story_is_an_error_not_an_empty_article() {
    let page = "<html><body><nav><a href=/>Home</a></nav></body></html>".to_string();
    assert!(matches!(
        clean(
            &raw(page, "https://paper.example/x"),
            &CleanerConfig::default()
        ),
        Err(CleanError::NotAnArticle { .. })
    ));
}

#[test]
fn a_page_compressed_in_its_message_cleans_as_the_page_itself() {
    let page = format!(
        r#"<html><head><title>Page title</title></head>
        <body><article><h1>Page title</h1>{STORY}</article></body></html>"#
    );
    let url = "https://www.paper.example/world/talks";
    let plain = raw(page.clone(), url);
    let mut compressed = raw(page, url);
    compressed.body = PageCompression::Zstd.compress(&plain.body).unwrap();
    compressed.body_compression = Some(PageCompression::Zstd);
    let config = CleanerConfig::default();
    assert_eq!(
        clean(&compressed, &config).unwrap(),
        clean(&plain, &config).unwrap()
    );
}

#[test]
fn a_body_that_says_it_is_compressed_but_is_not_is_refused() {
    let mut page = raw(
        format!("<html><body><article>{STORY}</article></body></html>"),
        "https://paper.example/a",
    );
    page.body_compression = Some(PageCompression::Zstd);
    assert!(matches!(
        clean(&page, &CleanerConfig::default()),
        Err(CleanError::UnreadableBody(_))
    ));
}
