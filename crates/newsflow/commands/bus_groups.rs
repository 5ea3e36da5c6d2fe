//! `newsflow bus groups [--drop NAME] [--format json]`: the embedded bus's
//! consumer groups. Listing only reads, so it works while a run holds the
//! data directory; dropping takes the directory's lock, so it is refused
//! while a run uses the bus (the run's own groups would come back, and a
//! detached one is dropped by the run itself after its retention).

use anyhow::Context;
use newsflow_bus::{BusKind, EmbeddedBus, GroupInfo};
use serde::Serialize;

use crate::cli::{BusGroupsArgs, OutputFormat};
use crate::data_dir_lock::DataDirLock;
use crate::pipeline::COMPACTED_TOPICS;
use crate::settings::Settings;

#[derive(Serialize)]
struct GroupRow {
    group: String,
    topic: String,
    position: i64,
    pending: u64,
    attached: bool,
    /// The process it is attached to, while attached.
    attached_pid: Option<u32>,
    last_seen: Option<String>,
}

pub fn run(args: BusGroupsArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    anyhow::ensure!(
        settings.bus.kind == BusKind::Embedded,
        "`bus groups` manages the embedded bus; on Kafka use the broker's tools \
         (kafka-consumer-groups)"
    );
    let log = EmbeddedBus::log_path(&settings.data_dir, &settings.bus.embedded);
    anyhow::ensure!(
        log.is_file(),
        "no embedded bus log at {} (wrong --data-dir?)",
        log.display()
    );
    if let Some(group) = &args.drop {
        let _lock = DataDirLock::acquire(&settings.data_dir)
            .context("dropping a group needs the data directory to itself")?;
        let bus = open(&settings)?;
        let removed = bus.drop_group(group)?;
        anyhow::ensure!(removed > 0, "no consumer group named {group}");
        eprintln!("dropped consumer group {group} ({removed} topic(s))");
        return Ok(());
    }
    let bus = open(&settings)?;
    let holder = DataDirLock::holder(&settings.data_dir);
    let rows: Vec<GroupRow> = bus
        .groups()?
        .into_iter()
        .map(|info| row(info, holder))
        .collect();
    match args.format {
        OutputFormat::Json => {
            for row in &rows {
                println!("{}", serde_json::to_string(row)?);
            }
        }
        OutputFormat::Text => {
            println!(
                "{:<20} {:<20} {:>10} {:>10} {:<9} LAST SEEN",
                "GROUP", "TOPIC", "POSITION", "PENDING", "ATTACHED"
            );
            for row in &rows {
                println!(
                    "{:<20} {:<20} {:>10} {:>10} {:<9} {}",
                    row.group,
                    row.topic,
                    row.position,
                    row.pending,
                    match row.attached_pid {
                        Some(pid) if row.attached => format!("pid {pid}"),
                        _ => "no".into(),
                    },
                    row.last_seen.as_deref().unwrap_or("never"),
                );
            }
        }
    }
    Ok(())
}

fn open(settings: &Settings) -> anyhow::Result<EmbeddedBus> {
    EmbeddedBus::open(&settings.data_dir, &settings.bus.embedded, COMPACTED_TOPICS)
        .context("opening the embedded bus")
}

/// A group is attached when the process that attached it still holds the
/// data directory (a killed run leaves its mark, but not its lock).
fn row(info: GroupInfo, holder: Option<u32>) -> GroupRow {
    let attached = info.attached_pid.is_some() && info.attached_pid == holder;
    GroupRow {
        attached,
        attached_pid: info.attached_pid.filter(|_| attached),
        last_seen: info
            .last_seen_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        group: info.group,
        topic: info.topic,
        position: info.position,
        pending: info.pending,
    }
}
