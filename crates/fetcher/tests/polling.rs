//! The fetcher against a real local HTTP server: delivery, bad input,
//! at-least-once hand-off, and state kept across a restart.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::{html_page, rss, test_config, CollectingSink, Route, TestServer};
use newsflow_fetcher::{FeedSource, Fetcher, FetcherConfig, RawPageCompression};
use newsflow_model::PageCompression;

fn feed(server: &TestServer, path: &str, outlet: Option<&str>) -> FeedSource {
    FeedSource {
        url: server.url(path),
        outlet: outlet.map(str::to_string),
    }
}

#[tokio::test]
async fn new_items_are_delivered_once_and_bad_pages_are_skipped() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss(
                "Example News",
                &[
                    ("Good", "{{BASE}}/a.html?utm_source=rss"),
                    ("Missing", "{{BASE}}/missing.html"),
                    ("PDF", "{{BASE}}/doc.pdf"),
                ],
            ),
        ),
    );
    server.route("/a.html?utm_source=rss", html_page("Good story"));
    server.route(
        "/doc.pdf",
        Route::ok("application/pdf", b"%PDF-1.4".to_vec()),
    );
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml", None)];

    let first = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(first.pages_delivered, 1, "{first:?}");
    assert_eq!(first.pages_failed, 1);
    assert_eq!(first.pages_not_html, 1);
    let pages = sink.pages();
    assert_eq!(
        pages[0].outlet, "Example News",
        "outlet falls back to the feed title"
    );
    assert_eq!(pages[0].item_title.as_deref(), Some("Good"));
    assert_eq!(
        pages[0].item_id,
        format!("https://{}/a.html", server.addr.ip())
    );
    assert!(String::from_utf8_lossy(&pages[0].body).contains("Good story"));

    let second = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(second.pages_delivered, 0, "{second:?}");
    assert_eq!(
        server.hits("/a.html?utm_source=rss"),
        1,
        "a delivered page is not fetched again"
    );
    assert_eq!(server.hits("/doc.pdf"), 1, "a non-HTML page is not retried");
    assert_eq!(
        server.hits("/missing.html"),
        2,
        "a 404 page is retried on a later poll"
    );

    for _ in 0..3 {
        fetcher.poll_once(&feeds, &sink).await;
    }
    assert_eq!(
        server.hits("/missing.html"),
        test_config().max_page_attempts as usize,
        "404 retries are bounded"
    );
}

#[tokio::test]
async fn an_item_is_marked_seen_only_after_the_sink_accepts_it() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss("N", &[("One", "{{BASE}}/one.html")]),
        ),
    );
    server.route("/one.html", html_page("One"));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml", Some("Configured Outlet"))];
    sink.refuse.store(true, Ordering::SeqCst);
    let refused = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(refused.pages_delivered, 0);
    sink.refuse.store(false, Ordering::SeqCst);
    let accepted = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(accepted.pages_delivered, 1);
    assert_eq!(sink.pages()[0].outlet, "Configured Outlet");
}

#[tokio::test]
async fn broken_and_missing_feeds_do_not_stop_the_pass() {
    let server = TestServer::start().await;
    server.route(
        "/broken.xml",
        Route::ok(
            "application/rss+xml",
            b"\x00\x01 not a feed at all".to_vec(),
        ),
    );
    // Cut off mid-item: read leniently rather than refused.
    server.route(
        "/truncated.xml",
        Route::ok(
            "application/rss+xml",
            b"<rss version=\"2.0\"><channel><title>x</title><item><title>a</title></item><item><title>b</ti".to_vec(),
        ),
    );
    server.route("/html.xml", html_page("not a feed"));
    server.route(
        "/ok.xml",
        Route::ok(
            "application/rss+xml",
            rss("OK", &[("One", "{{BASE}}/one.html")]),
        ),
    );
    server.route("/one.html", html_page("One"));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![
        feed(&server, "/missing.xml", None),
        feed(&server, "/broken.xml", None),
        feed(&server, "/html.xml", None),
        feed(&server, "/truncated.xml", None),
        feed(&server, "/ok.xml", None),
    ];
    let summary = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(summary.feeds_failed, 3, "{summary:?}");
    assert_eq!(summary.pages_delivered, 1);
    let statuses = fetcher.feed_statuses().unwrap();
    let missing = statuses
        .iter()
        .find(|s| s.url.ends_with("/missing.xml"))
        .unwrap();
    assert_eq!(missing.last_error.as_deref(), Some("HTTP 404"));
    let html = statuses
        .iter()
        .find(|s| s.url.ends_with("/html.xml"))
        .unwrap();
    assert!(
        html.last_error.as_deref().unwrap().contains("parsed"),
        "{html:?}"
    );
    let truncated = statuses
        .iter()
        .find(|s| s.url.ends_with("/truncated.xml"))
        .unwrap();
    assert_eq!(
        (truncated.title.as_deref(), truncated.last_error.as_deref()),
        (Some("x"), None)
    );
    let ok = statuses
        .iter()
        .find(|s| s.url.ends_with("/ok.xml"))
        .unwrap();
    assert_eq!((ok.items_seen, ok.last_error.as_deref()), (1, None));
}

