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

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{FuturesOrdered, StreamExt};
use newsflow_bus::{BusError, Consumer, Delivery, PendingSend, Producer, TopicHistory};
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
    type Input: Message + Send + 'static;
    fn name(&self) -> &'static str;
    fn handle(&mut self, input: Self::Input) -> Result<Vec<Output>, HandleError>;
    /// Called when the input is idle; returns outputs of time-driven changes.
    fn on_idle(&mut self, _now: DateTime<Utc>) -> Result<Vec<Output>, HandleError> {
        Ok(Vec::new())
    }
    /// The bus confirmed every output of the oldest `handle` or `on_idle`
    /// not confirmed yet; called once per such call that returned (not for
    /// one that panicked), in the order of the calls, before the input that
    /// caused them is acknowledged. Later calls may have happened
    /// meanwhile: a stage keeps several inputs in flight.
    fn outputs_delivered(&mut self) -> Result<(), HandleError> {
        Ok(())
    }
    /// Called before the outputs of what was handled since the last call
    /// are handed to the bus, and before any input is acknowledged: a stage
    /// whose store commits without waiting for the disk makes every change
    /// so far durable here, so that no output goes out, and no input counts
    /// as done, before the state change behind it is on disk. An error
    /// stops the stage, as a failed store would.
    fn make_state_durable(&mut self) -> Result<(), HandleError> {
        Ok(())
    }
    /// Whether `handle` leaves its state changes for `make_state_durable`
    /// to sync: the loop then handles the inputs already waiting back to
    /// back (up to [`MAX_INPUTS_PER_SYNC`]) and syncs once for all of them
    /// (a group commit) before it hands over their outputs.
    fn defers_state_syncs(&self) -> bool {
        false
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
    /// A stage whose `handle` keeps nothing between inputs offers it here,
    /// to be run on several inputs at once on the blocking pool.
    fn concurrent(&self) -> Option<ConcurrentHandle<Self::Input>> {
        None
    }
    /// How many inputs the `concurrent` handle may work on at once; `None`
    /// for one per core.
    fn concurrency(&self) -> Option<usize> {
        None
    }
    /// Asked after each `handle`: the stage needs every output so far
    /// delivered before it goes on (a checkpoint covers delivered outputs
    /// only).
    fn settle_before_next(&self) -> bool {
        false
    }
}

/// A stage's `handle` that can run on several inputs at once.
pub type ConcurrentHandle<I> = Arc<dyn Fn(I) -> Result<Vec<Output>, HandleError> + Send + Sync>;

/// Gives a stage the state its changelog holds, for a member that was just
/// given partitions of the stage's input.
#[async_trait]
pub trait StateRestore<H: StageHandler>: Send {
    async fn restore(&mut self, handler: &mut H) -> Result<(), HandleError>;
}

const POLL_WAIT: Duration = Duration::from_millis(500);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
const MAX_POLL_RETRY_WAIT: Duration = Duration::from_secs(1);
/// Inputs a stage holds between reading them and acknowledging them (being
/// worked on, or their outputs on their way): enough to keep a broker's
/// round trips and the log's syncs off the path of each record, few enough
/// that a restart redoes little.
const MAX_IN_FLIGHT: usize = 128;
/// And at most this many bytes of outputs in flight, however large the
/// records (a page may be up to the bus's message size).
const MAX_IN_FLIGHT_BYTES: usize = 64 * 1024 * 1024;
/// Inputs a stage that defers its state syncs handles before one sync
/// covers them: enough to take a sync off the path of each input under
/// load, few enough that their outputs do not wait long for it.
pub const MAX_INPUTS_PER_SYNC: usize = 32;

/// What became of one input record.
enum Processed {
    Outputs(Vec<Output>),
    Skipped(String),
    DeadLetter(DeadLetterReason, String),
    /// Never reached the handler (malformed, another schema major): a dead
    /// letter the handler has nothing to confirm for.
    Undecodable(DeadLetterReason, String),
    Panicked(String),
    Fatal(HandleError),
}

