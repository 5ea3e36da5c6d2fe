//! The lenient pass around feed-rs: reads the document's tree for what
//! feed-rs leaves out (RSS `managingEditor`/`dc:creator` authors, Dublin
//! Core titles and dates, iTunes fields, RSS items outside `<channel>`,
//! Atom links written as text, `isPermaLink="false"`), and rebuilds the
//! feed from the tree alone when feed-rs rejects the document outright.

use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

use crate::convert::Resolver;
use crate::identity::item_identity;
use crate::parse::{ParsedFeed, ParsedItem, ParsedLink, ParsedPerson, ParsedText};
use crate::xml_tree::Element;
use newsflow_dates::parse_date;

const TITLE: &[(&str, &str)] = &[("", "title"), ("atom", "title"), ("dc", "title")];
const ITEM_TITLE: &[(&str, &str)] = &[
    ("", "title"),
    ("atom", "title"),
    ("dc", "title"),
    ("media", "title"),
];
const FEED_SUBTITLE: &[(&str, &str)] = &[
    ("", "description"),
    ("atom", "subtitle"),
    ("atom", "tagline"),
    ("itunes", "subtitle"),
    ("dc", "description"),
    ("itunes", "summary"),
    ("", "abstract"),
];
const ITEM_SUMMARY: &[(&str, &str)] = &[
    ("", "description"),
    ("atom", "summary"),
    ("itunes", "summary"),
    ("dc", "description"),
    ("", "abstract"),
    ("media", "description"),
];
const ITEM_CONTENT: &[(&str, &str)] = &[
    ("content", "encoded"),
    ("atom", "content"),
    ("xhtml", "body"),
    ("", "body"),
    ("", "fullitem"),
];
const AUTHOR: &[(&str, &str)] = &[
    ("atom", "author"),
    ("", "managingEditor"),
    ("", "author"),
    ("dc", "creator"),
    ("dc", "author"),
    ("itunes", "author"),
    ("", "webMaster"),
];
const UPDATED: &[(&str, &str)] = &[
    ("atom", "updated"),
    ("atom", "modified"),
    ("dc", "date"),
    ("dcterms", "modified"),
    ("", "lastBuildDate"),
    ("", "lastmod"),
];
const PUBLISHED: &[(&str, &str)] = &[
    ("atom", "published"),
    ("atom", "issued"),
    ("", "pubDate"),
    ("dcterms", "issued"),
    ("dcterms", "created"),
];
const ID: &[(&str, &str)] = &[("atom", "id"), ("", "guid"), ("", "id")];

/// The feed-level element and the item elements of a document.
fn channel_and_items(root: &Element) -> (&Element, Vec<&Element>) {
    let channel = root
        .elements()
        .find(|e| e.name.eq_ignore_ascii_case("channel"))
        .unwrap_or(root);
    let is_item = |e: &&Element| {
        e.name.eq_ignore_ascii_case("item") || e.is("atom", "entry") || e.is("", "entry")
    };
    let mut items: Vec<&Element> = channel.elements().filter(is_item).collect();
    if !std::ptr::eq(channel, root) {
        items.extend(root.elements().filter(is_item));
    }
    (channel, items)
}

pub(crate) fn supplement(
    feed: &mut ParsedFeed,
    root: &Element,
    resolver: &Resolver,
    feed_url: &str,
) {
    let (channel, item_elements) = channel_and_items(root);
    let atom10 = feed.format == "atom10";
    let resolver = &with_base(&with_base(resolver, root), channel);
    fill_text(
        &mut feed.title_detail,
        channel.first_of(TITLE),
        resolver,
        atom10,
        false,
    );
    fill_text(
        &mut feed.subtitle_detail,
        channel.first_of(FEED_SUBTITLE),
        resolver,
        atom10,
        false,
    );
    feed.title = feed
        .title_detail
        .as_ref()
        .map(|t| t.value.clone())
        .filter(|t| !t.is_empty());
    feed.subtitle = feed.subtitle_detail.as_ref().map(|t| t.value.clone());
    let people = authors(channel, resolver);
    if !people.is_empty() {
        feed.authors = people;
    }
    fill_date(&mut feed.updated, &mut feed.updated_text, channel, UPDATED);
    fill_date(
        &mut feed.published,
        &mut feed.published_text,
        channel,
        PUBLISHED,
    );
    if feed.id.is_none() {
        feed.id = channel
            .first_of(ID)
            .map(|e| e.text().trim().to_string())
            .filter(|i| !i.is_empty());
    }
    if feed.links.is_empty() {
        feed.links = links(channel, resolver);
        if feed.link.is_none() {
            feed.link = alternate(&feed.links);
        }
    }
    if feed.items.is_empty() && !item_elements.is_empty() {
        feed.items = item_elements.iter().map(|_| blank_item()).collect();
    }
    if feed.items.len() == item_elements.len() {
        for (item, element) in feed.items.iter_mut().zip(item_elements) {
            supplement_item(item, element, &with_base(resolver, element), atom10);
        }
    }
    for item in &mut feed.items {
        item.identity = item_identity(
            item.guid.as_deref(),
            item.link.as_deref(),
            item.title.as_deref(),
            item.summary.as_deref(),
            feed_url,
        );
    }
}

