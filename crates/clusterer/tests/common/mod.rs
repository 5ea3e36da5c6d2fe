//! Test helpers: the fixture stories as documents and stories.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use newsflow_clusterer::Document;
use newsflow_model::{Article, Carrier, UniqueStory, SCHEMA_VERSION};

pub struct LabelledDocument {
    pub gold_event: String,
    pub document: Document,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A seed article: title on the first non-empty line, the rest is the body.
pub fn seed(file: &str) -> (String, String) {
    let text = std::fs::read_to_string(fixtures().join("seeds").join(file)).expect("seed fixture");
    let text = text.trim_start();
    let (title, body) = text.split_once('\n').unwrap_or((text, ""));
    (title.trim().to_string(), body.to_string())
}

pub fn seed_documents() -> Vec<Document> {
    let mut files: Vec<String> = std::fs::read_dir(fixtures().join("seeds"))
        .expect("seed fixtures")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".txt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let (title, body) = seed(file);
            Document {
                id: file.clone(),
                title,
                body,
                time: None,
                outlet: file.clone(),
                url: format!("https://example.org/{file}"),
            }
        })
        .collect()
}

/// Every fixture story, in order of publication (ties by path).
pub fn fixture_stories() -> Vec<LabelledDocument> {
    let mut stories = Vec::new();
    let root = fixtures().join("stories");
    let mut outlets: Vec<_> = std::fs::read_dir(&root)
        .expect("story fixtures")
        .map(|e| e.unwrap().path())
        .collect();
    outlets.sort();
    for outlet in outlets {
        let mut files: Vec<_> = std::fs::read_dir(&outlet)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let (header, body) = text.split_once("\n---\n").expect("story header");
            let field = |name: &str| {
                header
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .map(|v| v.trim().to_string())
            };
            let (title, body) = match field("seed") {
                Some(seed_file) => seed(&seed_file),
                None => (field("title").unwrap_or_default(), body.to_string()),
            };
            let outlet_name = outlet.file_name().unwrap().to_string_lossy().into_owned();
            let slug = file.file_stem().unwrap().to_string_lossy().into_owned();
            stories.push(LabelledDocument {
                gold_event: field("event").expect("event label"),
                document: Document {
                    id: format!("{outlet_name}/{slug}"),
                    title,
                    body,
                    time: field("published")
                        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&Utc)),
                    url: format!("https://{outlet_name}.example/{slug}"),
                    outlet: outlet_name,
                },
            });
        }
    }
    stories.sort_by(|a, b| {
        a.document
            .time
            .cmp(&b.document.time)
            .then(a.document.id.cmp(&b.document.id))
    });
    stories
}

pub fn unique_story(doc: &Document, carriers: &[&str]) -> UniqueStory {
    let time = doc.time.unwrap_or(DateTime::UNIX_EPOCH);
    UniqueStory {
        schema_version: SCHEMA_VERSION,
        story_id: doc.id.clone(),
        revision: 0,
        article: Article {
            schema_version: SCHEMA_VERSION,
            article_id: doc.id.clone(),
            item_id: doc.id.clone(),
            feed_url: format!("https://{}.example/feed", doc.outlet),
            url: doc.url.clone(),
            canonical_url: doc.url.clone(),
            outlet: doc.outlet.clone(),
            title: doc.title.clone(),
            byline: None,
            published: doc.time,
            language: Some("eng".into()),
            lead_image: None,
            body: doc.body.clone(),
            fetched_at: time,
        },
        carriers: std::iter::once(Carrier {
            outlet: doc.outlet.clone(),
            url: doc.url.clone(),
        })
        .chain(carriers.iter().map(|o| Carrier {
            outlet: o.to_string(),
            url: format!("https://{o}.example/copy"),
        }))
        .collect(),
    }
}