/// An input processed (on the blocking pool, or in a run of ready inputs),
/// with what became of it and how long its handler took.
type Worked = (Delivery, Processed, std::time::Duration);

/// One input (or idle tick) whose outputs are on their way: it is
/// acknowledged, and the handler told, once they all are durable, in the
/// order the inputs were read.
struct InFlight {
    delivery: Option<Delivery>,
    /// Each output with what resolves once the bus holds it; kept to send
    /// again or dead-letter should the bus fail it.
    sends: Vec<(Output, Sending)>,
    /// Whether the handler is told when the outputs are delivered (not
    /// after a panic: a recovered handler has nothing to confirm).
    confirm: bool,
}

impl InFlight {
    fn bytes(&self) -> usize {
        self.sends
            .iter()
            .map(|(output, _)| output.key.len() + output.payload.len())
            .sum()
    }
}

/// One output on its way, or what became of it.
enum Sending {
    Pending(PendingSend),
    Done(Result<(), BusError>),
}

impl Sending {
    /// Whether it is done, looking without waiting.
    async fn is_done(&mut self) -> bool {
        if let Sending::Pending(pending) = self {
            match futures::poll!(pending.as_mut()) {
                std::task::Poll::Ready(result) => *self = Sending::Done(result),
                std::task::Poll::Pending => return false,
            }
        }
        true
    }

    async fn outcome(self) -> Result<(), BusError> {
        match self {
            Sending::Pending(pending) => pending.await,
            Sending::Done(result) => result,
        }
    }
}

/// Why the loop stops.
enum Stop {
    Shutdown,
    Fatal(HandleError),
}

