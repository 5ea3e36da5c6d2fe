//! Title, byline, time, canonical URL, image and site name, from the page's
//! own metadata first (JSON-LD `NewsArticle`, OpenGraph, `<meta>`) and from
//! the visible page (`<h1>`, `<time>`, byline elements) otherwise.

use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html};
use serde_json::Value;

use crate::dates::{parse_date, parse_written_date};
use crate::scan::PageScan;
use crate::text;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Metadata {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub canonical_url: Option<String>,
    pub lead_image: Option<String>,
    pub site_name: Option<String>,
    /// The page's summary (`og:description`, `description`...): usually the
    /// story's first sentence, which tells where the story is on the page.
    pub description: Option<String>,
    /// `og:type`, lower-case (`article`, `video.other`, `website`...).
    pub page_type: Option<String>,
    /// The JSON-LD article object says its content is not free to read.
    pub paywalled: bool,
    /// `<html lang>`, for when detection is unsure.
    pub declared_language: Option<String>,
}

const ARTICLE_TYPES: &[&str] = &[
    "newsarticle",
    "article",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "reviewnewsarticle",
    "backgroundnewsarticle",
    "blogposting",
    "liveblogposting",
    "report",
    "techarticle",
    "scholarlyarticle",
    "socialmediaposting",
    "advertisercontentarticle",
];

pub fn read_metadata(html: &Html, page: &PageScan, page_url: Option<&url::Url>) -> Metadata {
    let metas = MetaTags::collect(html, page);
    let ld = json_ld_article(html, page);
    let ld_str = |key: &str| ld.as_ref().and_then(|v| v.get(key)).and_then(first_text);

    let site_name = metas
        .get(&["og:site_name", "application-name"])
        .or_else(|| {
            ld.as_ref()
                .and_then(|v| v.get("publisher"))
                .and_then(name_of)
        });

    let title = ld_str("headline")
        .or_else(|| metas.get(&["og:title", "twitter:title", "dc.title"]))
        .or_else(|| visible_title(html, page))
        .map(|t| strip_site_suffix(&text::collapse(&t), site_name.as_deref()))
        .filter(|t| !t.is_empty());

    let byline = ld
        .as_ref()
        .and_then(|v| v.get("author"))
        .and_then(names_of)
        .or_else(|| {
            metas.get(&[
                "author",
                "byl",
                "byline",
                "dc.creator",
                "sailthru.author",
                "parsely-author",
            ])
        })
        .filter(|b| !looks_like_url(b))
        .or_else(|| visible_byline(html, page))
        .map(|b| clean_byline(&b))
        .filter(|b| !b.is_empty());

    let published = ld_str("datePublished")
        .and_then(|d| parse_date(&d))
        .or_else(|| {
            metas
                .get_all(&[
                    "article:published_time",
                    "og:published_time",
                    "datepublished",
                    "pubdate",
                    "publishdate",
                    "publish-date",
                    "date",
                    "dc.date",
                    "dc.date.issued",
                    "dcterms.created",
                    "dcterms.date",
                    "sailthru.date",
                    "parsely-pub-date",
                    "article.published",
                    "published_time",
                    "article:published",
                    "og:article:published_time",
                    "cxenseparse:recs:publishtime",
                ])
                .find_map(|d| parse_date(&d))
        })
        .or_else(|| first_time(html, page))
        .or_else(|| visible_date(html, page))
        .or_else(|| ld_str("dateCreated").and_then(|d| parse_date(&d)));

    let canonical_url = page
        .metadata
        .links
        .iter()
        .filter_map(|id| html.tree.get(*id).and_then(ElementRef::wrap))
        .find(|link| {
            link.value().attr("rel").is_some_and(|rel| {
                rel.split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("canonical"))
            })
        })
        .and_then(|link| link.value().attr("href").map(str::to_string))
        .or_else(|| metas.get(&["og:url"]))
        .and_then(|u| absolute(&u, page_url));

    let lead_image = metas
        .get(&[
            "og:image",
            "og:image:url",
            "og:image:secure_url",
            "twitter:image",
            "twitter:image:src",
        ])
        .or_else(|| ld.as_ref().and_then(|v| v.get("image")).and_then(image_url))
        .and_then(|u| absolute(&u, page_url));

    let description = metas
        .get(&["og:description", "twitter:description", "description"])
        .or_else(|| ld_str("description"))
        .map(|d| text::collapse(&d))
        .filter(|d| !d.is_empty());

    let page_type = metas.get(&["og:type"]).map(|t| t.to_ascii_lowercase());
    let paywalled = ld
        .as_ref()
        .and_then(|v| v.get("isAccessibleForFree"))
        .is_some_and(|free| {
            matches!(free, Value::Bool(false))
                || free
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("false"))
        });
    let declared_language = html
        .root_element()
        .value()
        .attr("lang")
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty());

    Metadata {
        title,
        byline,
        published,
        canonical_url,
        lead_image,
        site_name,
        description,
        page_type,
        paywalled,
        declared_language,
    }
}

