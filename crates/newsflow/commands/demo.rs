//! `newsflow demo`: the whole embedded pipeline over the bundled fixture
//! outlets, served on a loopback port, with the resulting events printed.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context;
use newsflow_fixture_server::FixtureServer;
use newsflow_model::EventRecord;

use crate::cli::{DemoArgs, OutputFormat, StageName};
use crate::event_view::{self, LatestEvents};
use crate::pipeline::{self, PipelineOptions};
use crate::settings::Settings;

/// The fixture outlets and their feed list, built into the binary so that
/// `demo` works wherever the binary is installed.
static BUNDLED_OUTLETS: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/outlets");
const BUNDLED_FEEDS: &str = include_str!("../../../tests/fixtures/feeds.toml");

/// Writes the bundled fixtures into `into`, laid out as in the repository.
fn unpack_bundled_fixtures(into: &Path) -> anyhow::Result<PathBuf> {
    let outlets = into.join("outlets");
    std::fs::create_dir_all(&outlets)?;
    BUNDLED_OUTLETS
        .extract(&outlets)
        .with_context(|| format!("unpacking the bundled fixtures into {}", outlets.display()))?;
    std::fs::write(into.join("feeds.toml"), BUNDLED_FEEDS)?;
    Ok(into.to_path_buf())
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let unpacked = tempfile::tempdir()?;
    let fixtures = match &args.fixtures {
        Some(fixtures) => fixtures.clone(),
        None => unpack_bundled_fixtures(unpacked.path())?,
    };
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
        feeds_path: None,
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
