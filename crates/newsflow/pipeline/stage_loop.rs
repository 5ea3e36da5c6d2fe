//! The loop every consuming stage runs: read a record, hand it to the
//! stage, send the stage's outputs, and only then acknowledge the record.
//!
//! Nothing is dropped and nothing retried for ever: a record that can never
//! be processed (malformed, of an unknown schema version, refused by the
//! stage, or one the stage panicked on) goes to the dead letters and is
//! acknowledged; an output the bus refuses for good (too large) goes there
//! too. A failure to send that may pass (the broker is away) is retried,
//! never skipped, so it delays the stage but loses nothing. A panic does not
//! end the stage: a stateful stage first reloads its state from its store,
//! since the panic may have left what it holds in memory half-updated.
//!
//! A stateful stage on Kafka also restores its state whenever this member
//! is given partitions (a standby taking over, a rebalance), before it
//! processes anything of them; a member that owns no partition does nothing
//! time-driven either, since its state is not the owner's.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use newsflow_bus::{Consumer, Delivery, Producer, TopicHistory};
use newsflow_model::{decode, encode, DeadLetter, DeadLetterReason, DecodeError, Message};
use tokio_util::sync::CancellationToken;

use super::dead_letters::{self, Persistence, Sent};
use super::internal_events::{InputHandled, OutputSent, SendRetried, StagePanicked};
/// One message for a topic, produced by a stage.
#[derive(Debug, Clone)]
pub struct Output {
    pub topic: &'static str,
    pub key: String,
    pub payload: Vec<u8>,
}

impl Output {
    pub fn of<M: Message>(message: &M) -> Self {
        Self {
            topic: M::TOPIC,
            key: message.key(),
            payload: encode(message),
        }
    }
}

/// What went wrong with one input.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// A normal outcome for this input (a page that is no article): log it
    /// and move on.
    #[error("{0}")]
    Skip(String),
    /// This input can never be processed, and that is not a normal outcome:
    /// it goes to the dead letters, where an operator can see it and, after
    /// a fix, replay it.
    #[error("{0}")]
    Refused(String),
    /// The stage itself cannot go on (its state store failed): stop without
    /// acknowledging, so a restart processes the input again.
    #[error("{0}")]
    Fatal(String),
}

pub trait StageHandler: Send {
    type Input: Message + Send;
    fn name(&self) -> &'static str;
    fn handle(&mut self, input: Self::Input) -> Result<Vec<Output>, HandleError>;
    /// Called when the input is idle; returns outputs of time-driven changes.
    fn on_idle(&mut self, _now: DateTime<Utc>) -> Result<Vec<Output>, HandleError> {
        Ok(Vec::new())
    }
    /// The bus confirmed every output of the last `handle` or `on_idle`;
    /// called before the input that caused them is acknowledged.
    fn outputs_delivered(&mut self) -> Result<(), HandleError> {
        Ok(())
    }
    /// The outputs returned so far were dropped, never sent (a rebuild from
    /// history discards what it recomputes).
    fn outputs_discarded(&mut self) {}
    /// `handle` or `on_idle` panicked, maybe halfway through changing the
    /// stage's state: a stateful stage drops what it holds in memory and
    /// reloads it from its store (where a half-done transaction was rolled
    /// back). An error stops the stage, as a failed store would.
    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        Ok(())
    }
}

/// Gives a stage the state its changelog holds, for a member that was just
/// given partitions of the stage's input.
#[async_trait]
pub trait StateRestore<H: StageHandler>: Send {
    async fn restore(&mut self, handler: &mut H) -> Result<(), HandleError>;
}

const POLL_WAIT: Duration = Duration::from_millis(500);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
const MAX_POLL_RETRY_WAIT: Duration = Duration::from_secs(1);

/// What became of one input record.
enum Processed {
    Outputs(Vec<Output>),
    Skipped(String),
    DeadLetter(DeadLetterReason, String),
    Fatal(HandleError),
}

