//! The fetcher's outcomes show up in its metrics. Its own test binary, since
//! it installs the process-wide recorder.

mod common;

use common::{html_page, rss, test_config, CollectingSink, Route, TestServer};
use newsflow_fetcher::{FeedSource, Fetcher};

#[tokio::test]
async fn polls_pages_failures_bytes_and_latency_are_counted() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss(
                "N",
                &[("One", "{{BASE}}/one.html"), ("Gone", "{{BASE}}/gone.html")],
            ),
        )
        .header("etag", "\"v1\""),
    );
    server.route("/one.html", html_page("One"));
    // Gone for good: given up at once, so the feed's next poll may be a 304.
    server.route("/gone.html", Route::status(410));
    server.route("/broken.xml", Route::status(500));
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let feeds: Vec<FeedSource> = ["/feed.xml", "/broken.xml"]
        .iter()
        .map(|p| FeedSource {
            url: server.url(p),
            outlet: None,
        })
        .collect();
    fetcher.poll_once(&feeds, &sink).await;
    fetcher.poll_once(&feeds[..1], &sink).await;
    let text = recorder.render();
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("newsflow_fetcher_polls_total{outcome=\"updated\"}"),
        1.0
    );
    assert_eq!(
        value("newsflow_fetcher_polls_total{outcome=\"not_modified\"}"),
        1.0
    );
    assert_eq!(
        value("newsflow_fetcher_polls_total{outcome=\"failed\"}"),
        1.0
    );
    assert_eq!(
        value("newsflow_fetcher_feed_failures_total{kind=\"http_status\"}"),
        1.0
    );
    assert_eq!(
        value("newsflow_fetcher_pages_total{outcome=\"delivered\"}"),
        1.0
    );
    assert_eq!(
        value("newsflow_fetcher_pages_total{outcome=\"failed\"}"),
        1.0
    );
    assert!(value("newsflow_fetcher_bytes_fetched_total{target=\"page\"}") > 0.0);
    assert!(value("newsflow_fetcher_bytes_fetched_total{target=\"feed\"}") > 0.0);
    assert_eq!(
        value("newsflow_fetcher_requests_total{target=\"feed\",status=\"304\"}"),
        1.0
    );
    assert_eq!(
        value("newsflow_fetcher_requests_total{target=\"page\",status=\"4xx\"}"),
        1.0
    );
    assert_eq!(
        value("newsflow_fetcher_fetch_duration_seconds_count{target=\"feed\"}"),
        3.0
    );
    // Feeds by state, counted at the end of the pass: the broken feed is
    // failing, the other fine.
    assert_eq!(value("newsflow_fetcher_feeds{state=\"active\"}"), 1.0);
    assert_eq!(value("newsflow_fetcher_feeds{state=\"failing\"}"), 1.0);
    assert_eq!(value("newsflow_fetcher_feeds{state=\"disabled\"}"), 0.0);
}
