//! `newsflow run` re-reads its feed list on SIGHUP, without a restart.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use newsflow_fetcher::{feed_list_to_toml, parse_feed_list, FeedSource};
use newsflow_fixture_server::FixtureServer;

/// The URLs of every member in the events written so far.
fn member_urls(events_out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(events_out).unwrap_or_default();
    // The last line may be half written.
    text.lines()
        .filter_map(|line| serde_json::from_str::<newsflow_model::EventRecord>(line).ok())
        .flat_map(|event| event.members.into_iter().map(|m| m.url))
        .collect()
}

fn wait_for(what: &str, child: &mut Child, log: &Path, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "newsflow exited ({status}) before {what}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not happen within 60 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "signal {signal} not delivered");
}

fn write_list(path: &Path, feeds: &[FeedSource]) {
    // Written aside and renamed in, as an editor or a config manager does,
    // so the service never reads half a file.
    let aside = path.with_extension("new");
    std::fs::write(&aside, feed_list_to_toml(feeds)).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_makes_the_service_poll_the_feeds_added_to_its_list() {
    let server = FixtureServer::start(&repo_path("tests/fixtures/outlets"))
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let all = parse_feed_list(
        &std::fs::read_to_string(write_feed_list(server.base_url(), work.path())).unwrap(),
    )
    .unwrap();
    let outlet_of = |feed: &FeedSource| {
        let path = fixture_path(&feed.url);
        path.split('/').nth(1).unwrap().to_string()
    };
    let (first, added) = (&all[0], &all[1]);
    let list = work.path().join("list.toml");
    write_list(&list, std::slice::from_ref(first));
    let events_out = work.path().join("events.jsonl");
    let log = work.path().join("stderr.log");

    let mut child = newsflow_command()
        .arg("run")
        .arg("--feeds")
        .arg(&list)
        .arg("--data-dir")
        .arg(work.path().join("data"))
        .arg("--events-out")
        .arg(&events_out)
        .arg("--allow-private-addresses")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let from = |outlet: String| {
        let events_out = events_out.clone();
        move || {
            member_urls(&events_out)
                .iter()
                .any(|url| fixture_path(url).starts_with(&format!("/{outlet}/")))
        }
    };
    wait_for(
        "the first outlet's stories became events",
        &mut child,
        &log,
        from(outlet_of(first)),
    );
    assert!(
        !from(outlet_of(added))(),
        "the second outlet is not in the list yet"
    );

    // A list that cannot be read is reported, and the service goes on.
    std::fs::write(&list, "[[feeds]]\nurl = 42\n").unwrap();
    signal(&child, libc::SIGHUP);
    wait_for("the bad list was reported", &mut child, &log, || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("feed list not re-read")
    });

    write_list(&list, &[first.clone(), added.clone()]);
    signal(&child, libc::SIGHUP);
    wait_for(
        "the added outlet's stories became events",
        &mut child,
        &log,
        from(outlet_of(added)),
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("feed list re-read"), "{stderr}");

    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
}
