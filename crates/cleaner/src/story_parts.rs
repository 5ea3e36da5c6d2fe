//! The parts of a story that a page splits away from its best container:
//! the sections that follow it (text, a table, text again; a page builder's
//! rows; a thread's next posts) and the opening part that stands between
//! the headline and it (a question above its answers).

use scraper::Html;

use crate::content::{link_density, opens_boilerplate_block};
use crate::hints::{self, Hint};
use crate::scan::{ElementStats, PageScan, NONE};

/// Levels above the container searched for the rest of a split story.
const CONTINUATION_LEVELS: usize = 8;
/// Above this many levels only blocks built like the story's own section
/// continue it (the next post of a thread, the next row of the same page
/// builder), not any prose block the page puts after its main column.
const CONTINUATION_NEAR_LEVELS: usize = 4;
/// A block with less text than this neither continues the story nor ends
/// it (a spacer, an image, an empty ad slot).
const CONTINUATION_NEGLIGIBLE_CHARS: u32 = 30;
/// Link share above which a block ends the story (teasers, tag lists).
const CONTINUATION_MAX_LINK_DENSITY: f32 = 0.25;

/// The rest of a story that the page splits into consecutive sections
/// (text, a table, text again; a page builder's rows): the blocks that
/// follow the container's ancestors, a few levels up, up to the first one
/// that is chrome, mostly links or opens a block of other stories. The
/// sections follow the story directly, so a footer or a list of teasers
/// further down is never reached.
pub(crate) fn continuation_parts(html: &Html, page: &PageScan, top: u32) -> Vec<u32> {
    let elements = &page.elements;
    let mut parts = Vec::new();
    let mut pending = Vec::new();
    let mut node = top;
    for level in 0..CONTINUATION_LEVELS {
        let far = level >= CONTINUATION_NEAR_LEVELS;
        let parent = elements[node as usize].parent;
        if parent == NONE || matches!(elements[parent as usize].tag, "html") {
            break;
        }
        let parent_end = elements[parent as usize].end;
        let mut sibling = elements[node as usize].end;
        let mut ended = false;
        while sibling < parent_end {
            let stats = &elements[sibling as usize];
            let next = stats.end;
            if stats.invisible || stats.text_chars < CONTINUATION_NEGLIGIBLE_CHARS {
                sibling = next;
                continue;
            }
            if !continues_story(html, page, sibling, node, far) {
                tracing::debug!(sibling, level, tag = stats.tag, hint = ?stats.hint(), text = stats.text_chars, links = stats.link_chars, "continuation ends");
                ended = true;
                break;
            }
            // A block between two parts of the story is part of it; after
            // the last part only a table or list that links nowhere is (a
            // table of facts, not a list of topics or a copyright line).
            pending.push(sibling);
            if is_prose_block(stats) {
                parts.append(&mut pending);
            }
            sibling = next;
        }
        let unlinked = pending
            .iter()
            .take_while(|&&p| {
                link_density(&elements[p as usize]) < TRAILING_MAX_LINK_DENSITY
                    && holds_table_or_list(page, p)
            })
            .count();
        parts.extend(pending.drain(..).take(unlinked));
        if ended || parent == page.body {
            break;
        }
        node = parent;
    }
    parts
}

/// Prose a block before the container needs to be the story's opening
/// part rather than a note, a verdict label or a welcome line.
const PRECEDING_MIN_PROSE: u32 = 140;

/// The story's opening part when the page puts it in a container of its
/// own between the headline and the chosen container (a question above its
/// answers, an introduction above the main section): prose blocks before
/// the container's ancestors, a few levels up, that start after the
/// headline.
pub(crate) fn preceding_parts(page: &PageScan, headline: Option<u32>, top: u32) -> Vec<u32> {
    let elements = &page.elements;
    let Some(headline) = headline else {
        return Vec::new();
    };
    let after_headline = elements[headline as usize].end;
    let mut parts = Vec::new();
    let mut node = top;
    for _ in 0..CONTINUATION_NEAR_LEVELS {
        let parent = elements[node as usize].parent;
        if parent == NONE || parent == page.body {
            break;
        }
        let mut sibling = parent + 1;
        while sibling < node {
            let stats = &elements[sibling as usize];
            if sibling >= after_headline
                && !stats.invisible
                && is_prose_block(stats)
                && stats.prose_chars >= PRECEDING_MIN_PROSE
                && !hints::is_chrome_tag(stats.tag)
                && stats.hint() != Hint::Chrome
                && link_density(stats) < CONTINUATION_MAX_LINK_DENSITY
            {
                parts.push(sibling);
            }
            sibling = stats.end;
        }
        // Further up, everything before is before the headline too.
        if parent < headline {
            break;
        }
        node = parent;
    }
    parts
}

/// Link share under which a table or list after the story's last
/// paragraph still belongs to it.
const TRAILING_MAX_LINK_DENSITY: f32 = 0.05;

/// Whether a block is or holds a table or a list.
fn holds_table_or_list(page: &PageScan, index: u32) -> bool {
    let end = page.elements[index as usize].end;
    page.elements[index as usize..end as usize]
        .iter()
        .any(|e| matches!(e.tag, "table" | "ul" | "ol" | "dl"))
}

/// Mostly prose: paragraphs, not a table of figures or a list of names.
fn is_prose_block(stats: &ElementStats) -> bool {
    stats.prose_chars * 2 >= stats.text_chars && stats.prose_chars >= 80
}

/// Whether a block after the story is more of it: not chrome by tag or
/// name, little link text, and not opened by a heading over other stories.
/// A block built like the section of the story before it (same tag and
/// class) is a section of the story whatever its class says; `far` up from
/// the container, only such a block is.
fn continues_story(
    html: &Html,
    page: &PageScan,
    index: u32,
    story_section: u32,
    far: bool,
) -> bool {
    let stats = &page.elements[index as usize];
    let section = &page.elements[story_section as usize];
    let same_template =
        stats.tag == section.tag && stats.element.attr("class") == section.element.attr("class");
    if hints::is_chrome_tag(stats.tag)
        || ((stats.hint() == Hint::Chrome || far) && !same_template)
        || link_density(stats) >= CONTINUATION_MAX_LINK_DENSITY
    {
        return false;
    }
    // The first heading in the block, among its first few elements.
    let first_heading = (index..stats.end.min(index + 8)).find(|&i| {
        matches!(
            page.elements[i as usize].tag,
            "h2" | "h3" | "h4" | "h5" | "h6"
        )
    });
    !first_heading.is_some_and(|h| {
        let heading = &page.elements[h as usize];
        hints::names_other_stories(heading.element)
            || html
                .tree
                .get(heading.node)
                .is_some_and(|node| opens_boilerplate_block(node, heading))
    })
}
