//! Article or not: a body too short or made of links is never passed on as a
//! story, and the reason names what the page most likely is.

use crate::content::Body;
use crate::metadata::Metadata;
use crate::scan::PageScan;
use crate::{CleanError, CleanerConfig};

/// The chosen container's link share above which it is a list of stories.
const INDEX_LINK_DENSITY: f32 = 0.5;
/// The share of links in what was read of the container (chrome left out)
/// under which the body is prose however linky the container is.
const READ_LINK_DENSITY: f32 = 0.35;
/// A brief shorter than this is not told apart from a teaser or a caption
/// even with an article's structure around it.
const BRIEF_MIN_CHARS: usize = 100;
/// A brief's own text may be at most this share of links.
const BRIEF_LINK_DENSITY: f32 = 0.25;

/// A short body is still an article when the page is built as one: the
/// body sits under the page's headline, the page says when it was
/// published or that it is an article, and the body is prose rather than
/// links. A category or listing page has a headline too, but no date of its
/// own and a body of links.
fn is_brief(body: &Body, metadata: &Metadata, chars: usize) -> bool {
    let dated_article = metadata.published.is_some()
        || metadata
            .page_type
            .as_deref()
            .is_some_and(|t| t == "article");
    chars >= BRIEF_MIN_CHARS
        && body.under_headline
        && dated_article
        && body.link_density < BRIEF_LINK_DENSITY
        && !metadata.paywalled
}

/// The body text, or why the page is not an article.
pub fn judge(
    body: &Body,
    metadata: &Metadata,
    page: &PageScan,
    config: &CleanerConfig,
) -> Result<String, CleanError> {
    let text = body.paragraphs.join("\n\n");
    let chars = text.chars().count();
    // A container full of links can still hold a story when the links sit
    // in parts left out as chrome (a menu widget pasted into the post): what
    // was read of it is what counts.
    let prose =
        body.link_density < INDEX_LINK_DENSITY || body.read_link_density < READ_LINK_DENSITY;
    if chars >= config.min_body_chars && prose {
        return Ok(text);
    }
    if is_brief(body, metadata, chars) {
        return Ok(text);
    }
    let page_chars = page
        .elements
        .get(page.body as usize)
        .map_or(0, |b| b.text_chars);
    let page_links = page
        .elements
        .get(page.body as usize)
        .map_or(0, |b| b.link_chars);
    let is_video = metadata
        .page_type
        .as_deref()
        .is_some_and(|t| t.starts_with("video"))
        || page.metadata.videos > 0;
    let reason = if !prose
        || (page_chars > 0 && page_links * 2 > page_chars && chars < config.min_body_chars)
    {
        format!(
            "index page: the page is mostly links ({}% of its text), main text {chars} characters",
            page_links * 100 / page_chars.max(1)
        )
    } else if metadata.paywalled {
        format!("paywall stub: the page marks its content as not free and shows only {chars} characters")
    } else if is_video {
        format!("video page: only {chars} characters of text beside the video")
    } else if chars == 0 {
        "no main text found on the page".to_string()
    } else if !body.under_headline {
        format!(
            "main text too short: {chars} characters (minimum {}) and not under the page's headline",
            config.min_body_chars
        )
    } else {
        format!(
            "main text too short: {chars} characters (minimum {}; {BRIEF_MIN_CHARS} for a dated brief under its headline)",
            config.min_body_chars
        )
    };
    Err(CleanError::not_an_article(reason))
}
