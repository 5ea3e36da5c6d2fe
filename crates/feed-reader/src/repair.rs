//! Textual repairs that lenient feed readers make before parsing, so that a
//! strict XML parser (feed-rs) accepts the feeds outlets really publish.
//! Works on decoded UTF-8 text; CDATA sections and comments are left alone.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;

/// One kind of repair, reported so `feeds parse` can say what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Repair {
    TextBeforeDeclaration,
    DoctypeRemoved,
    UnescapedAmpersand,
    HtmlEntity,
    DefaultNamespaceOnRss,
    RssVersionNormalised,
    Atom03Upgraded,
    Rss090Upgraded,
    ControlCharacterRemoved,
    /// feed-rs refused the document; it was read by the lenient tree reader.
    LenientRecovery,
    AtomTypeNormalised,
    Base64Decoded,
    /// DOCTYPE entities expanded past the expansion budget (or larger than
    /// the cap for one entity) were cut.
    EntityExpansionLimited,
    /// Elements nested deeper than the depth cap became siblings at the cap.
    DepthCapped,
    /// Items past the per-document limit were left out.
    ItemsLimited,
    /// Elements past the per-document budget were left out.
    ElementsLimited,
    /// Attributes or namespace declarations past their limits were left out.
    AttributesLimited,
    /// An XML declaration inside the document was removed.
    MisplacedDeclarationRemoved,
    /// The document broke off where what followed could nest past the cap;
    /// it was cut there.
    TruncatedAtError,
}

/// Records a kind of repair once, however often it was made (a document
/// with a million bare ampersands reports one repair, not a million).
pub(crate) fn note(repairs: &mut Vec<Repair>, repair: Repair) {
    if !repairs.contains(&repair) {
        repairs.push(repair);
    }
}

/// Longest value one DOCTYPE entity may expand to; longer ones are cut.
pub const MAX_ENTITY_VALUE_BYTES: usize = 16 * 1024;
/// Entity expansion budget: all DOCTYPE entity expansions of a document
/// together may add at most this many times the document's size (plus a
/// small allowance for tiny documents); references past it expand to nothing.
pub const ENTITY_EXPANSION_FACTOR: usize = 2;
const ENTITY_EXPANSION_ALLOWANCE: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Repaired {
    pub text: String,
    pub repairs: Vec<Repair>,
}

const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const ATOM_10_NS: &str = "http://www.w3.org/2005/Atom";
const RSS_090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10_NS: &str = "http://purl.org/rss/1.0/";

pub fn repair_feed_text(input: &str) -> Repaired {
    let mut repairs = Vec::new();
    let mut text = strip_leading_junk(input, &mut repairs);
    text = remove_control_characters(&text, &mut repairs);
    let (body, entities) = strip_declaration_and_doctype(&text, &mut repairs);
    let budget = input
        .len()
        .saturating_mul(ENTITY_EXPANSION_FACTOR)
        .saturating_add(ENTITY_EXPANSION_ALLOWANCE);
    let mut text = fix_references(&body, &entities, budget, &mut repairs);
    text = fix_root(&text, &mut repairs);
    repairs.dedup();
    // feed-rs re-decodes by the declared encoding: declare what we hand it.
    Repaired {
        text: format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{text}"),
        repairs,
    }
}

fn strip_leading_junk(input: &str, repairs: &mut Vec<Repair>) -> String {
    let start = input
        .find("<?xml")
        .filter(|pos| input[..*pos].find('<').is_none_or(|first| first >= *pos))
        .or_else(|| input.find('<'))
        .unwrap_or(0);
    if !input[..start].trim().is_empty() || (start > 0 && input[start..].starts_with("<?xml")) {
        note(repairs, Repair::TextBeforeDeclaration);
    }
    input[start..].to_string()
}

