//! Faults at random on Kafka: fetcher, cleaner, dedup and clusterer each
//! their own process on a tansu broker (sqlite storage), the fetcher polling
//! outlets of synthetic news (with verbatim syndicated copies) that arrives
//! in waves. While each wave is being fetched, cleaned and placed, one fault
//! drawn from a seeded generator strikes at a random moment: a stage or the
//! broker SIGKILLed (a stateful stage sometimes with its data directory
//! wiped, as a lost disk would) or a stage stopped with SIGTERM; each comes
//! back after a random pause. The other reliability tests each stage one
//! fault at a chosen moment; here faults land wherever they land, one upon
//! the recovery from the last.
//!
//! Whenever the events are read: no story is counted twice and no event's
//! version goes back. At the end, with the whole stream published and no
//! more faults: every story is in exactly one event (a syndicated copy
//! stands for its original).
//!
//! `NEWSFLOW_CRASH_SEED=N` replays a run (the seed is printed);
//! `NEWSFLOW_CHAOS_FAULTS=N` sets how many faults strike (default 8).

mod common;

use std::time::{Duration, Instant};

use common::kafka::require_tansu;
use common::kafka_pipeline::Pipeline;
use common::synthetic_news::SyntheticNews;

const PREFIX: &str = "chaos.";
const STAGES: [&str; 4] = ["fetcher", "cleaner", "dedup", "clusterer"];

/// One fault, as drawn.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Kill(&'static str),
    /// SIGKILL, and the stage's data directory is gone when it returns.
    KillAndWipe(&'static str),
    Terminate(&'static str),
    KillBroker,
}

impl Fault {
    fn draw(rng: &mut fastrand::Rng) -> Self {
        match rng.u32(..10) {
            0..=4 => Self::Kill(STAGES[rng.usize(..STAGES.len())]),
            5 => Self::KillAndWipe(["dedup", "clusterer"][rng.usize(..2)]),
            6 | 7 => Self::Terminate(STAGES[rng.usize(..STAGES.len())]),
            _ => Self::KillBroker,
        }
    }

    fn strike(self, pipeline: &mut Pipeline, pause: Duration) {
        match self {
            Self::Kill(stage) => {
                pipeline.kill(stage);
                std::thread::sleep(pause);
                pipeline.spawn(stage);
            }
            Self::KillAndWipe(stage) => {
                pipeline.kill(stage);
                let _ = std::fs::remove_dir_all(pipeline.data_dir(stage));
                std::thread::sleep(pause);
                pipeline.spawn(stage);
            }
            Self::Terminate(stage) => {
                pipeline.terminate(stage);
                std::thread::sleep(pause);
                pipeline.spawn(stage);
            }
            Self::KillBroker => {
                pipeline.kill_broker();
                std::thread::sleep(pause);
                pipeline.restart_broker();
            }
        }
    }
}

#[test]
fn faults_at_random_moments_lose_and_repeat_no_story() {
    if !require_tansu() {
        return;
    }
    let seed = common::crash_seed();
    let faults: usize = std::env::var("NEWSFLOW_CHAOS_FAULTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    eprintln!("seed: {seed} (NEWSFLOW_CRASH_SEED={seed} replays it), {faults} faults");
    let mut rng = fastrand::Rng::with_seed(seed);
    let stories = SyntheticNews::generate(seed, 8 * (faults + 1), 4, 7).stories;
    let wave = stories.len() / (faults + 1);
    let mut pipeline = Pipeline::start(stories, PREFIX);

    pipeline.publish(wave);
    for stage in STAGES {
        pipeline.spawn(stage);
    }
    pipeline.wait_placed("start", Instant::now());

    let mut struck = Vec::new();
    for round in 1..=faults {
        pipeline.publish(wave);
        std::thread::sleep(Duration::from_millis(rng.u64(..4_000)));
        let fault = Fault::draw(&mut rng);
        let pause = Duration::from_millis(rng.u64(..3_000));
        eprintln!("fault {round}: {fault:?}, back after {pause:?}");
        fault.strike(&mut pipeline, pause);
        struck.push(fault);
        // Whatever is out so far must be consistent, placed or not.
        let _ = pipeline.check_placement(&format!("after fault {round} ({fault:?})"));
    }
    let last = Instant::now();
    pipeline.publish(pipeline.stories.len());
    let took = pipeline.wait_placed(&format!("{faults} random faults ({struck:?})"), last);
    eprintln!(
        "RELIABILITY-TABLE | {faults} faults at random moments: {struck:?} | 1 | 0 | 0 | \
         every story placed {:.0} s after the last |",
        took.as_secs_f64()
    );
    pipeline.terminate_all();
}
