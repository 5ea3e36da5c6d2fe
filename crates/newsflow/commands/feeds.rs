//! `newsflow feeds ...`: the feed list and what the fetcher makes of a feed.

use std::path::Path;

use anyhow::Context;
use newsflow_fetcher::{parse_feed, parse_feed_list, FeedSource, Fetcher};

use crate::cli::{FeedsCommand, FeedsImportArgs, FeedsListArgs, FeedsParseArgs, OutputFormat};
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
    let statuses = if state.is_file() {
        Fetcher::open(&state, settings.fetcher.clone())?.feed_statuses()?
    } else {
        Vec::new()
    };
    for feed in &feeds {
        let status = statuses.iter().find(|s| s.url == feed.url);
        match args.format {
            OutputFormat::Json => println!(
                "{}",
                serde_json::json!({"url": feed.url, "outlet": feed.outlet, "status": status})
            ),
            OutputFormat::Text => {
                println!("{}  {}", feed.url, feed.outlet.as_deref().unwrap_or("-"));
                match status {
                    Some(status) => println!("    {status:?}"),
                    None => println!("    never fetched"),
                }
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
    let imported =
        parse_feed_list(&opml).with_context(|| format!("parsing {}", args.file.display()))?;
    let mut known = if target.is_file() {
        load_feed_list(&target)?
    } else {
        Vec::new()
    };
    let before = known.len();
    for feed in imported {
        if !known.iter().any(|k| k.url == feed.url) {
            known.push(feed);
        }
    }
    #[derive(serde::Serialize)]
    struct FeedListFile<'a> {
        feeds: &'a [FeedSource],
    }
    let text = toml_string(&FeedListFile { feeds: &known })?;
    std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    println!(
        "imported {} new feeds into {} ({} in all)",
        known.len() - before,
        target.display(),
        known.len()
    );
    Ok(())
}

fn toml_string<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    toml::to_string(value).context("writing the feed list as TOML")
}

async fn parse(args: FeedsParseArgs) -> anyhow::Result<()> {
    let (body, content_type, url) =
        if args.source.starts_with("http://") || args.source.starts_with("https://") {
            let response = reqwest::get(&args.source)
                .await
                .with_context(|| format!("fetching {}", args.source))?;
            let content_type = args.content_type.clone().or_else(|| {
                response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
            let url = response.url().to_string();
            (response.bytes().await?.to_vec(), content_type, url)
        } else {
            let path = std::fs::canonicalize(&args.source)
                .with_context(|| format!("reading {}", args.source))?;
            let body = std::fs::read(&path)?;
            let url = url::Url::from_file_path(&path)
                .map(|u| u.to_string())
                .unwrap_or_else(|_| args.source.clone());
            (body, args.content_type.clone(), url)
        };
    let feed = parse_feed(&body, content_type.as_deref(), &url)
        .with_context(|| format!("parsing {}", args.source))?;
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&feed)?),
        OutputFormat::Text => {
            println!("{}", feed.title.as_deref().unwrap_or("(untitled feed)"));
            for item in &feed.items {
                println!("- {}", item.title.as_deref().unwrap_or("(untitled)"));
                println!("  id:        {}", item.identity);
                if let Some(link) = &item.link {
                    println!("  link:      {link}");
                }
                if let Some(published) = item.published {
                    println!("  published: {}", published.to_rfc3339());
                }
                if let Some(summary) = &item.summary {
                    println!(
                        "  summary:   {}",
                        summary.chars().take(200).collect::<String>()
                    );
                }
            }
        }
    }
    Ok(())
}