/// Runs `handler` over `consumer` until `shutdown` is cancelled; with
/// `restore`, restores the handler's state at every new assignment.
pub async fn run_stage<H: StageHandler>(
    mut handler: H,
    mut consumer: Box<dyn Consumer>,
    producer: Arc<dyn Producer>,
    shutdown: CancellationToken,
    mut restore: Option<Box<dyn StateRestore<H>>>,
) -> Result<(), HandleError> {
    let stage = handler.name();
    let mut poll_failures = 0u32;
    // The assignment generation the state was restored for, and whether
    // this member owns partitions (always, where the bus does not assign).
    let mut restored_for: Option<u64> = None;
    let mut owner = true;
    let result = loop {
        let polled = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            polled = consumer.poll(POLL_WAIT) => polled,
        };
        if let (Some(restorer), Some(assignment)) = (restore.as_mut(), consumer.assignment()) {
            if restored_for != Some(assignment.generation) {
                owner = !assignment.partitions.is_empty();
                if owner {
                    tracing::info!(stage, partitions = ?assignment.partitions,
                        "partitions assigned: restoring state before processing them");
                    let restored = tokio::select! {
                        _ = shutdown.cancelled() => break Ok(()),
                        restored = restorer.restore(&mut handler) => restored,
                    };
                    if let Err(error) = restored {
                        break Err(error);
                    }
                }
                restored_for = Some(assignment.generation);
            }
        }
        let delivery = match polled {
            Ok(Some(delivery)) => {
                poll_failures = 0;
                delivery
            }
            Ok(None) if !owner => continue,
            Ok(None) => {
                let outputs = match catch_unwind(AssertUnwindSafe(|| handler.on_idle(Utc::now()))) {
                    Ok(outputs) => outputs?,
                    Err(panic) => {
                        recover(&mut handler, &panic_message(panic.as_ref()), "an idle tick")?;
                        continue;
                    }
                };
                let source = Source::Idle { stage };
                if !send_all(&source, producer.as_ref(), outputs, &shutdown).await {
                    break Ok(());
                }
                handler.outputs_delivered()?;
                continue;
            }
            Err(error) => {
                poll_failures += 1;
                tracing::error!(stage, %error, "reading input failed; retrying");
                // Short: a consumer must be polled to recover (its group,
                // its connections), so a long wait here only prolongs it.
                tokio::time::sleep(backoff(poll_failures).min(MAX_POLL_RETRY_WAIT)).await;
                continue;
            }
        };
        let started = std::time::Instant::now();
        let processed = process(&mut handler, &delivery);
        let handled = InputHandled {
            stage,
            outcome: "processed",
            skipped_because: None,
            offset: delivery.offset,
            handler_time: started.elapsed(),
        };
        let outputs = match processed {
            Processed::Outputs(outputs) => {
                handled.emit();
                outputs
            }
            Processed::Skipped(reason) => {
                InputHandled {
                    outcome: "skipped",
                    skipped_because: Some(&reason),
                    ..handled
                }
                .emit();
                Vec::new()
            }
            Processed::DeadLetter(reason, error) => {
                InputHandled {
                    outcome: dead_letters::reason_label(reason),
                    ..handled
                }
                .emit();
                let letter = DeadLetter::new(
                    stage,
                    reason,
                    dead_letters::capped_error(&error),
                    &delivery.topic,
                    Some(delivery.partition),
                    Some(delivery.offset),
                    delivery.key.clone(),
                    &delivery.payload,
                );
                if dead_letters::send(
                    producer.as_ref(),
                    &letter,
                    Persistence::UntilShutdown(&shutdown),
                )
                .await
                    == Sent::NotYet
                {
                    break Ok(());
                }
                Vec::new()
            }
            Processed::Fatal(fatal) => break Err(fatal),
        };
        let source = Source::Input {
            stage,
            delivery: &delivery,
        };
        if !send_all(&source, producer.as_ref(), outputs, &shutdown).await {
            // Shut down before the outputs were all sent: leave the input
            // unacknowledged so it is processed again after a restart.
            break Ok(());
        }
        if let Err(fatal) = handler.outputs_delivered() {
            break Err(fatal);
        }
        if let Err(error) = consumer.ack(&delivery) {
            tracing::error!(stage, %error, "acknowledging input failed");
        }
    };
    if let Err(error) = consumer.commit().await {
        tracing::error!(stage, %error, "committing positions at shutdown failed");
    }
    tracing::info!(stage, "stage stopped");
    result
}

/// Decodes `delivery` and hands it to `handler`, with a panic caught at
/// this boundary and the handler's state recovered from it.
fn process<H: StageHandler>(handler: &mut H, delivery: &Delivery) -> Processed {
    let input = match decode::<H::Input>(&delivery.payload) {
        Ok(input) => input,
        Err(error @ DecodeError::SchemaVersion { .. }) => {
            return Processed::DeadLetter(DeadLetterReason::SchemaVersion, error.to_string())
        }
        Err(error) => return Processed::DeadLetter(DeadLetterReason::Malformed, error.to_string()),
    };
    match catch_unwind(AssertUnwindSafe(|| handler.handle(input))) {
        Ok(Ok(outputs)) => Processed::Outputs(outputs),
        Ok(Err(HandleError::Skip(reason))) => Processed::Skipped(reason),
        Ok(Err(HandleError::Refused(reason))) => {
            Processed::DeadLetter(DeadLetterReason::Rejected, reason)
        }
        Ok(Err(fatal @ HandleError::Fatal(_))) => Processed::Fatal(fatal),
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            let at = format!("{} offset {}", delivery.topic, delivery.offset);
            match recover(handler, &message, &at) {
                Ok(()) => Processed::DeadLetter(
                    DeadLetterReason::Panic,
                    format!("the {} stage panicked: {message}", handler.name()),
                ),
                Err(fatal) => Processed::Fatal(fatal),
            }
        }
    }
}

