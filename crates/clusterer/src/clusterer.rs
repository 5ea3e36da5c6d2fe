//! The pure core: stories in, event assignments and changed event records
//! out. No I/O and no wall clock: time is the documents' own time, so the
//! same input in the same order always gives the same output.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use newsflow_model::{EventMember, EventRecord, EventStatus};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::config::ClustererConfig;
use crate::event::Event;
use crate::features::learn_document;
use crate::index::{EventIndex, PostingIndex};
use crate::pace::JoinPace;
use crate::vector::{
    add_scaled, heaviest_terms, idf_mass, idf_norm, idf_similarity, keep_heaviest, DenseQuery,
    Similarity, SparseVector,
};
use crate::vocabulary::Vocabulary;

/// Documents at least between two decays the vocabulary's term cap brings
/// forward (see `max_vocabulary_terms`).
const EARLY_DECAY_MIN_DOCUMENTS: u64 = 25;
/// Past this many times `max_vocabulary_terms`, the terms held events use
/// are what fills the vocabulary, and events are retired to free them.
const PINNED_TERMS_FACTOR: usize = 4;

/// A story as the clusterer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub body: String,
    pub time: Option<DateTime<Utc>>,
    pub outlet: String,
    pub url: String,
}

/// Where a document went, and the full new record of every event that
/// changed because of it (new, grown, merged away, absorbing).
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub event_id: String,
    pub changed: Vec<EventRecord>,
}

/// The whole state is serialisable: a snapshot of it replaces replaying
/// every operation ever applied (see `ClusterStage::snapshot`).
#[derive(Serialize, Deserialize)]
pub struct Clusterer {
    /// Not part of a snapshot: the configuration of whoever reads it applies.
    #[serde(skip)]
    config: ClustererConfig,
    vocabulary: Vocabulary,
    /// Events not yet retired, by number (creation order). Retired events
    /// are freed with their members; iteration in number order keeps every
    /// output in a deterministic order.
    events: BTreeMap<EventIndex, Event>,
    /// The number the next event gets.
    next_event: EventIndex,
    event_of_story: FxHashMap<String, EventIndex>,
    /// Stories of retired (freed) events, with the id of the event they
    /// ended in, for a late-arrival period after retirement: a story sent
    /// again then (a copy found late) changes nothing, instead of opening a
    /// second event under the first one's id with its versions restarted.
    retired_stories: FxHashMap<String, String>,
    /// When each of `retired_stories` is forgotten, oldest first.
    retired_expiry: VecDeque<(DateTime<Utc>, String)>,
    index: PostingIndex,
    /// Scratch space for comparing the current story with its candidates.
    #[serde(skip)]
    dense_query: DenseQuery,
    arrivals: u64,
    /// Latest document time seen: stands in for documents without one, and
    /// is the clock the stage closes quiet events by.
    clock: Option<DateTime<Utc>>,
    /// How many stories apart an event's members arrive in this stream.
    pace: JoinPace,
    /// No held event falls due for closing or retiring before this time (a
    /// lower bound, exact after a scan); `None` until the next scan. Spares
    /// scanning every event for each story; not part of a snapshot.
    #[serde(skip)]
    earliest_due: Option<DateTime<Utc>>,
    /// Counted since this value was made (a restore's replay counts again):
    /// for the metrics, which take differences.
    #[serde(skip)]
    early_retirements: EarlyRetirements,
}

/// Events and stories retired before their time because a cap was reached,
/// in all.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EarlyRetirements {
    pub events: u64,
    pub stories: u64,
}

impl Clusterer {
    pub fn new(config: ClustererConfig) -> Self {
        Self {
            index: PostingIndex::new(config.max_postings_per_term),
            config,
            vocabulary: Vocabulary::default(),
            dense_query: DenseQuery::default(),
            events: BTreeMap::new(),
            next_event: 0,
            event_of_story: FxHashMap::default(),
            retired_stories: FxHashMap::default(),
            retired_expiry: VecDeque::new(),
            arrivals: 0,
            clock: None,
            pace: JoinPace::default(),
            earliest_due: None,
            early_retirements: EarlyRetirements::default(),
        }
    }

