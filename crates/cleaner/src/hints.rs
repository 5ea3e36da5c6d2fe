//! What an element's tag, class and id say about it before its text is
//! weighed: is it layout, page chrome, or likely the story itself.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use scraper::node::Element;

use crate::text;

/// Elements whose content is never reader-visible text.
pub fn is_invisible_tag(tag: &str) -> bool {
    matches!(
        tag,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "math"
            | "iframe"
            | "object"
            | "embed"
            | "canvas"
            | "select"
            | "option"
            | "textarea"
            | "input"
            | "button"
            | "head"
            | "title"
            | "meta"
            | "link"
            | "audio"
            | "video"
            | "source"
            | "picture"
            | "map"
            | "dialog"
    )
}

/// Elements that are page chrome wherever they appear in a story.
pub fn is_chrome_tag(tag: &str) -> bool {
    matches!(
        tag,
        "nav" | "aside" | "footer" | "form" | "menu" | "header" | "figure" | "figcaption"
    )
}

/// Elements that start a new line of text (a paragraph boundary when output).
pub fn is_block_tag(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "body"
            | "html"
            | "blockquote"
            | "pre"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "tr"
            | "td"
            | "th"
            | "caption"
            | "figure"
            | "figcaption"
            | "header"
            | "footer"
            | "nav"
            | "aside"
            | "address"
            | "hr"
            | "br"
            | "center"
            | "form"
            | "fieldset"
            | "details"
            | "summary"
            | "menu"
    )
}

/// Tags that hold a paragraph of prose rather than layout.
pub fn is_paragraph_tag(tag: &str) -> bool {
    matches!(tag, "p" | "pre" | "blockquote")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Class or id names the story's text (`article-body`, `story-content`).
    Content,
    Neutral,
    /// Class or id names chrome (`share`, `related`, `comments`, `newsletter`).
    Chrome,
}

/// Substrings of class/id names that mark page chrome.
const CHROME_WORDS: &[&str] = &[
    "comment",
    "share",
    "sharing",
    "social",
    "related",
    "recommend",
    "newsletter",
    "subscribe",
    "signup",
    "sign-up",
    "promo",
    "sponsor",
    "advert",
    "banner",
    "cookie",
    "consent",
    "gdpr",
    "sidebar",
    "widget",
    "footer",
    "masthead",
    "breadcrumb",
    "pagination",
    "pager",
    "popup",
    "modal",
    "outbrain",
    "taboola",
    "disqus",
    "byline",
    "dateline",
    "timestamp",
    "author",
    "caption",
    "credit",
    "copyright",
    "toolbar",
    "tools",
    "print",
    "tags",
    "keywords",
    "trending",
    "most-read",
    "mostread",
    "more-from",
    "read-more",
    "readmore",
    "also-read",
    "further",
    "nav",
    "menu",
    "skip",
    "hidden",
    "visually-hidden",
    "sr-only",
    "screen-reader",
    "offscreen",
    "inline-ad",
    "ad-container",
    "ad-slot",
    "adslot",
    "adunit",
    "ad-unit",
    "dfp",
    "paywall",
    "overlay",
    "rail",
    "teaser",
    "headline",
    "kicker",
    "embed",
    "video",
    "gallery",
    "slideshow",
    "login",
    "follow",
    "icon",
    "alert",
    "notification",
    "label",
    "correction-",
    "inset",
    "pullquote",
];

/// Substrings that mark the story's own text.
const CONTENT_WORDS: &[&str] = &[
    "article-body",
    "articlebody",
    "article__body",
    "article-content",
    "articlecontent",
    "story-body",
    "storybody",
    "story-content",
    "post-content",
    "postcontent",
    "entry-content",
    "body-text",
    "bodytext",
    "article-text",
    "articletext",
    "story-text",
    "main-content",
    "content-body",
    "post-body",
    "rich-text",
    "richtext",
    "article_body",
    "story_body",
    "paywall-content",
    "text-content",
];

/// Words of class names (split at any non-alphanumeric character) that are
/// chrome; too short to search for as substrings (`date` is in `update`).
const CHROME_TOKENS: &[&str] = &[
    "ad",
    "ads",
    "advertisement",
    "meta",
    "share",
    "social",
    "tags",
    "hide",
    "hidden",
    "date",
    "time",
    "autor",
    "dateline",
];

fn words_automaton(words: &[&str]) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build(words)
        .expect("class-name word lists build an automaton")
}

/// One automaton per word list: one pass over a name says whether any
/// word of the list is in it.
static CONTENT_NAMES: LazyLock<AhoCorasick> = LazyLock::new(|| words_automaton(CONTENT_WORDS));
static CHROME_NAMES: LazyLock<AhoCorasick> = LazyLock::new(|| words_automaton(CHROME_WORDS));
static OTHER_STORIES_NAMES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    words_automaton(&[
        "related",
        "recommend",
        "more-from",
        "morefrom",
        "most-read",
        "mostread",
        "popular",
        "trending",
        "also",
        "comment",
        "newsletter",
        "promo",
        "sponsor",
    ])
});

/// Whether an element's class or id names other stories or comments (a
/// "related posts" heading, not a sub-headline).
pub fn names_other_stories(element: &Element) -> bool {
    [element.id(), element.attr("class")]
        .into_iter()
        .flatten()
        .any(|name| OTHER_STORIES_NAMES.is_match(name))
}

/// Words that mark an author (patterns 0 and 1) or a date (the rest).
static METADATA_NAMES: LazyLock<AhoCorasick> =
    LazyLock::new(|| words_automaton(&["byline", "author", "date", "time", "publish"]));

