//! `newsflow feeds ...`: the feed list and what the fetcher makes of a feed.

use std::path::Path;

use anyhow::Context;
use newsflow_fetcher::{
    describe_feed, describe_feed_statuses, feed_list_to_opml, feed_list_to_toml, import_opml,
    parse_feed, parse_feed_list, FeedSource, Fetcher,
};

use crate::cli::{
    FeedListFormat, FeedsCommand, FeedsExportArgs, FeedsImportArgs, FeedsListArgs, FeedsParseArgs,
    OutputFormat,
};
use crate::settings::Settings;

pub fn load_feed_list(path: &Path) -> anyhow::Result<Vec<FeedSource>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading feed list {}", path.display()))?;
    parse_feed_list(&text).with_context(|| format!("parsing feed list {}", path.display()))
}

pub async fn run(command: FeedsCommand) -> anyhow::Result<()> {
    match command {
        FeedsCommand::List(args) => list(args),
        FeedsCommand::Import(args) => import(args),
        FeedsCommand::Parse(args) => parse(args).await,
        FeedsCommand::Export(args) => export(args),
    }
}

fn feed_list_path(settings: &Settings, flag: Option<&Path>) -> anyhow::Result<std::path::PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| settings.feeds.clone())
        .context("no feed list: pass --feeds FILE or set `feeds` in the configuration")
}

fn list(args: FeedsListArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let feeds = load_feed_list(&feed_list_path(&settings, args.feeds.as_deref())?)?;
    let state = settings.data_dir.join("fetcher.db");
    let known = if state.is_file() {
        Fetcher::open(&state, settings.fetcher.clone())?.feed_statuses()?
    } else {
        Vec::new()
    };
    // Feeds in the list that were never fetched have no status yet.
    let statuses: Vec<_> = known
        .into_iter()
        .filter(|s| feeds.iter().any(|f| f.url == s.url))
        .collect();
    match args.format {
        OutputFormat::Json => {
            for feed in &feeds {
                let status = statuses.iter().find(|s| s.url == feed.url);
                println!(
                    "{}",
                    serde_json::json!({"url": feed.url, "outlet": feed.outlet, "status": status})
                );
            }
        }
        OutputFormat::Text => {
            print!("{}", describe_feed_statuses(&statuses));
            for feed in feeds
                .iter()
                .filter(|f| !statuses.iter().any(|s| s.url == f.url))
            {
                println!("{}  never fetched", feed.url);
            }
        }
    }
    Ok(())
}

fn import(args: FeedsImportArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let target = feed_list_path(&settings, args.feeds.as_deref())?;
    let opml = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let existing = if target.is_file() {
        Some(
            std::fs::read_to_string(&target)
                .with_context(|| format!("reading {}", target.display()))?,
        )
    } else {
        None
    };
    let (merged, added) = import_opml(&opml, existing.as_deref())
        .with_context(|| format!("importing {}", args.file.display()))?;
    std::fs::write(&target, merged).with_context(|| format!("writing {}", target.display()))?;
    println!("imported {added} new feeds into {}", target.display());
    Ok(())
}

fn export(args: FeedsExportArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.config)?;
    let source = feed_list_path(&settings, args.feeds.as_deref())?;
    let feeds = load_feed_list(&source)?;
    let text = match args.format {
        FeedListFormat::Opml => feed_list_to_opml(&feeds, "newsflow feeds"),
        FeedListFormat::Toml => feed_list_to_toml(&feeds),
    };
    match &args.file {
        Some(file) => {
            std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
            eprintln!("exported {} feeds to {}", feeds.len(), file.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

async fn parse(args: FeedsParseArgs) -> anyhow::Result<()> {
    let source = &args.source;
    let feed = if source.starts_with("http://") || source.starts_with("https://") {
        // Through the fetcher, so the SSRF guard, body cap and redirect
        // limit apply as they do in the service.
        let settings = Settings::load(&Default::default())?;
        let fetcher = Fetcher::in_memory(settings.fetcher.clone())?;
        fetcher
            .fetch_feed(source)
            .await
            .with_context(|| format!("fetching {source}"))?
    } else {
        let path = std::fs::canonicalize(source).with_context(|| format!("reading {source}"))?;
        let body = std::fs::read(&path).with_context(|| format!("reading {source}"))?;
        let url = url::Url::from_file_path(&path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| source.clone());
        parse_feed(&body, args.content_type.as_deref(), &url)
            .with_context(|| format!("parsing {source}"))?
    };
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&feed)?),
        OutputFormat::Text => print!("{}", describe_feed(&feed)),
    }
    Ok(())
}
