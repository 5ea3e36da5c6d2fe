//! `events`: the state of one real-world event, re-published whole on every
//! change so a compacted topic keeps each event's latest state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{topics, Message};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Active,
    /// No story joined for the quiet period; the event takes no new members.
    Closed,
    /// Absorbed by another event, named in `merged_into`.
    Merged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMember {
    pub story_id: String,
    pub outlet: String,
    pub url: String,
    pub title: String,
    pub published: Option<DateTime<Utc>>,
    /// Other outlets that carried a copy of this story.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_carried_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub schema_version: u32,
    pub event_id: String,
    /// Starts at 1 and rises by one with every record published for the event.
    pub version: u64,
    pub status: EventStatus,
    pub headline: String,
    pub keywords: Vec<String>,
    /// The event's members, at most the newest `clusterer.max_record_members`
    /// of them (in the order they joined), so that a record never outgrows
    /// the bus's message limit however large its event grows.
    pub members: Vec<EventMember>,
    /// How many members the event has in all, listed or not. Absent in
    /// records written before the bound: `members` then lists them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
    pub first_seen: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// Events this one absorbed, over its life.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absorbed: Vec<String>,
}

impl EventRecord {
    /// How many members the event has, also when `members` lists only the
    /// newest of them.
    pub fn total_members(&self) -> u64 {
        self.member_count.unwrap_or(self.members.len() as u64)
    }
}

impl Message for EventRecord {
    const TOPIC: &'static str = topics::EVENTS;
    fn key(&self) -> String {
        self.event_id.clone()
    }
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}
