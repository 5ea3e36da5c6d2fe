//! The attributes the cleaner reads after parsing, and those the parser
//! itself acts on. A page's other attributes (`src`, `srcset`, `alt`,
//! `title`, `data-*`, event handlers...) are a quarter of its bytes once
//! scripts and styles are emptied, and the parser tokenizes, allocates and
//! stores every one of them for nothing: the pre-pass drops them.
//!
//! Whoever reads a new attribute in the cleaner adds it here;
//! `an_attribute_the_cleaner_reads_survives_the_pass` checks those read
//! today.

/// Read by the extractor and the metadata: ids and classes (boilerplate
/// hints, bylines, dates), hidden markup, links, language, `<meta>` keys
/// and values, `<time>`, JSON-LD's `type`.
pub(super) const READ_BY_THE_CLEANER: &[&[u8]] = &[
    b"id",
    b"class",
    b"style",
    b"hidden",
    b"aria-hidden",
    b"rel",
    b"href",
    b"lang",
    b"xml:lang",
    b"content",
    b"property",
    b"name",
    b"itemprop",
    b"datetime",
    b"type",
    b"charset",
    b"http-equiv",
];

/// Attributes that change how the parser builds the tree: `<input
/// type=hidden>` in a table (kept above), `<font color|face|size>` leaving
/// SVG or MathML, `<annotation-xml encoding>` holding HTML.
pub(super) const READ_BY_THE_PARSER: &[&[u8]] = &[b"color", b"face", b"size", b"encoding"];

/// Whether an attribute named `name` (as written; compared without ASCII
/// case) is kept for the parser.
pub fn is_kept(name: &[u8]) -> bool {
    READ_BY_THE_CLEANER
        .iter()
        .chain(READ_BY_THE_PARSER)
        .any(|kept| kept.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_without_case() {
        assert!(is_kept(b"CLASS"));
        assert!(is_kept(b"Http-Equiv"));
        assert!(!is_kept(b"srcset"));
        assert!(!is_kept(b"data-src"));
        assert!(!is_kept(b""));
    }
}
