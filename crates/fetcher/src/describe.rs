//! Plain-text renderings for the CLI: `newsflow feeds parse` (without
//! `--format json`) and `newsflow feeds list`.

use std::fmt::Write;

use crate::parse::ParsedFeed;
use crate::state::FeedStatus;

/// What the fetcher makes of one feed, for a person to read.
pub fn describe_feed(feed: &ParsedFeed) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "feed: {}",
        feed.title.as_deref().unwrap_or("(untitled)")
    );
    let _ = writeln!(
        out,
        "format: {}  encoding: {} (from {:?})",
        feed.format, feed.encoding, feed.charset_source
    );
    if !feed.repairs.is_empty() {
        let _ = writeln!(out, "repairs: {:?}", feed.repairs);
    }
    if let Some(hub) = &feed.hub {
        let _ = writeln!(out, "websub hub: {hub}");
    }
    let _ = writeln!(out, "items: {}", feed.items.len());
    for item in &feed.items {
        let _ = writeln!(out, "\n- {}", item.title.as_deref().unwrap_or("(untitled)"));
        let _ = writeln!(out, "  identity:  {}", item.identity);
        let _ = writeln!(out, "  link:      {}", item.link.as_deref().unwrap_or("-"));
        let published = item.published.map(|p| p.to_rfc3339());
        let _ = writeln!(
            out,
            "  published: {}",
            published
                .as_deref()
                .or(item.published_text.as_deref())
                .unwrap_or("-")
        );
        if let Some(summary) = &item.summary {
            let short: String = summary.chars().take(160).collect();
            let ellipsis = if summary.chars().count() > 160 {
                "…"
            } else {
                ""
            };
            let _ = writeln!(out, "  summary:   {}{ellipsis}", short.replace('\n', " "));
        }
    }
    out
}

/// One line per feed: state, last fetch, next poll, items seen, last error.
pub fn describe_feed_statuses(statuses: &[FeedStatus]) -> String {
    let mut out = String::new();
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        })
    };
    for s in statuses {
        let state = if s.disabled {
            "disabled"
        } else if s.consecutive_failures > 0 {
            "failing"
        } else {
            "ok"
        };
        let _ = writeln!(
            out,
            "{:<8} {}  last fetch {}  next poll {}  items seen {}{}",
            state,
            s.url,
            time(s.last_fetch),
            time(s.next_poll),
            s.items_seen,
            s.last_error
                .as_deref()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default()
        );
        if s.current_url != s.url {
            let _ = writeln!(out, "         moved to {}", s.current_url);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_description_names_items() {
        let feed = newsflow_feed_reader::parse_feed(
            b"<rss version=\"2.0\"><channel><title>News</title><item><title>A story</title><link>https://n.example/a</link></item></channel></rss>",
            None,
            "https://n.example/rss",
        )
        .unwrap();
        let text = describe_feed(&feed);
        assert!(text.contains("feed: News"));
        assert!(text.contains("identity:  https://n.example/a"));
    }
}
