//! The story's body: score containers by the prose inside them (the
//! readability idea), take the best with its sibling parts, and write out its
//! text block by block, leaving the chrome inside it behind.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

use std::collections::HashSet;

use ego_tree::NodeId;

use crate::boilerplate;
use crate::hints::{self, Hint};
use crate::metadata::Metadata;
use crate::scan::{ElementStats, PageScan, NONE};
use crate::standfirst;
use crate::story_parts::{continuation_parts, preceding_parts};
use crate::text;
use crate::CleanerConfig;

/// The body as paragraphs, and what the choice was based on.
#[derive(Debug, Default)]
pub struct Body {
    pub paragraphs: Vec<String>,
    /// Share of the chosen container's text that is link text.
    pub link_density: f32,
    /// Share of link text in what was read of the container: its text
    /// without the parts left out as chrome (a menu widget, a list of
    /// links, a sidebar copied into the story).
    pub read_link_density: f32,
    /// The page's headline (the visible `<h1>` carrying its title) stands
    /// in the chosen container or in the wrapper around it: the body is
    /// that headline's story, not a list of others.
    pub under_headline: bool,
}

pub fn extract_body(
    html: &Html,
    page: &PageScan,
    metadata: &Metadata,
    config: &CleanerConfig,
) -> Body {
    let title = metadata.title.as_deref();
    let titled_headline = headline_index(html, page, title);
    let anchors = Anchors {
        headline: titled_headline.or_else(|| only_headline(page)),
        lead: metadata
            .description
            .as_deref()
            .and_then(|d| lead_text_path(html, page, d)),
    };
    let Some(top) = best_container(page, &anchors, config) else {
        return Body::default();
    };
    let elements = &page.elements;
    // Only the heading that carries the title makes a short text a brief:
    // any page has some `<h1>`.
    let holds = |i: u32| {
        i != NONE && titled_headline.is_some_and(|h| h > i && h < elements[i as usize].end)
    };
    let under_headline = holds(top) || holds(elements[top as usize].parent);
    let mut parts = with_sibling_parts(page, top);
    parts.extend(continuation_parts(html, page, top));
    let mut blocks: Vec<u32> = parts.clone();
    // The lead paragraph printed between the headline and the container,
    // and the story's opening part when it stands there in a container of
    // its own.
    blocks.extend(standfirst::standfirst_blocks(page, anchors.headline, top));
    blocks.extend(preceding_parts(page, anchors.headline, top));
    blocks.sort_unstable();
    let mut writer = BodyWriter::new(page, &page.elements[top as usize]);
    let mut written_end = 0;
    for block in blocks {
        // A block inside one already written (or the same one twice).
        if block < written_end {
            continue;
        }
        writer.write_subtree(html, block);
        written_end = elements[block as usize].end;
    }
    let read_link_density = writer.read_link_chars as f32 / writer.read_chars.max(1) as f32;
    let mut paragraphs = writer.finish();
    drop_boilerplate_lines(&mut paragraphs, title);
    let (chars, links) = parts.iter().fold((0u32, 0u32), |(c, l), &p| {
        let s = &page.elements[p as usize];
        (c + s.text_chars, l + s.link_chars)
    });
    Body {
        paragraphs,
        link_density: links as f32 / chars.max(1) as f32,
        read_link_density,
        under_headline,
    }
}

pub(crate) fn link_density(stats: &ElementStats) -> f32 {
    stats.link_chars as f32 / stats.text_chars.max(1) as f32
}

