//! Article builders and fixtures shared by the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use newsflow_model::{canonical_url, story_id_for_url, Article, SCHEMA_VERSION};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 8, 19, 12, 0, 0).unwrap()
}

pub fn at_hours(hours: i64) -> DateTime<Utc> {
    t0() + Duration::hours(hours)
}

/// An article as the cleaner would emit it for `url` (no rel=canonical
/// beyond the URL itself).
pub fn article(outlet: &str, url: &str, title: &str, body: &str) -> Article {
    Article {
        schema_version: SCHEMA_VERSION,
        article_id: story_id_for_url(url),
        item_id: format!("{url}#guid"),
        feed_url: format!("https://{outlet}/feed.xml"),
        url: url.to_string(),
        canonical_url: canonical_url(url),
        outlet: outlet.to_string(),
        title: title.to_string(),
        byline: None,
        published: Some(t0()),
        language: Some("eng".into()),
        lead_image: None,
        body: body.to_string(),
        fetched_at: t0(),
    }
}

/// The five seed articles: (title, body).
pub fn seeds() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let (title, body) = text.split_once('\n').unwrap();
            (title.trim().to_string(), body.trim().to_string())
        })
        .collect()
}

pub fn paragraphs(body: &str) -> Vec<String> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Replaces every `nth` word with a word that appears nowhere in the text.
pub fn replace_every_nth_word(body: &str, nth: usize) -> String {
    body.split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i % nth == nth - 1 {
                format!("zq{i}x")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn body_words(body: &str) -> usize {
    body.split_whitespace().count()
}
