//! A small, forgiving XML tree of a (repaired) feed document, with
//! namespaces reduced to short names. The lenient pass in `supplement`
//! reads it for what feed-rs leaves out; it never fails: a document that
//! breaks off keeps the elements read so far.
//!
//! Nothing here recurses over the tree: reading text, writing markup and
//! dropping the tree all walk it with explicit stacks, so no input can
//! overflow the stack whatever its depth (`bound_markup` caps the depth
//! before this tree is built; this holds even without it).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

#[derive(Default)]
pub(crate) struct Element {
    /// Short namespace: "" (none, RSS), "atom", "dc", "dcterms", "itunes",
    /// "content", "xhtml", "rdf", "media", or the URI itself.
    pub ns: String,
    pub name: String,
    /// (short namespace, local name, value)
    pub attrs: Vec<(String, String, String)>,
    /// Attribute names as written (with prefix), for re-serialising.
    pub attr_qnames: Vec<String>,
    pub children: Vec<Node>,
}

pub(crate) enum Node {
    Element(Element),
    Text(String),
}

fn short_namespace(uri: &str) -> String {
    let lower = uri.trim().to_ascii_lowercase();
    let short = match lower.trim_end_matches(['/', '#']) {
        "http://www.w3.org/2005/atom" | "http://purl.org/atom/ns" => "atom",
        "http://purl.org/dc/elements/1.1" | "http://purl.org/dc/elements/1.0" => "dc",
        "http://purl.org/dc/terms" => "dcterms",
        "http://www.itunes.com/dtds/podcast-1.0.dtd"
        | "http://www.itunes.com/dtds/podcast-1.0.dtd#" => "itunes",
        "http://purl.org/rss/1.0/modules/content" => "content",
        "http://www.w3.org/1999/xhtml" => "xhtml",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns" => "rdf",
        "http://search.yahoo.com/mrss" => "media",
        "http://purl.org/rss/1.0"
        | "http://my.netscape.com/rdf/simple/0.9"
        | "http://backend.userland.com/rss2"
        | "http://blogs.law.harvard.edu/tech/rss" => "",
        _ => return uri.to_string(),
    };
    short.to_string()
}

fn resolved(result: ResolveResult<'_>, prefix: Option<&[u8]>) -> String {
    match result {
        ResolveResult::Bound(ns) => short_namespace(&String::from_utf8_lossy(ns.as_ref())),
        ResolveResult::Unbound => String::new(),
        ResolveResult::Unknown(p) => {
            // Undeclared prefixes: the usual ones still mean what they usually mean.
            let p = String::from_utf8_lossy(prefix.unwrap_or(&p)).to_ascii_lowercase();
            match p.as_str() {
                "dc" | "dcterms" | "itunes" | "content" | "atom" | "media" | "rdf" | "xhtml" => p,
                _ => format!("undeclared:{p}"),
            }
        }
    }
}

/// Parses the document into its root element, or `None` when there is none.
pub(crate) fn parse_tree(text: &str) -> Option<Element> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = false;
    reader.config_mut().allow_unmatched_ends = true;
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let event = match reader.read_resolved_event() {
            Ok((_, Event::Eof)) | Err(_) => break,
            Ok((ns, event)) => (resolved(ns, None), event),
        };
        match event {
            (ns, Event::Start(start)) => {
                let element = open_element(&reader, ns, &start);
                stack.push(element);
            }
            (ns, Event::Empty(start)) => {
                let element = open_element(&reader, ns, &start);
                push_node(&mut stack, Node::Element(element));
            }
            (_, Event::End(_)) if stack.len() > 1 => {
                let mut element = stack.pop().expect("stack has an open element");
                element.children.shrink_to_fit();
                push_node(&mut stack, Node::Element(element));
            }
            (_, Event::Text(t)) => {
                let text = t.decode().map(|c| c.into_owned()).unwrap_or_default();
                push_node(&mut stack, Node::Text(text));
            }
            (_, Event::CData(c)) => {
                push_node(
                    &mut stack,
                    Node::Text(String::from_utf8_lossy(&c).into_owned()),
                );
            }
            (_, Event::GeneralRef(r)) => {
                let name = String::from_utf8_lossy(&r).into_owned();
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match name.as_str() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        _ => String::new(),
                    },
                };
                push_node(&mut stack, Node::Text(text));
            }
            _ => {}
        }
    }
    // Close whatever the document left open.
    while stack.len() > 1 {
        let element = stack.pop().expect("stack has an open element");
        push_node(&mut stack, Node::Element(element));
    }
    let mut document = stack.pop()?;
    std::mem::take(&mut document.children)
        .into_iter()
        .find_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
}

