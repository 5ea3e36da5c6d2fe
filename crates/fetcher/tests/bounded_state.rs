//! The fetcher's state stays bounded: items that dropped out of their feed
//! are forgotten after the window (and only they), feeds dropped from the
//! list too, the per-host map loses idle hosts, and `run` prunes by itself.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{html_page, rss, test_config, CollectingSink, Route, TestServer};
use newsflow_fetcher::{FeedSource, Fetcher, FetcherConfig};

fn feed(server: &TestServer, path: &str) -> FeedSource {
    FeedSource {
        url: server.url(path),
        outlet: None,
    }
}

fn serve_feed(server: &TestServer, path: &str, items: &[&str]) {
    let items: Vec<(String, String)> = items
        .iter()
        .map(|t| (t.to_string(), format!("{{{{BASE}}}}/{t}.html")))
        .collect();
    let items: Vec<(&str, &str)> = items
        .iter()
        .map(|(t, l)| (t.as_str(), l.as_str()))
        .collect();
    server.route(path, Route::ok("application/rss+xml", rss("N", &items)));
}

/// Window and idle times of a second, so a test can outwait them (the
/// state keeps whole seconds).
fn short_windows() -> FetcherConfig {
    FetcherConfig {
        item_window_secs: 1,
        host_idle_secs: 1,
        websub_pending_secs: 1,
        ..test_config()
    }
}

/// Sleeps past a window of `secs` whole seconds.
async fn outwait(secs: u64) {
    tokio::time::sleep(Duration::from_millis(secs * 1000 + 1100)).await;
}

#[tokio::test]
async fn items_dropped_from_their_feed_are_forgotten_after_the_window_and_listed_ones_never() {
    let server = TestServer::start().await;
    for t in ["old", "kept", "failing", "new"] {
        server.route(&format!("/{t}.html"), html_page(t));
    }
    server.route("/failing.html", Route::status(500));
    serve_feed(&server, "/feed.xml", &["old", "kept", "failing"]);
    server.route(
        "/other.xml",
        Route::ok("application/rss+xml", rss("Other", &[])),
    );
    // A window of 3 s, so the document after next is still within it.
    let fetcher = Fetcher::in_memory(FetcherConfig {
        item_window_secs: 3,
        ..short_windows()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml"), feed(&server, "/other.xml")];
    fetcher.poll_once(&feeds, &sink).await;
    let sizes = fetcher.state_sizes().unwrap();
    assert_eq!((sizes.feeds, sizes.items, sizes.page_failures), (2, 2, 1));

    // "old" and "failing" drop out of the feed; "kept" stays listed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    serve_feed(&server, "/feed.xml", &["kept", "new"]);
    fetcher.poll_once(&feeds, &sink).await;
    let within = fetcher.prune_state(&feeds).unwrap();
    assert_eq!(
        within.items + within.page_failures,
        0,
        "still within the window"
    );

    outwait(3).await;
    // Still listed, though older than the window: never forgotten, so it
    // is not fetched again.
    fetcher.poll_once(&feeds, &sink).await;
    // The second feed leaves the feed list.
    let pruned = fetcher.prune_state(&feeds[..1]).unwrap();
    assert_eq!((pruned.items, pruned.page_failures), (1, 1), "{pruned:?}");
    let sizes = fetcher.state_sizes().unwrap();
    assert_eq!((sizes.items, sizes.page_failures), (2, 0), "{sizes:?}");
    assert_eq!(sizes.feeds, 2, "a feed fetched within the window is kept");
    assert_eq!(server.hits("/kept.html"), 1);
    assert_eq!(server.hits("/new.html"), 1);

    outwait(3).await;
    let later = fetcher.prune_state(&feeds[..1]).unwrap();
    assert_eq!(
        later.feeds, 1,
        "the dropped feed is forgotten after the window"
    );
    assert_eq!(fetcher.state_sizes().unwrap().feeds, 1);

    // What was forgotten is new again if a feed lists it again: that is
    // what the window must outlast.
    serve_feed(&server, "/feed.xml", &["kept", "new", "old"]);
    let again = fetcher.poll_once(&feeds[..1], &sink).await;
    assert_eq!(again.pages_delivered, 1, "{again:?}");
    assert_eq!(server.hits("/old.html"), 2);
    assert_eq!(server.hits("/kept.html"), 1);
}

#[tokio::test]
async fn run_prunes_the_state_and_the_host_map_by_itself() {
    let server = TestServer::start().await;
    for t in ["a", "b", "c"] {
        server.route(&format!("/{t}.html"), html_page(t));
    }
    serve_feed(&server, "/feed.xml", &["a", "b", "c"]);
    let fetcher = Arc::new(
        Fetcher::in_memory(FetcherConfig {
            prune_interval_secs: 1,
            ..short_windows()
        })
        .unwrap(),
    );
    let sink = Arc::new(CollectingSink::default());
    let feeds = vec![feed(&server, "/feed.xml")];
    fetcher.poll_once(&feeds, sink.as_ref()).await;
    // The state keeps whole seconds: the next document is a later one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    serve_feed(&server, "/feed.xml", &["c"]);
    fetcher.poll_once(&feeds, sink.as_ref()).await;
    assert_eq!(fetcher.state_sizes().unwrap().items, 3);
    assert_eq!(fetcher.hosts_tracked(), 1);
    outwait(1).await;

    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = {
        let (fetcher, sink, shutdown, feeds) = (
            fetcher.clone(),
            sink.clone(),
            shutdown.clone(),
            feeds.clone(),
        );
        tokio::spawn(async move { fetcher.run(feeds, sink, shutdown).await })
    };
    let mut shrunk = false;
    for _ in 0..60 {
        if fetcher.state_sizes().unwrap().items == 1 && fetcher.hosts_tracked() == 0 {
            shrunk = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
    assert!(
        shrunk,
        "items {:?}, hosts {}",
        fetcher.state_sizes().unwrap(),
        fetcher.hosts_tracked()
    );
    assert_eq!(server.hits("/c.html"), 1, "the listed item stays seen");
}
