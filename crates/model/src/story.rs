//! `articles`, `unique` and `duplicates`: a cleaned article, and the
//! deduplicator's verdict on it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{topics, Message};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Article {
    /// The message's schema version: `1` (readers of major version 1
    /// accept any `1.x`).
    pub schema_version: u32,
    /// Derived from the canonical URL: the same page always has the same id.
    pub article_id: String,
    pub item_id: String,
    pub feed_url: String,
    pub url: String,
    pub canonical_url: String,
    pub outlet: String,
    pub title: String,
    pub byline: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// ISO 639-3 code, when detection was confident.
    pub language: Option<String>,
    pub lead_image: Option<String>,
    /// Clean body text, paragraphs separated by a blank line.
    pub body: String,
    pub fetched_at: DateTime<Utc>,
}

impl Message for Article {
    const TOPIC: &'static str = topics::ARTICLES;
    fn key(&self) -> String {
        self.article_id.clone()
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

/// An outlet that published a story (the original, or a copy of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Carrier {
    pub outlet: String,
    pub url: String,
}

/// A story the deduplicator saw for the first time, or a new version of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UniqueStory {
    /// The message's schema version: `1` (readers of major version 1
    /// accept any `1.x`).
    pub schema_version: u32,
    /// The story's id: the article id of the first copy seen.
    pub story_id: String,
    /// Bumped when the same URL comes back with changed text.
    pub revision: u32,
    pub article: Article,
    /// Every outlet known to carry this story, the original first.
    pub carriers: Vec<Carrier>,
}

impl Message for UniqueStory {
    const TOPIC: &'static str = topics::UNIQUE;
    fn key(&self) -> String {
        self.story_id.clone()
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    SameCanonicalUrl,
    SameFeedItem,
    SameBody,
    NearDuplicateBody,
}

/// An article found to be a copy of a story already seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DuplicateRecord {
    /// The message's schema version: `1` (readers of major version 1
    /// accept any `1.x`).
    pub schema_version: u32,
    pub article_id: String,
    pub outlet: String,
    pub url: String,
    pub title: String,
    /// The story this article duplicates.
    pub duplicate_of: String,
    pub reason: DuplicateReason,
    /// Estimated text similarity to the original, 0..=1.
    pub similarity: f32,
}

impl Message for DuplicateRecord {
    const TOPIC: &'static str = topics::DUPLICATES;
    /// Keyed by the original story, so all copies of one story stay together.
    fn key(&self) -> String {
        self.duplicate_of.clone()
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}