/// `<meta>` name/property/itemprop → content, keys lower-cased, first wins.
struct MetaTags {
    pairs: Vec<(String, String)>,
}

impl MetaTags {
    fn collect(html: &Html, page: &PageScan) -> Self {
        let mut pairs = Vec::new();
        for id in &page.metadata.metas {
            let Some(meta) = html.tree.get(*id).and_then(ElementRef::wrap) else {
                continue;
            };
            let meta = meta.value();
            let Some(content) = meta
                .attr("content")
                .map(str::trim)
                .filter(|c| !c.is_empty())
            else {
                continue;
            };
            for key_attr in ["property", "name", "itemprop"] {
                if let Some(key) = meta.attr(key_attr) {
                    pairs.push((key.trim().to_ascii_lowercase(), content.to_string()));
                }
            }
        }
        MetaTags { pairs }
    }

    /// The first value, in the order of `keys`' preference.
    fn get(&self, keys: &[&str]) -> Option<String> {
        self.get_all(keys).next()
    }

    fn get_all<'s>(&'s self, keys: &'s [&str]) -> impl Iterator<Item = String> + 's {
        keys.iter().flat_map(move |key| {
            self.pairs
                .iter()
                .filter(move |(k, _)| k == key)
                .map(|(_, v)| v.clone())
        })
    }
}

