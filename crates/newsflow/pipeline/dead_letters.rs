//! Sending records a stage gave up on to the `dead-letters` topic: the one
//! way out of every path that would otherwise drop a record or retry it for
//! ever. A letter is sent like any output (retried while the bus is away),
//! and counted in `newsflow_dead_letters_total{stage,reason}`.

use std::time::Duration;

use newsflow_bus::{BusError, Producer};
use newsflow_model::{encode, DeadLetter, DeadLetterReason, Message};
use tokio_util::sync::CancellationToken;

use super::internal_events::{DeadLetterLost, DeadLetterWritten};
use super::stage_loop::backoff;

/// The most bytes of an error message a letter keeps: enough to diagnose,
/// and an error that quotes its input cannot make the letter too large.
const ERROR_CAP: usize = 4 * 1024;

/// How long to keep trying to send a letter.
pub enum Persistence<'a> {
    /// Until it is sent, or until shutdown (a stage's input is then left
    /// unacknowledged, so it comes back after a restart).
    UntilShutdown(&'a CancellationToken),
    /// At most this many attempts (the fetcher's sink, whose item is then
    /// tried again at a later poll).
    Attempts(u32),
}

/// What became of one letter.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// The bus holds it.
    Held,
    /// The bus refused it for good (a limit configured below the letter's
    /// size): logged and counted, and the record is let go, since nothing
    /// retried could ever hold it.
    Refused,
    /// Shutdown came first, or the attempts ran out.
    NotYet,
}

/// The label of `reason` in metrics and logs: its name in the letter.
pub fn reason_label(reason: DeadLetterReason) -> &'static str {
    match reason {
        DeadLetterReason::Malformed => "malformed",
        DeadLetterReason::SchemaVersion => "schema_version",
        DeadLetterReason::Panic => "panic",
        DeadLetterReason::Rejected => "rejected",
        DeadLetterReason::TooLarge => "too_large",
        DeadLetterReason::Undeliverable => "undeliverable",
    }
}

/// `error` cut to [`ERROR_CAP`] bytes, on a character boundary.
pub fn capped_error(error: &str) -> String {
    if error.len() <= ERROR_CAP {
        return error.to_string();
    }
    let mut end = ERROR_CAP;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &error[..end], error.len())
}

/// Why an output the bus refused for good is a dead letter.
pub fn reason_for_refusal(error: &BusError) -> DeadLetterReason {
    if error.is_too_large() {
        DeadLetterReason::TooLarge
    } else {
        DeadLetterReason::Undeliverable
    }
}

/// Sends `letter` to the dead-letter topic.
pub async fn send(
    producer: &dyn Producer,
    letter: &DeadLetter,
    persistence: Persistence<'_>,
) -> Sent {
    let reason = reason_label(letter.reason);
    let stage = letter.stage.clone();
    tracing::warn!(stage, reason, topic = %letter.topic, partition = ?letter.partition,
        offset = ?letter.offset, key = ?letter.key, error = %letter.error,
        payload_bytes = letter.payload_bytes, "record dead-lettered");
    let mut letter = letter.clone();
    let mut payload = encode(&letter);
    let key = letter.key();
    let mut attempt = 0u32;
    loop {
        let sent = match &persistence {
            Persistence::UntilShutdown(shutdown) => tokio::select! {
                _ = shutdown.cancelled() => return Sent::NotYet,
                sent = producer.send(DeadLetter::TOPIC, &key, payload.clone()) => sent,
            },
            Persistence::Attempts(_) => {
                producer
                    .send(DeadLetter::TOPIC, &key, payload.clone())
                    .await
            }
        };
        match sent {
            Ok(()) => {
                DeadLetterWritten {
                    stage: &stage,
                    reason,
                }
                .emit();
                return Sent::Held;
            }
            // A bus configured below the letter's own size: a letter with
            // less of the payload still names the record. Halving ends at
            // an empty payload, so this gives way after a few rounds.
            Err(error) if error.is_too_large() && !letter.payload.is_empty() => {
                letter.payload.truncate(letter.payload.len() / 2);
                letter.payload_truncated = true;
                payload = encode(&letter);
            }
            Err(error) if error.is_permanent() => {
                DeadLetterLost {
                    stage: &stage,
                    reason,
                    error: &error,
                }
                .emit();
                return Sent::Refused;
            }
            Err(error) => {
                attempt += 1;
                tracing::error!(stage, %error, attempt, "sending a dead letter failed; retrying");
                let wait = backoff(attempt);
                match &persistence {
                    Persistence::Attempts(limit) if attempt >= *limit => return Sent::NotYet,
                    Persistence::Attempts(_) => tokio::time::sleep(wait.min(MAX_SINK_WAIT)).await,
                    Persistence::UntilShutdown(shutdown) => tokio::select! {
                        _ = shutdown.cancelled() => return Sent::NotYet,
                        _ = tokio::time::sleep(wait) => {}
                    },
                }
            }
        }
    }
}

/// A bounded caller waits at most this long between two attempts.
const MAX_SINK_WAIT: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let error = "é".repeat(ERROR_CAP);
        let capped = capped_error(&error);
        assert!(capped.len() < ERROR_CAP + 64);
        assert!(capped.ends_with(&format!("({} bytes in all)", error.len())));
        assert_eq!(capped_error("short"), "short");
    }
}
