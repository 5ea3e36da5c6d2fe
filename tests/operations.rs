//! The binary as an operator meets it: configuration checks and their
//! messages, `config show`, the key reference, completions, logs, progress,
//! the demo from an installed copy, OPML export.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("newsflow starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `newsflow ARGS` in an empty directory with no `NEWSFLOW_*` variable
/// from the test's own environment.
fn newsflow(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(newsflow_binary());
    command.current_dir(dir).args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("NEWSFLOW_") {
            command.env_remove(name);
        }
    }
    command
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

#[test]
fn config_check_refuses_misspelt_keys_naming_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "typo.toml",
        "data_dir = \"d\"\n[bus.embedded]\nmax_backlg = 10\n\n[fetchr]\nuser_agent = \"x\"\n",
    );
    let out = run(&mut newsflow(
        dir.path(),
        &["config", "check", "--config", &file],
    ));
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "a typo must fail the check: {stderr}"
    );
    assert!(
        stderr.contains("unknown key `bus.embedded.max_backlg`")
            && stderr.contains("did you mean max_backlog?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown key `fetchr`") && stderr.contains("did you mean fetcher?"),
        "{stderr}"
    );
    assert!(stderr.contains(&file), "the file is named: {stderr}");

    // `run` reads the configuration the same way: it refuses to start.
    let out = run(&mut newsflow(
        dir.path(),
        &["run", "--config", &file, "--until-idle"],
    ));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("did you mean max_backlog?"));
}

#[test]
fn config_check_refuses_unknown_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(newsflow(dir.path(), &["config", "check"])
        .env("NEWSFLOW_BUS__EMBEDDED__MAX_BACKLG", "5")
        .env("NEWSFLOW_BUS_KIND", "kafka"));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "unknown environment variable NEWSFLOW_BUS__EMBEDDED__MAX_BACKLG: did you mean NEWSFLOW_BUS__EMBEDDED__MAX_BACKLOG?"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "unknown environment variable NEWSFLOW_BUS_KIND: did you mean NEWSFLOW_BUS__KIND?"
        ),
        "{stderr}"
    );

    // Known variables, and the ones that are not keys, pass.
    let out = run(newsflow(dir.path(), &["config", "check"])
        .env("NEWSFLOW_BUS__EMBEDDED__MAX_BACKLOG", "5")
        .env("NEWSFLOW_LOG", "warn")
        .env("NEWSFLOW_BUS__KAFKA__PROPERTIES__ACKS", "all"));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn config_check_names_the_nearest_choice_for_a_misspelt_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(newsflow(dir.path(), &["config", "check"]).env("NEWSFLOW_BUS__KIND", "kafak"));
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("kafak") && stderr.contains("did you mean kafka?"),
        "{stderr}"
    );
}

#[test]
fn config_check_reports_a_value_of_the_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bad.toml", "[dedup]\nnear_jaccard = \"high\"\n");
    let out = run(&mut newsflow(
        dir.path(),
        &["config", "check", "--config", &file],
    ));
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("near_jaccard"), "{stderr}");
}

#[test]
fn the_shipped_configurations_pass_the_check() {
    for file in [
        "config/newsflow.toml",
        "config/tansu.toml",
        "deploy/kafka/newsflow-kafka.toml",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = repo_path(file).display().to_string();
        let out = run(&mut newsflow(
            dir.path(),
            &["config", "check", "--config", &path],
        ));
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("configuration ok"));
    }
}