/// Readability's scoring: every prose block scores its container in full,
/// the container's parent in half, and a few more ancestors less; a
/// container's score is then discounted by its share of link text.
fn best_container(page: &PageScan, anchors: &Anchors, config: &CleanerConfig) -> Option<u32> {
    let headline = anchors.headline;
    let elements = &page.elements;
    let mut scores = vec![0f32; elements.len()];
    let mut seeded = vec![false; elements.len()];
    // Whether a seeded container's name reads as chrome (worked out once,
    // when it is seeded).
    let mut chrome = vec![false; elements.len()];
    for (index, block) in elements.iter().enumerate() {
        if block.invisible
            || block.inline_chars < config.min_paragraph_chars as u32
            || block.inline_link_chars * 2 >= block.inline_chars
            || hints::is_chrome_tag(block.tag)
        {
            continue;
        }
        let score = block.inline_score;
        if score <= 0.0 {
            continue;
        }
        // Prose directly in a `div` is a paragraph of that div; a `p` is a
        // paragraph of its parent.
        let mut container = if hints::is_paragraph_tag(block.tag)
            || block.tag.starts_with('h')
            || block.tag == "li"
        {
            block.parent
        } else {
            index as u32
        };
        for level in 0..5 {
            if container == NONE {
                break;
            }
            let c = container as usize;
            if !seeded[c] {
                seeded[c] = true;
                let (initial, hint) = initial_score(elements, c);
                scores[c] += initial;
                chrome[c] = hint == Hint::Chrome;
            }
            scores[c] += score
                / match level {
                    0 => 1.0,
                    1 => 2.0,
                    l => l as f32 * 3.0,
                };
            container = elements[c].parent;
        }
    }
    // A container named as chrome (an author's profile, a comment) is
    // taken only when nothing else on the page holds prose, however well
    // its commas score.
    let mut best: Option<(u32, f32)> = None;
    let mut best_chrome: Option<(u32, f32)> = None;
    for (index, stats) in elements.iter().enumerate() {
        if !seeded[index] || stats.invisible || stats.tag == "html" {
            continue;
        }
        let best = if chrome[index] {
            &mut best_chrome
        } else {
            &mut best
        };
        let mut score = scores[index] * (1.0 - link_density(stats));
        // The story sits next to its headline; teasers and comments do not.
        let holds =
            |i: u32| i != NONE && headline.is_some_and(|h| h > i && h < elements[i as usize].end);
        if holds(index as u32) || holds(stats.parent) {
            score *= HEADLINE_BONUS;
        }
        // A block holding the description's text and little else is the
        // intro printed over the story, not the story.
        if stats.prose_chars >= LEAD_CONTAINER_MIN_PROSE
            && anchors
                .lead
                .as_ref()
                .is_some_and(|path| path.contains(&stats.node))
        {
            score *= LEAD_BONUS;
        }
        if best.is_none_or(|(_, s)| score > s) {
            *best = Some((index as u32, score));
        }
    }
    let (mut top, _) = best.or(best_chrome)?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        let mut ranked: Vec<(usize, f32)> = (0..elements.len())
            .filter(|&i| seeded[i])
            .map(|i| (i, scores[i] * (1.0 - link_density(&elements[i]))))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (i, score) in ranked.iter().take(6) {
            let e = &elements[*i];
            tracing::debug!(index = i, tag = e.tag, hint = ?e.hint(), score, raw = scores[*i], prose = e.prose_chars, text = e.text_chars, links = e.link_chars, "candidate");
        }
    }
    // A container that holds only part of the story (the rest split off into
    // sibling wrappers by ads or "read more" breaks) gives way to the
    // ancestor that holds clearly more prose, as long as that ancestor is not
    // the whole page.
    // Wrappers that only pass the same text on (`tbody` and `table` around a
    // `tr`, a column `div` around a section) are looked through, a few
    // levels at most.
    'climb: loop {
        let here = &elements[top as usize];
        let mut ancestor = here.parent;
        for _ in 0..CLIMB_LEVELS {
            if ancestor == NONE
                || ancestor == page.body
                || matches!(elements[ancestor as usize].tag, "body" | "html")
            {
                break 'climb;
            }
            let up = &elements[ancestor as usize];
            if up.hint() == Hint::Chrome {
                break 'climb;
            }
            if up.prose_chars as f32 > here.prose_chars as f32 * 1.3 && link_density(up) < 0.35 {
                top = ancestor;
                continue 'climb;
            }
            // Only pure wrappers are looked through: an ancestor with a
            // little more text (a "top stories" box beside the story) ends
            // the climb.
            if up.prose_chars as f32 > here.prose_chars as f32 * WRAPPER_SLACK {
                break 'climb;
            }
            ancestor = up.parent;
        }
        break;
    }
    tracing::debug!(
        index = top,
        tag = elements[top as usize].tag,
        ?headline,
        "chosen container"
    );
    Some(top)
}

/// Ancestors looked through when a container gives way to one holding
/// clearly more of the story.
const CLIMB_LEVELS: usize = 3;
/// An ancestor with at most this much more prose than the container only
/// wraps it.
const WRAPPER_SLACK: f32 = 1.05;
/// Score factor for a container that holds the headline or whose parent does.
const HEADLINE_BONUS: f32 = 1.5;
/// Score factor for a container that holds the text the page's description
/// starts with.
const LEAD_BONUS: f32 = 2.0;
/// Prose a container needs for that: more than a description's intro.
const LEAD_CONTAINER_MIN_PROSE: u32 = 400;

