//! `newsflow dead-letters list|replay`: what the stages gave up on.
//!
//! Both read the `dead-letters` topic from its start without joining a
//! consumer group (a group would hold back the embedded bus's producers and
//! delete what it passed). Replay remembers what it re-injected in the
//! `dead-letters-replayed` topic, one record per letter, so running it twice
//! re-injects nothing twice. A crash between re-injecting a letter and
//! recording it re-injects that one letter again at the next replay, which
//! the stages absorb (they are idempotent per key).

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use newsflow_bus::{BusKind, Delivery, EmbeddedBus, KafkaBus, TopicHistory, TopicReader};
use newsflow_model::{decode, topics, DeadLetter};
use serde::{Deserialize, Serialize};

use crate::cli::{DeadLettersCommand, DeadLettersListArgs, DeadLettersReplayArgs, OutputFormat};
use crate::pipeline::{self, DEAD_LETTERS_REPLAYED};
use crate::settings::Settings;

/// Topics a letter may be replayed into: the streams between stages. Never
/// a stage's state log, never the dead letters themselves.
const REPLAYABLE_TOPICS: &[&str] = &[
    topics::RAW,
    topics::ARTICLES,
    topics::UNIQUE,
    topics::DUPLICATES,
    topics::EVENTS,
];

/// How long one re-injection may wait (the embedded bus makes producers
/// wait while a stage's backlog is full).
const SEND_LIMIT: Duration = Duration::from_secs(60);

pub async fn run(command: DeadLettersCommand) -> anyhow::Result<()> {
    match command {
        DeadLettersCommand::List(args) => list(args).await,
        DeadLettersCommand::Replay(args) => replay(args).await,
    }
}

/// A letter with where it sits on the dead-letter topic.
struct Stored {
    partition: i32,
    offset: i64,
    letter: DeadLetter,
}

/// What `replay` writes for each letter it re-injected.
#[derive(Debug, Serialize, Deserialize)]
struct ReplayMark {
    partition: i32,
    offset: i64,
    replayed_at: chrono::DateTime<chrono::Utc>,
}

fn mark_key(partition: i32, offset: i64) -> String {
    format!("{partition}:{offset}")
}

/// Reads one topic from its start to where it ends now.
enum TopicScan {
    Embedded(TopicReader),
    Kafka(Option<TopicHistory>),
}

impl TopicScan {
    async fn open(settings: &Settings, topic: &str) -> anyhow::Result<Self> {
        Ok(match settings.bus.kind {
            BusKind::Embedded => {
                settings.ensure_data_dir()?;
                let bus = EmbeddedBus::open(
                    &settings.data_dir,
                    &settings.bus.embedded,
                    pipeline::COMPACTED_TOPICS,
                )
                .context("opening the embedded bus")?;
                TopicScan::Embedded(bus.reader(topic, 0))
            }
            BusKind::Kafka => {
                let bus =
                    KafkaBus::connect(settings.bus.kafka.clone()).context("connecting to Kafka")?;
                let topic = topic.to_string();
                let history = tokio::task::spawn_blocking(move || bus.written_history(&topic))
                    .await
                    .context("reading the topic")??;
                TopicScan::Kafka(history)
            }
        })
    }

    /// The next records, or `None` at the end.
    async fn next(&mut self) -> anyhow::Result<Option<Vec<Delivery>>> {
        match self {
            TopicScan::Embedded(reader) => {
                let batch = reader.read_available()?;
                Ok((!batch.is_empty()).then_some(batch))
            }
            TopicScan::Kafka(None) => Ok(None),
            TopicScan::Kafka(Some(history)) => Ok(history.next().await?.map(|d| vec![d])),
        }
    }
}

/// Every readable letter (of `stage`, if given), oldest first.
async fn read_letters(settings: &Settings, stage: Option<&str>) -> anyhow::Result<Vec<Stored>> {
    let mut scan = TopicScan::open(settings, topics::DEAD_LETTERS).await?;
    let mut letters = Vec::new();
    while let Some(batch) = scan.next().await? {
        for delivery in batch {
            match decode::<DeadLetter>(&delivery.payload) {
                Ok(letter) if stage.is_none_or(|s| s == letter.stage) => letters.push(Stored {
                    partition: delivery.partition,
                    offset: delivery.offset,
                    letter,
                }),
                Ok(_) => {}
                Err(error) => tracing::warn!(offset = delivery.offset, %error,
                    "skipping an unreadable record on the dead-letter topic"),
            }
        }
    }
    Ok(letters)
}

