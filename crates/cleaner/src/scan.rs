//! One pass over the parsed page, without recursion (pages nest ten
//! thousand deep), that measures every element's text and links and notes
//! the elements metadata is read from.

use ego_tree::iter::Edge;
use ego_tree::NodeId;
use scraper::{Html, Node};

use crate::hints::{self, Hint};
use crate::text;

impl ElementStats<'_> {
    /// What the class and id say; computed on demand because only the few
    /// elements that compete for the story need it.
    pub fn hint(&self) -> Hint {
        hints::hint(self.element)
    }
}

/// Marks "no such element" in index fields.
pub const NONE: u32 = u32::MAX;

/// Measurements of one element. Elements are numbered in document order, so
/// an element's descendants are exactly the indexes `index + 1 .. end`.
#[derive(Debug, Clone)]
pub struct ElementStats<'a> {
    pub node: NodeId,
    pub tag: &'a str,
    pub parent: u32,
    pub end: u32,
    pub element: &'a scraper::node::Element,
    /// Invisible (script, hidden...) or inside such an element.
    pub invisible: bool,
    /// Visible text characters in the whole subtree.
    pub text_chars: u32,
    /// Of those, the ones inside links.
    pub link_chars: u32,
    /// Text characters whose nearest block element is this one: the
    /// element's own line of prose, not its block children's.
    pub inline_chars: u32,
    pub inline_link_chars: u32,
    /// Readability's paragraph score of the element's own prose, summed
    /// over its lines (runs of text between `<br>`s count as paragraphs).
    pub inline_score: f32,
    /// Text characters in paragraph-like blocks of the subtree (prose, not
    /// navigation): the measure used to compare containers.
    pub prose_chars: u32,
}

/// The elements metadata is read from, in document order.
#[derive(Debug, Default)]
pub struct MetadataNodes {
    pub metas: Vec<NodeId>,
    pub links: Vec<NodeId>,
    pub json_ld: Vec<NodeId>,
    pub title: Option<NodeId>,
    pub h1s: Vec<u32>,
    pub times: Vec<u32>,
    /// Elements whose class, id, rel or itemprop speaks of an author.
    pub byline_candidates: Vec<u32>,
    /// Elements whose class or id speaks of a date or time.
    pub date_candidates: Vec<u32>,
    pub videos: u32,
}

pub struct PageScan<'a> {
    pub elements: Vec<ElementStats<'a>>,
    pub metadata: MetadataNodes,
    pub body: u32,
}

struct Frame {
    index: u32,
    /// The line of text being read in this (block) element since the last `<br>`.
    line_chars: u32,
    line_commas: u32,
    /// Nearest block element at or above this one (where inline text goes),
    /// and its position on the stack.
    block: u32,
    block_slot: usize,
    in_link: bool,
}

/// What an element needs of its parent's frame, copied out of the stack.
struct ParentFrame {
    index: u32,
    block: u32,
    block_slot: usize,
    in_link: bool,
}

