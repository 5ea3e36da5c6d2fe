//! Reading the `events` topic from its start and on as records arrive, over
//! either bus: what `tail` and `serve` both do.

use std::time::{Duration, Instant};

use newsflow_bus::{BusKind, EmbeddedBus, KafkaBus};
use newsflow_model::topics;
use tokio_util::sync::CancellationToken;

use crate::pipeline::COMPACTED_TOPICS;
use crate::settings::Settings;

const POLL_EVERY: Duration = Duration::from_millis(300);
/// How long `drain_on_stop` may go on reading after the stop.
const DRAIN_WITHIN: Duration = Duration::from_secs(10);

/// Hands every payload of `events` to `on_record` until `shutdown`, or until
/// `idle_limit` passes without a new record. Embedded: reads the data
/// directory's log from offset 0. Kafka: an observer consumer in a group of
/// its own (`group_prefix`, the process id and the time), so it never takes
/// records from the pipeline's consumers or commits for them.
///
/// `drain_on_stop` (embedded only): after `shutdown`, still hand over what
/// the log holds then. Only for a reader that has kept up (the log may be
/// long for one that just started); Kafka stops at once.
pub async fn follow(
    settings: &Settings,
    group_prefix: &str,
    idle_limit: Option<Duration>,
    shutdown: &CancellationToken,
    drain_on_stop: bool,
    mut on_record: impl FnMut(&[u8]),
) -> anyhow::Result<()> {
    let mut last_record = Instant::now();
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
                    on_record(&delivery.payload);
                }
            }
            if drain_on_stop {
                // A writer elsewhere could keep the log growing: the drain
                // has a time limit as its way out.
                let give_up = Instant::now() + DRAIN_WITHIN;
                while Instant::now() < give_up {
                    let batch = reader.read_available()?;
                    if batch.is_empty() {
                        break;
                    }
                    for delivery in batch {
                        on_record(&delivery.payload);
                    }
                }
            }
        }
        BusKind::Kafka => {
            let bus = KafkaBus::connect(settings.bus.kafka.clone())?;
            let group = format!(
                "{group_prefix}-{}-{}",
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
                        on_record(&delivery.payload);
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
