//! The standfirst: the lead paragraph or subtitle a page prints between the
//! headline and the story's container (`<p class="lead">`, a teaser or intro
//! block, an `<h2>` subtitle). It is part of the story, but it sits outside
//! the container the story's prose chose.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};

use crate::hints::{self, Hint};
use crate::scan::{ElementStats, PageScan, NONE};

/// Elements looked at after the headline: the standfirst follows it closely,
/// and the scan must not walk a whole sidebar.
const SCAN_ELEMENTS: u32 = 120;
/// Blocks taken at most (a subtitle and a lead paragraph, a second one).
const MAX_BLOCKS: usize = 3;
/// A block's own text needs this many characters to be a lead paragraph:
/// bylines, dates and labels are shorter, and so is a one-line dek (the
/// subtitle news pages print under the headline, which news extraction
/// leaves out; measured, a lower bound costs more on the news set than it
/// gains on the general one).
const MIN_CHARS: u32 = 140;
/// At most this share of a block's own text may be links.
const MAX_LINK_SHARE: f32 = 0.25;

/// Class or id words of a standfirst; such a block is taken even when its
/// name also says "teaser" or "headline", which elsewhere mark chrome.
static STANDFIRST_NAMES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build([
            "lead",
            "teaser",
            "intro",
            "standfirst",
            "summary",
            "subtitle",
            "subline",
            "subheadline",
            "sub-headline",
            "excerpt",
            "dek",
            "abstract",
            "chapo",
            "chapeau",
            "entradilla",
            "sottotitolo",
            "kicker",
        ])
        .expect("static word list")
});

fn named_standfirst(element: &scraper::node::Element) -> bool {
    [element.id(), element.attr("class")]
        .into_iter()
        .flatten()
        .any(|name| STANDFIRST_NAMES.is_match(name))
}

/// A block named as a lead (`teaser-text`, `intro`, `lead`) holding a lead
/// paragraph's worth of prose, not links.
pub fn is_lead_block(stats: &ElementStats) -> bool {
    named_standfirst(stats.element)
        && stats.prose_chars >= MIN_CHARS
        && (stats.link_chars as f32) < stats.text_chars as f32 * MAX_LINK_SHARE
}

/// The blocks between the headline and the container `top`, in page order.
pub fn standfirst_blocks(page: &PageScan, headline: Option<u32>, top: u32) -> Vec<u32> {
    let elements = &page.elements;
    let Some(headline) = headline else {
        return Vec::new();
    };
    let start = elements[headline as usize].end;
    if start >= top {
        return Vec::new();
    }
    let limit = top.min(start.saturating_add(SCAN_ELEMENTS));
    let mut blocks = Vec::new();
    let mut index = start;
    while index < limit && blocks.len() < MAX_BLOCKS {
        let stats = &elements[index as usize];
        // An ancestor of the container: its own text is not a block here,
        // but its children before the container may be.
        if stats.end > top || stats.parent == NONE {
            index += 1;
            continue;
        }
        let skip = stats.invisible
            || matches!(
                stats.tag,
                "nav"
                    | "aside"
                    | "footer"
                    | "form"
                    | "figure"
                    | "figcaption"
                    | "ul"
                    | "ol"
                    | "table"
            )
            || (stats.hint() == Hint::Chrome && !named_standfirst(stats.element));
        if skip {
            index = stats.end;
            continue;
        }
        let is_block = hints::is_block_tag(stats.tag) && !matches!(stats.tag, "h1");
        if is_block
            && stats.inline_chars >= MIN_CHARS
            && (stats.inline_link_chars as f32) < stats.inline_chars as f32 * MAX_LINK_SHARE
            && stats.text_chars == stats.inline_chars
        {
            blocks.push(index);
            index = stats.end;
            continue;
        }
        index += 1;
    }
    blocks
}