/// The resolver for an element's content: its `xml:base`, if any, applies.
fn with_base(resolver: &Resolver, element: &Element) -> Resolver {
    resolver.nested(
        element
            .attrs
            .iter()
            .find(|(_, name, _)| name == "base")
            .map(|(_, _, v)| v.as_str()),
    )
}

fn supplement_item(item: &mut ParsedItem, element: &Element, resolver: &Resolver, atom10: bool) {
    fill_text(
        &mut item.title_detail,
        element.first_of(ITEM_TITLE),
        resolver,
        atom10,
        false,
    );
    item.title = item
        .title_detail
        .as_ref()
        .map(|t| t.value.clone())
        .filter(|t| !t.is_empty());
    fill_text(
        &mut item.summary_detail,
        element.first_of(ITEM_SUMMARY),
        resolver,
        atom10,
        false,
    );
    item.summary = item
        .summary_detail
        .as_ref()
        .map(|t| t.value.clone())
        .filter(|s| !s.is_empty());
    let mut content = item.content.first().cloned();
    fill_text(
        &mut content,
        element.first_of(ITEM_CONTENT),
        resolver,
        atom10,
        true,
    );
    if let Some(content) = content {
        match item.content.first_mut() {
            Some(first) => *first = content,
            None => item.content.push(content),
        }
    }
    let people = authors(element, resolver);
    if !people.is_empty() {
        item.authors = people;
    }
    fill_date(&mut item.updated, &mut item.updated_text, element, UPDATED);
    fill_date(
        &mut item.published,
        &mut item.published_text,
        element,
        PUBLISHED,
    );
    if item.published.is_none() {
        item.published = item.updated;
    }
    let guid_element = element.first_of(&[("", "guid")]);
    if item.guid.is_none() {
        item.guid = element
            .first_of(ID)
            .map(|e| e.text().trim().to_string())
            .filter(|g| !g.is_empty())
            .or_else(|| {
                element
                    .attrs
                    .iter()
                    .find(|(ns, name, _)| ns == "rdf" && name == "about")
                    .map(|(_, _, v)| v.trim().to_string())
            });
    }
    if item.links.is_empty() {
        item.links = links(element, resolver);
    }
    if item.link.is_none() {
        item.link = alternate(&item.links);
    }
    let not_permalink = guid_element
        .and_then(|g| g.attr("isPermaLink"))
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("false"));
    if not_permalink && item.guid_is_link {
        let guid = item.guid.clone();
        item.guid_is_link = false;
        item.links.retain(|l| Some(&l.href) != guid.as_ref());
        item.link = alternate(&item.links);
    }
    if item.link.is_none() && !not_permalink && guid_element.is_some() {
        if let Some(guid) = item
            .guid
            .clone()
            .filter(|g| g.starts_with("http://") || g.starts_with("https://"))
        {
            item.guid_is_link = true;
            item.link = Some(guid.clone());
            item.links.push(ParsedLink {
                href: guid,
                rel: Some("alternate".into()),
                media_type: None,
                length: None,
            });
        }
    }
}

fn blank_item() -> ParsedItem {
    ParsedItem {
        identity: String::new(),
        guid: None,
        guid_is_link: false,
        link: None,
        title: None,
        published: None,
        updated: None,
        published_text: None,
        updated_text: None,
        summary: None,
        title_detail: None,
        summary_detail: None,
        content: Vec::new(),
        authors: Vec::new(),
        links: Vec::new(),
        enclosures: Vec::new(),
    }
}