/// Drops characters XML forbids, and reads C1 controls (U+0080–U+009F,
/// never meant as such) as the windows-1252 characters they stand for:
/// curly quotes and dashes from a CMS that mixed up its charsets.
fn remove_control_characters(text: &str, repairs: &mut Vec<Repair>) -> String {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{fffe}' || c == '\u{ffff}'
    };
    let c1 = |c: char| ('\u{80}'..'\u{a0}').contains(&c);
    if !text.chars().any(|c| bad(c) || c1(c)) {
        return text.to_string();
    }
    note(repairs, Repair::ControlCharacterRemoved);
    text.chars()
        .filter(|c| !bad(*c))
        .filter_map(|c| if c1(c) { windows_1252_c1(c) } else { Some(c) })
        .collect()
}

/// Drops the XML declaration (a new one is written) and any DOCTYPE, keeping
/// the general entities its internal subset declares.
fn strip_declaration_and_doctype(
    text: &str,
    repairs: &mut Vec<Repair>,
) -> (String, DoctypeEntities) {
    let mut rest = text;
    if rest.starts_with("<?xml") {
        if let Some(end) = rest.find("?>") {
            rest = &rest[end + 2..];
        }
    }
    let mut entities = DoctypeEntities::default();
    let Some(doctype_start) = find_ascii_ci(rest, "<!DOCTYPE") else {
        return (rest.to_string(), entities);
    };
    // A DOCTYPE only counts if it precedes the root element.
    let before = &rest[..doctype_start];
    if !prolog_only(before) {
        return (rest.to_string(), entities);
    }
    let mut depth = 0usize;
    let mut end = None;
    for (offset, c) in rest[doctype_start..].char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => {
                end = Some(doctype_start + offset + 1);
                break;
            }
            _ => {}
        }
    }
    let Some(end) = end else {
        return (rest.to_string(), entities);
    };
    let doctype = &rest[doctype_start..end];
    entities = internal_entities(doctype, repairs);
    note(repairs, Repair::DoctypeRemoved);
    (
        format!("{}{}", &rest[..doctype_start], &rest[end..]),
        entities,
    )
}

fn prolog_only(text: &str) -> bool {
    let mut rest = text.trim_start();
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            match after.find("-->") {
                Some(end) => rest = after[end + 3..].trim_start(),
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix("<?") {
            match after.find("?>") {
                Some(end) => rest = after[end + 2..].trim_start(),
                None => return false,
            }
        } else {
            return false;
        }
    }
}

/// The general entities a DOCTYPE's internal subset declares, by name, each
/// already in the form it is written into the document (references resolved,
/// markup escaped) and cut to `MAX_ENTITY_VALUE_BYTES`. Only literal values
/// count: external entities (`SYSTEM`/`PUBLIC`) and parameter entities are
/// never read, fetched or expanded, and a value's own references to other
/// entities stay text, so expansion never nests.
#[derive(Default)]
struct DoctypeEntities {
    values: HashMap<String, String>,
}

