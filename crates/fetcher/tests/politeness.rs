//! Each politeness rule against a real local server.

mod common;

use std::time::Duration;

use common::{html_page, rss, test_config, CollectingSink, Route, TestServer};
use newsflow_fetcher::{FeedSource, Fetcher, FetcherConfig};

fn feed(server: &TestServer, path: &str) -> FeedSource {
    FeedSource {
        url: server.url(path),
        outlet: None,
    }
}

fn empty_feed() -> Route {
    Route::ok("application/rss+xml", rss("Empty", &[]))
}

#[tokio::test]
async fn conditional_get_sends_validators_and_accepts_304() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        empty_feed()
            .header("etag", "\"abc\"")
            .header("last-modified", "Mon, 02 Mar 2026 10:00:00 GMT"),
    );
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml")];
    assert_eq!(fetcher.poll_once(&feeds, &sink).await.feeds_not_modified, 0);
    let second = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(second.feeds_not_modified, 1);
    let request = server.last_request("/feed.xml").unwrap();
    assert_eq!(request.headers.get("if-none-match").unwrap(), "\"abc\"");
    assert_eq!(
        request.headers.get("if-modified-since").unwrap(),
        "Mon, 02 Mar 2026 10:00:00 GMT"
    );
    assert!(request
        .headers
        .get("accept-encoding")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("gzip"));
}