/// The positions of the letters replayed before.
async fn read_marks(settings: &Settings) -> anyhow::Result<HashSet<String>> {
    let mut scan = TopicScan::open(settings, DEAD_LETTERS_REPLAYED).await?;
    let mut marks = HashSet::new();
    while let Some(batch) = scan.next().await? {
        for delivery in batch {
            match serde_json::from_slice::<ReplayMark>(&delivery.payload) {
                Ok(mark) => {
                    marks.insert(mark_key(mark.partition, mark.offset));
                }
                Err(error) => tracing::warn!(offset = delivery.offset, %error,
                    "skipping an unreadable replay mark"),
            }
        }
    }
    Ok(marks)
}

async fn list(args: DeadLettersListArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let letters = read_letters(&settings, args.stage.as_deref()).await?;
    let marks = read_marks(&settings).await?;
    for stored in &letters {
        let replayed = marks.contains(&mark_key(stored.partition, stored.offset));
        let letter = &stored.letter;
        match args.format {
            OutputFormat::Json => {
                let mut value = serde_json::to_value(letter)?;
                if let Some(object) = value.as_object_mut() {
                    object.insert("dead_letter_partition".into(), stored.partition.into());
                    object.insert("dead_letter_offset".into(), stored.offset.into());
                    object.insert("replayed".into(), replayed.into());
                }
                println!("{value}");
            }
            OutputFormat::Text => {
                let position = match (letter.partition, letter.offset) {
                    (Some(partition), Some(offset)) => {
                        format!("{}[{partition}]@{offset}", letter.topic)
                    }
                    _ => format!("{} (not delivered)", letter.topic),
                };
                let mut notes = format!("{} bytes", letter.payload_bytes);
                if letter.payload_truncated {
                    notes.push_str(", cut");
                }
                if replayed {
                    notes.push_str(", replayed");
                }
                println!(
                    "{} {} {} {} key={} ({notes}): {}",
                    letter.at.to_rfc3339(),
                    letter.stage,
                    serde_json::to_value(letter.reason)?.as_str().unwrap_or("?"),
                    position,
                    letter.key.as_deref().unwrap_or("-"),
                    letter.error,
                );
            }
        }
    }
    if args.format == OutputFormat::Text {
        println!("{} dead letters", letters.len());
    }
    Ok(())
}

async fn replay(args: DeadLettersReplayArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let letters = read_letters(&settings, args.stage.as_deref()).await?;
    let marks = read_marks(&settings).await?;
    let opened = pipeline::open_bus(&settings).await?;
    let producer = opened.bus.producer().await?;
    let (mut replayed, mut already, mut cut, mut elsewhere) = (0u64, 0u64, 0u64, 0u64);
    for stored in &letters {
        let letter = &stored.letter;
        let key = mark_key(stored.partition, stored.offset);
        if marks.contains(&key) {
            already += 1;
            continue;
        }
        if letter.payload_truncated {
            cut += 1;
            println!(
                "skipping dead letter {key} ({} on {}): its payload was cut at {} of {} bytes",
                letter.stage,
                letter.topic,
                letter.payload.len(),
                letter.payload_bytes
            );
            continue;
        }
        if !REPLAYABLE_TOPICS.contains(&letter.topic.as_str()) {
            elsewhere += 1;
            println!(
                "skipping dead letter {key}: topic {} is not one replay writes to",
                letter.topic
            );
            continue;
        }
        let record_key = letter.key.clone().unwrap_or_default();
        tokio::time::timeout(
            SEND_LIMIT,
            producer.send(&letter.topic, &record_key, letter.payload.clone()),
        )
        .await
        .with_context(|| {
            format!(
                "re-injecting dead letter {key} into {}: the bus did not take it in time",
                letter.topic
            )
        })?
        .with_context(|| format!("re-injecting dead letter {key} into {}", letter.topic))?;
        let mark = ReplayMark {
            partition: stored.partition,
            offset: stored.offset,
            replayed_at: chrono::Utc::now(),
        };
        tokio::time::timeout(
            SEND_LIMIT,
            producer.send(DEAD_LETTERS_REPLAYED, &key, serde_json::to_vec(&mark)?),
        )
        .await
        .with_context(|| {
            format!("recording the replay of dead letter {key}: the bus did not take it in time")
        })?
        .with_context(|| format!("recording the replay of dead letter {key}"))?;
        replayed += 1;
    }
    println!(
        "replayed {replayed} dead letters ({already} replayed before, {cut} with a cut payload, {elsewhere} for other topics skipped)"
    );
    Ok(())
}