fn open_element(
    reader: &NsReader<&[u8]>,
    ns: String,
    start: &quick_xml::events::BytesStart<'_>,
) -> Element {
    let qname = start.name();
    let name = String::from_utf8_lossy(qname.local_name().as_ref()).into_owned();
    let mut attr_qnames = Vec::new();
    let attrs = start
        .attributes()
        .with_checks(false)
        .flatten()
        .map(|a| {
            attr_qnames.push(String::from_utf8_lossy(a.key.as_ref()).into_owned());
            let (attr_ns, local) = reader.resolver().resolve_attribute(a.key);
            let attr_ns = resolved(attr_ns, a.key.prefix().map(|p| p.into_inner()));
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
            (
                attr_ns,
                String::from_utf8_lossy(local.as_ref()).into_owned(),
                value,
            )
        })
        .collect();
    Element {
        ns,
        name,
        attrs,
        attr_qnames,
        children: Vec::new(),
    }
}

fn push_node(stack: &mut [Element], node: Node) {
    let Some(parent) = stack.last_mut() else {
        return;
    };
    // Adjacent text (split by references) becomes one node.
    if let (Node::Text(text), Some(Node::Text(last))) = (&node, parent.children.last_mut()) {
        last.push_str(text);
        return;
    }
    parent.children.push(node);
}

impl Drop for Element {
    /// Drops the subtree with an explicit stack: the derived drop would
    /// recurse once per level.
    fn drop(&mut self) {
        let mut pending: Vec<Node> = std::mem::take(&mut self.children);
        while let Some(node) = pending.pop() {
            if let Node::Element(mut element) = node {
                pending.append(&mut element.children);
                // `element` now has no children: its own drop returns at once.
            }
        }
    }
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name.eq_ignore_ascii_case(name)
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// First child element among the (namespace, name) pairs, in the order given.
    pub fn first_of(&self, names: &[(&str, &str)]) -> Option<&Element> {
        names
            .iter()
            .find_map(|(ns, name)| self.elements().find(|e| e.is(ns, name)))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(ns, local, _)| {
                (ns.is_empty() || ns == "undeclared:xml") && local.eq_ignore_ascii_case(name)
            })
            .map(|(_, _, v)| v.as_str())
    }

    /// All text inside, markup dropped.
    pub fn text(&self) -> String {
        let mut out = String::new();
        // Children in reverse on the stack, so they come off in order.
        let mut pending: Vec<&Node> = self.children.iter().rev().collect();
        while let Some(node) = pending.pop() {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => pending.extend(e.children.iter().rev()),
            }
        }
        out
    }

    pub fn has_child_elements(&self) -> bool {
        self.elements().next().is_some()
    }

    /// The content as markup: child elements serialised, text escaped.
    pub fn inner_xml(&self) -> String {
        enum Step<'a> {
            Node(&'a Node),
            Close(&'a str),
        }
        let mut out = String::new();
        let mut pending: Vec<Step<'_>> = self.children.iter().rev().map(Step::Node).collect();
        while let Some(step) = pending.pop() {
            match step {
                Step::Close(name) => {
                    out.push_str("</");
                    out.push_str(name);
                    out.push('>');
                }
                Step::Node(Node::Text(t)) => escape_into(t, &mut out),
                Step::Node(Node::Element(e)) => {
                    write_start_tag(e, &mut out);
                    if e.children.is_empty() {
                        out.push_str(" />");
                        continue;
                    }
                    out.push('>');
                    pending.push(Step::Close(&e.name));
                    pending.extend(e.children.iter().rev().map(Step::Node));
                }
            }
        }
        out
    }
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn write_start_tag(e: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    // Namespace declarations belong to the feed document, not to the
    // markup carried in it.
    for ((_, _, value), qname) in e.attrs.iter().zip(&e.attr_qnames) {
        if qname == "xmlns" || qname.starts_with("xmlns:") {
            continue;
        }
        out.push(' ');
        out.push_str(qname);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built, read and dropped on a thread with a small stack: any walk
    /// that recursed once per level would overflow it. (Not deeper than
    /// 65,535: quick-xml's namespace resolver counts levels in a u16 and
    /// panics past it in debug builds; `bound_markup` keeps documents far
    /// below that before they get here.)
    #[test]
    fn a_deep_tree_is_built_read_and_dropped_without_recursion() {
        let worker = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let depth = 60_000;
                let text = format!(
                    "<root>{}x{}</root>",
                    "<a k=\"v\">".repeat(depth),
                    "</a>".repeat(depth)
                );
                let tree = parse_tree(&text).expect("a root");
                assert_eq!(tree.text(), "x");
                let markup = tree.inner_xml();
                assert!(markup.starts_with("<a k=\"v\"><a k=\"v\">"));
                assert_eq!(markup.len(), text.len() - "<root></root>".len());
                drop(tree);
            })
            .unwrap();
        worker.join().expect("no stack overflow");
    }

    #[test]
    fn text_split_by_references_is_one_node() {
        let tree = parse_tree("<t>a &amp; b &#233; c</t>").unwrap();
        assert_eq!(tree.children.len(), 1);
        assert_eq!(tree.text(), "a & b é c");
    }
}
