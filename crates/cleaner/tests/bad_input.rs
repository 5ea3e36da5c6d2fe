//! Pages the web really serves that are not clean articles: each has one
//! clear outcome, an article or a reason, and never a panic.

use newsflow_cleaner::{extract, CleanError, CleanerConfig};

const PARAGRAPH: &str = "The delegation met again on Tuesday, and the talks, which had stalled over the border for weeks, resumed with a new proposal from the mediators in the capital.";

fn article_page(paragraphs: usize) -> String {
    let body: String = (0..paragraphs)
        .map(|i| format!("<p>{i}. {PARAGRAPH}</p>\n"))
        .collect();
    format!("<!doctype html><html><head><meta charset=utf-8><title>Talks resume</title></head><body><nav><a href=/>Home</a></nav><article><h1>Talks resume</h1>{body}</article></body></html>")
}

fn config() -> CleanerConfig {
    CleanerConfig::default()
}

fn reason(result: Result<newsflow_cleaner::Extracted, CleanError>) -> String {
    match result {
        Err(CleanError::NotAnArticle { reason }) => reason,
        other => panic!("expected not_an_article, got {other:?}"),
    }
}

#[test]
fn non_html_bodies_are_refused_with_their_type() {
    let pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj << /Type /Catalog >> endobj";
    let error = extract(pdf, Some("application/pdf"), None, &config()).unwrap_err();
    assert!(
        matches!(&error, CleanError::NotHtml { content_type } if content_type == "application/pdf"),
        "{error}"
    );
    let error = extract(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", None, None, &config()).unwrap_err();
    assert!(matches!(error, CleanError::NotHtml { .. }));
    let error = extract(
        b"{\"headline\": \"x\"}",
        Some("application/json; charset=utf-8"),
        None,
        &config(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("application/json"), "{error}");
}

#[test]
fn invalid_utf8_is_replaced_and_the_article_survives() {
    // A few bad bytes in a page of good UTF-8: a damaged page, not a mislabelled one.
    let mut page = article_page(40).into_bytes();
    let at = page.windows(3).position(|w| w == b"<p>").unwrap() + 3;
    page.splice(at..at, [0xFF, 0xC3, 0x28, 0xA0]);
    let article = extract(&page, Some("text/html; charset=utf-8"), None, &config()).unwrap();
    assert!(article.body.contains("The delegation met again"));
    assert!(article.body.contains('\u{FFFD}'));
}

#[test]
fn a_wrong_header_charset_is_overruled_by_the_bytes() {
    let page = article_page(4).replace("The delegation", "Die Delegation traf sich in Zürich; für");
    let latin1 = encoding_of("windows-1252", &page);
    let article = extract(&latin1, Some("text/html; charset=utf-8"), None, &config()).unwrap();
    assert!(article.body.contains("Zürich; für"), "{}", article.body);
    let article = extract(
        page.as_bytes(),
        Some("text/html; charset=iso-8859-1"),
        None,
        &config(),
    )
    .unwrap();
    assert!(article.body.contains("Zürich; für"));
}

#[test]
fn a_missing_charset_is_detected() {
    let page = article_page(3).replace(PARAGRAPH, "Делегация снова встретилась во вторник, и переговоры, которые неделями стояли на месте из-за границы, возобновились с новым предложением посредников.").replace("<meta charset=utf-8>", "");
    let cp1251 = encoding_of("windows-1251", &page);
    let article = extract(&cp1251, None, None, &config()).unwrap();
    assert!(article.body.contains("Делегация снова встретилась"));
    assert_eq!(article.language.as_deref(), Some("rus"));
}

fn encoding_of(label: &str, text: &str) -> Vec<u8> {
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap();
    encoding.encode(text).0.into_owned()
}

#[test]
fn ten_thousand_deep_nesting_does_not_overflow_the_stack() {
    let depth = 10_000;
    let mut page = String::from("<html><body>");
    for _ in 0..depth {
        page.push_str("<div>");
    }
    page.push_str(&format!("<p>{PARAGRAPH}</p><p>{PARAGRAPH}</p>"));
    for _ in 0..depth {
        page.push_str("<span>");
    }
    page.push_str("</body></html>");
    // Either outcome is acceptable for such a page; finishing is the point.
    match extract(page.as_bytes(), Some("text/html"), None, &config()) {
        Ok(article) => assert!(!article.body.is_empty()),
        Err(error) => assert!(matches!(error, CleanError::NotAnArticle { .. })),
    }
}

#[test]
fn a_ten_mebibyte_page_is_cleaned() {
    let page = article_page(70_000);
    assert!(page.len() > 10 * 1024 * 1024);
    let article = extract(page.as_bytes(), Some("text/html"), None, &config()).unwrap();
    assert!(article.body.starts_with("0. The delegation"));
}

#[test]
fn pages_beyond_the_size_limit_are_cut_not_refused() {
    let page = article_page(2_000);
    let config = CleanerConfig {
        max_page_bytes: 64 * 1024,
        ..config()
    };
    let article = extract(page.as_bytes(), Some("text/html"), None, &config).unwrap();
    assert!(article.body.len() < 64 * 1024);
}

#[test]
fn an_index_page_is_not_an_article() {
    let teasers: String = (0..30)
        .map(|i| format!(r#"<div class="card"><h3><a href="/news/{i}">Story number {i} about the talks and the border</a></h3><a href="/news/{i}">Read the full report on the negotiations</a></div>"#))
        .collect();
    let page = format!("<html><head><title>World</title><meta property=og:type content=website></head><body><main>{teasers}</main></body></html>");
    assert!(
        reason(extract(page.as_bytes(), Some("text/html"), None, &config()))
            .starts_with("index page")
    );
}

#[test]
fn a_video_page_is_not_an_article() {
    let page = r#"<html><head><title>Watch: the talks</title><meta property="og:type" content="video.other"></head>
<body><main><h1>Watch: the talks</h1><video src="/v.mp4" controls></video><p>Leaders met in Baku on Monday.</p></main></body></html>"#;
    assert!(
        reason(extract(page.as_bytes(), Some("text/html"), None, &config()))
            .starts_with("video page")
    );
}

#[test]
fn a_paywall_stub_is_not_an_article() {
    let page = r#"<html><head><title>Inside the talks</title>
<script type="application/ld+json">{"@type":"NewsArticle","headline":"Inside the talks","isAccessibleForFree":false}</script></head>
<body><article><h1>Inside the talks</h1><p>The delegation met again on Tuesday in the capital.</p>
<div class="paywall">Subscribe to continue reading.</div></article></body></html>"#;
    assert!(
        reason(extract(page.as_bytes(), Some("text/html"), None, &config()))
            .starts_with("paywall stub")
    );
}

#[test]
fn an_empty_shell_page_is_not_an_article() {
    let page = r#"<html><head><title>App</title><script src="/app.js"></script></head><body><div id="root"></div></body></html>"#;
    assert_eq!(
        reason(extract(page.as_bytes(), Some("text/html"), None, &config())),
        "no main text found on the page"
    );
}

#[test]
fn garbage_bytes_never_panic() {
    let mut seed = 0x2545F4914F6CDD1Du64;
    for len in [0usize, 1, 7, 100, 5000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 256) as u8
            })
            .collect();
        let _ = extract(&bytes, Some("text/html"), None, &config());
        let _ = extract(&bytes, None, Some("not a url"), &config());
    }
    let _ = extract(
        b"<html><body><p>a</p><script>",
        Some("text/html"),
        None,
        &config(),
    );
    let _ = extract(
        b"<<<<>>>><!--<svg><style></p>",
        Some("text/html"),
        None,
        &config(),
    );
}

/// A news brief: headline, printed date, and a body container with one
/// short paragraph, on a page whose navigation is longer than the story.
fn brief_page(head: &str, nav_links: usize) -> String {
    let nav: String = (0..nav_links)
        .map(|i| format!(r#"<li><a href="/section/{i}">Section number {i}</a></li>"#))
        .collect();
    format!(
        r#"<html><head><title>Port reopens after storm</title>{head}</head>
<body><nav><ul>{nav}</ul></nav><article><h1>Port reopens after storm</h1><time datetime="2024-03-05T09:00:00Z">5 March 2024</time>
<div class="story-body"><p>The harbour authority reopened the port on Tuesday morning after two days of closure, and the first ferries left on time.</p></div></article></body></html>"#
    )
}

#[test]
fn a_short_dated_brief_under_its_headline_is_an_article() {
    let page = brief_page("", 20);
    assert!(page.len() > 600);
    let article = extract(page.as_bytes(), Some("text/html"), None, &config()).unwrap();
    assert!(article.body.starts_with("The harbour authority reopened"));
    assert!(article.body.chars().count() < 250);
}

#[test]
fn the_same_short_text_without_a_date_or_headline_is_refused_with_its_reason() {
    // No date and no article type: a teaser, not a brief.
    let undated = brief_page("", 2).replace(
        r#"<time datetime="2024-03-05T09:00:00Z">5 March 2024</time>"#,
        "",
    );
    let why = reason(extract(
        undated.as_bytes(),
        Some("text/html"),
        None,
        &config(),
    ));
    assert!(why.starts_with("main text too short"), "{why}");
    // With a long navigation around it, the same teaser is a page of links.
    let undated = brief_page("", 20).replace(
        r#"<time datetime="2024-03-05T09:00:00Z">5 March 2024</time>"#,
        "",
    );
    let why = reason(extract(
        undated.as_bytes(),
        Some("text/html"),
        None,
        &config(),
    ));
    assert!(why.starts_with("index page"), "{why}");
    // A headline that is not the page's: the text is not that headline's story.
    let elsewhere = brief_page("", 2).replace(
        "<h1>Port reopens after storm</h1>",
        "<h1>All the news from the coast</h1>",
    );
    let why = reason(extract(
        elsewhere.as_bytes(),
        Some("text/html"),
        None,
        &config(),
    ));
    assert!(why.contains("not under the page's headline"), "{why}");
}

#[test]
fn a_category_page_with_a_headline_and_a_date_is_still_an_index() {
    let teasers: String = (0..12)
        .map(|i| format!(r#"<li><a href="/coast/{i}">Story {i} from the coast and the harbour</a> <span>short teaser</span></li>"#))
        .collect();
    let page = format!(
        r#"<html><head><title>Coast</title><meta property="og:type" content="article"></head>
<body><main><h1>Coast</h1><time datetime="2024-03-05T09:00:00Z">5 March 2024</time><ul class="list">{teasers}</ul></main></body></html>"#
    );
    let why = reason(extract(page.as_bytes(), Some("text/html"), None, &config()));
    assert!(why.starts_with("index page"), "{why}");
}

#[test]
fn a_category_page_with_an_intro_over_its_list_of_links_is_still_an_index() {
    // The list of stories is left out of the body as a list of links, and
    // the intro alone is long enough for an article: the links are still
    // what the page is made of.
    let stories: String = (0..30)
        .map(|i| format!(r#"<li><a href="/energy/{i}">Story number {i} about the pipeline and the gas price</a></li>"#))
        .collect();
    let page = format!(
        r#"<html><head><title>Energy</title></head><body><main><h1>Energy</h1>
<p>Everything about energy in the Caucasus: the pipelines that cross the region, the gas and oil fields of the Caspian, the prices that households pay for heating, and the governments that negotiate over all of it, from Baku to Tbilisi and Yerevan. Our reporters follow the talks, the markets and the people who live along the lines, in every country of the region and in the capitals that buy from it.</p>
<ul>{stories}</ul></main></body></html>"#
    );
    let why = reason(extract(page.as_bytes(), Some("text/html"), None, &config()));
    assert!(why.starts_with("index page"), "{why}");
}
