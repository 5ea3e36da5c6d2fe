//! `newsflow extract FILE.html`: the cleaner on one page.

use anyhow::Context;
use newsflow_cleaner::{extract, CleanerConfig};

use crate::cli::{ExtractArgs, OutputFormat};

pub fn run(args: ExtractArgs) -> anyhow::Result<()> {
    let html =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let extracted = extract(
        &html,
        args.content_type.as_deref(),
        args.url.as_deref(),
        &CleanerConfig::default(),
    )
    .with_context(|| format!("extracting {}", args.file.display()))?;
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&extracted)?),
        OutputFormat::Text => {
            let field = |name: &str, value: Option<String>| {
                if let Some(value) = value {
                    println!("{name}: {value}");
                }
            };
            field("Title", extracted.title.clone());
            field("Byline", extracted.byline.clone());
            field("Published", extracted.published.map(|p| p.to_rfc3339()));
            field("Language", extracted.language.clone());
            field("Canonical", extracted.canonical_url.clone());
            field("Site", extracted.site_name.clone());
            field("Image", extracted.lead_image.clone());
            println!();
            println!("{}", extracted.body);
        }
    }
    Ok(())
}
