//! `newsflow serve`: the live event page, in a real headless Chromium. The
//! page is opened before any story exists and never reloaded; the stories
//! the pipeline then turns into events must appear on it by themselves.
//!
//! Set LIVE_PAGE_SCREENSHOT=docs/live-page.png to write the
//! README's screenshot from this run.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::headless_chromium::{find_chromium, Browser, Tab};
use common::kafka::{free_port, tansu_available, Running, Storage};
use common::*;
use newsflow_bus::{EmbeddedBus, EmbeddedConfig, Producer};
use newsflow_fixture_server::FixtureServer;
use newsflow_model::{EventMember, EventRecord, EventStatus};
use serde_json::{json, Value};

/// Generous: the fixture's events take a few seconds to reach the page.
const APPEAR_WITHIN: Duration = Duration::from_secs(60);

/// Kills the child when the test ends, passing or failing.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `newsflow serve` on a free port; returns it and the page's URL.
fn start_serve(data_dir: &Path) -> (KillOnDrop, String) {
    start_page_server(
        newsflow_command()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir),
    )
}

/// Starts a command that serves the page; returns it and the page's URL,
/// which it prints on standard output.
fn start_page_server(command: &mut std::process::Command) -> (KillOnDrop, String) {
    let mut child = command
        .stdout(Stdio::piped())
        // Its log, for when it fails to start (it names the reason).
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("live page on ")
        .unwrap_or_else(|| panic!("serve printed {line:?}"))
        .to_string();
    (child, url)
}

/// What the page shows, read from its DOM: per event its id, headline,
/// summary line, keywords and member lines.
const PAGE_EVENTS: &str = r#"JSON.stringify([...document.querySelectorAll("article.event")].map(a => ({
  id: a.getAttribute("data-event-id"),
  headline: a.querySelector(".headline").textContent,
  meta: a.querySelector(".meta").textContent,
  keywords: [...a.querySelectorAll(".keywords span")].map(s => s.textContent),
  members: [...a.querySelectorAll("li.member")].map(li => ({
    time: li.querySelector("time").textContent,
    outlet: li.querySelector(".outlet").textContent,
    title: li.querySelector(".title").textContent,
    href: li.querySelector(".title").getAttribute("href"),
  })),
})))"#;

fn page_events(browser: &mut Browser, tab: &Tab, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let value = browser.wait_for(tab, PAGE_EVENTS, APPEAR_WITHIN, |value| {
        let events: Vec<Value> = serde_json::from_str(value.as_str().unwrap()).unwrap();
        done(&events)
    });
    serde_json::from_str(value.as_str().unwrap()).unwrap()
}

