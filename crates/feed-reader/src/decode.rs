//! Turns a feed's bytes into UTF-8 text. The charset is taken, in falling
//! order of trust, from the HTTP `Content-Type`, a byte-order mark, the XML
//! declaration, and finally statistical detection — the order lenient feed
//! readers use, because servers lie less often than feed templates do.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};
use serde::Serialize;

/// Where the charset used for decoding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CharsetSource {
    HttpHeader,
    ByteOrderMark,
    XmlDeclaration,
    /// No declaration anywhere and the bytes are valid UTF-8.
    DefaultUtf8,
    Detected,
}

#[derive(Debug, Clone)]
pub struct DecodedText {
    pub text: String,
    /// The charset's name (WHATWG spelling, or `UTF-32BE`/`UTF-32LE`).
    pub encoding_name: String,
    pub source: CharsetSource,
    /// Some bytes did not fit the chosen charset and became U+FFFD.
    pub had_errors: bool,
}

/// The `charset` parameter of a Content-Type header, if it names a known charset.
pub fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        Encoding::for_label(
            value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .as_bytes(),
        )
    })
}

/// The `encoding` pseudo-attribute of a leading XML declaration. Only an
/// ASCII-compatible declaration can be read here; UTF-16 ones come with a BOM.
pub fn charset_from_xml_declaration(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(512)];
    let start = find(head, b"<?xml")?;
    // Only whitespace (or nothing) may stand before a real declaration, but
    // feeds often have junk there; accept any prefix within the head.
    let end = start + find(&head[start..], b"?>")?;
    let decl = &head[start..end];
    let pos = find(decl, b"encoding")?;
    let rest = &decl[pos + b"encoding".len()..];
    let rest = rest
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == b'=')
        .copied()
        .collect::<Vec<u8>>();
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value_end = rest[1..].iter().position(|b| *b == quote)?;
    let label = &rest[1..1 + value_end];
    let encoding = Encoding::for_label(label)?;
    // A document whose declaration we could read as ASCII is not UTF-16.
    if encoding == UTF_16LE || encoding == UTF_16BE {
        return Some(UTF_8);
    }
    Some(encoding)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Picks the charset, decodes, and returns UTF-8 text without a BOM.
pub fn decode_feed_bytes(bytes: &[u8], content_type: Option<&str>) -> DecodedText {
    if let Some((big_endian, source)) = utf32(bytes, content_type) {
        let (text, had_errors) = decode_utf32(bytes, big_endian);
        let encoding_name = if big_endian { "UTF-32BE" } else { "UTF-32LE" }.to_string();
        return DecodedText {
            text,
            encoding_name,
            source,
            had_errors,
        };
    }
    let (encoding, source) = choose_encoding(bytes, content_type);
    // GB18030 is a superset of GBK/GB2312: decoding with it loses nothing.
    let encoding = if encoding == encoding_rs::GBK {
        encoding_rs::GB18030
    } else {
        encoding
    };
    let (text, _, had_errors) = encoding.decode(bytes);
    // decode() strips a BOM of the encoding it sniffed; strip a stray one too.
    let text = text.trim_start_matches('\u{feff}').to_string();
    DecodedText {
        text,
        encoding_name: encoding.name().to_string(),
        source,
        had_errors,
    }
}

/// UTF-32 (which encoding_rs does not cover): by header, BOM, or a `<`
/// spread over four bytes.
fn utf32(bytes: &[u8], content_type: Option<&str>) -> Option<(bool, CharsetSource)> {
    let declared = content_type.and_then(|ct| {
        ct.split(';').skip(1).find_map(|p| {
            let (name, value) = p.split_once('=')?;
            let value = value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_ascii_lowercase();
            (name.trim().eq_ignore_ascii_case("charset") && value.starts_with("utf-32"))
                .then_some(value)
        })
    });
    let sniffed = match bytes {
        [0, 0, 0xfe, 0xff, ..] => Some((true, CharsetSource::ByteOrderMark)),
        [0xff, 0xfe, 0, 0, ..] => Some((false, CharsetSource::ByteOrderMark)),
        [0, 0, 0, b'<', ..] => Some((true, CharsetSource::ByteOrderMark)),
        [b'<', 0, 0, 0, ..] => Some((false, CharsetSource::ByteOrderMark)),
        _ => None,
    };
    match (declared, sniffed) {
        (Some(_), Some((big_endian, _))) => Some((big_endian, CharsetSource::HttpHeader)),
        (Some(label), None) => Some((label != "utf-32le", CharsetSource::HttpHeader)),
        (None, sniffed) => sniffed,
    }
}

