//! The loop every consuming stage runs: read a record, hand it to the
//! stage, send the stage's outputs, and only then acknowledge the record.
//! A record the stage cannot use is logged and acknowledged (it would fail
//! the same way forever); a failure to send is retried, never skipped, so a
//! broker that goes away delays the stage but loses nothing.
//!
//! A stateful stage on Kafka also restores its state whenever this member
//! is given partitions (a standby taking over, a rebalance), before it
//! processes anything of them; a member that owns no partition does nothing
//! time-driven either, since its state is not the owner's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use newsflow_bus::{Consumer, Producer, TopicHistory};
use newsflow_model::{decode, encode, Message};
use tokio_util::sync::CancellationToken;

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
    /// This input can never be processed: log it and move on.
    #[error("{0}")]
    Skip(String),
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
                let outputs = handler.on_idle(Utc::now())?;
                if !send_all(stage, producer.as_ref(), outputs, &shutdown).await {
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
        let outputs = match decode::<H::Input>(&delivery.payload) {
            Err(error) => {
                tracing::warn!(stage, topic = %delivery.topic, partition = delivery.partition,
                    offset = delivery.offset, %error, "skipping a malformed message");
                metrics::counter!("newsflow_inputs_total", "stage" => stage, "outcome" => "malformed").increment(1);
                Vec::new()
            }
            Ok(input) => match handler.handle(input) {
                Ok(outputs) => {
                    metrics::counter!("newsflow_inputs_total", "stage" => stage, "outcome" => "processed").increment(1);
                    outputs
                }
                Err(HandleError::Skip(reason)) => {
                    metrics::counter!("newsflow_inputs_total", "stage" => stage, "outcome" => "skipped").increment(1);
                    tracing::info!(stage, offset = delivery.offset, %reason, "input skipped");
                    Vec::new()
                }
                Err(fatal) => break Err(fatal),
            },
        };
        if !send_all(stage, producer.as_ref(), outputs, &shutdown).await {
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
        if let Ok(input) = decode::<H::Input>(&delivery.payload) {
            match handler.handle(input) {
                Ok(_) | Err(HandleError::Skip(_)) => replayed += 1,
                Err(fatal) => return Err(fatal),
            }
        }
    };
    handler.outputs_discarded();
    Ok((replayed, stopped_short))
}

/// Sends every output, retrying each until the bus takes it. Returns false
/// when shutdown came first.
async fn send_all(
    stage: &'static str,
    producer: &dyn Producer,
    outputs: Vec<Output>,
    shutdown: &CancellationToken,
) -> bool {
    for output in outputs {
        let mut attempt = 0u32;
        loop {
            let sent = tokio::select! {
                _ = shutdown.cancelled() => return false,
                sent = producer.send(output.topic, &output.key, output.payload.clone()) => sent,
            };
            match sent {
                Ok(()) => {
                    metrics::counter!("newsflow_outputs_total", "stage" => stage, "topic" => output.topic).increment(1);
                    break;
                }
                Err(error) => {
                    attempt += 1;
                    metrics::counter!("newsflow_send_retries_total", "stage" => stage).increment(1);
                    tracing::error!(stage, topic = output.topic, %error, attempt, "sending output failed; retrying");
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
