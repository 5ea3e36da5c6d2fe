//! Dead letters end to end on the embedded bus: hostile records waiting on
//! `raw` and a page too large for the bus do not stop `newsflow run`; the
//! fixture's events still form; `newsflow dead-letters list` names every
//! refused record, and `replay` re-injects each replayable letter once.

mod common;

use std::path::Path;

use common::*;
use newsflow_bus::{Bus, EmbeddedBus, EmbeddedConfig, Producer};
use newsflow_fixture_server::FixtureServer;
use serde_json::Value;

/// The bus limit for this test: the fixture's pages (at most 15 KB, 20 KB as
/// base64) fit; the bloated page does not.
const MAX_MESSAGE_BYTES: usize = 200_000;

/// An outlet whose first item is a page too large for the bus, and whose
/// second item (a page that is no article) must still be fetched.
fn write_bloated_outlet(root: &Path) {
    let outlet = root.join("bloated");
    std::fs::create_dir_all(outlet.join("articles")).unwrap();
    // Words of random letters: the page stays larger than the bus takes
    // even compressed inside its message (`fetcher.page_compression`).
    let mut rng = fastrand::Rng::with_seed(11);
    let mut padding = String::new();
    while padding.len() < 600_000 {
        padding.push_str("<p>");
        for _ in 0..12 {
            let word: String = (0..rng.usize(3..10)).map(|_| rng.lowercase()).collect();
            padding.push_str(&word);
            padding.push(' ');
        }
        padding.push_str("</p>\n");
    }
    let page = format!(
        "<html><head><title>Bloated</title></head><body><article>{padding}</article></body></html>"
    );
    std::fs::write(outlet.join("articles/huge.html"), page).unwrap();
    std::fs::write(
        outlet.join("articles/small.html"),
        "<html><head><title>Subscribe</title></head><body><p>Subscribe.</p></body></html>",
    )
    .unwrap();
    std::fs::write(
        outlet.join("feed.xml"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Bloated</title><link>{{BASE}}/bloated/</link>
<item><title>Huge</title><link>{{BASE}}/bloated/articles/huge.html</link>
<guid isPermaLink="false">bloated-huge</guid><pubDate>Mon, 19 Aug 2024 10:00:00 +0000</pubDate></item>
<item><title>Small</title><link>{{BASE}}/bloated/articles/small.html</link>
<guid isPermaLink="false">bloated-small</guid><pubDate>Mon, 19 Aug 2024 11:00:00 +0000</pubDate></item>
</channel></rss>"#,
    )
    .unwrap();
}

fn run_newsflow(args: &[&str], data_dir: &Path) -> String {
    let output = run_command(
        newsflow_command()
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env(
                "NEWSFLOW_BUS__EMBEDDED__MAX_MESSAGE_BYTES",
                MAX_MESSAGE_BYTES.to_string(),
            ),
    );
    String::from_utf8(output.stdout).unwrap()
}

fn letters(data_dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["dead-letters", "list", "--format", "json"];
    args.extend_from_slice(extra);
    run_newsflow(&args, data_dir)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

fn raw_head(data_dir: &Path) -> i64 {
    let config = EmbeddedConfig::default();
    EmbeddedBus::open(data_dir, &config, &["events"])
        .unwrap()
        .head("raw")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_records_become_dead_letters_that_replay_once() {
    let server = FixtureServer::start(&repo_path("tests/fixtures/outlets"))
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let hostile_root = work.path().join("hostile");
    write_bloated_outlet(&hostile_root);
    let hostile = FixtureServer::start(&hostile_root).await.unwrap();
    let feeds = write_feed_list(server.base_url(), work.path());
    let mut list = std::fs::read_to_string(&feeds).unwrap();
    list.push_str(&format!(
        "\n[[feeds]]\nurl = \"{}/bloated/feed.xml\"\noutlet = \"Bloated\"\n",
        hostile.base_url()
    ));
    std::fs::write(&feeds, list).unwrap();
    let data_dir = work.path().join("data");
    let events_out = work.path().join("events.jsonl");

    // Hostile records waiting on `raw` before the service starts.
    std::fs::create_dir_all(&data_dir).unwrap();
    let poison: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not-json", b"{not json".to_vec(), "malformed"),
        (
            "next-major",
            br#"{"schema_version": 2, "item_id": "x", "body": ""}"#.to_vec(),
            "schema_version",
        ),
        (
            "wrong-shape",
            br#"{"schema_version": 1, "item_id": 42}"#.to_vec(),
            "malformed",
        ),
        ("binary", vec![0xff, 0xfe, 0x00, 0x9c], "malformed"),
        ("empty", Vec::new(), "malformed"),
    ];
    {
        let bus = EmbeddedBus::open(&data_dir, &EmbeddedConfig::default(), &["events"]).unwrap();
        drop(bus.consumer("cleaner", "raw").await.unwrap());
        for (key, payload, _) in &poison {
            bus.send("raw", key, payload.clone()).await.unwrap();
        }
    }

    let run = {
        let (feeds, data_dir, events_out) = (feeds.clone(), data_dir.clone(), events_out.clone());
        tokio::task::spawn_blocking(move || {
            run_newsflow(
                &[
                    "run",
                    "--feeds",
                    feeds.to_str().unwrap(),
                    "--events-out",
                    events_out.to_str().unwrap(),
                    "--allow-private-addresses",
                    "--until-idle",
                ],
                &data_dir,
            )
        })
    };
    run.await.unwrap();

    // The fixture's events formed as ever, the Baku event among them.
    let events = standing_events(read_event_lines(
        &std::fs::read_to_string(&events_out).unwrap(),
    ));
    assert_events_match_fixture(&events);

    let all = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        move || letters(&data_dir, &[])
    })
    .await
    .unwrap();
    for (key, payload, reason) in &poison {
        let letter = all
            .iter()
            .find(|l| l["key"] == *key)
            .unwrap_or_else(|| panic!("no dead letter for {key}: {all:?}"));
        assert_eq!(letter["stage"], "cleaner", "{letter}");
        assert_eq!(letter["reason"], *reason, "{letter}");
        assert_eq!(letter["topic"], "raw");
        assert!(
            letter["offset"].is_i64() && letter["partition"] == 0,
            "{letter}"
        );
        assert!(!letter["error"].as_str().unwrap().is_empty());
        assert_eq!(letter["payload_bytes"], payload.len() as u64);
        assert_eq!(letter["replayed"], false);
    }
    let huge = all
        .iter()
        .find(|l| l["error"].as_str().is_some_and(|e| e.contains("huge.html")))
        .unwrap_or_else(|| panic!("no dead letter for the bloated page: {all:?}"));
    assert_eq!(huge["stage"], "fetcher");
    assert!(
        huge["key"].as_str().is_some_and(|k| !k.is_empty()),
        "{huge}"
    );
    assert_eq!(huge["reason"], "too_large");
    assert_eq!(huge["topic"], "raw");
    let error = huge["error"].as_str().unwrap();
    assert!(
        error.contains("huge.html") && error.contains(&MAX_MESSAGE_BYTES.to_string()),
        "{error}"
    );
    assert!(huge["payload_bytes"].as_u64().unwrap() > MAX_MESSAGE_BYTES as u64);
    assert_eq!(huge["payload_truncated"], true);
    assert_eq!(
        all.len(),
        poison.len() + 1,
        "nothing else was refused: {all:?}"
    );

    // The feed's pass went on past the refused item: its next item was delivered.
    let statuses = tokio::task::spawn_blocking({
        let (data_dir, feeds) = (data_dir.clone(), feeds.clone());
        move || {
            run_newsflow(
                &[
                    "feeds",
                    "list",
                    "--format",
                    "json",
                    "--feeds",
                    feeds.to_str().unwrap(),
                ],
                &data_dir,
            )
        }
    })
    .await
    .unwrap();
    let bloated: Value = statuses
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|f| f["outlet"] == "Bloated")
        .unwrap();
    assert_eq!(bloated["status"]["items_seen"], 1, "{bloated}");

    let fetcher_only = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        move || letters(&data_dir, &["--stage", "fetcher"])
    })
    .await
    .unwrap();
    assert_eq!(fetcher_only.len(), 1);

    // Replay re-injects the five whole letters, skips the cut one, and a
    // second replay re-injects nothing.
    let before = raw_head(&data_dir);
    let (first, second) = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        move || {
            let first = run_newsflow(&["dead-letters", "replay"], &data_dir);
            let second = run_newsflow(&["dead-letters", "replay"], &data_dir);
            (first, second)
        }
    })
    .await
    .unwrap();
    assert!(first.contains("replayed 5 dead letters"), "{first}");
    assert!(first.contains("1 with a cut payload"), "{first}");
    assert!(first.contains("skipping dead letter"), "{first}");
    assert!(
        second.contains("replayed 0 dead letters (5 replayed before"),
        "{second}"
    );
    assert_eq!(
        raw_head(&data_dir),
        before + 5,
        "each letter re-injected exactly once"
    );
    let bus = EmbeddedBus::open(&data_dir, &EmbeddedConfig::default(), &["events"]).unwrap();
    let mut reader = bus.reader("raw", before);
    let replayed: Vec<(Option<String>, Vec<u8>)> = reader
        .read_available()
        .unwrap()
        .into_iter()
        .map(|d| (d.key, d.payload))
        .collect();
    let expected: Vec<(Option<String>, Vec<u8>)> = poison
        .iter()
        .map(|(key, payload, _)| (Some(key.to_string()), payload.clone()))
        .collect();
    assert_eq!(replayed, expected, "replay keeps keys, payloads and order");
    let listed = tokio::task::spawn_blocking(move || letters(&data_dir, &[]))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().filter(|l| l["replayed"] == true).count(),
        5,
        "list tells the replayed letters"
    );
}
