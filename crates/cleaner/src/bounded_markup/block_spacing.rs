//! Blank runs between block-level tags: the parser makes each a text node
//! (a page's indentation is about as many nodes as all its elements), and
//! the cleaner reads nothing from one, since a block boundary already
//! separates the text on either side and whitespace counts for nothing in
//! its measures. Dropping them before parsing spares the parser and every
//! walk over the tree those nodes.

/// Tags on both sides of which spacing says nothing: the blocks the
/// cleaner breaks text at, and what stands in the document's head.
pub fn separates_blocks(name: &str) -> bool {
    crate::hints::is_block_tag(name)
        || matches!(
            name,
            "head" | "title" | "meta" | "link" | "base" | "script" | "style" | "noscript"
        )
}

/// Only the characters HTML counts as whitespace (not `&nbsp;`, which is
/// text, nor any other Unicode space).
pub fn is_blank(text: &str) -> bool {
    text.bytes().all(super::tokens::is_space)
}
