//! The stage loop over an in-memory consumer and producer: panics, refused
//! outputs and passing send failures, each with the input's fate checked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use newsflow_bus::{BusError, Consumer, Delivery, Producer};
use newsflow_model::{decode, encode, topics, DeadLetter, DeadLetterReason, RawPage};
use tokio_util::sync::CancellationToken;

use super::{run_stage, HandleError, Output, StageHandler};

#[derive(Default)]
struct ConsumerLog {
    acked: Vec<i64>,
    /// Inputs the handler has made durable the state of, counted from the
    /// first (for handlers that sync on `make_state_durable`).
    durable: usize,
    /// Inputs acknowledged before that.
    acked_before_durable: Vec<i64>,
    /// Outputs (by key) handed to the bus before that.
    handed_before_durable: Vec<String>,
    /// Calls of `make_state_durable` that found something to sync.
    syncs: usize,
}

struct FakeConsumer {
    queue: VecDeque<Delivery>,
    log: Arc<Mutex<ConsumerLog>>,
}

impl FakeConsumer {
    /// Offers `payloads` as `raw` records at offsets 0, 1, ...
    fn over(payloads: Vec<Vec<u8>>, log: &Arc<Mutex<ConsumerLog>>) -> Self {
        Self {
            queue: payloads
                .into_iter()
                .enumerate()
                .map(|(offset, payload)| Delivery {
                    topic: topics::RAW.into(),
                    partition: 0,
                    offset: offset as i64,
                    key: Some(format!("key-{offset}")),
                    payload,
                })
                .collect(),
            log: log.clone(),
        }
    }

    /// Four pages, `p0` to `p3`.
    fn over_four_pages(log: &Arc<Mutex<ConsumerLog>>) -> Self {
        Self::over((0..4).map(|i| page(&format!("p{i}"))).collect(), log)
    }
}

#[async_trait]
impl Consumer for FakeConsumer {
    async fn poll(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        match self.queue.pop_front() {
            Some(delivery) => Ok(Some(delivery)),
            None => {
                tokio::time::sleep(wait.min(Duration::from_millis(20))).await;
                Ok(None)
            }
        }
    }
    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        let mut log = self.log.lock().unwrap();
        log.acked.push(delivery.offset);
        if delivery.offset as usize >= log.durable {
            log.acked_before_durable.push(delivery.offset);
        }
        Ok(())
    }
    async fn commit(&mut self) -> Result<(), BusError> {
        Ok(())
    }
    async fn backlog(&mut self) -> Result<Option<u64>, BusError> {
        Ok(Some(self.queue.len() as u64))
    }
}

/// Holds what it was sent; refuses records above `limit` for good, and
/// fails the first `outages` sends as a bus that is away would.
struct FakeProducer {
    limit: usize,
    outages: Mutex<u32>,
    sent: Mutex<Vec<(String, String, Vec<u8>)>>,
    attempts: Mutex<u32>,
}

impl FakeProducer {
    fn new(limit: usize, outages: u32) -> Arc<Self> {
        Arc::new(Self {
            limit,
            outages: Mutex::new(outages),
            sent: Mutex::new(Vec::new()),
            attempts: Mutex::new(0),
        })
    }
    fn on(&self, topic: &str) -> Vec<(String, Vec<u8>)> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t == topic)
            .map(|(_, k, p)| (k.clone(), p.clone()))
            .collect()
    }
    fn letters(&self) -> Vec<DeadLetter> {
        self.on(topics::DEAD_LETTERS)
            .into_iter()
            .map(|(_, payload)| decode(&payload).unwrap())
            .collect()
    }
}

#[async_trait]
impl Producer for FakeProducer {
    /// Sends the record whole before it returns.
    async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: Vec<u8>,
    ) -> Result<newsflow_bus::PendingSend, BusError> {
        *self.attempts.lock().unwrap() += 1;
        if key.len() + payload.len() > self.limit {
            return Err(BusError::TooLarge {
                topic: topic.into(),
                size: key.len() + payload.len(),
                limit: self.limit,
            });
        }
        {
            let mut outages = self.outages.lock().unwrap();
            if *outages > 0 {
                *outages -= 1;
                return Err(BusError::Closed);
            }
        }
        self.sent
            .lock()
            .unwrap()
            .push((topic.into(), key.into(), payload));
        Ok(Box::pin(std::future::ready(Ok(()))))
    }
}