pub fn scan(html: &Html) -> PageScan<'_> {
    let mut elements: Vec<ElementStats> = Vec::with_capacity(1024);
    let mut metadata = MetadataNodes::default();
    let mut stack: Vec<Frame> = Vec::with_capacity(64);
    let mut body = NONE;
    for edge in html.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(element) => {
                    let tag = element.name();
                    let index = elements.len() as u32;
                    let parent = stack.last().map(|f| ParentFrame {
                        index: f.index,
                        block: f.block,
                        block_slot: f.block_slot,
                        in_link: f.in_link,
                    });
                    let parent = parent.as_ref();
                    let parent_invisible =
                        parent.is_some_and(|f| elements[f.index as usize].invisible);
                    let invisible = parent_invisible
                        || hints::is_invisible_tag(tag)
                        || hints::is_hidden(element);
                    let (block, block_slot) = match parent {
                        Some(f) if !hints::is_block_tag(tag) => (f.block, f.block_slot),
                        _ => (index, stack.len()),
                    };
                    let in_link = tag == "a" || parent.is_some_and(|f| f.in_link);
                    note_metadata(&mut metadata, tag, element, node.id(), index);
                    if tag == "body" && body == NONE {
                        body = index;
                    }
                    if tag == "br" {
                        if let Some(slot) = parent.map(|f| f.block_slot) {
                            let frame = &mut stack[slot];
                            end_line(&mut elements[frame.index as usize], frame);
                        }
                    }
                    elements.push(ElementStats {
                        node: node.id(),
                        tag,
                        parent: parent.map_or(NONE, |f| f.index),
                        end: index + 1,
                        element,
                        invisible,
                        text_chars: 0,
                        link_chars: 0,
                        inline_chars: 0,
                        inline_link_chars: 0,
                        inline_score: 0.0,
                        prose_chars: 0,
                    });
                    stack.push(Frame {
                        index,
                        line_chars: 0,
                        line_commas: 0,
                        block,
                        block_slot,
                        in_link,
                    });
                }
                Node::Text(text_node) => {
                    let Some(frame) = stack.last() else { continue };
                    let owner = &elements[frame.index as usize];
                    if owner.invisible {
                        continue;
                    }
                    let chars = text::visible_chars(text_node);
                    if chars == 0 {
                        continue;
                    }
                    let link_chars = if frame.in_link { chars } else { 0 };
                    let owner = &mut elements[frame.index as usize];
                    owner.text_chars += chars;
                    owner.link_chars += link_chars;
                    let (block_index, block_slot) = (frame.block, frame.block_slot);
                    let block = &mut elements[block_index as usize];
                    block.inline_chars += chars;
                    block.inline_link_chars += link_chars;
                    let commas = text::commas(text_node);
                    let block_frame = &mut stack[block_slot];
                    block_frame.line_chars += chars;
                    block_frame.line_commas += commas;
                }
                _ => {}
            },
            Edge::Close(node) => {
                if !node.value().is_element() {
                    continue;
                }
                let Some(mut frame) = stack.pop() else {
                    continue;
                };
                let index = frame.index as usize;
                end_line(&mut elements[index], &mut frame);
                let end = elements.len() as u32;
                let done = &mut elements[index];
                done.end = end;
                if !done.invisible && is_prose(done) {
                    done.prose_chars += done.inline_chars - done.inline_link_chars;
                }
                let (text_chars, link_chars, prose_chars, parent) = (
                    done.text_chars,
                    done.link_chars,
                    done.prose_chars,
                    done.parent,
                );
                if parent != NONE {
                    let up = &mut elements[parent as usize];
                    up.text_chars += text_chars;
                    up.link_chars += link_chars;
                    up.prose_chars += prose_chars;
                }
            }
        }
    }
    PageScan {
        elements,
        metadata,
        body,
    }
}

/// Scores the line of text just read in a block, as readability scores a paragraph.
fn end_line(block: &mut ElementStats, frame: &mut Frame) {
    if frame.line_chars >= MIN_LINE_CHARS {
        block.inline_score +=
            1.0 + frame.line_commas.min(20) as f32 + (frame.line_chars as f32 / 100.0).min(3.0);
    }
    frame.line_chars = 0;
    frame.line_commas = 0;
}

/// Shorter lines are labels and links, not paragraphs.
const MIN_LINE_CHARS: u32 = 25;

/// A block holding a line of prose: enough text, and not mostly links.
fn is_prose(stats: &ElementStats) -> bool {
    stats.inline_chars >= 40 && stats.inline_link_chars * 2 < stats.inline_chars
}

fn note_metadata(
    metadata: &mut MetadataNodes,
    tag: &str,
    element: &scraper::node::Element,
    id: NodeId,
    index: u32,
) {
    match tag {
        "meta" => metadata.metas.push(id),
        "link" => metadata.links.push(id),
        "title" if metadata.title.is_none() => metadata.title = Some(id),
        "script"
            if element
                .attr("type")
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json")) =>
        {
            metadata.json_ld.push(id)
        }
        "h1" => metadata.h1s.push(index),
        "time" => metadata.times.push(index),
        "video" => metadata.videos += 1,
        _ => {}
    }
    // One pass over the attributes: lookups by name would each walk them.
    let mut names = hints::MetadataNames::default();
    for (name, value) in element.attrs() {
        match name {
            "rel" if value == "author" => names.author = true,
            "itemprop" | "class" | "id" => names.add(value),
            _ => {}
        }
    }
    if names.author {
        metadata.byline_candidates.push(index);
    }
    if names.date {
        metadata.date_candidates.push(index);
    }
}
