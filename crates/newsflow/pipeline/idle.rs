//! Knowing when an embedded pipeline has finished its input: every group's
//! backlog empty, checked in pipeline order, twice in a row.

use std::time::Duration;

use anyhow::Context;
use newsflow_bus::EmbeddedBus;
use tokio::task::JoinSet;

use super::stage_loop::HandleError;

const CHECK_EVERY: Duration = Duration::from_millis(200);

pub async fn wait_until_drained(
    bus: &EmbeddedBus,
    groups: &[(String, &'static str)],
    tasks: &mut JoinSet<Result<(), HandleError>>,
) -> anyhow::Result<()> {
    let mut idle_checks = 0;
    while idle_checks < 2 {
        tokio::time::sleep(CHECK_EVERY).await;
        if tasks.is_empty() {
            return Ok(());
        }
        if let Some(finished) = tasks.try_join_next() {
            // A stage ended before its input ran dry: that is a failure.
            finished
                .context("a stage crashed")?
                .map_err(|e| anyhow::anyhow!("a stage stopped: {e}"))?;
        }
        let mut all_empty = true;
        for (group, topic) in groups {
            if bus.pending(group, topic)? > 0 {
                all_empty = false;
                break;
            }
        }
        idle_checks = if all_empty { idle_checks + 1 } else { 0 };
    }
    Ok(())
}
