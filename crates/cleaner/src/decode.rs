//! From page bytes to text: decide whether the bytes are HTML at all, then
//! decode them with the charset policy the fetcher uses for feeds
//! (`newsflow_charset`: byte-order mark, HTTP `Content-Type`, `<meta
//! charset>`, detection last, and a declared charset the bytes plainly are
//! not in corrected).

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};
use newsflow_charset::DocumentKind;

use crate::CleanError;

/// Bytes sampled for the binary-content check.
const SNIFF_BYTES: usize = 64 * 1024;

/// The page as text, or why it is not an HTML page.
pub fn decode_html<'a>(
    bytes: &'a [u8],
    content_type: Option<&str>,
) -> Result<Cow<'a, str>, CleanError> {
    check_is_html(bytes, content_type)?;
    Ok(newsflow_charset::decode(bytes, content_type, DocumentKind::Html).text)
}

fn check_is_html(bytes: &[u8], content_type: Option<&str>) -> Result<(), CleanError> {
    let mime = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let declared_html = matches!(mime.as_str(), "text/html" | "application/xhtml+xml");
    let declared_other = !mime.is_empty()
        && !declared_html
        // Servers label HTML with generic types often enough to look anyway.
        && !matches!(mime.as_str(), "application/octet-stream" | "text/plain" | "binary/octet-stream");
    let not_html = |why: &str| CleanError::NotHtml {
        content_type: content_type
            .map(str::to_string)
            .unwrap_or_else(|| why.to_string()),
    };
    if declared_other {
        return Err(not_html(""));
    }
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if looks_binary(head) {
        return Err(not_html("binary content"));
    }
    if !declared_html && !has_html_markup(head) {
        return Err(not_html("no HTML markup"));
    }
    Ok(())
}

/// Magic numbers of common non-HTML payloads, and NUL bytes (which text in an
/// ASCII-compatible encoding never has; UTF-16 pages carry a BOM).
fn looks_binary(head: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"%PDF",
        b"\x89PNG",
        b"\xFF\xD8\xFF",
        b"GIF8",
        b"PK\x03\x04",
        b"\x1F\x8B",
        b"RIFF",
    ];
    if Encoding::for_bom(head).is_some_and(|(e, _)| e != UTF_8) {
        return false;
    }
    MAGIC.iter().any(|m| head.starts_with(m)) || head.iter().take(1024).any(|&b| b == 0)
}

fn has_html_markup(head: &[u8]) -> bool {
    const TAGS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<body",
        b"<p>",
        b"<div",
        b"<article",
        b"<title",
    ];
    head.iter()
        .enumerate()
        .filter(|(_, &b)| b == b'<')
        .any(|(at, _)| {
            TAGS.iter().any(|tag| {
                head.get(at..at + tag.len())
                    .is_some_and(|s| s.eq_ignore_ascii_case(tag))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html_in(encoding: &'static Encoding, body: &str) -> Vec<u8> {
        encoding.encode(body).0.into_owned()
    }

    #[test]
    fn http_charset_wins_over_detection() {
        let bytes = html_in(
            encoding_rs::WINDOWS_1252,
            "<html><body><p>caf\u{e9}</p></body></html>",
        );
        let text = decode_html(&bytes, Some("text/html; charset=windows-1252")).unwrap();
        assert!(text.contains("café"));
    }

    #[test]
    fn meta_charset_is_read_when_header_has_none() {
        let page = "<html><head><meta charset=\"iso-8859-2\"></head><body><p>\u{142}\u{f3}d\u{17a}</p></body></html>";
        let bytes = html_in(encoding_rs::ISO_8859_2, page);
        let text = decode_html(&bytes, Some("text/html")).unwrap();
        assert!(text.contains("łódź"), "{text}");
    }

    #[test]
    fn http_equiv_meta_is_read() {
        let page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"></head><body><p>\u{41f}\u{440}\u{438}\u{432}\u{435}\u{442}</p></body></html>";
        let bytes = html_in(encoding_rs::KOI8_R, page);
        assert!(decode_html(&bytes, None).unwrap().contains("Привет"));
    }

    #[test]
    fn utf8_declared_as_latin1_is_read_as_utf8() {
        let bytes = "<html><body><p>Zürich café</p></body></html>".as_bytes();
        let text = decode_html(bytes, Some("text/html; charset=iso-8859-1")).unwrap();
        assert!(text.contains("Zürich café"));
    }

    #[test]
    fn latin1_declared_as_utf8_is_detected() {
        let page = "<html><body><p>Les élèves étaient à l'école, très contents de déjeuner à côté.</p></body></html>";
        let bytes = html_in(encoding_rs::WINDOWS_1252, page);
        let text = decode_html(&bytes, Some("text/html; charset=utf-8")).unwrap();
        assert!(text.contains("élèves étaient à l'école"), "{text}");
    }

    #[test]
    fn missing_charset_is_detected() {
        let page =
            "<html><body><p>Привет, как дела? Сегодня хорошая погода в Москве.</p></body></html>";
        let bytes = html_in(encoding_rs::WINDOWS_1251, page);
        assert!(decode_html(&bytes, None)
            .unwrap()
            .contains("Привет, как дела"));
    }

    #[test]
    fn bom_overrides_declarations() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<html><body><p>naïve</p></body></html>".as_bytes());
        let text = decode_html(&bytes, Some("text/html; charset=windows-1252")).unwrap();
        assert!(text.contains("naïve") && !text.starts_with('\u{feff}'));
    }

    #[test]
    fn non_html_payloads_are_refused() {
        assert!(matches!(
            decode_html(b"%PDF-1.7 ...", None),
            Err(CleanError::NotHtml { .. })
        ));
        assert!(matches!(
            decode_html(b"{\"a\": 1}", Some("application/json")),
            Err(CleanError::NotHtml { .. })
        ));
        assert!(matches!(
            decode_html(b"just some words", None),
            Err(CleanError::NotHtml { .. })
        ));
        assert!(matches!(
            decode_html(b"\x89PNG\r\n\x1a\n\0\0\0", Some("text/html")),
            Err(CleanError::NotHtml { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut bytes = b"<html><body><p>ok ".to_vec();
        bytes.extend_from_slice(&[0xFF, 0xFE, 0xC3]);
        bytes.extend_from_slice(b" still ok</p></body></html>");
        let text = decode_html(&bytes, Some("text/html; charset=utf-8")).unwrap();
        assert!(text.contains("ok") && text.contains("still ok"));
    }
}