/// Places on the page that the story is known to be near.
struct Anchors {
    /// The `<h1>` with the title, else the page's only `<h1>`.
    headline: Option<u32>,
    /// The ancestors of the text node where the description's opening
    /// words appear in the page.
    lead: Option<HashSet<NodeId>>,
}

/// How many of the description's first characters are looked for.
const LEAD_PROBE_CHARS: usize = 40;
/// Ancestors kept for a lead text node (the story is never deeper).
const LEAD_MAX_DEPTH: usize = 256;

/// The ancestors of the first visible text node that contains the
/// description's opening words.
fn lead_text_path(html: &Html, page: &PageScan, description: &str) -> Option<HashSet<NodeId>> {
    let probe: String = description.chars().take(LEAD_PROBE_CHARS).collect();
    let probe = probe.trim_end_matches(|c: char| !c.is_alphanumeric());
    if probe.chars().count() < 20 {
        return None;
    }
    // The probe's longest word is the rarest cheap filter.
    let first_word = probe.split_whitespace().max_by_key(|w| w.len())?;
    let body = html.tree.get(page.elements.get(page.body as usize)?.node)?;
    let found = body.descendants().find(|node| match node.value() {
        // The first word filters without allocating; whitespace may differ
        // between the page and its description, so the match is on collapsed text.
        // A heading repeating the description is the standfirst, not the story.
        Node::Text(text) => {
            !node
                .parent()
                .and_then(|p| {
                    p.value()
                        .as_element()
                        .map(|e| e.name().len() == 2 && e.name().starts_with('h'))
                })
                .unwrap_or(false)
                && text.len() >= probe.len()
                && text.contains(first_word)
                && text::collapse(text).contains(probe)
        }
        _ => false,
    })?;
    Some(
        found
            .ancestors()
            .take(LEAD_MAX_DEPTH)
            .map(|n| n.id())
            .collect(),
    )
}

/// The visible `<h1>` that carries the page's title (the first one when the
/// title is unknown).
fn headline_index(html: &Html, page: &PageScan, title: Option<&str>) -> Option<u32> {
    let visible = page.metadata.h1s.iter().copied().filter(|&i| {
        !page.elements[i as usize].invisible && page.elements[i as usize].text_chars > 0
    });
    let Some(title) = title.map(alphanumeric_lowercase) else {
        return visible.clone().next();
    };
    visible.clone().find(|&i| {
        let Some(node) = html
            .tree
            .get(page.elements[i as usize].node)
            .and_then(scraper::ElementRef::wrap)
        else {
            return false;
        };
        let text = alphanumeric_lowercase(&text::bounded_text(node));
        text.len() >= 8 && (title.contains(&text) || text.contains(&title))
    })
}

