//! `newsflow cluster` and `newsflow dedup`: a stage replayed over a file.

use std::io::{BufWriter, Write};

use anyhow::Context;

use crate::cli::{ClusterArgs, DedupArgs};
use crate::progress::ProgressReader;
use crate::settings::Settings;

/// The input (with a progress bar while stderr is a terminal) and output.
fn open_files(
    input: &std::path::Path,
    output: &std::path::Path,
    what: &str,
) -> anyhow::Result<(ProgressReader, BufWriter<std::fs::File>)> {
    let reader =
        std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let writer =
        std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    Ok((ProgressReader::new(reader, what), BufWriter::new(writer)))
}

pub fn cluster(args: ClusterArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let (mut input, mut output) = open_files(&args.input, &args.output, "clustering")?;
    let summary = newsflow_clusterer::replay::run(
        &mut input.reader,
        &mut output,
        args.text_field.as_deref(),
        &settings.clusterer,
    )
    .with_context(|| format!("clustering {}", args.input.display()))?;
    input.finish();
    output.flush()?;
    eprintln!(
        "clustered {} documents into {} events ({} lines skipped)",
        summary.documents, summary.events, summary.skipped
    );
    Ok(())
}

pub fn dedup(args: DedupArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let (mut input, mut output) = open_files(&args.input, &args.output, "deduplicating")?;
    let summary = newsflow_dedup::replay::run(&mut input.reader, &mut output, &settings.dedup)
        .with_context(|| format!("deduplicating {}", args.input.display()))?;
    input.finish();
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
