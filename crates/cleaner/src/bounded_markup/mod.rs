//! A streaming pass over the markup before the HTML parser builds a tree,
//! bounding what makes the parser's work grow faster than the page: the
//! parser's stack of open elements (its scope searches walk it, so a page
//! nested a million deep costs a million squared), its list of active
//! formatting elements (re-opened after every block), the attributes of one
//! element (each checked against all before it), and the number of nodes.
//!
//! As browsers do (Chromium stops nesting at 512), elements deeper than
//! [`MAX_DEPTH`] are not opened: their tags are dropped and their content
//! stays in the deepest element kept. The pass models the parser's stack
//! and never counts it shorter than the parser would (see
//! [`open_elements`]); a page that needs none of the limits comes out as it
//! went in, apart from comments (dropped), a `<` inside raw-text elements
//! (escaped, so that the parser and this pass agree on where tags are
//! whatever the parser's state), the attributes nothing reads (dropped:
//! see [`read_attributes`]) and blank runs between block-level tags
//! (dropped: see [`block_spacing`]).

mod block_spacing;
mod element_kinds;
mod open_elements;
mod read_attributes;
mod tokens;

use std::borrow::Cow;
use std::collections::HashMap;

use element_kinds as kinds;
use open_elements::{Namespace, OpenElements};
use tokens::{Tag, Token, Tokenizer};

/// Deepest element nesting passed to the parser (Chromium's limit).
pub const MAX_DEPTH: usize = 512;
/// Attributes kept on one element; the rest are dropped.
pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 256;
/// Formatting elements (`b`, `i`, `font`...) left open at once; more are
/// dropped (they style text, the text stays).
pub const MAX_OPEN_FORMATTING: usize = 64;
/// The same with links (an `<a>` closes the open one, so links only pile
/// up across table cells and other markers).
pub const MAX_OPEN_FORMATTING_WITH_LINKS: usize = 256;
/// Elements in one page; tags beyond are dropped, their text kept.
pub const MAX_ELEMENTS: usize = 250_000;
/// Attributes in one page.
pub const MAX_ATTRIBUTES: usize = 1_000_000;
/// Stack depth from which end tags that close nothing are dropped (pages
/// this deep are hostile; a normal page is a few dozen deep).
const STRAY_END_TAG_DEPTH: usize = MAX_DEPTH / 2;
/// Names whose dropped start tags are remembered so that their end tags
/// are dropped too.
const MAX_DROPPED_NAMES: usize = 4096;

/// `html` with nesting, formatting elements, attributes and node count
/// bounded for the parser; borrowed unchanged when no limit was reached
/// and nothing needed dropping or escaping.
pub fn bound_markup(html: &str) -> Cow<'_, str> {
    let mut pass = Pass {
        src: html,
        out: None,
        copied: 0,
        open: OpenElements::new(),
        dropped: HashMap::new(),
        elements: 0,
        attributes: 0,
        seen_html: false,
        seen_body: false,
    };
    let mut tokens = Tokenizer::new(html);
    // A blank run after a tag that separates blocks, dropped if the next
    // tag separates blocks too.
    let mut blank_after_block: Option<(usize, usize)> = None;
    let mut after_block = true;
    loop {
        let start = tokens.position();
        // Attribute spans are read again only for a tag whose attributes
        // are cut or dropped (see `keep_start_tag`).
        let Some(token) = tokens.next_token(pass.open.in_foreign_content(), 0) else {
            break;
        };
        let separates =
            matches!(&token, Token::Tag(tag) if block_spacing::separates_blocks(&tag.name));
        if let Some((from, to)) = blank_after_block.take().filter(|_| separates) {
            pass.replace(from, to, "");
        }
        let follows_block = std::mem::replace(
            &mut after_block,
            separates || matches!(token, Token::Doctype(_)),
        );
        match token {
            Token::Text(end) => {
                if follows_block
                    && pass.blank_is_inert()
                    && block_spacing::is_blank(&html[start..end])
                {
                    blank_after_block = Some((start, end));
                }
            }
            Token::Doctype(_) => {}
            Token::Comment(start, end) => pass.replace(start, end, ""),
            Token::CData {
                start,
                content,
                end,
            } => {
                let text = escape_markup(&html[content.0..content.1]);
                pass.replace(start, end, &text);
            }
            Token::Unfinished(at) => {
                pass.replace(at, html.len(), "");
                break;
            }
            Token::Tag(tag) if tag.is_end => pass.end_tag(&tag),
            Token::Tag(tag) if kinds::is_raw_text(&tag.name) => {
                pass.raw_text_element(&tag, &mut tokens)
            }
            Token::Tag(tag) => pass.start_tag(&tag),
        }
    }
    pass.finish()
}

