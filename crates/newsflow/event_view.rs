//! How events look to a person: the newest version of each, biggest first.

use std::collections::BTreeMap;
use std::fmt::Write;

use newsflow_model::{EventRecord, EventStatus};

/// Keeps the newest version of every event seen.
#[derive(Default)]
pub struct LatestEvents {
    by_id: BTreeMap<String, EventRecord>,
}

impl LatestEvents {
    pub fn update(&mut self, record: EventRecord) {
        match self.by_id.get(&record.event_id) {
            Some(known) if known.version >= record.version => {}
            _ => {
                self.by_id.insert(record.event_id.clone(), record);
            }
        }
    }

    /// Events that still stand (not merged into another), most members first.
    pub fn standing(&self) -> Vec<&EventRecord> {
        let mut events: Vec<&EventRecord> = self
            .by_id
            .values()
            .filter(|e| e.status != EventStatus::Merged)
            .collect();
        events.sort_by(|a, b| {
            b.total_members()
                .cmp(&a.total_members())
                .then_with(|| a.first_seen.cmp(&b.first_seen))
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
        events
    }
}

pub fn render(event: &EventRecord) -> String {
    let mut outlets: Vec<&str> = event.members.iter().map(|m| m.outlet.as_str()).collect();
    outlets.sort_unstable();
    outlets.dedup();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Event {} v{} [{}] — {} stories from {} outlets{}",
        event.event_id,
        event.version,
        match event.status {
            EventStatus::Active => "active",
            EventStatus::Closed => "closed",
            EventStatus::Merged => "merged",
        },
        event.total_members(),
        outlets.len(),
        if event.total_members() > event.members.len() as u64 {
            format!(" (newest {} listed)", event.members.len())
        } else {
            String::new()
        },
    );
    let _ = writeln!(text, "  {}", event.headline);
    if !event.keywords.is_empty() {
        let _ = writeln!(text, "  keywords: {}", event.keywords.join(", "));
    }
    for member in &event.members {
        let published = member
            .published
            .map(|p| p.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "undated".into());
        let _ = writeln!(
            text,
            "  - {} · {} · {}\n    {}",
            member.outlet, published, member.title, member.url
        );
        if !member.also_carried_by.is_empty() {
            let _ = writeln!(
                text,
                "    also carried by: {}",
                member.also_carried_by.join(", ")
            );
        }
    }
    text
}