fn internal_entities(doctype: &str, repairs: &mut Vec<Repair>) -> DoctypeEntities {
    let pattern = static_regex!(r#"<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:"([^"]*)"|'([^']*)')\s*>"#);
    let mut values = HashMap::new();
    for c in pattern.captures_iter(doctype) {
        let raw = c
            .get(2)
            .or(c.get(3))
            .map(|m| m.as_str())
            .unwrap_or_default();
        let raw = if raw.len() > MAX_ENTITY_VALUE_BYTES {
            note(repairs, Repair::EntityExpansionLimited);
            &raw[..floor_char_boundary(raw, MAX_ENTITY_VALUE_BYTES)]
        } else {
            raw
        };
        // XML: the first declaration of an entity is binding.
        values
            .entry(c[1].to_string())
            .or_insert_with(|| escape_text(&resolve_char_refs(raw)));
    }
    DoctypeEntities { values }
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Rewrites every `&` outside CDATA and comments into a well-formed reference:
/// XML's own entities and character references stay; HTML entities become
/// character references; a bare `&` becomes `&amp;`.
fn fix_references(
    text: &str,
    entities: &DoctypeEntities,
    mut budget: usize,
    repairs: &mut Vec<Repair>,
) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(pos) = rest.find(['&', '<']) {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if rest.starts_with('<') {
            let verbatim_end = if rest.starts_with("<![CDATA[") {
                rest.find("]]>").map(|e| e + 3)
            } else if rest.starts_with("<!--") {
                rest.find("-->").map(|e| e + 3)
            } else {
                Some(1)
            };
            let end = verbatim_end.unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let (replacement, consumed) = fix_one_reference(rest, entities, &mut budget, repairs);
        out.push_str(&replacement);
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    out
}

fn fix_one_reference<'e>(
    at_amp: &str,
    entities: &'e DoctypeEntities,
    budget: &mut usize,
    repairs: &mut Vec<Repair>,
) -> (Cow<'e, str>, usize) {
    let body = &at_amp[1..];
    let name_len = body
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_alphanumeric()
                || (*i == 0 && *c == '#')
                || (*i > 0 && matches!(c, '.' | '-' | '_'))
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    let name = &body[..name_len];
    let terminated = body[name_len..].starts_with(';');
    if terminated && !name.is_empty() {
        if let Some(number) = name.strip_prefix('#') {
            let valid = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => number.parse::<u32>().ok(),
            }
            .and_then(char::from_u32)
            .filter(|c| *c >= ' ' || matches!(c, '\t' | '\n' | '\r'));
            if let Some(c) = valid {
                // XML wants a lower-case `x`; code points 128–159 are
                // windows-1252 bytes written as references (HTML reads them so).
                let c = windows_1252_c1(c).unwrap_or(c);
                return (format!("&#x{:x};", c as u32).into(), name_len + 2);
            }
        } else if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            return (format!("&{name};").into(), name_len + 2);
        } else if let Some(value) = entities.values.get(name) {
            note(repairs, Repair::HtmlEntity);
            if value.len() > *budget {
                note(repairs, Repair::EntityExpansionLimited);
                *budget = 0;
                return (Cow::Borrowed(""), name_len + 2);
            }
            *budget -= value.len();
            return (Cow::Borrowed(value.as_str()), name_len + 2);
        } else if let Some(value) = html4_entity(name).or_else(|| html5_entity(name)) {
            note(repairs, Repair::HtmlEntity);
            return (char_refs(&value).into(), name_len + 2);
        }
    }
    note(repairs, Repair::UnescapedAmpersand);
    (Cow::Borrowed("&amp;"), 1)
}

/// The text an HTML5 named character reference (without `&` and `;`) stands
/// for, from html5ever's copy of the WHATWG table. (quick-xml's
/// `resolve_html5_entity` would do, but its table is wrong for several
/// hundred names in 0.38 and 0.42, e.g. `alpha` gives U+003B.)
fn html5_entity(name: &str) -> Option<String> {
    let (first, second) = *markup5ever::data::NAMED_ENTITIES.get(format!("{name};").as_str())?;
    // (0, 0) marks a prefix of longer names, not an entity.
    let first = char::from_u32(first).filter(|c| *c != '\0')?;
    let mut value = String::from(first);
    value.extend(char::from_u32(second).filter(|c| *c != '\0'));
    Some(value)
}

/// The few entities whose HTML 4 meaning (what feeds were written against)
/// differs from HTML5's.
fn html4_entity(name: &str) -> Option<String> {
    match name {
        "lang" => Some("\u{2329}".into()),
        "rang" => Some("\u{232a}".into()),
        _ => None,
    }
}

fn windows_1252_c1(c: char) -> Option<char> {
    let code = c as u32;
    if !(0x80..0xa0).contains(&code) {
        return None;
    }
    let byte = [code as u8];
    let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
    let c = decoded.chars().next();
    c.filter(|d| *d != '\u{fffd}')
}