/// A stateful stage in miniature: it notes each page in memory, then
/// commits the note to its "store"; the page `panic` makes it panic between
/// the two, `big` makes it return an output larger than the bus takes.
struct NotingHandler {
    memory: Vec<String>,
    store: Arc<Mutex<Vec<String>>>,
    recoveries: Arc<Mutex<u32>>,
}

impl StageHandler for NotingHandler {
    type Input = RawPage;
    fn name(&self) -> &'static str {
        "noting"
    }
    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        self.memory.push(page.item_id.clone());
        if page.item_id.starts_with("panic") {
            panic!("poisoned page {}", page.item_id);
        }
        if page.item_id == "refuse" {
            self.memory.pop();
            return Err(HandleError::Refused("this page can never be read".into()));
        }
        self.store.lock().unwrap().push(page.item_id.clone());
        let size = if page.item_id == "big" { 5_000 } else { 10 };
        Ok(vec![Output {
            topic: topics::ARTICLES,
            key: page.item_id,
            payload: vec![b'a'; size],
        }])
    }
    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        *self.recoveries.lock().unwrap() += 1;
        self.memory = self.store.lock().unwrap().clone();
        Ok(())
    }
}

fn page(item_id: &str) -> Vec<u8> {
    encode(&RawPage {
        schema_version: 1,
        item_id: item_id.into(),
        feed_url: "https://example.org/feed".into(),
        outlet: "Outlet".into(),
        item_link: format!("https://example.org/{item_id}"),
        item_title: None,
        item_summary: None,
        item_published: None,
        final_url: format!("https://example.org/{item_id}"),
        http_status: 200,
        content_type: Some("text/html".into()),
        fetched_at: chrono::Utc::now(),
        body: b"<html></html>".to_vec(),
        body_compression: None,
    })
}

struct Run {
    producer: Arc<FakeProducer>,
    acked: Vec<i64>,
    handler_store: Vec<String>,
    handler_memory_matched_store: bool,
    recoveries: u32,
    result: Result<(), HandleError>,
}

