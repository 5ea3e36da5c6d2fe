//! Turns a feed's bytes into UTF-8 text with the charset policy the cleaner
//! uses for pages (`newsflow_charset`): byte-order mark, HTTP
//! `Content-Type`, the XML declaration, UTF-8 if valid, detection last; a
//! declared charset the bytes plainly are not in is corrected.

use newsflow_charset::{DocumentKind, Source};
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

impl From<Source> for CharsetSource {
    fn from(source: Source) -> Self {
        match source {
            Source::HttpHeader => CharsetSource::HttpHeader,
            Source::ByteOrderMark => CharsetSource::ByteOrderMark,
            Source::InDocument => CharsetSource::XmlDeclaration,
            Source::DefaultUtf8 => CharsetSource::DefaultUtf8,
            Source::Detected => CharsetSource::Detected,
        }
    }
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

/// Picks the charset, decodes, and returns UTF-8 text without a BOM.
pub fn decode_feed_bytes(bytes: &[u8], content_type: Option<&str>) -> DecodedText {
    let decoded = newsflow_charset::decode(bytes, content_type, DocumentKind::Xml);
    DecodedText {
        text: decoded.text.into_owned(),
        encoding_name: decoded.encoding_name.to_string(),
        source: decoded.source.into(),
        had_errors: decoded.had_errors,
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
    fn a_feed_declared_latin1_in_utf8_is_read_as_utf8() {
        let feed =
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><title>Zürich café</title></rss>";
        let decoded = decode_feed_bytes(
            feed.as_bytes(),
            Some("application/rss+xml; charset=iso-8859-1"),
        );
        assert_eq!(decoded.source, CharsetSource::HttpHeader);
        assert_eq!(decoded.encoding_name, "UTF-8");
        assert!(decoded.text.contains("Zürich café"));
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
