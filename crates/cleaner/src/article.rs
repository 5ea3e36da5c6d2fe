//! From a `raw` message to an `articles` message: the page's own metadata
//! first, the feed item's where the page has none.

use newsflow_model::{canonical_url, story_id_for_url, Article, RawPage, SCHEMA_VERSION};
use url::Url;

use crate::{extract, CleanError, CleanerConfig};

pub fn clean(raw: &RawPage, config: &CleanerConfig) -> Result<Article, CleanError> {
    let page = raw.page(config.max_page_bytes)?;
    let extracted = extract(
        &page,
        raw.content_type.as_deref(),
        Some(&raw.final_url),
        config,
    )?;
    let title = extracted
        .title
        .or_else(|| raw.item_title.clone())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_default();
    let canonical = canonical_url(&choose_canonical(
        extracted.canonical_url.as_deref(),
        &raw.final_url,
    ));
    Ok(Article {
        schema_version: SCHEMA_VERSION,
        article_id: story_id_for_url(&canonical),
        item_id: raw.item_id.clone(),
        feed_url: raw.feed_url.clone(),
        url: raw.final_url.clone(),
        canonical_url: canonical,
        outlet: raw.outlet.clone(),
        title,
        byline: extracted.byline,
        published: extracted.published.or(raw.item_published),
        language: extracted.language,
        lead_image: extracted.lead_image,
        body: extracted.body,
        fetched_at: raw.fetched_at,
    })
}

/// The page's declared canonical URL when it stays on the page's own site
/// (a syndicated copy pointing at the original outlet keeps its own
/// identity; the deduplicator links the two), else the page's URL.
fn choose_canonical(declared: Option<&str>, final_url: &str) -> String {
    let (Some(declared), Ok(page)) = (declared, Url::parse(final_url)) else {
        return final_url.to_string();
    };
    match page.join(declared) {
        Ok(resolved) if same_site(&resolved, &page) => resolved.to_string(),
        _ => final_url.to_string(),
    }
}

fn same_site(a: &Url, b: &Url) -> bool {
    fn site(url: &Url) -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        let host = ["www.", "m.", "amp.", "mobile."]
            .iter()
            .find_map(|p| host.strip_prefix(p))
            .unwrap_or(&host)
            .to_string();
        Some(host)
    }
    matches!(a.scheme(), "http" | "https") && site(a).is_some() && site(a) == site(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_on_the_same_site_is_used() {
        assert_eq!(
            choose_canonical(
                Some("/world/story"),
                "https://www.news.example/world/story?utm_source=rss"
            ),
            "https://www.news.example/world/story"
        );
        assert_eq!(
            choose_canonical(
                Some("https://news.example/a"),
                "https://m.news.example/a/amp"
            ),
            "https://news.example/a"
        );
    }

    #[test]
    fn canonical_on_another_site_is_ignored() {
        assert_eq!(
            choose_canonical(
                Some("https://wire.example/original"),
                "https://paper.example/copy"
            ),
            "https://paper.example/copy"
        );
        assert_eq!(
            choose_canonical(None, "https://paper.example/copy"),
            "https://paper.example/copy"
        );
    }
}
