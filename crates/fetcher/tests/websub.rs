//! WebSub against a local hub: subscription request, intent verification,
//! signed pushes accepted, forged ones ignored, polling kept as a fallback.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{html_page, test_config, CollectingSink, Route, TestServer};
use hmac::Mac;
use newsflow_fetcher::{websub_router, FeedSource, Fetcher, FetcherConfig};

fn feed_with_hub(items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(t, l)| format!("<item><title>{t}</title><link>{l}</link></item>"))
        .collect();
    format!(
        "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>Hubbed</title>\
         <atom:link rel=\"hub\" href=\"{{{{BASE}}}}/hub\"/><atom:link rel=\"self\" href=\"{{{{BASE}}}}/feed.xml\"/>{items}</channel></rss>"
    )
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
            .unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn subscribe_verify_and_accept_signed_pushes() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            feed_with_hub(&[("First", "{{BASE}}/first.html")]),
        ),
    );
    server.route("/first.html", html_page("First"));
    server.route("/pushed.html", html_page("Pushed"));
    server.route("/forged.html", html_page("Forged"));
    server.route("/hub", Route::status(202));

    let callback_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_base = format!("http://{}/websub", callback_listener.local_addr().unwrap());
    let config = FetcherConfig {
        websub_callback_url: Some(callback_base.clone()),
        ..test_config()
    };
    let fetcher = Arc::new(Fetcher::in_memory(config).unwrap());
    let sink = Arc::new(CollectingSink::default());
    let router = websub_router("/websub", fetcher.clone(), sink.clone());
    tokio::spawn(async move { axum::serve(callback_listener, router).await.unwrap() });

    let feeds = vec![FeedSource {
        url: server.url("/feed.xml"),
        outlet: None,
    }];
    fetcher.poll_once(&feeds, sink.as_ref()).await;
    let request = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/hub")
        .expect("the fetcher asked the hub to subscribe");
    assert_eq!(request.method, "POST");
    let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    assert_eq!(form["hub.mode"], "subscribe");
    assert_eq!(form["hub.topic"], server.url("/feed.xml"));
    let callback = form["hub.callback"].clone();
    assert!(callback.starts_with(&callback_base));
    let secret = form["hub.secret"].clone();
    assert!(secret.len() >= 16);

    // The hub verifies intent: a wrong topic is refused, the right one echoed.
    let client = reqwest::Client::new();
    let wrong = client
        .get(&callback)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", "http://elsewhere.example/feed"),
            ("hub.challenge", "abc"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let verified = client
        .get(&callback)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", form["hub.topic"].as_str()),
            ("hub.challenge", "c4ll3nge"),
            ("hub.lease_seconds", "86400"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    assert_eq!(verified.text().await.unwrap(), "c4ll3nge");

    // A signed push delivers its new item; a forged one is acknowledged and ignored.
    let pushed = feed_with_hub(&[("Pushed", &server.url("/pushed.html"))])
        .replace("{{BASE}}", &server.base());
    let response = client
        .post(&callback)
        .header("content-type", "application/rss+xml")
        .header("x-hub-signature", sign(&secret, pushed.as_bytes()))
        .body(pushed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let forged = feed_with_hub(&[("Forged", &server.url("/forged.html"))])
        .replace("{{BASE}}", &server.base());
    let response = client
        .post(&callback)
        .header("x-hub-signature", sign("not-the-secret", forged.as_bytes()))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let titles: Vec<_> = sink
        .pages()
        .iter()
        .filter_map(|p| p.item_title.clone())
        .collect();
    assert_eq!(titles, vec!["First".to_string(), "Pushed".to_string()]);
    assert_eq!(server.hits("/forged.html"), 0);

    // With a live subscription, polling falls back to the long interval.
    fetcher.poll_once(&feeds, sink.as_ref()).await;
    let status = &fetcher.feed_statuses().unwrap()[0];
    assert_eq!(
        status.websub_hub.as_deref(),
        Some(server.url("/hub").as_str())
    );
    assert!(status.interval_secs.unwrap() >= 6 * 3600, "{status:?}");
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path == "/hub")
            .count(),
        1,
        "no second subscription while the lease is live"
    );
}
