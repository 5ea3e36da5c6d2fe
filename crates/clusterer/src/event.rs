//! One event as the clusterer holds it, and the record it publishes.

use chrono::{DateTime, Utc};
use newsflow_model::{EventMember, EventRecord, EventStatus, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};

use crate::config::ClustererConfig;
use crate::features::lookup_text;
use crate::vector::{heaviest_terms, idf_cosine, idf_mass, Mass, SparseVector};
use crate::vocabulary::Vocabulary;

#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub version: u64,
    pub status: EventStatus,
    #[serde(with = "snapshot_members")]
    pub members: Vec<EventMember>,
    /// Sum of the members' unit-length vectors (IDF applied at comparison).
    pub centroid: SparseVector,
    /// The centroid's mass under the IDF of its last change. IDF drifts
    /// slowly, so this spares recomputing it for every comparison.
    pub mass: Mass,
    /// Documents the vocabulary had seen when `mass` was computed.
    pub mass_documents: u64,
    pub first_seen: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    /// Whether `last_updated` came from a document's time (else a fallback).
    pub timed: bool,
    /// Arrival number of the last story that joined.
    pub last_arrival: u64,
    /// The clusterer's clock (latest story time seen) at the event's last
    /// change: retirement waits for it as well as for `last_updated`.
    pub changed_at: DateTime<Utc>,
    pub merged_into: Option<String>,
    pub absorbed: Vec<String>,
    /// Index into `members` of the title used as headline.
    pub headline: usize,
    /// The keywords of the record published for `version`. Keywords depend
    /// on the vocabulary, which moves with every story: a record shown
    /// again (a story delivered twice) must be the one published for its
    /// version, not one recomputed later.
    pub published_keywords: Vec<String>,
}

impl Event {
    /// Recomputes the cached mass after the centroid changed.
    pub fn refresh_mass(&mut self, vocabulary: &Vocabulary) {
        self.mass = idf_mass(&self.centroid, vocabulary);
        self.mass_documents = vocabulary.documents();
    }

    /// Recomputes the cached mass once the stream has grown by a tenth since
    /// it was computed: IDF moves with the logarithm of the stream's size,
    /// so this bounds the drift while costing little on a long stream.
    pub fn refresh_mass_if_stale(&mut self, vocabulary: &Vocabulary) {
        if vocabulary.documents() > self.mass_documents + self.mass_documents / 10 {
            self.refresh_mass(vocabulary);
        }
    }

    /// When the event last changed, in story time or on the clock.
    pub fn last_changed(&self) -> DateTime<Utc> {
        self.last_updated.max(self.changed_at)
    }

