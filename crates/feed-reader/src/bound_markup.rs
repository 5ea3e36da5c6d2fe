//! A streaming pass over a (repaired) feed document that runs before any
//! tree is built, ours or feed-rs's, and makes the document cheap to read:
//!
//! - element depth is capped the way browsers do it (Chromium's HTML parser
//!   stops at 512): an element that would open deeper becomes a sibling of
//!   the element at the cap, so its content is kept and no reader that
//!   recurses per level (feed-rs, serialisers, `Drop`) sees a deep tree;
//! - items (`item`/`entry` elements) beyond the per-document limit are left
//!   out, so a feed of 100,000 items is read as its first N;
//! - elements beyond a per-document budget are left out with their content:
//!   every reader keeps a few hundred bytes per element, so a document of
//!   millions of `<x/>` would cost a hundred times its size;
//! - attributes beyond a per-element limit, and namespace declarations
//!   beyond a limit in scope, are left out: duplicate-attribute checks and
//!   namespace resolution cost a scan per attribute and per name.
//!
//! The pass copies the document event by event (one quick-xml reader, no
//! tree, no recursion), so it is linear in the input; a document that needs
//! none of this comes back unchanged.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deepest element nesting kept (Chromium's HTML parser limit).
pub const MAX_ELEMENT_DEPTH: usize = 512;
/// Elements kept in one document (a feed of 1,000 items with rich
/// content has some tens of thousands).
pub const MAX_ELEMENTS_PER_DOCUMENT: usize = 100_000;
/// Attributes kept on one element; no real feed element comes near it.
pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 128;
/// Namespace declarations in scope at once; a feed's root declares a few dozen.
pub const MAX_NAMESPACES_IN_SCOPE: usize = 128;

/// What the pass left out or re-shaped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct BoundReport {
    /// Elements that opened deeper than the cap and became siblings.
    pub flattened_elements: usize,
    /// Item elements past the per-document limit, left out.
    pub items_dropped: usize,
    /// Elements past the per-document budget, left out with their content.
    pub elements_dropped: usize,
    /// Attributes (and namespace declarations) past their limits, left out.
    pub attributes_dropped: usize,
    /// XML declarations anywhere but at the very start, left out (not
    /// well-formed, and feed-rs's reader panics switching encodings there).
    pub misplaced_declarations: usize,
    /// The document broke off in a way no reader could use, and what
    /// followed could nest past the cap: it was cut at that point.
    pub truncated: bool,
}

impl BoundReport {
    pub fn changed(&self) -> bool {
        *self != BoundReport::default()
    }
}

/// An element open in the output.
struct Open {
    /// Its name as written, for the end tag the pass writes when it closes
    /// it early at the depth cap.
    qname: String,
    namespace_declarations: usize,
}