    pub fn config(&self) -> &ClustererConfig {
        &self.config
    }

    /// Completes a core read from a snapshot: applies `config`, rebuilds
    /// what a snapshot leaves out, and checks that what indexing relies on
    /// holds (a damaged snapshot is refused, never a panic later).
    pub(crate) fn restored(mut self, config: ClustererConfig) -> Result<Self, String> {
        self.vocabulary.check()?;
        self.pace.check()?;
        let terms = self.vocabulary.len();
        for (&number, event) in &self.events {
            if number >= self.next_event {
                return Err(format!("event {number} is numbered past the next one"));
            }
            if event.centroid.iter().any(|&(t, _)| t as usize >= terms) {
                return Err(format!("event {} uses an unknown term", event.id));
            }
            if event.headline >= event.members.len().max(1) {
                return Err(format!("event {} has no such headline", event.id));
            }
        }
        if let Some((story, _)) = self
            .event_of_story
            .iter()
            .find(|(_, e)| !self.events.contains_key(e))
        {
            return Err(format!("story {story} belongs to no held event"));
        }
        self.vocabulary.rebuild_lookup();
        self.index.set_max_per_term(config.max_postings_per_term);
        self.config = config;
        Ok(self)
    }

    /// Assigns a document to an event. A document id seen before changes
    /// nothing: its current event is returned with no changes.
    pub fn add(&mut self, doc: Document) -> Assignment {
        self.add_with_carriers(doc, Vec::new())
    }

    /// As [`Clusterer::add`], for a story other outlets also carried (their
    /// names go to the member's `also_carried_by`).
    pub fn add_with_carriers(&mut self, doc: Document, also_carried_by: Vec<String>) -> Assignment {
        if let Some(event_id) = self.retired_stories.get(&doc.id) {
            return Assignment {
                event_id: event_id.clone(),
                changed: Vec::new(),
            };
        }
        if let Some(&event) = self.event_of_story.get(&doc.id) {
            return Assignment {
                event_id: self.events[&event].id.clone(),
                changed: Vec::new(),
            };
        }
        self.arrivals += 1;
        if let Some(time) = doc.time {
            self.clock = Some(self.clock.map_or(time, |c| c.max(time)));
        }
        let vector = learn_document(&doc.title, &doc.body, &mut self.vocabulary, &self.config);
        let query = heaviest_terms(&vector, self.config.query_terms, &self.vocabulary);
        let scored = self.score_candidates(&vector, &query, doc.time);

        let mut changed = Vec::new();
        let target = match scored.first() {
            Some(&(similarity, event)) if similarity >= self.config.join_threshold => {
                self.join(event, doc, also_carried_by, &vector, &query);
                let survivor = self.merge_converging(event, &scored[1..], &mut changed);
                // One new version per add, however many merges it caused.
                let event = self.events.get_mut(&survivor).expect("a live event");
                event.version += 1;
                changed.push(event.publish(&self.vocabulary, &self.config));
                survivor
            }
            _ => {
                let event = self.open_event(doc, also_carried_by, vector, &query);
                let opened = self.events.get_mut(&event).expect("a live event");
                changed.push(opened.publish(&self.vocabulary, &self.config));
                event
            }
        };
        let assignment = Assignment {
            event_id: self.events[&target].id.clone(),
            changed,
        };
        if self.vocabulary_decay_due() {
            self.decay_vocabulary();
        }
        assignment
    }

    /// The vocabulary decays every `vocabulary_decay_documents`, and early
    /// once it holds more than `max_vocabulary_terms`; early decays are
    /// spaced, since one that frees little (every term still in use) would
    /// otherwise repeat at every document. Far past the cap, the next tick
    /// retires events and decays instead (see `over_pinned_terms`).
    fn vocabulary_decay_due(&self) -> bool {
        let since = self.vocabulary.documents_since_decay();
        let every = self.config.vocabulary_decay_documents;
        let cap = self.config.max_vocabulary_terms;
        (every > 0 && since >= every)
            || (cap > 0
                && self.vocabulary.known_terms() > cap
                && since >= EARLY_DECAY_MIN_DOCUMENTS
                && !self.over_pinned_terms())
    }