fn char_refs(value: &str) -> String {
    value
        .chars()
        .map(|c| format!("&#x{:x};", c as u32))
        .collect()
}

fn escape_text(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;")
}

fn resolve_char_refs(value: &str) -> String {
    let pattern = static_regex!(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);");
    pattern
        .replace_all(value, |c: &regex::Captures| {
            let n = &c[1];
            match n {
                "amp" => return "&".to_string(),
                "lt" => return "<".to_string(),
                "gt" => return ">".to_string(),
                "quot" => return "\"".to_string(),
                "apos" => return "'".to_string(),
                _ => {}
            }
            let n = &n[1..];
            let code = match n.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => n.parse().ok(),
            };
            code.and_then(char::from_u32)
                .map(String::from)
                .unwrap_or_default()
        })
        .into_owned()
}

/// Fixes what the root element says about the format: feed-rs dispatches on
/// the root's name, `version` and namespace.
fn fix_root(text: &str, repairs: &mut Vec<Repair>) -> String {
    let Some((start, end)) = root_start_tag(text) else {
        return text.to_string();
    };
    let tag = &text[start..end];
    let name: String = tag[1..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    let local = name.rsplit(':').next().unwrap_or(&name).to_string();
    if local.eq_ignore_ascii_case("rss") {
        let mut new_tag = tag.to_string();
        let default_ns = static_regex!(r#"\sxmlns\s*=\s*("[^"]*"|'[^']*')"#);
        if default_ns.is_match(&new_tag) {
            new_tag = default_ns.replace(&new_tag, "").into_owned();
            note(repairs, Repair::DefaultNamespaceOnRss);
        }
        let version = static_regex!(r#"\sversion\s*=\s*("([^"]*)"|'([^']*)')"#);
        let current = version
            .captures(&new_tag)
            .and_then(|c| c.get(2).or(c.get(3)))
            .map(|m| m.as_str().trim().to_string());
        let supported = matches!(current.as_deref(), Some("2.0" | "0.91" | "0.92"));
        if !supported {
            new_tag = version.replace(&new_tag, "").into_owned();
            let insert_at = 1 + name.len();
            new_tag.insert_str(insert_at, " version=\"2.0\"");
            note(repairs, Repair::RssVersionNormalised);
        }
        if name != "rss" {
            new_tag = format!("<rss{}", &new_tag[1 + name.len()..]);
        }
        let mut out = String::with_capacity(text.len());
        out.push_str(&text[..start]);
        out.push_str(&new_tag);
        out.push_str(&text[end..]);
        return out;
    }
    if local == "feed" {
        let mut out = text.to_string();
        let default_ns = static_regex!(r#"\sxmlns\s*=\s*(?:"([^"]*)"|'([^']*)')"#);
        let declared = default_ns
            .captures(tag)
            .and_then(|c| c.get(1).or(c.get(2)))
            .map(|m| m.as_str().to_string());
        // Atom before 1.0 went through several namespaces (purl.org/atom,
        // echo, pie, ...); a `feed` root in any of them is Atom 0.3.
        if let Some(ns) = declared.filter(|ns| ns != ATOM_10_NS) {
            note(repairs, Repair::Atom03Upgraded);
            out = out
                .replace(&format!("\"{ns}\""), &format!("\"{ATOM_10_NS}\""))
                .replace(&format!("'{ns}'"), &format!("'{ATOM_10_NS}'"));
            out = upgrade_atom_03(&out);
        } else if text.contains(ATOM_03_NS) {
            note(repairs, Repair::Atom03Upgraded);
            out = upgrade_atom_03(&out.replace(ATOM_03_NS, ATOM_10_NS));
        }
        return normalise_atom_text_constructs(&out, repairs);
    }
    if local == "RDF" && text.contains(RSS_090_NS) {
        note(repairs, Repair::Rss090Upgraded);
        return text.replace(RSS_090_NS, RSS_10_NS);
    }
    text.to_string()
}

/// Atom 0.3 gave text constructs MIME types (`type="text/plain"`) and
/// `mode="base64"`/`"escaped"`; Atom 1.0 readers want `text`/`html`/`xhtml`
/// and plain content.
fn normalise_atom_text_constructs(text: &str, repairs: &mut Vec<Repair>) -> String {
    let start_tag = static_regex!(
        r#"<((?:[A-Za-z_][\w.-]*:)?(?:title|subtitle|tagline|summary|content|rights|copyright|info))(\s[^>]*)>"#
    );
    let type_attr = static_regex!(r#"\stype\s*=\s*(?:"([^"]*)"|'([^']*)')"#);
    let mode_attr = static_regex!(r#"\smode\s*=\s*(?:"([^"]*)"|'([^']*)')"#);
    let mut changed = false;
    let mut base64_elements: Vec<String> = Vec::new();
    let out = start_tag.replace_all(text, |c: &regex::Captures| {
        let mut attrs = c[2].to_string();
        let mode = mode_attr
            .captures(&attrs)
            .and_then(|m| m.get(1).or(m.get(2)))
            .map(|m| m.as_str().to_ascii_lowercase());
        if let Some(t) = type_attr
            .captures(&attrs)
            .and_then(|m| m.get(1).or(m.get(2)))
            .map(|m| m.as_str().to_ascii_lowercase())
        {
            let short = match t.as_str() {
                "text/plain" => Some("text"),
                "text/html" => Some("html"),
                "application/xhtml+xml" => Some(if mode.as_deref() == Some("escaped") {
                    "html"
                } else {
                    "xhtml"
                }),
                _ => None,
            };
            if let Some(short) = short {
                attrs = type_attr
                    .replace(&attrs, format!(" type=\"{short}\"").as_str())
                    .into_owned();
                changed = true;
            } else if t.trim().is_empty() {
                attrs = type_attr.replace(&attrs, "").into_owned();
                changed = true;
            } else if !matches!(t.as_str(), "text" | "html" | "xhtml")
                && !t.starts_with("text/")
                && !t.ends_with("xml")
            {
                // Atom 1.0: any other media type is base64-encoded content.
                attrs = type_attr.replace(&attrs, " type=\"html\"").into_owned();
                attrs.push_str(" mode=\"base64\"");
                base64_elements.push(c[1].to_string());
                changed = true;
            }
        }
        if mode.as_deref() == Some("base64") && !attrs.contains(" mode=\"base64\"") {
            base64_elements.push(c[1].to_string());
            attrs = mode_attr.replace(&attrs, " mode=\"base64\"").into_owned();
        } else if mode.as_deref() == Some("base64") {
            base64_elements.push(c[1].to_string());
        }
        format!("<{}{}>", &c[1], attrs)
    });
    if changed {
        note(repairs, Repair::AtomTypeNormalised);
    }
    if base64_elements.is_empty() {
        return out.into_owned();
    }
    decode_base64_elements(&out, repairs)
}

/// Replaces the text of `mode="base64"` elements by the decoded text.
fn decode_base64_elements(text: &str, repairs: &mut Vec<Repair>) -> String {
    use base64::Engine;
    let base64_element = static_regex!(
        r#"(?s)<([A-Za-z_][\w.:-]*)([^>]*?)\s+mode="base64"([^>]*)>([^<]*)</([A-Za-z_][\w.:-]*)>"#
    );
    base64_element
        .replace_all(text, |c: &regex::Captures| {
            if c[1] != c[5] {
                return c[0].to_string();
            }
            let raw: String = c[4].split_whitespace().collect();
            match base64::engine::general_purpose::STANDARD.decode(raw.as_bytes()) {
                Ok(bytes) => {
                    note(repairs, Repair::Base64Decoded);
                    let decoded = String::from_utf8_lossy(&bytes);
                    format!(
                        "<{}{}{}>{}</{}>",
                        &c[1],
                        &c[2],
                        &c[3],
                        escape_text(&decoded).replace('>', "&gt;"),
                        &c[1]
                    )
                }
                Err(_) => c[0].to_string(),
            }
        })
        .into_owned()
}

/// Atom 0.3 differs from 1.0 mostly in its namespace and a few names.
fn upgrade_atom_03(text: &str) -> String {
    let renamed =
        static_regex!(r"<(/?)((?:[A-Za-z_][\w.-]*:)?)(tagline|modified|issued|copyright)([\s>/])");
    renamed
        .replace_all(text, |c: &regex::Captures| {
            let new = match &c[3] {
                "tagline" => "subtitle",
                "modified" => "updated",
                "issued" => "published",
                _ => "rights",
            };
            format!("<{}{}{}{}", &c[1], &c[2], new, &c[4])
        })
        .into_owned()
}

/// Byte range of the root element's start tag.
fn root_start_tag(text: &str) -> Option<(usize, usize)> {
    let mut pos = 0;
    while let Some(offset) = text[pos..].find('<') {
        let start = pos + offset;
        let rest = &text[start..];
        if rest.starts_with("<?") {
            pos = start + rest.find("?>")? + 2;
        } else if rest.starts_with("<!--") {
            pos = start + rest.find("-->")? + 3;
        } else if rest.starts_with("<!") {
            pos = start + rest.find('>')? + 1;
        } else {
            let end = start + tag_end(rest)?;
            return Some((start, end));
        }
    }
    None
}

/// Index just past the `>` closing a tag, skipping `>` inside quoted values.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_before_declaration_is_dropped() {
        let repaired = repair_feed_text("\n\n  <?xml version=\"1.0\"?><rss version=\"2.0\"/>");
        assert!(repaired.repairs.contains(&Repair::TextBeforeDeclaration));
        assert!(repaired.text.starts_with("<?xml"));
    }

    #[test]
    fn bare_ampersands_and_html_entities_are_fixed() {
        let repaired = repair_feed_text(
            "<rss version=\"2.0\"><t>AT&T &nbsp;&eacute; &amp; &#233; &#X41; &#146; <![CDATA[a & b]]></t></rss>",
        );
        assert!(
            repaired
                .text
                .contains("AT&amp;T &#xa0;&#xe9; &amp; &#xe9; &#x41; &#x2019; <![CDATA[a & b]]>"),
            "{}",
            repaired.text
        );
    }

    #[test]
    fn c1_controls_are_read_as_windows_1252() {
        let repaired = repair_feed_text("<rss version=\"2.0\"><t>don\u{92}t</t></rss>");
        assert!(repaired.text.contains("don\u{2019}t"), "{}", repaired.text);
    }

    #[test]
    fn default_namespace_on_rss_is_removed() {
        let repaired = repair_feed_text(
            "<rss xmlns=\"http://backend.userland.com/rss2\" version=\"2.0\"><channel/></rss>",
        );
        assert!(
            repaired.text.contains("<rss version=\"2.0\"><channel/>"),
            "{}",
            repaired.text
        );
    }

    #[test]
    fn atom_03_is_upgraded() {
        let repaired = repair_feed_text("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline>x</tagline><entry><modified>2004</modified></entry></feed>");
        assert!(repaired.text.contains("<subtitle>x</subtitle>"));
        assert!(repaired.text.contains("<updated>2004</updated>"));
        assert!(repaired.text.contains(ATOM_10_NS));
    }

    #[test]
    fn doctype_entities_are_expanded() {
        let repaired = repair_feed_text("<!DOCTYPE rss [<!ENTITY pub \"Acme &amp; Co\">]><rss version=\"2.0\"><t>&pub;</t></rss>");
        assert!(
            repaired.text.contains("<t>Acme &amp; Co</t>"),
            "{}",
            repaired.text
        );
    }
}

#[cfg(test)]
mod hostile_tests {
    use super::*;

    #[test]
    fn entity_expansion_is_bounded_by_the_budget() {
        // One 500 KB entity used 20,000 times: ~10 GB if expanded in full.
        let value = "x".repeat(500_000);
        let uses = "<p>&big;</p>".repeat(20_000);
        let input = format!(
            "<!DOCTYPE rss [<!ENTITY big \"{value}\">]><rss version=\"2.0\"><channel>{uses}</channel></rss>"
        );
        let repaired = repair_feed_text(&input);
        assert!(
            repaired.text.len() <= input.len() * (1 + ENTITY_EXPANSION_FACTOR) + 64 * 1024,
            "{} bytes from {}",
            repaired.text.len(),
            input.len()
        );
        assert!(repaired.repairs.contains(&Repair::EntityExpansionLimited));
        // Expansion happened up to the budget, each value cut to the cap.
        assert!(repaired.text.contains(&"x".repeat(MAX_ENTITY_VALUE_BYTES)));
        assert!(!repaired
            .text
            .contains(&"x".repeat(MAX_ENTITY_VALUE_BYTES + 1)));
    }

    #[test]
    fn many_small_entities_within_the_budget_all_expand() {
        let uses = "&e;".repeat(10_000);
        let input =
            format!("<!DOCTYPE rss [<!ENTITY e \"ab\">]><rss version=\"2.0\"><t>{uses}</t></rss>");
        let repaired = repair_feed_text(&input);
        assert!(repaired.text.contains(&"ab".repeat(10_000)));
        assert!(!repaired.repairs.contains(&Repair::EntityExpansionLimited));
        // Reported once, not once per reference.
        assert_eq!(
            repaired
                .repairs
                .iter()
                .filter(|r| **r == Repair::HtmlEntity)
                .count(),
            1
        );
    }

    #[test]
    fn external_and_parameter_entities_are_never_expanded() {
        let input = "<!DOCTYPE rss [<!ENTITY ext SYSTEM \"file:///etc/passwd\"><!ENTITY pub PUBLIC \"-//x\" \"http://169.254.169.254/\"><!ENTITY % p SYSTEM \"http://169.254.169.254/dtd\"> %p;]><rss version=\"2.0\"><t>&ext;&pub;&p;</t></rss>";
        let repaired = repair_feed_text(input);
        assert!(
            repaired.text.contains("<t>&amp;ext;&amp;pub;&amp;p;</t>"),
            "{}",
            repaired.text
        );
    }

    #[test]
    fn entities_do_not_nest() {
        // Billion laughs: each entity names the previous one ten times.
        let mut decls = String::from("<!ENTITY l0 \"lol\">");
        for i in 1..10 {
            let prev = format!("&l{};", i - 1).repeat(10);
            decls.push_str(&format!("<!ENTITY l{i} \"{prev}\">"));
        }
        let input = format!("<!DOCTYPE rss [{decls}]><rss version=\"2.0\"><t>&l9;</t></rss>");
        let repaired = repair_feed_text(&input);
        assert!(
            repaired.text.len() < input.len() * 2,
            "{}",
            repaired.text.len()
        );
    }

    #[test]
    fn html5_entities_come_from_the_whatwg_table() {
        let repaired = repair_feed_text("<rss version=\"2.0\"><t>&hellip;&NotElement;&zwnj;&lang;&alpha;&Afr;&NotSubset;&amp</t></rss>");
        assert!(
            repaired.text.contains(
                "<t>&#x2026;&#x2209;&#x200c;&#x2329;&#x3b1;&#x1d504;&#x2282;&#x20d2;&amp;amp</t>"
            ),
            "{}",
            repaired.text
        );
    }
}
