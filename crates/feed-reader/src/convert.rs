//! From feed-rs's model to ours: links resolved to absolute URLs (against
//! `xml:base`, else the feed's URL), relative links inside HTML content
//! resolved too, and each item given its stable identity.

use std::sync::LazyLock;

use feed_rs::model::{Entry, Feed, Link, Person, Text};
use regex::Regex;
use url::Url;

use crate::identity::item_identity;
use crate::parse::{FeedMeta, ParsedFeed, ParsedItem, ParsedLink, ParsedPerson, ParsedText};

pub(crate) struct Resolver {
    base: Option<Url>,
}

impl Resolver {
    pub(crate) fn new(feed_url: &str) -> Self {
        Self {
            base: Url::parse(feed_url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https")),
        }
    }

    /// A resolver for an element with its own `xml:base`.
    pub(crate) fn nested(&self, xml_base: Option<&str>) -> Resolver {
        let base = match xml_base.map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) => match &self.base {
                Some(base) => base.join(b).ok(),
                None => Url::parse(b).ok(),
            },
            None => None,
        };
        Resolver {
            base: base.or_else(|| self.base.clone()),
        }
    }

    pub(crate) fn resolve(&self, href: &str) -> String {
        let href = href.trim();
        if let Ok(absolute) = Url::parse(href) {
            return absolute.to_string();
        }
        self.base
            .as_ref()
            .and_then(|b| b.join(href).ok())
            .map(|u| u.to_string())
            .unwrap_or_else(|| href.to_string())
    }

    /// Resolves `href` and `src` attributes inside HTML text.
    pub(crate) fn resolve_html(&self, html: &str) -> String {
        static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"(?i)\b(href|src)\s*=\s*("([^"]*)"|'([^']*)')"#).expect("static regex")
        });
        if self.base.is_none() {
            return html.to_string();
        }
        ATTRIBUTE
            .replace_all(html, |c: &regex::Captures| {
                let value = c.get(3).or(c.get(4)).map_or("", |m| m.as_str());
                if value.starts_with('#') || value.to_ascii_lowercase().starts_with("javascript:") {
                    return c[0].to_string();
                }
                format!("{}=\"{}\"", &c[1], self.resolve(value))
            })
            .into_owned()
    }

    fn text(&self, text: &Text) -> ParsedText {
        let media_type = text.content_type.to_string();
        let value = text.content.trim().to_string();
        let value = if is_markup(&media_type) {
            self.resolve_html(&value)
        } else {
            value
        };
        ParsedText { value, media_type }
    }

    fn links(&self, links: &[Link]) -> Vec<ParsedLink> {
        links
            .iter()
            .filter(|l| !l.href.trim().is_empty())
            .map(|l| ParsedLink {
                href: self.resolve(&l.href),
                rel: Some(l.rel.clone().unwrap_or_else(|| "alternate".into())),
                media_type: l.media_type.clone(),
                length: l.length,
            })
            .collect()
    }

    fn person(&self, person: &Person) -> ParsedPerson {
        let clean = |s: &Option<String>| {
            s.as_ref()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        ParsedPerson {
            name: clean(&person.name),
            email: clean(&person.email),
            href: clean(&person.uri).map(|u| self.resolve(&u)),
        }
    }
}

fn is_markup(media_type: &str) -> bool {
    media_type.contains("html") || media_type.contains("xml")
}

fn alternate(links: &[ParsedLink]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone())
}

pub(crate) fn convert_feed(feed: Feed, feed_url: &str, meta: FeedMeta) -> ParsedFeed {
    let resolver = Resolver::new(feed_url);
    let links = resolver.links(&feed.links);
    let items = feed
        .entries
        .iter()
        .map(|e| convert_entry(e, &resolver, feed_url))
        .collect();
    let title_detail = feed
        .title
        .as_ref()
        .map(|t| resolver.text(t))
        .filter(|t| !t.value.is_empty());
    let subtitle_detail = feed.description.as_ref().map(|t| resolver.text(t));
    ParsedFeed {
        title: title_detail.as_ref().map(|t| t.value.clone()),
        title_detail,
        subtitle: subtitle_detail.as_ref().map(|t| t.value.clone()),
        subtitle_detail,
        id: Some(feed.id.trim().to_string())
            .filter(|i| !i.is_empty())
            .map(|i| resolver.resolve_id(&i)),
        link: alternate(&links),
        hub: links
            .iter()
            .find(|l| l.rel.as_deref() == Some("hub"))
            .map(|l| l.href.clone()),
        self_link: links
            .iter()
            .find(|l| l.rel.as_deref() == Some("self"))
            .map(|l| l.href.clone()),
        links,
        authors: feed.authors.iter().map(|p| resolver.person(p)).collect(),
        updated: feed.updated,
        published: feed.published,
        updated_text: None,
        published_text: None,
        format: meta.format,
        encoding: meta.encoding,
        charset_source: meta.charset_source,
        repairs: meta.repairs,
        ttl_minutes: feed.ttl,
        update_period_secs: meta.update_period_secs,
        items,
    }
}