struct Pass<'a> {
    src: &'a str,
    out: Option<String>,
    /// `src[..copied]` is accounted for in `out`.
    copied: usize,
    open: OpenElements,
    /// Start tags dropped, by name, whose end tags are still to come.
    dropped: HashMap<String, u32>,
    elements: usize,
    attributes: usize,
    seen_html: bool,
    seen_body: bool,
}

impl<'a> Pass<'a> {
    fn replace(&mut self, from: usize, to: usize, with: &str) {
        self.copy_up_to(from).push_str(with);
        self.copied = to;
    }

    /// The output with everything before `at` copied into it.
    fn copy_up_to(&mut self, at: usize) -> &mut String {
        let src = self.src;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(src.len()));
        out.push_str(&src[self.copied..at]);
        self.copied = at;
        out
    }

    fn finish(self) -> Cow<'a, str> {
        let src = self.src;
        match self.out {
            None => Cow::Borrowed(src),
            Some(mut out) => {
                out.push_str(&src[self.copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// Whether the parser would put a blank run into the tree as nothing
    /// but a text node: no formatting element to reopen around it, no
    /// `pre` or `listing` whose spacing is the content, not in SVG/MathML.
    fn blank_is_inert(&self) -> bool {
        self.open.formatting_len() == 0
            && self.open.top_namespace() == Namespace::Html
            && !self.open.is_open("pre")
            && !self.open.is_open("listing")
    }

    fn drop_start_tag(&mut self, tag: &Tag, would_open: bool) {
        self.replace(tag.start, tag.end, "");
        if would_open
            && (self.dropped.len() < MAX_DROPPED_NAMES || self.dropped.contains_key(&*tag.name))
        {
            *self.dropped.entry(tag.name.to_string()).or_default() += 1;
        }
    }

    /// Keeps a start tag with the attributes the cleaner or the parser
    /// reads, at most as many as the limits allow (none when `bare`).
    fn keep_start_tag(&mut self, tag: &Tag, bare: bool) {
        self.elements += 1;
        let allowed = if bare {
            0
        } else {
            MAX_ATTRIBUTES_PER_ELEMENT.min(MAX_ATTRIBUTES.saturating_sub(self.attributes))
        };
        let read = tag.attribute_count - tag.unread_attribute_count;
        if tag.unread_attribute_count == 0 && read <= allowed {
            self.attributes += read;
            return;
        }
        let src = self.src;
        let kept = tokens::attribute_spans(src, tag.start, allowed);
        self.attributes += kept.len();
        let out = self.copy_up_to(tag.start);
        out.push_str(&src[tag.start..tag.name_end]);
        for (from, to) in kept {
            out.push(' ');
            out.push_str(&src[from..to]);
        }
        out.push_str(if tag.self_closing { "/>" } else { ">" });
        self.copied = tag.end;
    }

    /// `script`, `style`, `title`, `textarea`...: the tag, its content with
    /// every `<` escaped (the parser then finds no tag in it whether or not
    /// it reads it as raw text), and its end tag.
    fn raw_text_element(&mut self, tag: &Tag, tokens: &mut Tokenizer) {
        let over_budget = self.elements >= MAX_ELEMENTS;
        if over_budget {
            self.replace(tag.start, tag.end, "");
        } else {
            self.keep_start_tag(tag, false);
        }
        let content_start = tag.end;
        let content_end = if tag.name == "plaintext" {
            tokens.skip_to_end()
        } else {
            tokens.skip_raw_text(&tag.name)
        };
        let content = &self.src[content_start..content_end];
        if content.contains('<') {
            // Script content is JSON-LD by now (other scripts were
            // emptied): `\u003c` is the same character inside a JSON string.
            let escaped = content.replace(
                '<',
                if tag.name == "script" {
                    "\\u003c"
                } else {
                    "&lt;"
                },
            );
            self.replace(content_start, content_end, &escaped);
        }
        match tokens.next_token(false, 0) {
            Some(Token::Tag(end)) if end.is_end => {
                if over_budget {
                    self.replace(end.start, end.end, "");
                } else if end.attribute_count > 0 || end.self_closing {
                    let bare = format!("{}>", &self.src[end.start..end.name_end]);
                    self.replace(end.start, end.end, &bare);
                }
            }
            Some(Token::Unfinished(at)) => self.replace(at, self.src.len(), ""),
            _ => {}
        }
    }

    fn start_tag(&mut self, tag: &Tag) {
        let name: &str = &tag.name;
        if self.elements >= MAX_ELEMENTS {
            let would_open = !kinds::is_void(name);
            self.drop_start_tag(tag, would_open);
            return;
        }
        if self.open.in_foreign_content()
            && (kinds::breaks_out_of_foreign(name)
                || (name == "font" && self.has_attribute(tag, &["color", "face", "size"])))
        {
            self.open.pop_foreign();
        }
        if self.open.in_foreign_content() {
            if tag.self_closing {
                self.keep_start_tag(tag, false);
            } else {
                let namespace = self.open.top_namespace();
                self.open_element(tag, namespace);
            }
            return;
        }
        let formatting = kinds::formatting_name(name);
        match name {
            "html" | "body" => {
                let seen = if name == "html" {
                    std::mem::replace(&mut self.seen_html, true)
                } else {
                    std::mem::replace(&mut self.seen_body, true)
                };
                // A repeated tag's attributes are merged into the element
                // one by one against all it has: keep only the first tag's.
                self.keep_start_tag(tag, seen);
            }
            "head" | "col" | "frame" => self.keep_start_tag(tag, false),
            "svg" | "math" if !tag.self_closing => {
                let namespace = if name == "svg" {
                    Namespace::Svg
                } else {
                    Namespace::MathMl
                };
                self.open_element(tag, namespace);
            }
            "a" => {
                // The parser closes the open link; the model follows only
                // when that link is the current element (otherwise the
                // adoption agency may keep what stands above it open).
                let replaces_open = self.open.has_formatting_entry("a");
                let on_top = replaces_open && self.open.top_is("a");
                if (self.open.depth() >= MAX_DEPTH && !on_top)
                    || (!replaces_open
                        && self.open.formatting_len() >= MAX_OPEN_FORMATTING_WITH_LINKS)
                {
                    self.drop_start_tag(tag, true);
                    return;
                }
                if replaces_open {
                    self.open.remove_formatting("a");
                }
                if on_top {
                    let depth = self.open.depth();
                    self.open.truncate(depth - 1);
                }
                self.open.add_formatting("a");
                self.open_element(tag, Namespace::Html);
            }
            _ if formatting.is_some() => {
                let Some(name) = formatting else { return };
                if self.open.formatting_other_than_a() >= MAX_OPEN_FORMATTING
                    || self.open.formatting_len() >= MAX_OPEN_FORMATTING_WITH_LINKS
                    || self.open.depth() >= MAX_DEPTH
                {
                    self.drop_start_tag(tag, true);
                    return;
                }
                self.open.add_formatting(name);
                self.open_element(tag, Namespace::Html);
            }
            _ => {
                self.close_implied_by(name);
                if kinds::is_void(name) || (tag.self_closing && matches!(name, "svg" | "math")) {
                    self.keep_start_tag(tag, false);
                } else if name == "select" && self.open.find_in_select_scope("select").is_some() {
                    // A select in a select closes it and opens nothing.
                    if let Some(at) = self.open.find_in_select_scope("select") {
                        self.open.truncate(at);
                    }
                    self.keep_start_tag(tag, false);
                } else {
                    self.open_element(tag, Namespace::Html);
                }
            }
        }
    }

    /// Closes what the parser certainly closes before opening `name`.
    fn close_implied_by(&mut self, name: &str) {
        let open = &mut self.open;
        match name {
            "li" => {
                if let Some(at) = open.find_list_item("li") {
                    open.truncate(at);
                }
            }
            "dd" | "dt" => {
                let at = open.find_list_item("dd").max(open.find_list_item("dt"));
                if let Some(at) = at {
                    open.truncate(at);
                }
            }
            "td" | "th" => {
                let at = open
                    .find_in_table_scope("td")
                    .max(open.find_in_table_scope("th"));
                if let Some(at) = at {
                    open.truncate(at);
                }
            }
            "tr" => {
                if let Some(at) = open.find_in_table_scope("tr") {
                    open.truncate(at);
                }
            }
            "tbody" | "thead" | "tfoot" => {
                let at = ["tbody", "thead", "tfoot"]
                    .into_iter()
                    .filter_map(|n| open.find_in_table_scope(n))
                    .max();
                if let Some(at) = at {
                    open.truncate(at);
                }
            }
            "option" | "optgroup" if open.top_is("option") => {
                open.truncate(open.depth() - 1);
            }
            "button" => {
                if let Some(at) = open.find_in_scope("button") {
                    open.truncate(at);
                }
            }
            _ => {}
        }
        if kinds::closes_p(name) {
            if let Some(at) = open.find_in_button_scope("p") {
                open.truncate(at);
            }
        }
        if kinds::is_heading(name)
            && ["h1", "h2", "h3", "h4", "h5", "h6"]
                .into_iter()
                .any(|h| open.top_is(h))
        {
            open.truncate(open.depth() - 1);
        }
    }

    /// Keeps the tag and pushes its element, unless the stack is full:
    /// then the tag goes and its content lands in the element at the cap.
    fn open_element(&mut self, tag: &Tag, namespace: Namespace) {
        if self.open.depth() >= MAX_DEPTH {
            self.drop_start_tag(tag, true);
            return;
        }
        self.open.push(&tag.name, namespace);
        self.keep_start_tag(tag, false);
    }

    fn end_tag(&mut self, tag: &Tag) {
        let name: &str = &tag.name;
        if let Some(count) = self.dropped.get_mut(name) {
            *count -= 1;
            if *count == 0 {
                self.dropped.remove(name);
            }
            self.replace(tag.start, tag.end, "");
            return;
        }
        if !self.close_for_end_tag(name) {
            self.replace(tag.start, tag.end, "");
        } else if tag.attribute_count > 0 || tag.self_closing {
            // End tags carry no attributes the parser keeps; it still
            // reads (and compares) them.
            let bare = format!("{}>", &self.src[tag.start..tag.name_end]);
            self.replace(tag.start, tag.end, &bare);
        }
    }

    /// Closes what the end tag `name` closes in the model; false when the
    /// tag is better dropped.
    fn close_for_end_tag(&mut self, name: &str) -> bool {
        if self.open.top_namespace() != Namespace::Html {
            if matches!(name, "br" | "p") {
                self.open.pop_foreign();
            } else {
                let at = self
                    .open
                    .find_foreign(&format!("svg:{name}"))
                    .max(self.open.find_foreign(&format!("math:{name}")));
                if let Some(at) = at {
                    self.open.truncate(at);
                    return true;
                }
            }
        }
        let deep = self.open.depth() >= STRAY_END_TAG_DEPTH;
        let open = &mut self.open;
        let mut removed_formatting = false;
        let at = match name {
            "html" | "body" => return true,
            "br" => {
                // `</br>` is read as `<br>`: a new element.
                self.elements += 1;
                return self.elements <= MAX_ELEMENTS;
            }
            "p" => {
                let at = open.find_in_button_scope("p");
                if at.is_none() && !deep {
                    // A stray `</p>` makes an empty paragraph.
                    self.elements += 1;
                    return self.elements <= MAX_ELEMENTS;
                }
                at
            }
            "li" => open.find_in_list_scope("li"),
            "dd" | "dt" => open.find_in_scope(name),
            _ if kinds::is_heading(name) => ["h1", "h2", "h3", "h4", "h5", "h6"]
                .into_iter()
                .filter_map(|h| open.find_in_scope(h))
                .max(),
            _ if kinds::is_formatting(name) => {
                removed_formatting = open.remove_formatting(name);
                open.find_above_special(name)
            }
            "table" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" | "caption" | "colgroup" => {
                open.find_in_table_scope(name)
            }
            "template" => open.find_in_scope(name),
            "select" => open.find_in_select_scope(name),
            "option" => open.top_is("option").then(|| open.depth() - 1),
            "optgroup" => open.top_is("optgroup").then(|| open.depth() - 1),
            _ if kinds::is_scoped_block(name) => open.find_in_scope(name),
            _ => open.find_above_special(name),
        };
        match at {
            Some(at) => {
                self.open.truncate(at);
                true
            }
            // The parser walks its whole stack for an end tag whose element
            // is not open, and then ignores it: on a deep stack, a flood of
            // them costs the depth each, so they go.
            None => !deep || removed_formatting,
        }
    }

    fn has_attribute(&self, tag: &Tag, names: &[&str]) -> bool {
        let spans = tokens::attribute_spans(self.src, tag.start, MAX_ATTRIBUTES_PER_ELEMENT);
        spans.into_iter().any(|(from, to)| {
            let name = attribute_name(&self.src.as_bytes()[from..to]);
            names
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
        })
    }
}

/// The name of an attribute spanning `attribute` (up to its `=` or space; a
/// leading `=` belongs to the name).
fn attribute_name(attribute: &[u8]) -> &[u8] {
    let name_len = attribute
        .iter()
        .skip(1)
        .position(|&b| b == b'=' || b.is_ascii_whitespace())
        .map_or(attribute.len(), |len| len + 1);
    &attribute[..name_len]
}

/// Text made safe to put where markup is read: `&` and `<` as references.
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ego_tree::iter::Edge;
    use scraper::Html;

    /// The deepest element nesting of the parsed tree, and all its text.
    fn parsed(html: &str) -> (usize, String) {
        let document = crate::tree_sink::parse_document(&bound_markup(html));
        let (mut depth, mut deepest, mut text) = (0usize, 0usize, String::new());
        for edge in document.tree.root().traverse() {
            match edge {
                Edge::Open(node) if node.value().is_element() => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                Edge::Open(node) => {
                    if let Some(t) = node.value().as_text() {
                        text.push_str(t);
                    }
                }
                Edge::Close(node) if node.value().is_element() => depth -= 1,
                Edge::Close(_) => {}
            }
        }
        (deepest, text)
    }

    fn nested(open: &str, depth: usize, inner: &str) -> String {
        open.repeat(depth) + inner
    }

    #[test]
    fn a_normal_page_passes_unchanged() {
        let page = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>A &amp; B</title>
<script type="application/ld+json">{"@type":"NewsArticle","headline":"A"}</script><style></style></head>
<body class="x"><header><nav><ul><li><a href="/">Home</a><li><a href=/world>World</a></ul></nav></header>
<main><article><h1>Headline</h1><p>First <b>bold <i>both</b> italic</i> text.<p>Second, 3 < 4 &gt; 2.
<table><tr><td>cell<td>cell<tr><td>row</table><dl><dt>term<dd>def</dl><select><option>a<option>b</select>
<img class="a > b"><br/><svg><path/></svg><input type=hidden><time datetime="2024-08-19">Monday</time>
<p>Last.</article></main></body></html>"#;
        // Blank runs between block tags are all that goes.
        let without_block_spacing = page
            .replace("</title>\n<script", "</title><script")
            .replace("</head>\n<body", "</head><body")
            .replace("</header>\n<main>", "</header><main>");
        assert_eq!(bound_markup(page), without_block_spacing);
        let unchanged = without_block_spacing.as_str();
        assert!(matches!(bound_markup(unchanged), Cow::Borrowed(_)));
    }

    #[test]
    fn blank_runs_go_only_where_a_block_boundary_stands_on_both_sides() {
        let page = "<div>\n  <p>a</p>\n  <p>b</p>\n</div> <span>c</span> <a>d</a>\n<div> \t</div>";
        assert_eq!(
            bound_markup(page),
            "<div><p>a</p><p>b</p></div> <span>c</span> <a>d</a>\n<div></div>"
        );
        // Inside `pre` the spacing is the content; around an open
        // formatting element the parser would reopen it for the run.
        for kept in [
            "<pre><div>x</div>\n  <div>y</div></pre>",
            "<b><div>x</div>\n<div>y</div></b>",
            "<p>x</p>&nbsp;<p>y</p>",
            "<svg><desc>x</desc>\n<desc>y</desc></svg>",
        ] {
            assert_eq!(bound_markup(kept), kept);
        }
    }

    #[test]
    fn attributes_nothing_reads_are_dropped_and_the_rest_kept_in_order() {
        let page = r#"<img src=x.jpg alt="a > b" class=pic><a data-x='1' href="/y" onclick="f()">t</a><br/ title=x><svg viewBox="0 0 1 1"><path d="M0"/></svg>"#;
        assert_eq!(
            bound_markup(page),
            r#"<img class=pic><a href="/y">t</a><br><svg><path/></svg>"#
        );
    }

    #[test]
    fn a_tag_of_countless_unread_attributes_keeps_its_read_ones() {
        let mut tag = String::from("<div class=c");
        for i in 0..200_000 {
            tag.push_str(&format!(" data-{i}=v"));
        }
        tag.push_str(" id=x>text</div>");
        assert_eq!(bound_markup(&tag), "<div class=c id=x>text</div>");
    }

    #[test]
    fn an_attribute_the_cleaner_reads_survives_the_pass() {
        let names = read_attributes::READ_BY_THE_CLEANER
            .iter()
            .chain(read_attributes::READ_BY_THE_PARSER);
        for name in names.map(|n| std::str::from_utf8(n).unwrap()) {
            let page = format!(r#"<body><div data-a=1 {name}="v" title=t>x</div></body>"#);
            let document = Html::parse_document(&bound_markup(&page));
            let div = document
                .select(&scraper::Selector::parse("div").unwrap())
                .next()
                .unwrap();
            let attributes: Vec<_> = div.value().attrs().collect();
            assert_eq!(attributes, [(name, "v")], "{name}");
        }
    }

    #[test]
    fn nesting_stops_at_the_cap_and_the_text_stays() {
        for open in [
            "<div>",
            "<span>",
            "<section><x-y>",
            "<ul><li>",
            "<table><tr><td>",
        ] {
            let html = nested(open, 5_000, "deep text");
            let (depth, text) = parsed(&html);
            // html, body, and what tables imply around the cap.
            assert!(depth <= 2 * MAX_DEPTH, "{open}: depth {depth}");
            assert!(
                depth >= MAX_DEPTH / 2,
                "{open}: flattened too early: {depth}"
            );
            assert!(text.contains("deep text"), "{open}");
        }
    }

    #[test]
    fn implicitly_closed_elements_do_not_count_as_nesting() {
        for piece in [
            "<p>para",
            "<li>item",
            "<dt>t<dd>d",
            "<tr><td>a<td>b",
            "<option>o",
        ] {
            let html = format!(
                "<body><ul><table><select>{}</select></table></ul>",
                piece.repeat(3_000)
            );
            assert!(
                matches!(bound_markup(&html), Cow::Borrowed(_)),
                "{piece} was rewritten"
            );
        }
    }

    #[test]
    fn hostile_structures_stay_shallow_in_the_parsed_tree() {
        let cases = [
            nested("<table><div><b><span>", 3_000, "x"),
            nested("<a href=x><b><div><u>", 3_000, "x") + &"</b></a><p>t</p>".repeat(3_000),
            nested("<svg><g><foreignObject><div>", 3_000, "x"),
            nested("<math><mi><math><mtext>", 3_000, "x"),
            "<select><div></select><title><div></title><textarea><svg></textarea>".repeat(1_000)
                + &"<div>".repeat(3_000)
                + "x",
            nested("<b id=1><i id=2><p>", 3_000, "x"),
            nested("<button><form><fieldset><h1><h2>", 3_000, "x"),
            nested("<template><tr><td><caption>", 3_000, "x"),
            nested("<object><applet><marquee>", 3_000, "x"),
            nested("<nobr><nobr><font color=red>", 3_000, "x"),
        ];
        for html in &cases {
            let (depth, text) = parsed(html);
            assert!(depth <= 3 * MAX_DEPTH, "depth {depth}: {}", &html[..60]);
            assert!(text.contains('x'), "{}", &html[..60]);
        }
    }

    #[test]
    fn open_formatting_elements_are_capped() {
        let html: String = (0..1_000)
            .map(|i| format!("<b id=b{i}>"))
            .collect::<String>()
            + "<p>x";
        let out = bound_markup(&html);
        assert_eq!(out.matches("<b ").count(), MAX_OPEN_FORMATTING);
        // Closed ones do not count.
        let closed = "<b>x</b><i>y</i>".repeat(1_000);
        assert!(matches!(bound_markup(&closed), Cow::Borrowed(_)));
    }

    #[test]
    fn attributes_are_capped_per_element() {
        // Repeats of one name: the parser checks each against all before it.
        let mut tag = String::from("<div");
        for i in 0..1_000 {
            tag.push_str(&format!(" id=\"{i}\""));
        }
        tag.push_str(">text</div>");
        let out = bound_markup(&tag);
        assert_eq!(out.matches(" id=").count(), MAX_ATTRIBUTES_PER_ELEMENT);
        let document = Html::parse_document(&out);
        let div = document
            .select(&scraper::Selector::parse("div").unwrap())
            .next()
            .unwrap();
        assert_eq!(div.value().attr("id"), Some("0"));
        assert!(out.ends_with(">text</div>"));
    }

    #[test]
    fn end_tags_closing_nothing_on_a_deep_stack_go() {
        let deep = "<span>".repeat(MAX_DEPTH);
        let html = format!("{deep}</x></div></p></span>");
        assert_eq!(bound_markup(&html), format!("{deep}</span>"));
        // On a shallow stack they are the parser's business.
        assert!(matches!(
            bound_markup("<span></x></div></p></span>"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn end_tags_lose_their_attributes() {
        assert_eq!(bound_markup("<div>x</div a=1 b>"), "<div>x</div>");
    }

    #[test]
    fn raw_text_is_escaped_so_tags_in_it_stay_text() {
        assert_eq!(
            bound_markup("<title>a<b>c</title><textarea></textarea x>"),
            "<title>a&lt;b>c</title><textarea></textarea>"
        );
        assert_eq!(
            bound_markup(r#"<script type="application/ld+json">{"a":"<p>"}</script>"#),
            r#"<script type="application/ld+json">{"a":"\u003cp>"}</script>"#
        );
    }

    #[test]
    fn comments_and_bogus_markup_go() {
        assert_eq!(
            bound_markup("a<!-- c -->b<?pi?>c<!x>d</>e</ 1>f<!-->g<!--->h<!-- open"),
            "abcdefgh"
        );
    }

    #[test]
    fn unfinished_tags_at_the_end_go() {
        assert_eq!(bound_markup("<p>x<div a=\"never closed"), "<p>x");
    }

    #[test]
    fn repeated_body_tags_keep_no_attributes() {
        assert_eq!(
            bound_markup("<body lang=en><p>x<body class=b><html id=c>"),
            "<body lang=en><p>x<body><html id=c>"
        );
    }

    #[test]
    fn cdata_in_svg_becomes_text() {
        assert_eq!(
            bound_markup("<svg><![CDATA[a<b&c]]></svg>"),
            "<svg>a&lt;b&amp;c</svg>"
        );
    }
}
