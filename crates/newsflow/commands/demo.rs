//! `newsflow demo`: the whole embedded pipeline over the bundled fixture
//! outlets, served on a loopback port, with the resulting events printed.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use newsflow_fixture_server::FixtureServer;
use newsflow_model::EventRecord;

use crate::cli::{DemoArgs, OutputFormat, StageName};
use crate::event_view::{self, LatestEvents};
use crate::pipeline::{self, PipelineOptions};
use crate::settings::Settings;

/// The fixtures ship with the source tree.
fn bundled_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let fixtures = args.fixtures.clone().unwrap_or_else(bundled_fixtures);
    let outlets = fixtures.join("outlets");
    let server = FixtureServer::start(&outlets)
        .await
        .with_context(|| format!("serving {}", outlets.display()))?;
    eprintln!("serving the fixture outlets at {}", server.base_url());

    let feeds_template = std::fs::read_to_string(fixtures.join("feeds.toml"))
        .with_context(|| format!("reading {}", fixtures.join("feeds.toml").display()))?;
    let feeds = newsflow_fetcher::parse_feed_list(&server.render(&feeds_template))?;

    let temporary = tempfile::tempdir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    let mut settings = Settings {
        data_dir: data_dir.clone(),
        ..Default::default()
    };
    settings.fetcher.allow_private_addresses = true;
    // Every fixture outlet is on the one loopback host: no need to space
    // requests out as for a real site.
    settings.fetcher.per_host_min_gap_ms = 0;
    let events_path = data_dir.join("events.jsonl");
    let options = PipelineOptions {
        stages: vec![
            StageName::Fetcher,
            StageName::Cleaner,
            StageName::Dedup,
            StageName::Clusterer,
        ],
        feeds,
        events_out: Some(events_path.clone()),
        until_idle: true,
        operator_listen: None,
        websub_listen: None,
        accept_incomplete_restore: false,
    };
    pipeline::run(&settings, options, pipeline::shutdown::on_signals()).await?;

    let mut latest = LatestEvents::default();
    let file = std::fs::File::open(&events_path)
        .with_context(|| format!("reading {}", events_path.display()))?;
    for line in std::io::BufReader::new(file).lines() {
        let record: EventRecord = serde_json::from_str(&line?)?;
        latest.update(record);
    }
    let standing = latest.standing();
    match args.format {
        OutputFormat::Json => {
            for event in standing {
                println!("{}", serde_json::to_string(event)?);
            }
        }
        OutputFormat::Text => {
            println!("{} events\n", standing.len());
            for event in standing {
                println!("{}", event_view::render(event));
            }
        }
    }
    Ok(())
}
