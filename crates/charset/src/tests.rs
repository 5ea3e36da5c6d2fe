use super::*;

fn encoded(encoding: &'static Encoding, text: &str) -> Vec<u8> {
    encoding.encode(text).0.into_owned()
}

#[test]
fn the_header_is_trusted_when_the_bytes_agree() {
    let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><t>\xe9</t></rss>";
    let decoded = decode(
        bytes,
        Some("application/rss+xml; charset=ISO-8859-1"),
        DocumentKind::Xml,
    );
    assert_eq!(decoded.source, Source::HttpHeader);
    assert!(decoded.text.contains("<t>é</t>"));
    assert!(!decoded.corrected);
}

#[test]
fn in_document_declarations_are_read_per_kind() {
    let feed = b"<?xml version='1.0' encoding='windows-1251'?><rss><t>\xcf\xf0\xe8</t></rss>";
    let decoded = decode(feed, Some("text/xml"), DocumentKind::Xml);
    assert_eq!(decoded.source, Source::InDocument);
    assert!(decoded.text.contains("При"));
    let page = encoded(
        encoding_rs::ISO_8859_2,
        "<html><head><meta charset=\"iso-8859-2\"></head><body><p>łódź</p></body></html>",
    );
    let decoded = decode(&page, Some("text/html"), DocumentKind::Html);
    assert_eq!(decoded.source, Source::InDocument);
    assert!(decoded.text.contains("łódź"));
    let page = encoded(
        encoding_rs::KOI8_R,
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"></head><body><p>Привет</p></body></html>",
    );
    assert!(decode(&page, None, DocumentKind::Html)
        .text
        .contains("Привет"));
}

#[test]
fn utf8_mislabelled_as_latin1_is_read_as_utf8_for_pages_and_feeds() {
    let page = "<html><body><p>Zürich café</p></body></html>";
    let decoded = decode(
        page.as_bytes(),
        Some("text/html; charset=iso-8859-1"),
        DocumentKind::Html,
    );
    assert!(decoded.text.contains("Zürich café") && decoded.corrected);
    let feed =
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><title>Zürich café</title></rss>";
    let decoded = decode(feed.as_bytes(), None, DocumentKind::Xml);
    assert!(decoded.text.contains("Zürich café") && decoded.corrected);
    let decoded = decode(
        feed.as_bytes(),
        Some("application/rss+xml; charset=windows-1252"),
        DocumentKind::Xml,
    );
    assert!(decoded.text.contains("Zürich café"));
}

#[test]
fn latin1_mislabelled_as_utf8_is_detected() {
    let text = "<html><body><p>Les élèves étaient à l'école, très contents de déjeuner à côté.</p></body></html>";
    let bytes = encoded(encoding_rs::WINDOWS_1252, text);
    let decoded = decode(&bytes, Some("text/html; charset=utf-8"), DocumentKind::Html);
    assert!(decoded.text.contains("élèves étaient à l'école") && decoded.corrected);
    let feed = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><title>Notícias do Brasil: eleição, economia, saúde e educação</title></rss>";
    let bytes = encoded(encoding_rs::WINDOWS_1252, feed);
    let decoded = decode(&bytes, None, DocumentKind::Xml);
    assert!(
        decoded.text.contains("eleição, economia, saúde e educação"),
        "{}",
        decoded.text
    );
}

#[test]
fn a_byte_order_mark_wins_and_is_stripped() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice("<html><body><p>naïve</p></body></html>".as_bytes());
    let decoded = decode(
        &bytes,
        Some("text/html; charset=windows-1252"),
        DocumentKind::Html,
    );
    assert_eq!(decoded.source, Source::ByteOrderMark);
    assert!(decoded.text.starts_with("<html>") && decoded.text.contains("naïve"));
    let mut bytes = vec![0xff, 0xfe];
    for unit in "<rss/>".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(
        decode(&bytes, Some("text/xml; charset=utf-8"), DocumentKind::Xml).text,
        "<rss/>"
    );
}

#[test]
fn undeclared_text_is_utf8_or_detected() {
    let decoded = decode("<rss><t>ü</t></rss>".as_bytes(), None, DocumentKind::Xml);
    assert_eq!(decoded.source, Source::DefaultUtf8);
    let text =
        "<html><body><p>Привет, как дела? Сегодня хорошая погода в Москве.</p></body></html>";
    let bytes = encoded(encoding_rs::WINDOWS_1251, text);
    let decoded = decode(&bytes, None, DocumentKind::Html);
    assert_eq!(decoded.source, Source::Detected);
    assert_eq!(decoded.text, text);
}

#[test]
fn utf16_and_utf32_without_bom_are_recognised() {
    let utf32: Vec<u8> = "<rss/>"
        .chars()
        .flat_map(|c| (c as u32).to_be_bytes())
        .collect();
    let decoded = decode(&utf32, None, DocumentKind::Xml);
    assert_eq!(
        (&*decoded.text, decoded.encoding_name),
        ("<rss/>", "UTF-32BE")
    );
    let utf16: Vec<u8> = "<rss/>"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    assert_eq!(decode(&utf16, None, DocumentKind::Xml).text, "<rss/>");
    // An ASCII document that says UTF-16 means "Unicode".
    let decoded = decode(
        "<rss>é</rss>".as_bytes(),
        Some("text/xml; charset=utf-16"),
        DocumentKind::Xml,
    );
    assert_eq!(decoded.text, "<rss>é</rss>");
}

#[test]
fn gbk_is_read_as_gb18030() {
    let bytes = encoded(encoding_rs::GB18030, "<html><body>新闻</body></html>");
    let decoded = decode(&bytes, Some("text/html; charset=gbk"), DocumentKind::Html);
    assert_eq!(decoded.encoding_name, "gb18030");
    assert!(decoded.text.contains("新闻"));
}