#[tokio::test]
async fn restart_keeps_validators_and_seen_items() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss("N", &[("One", "{{BASE}}/one.html")]),
        )
        .header("etag", "\"v1\""),
    );
    server.route("/one.html", html_page("One"));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fetcher.db");
    let feeds = vec![feed(&server, "/feed.xml", None)];
    let sink = CollectingSink::default();
    {
        let fetcher = Fetcher::open(&db, test_config()).unwrap();
        assert_eq!(fetcher.poll_once(&feeds, &sink).await.pages_delivered, 1);
    }
    let fetcher = Fetcher::open(&db, test_config()).unwrap();
    let again = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(
        again.feeds_not_modified, 1,
        "the stored ETag is sent after a restart: {again:?}"
    );
    let sent = server.last_request("/feed.xml").unwrap();
    assert_eq!(sent.headers.get("if-none-match").unwrap(), "\"v1\"");
    // Even without validators (the feed changed), the seen item stays seen.
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss(
                "N",
                &[("One", "{{BASE}}/one.html"), ("Two", "{{BASE}}/two.html")],
            ),
        ),
    );
    server.route("/two.html", html_page("Two"));
    let changed = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(changed.pages_delivered, 1);
    assert_eq!(server.hits("/one.html"), 1);
    let status = &fetcher.feed_statuses().unwrap()[0];
    assert_eq!(status.items_seen, 2);
    assert!(status.last_fetch.is_some() && status.next_poll.is_some());
}

#[tokio::test]
async fn run_polls_until_cancelled() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss("N", &[("One", "{{BASE}}/one.html")]),
        ),
    );
    server.route("/one.html", html_page("One"));
    let fetcher = Arc::new(Fetcher::in_memory(test_config()).unwrap());
    let sink = Arc::new(CollectingSink::default());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = {
        let (fetcher, sink, shutdown) = (fetcher.clone(), sink.clone(), shutdown.clone());
        let feeds = vec![feed(&server, "/feed.xml", None)];
        tokio::spawn(async move { fetcher.run(feeds, sink, shutdown).await })
    };
    for _ in 0..100 {
        if !sink.pages().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run stops when cancelled")
        .unwrap();
    assert_eq!(sink.pages().len(), 1);
}

/// Dead-letters (refuses for good) the pages whose item title is listed,
/// delivers the rest, and counts every delivery attempt per title.
#[derive(Default)]
struct RejectingSink {
    reject: Vec<String>,
    delivered: std::sync::Mutex<Vec<String>>,
    attempts: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

#[async_trait::async_trait]
impl newsflow_fetcher::PageSink for RejectingSink {
    async fn deliver(
        &self,
        page: newsflow_model::RawPage,
    ) -> Result<(), newsflow_fetcher::SinkError> {
        let title = page.item_title.clone().unwrap_or_default();
        *self
            .attempts
            .lock()
            .unwrap()
            .entry(title.clone())
            .or_default() += 1;
        if self.reject.contains(&title) {
            return Err(newsflow_fetcher::SinkError::Rejected(format!(
                "{title} is too large for the bus"
            )));
        }
        self.delivered.lock().unwrap().push(title);
        Ok(())
    }
}

#[tokio::test]
async fn a_page_the_sink_rejects_never_blocks_the_rest_of_its_feed() {
    let server = TestServer::start().await;
    let titles = ["A", "B", "Huge", "C", "D"];
    let items: Vec<(String, String)> = titles
        .iter()
        .map(|t| (t.to_string(), format!("{{{{BASE}}}}/{t}.html")))
        .collect();
    let items: Vec<(&str, &str)> = items
        .iter()
        .map(|(t, l)| (t.as_str(), l.as_str()))
        .collect();
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", rss("N", &items)),
    );
    for title in titles {
        server.route(&format!("/{title}.html"), html_page(title));
    }
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = RejectingSink {
        reject: vec!["Huge".into()],
        ..Default::default()
    };
    let feeds = vec![feed(&server, "/feed.xml", None)];
    let first = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(
        (first.pages_delivered, first.pages_failed),
        (4, 1),
        "{first:?}"
    );
    assert_eq!(*sink.delivered.lock().unwrap(), vec!["A", "B", "C", "D"]);
    for _ in 0..3 {
        let later = fetcher.poll_once(&feeds, &sink).await;
        assert_eq!(
            (later.items_new, later.pages_delivered),
            (0, 0),
            "{later:?}"
        );
    }
    assert_eq!(
        sink.attempts.lock().unwrap()["Huge"],
        1,
        "a dead-lettered page is not offered again at every poll"
    );
    assert_eq!(server.hits("/Huge.html"), 1, "nor fetched again");
    // A new item after it is delivered as usual.
    let mut more = items.clone();
    more.push(("E", "{{BASE}}/E.html"));
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", rss("N", &more)),
    );
    server.route("/E.html", html_page("E"));
    let with_new = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(with_new.pages_delivered, 1, "{with_new:?}");
}

