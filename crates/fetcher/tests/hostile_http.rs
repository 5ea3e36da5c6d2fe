//! Hostile HTTP behaviour against the fetcher: every case ends in a failed
//! fetch within its bound (time, bytes, hops), the pass goes on, and
//! nothing panics or overflows.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{raw_server, rss, test_config, CollectingSink, Route, TestServer};
use newsflow_fetcher::{FeedSource, Fetcher, FetcherConfig};
use tokio::io::AsyncWriteExt;

fn source(url: String) -> FeedSource {
    FeedSource { url, outlet: None }
}

fn error_of(fetcher: &Fetcher, url: &str) -> String {
    fetcher
        .feed_statuses()
        .unwrap()
        .into_iter()
        .find(|s| s.url == url)
        .unwrap()
        .last_error
        .unwrap_or_default()
}

/// Writes `bytes` one at a time, a pause between each, until the peer goes.
async fn drip(stream: &mut tokio::net::TcpStream, bytes: &[u8], pause: Duration) {
    for byte in bytes.iter().cycle() {
        if stream.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

#[tokio::test]
async fn slowloris_bodies_and_headers_are_cut_by_the_time_budget() {
    let body_drip = raw_server(|mut stream, _| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\ncontent-length: 100000\r\n\r\n<rss>")
            .await;
        drip(&mut stream, b" ", Duration::from_millis(300)).await;
    })
    .await;
    let chunked_drip = raw_server(|mut stream, _| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        drip(&mut stream, b"1\r\n \r\n", Duration::from_millis(50)).await;
    })
    .await;
    let header_drip = raw_server(|mut stream, _| async move {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
        drip(&mut stream, b"x-slow: a\r\n", Duration::from_millis(300)).await;
    })
    .await;
    let fetcher = Fetcher::in_memory(FetcherConfig {
        request_timeout_secs: 2,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let feeds: Vec<FeedSource> = [&body_drip, &chunked_drip, &header_drip]
        .iter()
        .map(|base| source(format!("{base}/feed.xml")))
        .collect();
    let started = Instant::now();
    let summary = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(summary.feeds_failed, 3, "{summary:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    for feed in &feeds {
        assert_eq!(error_of(&fetcher, &feed.url), "timed out");
    }
}

#[tokio::test]
async fn the_time_budget_covers_every_redirect_hop_together() {
    // Each hop answers within the per-request timeout; together they do not.
    let server = TestServer::start().await;
    for hop in 0..4 {
        server.route(
            &format!("/hop{hop}"),
            Route::status(302)
                .header("location", &format!("/hop{}", hop + 1))
                .delayed(Duration::from_millis(900)),
        );
    }
    server.route(
        "/hop4",
        Route::ok("application/rss+xml", rss("Slow chain", &[])),
    );
    let fetcher = Fetcher::in_memory(FetcherConfig {
        request_timeout_secs: 2,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let url = server.url("/hop0");
    let started = Instant::now();
    let summary = fetcher.poll_once(&[source(url.clone())], &sink).await;
    assert_eq!(summary.feeds_failed, 1, "{summary:?}");
    assert_eq!(error_of(&fetcher, &url), "timed out");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(server.hits("/hop4"), 0);
}

#[tokio::test]
async fn redirect_loops_stop_at_the_limit() {
    let server = TestServer::start().await;
    server.route("/a", Route::status(302).header("location", "/b"));
    server.route("/b", Route::status(301).header("location", "/a"));
    server.route("/self", Route::status(307).header("location", "/self"));
    server.route(
        "/query",
        Route::status(302).header("location", "/query?again"),
    );
    server.route(
        "/query?again",
        Route::status(302).header("location", "/query"),
    );
    let fetcher = Fetcher::in_memory(FetcherConfig {
        max_redirects: 4,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let feeds: Vec<FeedSource> = ["/a", "/self", "/query"]
        .iter()
        .map(|p| source(server.url(p)))
        .collect();
    let summary = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(summary.feeds_failed, 3);
    for feed in &feeds {
        assert!(
            error_of(&fetcher, &feed.url).contains("more than 4 redirects"),
            "{}",
            error_of(&fetcher, &feed.url)
        );
    }
    assert_eq!(
        server.hits("/a") + server.hits("/b"),
        5,
        "first try + 4 hops"
    );
    assert_eq!(server.hits("/self"), 5);
    // A redirect to a scheme the fetcher does not speak, or without a
    // Location, ends at once.
    server.route(
        "/file",
        Route::status(302).header("location", "file:///etc/passwd"),
    );
    server.route("/nowhere", Route::status(302));
    let odd: Vec<FeedSource> = ["/file", "/nowhere"]
        .iter()
        .map(|p| source(server.url(p)))
        .collect();
    assert_eq!(fetcher.poll_once(&odd, &sink).await.feeds_failed, 2);
    for feed in &odd {
        assert!(error_of(&fetcher, &feed.url).contains("redirect"));
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        encoder.write_all(data).unwrap();
    }
    out
}

#[tokio::test]
async fn compression_bombs_stop_at_the_decompressed_cap() {
    // 64 MiB of zeros behind every encoding the client accepts, against a
    // 1 MiB cap; and an honest compressed feed still gets through.
    let zeros = vec![b' '; 64 << 20];
    let server = TestServer::start().await;
    for (name, encoding, body) in [
        ("gzip", "gzip", gzip(&zeros)),
        ("deflate", "deflate", zlib(&zeros)),
        ("br", "br", brotli(&zeros)),
    ] {
        assert!(body.len() < 1 << 20, "{name} bomb is {} bytes", body.len());
        server.route(
            &format!("/{name}.xml"),
            Route::ok("application/rss+xml", body).header("content-encoding", encoding),
        );
    }
    server.route(
        "/honest.xml",
        Route::ok("application/rss+xml", brotli(rss("Honest", &[]).as_bytes()))
            .header("content-encoding", "br"),
    );
    let fetcher = Fetcher::in_memory(FetcherConfig {
        max_body_bytes: 1 << 20,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let bombs: Vec<FeedSource> = ["/gzip.xml", "/deflate.xml", "/br.xml"]
        .iter()
        .map(|p| source(server.url(p)))
        .collect();
    let started = Instant::now();
    let summary = fetcher.poll_once(&bombs, &sink).await;
    assert_eq!(summary.feeds_failed, 3, "{summary:?}");
    for feed in &bombs {
        assert!(
            error_of(&fetcher, &feed.url).contains("larger than 1048576 bytes"),
            "{}: {}",
            feed.url,
            error_of(&fetcher, &feed.url)
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    let parsed = fetcher
        .fetch_feed(&server.url("/honest.xml"))
        .await
        .unwrap();
    assert_eq!(parsed.title.as_deref(), Some("Honest"));
}

#[tokio::test]
async fn huge_header_blocks_are_refused_and_the_pass_goes_on() {
    let one_huge_header = raw_server(|mut stream, _| async move {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nx-huge: ").await;
        let chunk = vec![b'a'; 64 * 1024];
        // 16 MiB of one header value, unless the client hangs up first.
        for _ in 0..256 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"\r\ncontent-length: 0\r\n\r\n").await;
    })
    .await;
    let many_headers = raw_server(|mut stream, _| async move {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
        for i in 0..100_000 {
            if stream
                .write_all(format!("x-h{i}: v\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = stream.write_all(b"content-length: 0\r\n\r\n").await;
    })
    .await;
    let endless_status_line = raw_server(|mut stream, _| async move {
        let _ = stream.write_all(b"HTTP/1.1 200 ").await;
        let chunk = vec![b'O'; 64 * 1024];
        for _ in 0..256 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", rss("Fine", &[])),
    );
    let fetcher = Fetcher::in_memory(test_config()).unwrap();
    let sink = CollectingSink::default();
    let hostile: Vec<FeedSource> = [&one_huge_header, &many_headers, &endless_status_line]
        .iter()
        .map(|base| source(format!("{base}/feed.xml")))
        .collect();
    let mut feeds = hostile.clone();
    feeds.push(source(server.url("/feed.xml")));
    let started = Instant::now();
    let summary = fetcher.poll_once(&feeds, &sink).await;
    assert_eq!(
        (summary.feeds_failed, summary.feeds_polled),
        (3, 4),
        "{summary:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "refused without waiting for the timeout"
    );
    for feed in &hostile {
        let error = error_of(&fetcher, &feed.url);
        assert!(error.starts_with("network error"), "{error}");
    }
}

#[tokio::test]
async fn retry_after_of_any_size_or_syntax_waits_at_most_the_backoff_maximum() {
    let backoff_max = 600;
    for retry_after in [
        "99999999999999999999999999999999999999",
        "18446744073709551615",
        "9223372036854775807",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "-1",
        "1e400",
        "tomorrow",
        "",
    ] {
        let server = TestServer::start().await;
        server.route(
            "/feed.xml",
            Route::status(503).header("retry-after", retry_after),
        );
        server.route(
            "/page.html",
            Route::status(429).header("retry-after", retry_after),
        );
        let fetcher = Fetcher::in_memory(FetcherConfig {
            backoff_max_secs: backoff_max,
            ..test_config()
        })
        .unwrap();
        let sink = CollectingSink::default();
        let summary = fetcher
            .poll_once(&[source(server.url("/feed.xml"))], &sink)
            .await;
        assert_eq!(summary.feeds_failed, 1, "{retry_after:?}");
        let status = &fetcher.feed_statuses().unwrap()[0];
        let wait = (status.next_poll.unwrap() - chrono::Utc::now()).num_seconds();
        assert!(
            (0..=backoff_max as i64 + 1).contains(&wait),
            "Retry-After {retry_after:?}: next poll in {wait}s"
        );
        // The host stays paused (no request) until then.
        let again = fetcher
            .poll_once(&[source(server.url("/feed.xml"))], &sink)
            .await;
        assert_eq!(again.feeds_skipped, 1, "{retry_after:?}");
        assert_eq!(server.hits("/feed.xml"), 1);
        let status = &fetcher.feed_statuses().unwrap()[0];
        let wait = (status.next_poll.unwrap() - chrono::Utc::now()).num_seconds();
        assert!(
            wait <= backoff_max as i64 + 1,
            "Retry-After {retry_after:?}: host paused for {wait}s"
        );
    }
}

/// A server that writes `bytes` and then either holds the connection open
/// (`then_hold`) or closes it.
async fn scripted(bytes: &'static [u8], then_hold: bool) -> String {
    raw_server(move |mut stream, _| async move {
        let _ = stream.write_all(bytes).await;
        if then_hold {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    })
    .await
}

#[tokio::test]
async fn every_broken_or_hostile_server_ends_in_a_failed_fetch_within_the_budget() {
    let mut hostile = vec![
        // Accepts, never answers.
        scripted(b"", true).await,
        // Not HTTP at all.
        scripted(b"SSH-2.0-OpenSSH_9.6\r\n", false).await,
        scripted(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", false).await,
        // Closes in the middle of the body it announced.
        scripted(
            b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ncontent-type: application/rss+xml\r\n\r\n<rss>",
            false,
        )
        .await,
        // Announces a body far over the cap.
        scripted(
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\ncontent-type: application/rss+xml\r\n\r\n<rss>",
            true,
        )
        .await,
        // Contradicts itself about the body's length.
        scripted(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\n<rss/>",
            false,
        )
        .await,
        scripted(
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n<rss/>",
            false,
        )
        .await,
        // Broken chunked framing.
        scripted(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n<rss/>\r\n0\r\n\r\n",
            false,
        )
        .await,
        // A chunk size beyond any integer.
        scripted(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n<rss/>",
            true,
        )
        .await,
        // A status no server means.
        scripted(b"HTTP/1.1 999 Whatever\r\ncontent-length: 0\r\n\r\n", false).await,
        // Compressed in a way the client did not offer, or not compressed
        // at all though it says so.
        scripted(
            b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 12\r\n\r\nnot gzip!!!!",
            false,
        )
        .await,
    ];
    // Informational responses, one after another, for ever.
    hostile.push(
        raw_server(|mut stream, _| async move {
            loop {
                if stream
                    .write_all(b"HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await,
    );
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", rss("Fine", &[])),
    );
    let fetcher = Fetcher::in_memory(FetcherConfig {
        request_timeout_secs: 2,
        max_body_bytes: 1 << 20,
        ..test_config()
    })
    .unwrap();
    let sink = CollectingSink::default();
    let mut feeds: Vec<FeedSource> = hostile
        .iter()
        .map(|base| source(format!("{base}/feed.xml")))
        .collect();
    feeds.push(source(server.url("/feed.xml")));
    let started = Instant::now();
    let summary = fetcher.poll_once(&feeds, &sink).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(summary.feeds_polled, feeds.len(), "{summary:?}");
    let statuses = fetcher.feed_statuses().unwrap();
    for feed in &feeds[..hostile.len()] {
        let status = statuses.iter().find(|s| s.url == feed.url).unwrap();
        assert!(
            status.last_error.is_some() && status.consecutive_failures == 1,
            "{status:?}"
        );
    }
    let fine = statuses
        .iter()
        .find(|s| s.url == server.url("/feed.xml"))
        .unwrap();
    assert_eq!(
        (fine.title.as_deref(), fine.last_error.as_deref()),
        (Some("Fine"), None)
    );
}