fn decode_utf32(bytes: &[u8], big_endian: bool) -> (String, bool) {
    let mut had_errors = false;
    let text: String = bytes
        .chunks(4)
        .filter_map(|unit| {
            let array: [u8; 4] = unit.try_into().ok()?;
            let code = if big_endian {
                u32::from_be_bytes(array)
            } else {
                u32::from_le_bytes(array)
            };
            Some(char::from_u32(code).unwrap_or_else(|| {
                had_errors = true;
                '\u{fffd}'
            }))
        })
        .collect();
    (text.trim_start_matches('\u{feff}').to_string(), had_errors)
}

fn choose_encoding(bytes: &[u8], content_type: Option<&str>) -> (&'static Encoding, CharsetSource) {
    if let Some(encoding) = content_type.and_then(charset_from_content_type) {
        return (
            http_charset_fixup(encoding, bytes),
            CharsetSource::HttpHeader,
        );
    }
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return (encoding, CharsetSource::ByteOrderMark);
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        return (encoding, CharsetSource::ByteOrderMark);
    }
    if let Some(encoding) = charset_from_xml_declaration(bytes) {
        return (encoding, CharsetSource::XmlDeclaration);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (UTF_8, CharsetSource::DefaultUtf8);
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    (detector.guess(None, true), CharsetSource::Detected)
}

/// A server that says UTF-16 for a document that starts with an ASCII `<`
/// means "Unicode"; the bytes say which.
fn http_charset_fixup(encoding: &'static Encoding, bytes: &[u8]) -> &'static Encoding {
    if encoding == UTF_16LE || encoding == UTF_16BE {
        if let Some((bom_encoding, _)) = Encoding::for_bom(bytes) {
            return bom_encoding;
        }
        if let Some(sniffed) = utf16_without_bom(bytes) {
            return sniffed;
        }
        return UTF_8;
    }
    encoding
}

/// UTF-16 without a BOM still begins with `<` and a zero byte.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [b'<', 0, b'?' | b'r' | b'f' | b'R', 0, ..] => Some(UTF_16LE),
        [0, b'<', 0, b'?' | b'r' | b'f' | b'R', ..] => Some(UTF_16BE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_charset_wins_over_declaration() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><t>\xe9</t></rss>";
        let decoded = decode_feed_bytes(bytes, Some("application/rss+xml; charset=ISO-8859-1"));
        assert_eq!(decoded.source, CharsetSource::HttpHeader);
        assert!(decoded.text.contains("<t>é</t>"));
    }

    #[test]
    fn declaration_is_used_without_header() {
        let bytes = b"<?xml version='1.0' encoding='windows-1251'?><rss><t>\xcf\xf0\xe8</t></rss>";
        let decoded = decode_feed_bytes(bytes, Some("text/xml"));
        assert_eq!(decoded.source, CharsetSource::XmlDeclaration);
        assert!(decoded.text.contains("При"));
    }

    #[test]
    fn bom_is_trusted_and_stripped() {
        let mut bytes = vec![0xff, 0xfe];
        for unit in "<rss/>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let decoded = decode_feed_bytes(&bytes, None);
        assert_eq!(decoded.source, CharsetSource::ByteOrderMark);
        assert_eq!(decoded.text, "<rss/>");
    }

    #[test]
    fn undeclared_latin1_is_detected() {
        let text = "<rss><channel><title>Notícias do Brasil: eleição, economia, saúde e educação</title></channel></rss>";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let decoded = decode_feed_bytes(&bytes, None);
        assert_eq!(decoded.source, CharsetSource::Detected);
        assert_eq!(decoded.text, text);
    }

    #[test]
    fn utf32_without_bom_is_recognised() {
        let bytes: Vec<u8> = "<rss/>"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        let decoded = decode_feed_bytes(&bytes, None);
        assert_eq!(
            (decoded.text.as_str(), decoded.encoding_name.as_str()),
            ("<rss/>", "UTF-32BE")
        );
    }
}