/// The page's only visible `<h1>`: where no heading carries the title, it
/// still heads the page, and the story is found near it.
fn only_headline(page: &PageScan) -> Option<u32> {
    let mut visible = page.metadata.h1s.iter().copied().filter(|&i| {
        !page.elements[i as usize].invisible && page.elements[i as usize].text_chars > 0
    });
    match (visible.next(), visible.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Letters and digits only, lower-cased: headlines compared this way match
/// across punctuation and ellipsis differences between `<h1>` and metadata.
fn alphanumeric_lowercase(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The container's score before its prose counts, and what its name says.
fn initial_score(elements: &[ElementStats], index: usize) -> (f32, Hint) {
    let stats = &elements[index];
    let by_tag = match stats.tag {
        "article" => 10.0,
        "div" | "main" | "section" => 5.0,
        "pre" | "td" | "blockquote" => 3.0,
        "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
        _ => 0.0,
    };
    // A section that opens with a heading named for other stories or for
    // comments ("related posts", "more from") is that, whatever the
    // section itself is called.
    let opens_with_other_stories = elements
        .get(index + 1)
        .filter(|first| first.parent == index as u32 && matches!(first.tag, "h2" | "h3" | "h4"))
        .is_some_and(|heading| hints::names_other_stories(heading.element));
    let hint = match stats.hint() {
        Hint::Neutral if opens_with_other_stories => Hint::Chrome,
        own => own,
    };
    let by_name = match hint {
        Hint::Content => 25.0,
        Hint::Neutral => 0.0,
        Hint::Chrome => -25.0,
    };
    (by_tag + by_name, hint)
}

/// The container and the siblings that continue it: the same kind of
/// wrapper, or prose paragraphs standing next to it.
fn with_sibling_parts(page: &PageScan, top: u32) -> Vec<u32> {
    let elements = &page.elements;
    let top_stats = &elements[top as usize];
    let parent = top_stats.parent;
    if parent == NONE {
        return vec![top];
    }
    let mut parts = Vec::new();
    let mut child = parent + 1;
    let parent_end = elements[parent as usize].end;
    while child < parent_end {
        let stats = &elements[child as usize];
        // The lead printed just before the body, named as a teaser or
        // intro (words that elsewhere name chrome).
        let is_lead = child < top && !stats.invisible && standfirst::is_lead_block(stats);
        let is_part = child == top
            || is_lead
            || (!stats.invisible
                && stats.hint() != Hint::Chrome
                && !hints::is_chrome_tag(stats.tag)
                && stats.prose_chars > 0
                && link_density(stats) < 0.25
                && (same_kind(stats, top_stats)
                    || (hints::is_paragraph_tag(stats.tag) && stats.prose_chars >= 80)));
        if is_part {
            parts.push(child);
        }
        child = stats.end;
    }
    parts
}

fn same_kind(a: &ElementStats, b: &ElementStats) -> bool {
    a.tag == b.tag && a.hint() == b.hint() && a.hint() == Hint::Content
}

/// Text-level markup holding a sentence or more (100 visible characters) of unlinked text: part of
/// a paragraph whatever its class says (a page copied from another site
/// keeps that site's class names, `...ContentTags` among them; chrome of
/// this kind is a short label).
fn is_inline_prose(stats: &ElementStats) -> bool {
    const INLINE_PROSE_CHARS: u32 = 100;
    matches!(
        stats.tag,
        "span" | "em" | "strong" | "b" | "i" | "font" | "small" | "u" | "mark"
    ) && stats.text_chars >= INLINE_PROSE_CHARS
        && link_density(stats) < 0.5
}

/// A heading labelling a block of other stories, comments or the author's
/// profile, in any of the common European languages.
pub(crate) fn opens_boilerplate_block(node: ego_tree::NodeRef<Node>, stats: &ElementStats) -> bool {
    matches!(stats.tag, "h2" | "h3" | "h4" | "h5" | "h6")
        && stats.text_chars <= 80
        && scraper::ElementRef::wrap(node).is_some_and(|heading| {
            boilerplate::opens_boilerplate_block(&text::bounded_text(heading))
        })
}

/// A list or table that is mostly links (left out of the body).
fn is_link_list(stats: &ElementStats) -> bool {
    matches!(stats.tag, "ul" | "ol" | "table" | "dl") && link_density(stats) > 0.5
}

/// Descendants of a chrome-named wrapper searched for the quotation it holds.
const QUOTATION_SEARCH: u32 = 8;

/// Writes the text of chosen subtrees as paragraphs.
struct BodyWriter<'p, 'a> {
    page: &'p PageScan<'a>,
    container_prose: u32,
    paragraphs: Vec<String>,
    line: String,
    line_chars: u32,
    line_link_chars: u32,
    /// Text read, kept or not, outside skipped subtrees, and its link text.
    read_chars: u32,
    read_link_chars: u32,
}

impl<'p, 'a> BodyWriter<'p, 'a> {
    fn new(page: &'p PageScan<'a>, container: &ElementStats) -> Self {
        BodyWriter {
            page,
            container_prose: container.prose_chars,
            paragraphs: Vec::new(),
            line: String::new(),
            line_chars: 0,
            line_link_chars: 0,
            read_chars: 0,
            read_link_chars: 0,
        }
    }

    /// A wrapper whose text is mostly a quotation: an embedded post the
    /// story quotes, not chrome, whatever the wrapper's name.
    fn is_quotation(&self, index: u32) -> bool {
        let elements = &self.page.elements;
        let stats = &elements[index as usize];
        let mut child = index + 1;
        // Embeds wrap their quotation closely; looking further would make
        // nested chrome quadratic.
        let end = stats.end.min(index + 1 + QUOTATION_SEARCH);
        while child < end {
            let inner = &elements[child as usize];
            if inner.tag == "blockquote" {
                return inner.text_chars * 5 >= stats.text_chars * 4;
            }
            child += 1;
        }
        false
    }

    /// A lead paragraph inside the container, before any of its text,
    /// named as a lead or teaser (words that elsewhere name chrome).
    fn is_opening_lead(&self, stats: &ElementStats) -> bool {
        self.paragraphs.is_empty()
            && self.line.trim().is_empty()
            && standfirst::is_lead_block(stats)
    }

    fn skips(&self, index: u32, is_root: bool) -> bool {
        let stats = &self.page.elements[index as usize];
        if stats.invisible || stats.text_chars == 0 {
            return true;
        }
        if is_root {
            return false;
        }
        if hints::is_chrome_tag(stats.tag) || stats.tag == "h1" {
            return true;
        }
        // Chrome names are trusted only for small parts: a wrapper named
        // "article-comments-wrapper" around the whole story is misnamed.
        if stats.hint() == Hint::Chrome
            && stats.prose_chars * 2 < self.container_prose
            && !self.is_quotation(index)
            && !is_inline_prose(stats)
            && !self.is_opening_lead(stats)
        {
            return true;
        }
        is_link_list(stats)
    }

    fn write_subtree(&mut self, html: &Html, root: u32) {
        let elements = &self.page.elements;
        let Some(root_node) = html.tree.get(elements[root as usize].node) else {
            return;
        };
        // Elements are met in the order the scan numbered them, so a counter
        // finds each one's measurements.
        let mut next_index = root;
        let mut skipping: Option<ego_tree::NodeId> = None;
        let mut link_depth = 0u32;
        for edge in root_node.traverse() {
            match edge {
                Edge::Open(node) => match node.value() {
                    Node::Element(_) => {
                        let index = next_index;
                        next_index += 1;
                        if skipping.is_some() {
                            continue;
                        }
                        let stats = &elements[index as usize];
                        if self.skips(index, index == root) {
                            tracing::trace!(index, tag = stats.tag, text = stats.text_chars, hint = ?stats.hint(), "skipped");
                            // A list of links left out is still read: on a
                            // category page it is what the page is made of.
                            // Chrome (a menu widget) is not.
                            if is_link_list(stats)
                                && !hints::is_chrome_tag(stats.tag)
                                && stats.hint() != Hint::Chrome
                            {
                                self.read_chars += stats.text_chars;
                                self.read_link_chars += stats.link_chars;
                            }
                            skipping = Some(node.id());
                            continue;
                        }
                        if index != root && link_depth == 0 && opens_boilerplate_block(node, stats)
                        {
                            // The heading and what follows it in its section
                            // go; before any text, the heading alone does.
                            let started =
                                !self.paragraphs.is_empty() || !self.line.trim().is_empty();
                            let section = node
                                .parent()
                                .filter(|_| started)
                                .map_or(node.id(), |p| p.id());
                            tracing::trace!(index, "boilerplate block");
                            skipping = Some(section);
                            continue;
                        }
                        if hints::is_block_tag(stats.tag) {
                            self.flush();
                        }
                        if stats.tag == "a" {
                            link_depth += 1;
                        }
                    }
                    Node::Text(text_node) if skipping.is_none() => {
                        let chars = text::visible_chars(text_node);
                        self.line_chars += chars;
                        if link_depth > 0 {
                            self.line_link_chars += chars;
                        }
                        text::push_collapsed(&mut self.line, text_node);
                    }
                    _ => {}
                },
                Edge::Close(node) => {
                    let Node::Element(element) = node.value() else {
                        continue;
                    };
                    if let Some(skipped) = skipping {
                        if skipped == node.id() {
                            skipping = None;
                        }
                        continue;
                    }
                    let tag = element.name();
                    if tag == "a" {
                        link_depth = link_depth.saturating_sub(1);
                    }
                    if hints::is_block_tag(tag) {
                        self.flush();
                    }
                }
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        // The line was collapsed while it was written; only its ends remain.
        let line = self.line.trim();
        // A line that is mostly link text is navigation ("Read more: ...",
        // "Related: ..."), unless it is long enough to be prose with links.
        let linky = self.line_link_chars * 2 > self.line_chars && self.line_chars < 200;
        if !line.is_empty() && !linky {
            self.paragraphs.push(line.to_string());
        }
        self.read_chars += self.line_chars;
        self.read_link_chars += self.line_link_chars;
        self.line.clear();
        self.line_chars = 0;
        self.line_link_chars = 0;
    }

    fn finish(mut self) -> Vec<String> {
        self.flush();
        self.paragraphs
    }
}

fn drop_boilerplate_lines(paragraphs: &mut Vec<String>, title: Option<&str>) {
    paragraphs.retain(|p| {
        !boilerplate::is_furniture_line(p)
            && !boilerplate::is_block_label_line(p)
            && !title.is_some_and(|t| t.eq_ignore_ascii_case(p))
    });
}
