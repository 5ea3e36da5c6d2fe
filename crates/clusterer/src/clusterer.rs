//! The pure core: stories in, event assignments and changed event records
//! out. No I/O and no wall clock: time is the documents' own time, so the
//! same input in the same order always gives the same output.

use chrono::{DateTime, Utc};
use newsflow_model::{EventMember, EventRecord, EventStatus};
use rustc_hash::FxHashMap;

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

pub struct Clusterer {
    config: ClustererConfig,
    vocabulary: Vocabulary,
    events: Vec<Event>,
    event_of_story: FxHashMap<String, EventIndex>,
    index: PostingIndex,
    /// Scratch space for comparing the current story with its candidates.
    dense_query: DenseQuery,
    arrivals: u64,
    /// Latest document time seen: stands in for documents without one.
    clock: Option<DateTime<Utc>>,
    /// How many stories apart an event's members arrive in this stream.
    pace: JoinPace,
}

impl Clusterer {
    pub fn new(config: ClustererConfig) -> Self {
        Self {
            index: PostingIndex::new(config.max_postings_per_term),
            config,
            vocabulary: Vocabulary::default(),
            dense_query: DenseQuery::default(),
            events: Vec::new(),
            event_of_story: FxHashMap::default(),
            arrivals: 0,
            clock: None,
            pace: JoinPace::default(),
        }
    }

    pub fn config(&self) -> &ClustererConfig {
        &self.config
    }

    /// Assigns a document to an event. A document id seen before changes
    /// nothing: its current event is returned with no changes.
    pub fn add(&mut self, doc: Document) -> Assignment {
        self.add_with_carriers(doc, Vec::new())
    }

    /// As [`Clusterer::add`], for a story other outlets also carried (their
    /// names go to the member's `also_carried_by`).
    pub fn add_with_carriers(&mut self, doc: Document, also_carried_by: Vec<String>) -> Assignment {
        if let Some(&event) = self.event_of_story.get(&doc.id) {
            return Assignment {
                event_id: self.events[event as usize].id.clone(),
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
                self.events[survivor as usize].version += 1;
                changed
                    .push(self.events[survivor as usize].publish(&self.vocabulary, &self.config));
                survivor
            }
            _ => {
                let event = self.open_event(doc, also_carried_by, vector, &query);
                changed.push(self.events[event as usize].publish(&self.vocabulary, &self.config));
                event
            }
        };
        Assignment {
            event_id: self.events[target as usize].id.clone(),
            changed,
        }
    }

    /// Closes every active event that no story joined for longer than the
    /// quiet period before `now`, returning their Closed records. Events
    /// closed for longer than the late-arrival period are retired.
    pub fn close_quiet(&mut self, now: DateTime<Utc>) -> Vec<EventRecord> {
        let quiet = self.quiet_period();
        let retire_after = quiet + self.late_arrival_period();
        let mut closed = Vec::new();
        for event in &mut self.events {
            if event.is_active() && now - event.last_updated > quiet {
                event.status = EventStatus::Closed;
                event.version += 1;
                closed.push(event.publish(&self.vocabulary, &self.config));
            }
            if event.status == EventStatus::Closed
                && !event.retired
                && now - event.last_updated > retire_after
            {
                event.retired = true;
                // A retired event is never compared again: keep only what
                // its record shows.
                keep_heaviest(&mut event.centroid, self.config.keywords, &self.vocabulary);
            }
        }
        closed
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
        let event = &mut self.events[event as usize];
        let member = event.members.iter_mut().find(|m| m.story_id == story_id)?;
        if member.title == title && member.also_carried_by == also_carried_by {
            return None;
        }
        member.title = title.to_string();
        member.also_carried_by = also_carried_by.to_vec();
        event.version += 1;
        Some(event.publish(&self.vocabulary, &self.config))
    }

    /// A placed story's member entry.
    pub fn member(&self, story_id: &str) -> Option<&EventMember> {
        let &event = self.event_of_story.get(story_id)?;
        self.events[event as usize]
            .members
            .iter()
            .find(|m| m.story_id == story_id)
    }

    /// The current record of the event a story belongs to.
    pub fn current_record(&self, story_id: &str) -> Option<EventRecord> {
        let &event = self.event_of_story.get(story_id)?;
        Some(self.events[event as usize].record(&self.config))
    }

    /// Whether [`Clusterer::close_quiet`] at `now` would close anything.
    pub fn has_quiet_events(&self, now: DateTime<Utc>) -> bool {
        let quiet = self.quiet_period();
        let retire_after = quiet + self.late_arrival_period();
        self.events.iter().any(|e| {
            (e.is_active() && now - e.last_updated > quiet)
                || (e.status == EventStatus::Closed
                    && !e.retired
                    && now - e.last_updated > retire_after)
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
            .map(|&e| self.events[e as usize].id.as_str())
    }

    /// The current record of every event, in order of creation.
    pub fn records(&self) -> Vec<EventRecord> {
        self.events.iter().map(|e| e.record(&self.config)).collect()
    }

    /// Events ever opened (active, closed or merged away).
    pub fn records_count(&self) -> usize {
        self.events.len()
    }

    pub fn active_stories(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.is_active())
            .map(|e| e.members.len())
            .sum()
    }

    /// Approximate heap bytes of the whole state, for the memory bench.
    pub fn heap_bytes(&self) -> usize {
        let events: usize = self.events.iter().map(Event::heap_bytes).sum();
        let story_map: usize = self
            .event_of_story
            .keys()
            .map(|k| k.capacity())
            .sum::<usize>()
            + self.event_of_story.capacity() * (std::mem::size_of::<String>() + 4 + 1);
        events
            + story_map
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
                let event = &events[e as usize];
                event.is_matchable()
                    && !(event.timed && time.is_some_and(|t| t - event.last_updated > quiet))
            });
        for &e in &candidates {
            self.events[e as usize].refresh_mass_if_stale(&self.vocabulary);
        }
        self.dense_query.load(vector, &self.vocabulary);
        let half_life_stories = self.half_life_stories();
        let mut scored: Vec<(f32, EventIndex)> = candidates
            .into_iter()
            .map(|e| {
                let event = &self.events[e as usize];
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
        let index = self.events.len() as EventIndex;
        let time = doc.time.or(self.clock).unwrap_or(DateTime::UNIX_EPOCH);
        let norm = idf_norm(&vector, &self.vocabulary);
        let mut centroid = vector;
        if norm > 0.0 {
            centroid.iter_mut().for_each(|(_, w)| *w /= norm);
        }
        keep_heaviest(&mut centroid, self.config.max_event_terms, &self.vocabulary);
        self.event_of_story.insert(doc.id.clone(), index);
        self.events.push(Event {
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
            merged_into: None,
            absorbed: Vec::new(),
            headline: 0,
            retired: false,
            published_keywords: Vec::new(),
        });
        self.index.insert(index, query.iter().map(|&(t, _)| t));
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
        let event = &mut self.events[index as usize];
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
        event.members.push(Self::member_of(doc, also_carried_by));
        let newest = event.members.len() - 1;
        event.consider_headline(newest, &self.vocabulary, &self.config);
        self.index.insert(index, query.iter().map(|&(t, _)| t));
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
            let (a, b) = (
                &self.events[survivor as usize],
                &self.events[other as usize],
            );
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
        let (absorber_event, absorbed_event) =
            pair_mut(&mut self.events, absorber as usize, absorbed as usize);
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
        absorbed_record
    }
}

/// Two distinct elements of a slice, mutably.
fn pair_mut<T>(items: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b, "an event cannot merge with itself");
    if a < b {
        let (left, right) = items.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = items.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}
