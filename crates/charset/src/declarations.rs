//! Reading the charset a header or a document declares.

use encoding_rs::Encoding;

/// How far into a page `<meta charset>` is looked for. The HTML standard
/// says 1024 bytes; real pages put long `<head>` preambles first.
pub(crate) const DECLARATION_SCAN_BYTES: usize = 4096;

/// A feed's XML declaration comes first; junk before it is tolerated within
/// this many bytes.
const XML_DECLARATION_SCAN_BYTES: usize = 512;

/// The raw `charset` parameter of a Content-Type value, unquoted.
pub(crate) fn charset_label(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
    })
}

/// The `charset` parameter of a Content-Type value, if it names a known charset.
pub fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    Encoding::for_label(charset_label(content_type)?.as_bytes())
}

/// The first position of `needle` in `haystack`, ASCII case ignored.
pub(crate) fn find_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// The label after `name`, `=` and an optional quote, up to the closing quote
/// or a delimiter.
fn value_after<'a>(text: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let at = find_ignore_ascii_case(text, name)?;
    let rest = &text[at + name.len()..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let rest = rest.strip_prefix(b"=")?;
    let start = rest
        .iter()
        .position(|b| !(b.is_ascii_whitespace() || matches!(b, b'"' | b'\'')))?;
    let rest = &rest[start..];
    let end = rest
        .iter()
        .position(|b| {
            b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b';' | b'/' | b'>' | b'?')
        })
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The `encoding` pseudo-attribute of a leading XML declaration.
pub fn xml_declaration_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(XML_DECLARATION_SCAN_BYTES)];
    let start = find_ignore_ascii_case(head, b"<?xml")?;
    let end = start + find_ignore_ascii_case(&head[start..], b"?>")?;
    Encoding::for_label(value_after(&head[start..end], b"encoding")?)
}

/// `<meta charset=X>` or `<meta http-equiv=Content-Type content="...; charset=X">`.
pub fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let mut from = 0;
    while let Some(at) = find_ignore_ascii_case(&head[from..], b"<meta") {
        let start = from + at;
        let end = head[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(head.len(), |e| start + e);
        if let Some(encoding) =
            value_after(&head[start..end], b"charset").and_then(Encoding::for_label)
        {
            return Some(encoding);
        }
        from = end.max(start + 1);
    }
    None
}