/// Bounds depth, items, attributes and namespace declarations of `text`;
/// see the module comment.
pub(crate) fn bound_markup(text: &str, max_items: usize) -> (Cow<'_, str>, BoundReport) {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    config.trim_text(false);

    let mut out = String::with_capacity(text.len());
    let mut report = BoundReport::default();
    let mut open: Vec<Open> = Vec::new();
    // Elements still open in the input that were closed early in the output
    // when a child opened at the cap.
    let mut closed_early = 0usize;
    // Depth inside an item being left out (0: not inside one).
    let mut skipping = 0usize;
    let mut items_seen = 0usize;
    let mut elements_seen = 0usize;
    let mut namespaces_in_scope = 0usize;

    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event();
        let after = (reader.buffer_position() as usize).min(text.len());
        let span = &text[before.min(after)..after];
        match event {
            Ok(Event::Eof) => break,
            Err(_) => {
                let rest = &text[before.min(text.len())..];
                // What follows the break can open at most one element per
                // `<`: when that stays under the cap, hand it on as it is
                // (readers report the break as they would have).
                let could_open = rest.bytes().filter(|b| *b == b'<').count();
                if skipping == 0 && open.len() + could_open <= MAX_ELEMENT_DEPTH {
                    out.push_str(rest);
                } else {
                    report.truncated = true;
                }
                break;
            }
            Ok(Event::Start(start)) => {
                if skipping > 0 {
                    skipping += 1;
                    continue;
                }
                if !admit(
                    &start,
                    &mut items_seen,
                    &mut elements_seen,
                    max_items,
                    &mut report,
                ) {
                    skipping = 1;
                    continue;
                }
                if open.len() >= MAX_ELEMENT_DEPTH {
                    close_early(&mut open, &mut out, &mut namespaces_in_scope);
                    closed_early += 1;
                    report.flattened_elements += 1;
                }
                let declarations = write_start(
                    &start,
                    span,
                    &mut out,
                    &mut namespaces_in_scope,
                    &mut report,
                );
                open.push(Open {
                    qname: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
                    namespace_declarations: declarations,
                });
            }
            Ok(Event::Empty(start)) => {
                if skipping > 0 {
                    continue;
                }
                if !admit(
                    &start,
                    &mut items_seen,
                    &mut elements_seen,
                    max_items,
                    &mut report,
                ) {
                    continue;
                }
                if open.len() >= MAX_ELEMENT_DEPTH {
                    close_early(&mut open, &mut out, &mut namespaces_in_scope);
                    closed_early += 1;
                    report.flattened_elements += 1;
                }
                let declarations = write_start(
                    &start,
                    span,
                    &mut out,
                    &mut namespaces_in_scope,
                    &mut report,
                );
                // An empty element's declarations go out of scope at once.
                namespaces_in_scope -= declarations;
            }
            Ok(Event::End(_)) => {
                if skipping > 0 {
                    skipping -= 1;
                    continue;
                }
                // Below the cap with elements closed early pending, the
                // innermost open element of the input is one of those: its
                // end tag was already written.
                if closed_early > 0 && open.len() < MAX_ELEMENT_DEPTH {
                    closed_early -= 1;
                    continue;
                }
                if let Some(element) = open.pop() {
                    namespaces_in_scope -= element.namespace_declarations;
                }
                out.push_str(span);
            }
            Ok(Event::Decl(_)) if before > 0 => {
                report.misplaced_declarations += 1;
            }
            Ok(_) => {
                if skipping == 0 {
                    out.push_str(span);
                }
            }
        }
    }
    if report.changed() {
        (Cow::Owned(out), report)
    } else {
        (Cow::Borrowed(text), report)
    }
}

/// Ends the element at the cap in the output: the element opening below it
/// becomes its sibling, and the input's own end tag for it is dropped later.
fn close_early(open: &mut Vec<Open>, out: &mut String, namespaces_in_scope: &mut usize) {
    let parent = open.pop().expect("open is at the cap");
    *namespaces_in_scope -= parent.namespace_declarations;
    out.push_str("</");
    out.push_str(&parent.qname);
    out.push('>');
}

/// Whether an element is kept (counting it), or left out with its content.
fn admit(
    start: &BytesStart<'_>,
    items_seen: &mut usize,
    elements_seen: &mut usize,
    max_items: usize,
    report: &mut BoundReport,
) -> bool {
    if is_item(start) {
        *items_seen += 1;
        if *items_seen > max_items {
            report.items_dropped += 1;
            return false;
        }
    }
    *elements_seen += 1;
    if *elements_seen > MAX_ELEMENTS_PER_DOCUMENT {
        report.elements_dropped += 1;
        return false;
    }
    true
}

fn is_item(start: &BytesStart<'_>) -> bool {
    let local = start.local_name();
    let local = local.as_ref();
    local.eq_ignore_ascii_case(b"item") || local.eq_ignore_ascii_case(b"entry")
}