#[test]
fn config_show_says_where_each_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "n.toml",
        "data_dir = \"/srv/x\"\n[bus.kafka]\nbrokers = \"file:1\"\n[bus.kafka.properties]\n\"compression.type\" = \"lz4\"\n",
    );
    let out = run(newsflow(
        dir.path(),
        &[
            "config",
            "show",
            "--config",
            &file,
            "--format",
            "json",
            "--brokers",
            "flag:2",
        ],
    )
    .env("NEWSFLOW_CLUSTERER__JOIN_THRESHOLD", "0.25")
    .env("NEWSFLOW_DEDUP__MIN_WORDS", "40"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = |name: &str| {
        shown["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"] == name)
            .unwrap_or_else(|| panic!("{name} not shown"))
            .clone()
    };
    assert_eq!(key("data_dir")["source"], "file");
    assert_eq!(key("data_dir")["origin"], file.as_str());
    assert_eq!(key("data_dir")["value"], "/srv/x");
    assert_eq!(key("bus.kafka.brokers")["source"], "flag");
    assert_eq!(key("bus.kafka.brokers")["origin"], "--brokers");
    assert_eq!(key("bus.kafka.brokers")["value"], "flag:2");
    assert_eq!(key("clusterer.join_threshold")["source"], "env");
    assert_eq!(
        key("clusterer.join_threshold")["origin"],
        "NEWSFLOW_CLUSTERER__JOIN_THRESHOLD"
    );
    assert_eq!(key("clusterer.join_threshold")["value"], 0.25);
    assert_eq!(key("bus.kafka.properties")["source"], "file");
    assert_eq!(
        key("bus.kafka.properties")["value"]["compression.type"],
        "lz4"
    );
    assert_eq!(key("bus.kind")["source"], "default");
    // Each layer overrides the one before: file, then environment, then flags.
    let layered_file = write(
        dir.path(),
        "n2.toml",
        "[dedup]\nmin_words = 10\nshingle_words = 4\n",
    );
    let out = run(newsflow(
        dir.path(),
        &[
            "config",
            "show",
            "--config",
            &layered_file,
            "--format",
            "json",
            "--data-dir",
            "/flag",
        ],
    )
    .env("NEWSFLOW_DEDUP__MIN_WORDS", "40")
    .env("NEWSFLOW_DATA_DIR", "/env"));
    let layered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(layered["settings"]["dedup"]["min_words"], 40);
    assert_eq!(layered["settings"]["dedup"]["shingle_words"], 4);
    assert_eq!(layered["settings"]["data_dir"], "/flag");
    assert_eq!(key("dedup.near_jaccard")["value"], 0.18);
    assert_eq!(shown["settings"]["bus"]["kafka"]["brokers"], "flag:2");

    let out = run(&mut newsflow(
        dir.path(),
        &["config", "show", "--config", &file],
    ));
    let shown = text(&out.stdout);
    let line = shown
        .lines()
        .find(|l| l.starts_with("data_dir = "))
        .unwrap();
    assert!(line.ends_with(&format!("# file {file}")), "{line}");
}

/// `docs/config-reference.md` is what the config types say today.
/// `UPDATE_SNAPSHOTS=1 cargo test --test operations` rewrites it.
#[test]
fn the_config_reference_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut newsflow(dir.path(), &["config", "reference"]));
    assert!(out.status.success());
    let generated = text(&out.stdout);
    for key in [
        "`max_backlog`",
        "`NEWSFLOW_BUS__EMBEDDED__MAX_BACKLOG`",
        "`[clusterer]`",
        "`join_threshold`",
    ] {
        assert!(generated.contains(key), "{key} missing from the reference");
    }
    let path = repo_path("docs/config-reference.md");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/config-reference.md is stale: run `UPDATE_SNAPSHOTS=1 cargo test --test operations` and commit it"
    );
}

#[test]
fn completions_are_generated_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&mut newsflow(dir.path(), &["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for word in ["newsflow", "config", "completions", "until-idle"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = run(&mut newsflow(dir.path(), &["completions", "tcsh"]));
    assert!(!out.status.success(), "an unknown shell is refused");
}

/// An article page on which html5ever repairs a table ("foster
/// parenting"): the parser reports each repair as a warning.
fn foster_parenting_page() -> String {
    let paragraph = format!(
        "<p>{}</p>",
        "This paragraph is long enough to be an article body, and it goes on for a while. "
            .repeat(5)
    );
    format!(
        "<html><head><title>Tables</title></head><body><article><h1>Tables</h1>\
         <table>stray text<tr><td>cell</td></tr>more stray</table>{paragraph}{paragraph}\
         </article></body></html>"
    )
}

#[test]
fn logs_to_a_file_are_plain_text_without_dependency_chatter() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(dir.path(), "page.html", &foster_parenting_page());
    let log_path = dir.path().join("stderr.log");

    let extract = |extra_env: Option<(&str, &str)>| {
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = newsflow(dir.path(), &["-v", "extract", &page]);
        if let Some((name, value)) = extra_env {
            command.env(name, value);
        }
        let status = command.stderr(log).stdout(Stdio::null()).status().unwrap();
        assert!(status.success());
        std::fs::read(&log_path).unwrap()
    };

    // Without the default filter the parser's chatter is there, so this
    // page does exercise it...
    let unfiltered = text(&extract(Some(("NEWSFLOW_LOG", "debug"))));
    assert!(
        unfiltered.contains("foster parenting"),
        "the page makes html5ever warn: {unfiltered}"
    );
    // ...and with it (even at -v) it is not.
    let log = extract(None);
    assert!(!text(&log).contains("foster parenting"), "{}", text(&log));

    // The whole pipeline logs to a file without colour codes.
    let demo_log = {
        let log = std::fs::File::create(&log_path).unwrap();
        let status = newsflow(dir.path(), &["demo"])
            .stderr(log)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(&log_path).unwrap()
    };
    assert!(
        text(&demo_log).contains("INFO"),
        "the demo logs: {}",
        text(&demo_log)
    );
    assert!(
        !demo_log.contains(&0x1b),
        "colour codes in a log file: {:?}",
        text(&demo_log)
    );
}