/// Runs the stage over `payloads` (offsets 0, 1, ...) until every one is
/// acknowledged, or 20 s pass.
async fn run_over(payloads: Vec<Vec<u8>>, producer: Arc<FakeProducer>) -> Run {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let total = payloads.len();
    let consumer = FakeConsumer::over(payloads, &log);
    let store = Arc::new(Mutex::new(Vec::new()));
    let recoveries = Arc::new(Mutex::new(0));
    let handler = NotingHandler {
        memory: Vec::new(),
        store: store.clone(),
        recoveries: recoveries.clone(),
    };
    let memory_check = Arc::new(Mutex::new(None));
    let shutdown = CancellationToken::new();
    let stage = {
        let (producer, shutdown, memory_check) =
            (producer.clone(), shutdown.clone(), memory_check.clone());
        tokio::spawn(async move {
            let checked = CheckOnDrop {
                handler,
                out: memory_check,
            };
            run_stage(checked, Box::new(consumer), producer, shutdown, None).await
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while log.lock().unwrap().acked.len() < total && tokio::time::Instant::now() < deadline {
        if stage.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    let result = stage.await.expect("the stage task itself never panics");
    let acked = log.lock().unwrap().acked.clone();
    let handler_store = store.lock().unwrap().clone();
    let handler_memory_matched_store = memory_check.lock().unwrap().unwrap_or(false);
    let recoveries = *recoveries.lock().unwrap();
    Run {
        producer,
        acked,
        handler_store,
        handler_memory_matched_store,
        recoveries,
        result,
    }
}

/// Passes everything to the inner handler, and on drop records whether its
/// memory agrees with its store (the state a panic must not leave torn).
struct CheckOnDrop {
    handler: NotingHandler,
    out: Arc<Mutex<Option<bool>>>,
}

impl Drop for CheckOnDrop {
    fn drop(&mut self) {
        let store = self.handler.store.lock().unwrap().clone();
        *self.out.lock().unwrap() = Some(self.handler.memory == store);
    }
}

impl StageHandler for CheckOnDrop {
    type Input = RawPage;
    fn name(&self) -> &'static str {
        self.handler.name()
    }
    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        self.handler.handle(page)
    }
    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        self.handler.recover_after_panic()
    }
}

#[tokio::test]
async fn a_panic_on_one_record_dead_letters_it_recovers_the_state_and_goes_on() {
    let producer = FakeProducer::new(1_000_000, 0);
    let run = run_over(
        vec![page("a"), page("panic-1"), page("b"), page("c")],
        producer,
    )
    .await;
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(
        run.acked,
        vec![0, 1, 2, 3],
        "every record acknowledged, the poisoned one too"
    );
    assert_eq!(
        run.handler_store,
        vec!["a", "b", "c"],
        "later records processed"
    );
    assert_eq!(run.recoveries, 1, "the stage reloaded its state once");
    assert!(
        run.handler_memory_matched_store,
        "the half-done update of the panic was dropped"
    );
    let articles: Vec<String> = run
        .producer
        .on(topics::ARTICLES)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(articles, vec!["a", "b", "c"]);
    let letters = run.producer.letters();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.reason, DeadLetterReason::Panic);
    assert_eq!(letter.stage, "noting");
    assert_eq!(letter.topic, topics::RAW);
    assert_eq!((letter.partition, letter.offset), (Some(0), Some(1)));
    assert_eq!(letter.key.as_deref(), Some("key-1"));
    assert!(
        letter.error.contains("poisoned page panic-1"),
        "{}",
        letter.error
    );
    assert_eq!(letter.payload, page_payload_of(&letter.payload, "panic-1"));
    assert!(!letter.payload_truncated);
}

/// The payload of a letter must be the input record itself.
fn page_payload_of(payload: &[u8], item_id: &str) -> Vec<u8> {
    let page: RawPage = decode(payload).expect("the letter carries the record");
    assert_eq!(page.item_id, item_id);
    payload.to_vec()
}

#[tokio::test]
async fn malformed_unknown_version_and_refused_records_become_dead_letters() {
    let producer = FakeProducer::new(1_000_000, 0);
    let run = run_over(
        vec![
            b"{not json".to_vec(),
            br#"{"schema_version": 2, "item_id": "x"}"#.to_vec(),
            page("refuse"),
            br#"{"schema_version": 1, "item_id": 5}"#.to_vec(),
            page("a"),
        ],
        producer,
    )
    .await;
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(run.acked, vec![0, 1, 2, 3, 4]);
    let reasons: Vec<(Option<i64>, DeadLetterReason)> = run
        .producer
        .letters()
        .iter()
        .map(|l| (l.offset, l.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (Some(0), DeadLetterReason::Malformed),
            (Some(1), DeadLetterReason::SchemaVersion),
            (Some(2), DeadLetterReason::Rejected),
            (Some(3), DeadLetterReason::Malformed),
        ]
    );
    assert_eq!(run.handler_store, vec!["a"]);
    assert_eq!(run.recoveries, 0);
}

#[tokio::test]
async fn an_output_too_large_for_the_bus_is_dead_lettered_and_its_input_acked() {
    let producer = FakeProducer::new(1_000, 0);
    let run = run_over(vec![page("big"), page("b")], producer).await;
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(
        run.acked,
        vec![0, 1],
        "the input of the refused output is acknowledged"
    );
    let articles: Vec<String> = run
        .producer
        .on(topics::ARTICLES)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(articles, vec!["b"], "the next record's output went out");
    let letters = run.producer.letters();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.reason, DeadLetterReason::TooLarge);
    assert_eq!(
        letter.topic,
        topics::ARTICLES,
        "the letter carries the output, for its topic"
    );
    assert_eq!(letter.key.as_deref(), Some("big"));
    assert_eq!(letter.payload_bytes, 5_000);
    assert!(
        letter.error.contains("raw partition 0 offset 0"),
        "{}",
        letter.error
    );
    assert!(letter.error.contains("5003 bytes"), "{}", letter.error);
    assert!(letter.error.contains("1000"), "{}", letter.error);
}

