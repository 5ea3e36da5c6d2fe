//! `newsflow tail`: follow the `events` topic.

use std::time::Duration;

use newsflow_model::{decode, EventRecord};

use crate::cli::{OutputFormat, TailArgs};
use crate::event_view;
use crate::settings::Settings;

pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let idle_limit = args.idle_exit_secs.map(Duration::from_secs);
    let print = |payload: &[u8]| match decode::<EventRecord>(payload) {
        Ok(event) => match args.format {
            OutputFormat::Json => match serde_json::to_string(&event) {
                Ok(line) => println!("{line}"),
                Err(error) => tracing::warn!(%error, "cannot print event"),
            },
            OutputFormat::Text => println!("{}", event_view::render(&event)),
        },
        Err(error) => tracing::warn!(%error, "skipping a malformed event record"),
    };
    let shutdown = crate::pipeline::shutdown::on_signals();
    super::follow_events::follow(&settings, "tail", idle_limit, &shutdown, false, print).await
}