    /// Halves the vocabulary's statistics and forgets the terms no longer
    /// seen nor used by any held event (see [`Vocabulary::decay`]), so the
    /// vocabulary stays bounded on an endless stream. IDF shifts a little,
    /// so every held event's cached mass is recomputed.
    fn decay_vocabulary(&mut self) {
        let mut in_use = vec![false; self.vocabulary.len()];
        for event in self.events.values() {
            for &(term, _) in &event.centroid {
                in_use[term as usize] = true;
            }
        }
        for term in self.vocabulary.decay(|term| in_use[term as usize]) {
            self.index.clear_term(term);
        }
        for event in self.events.values_mut() {
            event.refresh_mass(&self.vocabulary);
        }
    }

    /// Closes every active event that no story joined for longer than the
    /// quiet period before `now`, returning their Closed records. Events
    /// closed (or merged away) for longer than the late-arrival period are
    /// retired: their record is final, so they are freed with their members.
    /// That period counts from the event's last change in story time and on
    /// the clock, whichever is later: an event made of an old story (an
    /// archive page fetched today) is kept as long as a fresh one, so a copy
    /// of that story arriving soon after still finds it. A story of a
    /// retired event sent again within another late-arrival period changes
    /// nothing (its event's record is final); after that it is a new story.
    /// Past `max_held_stories`, or with the vocabulary far past
    /// `max_vocabulary_terms`, events are retired early, closed ones before
    /// open ones (see `retire_over_capacity`).
    pub fn close_quiet(&mut self, now: DateTime<Utc>) -> Vec<EventRecord> {
        let quiet = self.quiet_period();
        let retire_after = quiet + self.late_arrival_period();
        let mut closed = Vec::new();
        let mut retired = Vec::new();
        for (&number, event) in &mut self.events {
            if event.is_active() && now - event.last_updated > quiet {
                closed.push(event.close(&self.vocabulary, &self.config));
            }
            if !event.is_active() && now - event.last_changed() > retire_after {
                retired.push(number);
            }
        }
        // Rescanned when next asked.
        self.earliest_due = None;
        while let Some((expires, _)) = self.retired_expiry.front() {
            if *expires >= now {
                break;
            }
            let (_, story) = self.retired_expiry.pop_front().expect("just seen");
            self.retired_stories.remove(&story);
        }
        let forget_at = now
            .checked_add_signed(self.late_arrival_period())
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        for number in retired {
            self.retire(number, forget_at);
        }
        self.retire_over_capacity(forget_at, &mut closed);
        let cap = self.config.max_held_stories;
        while cap > 0 && self.retired_stories.len() > cap {
            let Some((_, story)) = self.retired_expiry.pop_front() else {
                break;
            };
            self.retired_stories.remove(&story);
        }
        closed
    }

    /// Frees held event `number` with its members, remembering its stories
    /// until `forget_at`.
    fn retire(&mut self, number: EventIndex, forget_at: DateTime<Utc>) {
        let event = self.events.remove(&number).expect("a held event");
        for member in event.members {
            if self.event_of_story.get(&member.story_id) == Some(&number) {
                self.event_of_story.remove(&member.story_id);
                self.retired_expiry
                    .push_back((forget_at, member.story_id.clone()));
                self.retired_stories
                    .insert(member.story_id, event.id.clone());
            }
        }
    }

    /// More stories held than `max_held_stories`: the held events are a
    /// table a fast enough stream fills before any falls due by time.
    fn over_held_stories(&self) -> bool {
        let cap = self.config.max_held_stories;
        cap > 0 && self.event_of_story.len() > cap
    }