/// What an element's class, id and `itemprop` say it holds.
#[derive(Debug, Default)]
pub struct MetadataNames {
    pub author: bool,
    pub date: bool,
}

impl MetadataNames {
    pub fn add(&mut self, value: &str) {
        for found in METADATA_NAMES.find_overlapping_iter(value) {
            if found.pattern().as_usize() < 2 {
                self.author = true;
            } else {
                self.date = true;
            }
        }
    }
}

pub fn hint(element: &Element) -> Hint {
    // An id that is a URL or a path (a slide's permalink) names no part of
    // the template, whatever words the address holds.
    let id = element.id().filter(|id| !id.contains('/')).unwrap_or("");
    let class = without_label_modifiers(element.attr("class").unwrap_or(""));
    let class = class.as_ref();
    if id.is_empty() && class.is_empty() {
        return Hint::Neutral;
    }
    let names = [id, class];
    if names.iter().any(|n| CONTENT_NAMES.is_match(n)) {
        // A comment's text (`comment-content entry-content`) is named like
        // the story's, but it is a comment.
        if names
            .iter()
            .any(|n| text::contains_ignore_ascii_case(n, "comment"))
        {
            return Hint::Chrome;
        }
        return Hint::Content;
    }
    if names.iter().any(|n| CHROME_NAMES.is_match(n))
        || names
            .iter()
            .flat_map(|n| n.split(|c: char| !c.is_ascii_alphanumeric()))
            .any(|t| CHROME_TOKENS.iter().any(|c| c.eq_ignore_ascii_case(t)))
    {
        return Hint::Chrome;
    }
    Hint::Neutral
}

/// The class without names that say where a field's label goes
/// (`field--label-hidden`, `field-label-above`, `label-inline`): they
/// describe the label, not the element, and would read as "label" and
/// "hidden" chrome on every field of a page built that way.
fn without_label_modifiers(class: &str) -> std::borrow::Cow<'_, str> {
    fn is_label_modifier(name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        [
            "label-hidden",
            "label-above",
            "label-inline",
            "label-visually_hidden",
        ]
        .iter()
        .any(|m| name.ends_with(m))
    }
    if !class.contains("label-") {
        return std::borrow::Cow::Borrowed(class);
    }
    std::borrow::Cow::Owned(
        class
            .split_ascii_whitespace()
            .filter(|name| !is_label_modifier(name))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Hidden by markup (`hidden`, `aria-hidden`, inline `display:none`).
pub fn is_hidden(element: &Element) -> bool {
    // One pass over the attributes: each lookup by name would walk them
    // all, and this runs for every element of the page.
    element.attrs().any(|(name, value)| match name {
        "hidden" => true,
        "aria-hidden" => value == "true",
        // Most styles say neither word (and inline styles are written in
        // lower case); only those that do are normalised.
        "style" => {
            (value.contains("none") || value.contains("hidden")) && {
                let style: String = value
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_ascii_lowercase();
                style.contains("display:none") || style.contains("visibility:hidden")
            }
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_section(html: &str) -> Hint {
        let document = scraper::Html::parse_fragment(html);
        let selector = scraper::Selector::parse("section").expect("valid selector");
        let section = document.select(&selector).next().expect("a section");
        hint(section.value())
    }

    fn section_is_hidden(html: &str) -> bool {
        let document = scraper::Html::parse_fragment(html);
        let selector = scraper::Selector::parse("section").expect("valid selector");
        let section = document.select(&selector).next().expect("a section");
        is_hidden(section.value())
    }

    #[test]
    fn hidden_markup_is_recognised_in_one_pass_over_the_attributes() {
        for hidden in [
            r#"<section hidden>x</section>"#,
            r#"<section class="a" aria-hidden="true">x</section>"#,
            r#"<section style="color: red; display : none">x</section>"#,
            r#"<section style="visibility:hidden">x</section>"#,
        ] {
            assert!(section_is_hidden(hidden), "{hidden}");
        }
        for shown in [
            r#"<section aria-hidden="false">x</section>"#,
            r#"<section style="text-decoration: none">x</section>"#,
            r#"<section class="hidden-label">x</section>"#,
        ] {
            assert!(!section_is_hidden(shown), "{shown}");
        }
    }

    #[test]
    fn an_id_that_is_an_address_names_nothing() {
        assert_eq!(
            first_section(
                r#"<section id="https://news.example/tech/slideshow/123.cms" class="slides">x</section>"#
            ),
            Hint::Neutral
        );
        assert_eq!(
            first_section(r#"<section id="slideshow-123">x</section>"#),
            Hint::Chrome
        );
    }

    #[test]
    fn a_photo_copyright_line_is_chrome() {
        assert_eq!(
            first_section(r#"<section class="image-annotation copyright">x</section>"#),
            Hint::Chrome
        );
    }

    #[test]
    fn a_comments_text_is_a_comment_whatever_else_its_class_says() {
        assert_eq!(
            first_section(r#"<section class="comment-content entry-content">x</section>"#),
            Hint::Chrome
        );
        assert_eq!(
            first_section(r#"<section class="entry-content">x</section>"#),
            Hint::Content
        );
    }

    #[test]
    fn a_fields_label_placement_is_not_the_fields_own_name() {
        assert_eq!(
            first_section(
                r#"<section class="field field--name-field-body field--label-hidden">x</section>"#
            ),
            Hint::Neutral
        );
        assert_eq!(
            first_section(r#"<section class="label hidden">x</section>"#),
            Hint::Chrome
        );
    }
}