    /// What its time to closing (while active) or to retiring (once not)
    /// counts from.
    pub fn last_activity(&self) -> DateTime<Utc> {
        if self.is_active() {
            self.last_updated
        } else {
            self.last_changed()
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == EventStatus::Active
    }

    /// Closes the event: a new version, whose record is returned.
    pub fn close(&mut self, vocabulary: &Vocabulary, config: &ClustererConfig) -> EventRecord {
        self.status = EventStatus::Closed;
        self.version += 1;
        self.publish(vocabulary, config)
    }

    /// Whether a story may still join: active events, and closed ones not
    /// yet retired (a story published inside a closed event's time span can
    /// arrive late, when its feed is polled after the stream moved on).
    /// Retired events are freed, so every event held is one of these unless
    /// it was merged away.
    pub fn is_matchable(&self) -> bool {
        self.status != EventStatus::Merged
    }

    /// Re-chooses the headline: the member title closest to the centroid,
    /// so a stray first title does not name the event for ever. Only the
    /// current headline and `challenger` are compared, keeping this O(1).
    pub fn consider_headline(
        &mut self,
        challenger: usize,
        vocabulary: &Vocabulary,
        config: &ClustererConfig,
    ) {
        if challenger == self.headline {
            return;
        }
        let score = |title: &str| {
            let v = lookup_text(title, vocabulary, config);
            idf_cosine(&v, &self.centroid, vocabulary)
        };
        if score(&self.members[challenger].title) > score(&self.members[self.headline].title) {
            self.headline = challenger;
        }
    }

    /// The record of a new version: computes its keywords now and keeps
    /// them with the version.
    pub fn publish(&mut self, vocabulary: &Vocabulary, config: &ClustererConfig) -> EventRecord {
        self.published_keywords = heaviest_terms(&self.centroid, config.keywords, vocabulary)
            .into_iter()
            .map(|(t, _)| vocabulary.display(t))
            .collect();
        self.record(config)
    }

    /// The record published for the current version.
    pub fn record(&self, config: &ClustererConfig) -> EventRecord {
        EventRecord {
            schema_version: SCHEMA_VERSION,
            event_id: self.id.clone(),
            version: self.version,
            status: self.status,
            headline: self
                .members
                .get(self.headline)
                .map(|m| m.title.clone())
                .unwrap_or_default(),
            keywords: self.published_keywords.clone(),
            members: self.record_members(config).to_vec(),
            member_count: Some(self.members.len() as u64),
            first_seen: self.first_seen,
            last_updated: self.last_updated,
            merged_into: self.merged_into.clone(),
            absorbed: self.absorbed.clone(),
        }
    }

    /// The members a record lists: the newest `max_record_members` to join
    /// (the end of `members`), so that an event of any size fits one bus
    /// message; `member_count` on the record tells how many there are.
    fn record_members(&self, config: &ClustererConfig) -> &[EventMember] {
        let listed = self.members.len().min(config.max_record_members.max(1));
        &self.members[self.members.len() - listed..]
    }

    /// Approximate heap bytes held, for the memory bench.
    pub fn heap_bytes(&self) -> usize {
        let members: usize = self
            .members
            .iter()
            .map(|m| {
                m.story_id.capacity()
                    + m.outlet.capacity()
                    + m.url.capacity()
                    + m.title.capacity()
                    + m.also_carried_by
                        .iter()
                        .map(|o| o.capacity() + 24)
                        .sum::<usize>()
            })
            .sum();
        std::mem::size_of::<Self>()
            + self.id.capacity()
            + members
            + self.members.capacity() * std::mem::size_of::<EventMember>()
            + self.centroid.capacity() * std::mem::size_of::<(u32, f32)>()
            + self
                .absorbed
                .iter()
                .map(|a| a.capacity() + 24)
                .sum::<usize>()
    }
}

/// Members as a snapshot holds them. [`EventMember`] skips empty fields when
/// serialised (right for JSON records), which a compact format without field
/// names cannot read back, so snapshots write every field.
mod snapshot_members {
    use chrono::{DateTime, Utc};
    use newsflow_model::EventMember;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct MemberRef<'a> {
        story_id: &'a str,
        outlet: &'a str,
        url: &'a str,
        title: &'a str,
        published: Option<DateTime<Utc>>,
        also_carried_by: &'a [String],
    }

    #[derive(Deserialize)]
    struct Member {
        story_id: String,
        outlet: String,
        url: String,
        title: String,
        published: Option<DateTime<Utc>>,
        also_carried_by: Vec<String>,
    }

    pub fn serialize<S: Serializer>(
        members: &[EventMember],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(members.iter().map(|m| MemberRef {
            story_id: &m.story_id,
            outlet: &m.outlet,
            url: &m.url,
            title: &m.title,
            published: m.published,
            also_carried_by: &m.also_carried_by,
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<EventMember>, D::Error> {
        let members = Vec::<Member>::deserialize(deserializer)?;
        Ok(members
            .into_iter()
            .map(|m| EventMember {
                story_id: m.story_id,
                outlet: m.outlet,
                url: m.url,
                title: m.title,
                published: m.published,
                also_carried_by: m.also_carried_by,
            })
            .collect())
    }
}