    /// The vocabulary far past `max_vocabulary_terms`: its decays free no
    /// term a held event uses, and stories of made-up words, each opening
    /// an event of its own, pin up to `max_event_terms` new terms apiece.
    /// Looked at no more often than early decays are.
    fn over_pinned_terms(&self) -> bool {
        let cap = self.config.max_vocabulary_terms;
        cap > 0
            && self.vocabulary.known_terms() > PINNED_TERMS_FACTOR.saturating_mul(cap)
            && self.vocabulary.documents_since_decay() >= EARLY_DECAY_MIN_DOCUMENTS
    }

    fn over_capacity(&self) -> bool {
        self.over_held_stories() || self.over_pinned_terms()
    }

    /// Retires the closed events, then the open ones (closing each first,
    /// which publishes its closed record), those that changed longest ago
    /// first, until a tenth of
    /// `max_held_stories` is free, and, when the vocabulary is what
    /// overflows, until the terms those events used would bring it down to
    /// twice `max_vocabulary_terms` (then it decays at once, freeing them).
    /// The sort over every event is so paid once per many stories, not for
    /// each.
    fn retire_over_capacity(&mut self, forget_at: DateTime<Utc>, closed: &mut Vec<EventRecord>) {
        let vocabulary_full = self.over_pinned_terms();
        if !vocabulary_full && !self.over_held_stories() {
            return;
        }
        let cap = self.config.max_held_stories;
        let target = if cap > 0 { cap - cap / 10 } else { usize::MAX };
        let mut terms_to_free = if vocabulary_full {
            let kept = self.config.max_vocabulary_terms.saturating_mul(2);
            self.vocabulary.known_terms().saturating_sub(kept)
        } else {
            0
        };
        // Closed events first: they only wait for late copies, which their
        // remembered stories still catch once retired, while an open event
        // closed early splits its happening when the next story comes.
        let mut by_age: Vec<(bool, DateTime<Utc>, EventIndex)> = self
            .events
            .iter()
            .map(|(&number, event)| (event.is_active(), event.last_activity(), number))
            .collect();
        by_age.sort_unstable();
        let (held_before, events_before) = (self.event_of_story.len(), self.events.len());
        for (_, _, number) in by_age {
            if self.event_of_story.len() <= target && terms_to_free == 0 {
                break;
            }
            let event = self.events.get_mut(&number).expect("a held event");
            terms_to_free = terms_to_free.saturating_sub(event.centroid.len());
            if event.is_active() {
                closed.push(event.close(&self.vocabulary, &self.config));
            }
            self.retire(number, forget_at);
        }
        if vocabulary_full {
            self.decay_vocabulary();
        }
        self.early_retirements.events += (events_before - self.events.len()) as u64;
        self.early_retirements.stories += (held_before - self.event_of_story.len()) as u64;
        // Early retirements change what later stories can join: an operator
        // seeing this often wants larger caps (or a look at the feeds).
        tracing::warn!(
            events = events_before - self.events.len(),
            stories = held_before - self.event_of_story.len(),
            max_held_stories = cap,
            vocabulary_terms = self.vocabulary.known_terms(),
            vocabulary_full,
            "clusterer over capacity: retired events early, closed ones first"
        );
    }

    /// Whether a story belonged to an event retired lately: sent again, it
    /// changes nothing.
    pub fn is_retired_story(&self, story_id: &str) -> bool {
        self.retired_stories.contains_key(story_id)
    }

    /// Updates what is shown about a member already placed (a new title,
    /// more outlets carrying it). Returns the event's new record when
    /// anything changed, `None` when nothing did or the story is unknown.
    pub fn update_member(
        &mut self,
        story_id: &str,
        title: &str,
        also_carried_by: &[String],
    ) -> Option<EventRecord> {
        let &event = self.event_of_story.get(story_id)?;
        let event = self.events.get_mut(&event)?;
        let member = event.members.iter_mut().find(|m| m.story_id == story_id)?;
        if member.title == title && member.also_carried_by == also_carried_by {
            return None;
        }
        member.title = title.to_string();
        member.also_carried_by = also_carried_by.to_vec();
        event.version += 1;
        if let Some(clock) = self.clock {
            event.changed_at = event.changed_at.max(clock);
        }
        Some(event.publish(&self.vocabulary, &self.config))
    }

