//! `events`: the state of one real-world event, re-published whole on every
//! change so a compacted topic keeps each event's latest state.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{topics, Message};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
/// Where an event is in its life.
pub enum EventStatus {
    /// Taking new members.
    Active,
    /// No story joined for the quiet period (`clusterer.quiet_period_secs`
    /// of story time). A story arriving late whose own time is within the
    /// quiet period after the event's last member can still join, which
    /// makes the event `active` again.
    Closed,
    /// Absorbed by another event, named in `merged_into`; final.
    Merged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
/// One story of an event.
pub struct EventMember {
    /// The story's id (from `unique`): the article id of its first copy.
    pub story_id: String,
    /// The outlet that published the story first.
    pub outlet: String,
    /// The story's URL at that outlet.
    pub url: String,
    /// The story's title; follows the story when a later revision changes it.
    pub title: String,
    /// The story's time: its publication time, or when it was fetched if
    /// the page gave none.
    pub published: Option<DateTime<Utc>>,
    /// Other outlets that carried a copy of this story.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_carried_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
/// The whole current state of one event (topic `events`, keyed by
/// `event_id`): keep the record with the highest `version` per event.
pub struct EventRecord {
    /// The message's schema version: `1` (readers of major version 1
    /// accept any `1.x`).
    pub schema_version: u32,
    /// `ev-` and the id of the story that opened the event; never changes.
    pub event_id: String,
    /// Starts at 1 and rises by one with every change. A record may come
    /// again with the same version (a redelivered story): keep either.
    pub version: u64,
    /// `active`, `closed` or `merged`.
    pub status: EventStatus,
    /// The member title closest to the event's centre, chosen again as
    /// members join, so a stray first title does not name it for ever.
    pub headline: String,
    /// The event's heaviest terms, heaviest first (at most
    /// `clusterer.keywords`).
    pub keywords: Vec<String>,
    /// The event's members, at most the newest `clusterer.max_record_members`
    /// of them (in the order they joined), so that a record never outgrows
    /// the bus's message limit however large its event grows.
    pub members: Vec<EventMember>,
    /// How many members the event has in all, listed or not. Absent in
    /// records written before the bound: `members` then lists them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
    /// The earliest member time.
    pub first_seen: DateTime<Utc>,
    /// The latest member time (story time, not the clock of the machine).
    pub last_updated: DateTime<Utc>,
    /// On a `merged` record: the event that absorbed this one.
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
