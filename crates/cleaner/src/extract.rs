//! The pure core: one page's bytes to the article in it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bounded_markup::bound_markup;
use crate::content::extract_body;
use crate::decode::decode_html;
use crate::language::detect_language;
use crate::metadata::read_metadata;
use crate::scan::scan;
use crate::strip::strip_scripts_and_styles;
use crate::tree_sink::parse_document;
use crate::verdict::judge;
use crate::{CleanError, CleanerConfig};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extracted {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// ISO 639-3 code, when detection is confident.
    pub language: Option<String>,
    /// The page's `rel=canonical` (else `og:url`), made absolute.
    pub canonical_url: Option<String>,
    pub lead_image: Option<String>,
    pub site_name: Option<String>,
    /// Paragraphs separated by a blank line; the title is not part of it.
    pub body: String,
}

/// One page's bytes to the article. The charset comes from a byte-order mark,
/// then `content_type`'s charset, then `<meta charset>`, then detection;
/// `page_url` resolves relative URLs in the metadata.
pub fn extract(
    html: &[u8],
    content_type: Option<&str>,
    page_url: Option<&str>,
    config: &CleanerConfig,
) -> Result<Extracted, CleanError> {
    let html = &html[..html.len().min(config.max_page_bytes)];
    let text = decode_html(html, content_type)?;
    let stripped = strip_scripts_and_styles(&text);
    let bounded = bound_markup(&stripped);
    let document = parse_document(&bounded);
    let page = scan(&document);
    let base = page_url.and_then(|u| url::Url::parse(u).ok());
    let metadata = read_metadata(&document, &page, base.as_ref());
    let body = extract_body(&document, &page, &metadata, config);
    let body_text = judge(&body, &metadata, &page, config)?;
    let language = detect_language(&body_text, metadata.declared_language.as_deref(), config);
    Ok(Extracted {
        title: metadata.title,
        byline: metadata.byline,
        published: metadata.published,
        language,
        canonical_url: metadata.canonical_url,
        lead_image: metadata.lead_image,
        site_name: metadata.site_name,
        body: body_text,
    })
}