    /// A placed story's member entry.
    pub fn member(&self, story_id: &str) -> Option<&EventMember> {
        let &event = self.event_of_story.get(story_id)?;
        self.events[&event]
            .members
            .iter()
            .find(|m| m.story_id == story_id)
    }

    /// The current record of the event a story belongs to.
    pub fn current_record(&self, story_id: &str) -> Option<EventRecord> {
        let &event = self.event_of_story.get(story_id)?;
        Some(self.events[&event].record(&self.config))
    }

    /// Whether something falls due at `now` with `slack` to spare: an event
    /// quiet for longer than the quiet period plus `slack`, or one closed
    /// for longer than the retirement period plus `slack`. Exact (so as
    /// deterministic as the state), and cheap while nothing is due: the
    /// events are scanned only once `now` passes the earliest due time.
    pub fn due_with_slack(&mut self, now: DateTime<Utc>, slack: chrono::Duration) -> bool {
        if self.over_capacity() {
            return true;
        }
        let past = |due: DateTime<Utc>| now.signed_duration_since(due) > slack;
        if let Some(due) = self.earliest_due {
            if !past(due) {
                return false;
            }
        }
        let earliest = self
            .events
            .values()
            .map(|e| self.due(e))
            .min()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.earliest_due = Some(earliest);
        past(earliest)
    }

    /// When an event falls due: an active one for closing, another for
    /// retiring (both once `now` is past this).
    fn due(&self, event: &Event) -> DateTime<Utc> {
        let period = if event.is_active() {
            self.quiet_period()
        } else {
            self.quiet_period() + self.late_arrival_period()
        };
        event
            .last_activity()
            .checked_add_signed(period)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Keeps `earliest_due` a lower bound after event `number` changed.
    fn lower_due(&mut self, number: EventIndex) {
        if let (Some(known), Some(event)) = (self.earliest_due, self.events.get(&number)) {
            let due = self.due(event);
            if due < known {
                self.earliest_due = Some(due);
            }
        }
    }

    /// Whether [`Clusterer::close_quiet`] at `now` would close anything.
    pub fn has_quiet_events(&self, now: DateTime<Utc>) -> bool {
        if self.over_capacity() {
            return true;
        }
        let quiet = self.quiet_period();
        let retire_after = quiet + self.late_arrival_period();
        self.events.values().any(|e| {
            (e.is_active() && now - e.last_updated > quiet)
                || (!e.is_active() && now - e.last_changed() > retire_after)
        })
    }

    fn late_arrival_period(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.config.late_arrival_secs.min(i64::MAX as u64 / 2000) as i64)
    }

