//! Bytes to text, for feeds (the fetcher) and pages (the cleaner), with one
//! policy. In falling order of trust:
//!
//! 1. a byte-order mark (UTF-8, UTF-16, UTF-32), or UTF-16/32 recognisable
//!    from a leading `<` spread over two or four bytes;
//! 2. the HTTP `Content-Type` charset;
//! 3. the document's own declaration: the XML declaration of a feed, the
//!    `<meta charset>` / `http-equiv` of a page;
//! 4. UTF-8 when the bytes are valid UTF-8;
//! 5. statistical detection.
//!
//! A declared charset (2 or 3) that the bytes plainly contradict is
//! corrected: declared UTF-8 but not valid UTF-8 is detected instead, and a
//! legacy single-byte charset over bytes that are valid, non-ASCII UTF-8 is
//! UTF-8 (the usual mislabelling: a template that says ISO-8859-1 on a
//! UTF-8 site). A BOM is never second-guessed.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

mod declarations;

pub use declarations::{charset_from_content_type, meta_charset, xml_declaration_charset};

/// Bytes sampled for correction and detection: enough for any page's
/// character statistics, and a bound on the cost of a huge page.
const SNIFF_BYTES: usize = 64 * 1024;

/// Which in-document declaration the bytes may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A feed: `<?xml ... encoding="..."?>`.
    Xml,
    /// A web page: `<meta charset>` or `<meta http-equiv=Content-Type>`.
    Html,
}

/// Where the charset used for decoding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ByteOrderMark,
    HttpHeader,
    /// The XML declaration or the `<meta>` charset.
    InDocument,
    /// Nothing declared and the bytes are valid UTF-8.
    DefaultUtf8,
    Detected,
}

#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    /// The text, without a byte-order mark.
    pub text: Cow<'a, str>,
    /// The charset's name (WHATWG spelling, or `UTF-32BE`/`UTF-32LE`).
    pub encoding_name: &'static str,
    pub source: Source,
    /// The declared charset was overruled by the bytes.
    pub corrected: bool,
    /// Some bytes did not fit the chosen charset and became U+FFFD.
    pub had_errors: bool,
}

/// Decodes `bytes` by the policy above.
pub fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>, kind: DocumentKind) -> Decoded<'a> {
    if let Some((big_endian, source)) = utf32(bytes, content_type) {
        let (text, had_errors) = decode_utf32(bytes, big_endian);
        return Decoded {
            text: Cow::Owned(text),
            encoding_name: if big_endian { "UTF-32BE" } else { "UTF-32LE" },
            source,
            corrected: false,
            had_errors,
        };
    }
    let (encoding, source, corrected, skip) = choose(bytes, content_type, kind);
    // GB18030 is a superset of GBK/GB2312: decoding with it loses nothing.
    let encoding = if encoding == encoding_rs::GBK {
        encoding_rs::GB18030
    } else {
        encoding
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[skip..]);
    // A stray BOM of another encoding than the one chosen.
    let text = match text {
        Cow::Borrowed(t) => Cow::Borrowed(t.trim_start_matches('\u{feff}')),
        Cow::Owned(t) if t.starts_with('\u{feff}') => {
            Cow::Owned(t.trim_start_matches('\u{feff}').to_string())
        }
        owned => owned,
    };
    Decoded {
        text,
        encoding_name: encoding.name(),
        source,
        corrected,
        had_errors,
    }
}

/// The encoding, where it came from, whether it was corrected, and how many
/// leading bytes (a BOM) to skip.
fn choose(
    bytes: &[u8],
    content_type: Option<&str>,
    kind: DocumentKind,
) -> (&'static Encoding, Source, bool, usize) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return (encoding, Source::ByteOrderMark, false, bom_len);
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        return (encoding, Source::ByteOrderMark, false, 0);
    }
    let header = content_type.and_then(charset_from_content_type);
    let declared = header.map(|e| (e, Source::HttpHeader)).or_else(|| {
        let head = &bytes[..bytes.len().min(declarations::DECLARATION_SCAN_BYTES)];
        match kind {
            DocumentKind::Xml => xml_declaration_charset(head),
            DocumentKind::Html => meta_charset(head),
        }
        .map(|e| (e, Source::InDocument))
    });
    if let Some((declared, source)) = declared {
        let corrected = correct_declared(declared, bytes);
        return (
            corrected,
            source,
            corrected != declared.output_encoding(),
            0,
        );
    }
    let sample = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if utf8_error_share(sample) == 0.0 {
        return (UTF_8, Source::DefaultUtf8, false, 0);
    }
    (detect(bytes), Source::Detected, false, 0)
}

/// The declared charset unless the bytes contradict it (see the crate docs).
/// A document that reached us in an ASCII-compatible stream is not UTF-16:
/// a UTF-16 declaration there means "Unicode", read as UTF-8.
fn correct_declared(declared: &'static Encoding, bytes: &[u8]) -> &'static Encoding {
    let declared = if declared == UTF_16LE || declared == UTF_16BE {
        UTF_8
    } else {
        declared.output_encoding()
    };
    let sample = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if declared == UTF_8 {
        // A few stray bytes do not make a page Latin-1; a share of them does.
        if utf8_error_share(sample) > 0.001 {
            return detect(bytes);
        }
        return UTF_8;
    }
    if declared.is_single_byte() && !sample.is_ascii() && utf8_error_share(sample) == 0.0 {
        return UTF_8;
    }
    declared
}

/// Share of the sample's bytes that start an invalid UTF-8 sequence, not
/// counting a sequence cut at the sample's end.
fn utf8_error_share(sample: &[u8]) -> f64 {
    let mut errors = 0usize;
    let mut rest = sample;
    while let Err(e) = std::str::from_utf8(rest) {
        match e.error_len() {
            Some(len) => {
                errors += 1;
                rest = &rest[e.valid_up_to() + len..];
            }
            None => break,
        }
    }
    errors as f64 / sample.len().max(1) as f64
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    let sample = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(sample, sample.len() == bytes.len());
    detector.guess(None, true)
}

/// UTF-16 without a BOM still begins with `<` and a zero byte.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [b'<', 0, b'?' | b'r' | b'f' | b'R' | b'!' | b'h' | b'H', 0, ..] => Some(UTF_16LE),
        [0, b'<', 0, b'?' | b'r' | b'f' | b'R' | b'!' | b'h' | b'H', ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// UTF-32 (which encoding_rs does not cover): by BOM, by a `<` spread over
/// four bytes, or by the header. Returns big-endian-ness and the source.
fn utf32(bytes: &[u8], content_type: Option<&str>) -> Option<(bool, Source)> {
    let sniffed = match bytes {
        [0, 0, 0xfe, 0xff, ..] | [0, 0, 0, b'<', ..] => Some(true),
        [0xff, 0xfe, 0, 0, ..] | [b'<', 0, 0, 0, ..] => Some(false),
        _ => None,
    };
    if let Some(big_endian) = sniffed {
        return Some((big_endian, Source::ByteOrderMark));
    }
    let label = declarations::charset_label(content_type?)?.to_ascii_lowercase();
    label
        .starts_with("utf-32")
        .then_some((label != "utf-32le", Source::HttpHeader))
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

#[cfg(test)]
mod tests;