#[tokio::test]
async fn too_many_requests_with_retry_after_pauses_the_host() {
    let server = TestServer::start().await;
    server.route("/feed.xml", Route::status(429).header("retry-after", "2"));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml")];
    let first = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(first.feeds_failed, 1);
    let status = &fetcher.feed_statuses().unwrap()[0];
    assert!(status.last_error.as_deref().unwrap().contains("429"));
    assert!(
        status.next_poll.unwrap() >= chrono::Utc::now() + chrono::Duration::seconds(1),
        "next poll honours Retry-After"
    );
    server.route("/feed.xml", empty_feed());
    let during_pause = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(during_pause.feeds_skipped, 1);
    assert_eq!(
        server.hits("/feed.xml"),
        1,
        "no request while the host asked us to wait"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let after = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!((after.feeds_polled, after.feeds_failed), (1, 0));
    assert_eq!(server.hits("/feed.xml"), 2);
}

#[tokio::test]
async fn per_host_concurrency_is_never_exceeded() {
    let server = TestServer::start().await;
    let mut feeds = Vec::new();
    for i in 0..8 {
        let path = format!("/feed{i}.xml");
        server.route(
            &path,
            Route::ok(
                "application/rss+xml",
                rss(
                    "F",
                    &[(&format!("S{i}"), &format!("{{{{BASE}}}}/s{i}.html"))],
                ),
            )
            .delayed(Duration::from_millis(80)),
        );
        server.route(
            &format!("/s{i}.html"),
            html_page("S").delayed(Duration::from_millis(80)),
        );
        feeds.push(feed(&server, &path));
    }
    let config = FetcherConfig {
        per_host_concurrency: 2,
        ..test_config()
    };
    let fetcher = Fetcher::in_memory(config).unwrap();
    let sink = CollectingSink::default();
    let summary = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(summary.pages_delivered, 8);
    assert_eq!(
        server.peak_in_flight(),
        2,
        "feeds and pages share the host's two slots"
    );
    assert_eq!(fetcher.peak_requests_per_host(), 2);
}

#[tokio::test]
async fn failing_feed_backs_off_then_recovers() {
    let server = TestServer::start().await;
    server.route("/feed.xml", Route::status(500));
    let config = FetcherConfig {
        backoff_base_secs: 60,
        ..test_config()
    };
    let fetcher = Fetcher::in_memory(config).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml")];
    let mut delays = Vec::new();
    for _ in 0..3 {
        fetcher.poll_once(&feeds, &sink).await;
        let status = &fetcher.feed_statuses().unwrap()[0];
        delays.push((status.next_poll.unwrap() - chrono::Utc::now()).num_seconds());
    }
    let status = &fetcher.feed_statuses().unwrap()[0];
    assert_eq!(status.consecutive_failures, 3);
    assert!(delays[0] >= 40 && delays[0] <= 75, "{delays:?}");
    assert!(
        delays[2] >= 180 && delays[2] <= 300,
        "exponential: {delays:?}"
    );
    server.route("/feed.xml", empty_feed());
    fetcher.poll_once(&feeds, &sink).await;
    let status = &fetcher.feed_statuses().unwrap()[0];
    assert_eq!(
        (status.consecutive_failures, status.last_error.as_deref()),
        (0, None),
        "recovered"
    );
}

#[tokio::test]
async fn repeated_permanent_redirect_updates_the_feed_url() {
    let server = TestServer::start().await;
    server.route(
        "/old.xml",
        Route::status(301).header("location", "/new.xml"),
    );
    server.route("/new.xml", empty_feed());
    server.route(
        "/temp.xml",
        Route::status(302).header("location", "/new.xml"),
    );
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/old.xml"), feed(&server, "/temp.xml")];
    fetcher.poll_once(&feeds, &sink).await;
    let after_one = fetcher.feed_statuses().unwrap();
    assert!(
        after_one.iter().all(|s| s.current_url == s.url),
        "one redirect is not enough to move a feed"
    );
    fetcher.poll_once(&feeds, &sink).await;
    let statuses = fetcher.feed_statuses().unwrap();
    let moved = statuses
        .iter()
        .find(|s| s.url.ends_with("/old.xml"))
        .unwrap();
    assert_eq!(moved.current_url, server.url("/new.xml"));
    let temp = statuses
        .iter()
        .find(|s| s.url.ends_with("/temp.xml"))
        .unwrap();
    assert_eq!(temp.current_url, temp.url, "a 302 never moves the feed");
    fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(
        server.hits("/old.xml"),
        2,
        "the moved feed is fetched at its new URL"
    );
}

#[tokio::test]
async fn gone_disables_the_feed() {
    let server = TestServer::start().await;
    server.route("/feed.xml", Route::status(410));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![feed(&server, "/feed.xml")];
    fetcher.poll_once(&feeds, &sink).await;
    let second = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(second.feeds_skipped, 1);
    assert_eq!(server.hits("/feed.xml"), 1);
    let status = &fetcher.feed_statuses().unwrap()[0];
    assert!(status.disabled);
    assert!(status.last_error.as_deref().unwrap().contains("410"));
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let server = TestServer::start().await;
    server.route("/feed.xml", empty_feed());
    let guarded = Fetcher::in_memory(FetcherConfig {
        allow_private_addresses: false,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let by_name = FeedSource {
        url: format!("http://localhost:{}/feed.xml", server.addr.port()),
        outlet: None,
    };
    let feeds = vec![
        feed(&server, "/feed.xml"),
        by_name,
        FeedSource {
            url: "http://169.254.169.254/latest/meta-data/".into(),
            outlet: None,
        },
    ];
    let summary = guarded.poll_once(&feeds, &sink).await;
    assert_eq!(summary.feeds_failed, 3);
    assert_eq!(
        server.hits("/feed.xml"),
        0,
        "nothing reached the private address"
    );
    for status in guarded.feed_statuses().unwrap() {
        assert!(
            status.last_error.as_deref().unwrap().contains("refused"),
            "{status:?}"
        );
    }
}

#[tokio::test]
async fn article_links_to_private_addresses_are_refused_too() {
    let server = TestServer::start().await;
    // The feed is reached (allowed for the test), the page via a redirect
    // to a private address is not, because the guard sits in every hop.
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss("F", &[("Sneaky", "{{BASE}}/go")]),
        ),
    );
    server.route(
        "/go",
        Route::status(302).header("location", "http://10.0.0.1/admin"),
    );
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    fetcher
        .poll_once(&[feed(&server, "/feed.xml")], &sink)
        .await;
    assert!(sink.pages().is_empty());
    let guarded = Fetcher::in_memory(FetcherConfig {
        allow_private_addresses: false,
        ..test_config()
    })
    .unwrap();
    let summary = guarded
        .poll_once(&[feed(&server, "/feed.xml")], &sink)
        .await;
    assert_eq!(summary.feeds_failed, 1);
}

#[tokio::test]
async fn body_cap_and_redirect_limit() {
    let server = TestServer::start().await;
    server.route(
        "/big.xml",
        Route::ok("application/rss+xml", vec![b' '; 64 * 1024]),
    );
    for hop in 0..7 {
        server.route(
            &format!("/hop{hop}"),
            Route::status(302).header("location", &format!("/hop{}", hop + 1)),
        );
    }
    server.route("/hop7", empty_feed());
    server.route("/short0", Route::status(302).header("location", "/short1"));
    server.route("/short1", empty_feed());
    let fetcher = Fetcher::in_memory(FetcherConfig {
        max_body_bytes: 16 * 1024,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let feeds = vec![
        feed(&server, "/big.xml"),
        feed(&server, "/hop0"),
        feed(&server, "/short0"),
    ];
    let summary = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(summary.feeds_failed, 2, "{summary:?}");
    let statuses = fetcher.feed_statuses().unwrap();
    let error_of = |suffix: &str| {
        statuses
            .iter()
            .find(|s| s.url.ends_with(suffix))
            .unwrap()
            .last_error
            .clone()
    };
    assert!(error_of("/big.xml").unwrap().contains("larger than"));
    assert!(error_of("/hop0").unwrap().contains("more than 5 redirects"));
    assert_eq!(error_of("/short0"), None);
    assert_eq!(
        server.hits("/hop6"),
        0,
        "the sixth redirect is not followed"
    );
}

#[tokio::test]
async fn compressed_responses_are_decoded() {
    use std::io::Write;
    let server = TestServer::start().await;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(rss("Zipped", &[]).as_bytes()).unwrap();
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", gzip.finish().unwrap()).header("content-encoding", "gzip"),
    );
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let parsed = fetcher.fetch_feed(&server.url("/feed.xml")).await.unwrap();
    assert_eq!(parsed.title.as_deref(), Some("Zipped"));
}

fn dated_feed(title: &str, extra_channel: &str, hours: &[u32]) -> String {
    let items: String = hours
        .iter()
        .map(|h| format!("<item><title>{h}</title><link>{{{{BASE}}}}/{title}/{h}.html</link><pubDate>Mon, 02 Mar 2026 {h:02}:00:00 GMT</pubDate></item>"))
        .collect();
    format!("<rss version=\"2.0\"><channel><title>{title}</title>{extra_channel}{items}</channel></rss>")
}

#[tokio::test]
async fn poll_interval_adapts_to_posting_rate_and_honours_hints() {
    let server = TestServer::start().await;
    let hourly: Vec<u32> = (0..10).collect();
    server.route(
        "/hourly.xml",
        Route::ok("application/rss+xml", dated_feed("hourly", "", &hourly)),
    );
    server.route(
        "/ttl.xml",
        Route::ok(
            "application/rss+xml",
            dated_feed("ttl", "<ttl>180</ttl>", &hourly),
        ),
    );
    server.route(
        "/sy.xml",
        Route::ok(
            "application/rss+xml",
            dated_feed("sy", "<sy:updatePeriod xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\">daily</sy:updatePeriod>", &hourly),
        ),
    );
    server.route(
        "/cached.xml",
        Route::ok("application/rss+xml", dated_feed("cached", "", &hourly))
            .header("cache-control", "max-age=7200"),
    );
    for h in &hourly {
        for name in ["hourly", "ttl", "sy", "cached"] {
            server.route(&format!("/{name}/{h}.html"), html_page("story"));
        }
    }
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds: Vec<FeedSource> = ["/hourly.xml", "/ttl.xml", "/sy.xml", "/cached.xml"]
        .iter()
        .map(|p| feed(&server, p))
        .collect();
    fetcher.poll_once(&feeds, &sink).await;
    let statuses = fetcher.feed_statuses().unwrap();
    let interval = |suffix: &str| {
        statuses
            .iter()
            .find(|s| s.url.ends_with(suffix))
            .unwrap()
            .interval_secs
            .unwrap()
    };
    assert_eq!(interval("/hourly.xml"), 1800, "half the hourly posting gap");
    assert_eq!(interval("/ttl.xml"), 180 * 60, "ttl is a floor");
    assert_eq!(
        interval("/sy.xml"),
        6 * 3600,
        "a daily update period, clamped to the 6 h maximum"
    );
    assert_eq!(
        interval("/cached.xml"),
        7200,
        "Cache-Control max-age is a floor"
    );
    // A feed that stops posting is polled less and less often.
    fetcher.poll_once(&feeds[..1], &sink).await;
    let again = fetcher
        .feed_statuses()
        .unwrap()
        .into_iter()
        .find(|s| s.url.ends_with("/hourly.xml"))
        .unwrap();
    assert!(again.interval_secs.unwrap() > 1800, "{again:?}");
}

#[tokio::test]
async fn slow_servers_time_out() {
    let server = TestServer::start().await;
    server.route(
        "/slow.xml",
        empty_feed().delayed(Duration::from_millis(2500)),
    );
    let fetcher = Fetcher::in_memory(FetcherConfig {
        request_timeout_secs: 1,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let summary = fetcher
        .poll_once(&[feed(&server, "/slow.xml")], &sink)
        .await;
    assert_eq!(summary.feeds_failed, 1);
    let status = &fetcher.feed_statuses().unwrap()[0];
    assert_eq!(status.last_error.as_deref(), Some("timed out"));
}

#[tokio::test]
async fn pages_on_a_host_that_said_429_wait_for_a_later_poll() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss("F", &[("A", "{{BASE}}/a.html"), ("B", "{{BASE}}/b.html")]),
        ),
    );
    server.route("/a.html", Route::status(429).header("retry-after", "1"));
    server.route("/b.html", html_page("B"));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let first = fetcher
        .poll_once(&[feed(&server, "/feed.xml")], &sink)
        .await;
    assert_eq!(first.pages_delivered, 0, "{first:?}");
    assert_eq!(
        server.hits("/b.html"),
        0,
        "no page request while the host is paused"
    );
    server.route("/a.html", html_page("A"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = fetcher
        .poll_once(&[feed(&server, "/feed.xml")], &sink)
        .await;
    assert_eq!(later.pages_delivered, 2, "{later:?}");
}