/// After a panic at `at`: logs it and has the handler reload its state.
fn recover<H: StageHandler>(handler: &mut H, message: &str, at: &str) -> Result<(), HandleError> {
    let stage = handler.name();
    StagePanicked { stage, at, message }.emit();
    match catch_unwind(AssertUnwindSafe(|| handler.recover_after_panic())) {
        Ok(recovered) => recovered
            .map_err(|e| HandleError::Fatal(format!("recovering {stage} after a panic: {e}"))),
        Err(again) => Err(HandleError::Fatal(format!(
            "recovering {stage} after a panic panicked too: {}",
            panic_message(again.as_ref())
        ))),
    }
}

/// The text a panic was raised with (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Feeds `handler` the input its group already processed, discarding the
/// outputs (they were sent the first time): rebuilds the stage's local state
/// after it was lost. Returns how many records were replayed, and why the
/// reading stopped before the group's committed positions if it did.
pub async fn rebuild_from_history<H: StageHandler>(
    handler: &mut H,
    mut history: TopicHistory,
) -> Result<(u64, Option<String>), HandleError> {
    let mut replayed = 0;
    let stopped_short = loop {
        let delivery = match history.next().await {
            Ok(Some(delivery)) => delivery,
            Ok(None) => break history.stopped_short().map(str::to_string),
            Err(error) => break Some(error.to_string()),
        };
        // What could not be processed live is in the dead letters already:
        // here it is passed over the same way (a panic included, or the
        // rebuild would fail at every start).
        if let Ok(input) = decode::<H::Input>(&delivery.payload) {
            match catch_unwind(AssertUnwindSafe(|| handler.handle(input))) {
                Ok(Ok(_) | Err(HandleError::Skip(_) | HandleError::Refused(_))) => replayed += 1,
                Ok(Err(fatal)) => return Err(fatal),
                Err(panic) => {
                    let at = format!("{} offset {} (rebuilding)", delivery.topic, delivery.offset);
                    recover(handler, &panic_message(panic.as_ref()), &at)?;
                }
            }
        }
    };
    handler.outputs_discarded();
    Ok((replayed, stopped_short))
}

/// Where outputs came from, for the dead letter of one the bus refuses.
enum Source<'a> {
    Input {
        stage: &'static str,
        delivery: &'a Delivery,
    },
    Idle {
        stage: &'static str,
    },
}

impl Source<'_> {
    fn stage(&self) -> &'static str {
        match self {
            Source::Input { stage, .. } | Source::Idle { stage } => stage,
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::Input { delivery, .. } => format!(
                "output of {} partition {} offset {}",
                delivery.topic, delivery.partition, delivery.offset
            ),
            Source::Idle { .. } => "output of an idle tick".to_string(),
        }
    }
}

/// Sends every output, retrying each while the bus may take it later; one
/// the bus refuses for good goes to the dead letters instead. Returns false
/// when shutdown came first.
async fn send_all(
    source: &Source<'_>,
    producer: &dyn Producer,
    outputs: Vec<Output>,
    shutdown: &CancellationToken,
) -> bool {
    let stage = source.stage();
    for output in outputs {
        let mut attempt = 0u32;
        loop {
            let sent = tokio::select! {
                _ = shutdown.cancelled() => return false,
                sent = producer.send(output.topic, &output.key, output.payload.clone()) => sent,
            };
            match sent {
                Ok(()) => {
                    OutputSent {
                        stage,
                        topic: output.topic,
                    }
                    .emit();
                    break;
                }
                Err(error) if error.is_permanent() => {
                    let letter = DeadLetter::new(
                        stage,
                        dead_letters::reason_for_refusal(&error),
                        dead_letters::capped_error(&format!("{}: {error}", source.describe())),
                        output.topic,
                        None,
                        None,
                        Some(output.key.clone()),
                        &output.payload,
                    );
                    match dead_letters::send(
                        producer,
                        &letter,
                        Persistence::UntilShutdown(shutdown),
                    )
                    .await
                    {
                        Sent::NotYet => return false,
                        Sent::Held | Sent::Refused => break,
                    }
                }
                Err(error) => {
                    attempt += 1;
                    SendRetried {
                        stage,
                        topic: output.topic,
                        attempt,
                        error: &error,
                    }
                    .emit();
                    tokio::select! {
                        _ = shutdown.cancelled() => return false,
                        _ = tokio::time::sleep(backoff(attempt)) => {}
                    }
                }
            }
        }
    }
    true
}

pub fn backoff(attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(8);
    (Duration::from_millis(200) * 2u32.pow(exponent)).min(MAX_RETRY_WAIT)
}

#[cfg(test)]
mod tests;