/// What the page should show for a record.
fn expected_on_page(record: &EventRecord) -> Value {
    json!({
        "id": record.event_id,
        "headline": record.headline,
        "keywords": record.keywords,
        "members": record.members.iter().map(|m| json!({
            "time": m.published.map_or("undated".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
            "outlet": m.outlet,
            "title": m.title,
            "href": url::Url::parse(&m.url).map(|u| u.to_string()).ok(),
        })).collect::<Vec<_>>(),
    })
}

/// The page's view without the summary line, which is checked apart.
fn without_meta(mut shown: Value) -> Value {
    shown.as_object_mut().unwrap().remove("meta");
    shown
}

fn hostile_record() -> EventRecord {
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-30T09:15:00Z")
        .unwrap()
        .to_utc();
    EventRecord {
        schema_version: 1,
        event_id: "ev-hostile\"><img src=x onerror=window.pwned=1>".into(),
        version: 1,
        status: EventStatus::Active,
        headline: "<img src=x onerror=\"window.pwned=2\"> & <script>window.pwned=3</script>".into(),
        keywords: vec!["<b>bold</b>".into()],
        members: vec![EventMember {
            story_id: "hostile".into(),
            outlet: "<iframe src=\"javascript:window.pwned=4\"></iframe>".into(),
            url: "javascript:window.pwned=5".into(),
            title: "<a href=\"javascript:window.pwned=6\">click</a>".into(),
            published: Some(time),
            also_carried_by: vec![],
        }],
        member_count: Some(1),
        first_seen: time,
        last_updated: time,
        merged_into: None,
        absorbed: vec![],
    }
}

#[test]
fn an_open_page_shows_the_events_as_the_pipeline_makes_them() {
    let Some(chromium) = find_chromium() else {
        println!("SKIPPED: chromium not installed (scripts/test.sh installs it as root)");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(FixtureServer::start(&repo_path("tests/fixtures/outlets")))
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(server.base_url(), work.path());
    let data_dir = work.path().join("data");
    let events_out = work.path().join("events.jsonl");

    // Before the data directory exists: serve makes it.
    let (_serve, url) = start_serve(&data_dir);
    let mut browser = Browser::launch(&chromium);
    let tab = browser.open(&url);
    let connected = browser.wait_for(
        &tab,
        "document.getElementById('status')?.textContent ?? null",
        APPEAR_WITHIN,
        |status| status == "live",
    );
    assert_eq!(connected, "live", "the page never connected to its stream");
    assert!(page_events(&mut browser, &tab, |_| true).is_empty());
    // Gone if the page is ever reloaded.
    browser.evaluate(&tab, "window.openedBeforeTheStories = true");

    run_command(
        newsflow_command()
            .arg("run")
            .arg("--feeds")
            .arg(&feeds)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--events-out")
            .arg(&events_out)
            .arg("--allow-private-addresses")
            .arg("--until-idle"),
    );
    let standing = standing_events(read_event_lines(
        &std::fs::read_to_string(&events_out).unwrap(),
    ));
    assert!(!standing.is_empty(), "the pipeline made no event");
    let mut wanted: Vec<Value> = standing.iter().map(expected_on_page).collect();
    wanted.sort_by_key(|e| e["id"].to_string());
    let sorted_without_meta = |shown: &[Value]| {
        let mut shown: Vec<Value> = shown.iter().cloned().map(without_meta).collect();
        shown.sort_by_key(|e| e["id"].to_string());
        shown
    };
    let shown = page_events(&mut browser, &tab, |shown| {
        sorted_without_meta(shown) == wanted
    });
    assert_eq!(
        sorted_without_meta(&shown),
        wanted,
        "the open page does not show the pipeline's events"
    );
    for record in &standing {
        let shown = shown.iter().find(|e| e["id"] == record.event_id).unwrap();
        let meta = shown["meta"].as_str().unwrap();
        for member in &record.members {
            assert!(
                meta.contains(&member.outlet),
                "{meta} lacks {}",
                member.outlet
            );
        }
        assert!(
            meta.starts_with(&format!("{} stor", record.members.len())),
            "{meta}"
        );
    }
    assert_eq!(
        browser.evaluate(&tab, "window.openedBeforeTheStories === true"),
        true,
        "the page was reloaded"
    );
    if let Some(path) = std::env::var_os("LIVE_PAGE_SCREENSHOT") {
        std::fs::write(repo_path("").join(path), browser.screenshot(&tab)).unwrap();
    }

    // A hostile record: every text shows as text, nothing runs, a
    // `javascript:` URL is no link.
    let hostile = hostile_record();
    runtime.block_on(async {
        let bus = EmbeddedBus::open(&data_dir, &EmbeddedConfig::default(), &["events"]).unwrap();
        bus.send(
            "events",
            &hostile.event_id,
            serde_json::to_vec(&hostile).unwrap(),
        )
        .await
        .unwrap();
    });
    let shown = page_events(&mut browser, &tab, |shown| {
        shown.iter().any(|e| e["id"] == hostile.event_id)
    });
    let shown_hostile = shown
        .iter()
        .find(|e| e["id"] == hostile.event_id)
        .expect("the hostile record reaches the page");
    let mut expected = expected_on_page(&hostile);
    expected["members"][0]["href"] = Value::Null;
    assert_eq!(without_meta(shown_hostile.clone()), expected);
    let injected = browser.evaluate(
        &tab,
        "JSON.stringify({ pwned: window.pwned ?? null, scripts: document.scripts.length, \
         elements: document.querySelectorAll('img, iframe, b, main a[href^=\"javascript\"]').length })",
    );
    assert_eq!(
        serde_json::from_str::<Value>(injected.as_str().unwrap()).unwrap(),
        json!({ "pwned": null, "scripts": 1, "elements": 0 })
    );
    assert_eq!(shown.len(), standing.len() + 1);

    // A page opened now gets the whole current state on connect.
    let late_tab = browser.open(&url);
    let late = page_events(&mut browser, &late_tab, |late| {
        late.len() == standing.len() + 1
    });
    let mut late_ids: Vec<&str> = late.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut ids: Vec<&str> = shown.iter().map(|e| e["id"].as_str().unwrap()).collect();
    late_ids.sort_unstable();
    ids.sort_unstable();
    assert_eq!(late_ids, ids, "a page opened late misses events");
}

/// Reads the page's event stream to its end (HTTP/1.0: the body ends when
/// the server closes), or until `enough` takes the records read so far;
/// returns the records in it, in order: those of each `snapshot` array,
/// then each `record`.
fn read_event_stream(page_url: &str, enough: impl Fn(&[EventRecord]) -> bool) -> Vec<EventRecord> {
    use std::io::Write;
    let address = url::Url::parse(page_url).unwrap();
    let address = format!(
        "{}:{}",
        address.host_str().unwrap(),
        address.port().unwrap()
    );
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream
        .write_all(b"GET /events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n")
        .unwrap();
    let mut records = Vec::new();
    let mut kind = String::new();
    for line in BufReader::new(stream).lines() {
        let line = line.expect("the stream ends by closing, not by timing out");
        if let Some(name) = line.strip_prefix("event: ") {
            kind = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            match kind.as_str() {
                "snapshot" => {
                    records.extend(serde_json::from_str::<Vec<EventRecord>>(data).unwrap())
                }
                "record" => records.push(serde_json::from_str(data).unwrap()),
                other => panic!("unexpected {other} event: {data}"),
            }
            if enough(&records) {
                break;
            }
        }
    }
    records
}

#[test]
fn run_with_serve_streams_every_event_it_makes_to_the_page() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(FixtureServer::start(&repo_path("tests/fixtures/outlets")))
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let feeds = write_feed_list(server.base_url(), work.path());
    let data_dir = work.path().join("data");
    let events_out = work.path().join("events.jsonl");
    let (mut run, url) = start_page_server(
        newsflow_command()
            .arg("run")
            .arg("--feeds")
            .arg(&feeds)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--events-out")
            .arg(&events_out)
            .args(["--allow-private-addresses", "--until-idle"])
            .args(["--serve", "127.0.0.1:0"]),
    );
    // The stream ends when the page stops, with the stages.
    let streamed = standing_events(read_event_stream(&url, |_| false));
    let status = run.0.wait().unwrap();
    assert!(status.success(), "run --serve failed: {status}");
    let written = standing_events(read_event_lines(
        &std::fs::read_to_string(&events_out).unwrap(),
    ));
    assert_events_match_fixture(&streamed);
    assert_eq!(
        streamed, written,
        "the page's stream and --events-out differ"
    );
}

/// A tansu broker (Kafka-compatible, in memory) on a free loopback port.
fn start_broker(dir: &Path) -> (Running, String) {
    let port = free_port();
    let broker = common::kafka::start_broker(dir, port, Storage::Sqlite);
    (broker, format!("127.0.0.1:{port}"))
}

fn event_record(id: &str, version: u64, headline: &str) -> EventRecord {
    EventRecord {
        event_id: id.into(),
        version,
        headline: headline.into(),
        members: vec![],
        keywords: vec![],
        ..hostile_record()
    }
}

#[test]
fn serve_on_kafka_sends_what_the_topic_holds_then_each_new_record() {
    if !tansu_available() {
        println!("SKIPPED: tansu is not on PATH (install it with the command in README.md)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(work.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bus = newsflow_bus::KafkaBus::connect(newsflow_bus::KafkaConfig {
        brokers: brokers.clone(),
        topic_prefix: "page.".into(),
        ..Default::default()
    })
    .unwrap();
    let send = |record: &EventRecord| {
        runtime
            .block_on(bus.send(
                "events",
                &record.event_id,
                serde_json::to_vec(record).unwrap(),
            ))
            .unwrap()
    };
    runtime
        .block_on(bus.ensure_topics(&[("events", newsflow_bus::TopicKind::Compacted)]))
        .unwrap();
    // Already on the topic before the page starts: v2, then a stale v1.
    send(&event_record("ev-a", 2, "before the page, newest"));
    send(&event_record("ev-a", 1, "before the page, stale"));

    let (_serve, url) = start_page_server(
        newsflow_command()
            .args(["serve", "--bus", "kafka", "--brokers", &brokers])
            .args(["--listen", "127.0.0.1:0"])
            .env("NEWSFLOW_BUS__KAFKA__TOPIC_PREFIX", "page."),
    );
    let reader = std::thread::spawn(move || {
        read_event_stream(&url, |records| records.iter().any(|r| r.event_id == "ev-b"))
    });
    // Until the page has read the topic's start, ev-b may come in the
    // snapshot or as a record; either way it must come.
    std::thread::sleep(Duration::from_secs(2));
    send(&event_record("ev-b", 1, "while the page is open"));
    let records = reader.join().unwrap();
    assert!(
        records
            .iter()
            .all(|r| r.headline != "before the page, stale"),
        "the page was sent an older version than it had: {records:?}"
    );
    let standing = standing_events(records);
    let shown: Vec<(&str, &str)> = standing
        .iter()
        .map(|r| (r.event_id.as_str(), r.headline.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("ev-a", "before the page, newest"),
            ("ev-b", "while the page is open")
        ]
    );
}

/// The status code of a fresh `/events` request (the stream stays open
/// while the returned connection lives).
fn open_event_stream(page_url: &str) -> (u16, std::net::TcpStream) {
    use std::io::{Read, Write};
    let address = url::Url::parse(page_url).unwrap();
    let mut stream =
        std::net::TcpStream::connect((address.host_str().unwrap(), address.port().unwrap()))
            .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(b"GET /events HTTP/1.0\r\n\r\n").unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    let status = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
    (status, stream)
}

#[test]
fn serve_refuses_event_streams_beyond_its_limit() {
    let work = tempfile::tempdir().unwrap();
    let (_serve, url) = start_page_server(
        newsflow_command()
            .args(["serve", "--listen", "127.0.0.1:0", "--max-streams", "3"])
            .arg("--data-dir")
            .arg(work.path().join("data")),
    );
    let open: Vec<(u16, std::net::TcpStream)> = (0..3).map(|_| open_event_stream(&url)).collect();
    assert!(open.iter().all(|(status, _)| *status == 200));
    let (status, _) = open_event_stream(&url);
    assert_eq!(status, 503, "a fourth stream beyond --max-streams 3");
    // The page itself is still served.
    let page = {
        use std::io::{Read, Write};
        let address = url::Url::parse(&url).unwrap();
        let mut stream =
            std::net::TcpStream::connect((address.host_str().unwrap(), address.port().unwrap()))
                .unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    assert!(page.lines().next().unwrap().contains(" 200 "), "{page}");
    drop(open);
}