/// Writes a start (or empty-element) tag: as written when its attributes are
/// within the limits, else rebuilt from the attributes kept. Returns how
/// many namespace declarations it brings into scope.
fn write_start(
    start: &BytesStart<'_>,
    span: &str,
    out: &mut String,
    namespaces_in_scope: &mut usize,
    report: &mut BoundReport,
) -> usize {
    // Which attributes stay: decided in one pass that allocates nothing,
    // since almost every tag keeps all of its attributes.
    let mut declarations = 0usize;
    let mut kept = 0usize;
    let mut dropped = 0usize;
    for attribute in start.attributes().with_checks(false).flatten() {
        let key = attribute.key.as_ref();
        let is_declaration = key == b"xmlns" || key.starts_with(b"xmlns:");
        if kept >= MAX_ATTRIBUTES_PER_ELEMENT
            || (is_declaration && *namespaces_in_scope >= MAX_NAMESPACES_IN_SCOPE)
        {
            dropped += 1;
            continue;
        }
        if is_declaration {
            declarations += 1;
            *namespaces_in_scope += 1;
        }
        kept += 1;
    }
    if dropped == 0 {
        out.push_str(span);
        return declarations;
    }
    report.attributes_dropped += dropped;
    // Second pass: write the tag with the same attributes the first pass kept.
    let mut written = 0usize;
    let mut in_scope_before = *namespaces_in_scope - declarations;
    out.push('<');
    out.push_str(&String::from_utf8_lossy(start.name().as_ref()));
    for attribute in start.attributes().with_checks(false).flatten() {
        let key = attribute.key.as_ref();
        let is_declaration = key == b"xmlns" || key.starts_with(b"xmlns:");
        if written >= MAX_ATTRIBUTES_PER_ELEMENT
            || (is_declaration && in_scope_before >= MAX_NAMESPACES_IN_SCOPE)
        {
            continue;
        }
        if is_declaration {
            in_scope_before += 1;
        }
        written += 1;
        // The value is still escaped, as written; one written in single
        // quotes may hold a double quote.
        let value = String::from_utf8_lossy(&attribute.value);
        let quote = if value.contains('"') { '\'' } else { '"' };
        out.push(' ');
        out.push_str(&String::from_utf8_lossy(key));
        out.push('=');
        out.push(quote);
        out.push_str(&value);
        out.push(quote);
    }
    out.push_str(if span.ends_with("/>") { "/>" } else { ">" });
    declarations
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Depth of the deepest element, counted with an explicit stack.
    fn max_depth(text: &str) -> usize {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = false;
        let (mut depth, mut deepest) = (0usize, 0usize);
        loop {
            match reader.read_event() {
                Ok(Event::Start(_)) => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                Ok(Event::Empty(_)) => deepest = deepest.max(depth + 1),
                Ok(Event::End(_)) => depth = depth.saturating_sub(1),
                Ok(Event::Eof) | Err(_) => return deepest,
                Ok(_) => {}
            }
        }
    }

    #[test]
    fn deep_elements_become_siblings_at_the_cap_and_keep_their_text() {
        let depth = 45_000;
        let mut text = String::from("<rss><channel>");
        for i in 0..depth {
            text.push_str(&format!("<d>{i} <e/>"));
        }
        for _ in 0..depth {
            text.push_str("</d>");
        }
        text.push_str("<title>after</title></channel></rss>");
        let (bounded, report) = bound_markup(&text, 1000);
        assert_eq!(max_depth(&bounded), MAX_ELEMENT_DEPTH);
        assert_eq!(report.flattened_elements, depth + 3 - MAX_ELEMENT_DEPTH);
        // Every piece of text is still there, in order.
        let words: Vec<&str> = bounded
            .split(['<', '>'])
            .filter(|s| s.ends_with(' '))
            .collect();
        assert_eq!(words.len(), depth);
        assert_eq!(words[depth - 1], format!("{} ", depth - 1));
        // What follows the deep part is back at its own depth, well-formed.
        let tree = crate::xml_tree::parse_tree(&bounded).unwrap();
        let channel = tree.elements().next().unwrap();
        assert!(channel
            .elements()
            .any(|e| e.is("", "title") && e.text() == "after"));
    }

    #[test]
    fn a_document_within_the_limits_is_unchanged() {
        let text = "<?xml version=\"1.0\"?><!-- c --><rss version=\"2.0\"><channel><item><title>a &amp; b</title></item><x:y xmlns:x=\"u\" a='1'/></channel></rss>";
        let (bounded, report) = bound_markup(text, 1000);
        assert!(matches!(bounded, Cow::Borrowed(_)));
        assert!(!report.changed());
        assert_eq!(bounded, text);
    }

    #[test]
    fn items_past_the_limit_are_left_out_with_their_content() {
        let items: String = (0..50)
            .map(|i| format!("<item><title>{i}</title><d><e/></d></item>"))
            .collect();
        let text = format!("<rss><channel>{items}<entry/><title>t</title></channel></rss>");
        let (bounded, report) = bound_markup(&text, 10);
        assert_eq!(report.items_dropped, 41);
        assert_eq!(bounded.matches("<item>").count(), 10);
        assert!(bounded.contains("<title>9</title>") && !bounded.contains("<title>10</title>"));
        assert!(
            bounded.ends_with("<title>t</title></channel></rss>"),
            "{bounded}"
        );
    }

    #[test]
    fn elements_past_the_budget_are_left_out_with_their_content() {
        let text = format!(
            "<rss><channel>{}<after>text</after></channel></rss>",
            "<x/><y>t</y>".repeat(MAX_ELEMENTS_PER_DOCUMENT)
        );
        let (bounded, report) = bound_markup(&text, 10);
        assert_eq!(report.elements_dropped, MAX_ELEMENTS_PER_DOCUMENT + 3);
        assert_eq!(
            bounded.matches("<x/>").count() + bounded.matches("<y>").count(),
            MAX_ELEMENTS_PER_DOCUMENT - 2
        );
        assert!(!bounded.contains("text"));
        assert!(
            bounded.ends_with("</channel></rss>"),
            "{}",
            &bounded[bounded.len() - 40..]
        );
    }

    #[test]
    fn attributes_and_namespace_declarations_past_the_limits_are_left_out() {
        let attrs: String = (0..10_000).map(|i| format!(" a{i}=\"{i}\"")).collect();
        let decls: String = (0..10_000).map(|i| format!(" xmlns:p{i}='u{i}'")).collect();
        let text = format!("<rss{decls}><channel{attrs} q='say \"hi\"'><x/></channel></rss>");
        let (bounded, report) = bound_markup(&text, 10);
        assert!(report.attributes_dropped >= 20_000 - 2 * MAX_ATTRIBUTES_PER_ELEMENT);
        assert_eq!(bounded.matches(" xmlns:").count(), MAX_NAMESPACES_IN_SCOPE);
        assert!(bounded.contains(" a0=\"0\""));
        assert!(!bounded.contains(" a9999="));
        assert!(crate::xml_tree::parse_tree(&bounded).is_some());
    }

    #[test]
    fn only_a_declaration_at_the_start_is_kept() {
        let text = "<?xml version=\"1.0\"?><rss><?xml version='1.0' encoding='latin1'?><t/></rss>";
        let (bounded, report) = bound_markup(text, 10);
        assert_eq!(report.misplaced_declarations, 1);
        assert_eq!(bounded, "<?xml version=\"1.0\"?><rss><t/></rss>");
    }

    #[test]
    fn a_broken_tail_is_kept_when_it_cannot_nest_deep_and_cut_when_it_can() {
        let text = "<rss><channel><title>t</title></channel></rss><!-- broken";
        let (bounded, report) = bound_markup(text, 10);
        assert_eq!(bounded, text);
        assert!(!report.truncated);
        let deep = format!("<rss><channel><bad attr=\"x{}", "<d>".repeat(10_000));
        let (bounded, report) = bound_markup(&deep, 10);
        assert!(report.truncated);
        assert!(max_depth(&bounded) <= MAX_ELEMENT_DEPTH);
    }
}
