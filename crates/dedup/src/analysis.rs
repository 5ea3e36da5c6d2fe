//! Everything the rules need from one article, computed once.

use newsflow_model::{canonical_url, Article};

use crate::fingerprint::Fingerprint;

pub(crate) struct Analysis {
    /// Canonical form of the URL the page was fetched from.
    pub page_key: String,
    /// Canonical form of the page's declared `rel=canonical`, when it names
    /// another page.
    pub declared_key: Option<String>,
    pub feed_item: Option<String>,
    pub fingerprint: Fingerprint,
}

pub(crate) fn page_key(article: &Article) -> String {
    let url = article.url.trim();
    if url.is_empty() {
        // No URL: the page is only itself.
        format!("article:{}", article.article_id)
    } else {
        canonical_url(url)
    }
}

pub(crate) fn analyse(article: &Article, shingle_words: usize, min_words: usize) -> Analysis {
    let page_key = page_key(article);
    let declared_key = Some(article.canonical_url.trim())
        .filter(|declared| !declared.is_empty())
        .map(canonical_url)
        .filter(|declared| *declared != page_key);
    let feed_item = Some(article.item_id.trim())
        .filter(|item| !item.is_empty())
        .map(|item| format!("{}\u{1f}{}", article.feed_url.trim(), item));
    // The title is left out on purpose: a copy under another headline is
    // still the same story.
    let fingerprint = Fingerprint::of(&article.body, shingle_words, min_words);
    Analysis {
        page_key,
        declared_key,
        feed_item,
        fingerprint,
    }
}
