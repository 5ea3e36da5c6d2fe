//! Faults of the stages in front of dedup, on Kafka: fetcher, cleaner, dedup
//! and clusterer each their own process on a tansu broker (sqlite storage),
//! the fetcher polling outlets of synthetic news (`common::synthetic_news`,
//! with verbatim syndicated copies) served on loopback. The stream arrives
//! in waves, new stories added to the outlets' feeds, and:
//!
//! 1. the fetcher is SIGKILLed twice while it fetches a wave and produces
//!    its pages to `raw` (early in one wave, midway in the next), and
//!    restarted: a page handed on but not yet marked seen is produced again
//!    (pages of the wave are also produced a second time on purpose, as
//!    such a kill would); a page marked seen was on `raw` before;
//! 2. the cleaner is SIGKILLed, a wave is fetched into a backlog on `raw`,
//!    and the restarted cleaner is SIGKILLed again while it works through
//!    that backlog, then restarted: it reads again what it had not
//!    committed.
//!
//! After each fault: every story is in exactly one event (a syndicated copy
//! stands for its original), no event lists a story twice, and no event's
//! version goes back. The test prints, per fault, how long until the
//! restarted stage was back at work and until every story was placed (the
//! README's reliability table), and how many pages reached `raw` more than
//! once.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::kafka::require_tansu;
use common::kafka_pipeline::{Pipeline, PLACE_TIMEOUT};
use common::synthetic_news::SyntheticNews;
use newsflow_model::RawPage;

const PREFIX: &str = "fetchfaults.";
/// The waves the stream arrives in, as shares (in tenths) of the stories:
/// before any fault, the two fetcher kills, the cleaner's backlog.
const WAVES: [usize; 4] = [2, 2, 2, 4];
const _WHOLE_STREAM: () = assert!(WAVES[0] + WAVES[1] + WAVES[2] + WAVES[3] == 10);
/// Pages of the first fetcher-fault wave produced to `raw` a second time.
const PRODUCED_AGAIN: usize = 5;

/// Adds wave `wave` of `WAVES` to the outlets' feeds; returns how many
/// pages it adds.
fn publish_wave(pipeline: &mut Pipeline, wave: usize) -> usize {
    let tenths: usize = WAVES[..=wave].iter().sum();
    let end = pipeline.stories.len() * tenths / 10;
    pipeline.publish(end - pipeline.published)
}

/// Adds wave `wave` of `WAVES` to the feeds, SIGKILLs the
/// fetcher once it has handed on `after` of its pages (`None`: half) and
/// restarts it. Asserts that the kill landed while the wave was being
/// handed on. Returns the pages of the wave that were on `raw` at the kill,
/// when it was, and how long until the restarted fetcher handed on a page.
fn kill_fetcher_in_wave(
    pipeline: &mut Pipeline,
    wave: usize,
    after: Option<usize>,
) -> (Vec<RawPage>, Instant, Duration) {
    let before: BTreeSet<String> = pipeline
        .raw_pages()
        .into_iter()
        .map(|p| p.item_id)
        .collect();
    let start = pipeline.pages_delivered();
    let wave = publish_wave(pipeline, wave);
    let after = after.unwrap_or(wave / 2);
    pipeline.wait_closely_for(
        "the fetcher hands on the new wave",
        Duration::from_secs(60),
        |p| p.pages_delivered() >= start + after,
    );
    pipeline.kill("fetcher");
    let killed = Instant::now();
    let handed_on: Vec<RawPage> = pipeline
        .raw_pages()
        .into_iter()
        .filter(|p| !before.contains(&p.item_id))
        .collect();
    eprintln!(
        "fetcher SIGKILLed with {} of {wave} pages of the wave on raw",
        handed_on.len()
    );
    assert!(
        handed_on.len() < wave,
        "the kill came after the whole wave was handed on"
    );
    pipeline.spawn("fetcher");
    pipeline.wait_for(
        "the restarted fetcher hands on a page",
        PLACE_TIMEOUT,
        |p| p.pages_delivered() > 0,
    );
    (handed_on, killed, killed.elapsed())
}

#[test]
fn the_fetcher_and_the_cleaner_killed_mid_stream_lose_and_repeat_nothing() {
    if !require_tansu() {
        return;
    }
    let seed = common::crash_seed();
    eprintln!("stream seed: {seed} (NEWSFLOW_CRASH_SEED={seed} replays it)");
    let mut pipeline = Pipeline::start(SyntheticNews::generate(seed, 30, 5, 7).stories, PREFIX);
    assert!(pipeline.stories.len() >= 150);

    publish_wave(&mut pipeline, 0);
    for stage in ["fetcher", "cleaner", "dedup", "clusterer"] {
        pipeline.spawn(stage);
    }
    pipeline.wait_placed("start", Instant::now());
    let mut figures = Vec::new();

    // 1. The fetcher dies while it hands on a wave, early in one and midway
    //    in the next; some pages of the first reach `raw` twice.
    let (handed_on, killed, back) = kill_fetcher_in_wave(&mut pipeline, 1, Some(3));
    let again: Vec<RawPage> = handed_on.into_iter().take(PRODUCED_AGAIN).collect();
    assert!(again.len() >= 3, "{} pages to produce again", again.len());
    pipeline.produce_again(&again);
    figures.push((
        "fetcher SIGKILLed early in a wave, restarted; 3-5 of its pages produced twice",
        back,
        pipeline.wait_placed("fetcher SIGKILLed early in a wave", killed),
    ));
    let (_, killed, back) = kill_fetcher_in_wave(&mut pipeline, 2, None);
    figures.push((
        "fetcher SIGKILLed midway through a wave, restarted",
        back,
        pipeline.wait_placed("fetcher SIGKILLed midway through a wave", killed),
    ));

    // 2. The cleaner dies; a wave piles up on `raw`; the restarted cleaner
    //    dies again while it works through that backlog.
    pipeline.kill("cleaner");
    let delivered = pipeline.pages_delivered();
    let wave = publish_wave(&mut pipeline, 3);
    pipeline.wait_for(
        "the fetcher hands on the backlog wave",
        Duration::from_secs(90),
        |p| p.pages_delivered() >= delivered + wave,
    );
    let articles_before = pipeline.all_records("articles").len();
    pipeline.spawn("cleaner");
    pipeline.wait_closely_for(
        "the restarted cleaner starts on its backlog",
        PLACE_TIMEOUT,
        |p| p.cleaner_inputs() >= 3,
    );
    pipeline.kill("cleaner");
    let killed = Instant::now();
    let cleaned = pipeline.all_records("articles").len() - articles_before;
    eprintln!("cleaner SIGKILLed with {cleaned} of a backlog of {wave} pages cleaned");
    assert!(
        cleaned < wave,
        "the kill came after the whole backlog was cleaned"
    );
    pipeline.spawn("cleaner");
    pipeline.wait_for(
        "the restarted cleaner goes on with its backlog",
        PLACE_TIMEOUT,
        |p| p.cleaner_inputs() > 0,
    );
    let back = killed.elapsed();
    figures.push((
        "cleaner SIGKILLed while working through a backlog on raw, restarted",
        back,
        pipeline.wait_placed("cleaner SIGKILLed in its backlog", killed),
    ));

    for (fault, back, placed) in &figures {
        eprintln!(
            "RELIABILITY-TABLE | {fault} | 1 | 0 | 0 | back at work {:.1} s, every story placed {:.0} s after the kill |",
            back.as_secs_f64(),
            placed.as_secs_f64()
        );
    }
    pipeline.terminate_all();
}
