//! Proxies: the environment's are ignored (the SSRF guard must see the
//! target, not a proxy), the configured one is used. Its own test binary,
//! since it sets process-wide environment variables.

mod common;

use common::{rss, test_config, CollectingSink, Route, TestServer};
use newsflow_fetcher::{FeedSource, Fetcher, FetcherConfig};

/// A proxy address nothing listens on: a request sent there fails.
const DEAD_PROXY: &str = "http://127.0.0.1:9";

#[tokio::test]
async fn proxy_environment_variables_are_ignored_and_the_configured_proxy_is_used() {
    for name in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(name, DEAD_PROXY);
    }
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", rss("Direct", &[])),
    );
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let parsed = fetcher
        .fetch_feed(&server.url("/feed.xml"))
        .await
        .expect("fetched directly, not through the dead proxy");
    assert_eq!(parsed.title.as_deref(), Some("Direct"));

    // A proxy named in the configuration is used: the request for a host
    // that does not exist reaches the proxy, which answers it.
    let proxy = TestServer::start().await;
    proxy.route(
        "/feed.xml",
        Route::ok("application/rss+xml", rss("Proxied", &[])),
    );
    let proxied = Fetcher::in_memory(FetcherConfig {
        proxy: Some(proxy.base()),
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let feed = FeedSource {
        url: "http://feeds.newsflow.invalid/feed.xml".into(),
        outlet: None,
    };
    let summary = proxied.poll_once(&[feed], &sink).await;
    assert_eq!(
        (summary.feeds_polled, summary.feeds_failed),
        (1, 0),
        "{summary:?}"
    );
    let seen = proxy.last_request("/feed.xml").unwrap();
    assert_eq!(seen.headers.get("host").unwrap(), "feeds.newsflow.invalid");

    // With the SSRF guard on, a proxy named by a name that resolves to a
    // private address (as operators' proxies do) still works; target URLs
    // whose host is a non-public address literal are still refused.
    let guarded = Fetcher::in_memory(FetcherConfig {
        proxy: Some(format!("http://localhost:{}", proxy.addr.port())),
        allow_private_addresses: false,
        ..test_config()
    })
    .unwrap();
    let feeds = [
        FeedSource {
            url: "http://feeds.newsflow.invalid/feed.xml".into(),
            outlet: None,
        },
        FeedSource {
            url: "http://169.254.169.254/feed.xml".into(),
            outlet: None,
        },
        FeedSource {
            url: "http://[::ffff:10.0.0.1]/feed.xml".into(),
            outlet: None,
        },
    ];
    let hits_before = proxy.hits("/feed.xml");
    let summary = guarded.poll_once(&feeds, &sink).await;
    assert_eq!(
        (summary.feeds_polled, summary.feeds_failed),
        (3, 2),
        "{summary:?}"
    );
    assert_eq!(proxy.hits("/feed.xml"), hits_before + 1);
    for status in guarded.feed_statuses().unwrap() {
        if status.url.contains("newsflow.invalid") {
            assert_eq!(status.last_error, None);
        } else {
            assert!(status.last_error.unwrap().contains("refused"));
        }
    }

    // An unusable proxy setting is a configuration error, not a silent
    // direct connection.
    assert!(Fetcher::in_memory(FetcherConfig {
        proxy: Some("not a url".into()),
        ..test_config()
    })
    .is_err());
}