/// Items a pass leaves for later (the sink away, the page's host asking
/// us to wait, a page to try again, items past the per-poll cap) are
/// fetched by a later poll even when the feed itself has not changed and
/// answers a conditional request with 304: the stored validators must not
/// hide a document whose items are not all handed on.
#[tokio::test]
async fn items_left_for_later_are_fetched_though_the_feed_is_unchanged() {
    let server = TestServer::start().await;
    let feed_route = |items: &[(&str, &str)]| {
        Route::ok("application/rss+xml", rss("N", items)).header("etag", "\"same\"")
    };
    let items = [
        ("Refused", "{{BASE}}/refused.html"),
        ("Plain", "{{BASE}}/plain.html"),
        ("Flaky", "{{BASE}}/flaky.html"),
    ];
    server.route("/feed.xml", feed_route(&items));
    server.route("/refused.html", html_page("Refused"));
    server.route("/plain.html", html_page("Plain"));
    server.route("/flaky.html", Route::status(500));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml", None)];

    // The sink is away: nothing is handed on.
    sink.refuse.store(true, Ordering::SeqCst);
    let first = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(first.pages_delivered, 0, "{first:?}");
    assert_eq!(first.items_pending, 3, "{first:?}");
    sink.refuse.store(false, Ordering::SeqCst);
    let second = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(
        second.feeds_not_modified, 0,
        "the document was read whole again: {second:?}"
    );
    assert_eq!(second.pages_delivered, 2, "{second:?}");
    assert_eq!(second.items_pending, 1, "the flaky page: {second:?}");
    server.route("/flaky.html", html_page("Flaky"));
    let third = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(third.pages_delivered, 1, "{third:?}");
    assert_eq!(third.items_pending, 0, "{third:?}");
    let fourth = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(
        fourth.feeds_not_modified, 1,
        "once every item is handed on, the validators are used again: {fourth:?}"
    );
    let mut titles: Vec<String> = sink
        .pages()
        .iter()
        .filter_map(|p| p.item_title.clone())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Flaky", "Plain", "Refused"]);
}