/// The JSON-LD object describing the article, if the page has one.
fn json_ld_article(html: &Html, page: &PageScan) -> Option<Value> {
    for id in &page.metadata.json_ld {
        let Some(script) = html.tree.get(*id).and_then(ElementRef::wrap) else {
            continue;
        };
        let raw: String = script.text().collect();
        let Ok(value) = serde_json::from_str::<Value>(raw.trim().trim_end_matches(';')) else {
            continue;
        };
        let mut pending = vec![value];
        // Objects nest in arrays and `@graph`s; a work list instead of
        // recursion keeps hostile nesting harmless.
        while let Some(value) = pending.pop() {
            match value {
                Value::Array(items) => pending.extend(items.into_iter().rev()),
                Value::Object(mut object) => {
                    if let Some(graph) = object.remove("@graph") {
                        pending.push(graph);
                    }
                    let value = Value::Object(object);
                    if is_article_type(value.get("@type")) {
                        return Some(value);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

fn is_article_type(value: Option<&Value>) -> bool {
    let is_article = |t: &str| ARTICLE_TYPES.contains(&t.to_ascii_lowercase().as_str());
    match value {
        Some(Value::String(t)) => is_article(t),
        // A list of type names; nested lists are not types.
        Some(Value::Array(types)) => types.iter().any(|t| t.as_str().is_some_and(is_article)),
        _ => false,
    }
}

/// The values in `value` in document order: itself, or the items of an
/// array and of the arrays in it. A work list instead of recursion: the
/// JSON's nesting is the page's to choose (serde_json stops at 128 levels,
/// and nothing here relies on that).
fn flattened(value: &Value) -> impl Iterator<Item = &Value> {
    let mut pending = vec![value];
    std::iter::from_fn(move || loop {
        match pending.pop()? {
            Value::Array(items) => pending.extend(items.iter().rev()),
            other => return Some(other),
        }
    })
}

fn first_text(value: &Value) -> Option<String> {
    flattened(value).find_map(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    })
}

/// A name: a string, or an object's `name`.
fn name_in(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("name").and_then(first_text),
        _ => None,
    }
}

fn name_of(value: &Value) -> Option<String> {
    flattened(value).find_map(name_in)
}

/// Author names, joined: `"A and B"`, `"A, B and C"`.
fn names_of(value: &Value) -> Option<String> {
    let names: Vec<String> = flattened(value).filter_map(name_in).collect();
    let names: Vec<String> = names
        .into_iter()
        .map(|n| text::collapse(&n))
        .filter(|n| !n.is_empty() && !looks_like_url(n))
        .collect();
    match names.len() {
        0 => None,
        1 => Some(names[0].clone()),
        n => Some(format!(
            "{} and {}",
            names[..n - 1].join(", "),
            names[n - 1]
        )),
    }
}

fn image_url(value: &Value) -> Option<String> {
    flattened(value).find_map(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("url")
            .or_else(|| o.get("contentUrl"))
            .and_then(first_text),
        _ => None,
    })
}

fn looks_like_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("www.")
}

fn absolute(raw: &str, base: Option<&url::Url>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match base {
        Some(base) => base.join(raw).ok().map(|u| u.to_string()),
        None => url::Url::parse(raw).ok().map(|u| u.to_string()),
    }
}

fn element_text(html: &Html, id: Option<ego_tree::NodeId>) -> Option<String> {
    let element = html.tree.get(id?).and_then(ElementRef::wrap)?;
    let text = text::collapse(&text::bounded_text(element));
    (!text.is_empty()).then_some(text)
}

/// The headline when the page has no title metadata: the `<h1>` that the
/// `<title>` repeats, else the `<title>` without its trailing site name,
/// else the first `<h1>`.
fn visible_title(html: &Html, page: &PageScan) -> Option<String> {
    let title_tag = element_text(html, page.metadata.title);
    let h1s: Vec<String> = page
        .metadata
        .h1s
        .iter()
        .filter(|&&i| !page.elements[i as usize].invisible)
        .filter_map(|&i| element_text(html, Some(page.elements[i as usize].node)))
        .collect();
    if let Some(title_tag) = &title_tag {
        if let Some(h1) = h1s
            .iter()
            .find(|h| h.chars().count() >= 8 && title_tag.contains(h.as_str()))
        {
            return Some(h1.clone());
        }
        return Some(without_trailing_site(title_tag));
    }
    h1s.into_iter().next()
}

/// `"Headline - Site"` → `"Headline"` when the last part is short beside the rest.
fn without_trailing_site(title: &str) -> String {
    for separator in [" | ", " - ", " – ", " — ", " :: ", " · "] {
        if let Some((head, tail)) = title.rsplit_once(separator) {
            if tail.chars().count() <= 30 && head.chars().count() > tail.chars().count() {
                return head.trim().to_string();
            }
        }
    }
    title.to_string()
}

/// A date written out in a short element named for dates
/// (`<div class="article_date">November 20, 2019 - 11:28</div>`).
fn visible_date(html: &Html, page: &PageScan) -> Option<DateTime<Utc>> {
    page.metadata.date_candidates.iter().find_map(|&i| {
        let stats = &page.elements[i as usize];
        if stats.invisible || stats.text_chars == 0 || stats.text_chars > 80 {
            return None;
        }
        parse_written_date(&element_text(html, Some(stats.node))?)
    })
}

fn first_time(html: &Html, page: &PageScan) -> Option<DateTime<Utc>> {
    page.metadata.times.iter().find_map(|&i| {
        let element = html
            .tree
            .get(page.elements[i as usize].node)
            .and_then(ElementRef::wrap)?;
        element
            .value()
            .attr("datetime")
            .and_then(parse_date)
            .or_else(|| parse_date(&text::bounded_text(element)))
    })
}

/// The first short, visible element named for the author.
fn visible_byline(html: &Html, page: &PageScan) -> Option<String> {
    page.metadata.byline_candidates.iter().find_map(|&i| {
        let stats = &page.elements[i as usize];
        if stats.invisible || stats.text_chars == 0 || stats.text_chars > 120 {
            return None;
        }
        element_text(html, Some(stats.node))
    })
}

fn clean_byline(raw: &str) -> String {
    let collapsed = text::collapse(raw);
    let mut byline = collapsed.as_str();
    for prefix in ["By ", "by ", "BY ", "Von ", "Par ", "Por "] {
        if let Some(rest) = byline.strip_prefix(prefix) {
            byline = rest;
            break;
        }
    }
    byline
        .trim()
        .trim_end_matches([',', '|', '-'])
        .trim()
        .to_string()
}

/// `"Headline | Outlet"` → `"Headline"` when the suffix is the site's name.
fn strip_site_suffix(title: &str, site_name: Option<&str>) -> String {
    let Some(site) = site_name.map(str::trim).filter(|s| !s.is_empty()) else {
        return title.to_string();
    };
    for separator in [" | ", " - ", " – ", " — ", " :: ", " · "] {
        if let Some(head) = title
            .strip_suffix(site)
            .and_then(|rest| rest.strip_suffix(separator))
        {
            if !head.trim().is_empty() {
                return head.trim().to_string();
            }
        }
    }
    title.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::scan;

    fn metadata_of(page: &str) -> Metadata {
        let html = Html::parse_document(page);
        let scanned = scan(&html);
        let base = url::Url::parse("https://news.example/world/story-1").unwrap();
        read_metadata(&html, &scanned, Some(&base))
    }

    #[test]
    fn json_ld_is_preferred() {
        let m = metadata_of(
            r#"<html lang="en"><head><title>Site title | Example News</title>
            <meta property="og:title" content="OG headline">
            <meta property="og:site_name" content="Example News">
            <script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"x"},
              {"@type":["NewsArticle"],"headline":"LD headline","datePublished":"2024-08-19T10:00:00+02:00",
               "author":[{"@type":"Person","name":"Ann Writer"},{"@type":"Person","name":"Bo Reporter"}],
               "image":{"url":"/img/lead.jpg"},"isAccessibleForFree":"False"}]}</script>
            <link rel="canonical" href="/world/story-1?ref=x"></head><body><h1>Visible</h1></body></html>"#,
        );
        assert_eq!(m.title.as_deref(), Some("LD headline"));
        assert_eq!(m.byline.as_deref(), Some("Ann Writer and Bo Reporter"));
        assert_eq!(m.published, parse_date("2024-08-19T08:00:00Z"));
        assert_eq!(
            m.canonical_url.as_deref(),
            Some("https://news.example/world/story-1?ref=x")
        );
        assert_eq!(
            m.lead_image.as_deref(),
            Some("https://news.example/img/lead.jpg")
        );
        assert_eq!(m.site_name.as_deref(), Some("Example News"));
        assert!(m.paywalled);
        assert_eq!(m.declared_language.as_deref(), Some("en"));
    }

    #[test]
    fn visible_page_is_the_fallback() {
        let m = metadata_of(
            r#"<html><head><title>The headline - Daily Example</title>
            <meta property="og:site_name" content="Daily Example"></head>
            <body><article><h1> The  headline </h1><p class="byline">By <a href="/a">Jo Smith</a></p>
            <time datetime="2024-08-19T09:15:00Z">19 August</time><p>Text.</p></article></body></html>"#,
        );
        assert_eq!(m.title.as_deref(), Some("The headline"));
        assert_eq!(m.byline.as_deref(), Some("Jo Smith"));
        assert_eq!(m.published, parse_date("2024-08-19T09:15:00Z"));
        assert_eq!(m.canonical_url, None);
    }

    #[test]
    fn title_tag_loses_its_site_suffix() {
        let m = metadata_of(
            r#"<html><head><title>Talks resume in Baku | The Courier</title>
            <meta name="application-name" content="The Courier"><meta name="author" content="https://x.example/me">
            <meta property="article:published_time" content="2024-08-19"></head><body><p>x</p></body></html>"#,
        );
        assert_eq!(m.title.as_deref(), Some("Talks resume in Baku"));
        assert_eq!(m.byline, None);
        assert_eq!(m.published, parse_date("2024-08-19T00:00:00Z"));
    }

    #[test]
    fn broken_json_ld_is_ignored() {
        let m = metadata_of(
            r#"<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>
            <meta property="og:title" content="Fallback"></head><body></body></html>"#,
        );
        assert_eq!(m.title.as_deref(), Some("Fallback"));
    }
}