#[tokio::test]
async fn a_passing_send_failure_is_retried_not_dead_lettered() {
    let producer = FakeProducer::new(1_000_000, 2);
    let run = run_over(vec![page("a"), page("b")], producer).await;
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(run.acked, vec![0, 1]);
    let articles: Vec<String> = run
        .producer
        .on(topics::ARTICLES)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(articles, vec!["a", "b"], "nothing lost, nothing sent twice");
    assert!(run.producer.letters().is_empty());
    assert_eq!(
        *run.producer.attempts.lock().unwrap(),
        4,
        "two failures, then two sends"
    );
}

#[tokio::test]
async fn an_output_not_sent_by_shutdown_leaves_its_input_unacknowledged() {
    // The bus is away for longer than the test waits: the input must come
    // back after a restart, so it is not acknowledged.
    let producer = FakeProducer::new(1_000_000, u32::MAX);
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let consumer = FakeConsumer {
        queue: VecDeque::from(vec![Delivery {
            topic: topics::RAW.into(),
            partition: 0,
            offset: 0,
            key: None,
            payload: page("a"),
        }]),
        log: log.clone(),
    };
    let handler = NotingHandler {
        memory: Vec::new(),
        store: Default::default(),
        recoveries: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn(run_stage(
        handler,
        Box::new(consumer),
        producer.clone(),
        shutdown.clone(),
        None,
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    shutdown.cancel();
    stage.await.unwrap().unwrap();
    assert!(log.lock().unwrap().acked.is_empty());
    assert!(producer.letters().is_empty());
    assert!(
        *producer.attempts.lock().unwrap() >= 2,
        "the send was retried"
    );
}

#[tokio::test]
async fn a_letter_larger_than_the_bus_takes_is_cut_until_it_fits() {
    // The output (5,000 bytes) is refused, and so would be its letter with
    // the whole payload (base64 makes it larger still).
    let producer = FakeProducer::new(3_000, 0);
    let run = run_over(vec![page("big")], producer).await;
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(run.acked, vec![0]);
    let letters = run.producer.letters();
    assert_eq!(letters.len(), 1, "the letter was sent, cut");
    let letter = &letters[0];
    assert!(letter.payload_truncated);
    assert!(letter.payload.len() < 5_000 && !letter.payload.is_empty());
    assert_eq!(
        letter.payload_bytes, 5_000,
        "the letter still tells the full size"
    );
}

/// Panics in its first idle tick, then behaves.
struct IdlePanicker {
    ticks: u32,
    recoveries: Arc<Mutex<u32>>,
    handled: Arc<Mutex<Vec<String>>>,
}

impl StageHandler for IdlePanicker {
    type Input = RawPage;
    fn name(&self) -> &'static str {
        "idle-panicker"
    }
    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        self.handled.lock().unwrap().push(page.item_id);
        Ok(Vec::new())
    }
    fn on_idle(&mut self, _now: chrono::DateTime<chrono::Utc>) -> Result<Vec<Output>, HandleError> {
        self.ticks += 1;
        if self.ticks == 1 {
            panic!("tick went wrong");
        }
        Ok(Vec::new())
    }
    fn recover_after_panic(&mut self) -> Result<(), HandleError> {
        *self.recoveries.lock().unwrap() += 1;
        Ok(())
    }
}

#[tokio::test]
async fn a_panic_in_an_idle_tick_does_not_end_the_stage() {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    // Empty at first, so the first poll is an idle tick (which panics).
    let consumer = FakeConsumer {
        queue: VecDeque::new(),
        log: log.clone(),
    };
    let recoveries = Arc::new(Mutex::new(0));
    let handled = Arc::new(Mutex::new(Vec::new()));
    let handler = IdlePanicker {
        ticks: 0,
        recoveries: recoveries.clone(),
        handled: handled.clone(),
    };
    let producer = FakeProducer::new(1_000_000, 0);
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn(run_stage(
        handler,
        Box::new(consumer),
        producer,
        shutdown.clone(),
        None,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stage.is_finished(), "the stage went on after the panic");
    shutdown.cancel();
    assert!(stage.await.unwrap().is_ok());
    assert_eq!(*recoveries.lock().unwrap(), 1);
}

/// Holds every record it is handed until the test releases it, as a broker
/// slow to acknowledge would; records the order records were handed over.
#[derive(Default)]
struct GatedProducer {
    handed: Mutex<Vec<(String, Option<tokio::sync::oneshot::Sender<()>>)>>,
}

impl GatedProducer {
    fn keys(&self) -> Vec<String> {
        self.handed
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }
    /// Makes the record with `key` durable.
    fn release(&self, key: &str) {
        let mut handed = self.handed.lock().unwrap();
        let (_, gate) = handed.iter_mut().find(|(k, _)| k == key).unwrap();
        let _ = gate.take().unwrap().send(());
    }
}

#[async_trait]
impl Producer for GatedProducer {
    async fn enqueue(
        &self,
        _topic: &str,
        key: &str,
        _payload: Vec<u8>,
    ) -> Result<newsflow_bus::PendingSend, BusError> {
        let (gate, opened) = tokio::sync::oneshot::channel();
        self.handed.lock().unwrap().push((key.into(), Some(gate)));
        Ok(Box::pin(async move {
            opened.await.map_err(|_| BusError::Closed)
        }))
    }
}

/// Counts its confirmations; with `concurrent`, offers its handle to run on
/// several inputs at once, the first input taking longest.
struct Echo {
    delivered: Arc<Mutex<u32>>,
    concurrent: bool,
}

fn echo(page: RawPage) -> Result<Vec<Output>, HandleError> {
    if page.item_id == "p0" {
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(vec![Output {
        topic: topics::ARTICLES,
        key: page.item_id,
        payload: b"a".to_vec(),
    }])
}

impl StageHandler for Echo {
    type Input = RawPage;
    fn name(&self) -> &'static str {
        "echo"
    }
    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        echo(page)
    }
    fn outputs_delivered(&mut self) -> Result<(), HandleError> {
        *self.delivered.lock().unwrap() += 1;
        Ok(())
    }
    fn concurrent(&self) -> Option<super::ConcurrentHandle<RawPage>> {
        self.concurrent
            .then(|| Arc::new(echo) as super::ConcurrentHandle<RawPage>)
    }
}

/// Runs `handler` over `consumer` with a producer that takes everything,
/// until `count` inputs are acknowledged, then stops it.
async fn run_until_acked<H: StageHandler + 'static>(
    handler: H,
    consumer: FakeConsumer,
    log: &Arc<Mutex<ConsumerLog>>,
    count: usize,
) {
    run_through_until_acked(handler, consumer, FakeProducer::new(1 << 20, 0), log, count).await;
}

