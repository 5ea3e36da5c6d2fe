//! The story's body: score containers by the prose inside them (the
//! readability idea), take the best with its sibling parts, and write out its
//! text block by block, leaving the chrome inside it behind.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

use crate::hints::{self, Hint};
use crate::scan::{ElementStats, PageScan, NONE};
use crate::text;
use crate::CleanerConfig;

/// The body as paragraphs, and what the choice was based on.
#[derive(Debug, Default)]
pub struct Body {
    pub paragraphs: Vec<String>,
    /// Share of the chosen container's text that is link text.
    pub link_density: f32,
}

pub fn extract_body(
    html: &Html,
    page: &PageScan,
    title: Option<&str>,
    config: &CleanerConfig,
) -> Body {
    let Some(top) = best_container(page, config) else {
        return Body::default();
    };
    let parts = with_sibling_parts(page, top);
    let mut writer = BodyWriter::new(page, &page.elements[top as usize]);
    for part in &parts {
        writer.write_subtree(html, *part);
    }
    let mut paragraphs = writer.finish();
    drop_boilerplate_lines(&mut paragraphs, title);
    let (chars, links) = parts.iter().fold((0u32, 0u32), |(c, l), &p| {
        let s = &page.elements[p as usize];
        (c + s.text_chars, l + s.link_chars)
    });
    Body {
        paragraphs,
        link_density: links as f32 / chars.max(1) as f32,
    }
}

fn link_density(stats: &ElementStats) -> f32 {
    stats.link_chars as f32 / stats.text_chars.max(1) as f32
}

/// Readability's scoring: every prose block scores its container in full,
/// the container's parent in half, and a few more ancestors less; a
/// container's score is then discounted by its share of link text.
fn best_container(page: &PageScan, config: &CleanerConfig) -> Option<u32> {
    let elements = &page.elements;
    let mut scores = vec![0f32; elements.len()];
    let mut seeded = vec![false; elements.len()];
    for (index, block) in elements.iter().enumerate() {
        if block.invisible
            || block.inline_chars < config.min_paragraph_chars as u32
            || block.inline_link_chars * 2 >= block.inline_chars
            || hints::is_chrome_tag(block.tag)
        {
            continue;
        }
        let score =
            1.0 + block.inline_commas.min(20) as f32 + (block.inline_chars as f32 / 100.0).min(3.0);
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
                scores[c] += initial_score(&elements[c]);
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
    let mut best: Option<(u32, f32)> = None;
    for (index, stats) in elements.iter().enumerate() {
        if !seeded[index] || stats.invisible || stats.tag == "html" {
            continue;
        }
        let score = scores[index] * (1.0 - link_density(stats));
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((index as u32, score));
        }
    }
    let (mut top, _) = best?;
    // A container that holds only part of the story (the rest split off into
    // sibling wrappers by ads or "read more" breaks) gives way to the
    // ancestor that holds clearly more prose, as long as that ancestor is not
    // the whole page.
    loop {
        let parent = elements[top as usize].parent;
        if parent == NONE
            || parent == page.body
            || matches!(elements[parent as usize].tag, "body" | "html")
        {
            break;
        }
        let here = &elements[top as usize];
        let up = &elements[parent as usize];
        if up.prose_chars as f32 > here.prose_chars as f32 * 1.3
            && link_density(up) < 0.35
            && up.hint != Hint::Chrome
        {
            top = parent;
        } else {
            break;
        }
    }
    Some(top)
}

fn initial_score(stats: &ElementStats) -> f32 {
    let by_tag = match stats.tag {
        "article" => 10.0,
        "div" | "main" | "section" => 5.0,
        "pre" | "td" | "blockquote" => 3.0,
        "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
        _ => 0.0,
    };
    let by_name = match stats.hint {
        Hint::Content => 25.0,
        Hint::Neutral => 0.0,
        Hint::Chrome => -25.0,
    };
    by_tag + by_name
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
        let is_part = child == top
            || (!stats.invisible
                && stats.hint != Hint::Chrome
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
    a.tag == b.tag && a.hint == b.hint && a.hint == Hint::Content
}

/// Writes the text of chosen subtrees as paragraphs.
struct BodyWriter<'p, 'a> {
    page: &'p PageScan<'a>,
    container_prose: u32,
    paragraphs: Vec<String>,
    line: String,
    line_chars: u32,
    line_link_chars: u32,
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
        }
    }

    fn skips(&self, stats: &ElementStats, is_root: bool) -> bool {
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
        if stats.hint == Hint::Chrome && stats.prose_chars * 2 < self.container_prose {
            return true;
        }
        matches!(stats.tag, "ul" | "ol" | "table" | "dl") && link_density(stats) > 0.5
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
                        if self.skips(stats, index == root) {
                            skipping = Some(node.id());
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
        let line = text::collapse(&self.line);
        // A line that is mostly link text is navigation ("Read more: ...",
        // "Related: ..."), unless it is long enough to be prose with links.
        let linky = self.line_link_chars * 2 > self.line_chars && self.line_chars < 200;
        if !line.is_empty() && !linky {
            self.paragraphs.push(line);
        }
        self.line.clear();
        self.line_chars = 0;
        self.line_link_chars = 0;
    }

    fn finish(mut self) -> Vec<String> {
        self.flush();
        self.paragraphs
    }
}

/// Short lines that are page furniture in any outlet's template.
const FURNITURE: &[&str] = &[
    "advertisement",
    "advertisements",
    "story continues below",
    "story continues below advertisement",
    "continue reading",
    "continue reading below",
    "article continues below",
    "read more",
    "related",
    "related articles",
    "related stories",
    "share this article",
    "share",
    "share this",
    "sponsored",
    "skip advertisement",
    "supported by",
    "listen to this article",
    "click here",
    "(ap)",
];

fn drop_boilerplate_lines(paragraphs: &mut Vec<String>, title: Option<&str>) {
    paragraphs.retain(|p| {
        if p.chars().count() > 60 {
            return true;
        }
        let lower = p.to_lowercase();
        let bare = lower.trim_matches(|c: char| !c.is_alphanumeric() && c != '(' && c != ')');
        !FURNITURE.contains(&bare) && !title.is_some_and(|t| t.eq_ignore_ascii_case(p))
    });
}