/// Runs `handler` over `consumer` until `shutdown` is cancelled; with
/// `restore`, restores the handler's state at every new assignment.
///
/// Up to `MAX_IN_FLIGHT` inputs are in flight at once: a stage reads the
/// next input while the outputs of the ones before are on their way, and a
/// stage that offers [`StageHandler::concurrent`] processes several on the
/// blocking pool (one per core). Outputs are handed to the bus in input
/// order, and inputs acknowledged in that order once their outputs are
/// durable, so a restart redoes at most what was in flight.
pub async fn run_stage<H: StageHandler>(
    mut handler: H,
    mut consumer: Box<dyn Consumer>,
    producer: Arc<dyn Producer>,
    shutdown: CancellationToken,
    mut restore: Option<Box<dyn StateRestore<H>>>,
) -> Result<(), HandleError> {
    let stage = handler.name();
    let concurrent = handler.concurrent();
    let workers = handler
        .concurrency()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let mut working: FuturesOrdered<tokio::task::JoinHandle<Worked>> = FuturesOrdered::new();
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut poll_failures = 0u32;
    // The assignment generation the state was restored for, and whether
    // this member owns partitions (always, where the bus does not assign).
    let mut restored_for: Option<u64> = None;
    let mut owner = true;
    let result: Result<(), Stop> = async {
        loop {
            settle_delivered(&mut handler, consumer.as_mut(), &mut in_flight, producer.as_ref(), &shutdown).await?;
            let busy = !working.is_empty() || !in_flight.is_empty();
            let full = working.len() >= workers
                || working.len() + in_flight.len() >= MAX_IN_FLIGHT
                || in_flight.iter().map(InFlight::bytes).sum::<usize>() >= MAX_IN_FLIGHT_BYTES;
            if full {
                finish_oldest(&mut handler, consumer.as_mut(), &mut working, &mut in_flight, producer.as_ref(), &shutdown).await?;
                continue;
            }
            let wait = if busy { Duration::ZERO } else { POLL_WAIT };
            let polled = tokio::select! {
                _ = shutdown.cancelled() => return Err(Stop::Shutdown),
                polled = consumer.poll(wait) => polled,
            };
            if let (Some(restorer), Some(assignment)) = (restore.as_mut(), consumer.assignment()) {
                if restored_for != Some(assignment.generation) {
                    // What is in flight was read under the assignment before.
                    drain(&mut handler, consumer.as_mut(), &mut working, &mut in_flight, producer.as_ref(), &shutdown).await?;
                    owner = !assignment.partitions.is_empty();
                    if owner {
                        tracing::info!(stage, partitions = ?assignment.partitions,
                            "partitions assigned: restoring state before processing them");
                        tokio::select! {
                            _ = shutdown.cancelled() => return Err(Stop::Shutdown),
                            restored = restorer.restore(&mut handler) => restored.map_err(Stop::Fatal)?,
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
                Ok(None) if busy => {
                    // Nothing new to read: finish the oldest input instead.
                    finish_oldest(&mut handler, consumer.as_mut(), &mut working, &mut in_flight, producer.as_ref(), &shutdown).await?;
                    continue;
                }
                Ok(None) if !owner => continue,
                Ok(None) => {
                    let outputs = match catch_unwind(AssertUnwindSafe(|| handler.on_idle(Utc::now()))) {
                        Ok(outputs) => outputs.map_err(Stop::Fatal)?,
                        Err(panic) => {
                            recover(&mut handler, &panic_message(panic.as_ref()), "an idle tick")
                                .map_err(Stop::Fatal)?;
                            continue;
                        }
                    };
                    handler.make_state_durable().map_err(Stop::Fatal)?;
                    let sends = enqueue_all(&Source::Idle { stage }, producer.as_ref(), outputs, &shutdown).await?;
                    in_flight.push_back(InFlight { delivery: None, sends, confirm: true });
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
            match &concurrent {
                Some(handle) => {
                    let handle = handle.clone();
                    working.push_back(tokio::task::spawn_blocking(move || {
                        let started = std::time::Instant::now();
                        let processed = process_with(&delivery, |input| handle(input));
                        (delivery, processed, started.elapsed())
                    }));
                }
                None => {
                    let room = MAX_IN_FLIGHT.saturating_sub(working.len() + in_flight.len());
                    // Where the bus assigns inputs, one read may change the
                    // assignment, which the reads here do not look at.
                    let batch = if restore.is_none() && handler.defers_state_syncs() {
                        room.clamp(1, MAX_INPUTS_PER_SYNC)
                    } else {
                        1
                    };
                    let handled = handle_ready(&mut handler, consumer.as_mut(), delivery, batch, &shutdown).await;
                    handler.make_state_durable().map_err(Stop::Fatal)?;
                    for (delivery, processed, took) in handled {
                        dispatch(&mut handler, &mut in_flight, consumer.as_mut(), producer.as_ref(), &shutdown, delivery, processed, took).await?;
                    }
                    if handler.settle_before_next() {
                        settle_all(&mut handler, consumer.as_mut(), &mut in_flight, producer.as_ref(), &shutdown).await?;
                    }
                }
            }
        }
    }
    .await;
    let result = match result {
        Ok(()) | Err(Stop::Shutdown) => {
            finish_in_flight(&mut handler, consumer.as_mut(), &mut in_flight).await;
            Ok(())
        }
        Err(Stop::Fatal(error)) => Err(error),
    };
    // What is still in flight now stays unacknowledged: it is processed
    // again after a restart.
    if let Err(error) = consumer.commit().await {
        tracing::error!(stage, %error, "committing positions at shutdown failed");
    }
    tracing::info!(stage, "stage stopped");
    result
}

/// How long a stage that is asked to stop still waits for the outputs it
/// handed to the bus, so that a clean stop leaves nothing to redo.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// At shutdown: acknowledges, in order, the inputs whose outputs the bus
/// confirms within `SHUTDOWN_GRACE`; stops at the first it does not (no
/// retry, no dead letter: that input is processed again after a restart).
async fn finish_in_flight<H: StageHandler>(
    handler: &mut H,
    consumer: &mut dyn Consumer,
    in_flight: &mut VecDeque<InFlight>,
) {
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while let Some(oldest) = in_flight.pop_front() {
        for (_, send) in oldest.sends {
            match tokio::time::timeout_at(deadline, send.outcome()).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
        if oldest.confirm && handler.outputs_delivered().is_err() {
            return;
        }
        if let Some(delivery) = &oldest.delivery {
            if let Err(error) = handler.make_state_durable() {
                tracing::error!(stage = handler.name(), %error, "making the state durable failed");
                return;
            }
            if let Err(error) = consumer.ack(delivery) {
                tracing::error!(stage = handler.name(), %error, "acknowledging input failed");
            }
        }
    }
}

/// Handles `first`, then, up to `batch` in all, the inputs the consumer
/// already holds, stopping after one that did not end in outputs or a
/// skip (a panic, a dead letter: it is dealt with before anything else)
/// and where the handler wants what it delivered settled first.
async fn handle_ready<H: StageHandler>(
    handler: &mut H,
    consumer: &mut dyn Consumer,
    first: Delivery,
    batch: usize,
    shutdown: &CancellationToken,
) -> Vec<Worked> {
    let mut handled = Vec::with_capacity(batch);
    let mut next = Some(first);
    while let Some(delivery) = next.take() {
        let started = std::time::Instant::now();
        let processed = process_with(&delivery, |input| handler.handle(input));
        let plain = matches!(processed, Processed::Outputs(_) | Processed::Skipped(_));
        handled.push((delivery, processed, started.elapsed()));
        if !plain || handled.len() >= batch || handler.settle_before_next() {
            break;
        }
        // A read that fails is left to the next loop, which retries it.
        next = tokio::select! {
            _ = shutdown.cancelled() => None,
            polled = consumer.poll(Duration::ZERO) => polled.ok().flatten(),
        };
    }
    handled
}

/// Puts one processed input in flight: its outputs handed to the bus (a
/// dead letter sent first where it became one), or stops the stage.
#[allow(clippy::too_many_arguments)]
async fn dispatch<H: StageHandler>(
    handler: &mut H,
    in_flight: &mut VecDeque<InFlight>,
    consumer: &mut dyn Consumer,
    producer: &dyn Producer,
    shutdown: &CancellationToken,
    delivery: Delivery,
    processed: Processed,
    handler_time: Duration,
) -> Result<(), Stop> {
    let stage = handler.name();
    let handled = InputHandled {
        stage,
        outcome: "processed",
        skipped_because: None,
        offset: delivery.offset,
        handler_time,
    };
    let mut confirm = true;
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
        Processed::Panicked(message) => {
            // The handler's state may be half-changed: what it confirmed so
            // far is settled first, then it reloads from its store.
            settle_all(handler, consumer, in_flight, producer, shutdown).await?;
            let at = format!("{} offset {}", delivery.topic, delivery.offset);
            recover(handler, &message, &at).map_err(Stop::Fatal)?;
            confirm = false;
            let error = format!("the {stage} stage panicked: {message}");
            dead_letter(
                stage,
                DeadLetterReason::Panic,
                &error,
                &delivery,
                handled,
                producer,
                shutdown,
            )
            .await?;
            Vec::new()
        }
        Processed::DeadLetter(reason, error) => {
            dead_letter(
                stage, reason, &error, &delivery, handled, producer, shutdown,
            )
            .await?;
            Vec::new()
        }
        Processed::Undecodable(reason, error) => {
            confirm = false;
            dead_letter(
                stage, reason, &error, &delivery, handled, producer, shutdown,
            )
            .await?;
            Vec::new()
        }
        Processed::Fatal(fatal) => return Err(Stop::Fatal(fatal)),
    };
    let source = Source::Input {
        stage,
        delivery: &delivery,
    };
    let sends = enqueue_all(&source, producer, outputs, shutdown).await?;
    // Only its position is needed from here on: the input's bytes (a whole
    // page on `raw`) are not held while its outputs are on their way.
    let mut delivery = delivery;
    delivery.payload = Vec::new();
    in_flight.push_back(InFlight {
        delivery: Some(delivery),
        sends,
        confirm,
    });
    Ok(())
}

/// Sends the dead letter of `delivery`; it is durable before the input can
/// be acknowledged.
async fn dead_letter(
    stage: &'static str,
    reason: DeadLetterReason,
    error: &str,
    delivery: &Delivery,
    handled: InputHandled<'_>,
    producer: &dyn Producer,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    InputHandled {
        outcome: dead_letters::reason_label(reason),
        ..handled
    }
    .emit();
    let letter = DeadLetter::new(
        stage,
        reason,
        dead_letters::capped_error(error),
        &delivery.topic,
        Some(delivery.partition),
        Some(delivery.offset),
        delivery.key.clone(),
        &delivery.payload,
    );
    match dead_letters::send(producer, &letter, Persistence::UntilShutdown(shutdown)).await {
        Sent::NotYet => Err(Stop::Shutdown),
        Sent::Held | Sent::Refused => Ok(()),
    }
}

/// Acknowledges, oldest first, the inputs whose outputs are all durable
/// already, without waiting for any.
async fn settle_delivered<H: StageHandler>(
    handler: &mut H,
    consumer: &mut dyn Consumer,
    in_flight: &mut VecDeque<InFlight>,
    producer: &dyn Producer,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    while let Some(oldest) = in_flight.front_mut() {
        for (_, send) in oldest.sends.iter_mut() {
            if !send.is_done().await {
                return Ok(());
            }
        }
        settle_oldest(handler, consumer, in_flight, producer, shutdown).await?;
    }
    Ok(())
}

/// Waits for every input in flight to be settled.
async fn settle_all<H: StageHandler>(
    handler: &mut H,
    consumer: &mut dyn Consumer,
    in_flight: &mut VecDeque<InFlight>,
    producer: &dyn Producer,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    while !in_flight.is_empty() {
        settle_oldest(handler, consumer, in_flight, producer, shutdown).await?;
    }
    Ok(())
}

/// Finishes what is being worked on, then settles everything in flight.
async fn drain<H: StageHandler>(
    handler: &mut H,
    consumer: &mut dyn Consumer,
    working: &mut FuturesOrdered<tokio::task::JoinHandle<Worked>>,
    in_flight: &mut VecDeque<InFlight>,
    producer: &dyn Producer,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    while !working.is_empty() || !in_flight.is_empty() {
        finish_oldest(handler, consumer, working, in_flight, producer, shutdown).await?;
    }
    Ok(())
}

/// Takes one step towards an empty pipeline: the oldest input being worked
/// on is put in flight once done, or, with none, the oldest in flight is
/// settled.
async fn finish_oldest<H: StageHandler>(
    handler: &mut H,
    consumer: &mut dyn Consumer,
    working: &mut FuturesOrdered<tokio::task::JoinHandle<Worked>>,
    in_flight: &mut VecDeque<InFlight>,
    producer: &dyn Producer,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    let Some(worked) = working.next().await else {
        return settle_oldest(handler, consumer, in_flight, producer, shutdown).await;
    };
    let (delivery, processed, took) = worked.map_err(|e| {
        Stop::Fatal(HandleError::Fatal(format!(
            "{}: a worker failed: {e}",
            handler.name()
        )))
    })?;
    dispatch(
        handler, in_flight, consumer, producer, shutdown, delivery, processed, took,
    )
    .await
}

/// Waits for the oldest input's outputs (sending again those the bus failed
/// for now, dead-lettering those it refuses), tells the handler and
/// acknowledges the input.
async fn settle_oldest<H: StageHandler>(
    handler: &mut H,
    consumer: &mut dyn Consumer,
    in_flight: &mut VecDeque<InFlight>,
    producer: &dyn Producer,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    let Some(oldest) = in_flight.pop_front() else {
        return Ok(());
    };
    let stage = handler.name();
    let source = match &oldest.delivery {
        Some(delivery) => Source::Input { stage, delivery },
        None => Source::Idle { stage },
    };
    for (output, send) in oldest.sends {
        let sent = tokio::select! {
            _ = shutdown.cancelled() => return Err(Stop::Shutdown),
            sent = send.outcome() => sent,
        };
        match sent {
            Ok(()) => OutputSent {
                stage,
                topic: output.topic,
            }
            .emit(),
            // Failed in flight: sent again on its own (or dead-lettered),
            // with the backoff of a send that fails.
            Err(error) => {
                tracing::warn!(stage, topic = output.topic, %error,
                    "an output in flight failed; sending it again");
                if !send_all(&source, producer, vec![output], shutdown).await {
                    return Err(Stop::Shutdown);
                }
            }
        }
    }
    if oldest.confirm {
        handler.outputs_delivered().map_err(Stop::Fatal)?;
    }
    if let Some(delivery) = &oldest.delivery {
        handler.make_state_durable().map_err(Stop::Fatal)?;
        if let Err(error) = consumer.ack(delivery) {
            tracing::error!(stage, %error, "acknowledging input failed");
        }
    }
    Ok(())
}

/// Hands every output to the bus in order; one the bus refuses at once for
/// good goes to the dead letters, one it fails for now is retried.
async fn enqueue_all(
    source: &Source<'_>,
    producer: &dyn Producer,
    outputs: Vec<Output>,
    shutdown: &CancellationToken,
) -> Result<Vec<(Output, Sending)>, Stop> {
    let mut sends = Vec::with_capacity(outputs.len());
    for output in outputs {
        let mut attempt = 0u32;
        loop {
            let enqueued = tokio::select! {
                _ = shutdown.cancelled() => return Err(Stop::Shutdown),
                enqueued = producer.enqueue(output.topic, &output.key, output.payload.clone()) => enqueued,
            };
            match enqueued {
                Ok(pending) => {
                    sends.push((output, Sending::Pending(pending)));
                    break;
                }
                Err(error) if error.is_permanent() => {
                    // Refused before it was sent: the retrying path
                    // dead-letters it.
                    if !send_all(source, producer, vec![output], shutdown).await {
                        return Err(Stop::Shutdown);
                    }
                    break;
                }
                Err(error) => {
                    attempt += 1;
                    SendRetried {
                        stage: source.stage(),
                        topic: output.topic,
                        attempt,
                        error: &error,
                    }
                    .emit();
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(Stop::Shutdown),
                        _ = tokio::time::sleep(backoff(attempt)) => {}
                    }
                }
            }
        }
    }
    Ok(sends)
}

/// Decodes `delivery` and hands it to `handle`, with a panic caught at this
/// boundary (the caller has the handler recover).
fn process_with<I: Message>(
    delivery: &Delivery,
    handle: impl FnOnce(I) -> Result<Vec<Output>, HandleError>,
) -> Processed {
    let input = match decode::<I>(&delivery.payload) {
        Ok(input) => input,
        Err(error @ DecodeError::SchemaVersion { .. }) => {
            return Processed::Undecodable(DeadLetterReason::SchemaVersion, error.to_string())
        }
        Err(error) => {
            return Processed::Undecodable(DeadLetterReason::Malformed, error.to_string())
        }
    };
    match catch_unwind(AssertUnwindSafe(|| handle(input))) {
        Ok(Ok(outputs)) => Processed::Outputs(outputs),
        Ok(Err(HandleError::Skip(reason))) => Processed::Skipped(reason),
        Ok(Err(HandleError::Refused(reason))) => {
            Processed::DeadLetter(DeadLetterReason::Rejected, reason)
        }
        Ok(Err(fatal @ HandleError::Fatal(_))) => Processed::Fatal(fatal),
        Err(panic) => Processed::Panicked(panic_message(panic.as_ref())),
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