#[tokio::test]
async fn a_page_whose_host_said_429_is_fetched_though_the_feed_is_unchanged() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss("N", &[("Later", "{{BASE}}/later.html")]),
        )
        .header("etag", "\"same\""),
    );
    server.route("/later.html", Route::status(429).header("retry-after", "1"));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml", None)];
    let first = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(first.pages_delivered, 0, "{first:?}");
    server.route("/later.html", html_page("Later"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The host's pause ran out; the page waits for a poll.
    let mut delivered = 0;
    for _ in 0..3 {
        delivered += fetcher.poll_once(&feeds, &sink).await.pages_delivered;
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(
        delivered, 1,
        "the page the host held back was never fetched"
    );
}

#[tokio::test]
async fn items_past_the_per_poll_cap_are_fetched_by_the_next_polls() {
    let server = TestServer::start().await;
    let titles = ["A", "B", "C", "D", "E"];
    let links: Vec<String> = titles
        .iter()
        .map(|t| format!("{{{{BASE}}}}/{t}.html"))
        .collect();
    let items: Vec<(&str, &str)> = titles
        .iter()
        .zip(&links)
        .map(|(t, l)| (*t, l.as_str()))
        .collect();
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", rss("N", &items)).header("etag", "\"same\""),
    );
    for title in titles {
        server.route(&format!("/{title}.html"), html_page(title));
    }
    let fetcher = Fetcher::in_memory(newsflow_fetcher::FetcherConfig {
        max_items_per_poll: 2,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml", None)];
    let delivered: Vec<usize> = {
        let mut counts = Vec::new();
        for _ in 0..4 {
            counts.push(fetcher.poll_once(&feeds, &sink).await.pages_delivered);
        }
        counts
    };
    assert_eq!(delivered, [2, 2, 1, 0]);
    assert_eq!(sink.pages().len(), 5);
}

#[tokio::test]
async fn feeds_due_in_the_same_second_are_polled_spread_over_it() {
    let server = TestServer::start().await;
    let feeds: Vec<FeedSource> = (0..40)
        .map(|i| {
            let path = format!("/f{i}.xml");
            server.route(&path, Route::ok("application/rss+xml", rss("N", &[])));
            feed(&server, &path, None)
        })
        .collect();
    let paths: Vec<String> = (0..40).map(|i| format!("/f{i}.xml")).collect();
    let config = newsflow_fetcher::FetcherConfig {
        min_interval_secs: 1,
        default_interval_secs: 1,
        max_interval_secs: 1,
        ..test_config()
    };
    let fetcher = Arc::new(Fetcher::in_memory(config).unwrap());
    let sink = Arc::new(CollectingSink::default());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = {
        let (fetcher, sink, shutdown) = (fetcher.clone(), sink.clone(), shutdown.clone());
        tokio::spawn(async move { fetcher.run(feeds, sink, shutdown).await })
    };
    // When each feed was polled the second time: the first polls all go
    // at once (every feed is due at the start), the next at each feed's
    // own moment of the second.
    let mut second_poll: Vec<Option<std::time::Instant>> = vec![None; paths.len()];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while second_poll.iter().any(Option::is_none) && std::time::Instant::now() < deadline {
        for (index, path) in paths.iter().enumerate() {
            if second_poll[index].is_none() && server.hits(path) >= 2 {
                second_poll[index] = Some(std::time::Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
    let times: Vec<std::time::Instant> = second_poll
        .into_iter()
        .map(|t| t.expect("polled twice"))
        .collect();
    let spread = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    assert!(
        spread >= Duration::from_millis(300),
        "the second polls of 40 feeds came within {spread:?} of each other"
    );
    // Nor in a few bursts, as a loop waking on a fixed tick polls them (a
    // 500 ms tick: 20 or more at once). Spread evenly, 4 fall in a 100 ms
    // window; 16 or more in one has a chance of 1 in 20,000 (simulated).
    let most_in_100_ms = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && **t - *start < Duration::from_millis(100))
                .count()
        })
        .max()
        .unwrap();
    assert!(
        most_in_100_ms <= 15,
        "{most_in_100_ms} of 40 second polls came within 100 ms"
    );
}

/// The first page one poll of `/feed.xml` hands on, with `compression`.
async fn first_page(
    server: &TestServer,
    compression: Option<RawPageCompression>,
) -> newsflow_model::RawPage {
    let config = FetcherConfig {
        page_compression: compression,
        ..test_config()
    };
    let fetcher = Fetcher::in_memory(config).unwrap();
    let sink = CollectingSink::default();
    fetcher
        .poll_once(&[feed(server, "/feed.xml", None)], &sink)
        .await;
    sink.pages().remove(0)
}

#[tokio::test]
async fn pages_go_to_raw_compressed_when_so_configured() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss("Example News", &[("Good", "{{BASE}}/a.html")]),
        ),
    );
    let served = html_page("Good story").body;
    server.route("/a.html", html_page("Good story"));
    let compressed = first_page(&server, Some(RawPageCompression::Zstd)).await;
    assert_eq!(compressed.body_compression, Some(PageCompression::Zstd));
    assert!(
        compressed.body.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
        "a zstd frame"
    );
    let page = compressed.page(usize::MAX).unwrap();
    assert!(String::from_utf8_lossy(&page).contains("Good story"));
    assert_eq!(&*page, served.as_slice(), "the page as served");

    for plain in [None, Some(RawPageCompression::None)] {
        let page = first_page(&server, plain).await;
        assert_eq!(page.body_compression, None, "{plain:?}");
        assert_eq!(page.body, served, "{plain:?}");
    }
}
