//! What the deduplicator says about one article.

use newsflow_model::{DuplicateRecord, UniqueStory};

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// First time: emit to `unique`.
    New(UniqueStory),
    /// Same canonical URL (or feed item), changed text: the story with
    /// `revision + 1` and the latest article; emit to `unique`.
    Updated(UniqueStory),
    /// A copy of a remembered story: `record` goes to `duplicates`; `story`
    /// is the original story with this outlet among its carriers, re-emitted
    /// to `unique`.
    Duplicate {
        record: DuplicateRecord,
        story: UniqueStory,
    },
    /// The same article seen again with the same text (a replay after a
    /// crash, or a re-poll): the story as it stands, re-emitted unchanged.
    Unchanged(UniqueStory),
}

impl Verdict {
    /// The story to (re-)emit to `unique`.
    pub fn story(&self) -> &UniqueStory {
        match self {
            Verdict::New(story)
            | Verdict::Updated(story)
            | Verdict::Unchanged(story)
            | Verdict::Duplicate { story, .. } => story,
        }
    }

    pub fn story_mut(&mut self) -> &mut UniqueStory {
        match self {
            Verdict::New(story)
            | Verdict::Updated(story)
            | Verdict::Unchanged(story)
            | Verdict::Duplicate { story, .. } => story,
        }
    }

    /// The story this article duplicates, when it is a copy.
    pub fn duplicate_of(&self) -> Option<&str> {
        match self {
            Verdict::Duplicate { record, .. } => Some(&record.duplicate_of),
            _ => None,
        }
    }

    /// A short name for logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::New(_) => "new",
            Verdict::Updated(_) => "updated",
            Verdict::Duplicate { .. } => "duplicate",
            Verdict::Unchanged(_) => "unchanged",
        }
    }
}