#[test]
fn demo_runs_from_an_installed_binary_without_the_source_tree() {
    let install = tempfile::tempdir().unwrap();
    let binary = install.path().join("newsflow");
    std::fs::copy(newsflow_binary(), &binary).unwrap();
    let work = tempfile::tempdir().unwrap();
    let repo = repo_path("");
    // As root, hide the source tree from the copy (a private mount of an
    // empty folder over it): nothing the build left there can be read.
    let hidden = Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs none \"$1\" && ls -A \"$1\" | wc -l",
            "sh",
        ])
        .arg(&repo)
        .output()
        .ok()
        .filter(|out| out.status.success() && text(&out.stdout).trim() == "0")
        .is_some();
    let mut command = if hidden {
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "sh",
                "-c",
                "mount -t tmpfs none \"$1\" && shift && exec \"$@\"",
                "sh",
            ])
            .arg(&repo)
            .arg(&binary);
        command
    } else {
        eprintln!("cannot hide the source tree here (needs root): running the copy beside it");
        Command::new(&binary)
    };
    command
        .args(["demo", "--format", "json"])
        .current_dir(work.path());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("NEWSFLOW_") {
            command.env_remove(name);
        }
    }
    let out = run(&mut command);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = read_event_lines(&text(&out.stdout));
    let baku = expected()
        .events
        .into_iter()
        .find(|e| e.name == "baku-putin-aliyev")
        .unwrap();
    let event = events
        .iter()
        .find(|e| member_paths(e).contains(&baku.articles[0]))
        .expect("the demo finds the Baku event");
    assert_eq!(event.members.len(), 5, "{event:?}");
}

/// Documents for a replay, each a different story.
fn write_documents(path: &Path, count: usize) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..count {
        let words: Vec<String> = (0..60)
            .map(|w| format!("word{}x{}", (i * 7 + w) % 997, w % 13))
            .collect();
        writeln!(
            file,
            "{}",
            serde_json::json!({"id": format!("d{i}"), "title": format!("story {i}"), "text": words.join(" ")})
        )
        .unwrap();
    }
}

#[test]
fn replay_progress_shows_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.jsonl");
    write_documents(&input, 20_000);
    let input = input.display().to_string();
    let output = dir.path().join("out.tsv").display().to_string();

    // stderr a pipe: the summary line only.
    let out = run(&mut newsflow(
        dir.path(),
        &["dedup", "--input", &input, "--output", &output],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("20000 documents"), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "progress drawn on a pipe: {stderr:?}"
    );

    // stderr a terminal (a pseudo-terminal from `script`): a progress bar.
    let line = format!(
        "{} dedup --input {input} --output {output}",
        newsflow_binary()
    );
    let Ok(out) = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
    else {
        eprintln!("no `script` to make a terminal: only the pipe case was checked");
        return;
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let screen = text(&out.stdout);
    assert!(
        screen.contains("deduplicating"),
        "no progress on a terminal: {screen:?}"
    );
    assert!(screen.contains("20000 documents"), "{screen:?}");
}

#[test]
fn feeds_export_writes_opml_that_import_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let list = repo_path("config/feeds.toml").display().to_string();
    let opml = dir.path().join("feeds.opml").display().to_string();
    let out = run(&mut newsflow(
        dir.path(),
        &["feeds", "export", "--feeds", &list, &opml],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&opml).unwrap();
    assert!(written.starts_with("<?xml") && written.contains("<opml version=\"2.0\">"));

    let reimported = dir.path().join("back.toml").display().to_string();
    let out = run(&mut newsflow(
        dir.path(),
        &["feeds", "import", &opml, "--feeds", &reimported],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let original = newsflow_fetcher::parse_feed_list(
        &std::fs::read_to_string(repo_path("config/feeds.toml")).unwrap(),
    )
    .unwrap();
    let back =
        newsflow_fetcher::parse_feed_list(&std::fs::read_to_string(&reimported).unwrap()).unwrap();
    assert_eq!(back, original);

    // Standard output, and TOML on request.
    let out = run(&mut newsflow(
        dir.path(),
        &["feeds", "export", "--feeds", &list, "--format", "toml"],
    ));
    assert!(out.status.success());
    let toml_back = newsflow_fetcher::parse_feed_list(&text(&out.stdout)).unwrap();
    assert_eq!(toml_back, original);
}
