//! `newsflow dedup --input DOCS.jsonl --output VERDICTS.tsv`: the core over
//! a file of documents, one verdict line per document, in input order.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use chrono::{DateTime, TimeZone, Utc};
use newsflow_model::{canonical_url, story_id_for_url, Article, SCHEMA_VERSION};
use serde::Deserialize;

use crate::config::DedupConfig;
use crate::deduplicator::Deduplicator;
use crate::verdict::Verdict;

/// One input line.
#[derive(Debug, Deserialize)]
struct Document {
    id: DocumentId,
    #[serde(default)]
    url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    published: Option<DateTime<Utc>>,
}

/// Ids are echoed as given: strings, or numbers written without quotes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DocumentId {
    Text(String),
    Number(serde_json::Number),
}

impl DocumentId {
    fn into_string(self) -> String {
        match self {
            DocumentId::Text(text) => text,
            DocumentId::Number(number) => number.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    pub documents: usize,
    pub new_stories: usize,
    pub duplicates: usize,
    pub updates: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("reading line {line}: {source}")]
    Read {
        line: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line} is not a document {{id, url, title, text, published?}}: {source}")]
    BadLine {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("line {line}: the id contains a tab or newline, which the TSV output cannot hold")]
    BadId { line: usize },
    #[error("writing verdicts: {0}")]
    Write(#[source] std::io::Error),
}

/// Writes `id<TAB>duplicate_of` for each document: `duplicate_of` is the
/// input id of the document that started the story when this one is a copy
/// (or the same page with the same text again), empty for a new story or an
/// update of a page seen before.
pub fn run(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    config: &DedupConfig,
) -> Result<ReplaySummary, ReplayError> {
    let mut deduplicator = Deduplicator::new(config.clone());
    let mut first_document_of_story: HashMap<String, String> = HashMap::new();
    let mut summary = ReplaySummary::default();
    // Documents without a date inherit the latest one seen, so time-based
    // eviction follows the input's own clock.
    let mut clock = Utc.timestamp_opt(0, 0).single().unwrap_or_default();
    for (index, line) in input.lines().enumerate() {
        let line_number = index + 1;
        let line = line.map_err(|source| ReplayError::Read {
            line: line_number,
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let document: Document =
            serde_json::from_str(&line).map_err(|source| ReplayError::BadLine {
                line: line_number,
                source,
            })?;
        let Document {
            id,
            url,
            title,
            text,
            published,
        } = document;
        let id = id.into_string();
        if id.contains(['\t', '\n', '\r']) {
            return Err(ReplayError::BadId { line: line_number });
        }
        if let Some(published) = published {
            clock = clock.max(published);
        }
        let article = article_of(&id, url, title, text, published, clock);
        let verdict = deduplicator.check(&article);
        summary.documents += 1;
        let duplicate_of = match &verdict {
            Verdict::New(story) => {
                summary.new_stories += 1;
                first_document_of_story.insert(story.story_id.clone(), id.clone());
                None
            }
            Verdict::Updated(_) => {
                summary.updates += 1;
                None
            }
            Verdict::Duplicate { story, .. } => {
                summary.duplicates += 1;
                first_document_of_story.get(&story.story_id)
            }
            Verdict::Unchanged(story) => {
                summary.unchanged += 1;
                first_document_of_story.get(&story.story_id)
            }
        };
        writeln!(output, "{id}\t{}", duplicate_of.map_or("", String::as_str))
            .map_err(ReplayError::Write)?;
    }
    output.flush().map_err(ReplayError::Write)?;
    Ok(summary)
}

fn article_of(
    id: &str,
    url: String,
    title: String,
    body: String,
    published: Option<DateTime<Utc>>,
    clock: DateTime<Utc>,
) -> Article {
    let url = url.trim().to_string();
    // Without a URL the document is only itself: its id stands in.
    let article_id = if url.is_empty() {
        story_id_for_url(&format!("doc:{id}"))
    } else {
        story_id_for_url(&url)
    };
    Article {
        schema_version: SCHEMA_VERSION,
        article_id,
        item_id: String::new(),
        feed_url: String::new(),
        canonical_url: if url.is_empty() {
            String::new()
        } else {
            canonical_url(&url)
        },
        url,
        outlet: String::new(),
        title,
        byline: None,
        published,
        language: None,
        lead_image: None,
        body,
        fetched_at: published.unwrap_or(clock),
    }
}
