//! A lone stage SIGKILLed and restarted on tansu gets its input back once
//! the dead member's session is over, not after `consumer_stall_secs`.
//!
//! tansu gives the restarted process's member no partition (the dead
//! member still holds it) and makes no rebalance when the dead member's
//! session expires, so before a first member given nothing joined afresh
//! after its session timeout, the restarted cleaner here sat idle, with
//! its input waiting, until the stall watch re-created it: 600 s, longer
//! than the test waits.

mod common;

use std::time::{Duration, Instant};

use common::kafka::require_tansu;
use common::kafka_pipeline::Pipeline;
use common::synthetic_news::SyntheticNews;

const PREFIX: &str = "restart.";

#[test]
fn a_restarted_lone_cleaner_gets_its_partition_back_after_a_session_timeout() {
    if !require_tansu() {
        return;
    }
    let stories = SyntheticNews::generate(7, 12, 3, 0).stories;
    let mut pipeline = Pipeline::start_with_stall(stories, PREFIX, 600);
    let half = pipeline.stories.len() / 2;
    pipeline.publish(half);
    for stage in ["fetcher", "cleaner", "dedup", "clusterer"] {
        pipeline.spawn(stage);
    }
    pipeline.wait_placed("start", Instant::now());

    pipeline.kill("cleaner");
    let delivered = pipeline.pages_delivered();
    let rest = pipeline.publish(pipeline.stories.len());
    pipeline.wait_for(
        "the fetcher hands on the new pages",
        Duration::from_secs(120),
        |p| p.pages_delivered() >= delivered + rest,
    );
    let restarted = Instant::now();
    pipeline.spawn("cleaner");
    let took = pipeline.wait_placed("cleaner SIGKILLed and restarted", restarted);
    eprintln!(
        "RELIABILITY-TABLE | lone cleaner SIGKILLed, {rest} pages waiting, restarted | 1 | 0 | 0 | \
         every story placed {:.0} s after the restart |",
        took.as_secs_f64()
    );
    pipeline.terminate_all();
}
