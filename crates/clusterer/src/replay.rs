//! `newsflow cluster`: the core replayed over a JSON-lines file of documents,
//! writing `id<TAB>event_id` in input order. Each document is placed once,
//! as it arrives; the event written is the one the document belongs to at
//! the end of the stream, so merges made later in the stream are reflected.

use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use serde_json::Value;
use thiserror::Error;

use crate::{Clusterer, ClustererConfig, Document};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Documents placed (and written).
    pub documents: usize,
    /// Distinct events among the written assignments.
    pub events: usize,
    /// Lines skipped: not JSON objects, or without an `id`.
    pub skipped: usize,
}

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("reading the documents: {0}")]
    Read(#[source] std::io::Error),
    #[error("writing the assignments: {0}")]
    Write(#[source] std::io::Error),
}

/// The document a JSON line describes, or `None` when it has no usable id.
/// With `text_field`, that field alone is the text; otherwise `title` is the
/// title and `text` (else `body`) the body.
pub fn document_from_json(value: &Value, text_field: Option<&str>) -> Option<Document> {
    let id = match value.get("id")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    let (title, body) = match text_field {
        Some(name) => (String::new(), field(name).unwrap_or_default()),
        None => (
            field("title").unwrap_or_default(),
            field("text").or_else(|| field("body")).unwrap_or_default(),
        ),
    };
    let time = ["time", "published"]
        .iter()
        .filter_map(|name| field(name))
        .find_map(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    Some(Document {
        id,
        title,
        body,
        time,
        outlet: field("outlet").unwrap_or_default(),
        url: field("url").unwrap_or_default(),
    })
}

pub fn run(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    text_field: Option<&str>,
    config: &ClustererConfig,
) -> Result<ReplaySummary, ReplayError> {
    let mut clusterer = Clusterer::new(config.clone());
    let mut ids = Vec::new();
    let mut skipped = 0;
    let mut line = String::new();
    let mut line_number = 0usize;
    loop {
        line.clear();
        if input.read_line(&mut line).map_err(ReplayError::Read)? == 0 {
            break;
        }
        line_number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let doc = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|value| document_from_json(&value, text_field));
        match doc {
            Some(doc) => {
                ids.push(doc.id.clone());
                clusterer.add(doc);
            }
            None => {
                tracing::warn!(
                    line = line_number,
                    "skipping a line that is not a JSON object with an id"
                );
                skipped += 1;
            }
        }
    }
    let mut events = std::collections::HashSet::new();
    for id in &ids {
        let event = clusterer.event_of(id).unwrap_or_default();
        events.insert(event.to_string());
        writeln!(output, "{id}\t{event}").map_err(ReplayError::Write)?;
    }
    output.flush().map_err(ReplayError::Write)?;
    Ok(ReplaySummary {
        documents: ids.len(),
        events: events.len(),
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_per_document_in_input_order_and_skips_bad_lines() {
        let input = concat!(
            "{\"id\": \"a\", \"title\": \"Earthquake hits Chile\", \"text\": \"A strong earthquake hit Chile.\"}\n",
            "not json\n",
            "{\"id\": 7, \"text\": \"Chile earthquake: strong quake hits Chile\"}\n",
            "{\"title\": \"no id\"}\n",
            "{\"id\": \"c\", \"text\": \"Parliament passes the budget bill\"}\n",
        );
        let mut output = Vec::new();
        let summary = run(
            &mut input.as_bytes(),
            &mut output,
            None,
            &ClustererConfig::default(),
        )
        .unwrap();
        assert_eq!(
            summary,
            ReplaySummary {
                documents: 3,
                events: 2,
                skipped: 2
            }
        );
        let lines: Vec<&str> = std::str::from_utf8(&output).unwrap().lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("a\t")
                && lines[1].starts_with("7\t")
                && lines[2].starts_with("c\t")
        );
        let event = |l: &str| l.split('\t').nth(1).unwrap().to_string();
        assert_eq!(event(lines[0]), event(lines[1]));
        assert_ne!(event(lines[0]), event(lines[2]));
    }

    #[test]
    fn a_text_field_selects_the_only_text_used() {
        let value: Value =
            serde_json::json!({"id": "x", "title": "T", "snippet": "S", "text": "T S"});
        let doc = document_from_json(&value, Some("snippet")).unwrap();
        assert_eq!((doc.title.as_str(), doc.body.as_str()), ("", "S"));
        let doc = document_from_json(&value, None).unwrap();
        assert_eq!((doc.title.as_str(), doc.body.as_str()), ("T", "T S"));
    }
}
