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

    // Nobody else can (un)subscribe us: newsflow asked for no
    // unsubscription, and its subscription request was answered already.
    // The topic is public (the feed's own URL), the callback is not.
    for (mode, challenge) in [("unsubscribe", "forged"), ("subscribe", "replayed")] {
        let forged = client
            .get(&callback)
            .query(&[
                ("hub.mode", mode),
                ("hub.topic", form["hub.topic"].as_str()),
                ("hub.challenge", challenge),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 404, "{mode}");
        assert_ne!(forged.text().await.unwrap(), challenge);
    }
    let id = callback.rsplit('/').next().unwrap();
    assert!(
        id.len() >= 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "the callback id is random: {id}"
    );

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

#[tokio::test]
async fn verification_needs_a_pending_request_that_has_not_expired_and_leases_are_clamped() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Route::ok("application/rss+xml", feed_with_hub(&[])),
    );
    server.route("/hub", Route::status(202));
    let callback_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_base = format!("http://{}/websub", callback_listener.local_addr().unwrap());
    let config = FetcherConfig {
        websub_callback_url: Some(callback_base.clone()),
        websub_pending_secs: 1,
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
    let client = reqwest::Client::new();
    let last_form = || -> HashMap<String, String> {
        let request = server
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.path == "/hub")
            .unwrap();
        url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect()
    };
    let verify = |callback: String, topic: String, lease: &'static str| {
        let client = client.clone();
        async move {
            client
                .get(&callback)
                .query(&[
                    ("hub.mode", "subscribe"),
                    ("hub.topic", topic.as_str()),
                    ("hub.challenge", "ch"),
                    ("hub.lease_seconds", lease),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };

    fetcher.poll_once(&feeds, sink.as_ref()).await;
    let form = last_form();
    assert_eq!(fetcher.state_sizes().unwrap().websub_pending, 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        verify(
            form["hub.callback"].clone(),
            form["hub.topic"].clone(),
            "86400"
        )
        .await,
        404,
        "a request left unverified past its time is not confirmed"
    );
    assert_eq!(fetcher.prune_state(&feeds).unwrap().websub_pending, 1);
    assert_eq!(fetcher.state_sizes().unwrap().websub_pending, 0);

    // A lease of any size or syntax is taken (clamped, or the configured
    // one when it is no number), one feed per value.
    let leases = [
        "9223372036854775807",
        "99999999999999999999999999",
        "-3",
        "soon",
    ];
    let hubbed: Vec<FeedSource> = (0..leases.len())
        .map(|i| {
            let path = format!("/feed{i}.xml");
            server.route(&path, Route::ok("application/rss+xml", feed_with_hub(&[])));
            FeedSource {
                url: server.url(&path),
                outlet: None,
            }
        })
        .collect();
    let hub_requests = |server: &TestServer| -> Vec<HashMap<String, String>> {
        server
            .requests()
            .into_iter()
            .filter(|r| r.path == "/hub")
            .map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect())
            .collect()
    };
    let before = hub_requests(&server).len();
    fetcher.poll_once(&hubbed, sink.as_ref()).await;
    let forms = hub_requests(&server);
    assert_eq!(forms.len(), before + leases.len());
    for (form, lease) in forms[before..].iter().zip(leases) {
        assert_eq!(
            verify(
                form["hub.callback"].clone(),
                form["hub.topic"].clone(),
                lease
            )
            .await,
            200,
            "lease {lease:?}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    fetcher.poll_once(&hubbed, sink.as_ref()).await;
    assert_eq!(
        hub_requests(&server).len(),
        before + leases.len(),
        "live subscriptions are not requested again"
    );
}