    fn quiet_period(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.config.quiet_period_secs.min(i64::MAX as u64 / 2000) as i64)
    }

    /// The event a story belongs to now (following merges).
    pub fn event_of(&self, story_id: &str) -> Option<&str> {
        self.event_of_story
            .get(story_id)
            .map(|e| self.events[e].id.as_str())
    }

    /// The current record of every event not retired, in order of creation.
    pub fn records(&self) -> Vec<EventRecord> {
        self.events
            .values()
            .map(|e| e.record(&self.config))
            .collect()
    }

    /// Events ever opened (active, closed, merged away or retired).
    pub fn records_count(&self) -> usize {
        self.next_event as usize
    }

    /// Events held: not yet retired.
    pub fn held_events(&self) -> usize {
        self.events.len()
    }

    /// Stories whose event is held.
    pub fn held_stories(&self) -> usize {
        self.event_of_story.len()
    }

    /// Stories of retired events still remembered, so that a late copy of
    /// one changes nothing.
    pub fn retired_stories_remembered(&self) -> usize {
        self.retired_stories.len()
    }

    /// Terms the vocabulary knows now.
    pub fn known_terms(&self) -> usize {
        self.vocabulary.known_terms()
    }

    /// Events and stories retired early for capacity since this value was
    /// made.
    pub fn early_retirements(&self) -> EarlyRetirements {
        self.early_retirements
    }

    /// The latest (clamped) document time seen: the clock events close by.
    pub fn clock(&self) -> Option<DateTime<Utc>> {
        self.clock
    }

    /// Events still open to new stories (not closed, merged or retired);
    /// counts them one by one.
    pub fn active_events(&self) -> usize {
        self.events.values().filter(|e| e.is_active()).count()
    }

    pub fn active_stories(&self) -> usize {
        self.events
            .values()
            .filter(|e| e.is_active())
            .map(|e| e.members.len())
            .sum()
    }

    /// Approximate heap bytes of the whole state, for the memory bench.
    pub fn heap_bytes(&self) -> usize {
        let events: usize = self.events.values().map(Event::heap_bytes).sum::<usize>()
            + self.events.len() * (std::mem::size_of::<EventIndex>() + 8);
        let story_map: usize = self
            .event_of_story
            .keys()
            .map(|k| k.capacity())
            .sum::<usize>()
            + self.event_of_story.capacity() * (std::mem::size_of::<String>() + 4 + 1);
        let retired: usize = self
            .retired_expiry
            .iter()
            .map(|(_, story)| 2 * story.capacity() + 24 + 48)
            .sum();
        events
            + story_map
            + retired
            + self.vocabulary.heap_bytes()
            + self.index.heap_bytes()
            + self.pace.heap_bytes()
    }

    /// Candidate events with their decayed similarity, best first.
    fn score_candidates(
        &mut self,
        vector: &SparseVector,
        query: &[(u32, f32)],
        time: Option<DateTime<Utc>>,
    ) -> Vec<(f32, EventIndex)> {
        let quiet = self.quiet_period();
        let events = &self.events;
        // A story joins only an event whose time it falls within, closed or
        // not: assignments depend on the stories' own times, never on when
        // ticks happen, and a late story still finds its event.
        let candidates = self
            .index
            .candidates(query, self.config.max_candidates, |e| {
                events.get(&e).is_some_and(|event| {
                    event.is_matchable()
                        && !(event.timed && time.is_some_and(|t| t - event.last_updated > quiet))
                })
            });
        for &e in &candidates {
            if let Some(event) = self.events.get_mut(&e) {
                event.refresh_mass_if_stale(&self.vocabulary);
            }
        }
        self.dense_query.load(vector, &self.vocabulary);
        let half_life_stories = self.half_life_stories();
        let mut scored: Vec<(f32, EventIndex)> = candidates
            .into_iter()
            .map(|e| {
                let event = &self.events[&e];
                let similarity = self.dense_query.similarity(&event.centroid, event.mass);
                let decay = self.decay(event, time, half_life_stories);
                (self.affinity(similarity) * decay, e)
            })
            .collect();
        scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
    }

    /// How strongly a story is drawn to an event, before time decay. Where
    /// both sides are rich in names, names must agree: two earthquakes or
    /// two arrests share their topic words but not their places and people.
    fn affinity(&self, similarity: Similarity) -> f32 {
        let (story, event) = similarity.name_share;
        let evidence = story.min(event) >= self.config.name_evidence;
        if !evidence {
            return similarity.cosine;
        }
        // Scaled down as name agreement falls short of the expected level.
        let agreement = if self.config.name_agreement > 0.0 {
            (similarity.name_cosine / self.config.name_agreement).min(1.0)
        } else {
            1.0
        };
        similarity.cosine * agreement
    }

    /// How much an event's pull has faded: by the distance in document time
    /// between the story and the event's time span when both have times
    /// (stories can arrive late, so a story older than the event is as far
    /// from it as a newer one), else by stories arrived since it last grew.
    fn decay(&self, event: &Event, time: Option<DateTime<Utc>>, half_life_stories: f64) -> f32 {
        let half_lives = match time {
            Some(t) if event.timed => {
                let distance = if t < event.first_seen {
                    event.first_seen - t
                } else {
                    (t - event.last_updated).max(chrono::Duration::zero())
                };
                distance.num_seconds() as f64 / self.config.decay_half_life_secs.max(1) as f64
            }
            _ => {
                let age = self.arrivals.saturating_sub(event.last_arrival) as f64;
                age / half_life_stories
            }
        };
        0.5f64.powf(half_lives) as f32
    }

    /// The half-life in stories: the configured one until the stream has
    /// shown its pace, then one learned from it. Where each event's stories
    /// come together, a same-kind event long after is a new event; where
    /// stories are shuffled, an event's next member can come much later.
    fn half_life_stories(&self) -> f64 {
        let configured = self.config.decay_half_life_stories.max(1) as f64;
        if self.pace.observed() < self.config.pace_min_joins {
            return configured;
        }
        self.pace
            .quantile(self.config.pace_quantile)
            .map_or(configured, |gap| {
                (gap * self.config.pace_factor).clamp(1.0, configured)
            })
    }

    fn member_of(doc: Document, also_carried_by: Vec<String>) -> EventMember {
        EventMember {
            story_id: doc.id,
            outlet: doc.outlet,
            url: doc.url,
            title: doc.title,
            published: doc.time,
            also_carried_by,
        }
    }

    fn open_event(
        &mut self,
        doc: Document,
        also_carried_by: Vec<String>,
        vector: SparseVector,
        query: &[(u32, f32)],
    ) -> EventIndex {
        let index = self.next_event;
        self.next_event += 1;
        let time = doc.time.or(self.clock).unwrap_or(DateTime::UNIX_EPOCH);
        let norm = idf_norm(&vector, &self.vocabulary);
        let mut centroid = vector;
        if norm > 0.0 {
            centroid.iter_mut().for_each(|(_, w)| *w /= norm);
        }
        keep_heaviest(&mut centroid, self.config.max_event_terms, &self.vocabulary);
        self.event_of_story.insert(doc.id.clone(), index);
        self.events.insert(
            index,
            Event {
                id: format!("ev-{}", doc.id),
                version: 1,
                status: EventStatus::Active,
                first_seen: time,
                last_updated: time,
                timed: doc.time.is_some(),
                members: vec![Self::member_of(doc, also_carried_by)],
                mass: idf_mass(&centroid, &self.vocabulary),
                mass_documents: self.vocabulary.documents(),
                centroid,
                last_arrival: self.arrivals,
                changed_at: self.clock.unwrap_or(time).max(time),
                merged_into: None,
                absorbed: Vec::new(),
                headline: 0,
                published_keywords: Vec::new(),
            },
        );
        self.index.insert(index, query.iter().map(|&(t, _)| t));
        self.lower_due(index);
        index
    }

    fn join(
        &mut self,
        index: EventIndex,
        doc: Document,
        also_carried_by: Vec<String>,
        vector: &SparseVector,
        query: &[(u32, f32)],
    ) {
        self.event_of_story.insert(doc.id.clone(), index);
        let norm = idf_norm(vector, &self.vocabulary);
        let event = self.events.get_mut(&index).expect("a live event");
        // A late story reopens the closed event it belongs to.
        event.status = EventStatus::Active;
        if norm > 0.0 {
            add_scaled(&mut event.centroid, vector, 1.0 / norm);
            keep_heaviest(
                &mut event.centroid,
                self.config.max_event_terms,
                &self.vocabulary,
            );
            event.refresh_mass(&self.vocabulary);
        }
        if let Some(time) = doc.time {
            event.last_updated = if event.timed {
                event.last_updated.max(time)
            } else {
                time
            };
            event.first_seen = event.first_seen.min(time);
            event.timed = true;
        }
        self.pace
            .observe(self.arrivals.saturating_sub(event.last_arrival));
        event.last_arrival = self.arrivals;
        if let Some(clock) = self.clock {
            event.changed_at = event.changed_at.max(clock);
        }
        event.members.push(Self::member_of(doc, also_carried_by));
        let newest = event.members.len() - 1;
        event.consider_headline(newest, &self.vocabulary, &self.config);
        self.index.insert(index, query.iter().map(|&(t, _)| t));
        self.lower_due(index);
    }

    /// After `grown` took a story, merges into it (or it into them) the other
    /// candidates whose centroids now look like the same event. Records of
    /// absorbed events go to `changed`; returns the surviving event.
    fn merge_converging(
        &mut self,
        grown: EventIndex,
        others: &[(f32, EventIndex)],
        changed: &mut Vec<EventRecord>,
    ) -> EventIndex {
        let mut survivor = grown;
        for &(similarity, other) in others {
            if similarity < self.config.join_threshold {
                break;
            }
            let (a, b) = (&self.events[&survivor], &self.events[&other]);
            if !b.is_matchable()
                || self.affinity(idf_similarity(&a.centroid, &b.centroid, &self.vocabulary))
                    < self.config.merge_threshold
            {
                continue;
            }
            // The larger event absorbs the smaller; on a tie, the older one.
            let (absorber, absorbed) = if (b.members.len(), std::cmp::Reverse(other))
                > (a.members.len(), std::cmp::Reverse(survivor))
            {
                (other, survivor)
            } else {
                (survivor, other)
            };
            changed.push(self.merge(absorber, absorbed));
            survivor = absorber;
        }
        survivor
    }

    /// Moves `absorbed` into `absorber` (whose new version the caller sets);
    /// returns the absorbed event's final
    /// (Merged) record, which still lists the members it handed over.
    fn merge(&mut self, absorber: EventIndex, absorbed: EventIndex) -> EventRecord {
        assert_ne!(absorber, absorbed, "an event cannot merge with itself");
        // Taken out while both are changed, put back below.
        let mut absorbed_event = self.events.remove(&absorbed).expect("a live event");
        let absorber_event = self.events.get_mut(&absorber).expect("a live event");
        for member in &absorbed_event.members {
            self.event_of_story
                .insert(member.story_id.clone(), absorber);
        }
        absorbed_event.status = EventStatus::Merged;
        absorbed_event.merged_into = Some(absorber_event.id.clone());
        absorbed_event.version += 1;
        let absorbed_record = absorbed_event.publish(&self.vocabulary, &self.config);

        let offset = absorber_event.members.len();
        absorber_event.members.append(&mut absorbed_event.members);
        add_scaled(&mut absorber_event.centroid, &absorbed_event.centroid, 1.0);
        keep_heaviest(
            &mut absorber_event.centroid,
            self.config.max_event_terms,
            &self.vocabulary,
        );
        absorber_event.refresh_mass(&self.vocabulary);
        // The absorbed event is never compared again: keep what its record shows.
        keep_heaviest(
            &mut absorbed_event.centroid,
            self.config.keywords,
            &self.vocabulary,
        );
        absorber_event.first_seen = absorber_event.first_seen.min(absorbed_event.first_seen);
        if absorbed_event.timed {
            absorber_event.last_updated = if absorber_event.timed {
                absorber_event.last_updated.max(absorbed_event.last_updated)
            } else {
                absorbed_event.last_updated
            };
            absorber_event.timed = true;
        }
        absorber_event.last_arrival = absorber_event.last_arrival.max(absorbed_event.last_arrival);
        absorber_event.changed_at = absorber_event.changed_at.max(absorbed_event.changed_at);
        if let Some(clock) = self.clock {
            absorber_event.changed_at = absorber_event.changed_at.max(clock);
            absorbed_event.changed_at = absorbed_event.changed_at.max(clock);
        }
        absorber_event.absorbed.push(absorbed_event.id.clone());
        absorber_event.consider_headline(
            offset + absorbed_event.headline,
            &self.vocabulary,
            &self.config,
        );
        // Its members live on in the absorber; the slot keeps only a name.
        absorbed_event.headline = 0;

        let terms = heaviest_terms(
            &absorber_event.centroid,
            self.config.query_terms,
            &self.vocabulary,
        );
        self.index
            .insert(absorber, terms.into_iter().map(|(t, _)| t));
        self.events.insert(absorbed, absorbed_event);
        self.lower_due(absorbed);
        self.lower_due(absorber);
        absorbed_record
    }
}