fn fill_date(
    slot: &mut Option<chrono::DateTime<chrono::Utc>>,
    text_slot: &mut Option<String>,
    element: &Element,
    names: &[(&str, &str)],
) {
    let mut written: Vec<String> = names
        .iter()
        .flat_map(|(ns, name)| element.elements().filter(move |e| e.is(ns, name)))
        .map(|e| e.text().trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    // CDF keeps its date in an attribute.
    if names == UPDATED {
        written.extend(element.attr("lastmod").map(str::to_string));
    }
    if text_slot.is_none() {
        *text_slot = written.first().cloned();
    }
    if slot.is_none() {
        *slot = written.iter().find_map(|t| parse_date(t));
    }
}

/// Fills a missing text construct from an element: markup inside becomes
/// HTML, `mode="base64"` is decoded, `type` decides text or HTML. Inline
/// markup always comes from the tree (feed-rs drops or re-escapes it).
fn fill_text(
    slot: &mut Option<ParsedText>,
    element: Option<&Element>,
    resolver: &Resolver,
    atom10: bool,
    html_by_default: bool,
) {
    let Some(element) = element else { return };
    let inline_markup = element.has_child_elements();
    if slot.as_ref().is_some_and(|t| !t.value.is_empty()) && !inline_markup {
        return;
    }
    let resolver = with_base(resolver, element);
    let declared = element
        .attr("type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mode = element
        .attr("mode")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (value, html) = if mode == "base64" {
        let raw: String = element.text().split_whitespace().collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw.as_bytes())
            .ok();
        (
            decoded
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .unwrap_or_default(),
            declared.contains("html"),
        )
    } else if inline_markup {
        // Atom 1.0 wraps XHTML in a div that is not part of the content.
        let wrapper = element.elements().next().filter(|d| {
            atom10 && declared == "xhtml" && d.name == "div" && element.elements().count() == 1
        });
        (wrapper.unwrap_or(element).inner_xml(), true)
    } else {
        (
            element.text(),
            html_by_default || declared.contains("html") || mode == "escaped",
        )
    };
    let value = value.trim().to_string();
    let media_type =
        if declared == "xhtml" || declared == "application/xhtml+xml" || element.ns == "xhtml" {
            "application/xhtml+xml".to_string()
        } else if html {
            "text/html".to_string()
        } else if declared.contains('/') {
            declared
        } else {
            "text/plain".to_string()
        };
    let value = if html {
        resolver.resolve_html(&value)
    } else {
        value
    };
    *slot = Some(ParsedText { value, media_type });
}

fn links(element: &Element, resolver: &Resolver) -> Vec<ParsedLink> {
    let mut out = Vec::new();
    // CDF puts the link in the channel's or item's HREF attribute.
    if element.name.eq_ignore_ascii_case("channel") || element.name.eq_ignore_ascii_case("item") {
        if let Some(href) = element
            .attr("href")
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            out.push(ParsedLink {
                href: resolver.resolve(href),
                rel: Some("alternate".into()),
                media_type: None,
                length: None,
            });
        }
    }
    for link in element
        .elements()
        .filter(|e| e.name == "link" && (e.ns.is_empty() || e.ns == "atom"))
    {
        let href = link
            .attr("href")
            .map(str::to_string)
            .unwrap_or_else(|| link.text())
            .trim()
            .to_string();
        if href.is_empty() {
            continue;
        }
        out.push(ParsedLink {
            href: resolver.resolve(&href),
            rel: Some(link.attr("rel").unwrap_or("alternate").to_string()),
            media_type: link.attr("type").map(str::to_string),
            length: link.attr("length").and_then(|l| l.trim().parse().ok()),
        });
    }
    out
}

fn alternate(links: &[ParsedLink]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone())
}

fn authors(element: &Element, resolver: &Resolver) -> Vec<ParsedPerson> {
    let atom_people: Vec<ParsedPerson> = element
        .elements()
        .filter(|e| e.is("atom", "author"))
        .filter(|e| e.has_child_elements())
        .map(|author| {
            let field = |names: &[(&str, &str)]| {
                author
                    .first_of(names)
                    .map(|e| e.text().trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            let href = field(&[
                ("atom", "uri"),
                ("atom", "url"),
                ("atom", "homepage"),
                ("", "uri"),
                ("", "url"),
            ]);
            ParsedPerson {
                name: field(&[("atom", "name"), ("", "name")]),
                email: field(&[("atom", "email"), ("", "email")]),
                href: href.map(|h| with_base(resolver, author).resolve(&h)),
            }
        })
        .collect();
    if !atom_people.is_empty() {
        return atom_people;
    }
    let Some(first) = element.first_of(AUTHOR) else {
        return Vec::new();
    };
    // Every element of the kind found first (several dc:creator are several authors).
    element
        .elements()
        .filter(|e| e.ns == first.ns && e.name == first.name)
        .map(|author| person_from_text(author.text().trim()))
        .filter(|p| p.name.is_some() || p.email.is_some())
        .collect()
}

/// `Name (email)`, `email (Name)`, `Name <email>`, a bare email, or a name.
pub(crate) fn person_from_text(text: &str) -> ParsedPerson {
    static PARENTHESISED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(.*?)\s*\(([^)]*)\)\s*$").expect("static regex"));
    static ANGLED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(.*?)\s*<([^>]*)>\s*$").expect("static regex"));
    let clean = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(c) = PARENTHESISED
        .captures(text)
        .or_else(|| ANGLED.captures(text))
    {
        let (a, b) = (c[1].trim(), c[2].trim());
        let (name, email) = if a.contains('@') && !b.contains('@') {
            (b, a)
        } else if b.contains('@') {
            (a, b)
        } else {
            (text, "")
        };
        return ParsedPerson {
            name: clean(name),
            email: clean(email),
            href: None,
        };
    }
    if text.contains('@') && !text.contains(char::is_whitespace) {
        return ParsedPerson {
            name: None,
            email: clean(text),
            href: None,
        };
    }
    ParsedPerson {
        name: clean(text),
        email: None,
        href: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_from_rss_author_strings() {
        let p = person_from_text("me@example.com (Example editor)");
        assert_eq!(
            (p.name.as_deref(), p.email.as_deref()),
            (Some("Example editor"), Some("me@example.com"))
        );
        let p = person_from_text("Example editor <me@example.com>");
        assert_eq!(
            (p.name.as_deref(), p.email.as_deref()),
            (Some("Example editor"), Some("me@example.com"))
        );
        assert_eq!(
            person_from_text("Jane Doe").name.as_deref(),
            Some("Jane Doe")
        );
    }
}
