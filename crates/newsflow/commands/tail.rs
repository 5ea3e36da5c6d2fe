//! `newsflow tail`: follow the `events` topic.

use std::time::{Duration, Instant};

use newsflow_bus::{BusKind, EmbeddedBus, KafkaBus};
use newsflow_model::{decode, topics, EventRecord};

use crate::cli::{OutputFormat, TailArgs};
use crate::event_view;
use crate::pipeline::COMPACTED_TOPICS;
use crate::settings::Settings;

const POLL_EVERY: Duration = Duration::from_millis(300);

pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let idle_limit = args.idle_exit_secs.map(Duration::from_secs);
    let mut last_record = Instant::now();
    let print = |payload: &[u8]| match decode::<EventRecord>(payload) {
        Ok(event) => match args.format {
            OutputFormat::Json => match serde_json::to_string(&event) {
                Ok(line) => println!("{line}"),
                Err(error) => tracing::warn!(%error, "cannot print event"),
            },
            OutputFormat::Text => println!("{}", event_view::render(&event)),
        },
        Err(error) => tracing::warn!(%error, "skipping a malformed event record"),
    };
    let shutdown = crate::pipeline::shutdown::on_signals();
    match settings.bus.kind {
        BusKind::Embedded => {
            let bus =
                EmbeddedBus::open(&settings.data_dir, &settings.bus.embedded, COMPACTED_TOPICS)?;
            let mut reader = bus.reader(topics::EVENTS, 0);
            while !shutdown.is_cancelled() {
                let batch = reader.read_available()?;
                if batch.is_empty() {
                    if idle_limit.is_some_and(|limit| last_record.elapsed() >= limit) {
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(POLL_EVERY) => {}
                        _ = shutdown.cancelled() => {}
                    }
                    continue;
                }
                last_record = Instant::now();
                for delivery in batch {
                    print(&delivery.payload);
                }
            }
        }
        BusKind::Kafka => {
            let bus = KafkaBus::connect(settings.bus.kafka.clone())?;
            let group = format!(
                "tail-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_millis()
            );
            let mut consumer = bus.observer(topics::EVENTS, &group)?;
            while !shutdown.is_cancelled() {
                let polled = tokio::select! {
                    polled = consumer.poll(POLL_EVERY) => polled,
                    _ = shutdown.cancelled() => break,
                };
                match polled {
                    Ok(Some(delivery)) => {
                        last_record = Instant::now();
                        print(&delivery.payload);
                    }
                    Ok(None) => {
                        if idle_limit.is_some_and(|limit| last_record.elapsed() >= limit) {
                            break;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "reading events failed; retrying"),
                }
            }
        }
    }
    Ok(())
}
