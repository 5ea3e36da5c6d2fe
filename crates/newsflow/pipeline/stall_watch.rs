//! The stall watcher: a stage that made no progress for
//! `readiness.stall_after_secs` while its input had a backlog is logged as
//! stalled (once, when it stalls, and again when it resumes), counted in the
//! `newsflow_stage_stalled` gauge, and makes `/ready` fail.
//!
//! On Kafka the bus cannot tell a backlog yet (`Consumer::backlog` is
//! `None`), so there a stall is only seen while a stage holds an input it
//! cannot finish; a consumer that gets nothing while its topic has records
//! is not seen as stalled.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::internal_events::{StageResumed, StageStalled};
use super::progress::{ProgressBoard, Stall};
use super::readiness::Readiness;

/// Checks often enough to notice a stall soon after its limit, and at most
/// once a second.
fn check_interval(after: Duration) -> Duration {
    (after / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
}

pub async fn watch(
    board: Arc<ProgressBoard>,
    readiness: Arc<Readiness>,
    after: Duration,
    shutdown: CancellationToken,
) {
    let mut stalled_before: BTreeSet<(&'static str, String)> = BTreeSet::new();
    let mut ticker = tokio::time::interval(check_interval(after));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let stalls = board.stalled(Instant::now(), after);
        let stalled_now: BTreeSet<(&'static str, String)> =
            stalls.iter().map(|s| (s.stage, s.group.clone())).collect();
        for stall in &stalls {
            if !stalled_before.contains(&(stall.stage, stall.group.clone())) {
                report_stall(stall);
            }
        }
        for (stage, group) in stalled_before.difference(&stalled_now) {
            StageResumed { stage, group }.emit();
        }
        readiness.set_stalls(stalls);
        stalled_before = stalled_now;
    }
}

fn report_stall(stall: &Stall) {
    StageStalled { stall }.emit();
}

/// Resolves with the stalls once any stage is stalled: ends a run that
/// must finish (`--until-idle`) instead of letting it wait for ever.
pub async fn first_stall(board: Arc<ProgressBoard>, after: Duration) -> Vec<Stall> {
    loop {
        tokio::time::sleep(check_interval(after)).await;
        let stalls = board.stalled(Instant::now(), after);
        if !stalls.is_empty() {
            return stalls;
        }
    }
}