/// The same, handing outputs to `producer`.
async fn run_through_until_acked<H: StageHandler + 'static>(
    handler: H,
    consumer: FakeConsumer,
    producer: Arc<dyn Producer>,
    log: &Arc<Mutex<ConsumerLog>>,
    count: usize,
) {
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn(run_stage(
        handler,
        Box::new(consumer),
        producer,
        shutdown.clone(),
        None,
    ));
    wait_for(|| log.lock().unwrap().acked.len() == count).await;
    shutdown.cancel();
    stage.await.unwrap().unwrap();
}

async fn wait_for(what: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !what() {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Several inputs are in flight at once, their outputs handed over in input
/// order; each input is acknowledged only once its own outputs and those of
/// every input before it are durable, whatever order the bus confirms them.
async fn in_flight_inputs_are_acknowledged_in_order_once_durable(concurrent: bool) {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let consumer = FakeConsumer::over_four_pages(&log);
    let producer = Arc::new(GatedProducer::default());
    let delivered = Arc::new(Mutex::new(0));
    let handler = Echo {
        delivered: delivered.clone(),
        concurrent,
    };
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn(run_stage(
        handler,
        Box::new(consumer),
        producer.clone(),
        shutdown.clone(),
        None,
    ));
    // All four are handed over before any is durable, in input order.
    wait_for(|| producer.keys().len() == 4).await;
    assert_eq!(producer.keys(), ["p0", "p1", "p2", "p3"]);
    let acked = || log.lock().unwrap().acked.clone();
    producer.release("p2");
    producer.release("p1");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(acked().is_empty(), "p0 is not durable yet: {:?}", acked());
    assert_eq!(*delivered.lock().unwrap(), 0);
    producer.release("p0");
    wait_for(|| acked().len() == 3).await;
    assert_eq!(acked(), [0, 1, 2]);
    assert_eq!(*delivered.lock().unwrap(), 3);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(acked(), [0, 1, 2], "p3 is not durable");
    shutdown.cancel();
    stage.await.unwrap().unwrap();
    assert_eq!(acked(), [0, 1, 2], "shutdown leaves p3 to be read again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_keeps_inputs_in_flight_and_acknowledges_them_in_order() {
    in_flight_inputs_are_acknowledged_in_order_once_durable(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_stage_hands_outputs_over_in_input_order() {
    in_flight_inputs_are_acknowledged_in_order_once_durable(true).await;
}

/// Outputs of 33 MiB each: two of them fill the bytes a stage may have in
/// flight.
struct Bulky;

impl StageHandler for Bulky {
    type Input = RawPage;
    fn name(&self) -> &'static str {
        "bulky"
    }
    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        Ok(vec![Output {
            topic: topics::ARTICLES,
            key: page.item_id,
            payload: vec![b'a'; 33 * 1024 * 1024],
        }])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_outputs_in_flight_stop_the_stage_reading_until_they_are_durable() {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let consumer = FakeConsumer::over_four_pages(&log);
    let producer = Arc::new(GatedProducer::default());
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn(run_stage(
        Bulky,
        Box::new(consumer),
        producer.clone(),
        shutdown.clone(),
        None,
    ));
    wait_for(|| producer.keys().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        producer.keys(),
        ["p0", "p1"],
        "66 MiB in flight: nothing more is read"
    );
    producer.release("p0");
    wait_for(|| producer.keys().len() == 3).await;
    producer.release("p1");
    producer.release("p2");
    wait_for(|| producer.keys().len() == 4).await;
    producer.release("p3");
    wait_for(|| log.lock().unwrap().acked.len() == 4).await;
    shutdown.cancel();
    stage.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_record_that_never_reached_the_handler_is_not_confirmed_to_it() {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let consumer = FakeConsumer::over(vec![page("p0"), b"not json".to_vec(), page("p1")], &log);
    let delivered = Arc::new(Mutex::new(0));
    let handler = Echo {
        delivered: delivered.clone(),
        concurrent: false,
    };
    run_until_acked(handler, consumer, &log, 3).await;
    assert_eq!(
        *delivered.lock().unwrap(),
        2,
        "one confirmation per handled input: the malformed one was never handled"
    );
}

/// A concurrent handler that records how many of its calls overlap.
struct Overlapping {
    width: Option<usize>,
    running: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
}

impl StageHandler for Overlapping {
    type Input = RawPage;
    fn name(&self) -> &'static str {
        "overlapping"
    }
    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        echo(page)
    }
    fn concurrent(&self) -> Option<super::ConcurrentHandle<RawPage>> {
        use std::sync::atomic::Ordering;
        let (running, most) = (self.running.clone(), self.most.clone());
        Some(Arc::new(move |page| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(40));
            running.fetch_sub(1, Ordering::SeqCst);
            echo(page)
        }))
    }
    fn concurrency(&self) -> Option<usize> {
        self.width
    }
}

async fn most_overlapping_calls(width: Option<usize>) -> usize {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let pages = (1..=8).map(|i| page(&format!("q{i}"))).collect();
    let consumer = FakeConsumer::over(pages, &log);
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler = Overlapping {
        width,
        running: Default::default(),
        most: most.clone(),
    };
    run_until_acked(handler, consumer, &log, 8).await;
    most.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_stage_works_on_no_more_inputs_at_once_than_it_is_given() {
    assert_eq!(most_overlapping_calls(Some(1)).await, 1);
    assert_eq!(
        most_overlapping_calls(Some(3)).await,
        3,
        "three at once, whatever the cores"
    );
}

/// A stage whose store commits each input without a sync and makes them
/// durable only when asked, as dedup's and the clusterer's do on the
/// embedded bus.
struct DeferredSyncs {
    handled: usize,
    log: Arc<Mutex<ConsumerLog>>,
}

impl StageHandler for DeferredSyncs {
    type Input = RawPage;
    fn name(&self) -> &'static str {
        "deferred"
    }
    fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
        self.handled += 1;
        echo(page)
    }
    fn make_state_durable(&mut self) -> Result<(), HandleError> {
        let mut log = self.log.lock().unwrap();
        if log.durable < self.handled {
            log.durable = self.handled;
            log.syncs += 1;
        }
        Ok(())
    }
    fn defers_state_syncs(&self) -> bool {
        true
    }
}

/// Notes each output handed over before the state of its input (`pN`, the
/// N+1th) was made durable.
struct WatchingProducer {
    log: Arc<Mutex<ConsumerLog>>,
    inner: Arc<FakeProducer>,
}

#[async_trait]
impl Producer for WatchingProducer {
    async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: Vec<u8>,
    ) -> Result<newsflow_bus::PendingSend, BusError> {
        let input: usize = key.trim_start_matches('p').parse().unwrap();
        {
            let mut log = self.log.lock().unwrap();
            if input >= log.durable {
                log.handed_before_durable.push(key.to_string());
            }
        }
        self.inner.enqueue(topic, key, payload).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_goes_out_and_no_input_is_acknowledged_before_its_state_is_durable() {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let consumer = FakeConsumer::over((0..20).map(|i| page(&format!("p{i}"))).collect(), &log);
    let handler = DeferredSyncs {
        handled: 0,
        log: log.clone(),
    };
    let producer = Arc::new(WatchingProducer {
        log: log.clone(),
        inner: FakeProducer::new(1 << 20, 0),
    });
    run_through_until_acked(handler, consumer, producer, &log, 20).await;
    let log = log.lock().unwrap();
    assert_eq!(log.acked, (0..20).collect::<Vec<i64>>());
    assert!(
        log.handed_before_durable.is_empty(),
        "handed over before their state was durable: {:?}",
        log.handed_before_durable
    );
    assert!(
        log.acked_before_durable.is_empty(),
        "acknowledged before their state was durable: {:?}",
        log.acked_before_durable
    );
    // All twenty were waiting at once: they share a sync or two, not one
    // each (the first input is handled alone while the rest arrive).
    assert!(log.syncs <= 3, "{} syncs for 20 inputs", log.syncs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_that_syncs_each_input_itself_is_not_batched() {
    let log = Arc::new(Mutex::new(ConsumerLog::default()));
    let consumer = FakeConsumer::over((0..8).map(|i| page(&format!("p{i}"))).collect(), &log);
    let handled = Arc::new(Mutex::new(Vec::new()));
    let producer = FakeProducer::new(1 << 20, 0);
    /// Notes, as each input comes in, how many outputs were handed over.
    struct Plain(Arc<Mutex<Vec<usize>>>, Arc<FakeProducer>);
    impl StageHandler for Plain {
        type Input = RawPage;
        fn name(&self) -> &'static str {
            "plain"
        }
        fn handle(&mut self, page: RawPage) -> Result<Vec<Output>, HandleError> {
            let handed = self.1.on(topics::ARTICLES).len();
            self.0.lock().unwrap().push(handed);
            echo(page)
        }
    }
    let handler = Plain(handled.clone(), producer.clone());
    run_through_until_acked(handler, consumer, producer, &log, 8).await;
    // Each input's outputs were handed over before the next was handled.
    assert_eq!(*handled.lock().unwrap(), (0..8).collect::<Vec<usize>>());
}