/// A feed with nothing in it yet, for the lenient reader to fill.
pub(crate) fn empty_feed(meta: FeedMeta) -> ParsedFeed {
    ParsedFeed {
        title: None,
        title_detail: None,
        subtitle: None,
        subtitle_detail: None,
        id: None,
        link: None,
        links: Vec::new(),
        authors: Vec::new(),
        updated: None,
        published: None,
        updated_text: None,
        published_text: None,
        format: meta.format,
        encoding: meta.encoding,
        charset_source: meta.charset_source,
        repairs: meta.repairs,
        hub: None,
        self_link: None,
        ttl_minutes: None,
        update_period_secs: meta.update_period_secs,
        items: Vec::new(),
    }
}

impl Resolver {
    /// Ids that look like relative references are resolved like links
    /// (feedparser does; a bare number stays as it is).
    fn resolve_id(&self, id: &str) -> String {
        if id.starts_with('/') || id.starts_with("./") || id.starts_with("../") {
            self.resolve(id)
        } else {
            id.to_string()
        }
    }
}

fn convert_entry(entry: &Entry, feed_resolver: &Resolver, feed_url: &str) -> ParsedItem {
    let resolver = feed_resolver.nested(entry.base.as_deref());
    let mut links = resolver.links(&entry.links);
    let enclosures: Vec<ParsedLink> = links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .cloned()
        .chain(
            entry
                .media
                .iter()
                .flat_map(|m| m.content.iter())
                .filter_map(|c| {
                    Some(ParsedLink {
                        href: c.url.as_ref()?.to_string(),
                        rel: Some("enclosure".into()),
                        media_type: c.content_type.as_ref().map(|t| t.to_string()),
                        length: c.size,
                    })
                }),
        )
        .collect();
    let guid = Some(entry.id.trim().to_string()).filter(|g| !g.is_empty());
    let mut link = alternate(&links);
    // An RSS guid that is a URL and no <link>: the guid is the permalink.
    let guid_is_link = link.is_none()
        && guid
            .as_deref()
            .is_some_and(|g| Url::parse(g).is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
    if guid_is_link {
        link = guid.clone();
        links.push(ParsedLink {
            href: link.clone().unwrap_or_default(),
            rel: Some("alternate".into()),
            media_type: None,
            length: None,
        });
    }
    let title_detail = entry.title.as_ref().map(|t| resolver.text(t));
    let summary_detail = entry.summary.as_ref().map(|t| resolver.text(t));
    let content: Vec<ParsedText> = entry
        .content
        .iter()
        .filter_map(|c| {
            let media_type = c.content_type.to_string();
            let value = c.body.as_deref()?.trim().to_string();
            let value = if is_markup(&media_type) {
                resolver.resolve_html(&value)
            } else {
                value
            };
            Some(ParsedText { value, media_type })
        })
        .collect();
    let title = title_detail
        .as_ref()
        .map(|t| t.value.clone())
        .filter(|t| !t.is_empty());
    let summary = summary_detail
        .as_ref()
        .map(|t| t.value.clone())
        .filter(|s| !s.is_empty());
    let identity = item_identity(
        guid.as_deref(),
        link.as_deref(),
        title.as_deref(),
        summary.as_deref(),
        feed_url,
    );
    ParsedItem {
        identity,
        guid: guid.map(|g| resolver.resolve_id(&g)),
        guid_is_link,
        link,
        title,
        published: entry.published.or(entry.updated),
        updated: entry.updated,
        published_text: None,
        updated_text: None,
        summary,
        title_detail,
        summary_detail,
        content,
        authors: entry.authors.iter().map(|p| resolver.person(p)).collect(),
        links,
        enclosures,
    }
}
