//! `newsflow cluster` and `newsflow dedup`: a stage replayed over a file.

use std::io::{BufReader, BufWriter, Write};

use anyhow::Context;

use crate::cli::{ClusterArgs, DedupArgs};
use crate::settings::Settings;

fn open_files(
    input: &std::path::Path,
    output: &std::path::Path,
) -> anyhow::Result<(BufReader<std::fs::File>, BufWriter<std::fs::File>)> {
    let reader =
        std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let writer =
        std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    Ok((BufReader::new(reader), BufWriter::new(writer)))
}

pub fn cluster(args: ClusterArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let (mut input, mut output) = open_files(&args.input, &args.output)?;
    let summary = newsflow_clusterer::replay::run(
        &mut input,
        &mut output,
        args.text_field.as_deref(),
        &settings.clusterer,
    )
    .with_context(|| format!("clustering {}", args.input.display()))?;
    output.flush()?;
    eprintln!(
        "clustered {} documents into {} events ({} lines skipped)",
        summary.documents, summary.events, summary.skipped
    );
    Ok(())
}

pub fn dedup(args: DedupArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let (mut input, mut output) = open_files(&args.input, &args.output)?;
    let summary = newsflow_dedup::replay::run(&mut input, &mut output, &settings.dedup)
        .with_context(|| format!("deduplicating {}", args.input.display()))?;
    output.flush()?;
    eprintln!(
        "{} documents: {} new stories, {} duplicates, {} updates, {} unchanged",
        summary.documents,
        summary.new_stories,
        summary.duplicates,
        summary.updates,
        summary.unchanged
    );
    Ok(())
}
