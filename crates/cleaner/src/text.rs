//! Whitespace as a reader sees it: runs collapse to one space, no-break and
//! zero-width characters count as what they look like.

use ego_tree::iter::Edge;

/// Appends `piece` to `out`, collapsing whitespace runs across the boundary.
pub fn push_collapsed(out: &mut String, piece: &str) {
    if piece.is_ascii() {
        let bytes = piece.as_bytes();
        let mut space_before = bytes.first().is_some_and(u8::is_ascii_whitespace);
        for word in piece.split_ascii_whitespace() {
            if space_before && !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            out.push_str(word);
            space_before = true;
        }
        if bytes.last().is_some_and(u8::is_ascii_whitespace)
            && !out.is_empty()
            && !out.ends_with(' ')
        {
            out.push(' ');
        }
        return;
    }
    let mut space_before = piece.starts_with(char::is_whitespace);
    for word in piece.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        if space_before && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !is_invisible(*c)));
        space_before = true;
    }
    if piece.ends_with(char::is_whitespace) && !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Characters that take no room on the page (zero-width joiners, soft hyphens).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{ad}'
    )
}

/// Whether `haystack` contains `needle`, ignoring ASCII case, without allocating.
pub fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Nodes of an element's subtree read for a headline, byline or date.
const BOUNDED_TEXT_NODES: usize = 4096;
/// Bytes of text read for one.
const BOUNDED_TEXT_BYTES: usize = 4096;

/// The start of an element's text, for metadata: a headline, byline or
/// date is short, and the elements it is read from may nest inside each
/// other, so reading each one's whole subtree would read the page once per
/// level. Blocks inside it are set apart by a space, as a reader sees them
/// (`<div>Feb.</div><div>19</div>` is "Feb. 19"), whether or not the page
/// put whitespace between their tags.
pub fn bounded_text(element: scraper::ElementRef) -> String {
    let mut out = String::new();
    let mut nodes = 0;
    for edge in element.traverse() {
        let node = match edge {
            Edge::Open(node) => {
                nodes += 1;
                if nodes > BOUNDED_TEXT_NODES {
                    break;
                }
                node
            }
            Edge::Close(node) => node,
        };
        match node.value() {
            scraper::Node::Text(text) if matches!(edge, Edge::Open(_)) => {
                let room = BOUNDED_TEXT_BYTES.saturating_sub(out.len());
                if room == 0 {
                    break;
                }
                let mut end = text.len().min(room);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                out.push_str(&text[..end]);
            }
            scraper::Node::Element(inner)
                if node.id() != element.id()
                    && crate::hints::is_block_tag(inner.name())
                    && !out.is_empty()
                    && !out.ends_with(|c: char| c.is_ascii_whitespace()) =>
            {
                out.push(' ');
            }
            _ => {}
        }
    }
    out
}

/// `text` with whitespace collapsed and trimmed.
pub fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_collapsed(&mut out, text);
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    out
}

/// Characters that are not whitespace: the measure of how much text a node
/// holds. Counted on bytes (UTF-8 continuation bytes and ASCII whitespace
/// left out) because it runs on every text node of every page; the rare
/// non-ASCII space counts as a character.
pub fn visible_chars(text: &str) -> u32 {
    text.bytes()
        .filter(|&b| (b & 0xC0) != 0x80 && !b.is_ascii_whitespace())
        .count() as u32
}

/// Commas, counted on bytes: `,` and the last bytes of the UTF-8 forms of
/// `，` (EF BC 8C), `、` (E3 80 81) and `،` (D8 8C).
pub fn commas(text: &str) -> u32 {
    let mut previous = 0u8;
    let mut count = 0;
    for &b in text.as_bytes() {
        if b == b','
            || (b == 0x8C && matches!(previous, 0xBC | 0xD8))
            || (b == 0x81 && previous == 0x80)
        {
            count += 1;
        }
        previous = b;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_collapses_and_trims() {
        assert_eq!(collapse("  a \n\t b\u{a0}\u{a0}c  "), "a b c");
        let mut out = String::from("end ");
        push_collapsed(&mut out, "  next");
        assert_eq!(out, "end next");
        assert_eq!(collapse("a\u{200b}b\u{ad}c"), "abc");
        assert!(contains_ignore_ascii_case("Article-BYLINE", "byline"));
    }

    #[test]
    fn counts_ignore_whitespace() {
        assert_eq!(visible_chars(" a b\nc "), 3);
        assert_eq!(visible_chars("é ü"), 2);
        assert_eq!(commas("a, b, c"), 2);
        assert_eq!(commas("一，二、三، four"), 3);
    }
}
