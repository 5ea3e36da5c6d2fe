//! The clusterer's one configuration. Defaults are chosen once for all kinds
//! of input; nothing here is meant to be set per data set.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClustererConfig {
    /// Minimum (time-decayed) cosine similarity for a story to join an event.
    pub join_threshold: f32,
    /// Two events whose centroids are at least this similar are merged.
    pub merge_threshold: f32,
    /// An event that no story joined for this long is closed.
    pub quiet_period_secs: u64,
    /// How long after closing an event still takes a late story whose own
    /// time falls inside its window, reopening it; after that it is retired.
    pub late_arrival_secs: u64,
    /// Half-life of an event's attraction, in seconds of document time.
    pub decay_half_life_secs: u64,
    /// Half-life of an event's attraction, counted in stories that arrived
    /// since it last grew; used when documents carry no time, until the
    /// stream has shown its own pace, and as the upper bound after.
    pub decay_half_life_stories: u64,
    /// Joins to see before the half-life in stories is learned from the
    /// stream: `pace_factor` times the `pace_quantile` of the gaps, in
    /// stories, between an event's consecutive members.
    pub pace_min_joins: u64,
    /// The quantile of member gaps the learned half-life is based on.
    pub pace_quantile: f64,
    /// The learned half-life is this many times the `pace_quantile` gap.
    pub pace_factor: f64,
    /// Weight of a title token relative to a body token.
    pub title_weight: f32,
    /// Extra weight of names (terms mostly written capitalised mid-sentence)
    /// and numbers: they tell apart events of the same kind.
    pub name_weight: f32,
    /// When both a story and an event carry at least this share of their
    /// weight on names, they must also agree on names...
    pub name_evidence: f32,
    /// ...and their similarity is scaled down in proportion as their
    /// name-only cosine falls short of this.
    pub name_agreement: f32,
    /// How many of a story's heaviest terms are used to look up candidates.
    pub query_terms: usize,
    /// How many candidate events are scored exactly.
    pub max_candidates: usize,
    /// Postings kept per term (most recent events first).
    pub max_postings_per_term: usize,
    /// Terms kept in an event's centroid (heaviest first).
    pub max_event_terms: usize,
    /// Keywords listed on an event record.
    pub keywords: usize,
    /// Members listed on an event record at most: the newest to join. A
    /// record lists about 300 bytes per member, so the default of 500 keeps
    /// it near 150 KB, far below the bus's message limit, however many
    /// stories the event gathers (`member_count` gives the total).
    pub max_record_members: usize,
    /// Every this many documents the vocabulary's counts are halved and the
    /// terms whose count fell to zero (and that no held event uses) are
    /// forgotten, so the vocabulary stays bounded on an endless stream.
    /// 0 never decays.
    pub vocabulary_decay_documents: u64,
    /// Terms the vocabulary holds before it decays early, as it does every
    /// `vocabulary_decay_documents` (at most once every 25 documents): a
    /// flood of made-up words, each seen once, cannot grow it past about
    /// this many plus 25 documents' worth. Terms held events use are not
    /// forgotten: past four times this many, events are retired (in the
    /// order of `max_held_stories`) until the terms
    /// they used would bring it to twice this many. 0 sets no such cap.
    pub max_vocabulary_terms: usize,
    /// Stories held at most, in events not yet retired: past it, events are
    /// retired early, closed ones before open ones (an open one is closed
    /// first, with its closed record), those that changed longest ago first,
    /// until a tenth of this is free again;
    /// the retired stories remembered for late copies are capped alike.
    /// A held story costs about 3-4 KB of memory. 0 sets no such cap.
    pub max_held_stories: usize,
    /// Words of a story (title first, then body) the clusterer reads at
    /// most; words longer than 64 bytes (hashes, glued-together strings)
    /// are left out. A news story is far shorter: this bounds what one
    /// document, however large, can add to the vocabulary.
    pub max_document_words: usize,
    /// A story published more than this many seconds after it was fetched
    /// (a wrong or hostile date) is clustered at its fetch time, so that it
    /// cannot move the clock events are closed by.
    pub max_published_ahead_secs: u64,
    /// The stage writes a snapshot of its state to its database every this
    /// many logged operations and deletes the log entries it covers, so a
    /// restart replays at most about this many. 0 never checkpoints.
    pub checkpoint_every_operations: u64,
}

impl Default for ClustererConfig {
    fn default() -> Self {
        Self {
            join_threshold: 0.15,
            merge_threshold: 0.3,
            quiet_period_secs: 72 * 3600,
            late_arrival_secs: 14 * 24 * 3600,
            decay_half_life_secs: 48 * 3600,
            decay_half_life_stories: 3000,
            pace_min_joins: 100,
            pace_quantile: 0.95,
            pace_factor: 8.0,
            title_weight: 2.0,
            name_weight: 1.5,
            name_evidence: 0.2,
            name_agreement: 0.5,
            query_terms: 12,
            max_candidates: 24,
            max_postings_per_term: 128,
            max_event_terms: 200,
            keywords: 10,
            max_record_members: 500,
            vocabulary_decay_documents: 50_000,
            max_vocabulary_terms: 1_000_000,
            max_document_words: 20_000,
            max_held_stories: 1_000_000,
            max_published_ahead_secs: 24 * 3600,
            checkpoint_every_operations: 10_000,
        }
    }
}
