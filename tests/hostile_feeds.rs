//! Hostile feeds for `newsflow feeds parse FILE` (and OPML for `feeds
//! import`), generated here at test time, one per class of attack: each run
//! of the real binary must end normally (an error exit is fine, a signal is
//! not), within a generous time limit and under a peak-memory bound.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::bounded_child::{run_bounded, ChildCost};

/// Generous: each case takes well under a second in a release build; a
/// quadratic path takes minutes.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Peak resident memory of one `feeds parse`: inputs are 1–10 MB.
const MEMORY_LIMIT: u64 = 200 * 1024 * 1024;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_newsflow")
}

fn write_case(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("writing a hostile case");
    path
}

/// Runs `feeds parse --format json` on a generated document and asserts it
/// ended normally, in time and in memory. Returns the run and the parsed
/// output when the parse succeeded.
fn parse_bounded(name: &str, body: &[u8]) -> (ChildCost, Option<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_case(dir.path(), name, body);
    let cost = run_bounded(
        Command::new(binary())
            .args(["feeds", "parse"])
            .arg(&path)
            .args(["--format", "json"]),
        TIME_LIMIT,
    );
    check_cost(name, body.len(), &cost);
    let output = (cost.exit_code == Some(0))
        .then(|| serde_json::from_slice(&cost.stdout).expect("feeds parse prints JSON"));
    (cost, output)
}

fn check_cost(name: &str, input_len: usize, cost: &ChildCost) {
    eprintln!(
        "hostile case {name}: {} bytes, exit {:?}, signal {:?}, {:.2} s, peak RSS {} MiB",
        input_len,
        cost.exit_code,
        cost.signal,
        cost.elapsed.as_secs_f64(),
        cost.peak_rss_bytes / (1024 * 1024)
    );
    assert!(!cost.timed_out, "{name}: ran past {TIME_LIMIT:?}");
    assert_eq!(
        cost.signal,
        None,
        "{name}: ended by a signal; stderr: {}",
        cost.stderr_text()
    );
    assert!(
        matches!(cost.exit_code, Some(0 | 1)),
        "{name}: exit {:?}; stderr: {}",
        cost.exit_code,
        cost.stderr_text()
    );
    assert!(
        cost.peak_rss_bytes < MEMORY_LIMIT,
        "{name}: peak RSS {} MiB",
        cost.peak_rss_bytes / (1024 * 1024)
    );
}

fn items(output: &serde_json::Value) -> &Vec<serde_json::Value> {
    output["items"].as_array().expect("items array")
}

fn rss(channel_inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Hostile</title>{channel_inner}</channel></rss>"
    )
}

const ITEM: &str = "<item><title>kept</title><link>https://x.example/a</link></item>";

#[test]
fn deep_nesting_in_rss_is_capped_not_a_stack_overflow() {
    // The case: 200,000 nested elements in about 1.4 MB.
    let depth = 200_000;
    let body = rss(&format!(
        "{ITEM}<item><title>deep</title><description>{}x{}</description></item>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    ));
    let (_, output) = parse_bounded("deep.rss", body.as_bytes());
    let output = output.expect("a deep feed still parses");
    assert_eq!(items(&output).len(), 2);
    assert_eq!(items(&output)[0]["title"], "kept");
}

#[test]
fn deep_nesting_that_never_closes_is_capped() {
    let body = rss(&format!("{ITEM}{}", "<a><b x='1'>".repeat(150_000)));
    parse_bounded("unclosed.rss", body.as_bytes());
}

#[test]
fn deep_xhtml_content_in_atom_is_capped() {
    let depth = 200_000;
    let body = format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Hostile</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>\
         <entry><title>deep</title><id>urn:x:1</id><updated>2024-01-01T00:00:00Z</updated><link href=\"https://x.example/1\"/>\
         <content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{}deep text{}</div></content></entry></feed>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    let (_, output) = parse_bounded("deep.atom", body.as_bytes());
    let output = output.expect("a deep Atom feed still parses");
    assert_eq!(items(&output).len(), 1);
    assert_eq!(items(&output)[0]["title"], "deep");
}

#[test]
fn deep_nesting_in_json_feed_is_refused_or_capped() {
    let depth = 200_000;
    let body = format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"Hostile\",\"items\":[{{\"id\":\"1\",\"url\":\"https://x.example/1\",\"_x\":{}1{}}}]}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    parse_bounded("deep.json", body.as_bytes());
    // Nesting in a skipped part of the document.
    let body = format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"Hostile\",\"_x\":{}1{},\"items\":[]}}",
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    );
    parse_bounded("deep-object.json", body.as_bytes());
}

#[test]
fn doctype_entity_expansion_stays_within_its_budget() {
    // The case: one 500 KB entity used 20,000 times (>10 GB in full).
    let body = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY big \"{}\">]><rss version=\"2.0\"><channel><title>Hostile</title>{ITEM}{}</channel></rss>",
        "x".repeat(500_000),
        "<item><title>&big;</title></item>".repeat(20_000)
    );
    let (_, output) = parse_bounded("entity-bomb.rss", body.as_bytes());
    if let Some(output) = output {
        assert!(items(&output).len() <= newsflow_fetcher::DEFAULT_MAX_ITEMS_PER_DOCUMENT);
    }
}

#[test]
fn nested_and_external_entities_are_not_expanded() {
    let mut decls = String::from("<!ENTITY l0 \"lollollollollollollollollollol\">");
    for i in 1..12 {
        decls.push_str(&format!(
            "<!ENTITY l{i} \"{}\">",
            format!("&l{};", i - 1).repeat(10)
        ));
    }
    decls.push_str("<!ENTITY ext SYSTEM \"http://169.254.169.254/latest/meta-data/\">");
    let body = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [{decls}]><rss version=\"2.0\"><channel><title>&l11;&ext;</title>{ITEM}</channel></rss>"
    );
    let (_, output) = parse_bounded("laughs.rss", body.as_bytes());
    let output = output.expect("parses");
    let title = output["title"].as_str().unwrap_or_default();
    assert!(title.len() < 1000, "{} bytes of title", title.len());
    assert!(!title.contains("meta-data"));
}

#[test]
fn many_entity_references_cost_linear_time() {
    let refs = "&amp;&nbsp;&#233;&hellip;&bogus;& ".repeat(60_000);
    let body = rss(&format!(
        "<item><title>t</title><link>https://x.example/a</link><description>{refs}</description></item>"
    ));
    let (_, output) = parse_bounded("entities.rss", body.as_bytes());
    let output = output.expect("parses");
    assert_eq!(items(&output).len(), 1);
}

#[test]
fn a_huge_attribute_count_on_one_element_is_cut() {
    let attrs: String = (0..200_000).map(|i| format!(" a{i}=\"{i}\"")).collect();
    let body = rss(&format!(
        "<item{attrs}><title>t</title><link>https://x.example/a</link></item>"
    ));
    let (_, output) = parse_bounded("attributes.rss", body.as_bytes());
    assert_eq!(items(&output.expect("parses")).len(), 1);
}

#[test]
fn many_namespace_declarations_are_cut() {
    let decls: String = (0..50_000)
        .map(|i| format!(" xmlns:p{i}=\"urn:p{i}\""))
        .collect();
    let uses: String = (0..50_000)
        .map(|i| format!("<p{i}:x p{i}:y=\"1\"/>"))
        .collect();
    let body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"{decls}><channel><title>Hostile</title>{ITEM}{uses}</channel></rss>"
    );
    parse_bounded("namespaces.rss", body.as_bytes());
}

#[test]
fn long_attribute_values_and_long_text_cost_linear_time() {
    let body = rss(&format!(
        "<item><title>t</title><link href=\"{}\">https://x.example/a</link><description>{}</description></item>",
        "h".repeat(4_000_000),
        "<![CDATA[".to_string() + &"c".repeat(4_000_000) + "]]>"
    ));
    parse_bounded("long-values.rss", body.as_bytes());
}

#[test]
fn a_feed_of_100000_items_is_read_as_its_first_items() {
    let items_xml: String = (0..100_000)
        .map(|i| format!("<item><title>{i}</title><link>https://x.example/{i}</link></item>"))
        .collect();
    let (cost, output) = parse_bounded("items.rss", rss(&items_xml).as_bytes());
    let output = output.expect("parses");
    assert_eq!(
        items(&output).len(),
        newsflow_fetcher::DEFAULT_MAX_ITEMS_PER_DOCUMENT
    );
    assert_eq!(items(&output)[0]["title"], "0");
    assert!(cost.peak_rss_bytes < 100 * 1024 * 1024);
}

#[test]
fn a_json_feed_of_100000_items_is_read_as_its_first_items() {
    let items_json: Vec<String> = (0..100_000)
        .map(|i| format!("{{\"id\":\"{i}\",\"url\":\"https://x.example/{i}\",\"title\":\"{i}\"}}"))
        .collect();
    let body = format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"Hostile\",\"items\":[{}]}}",
        items_json.join(",")
    );
    let (_, output) = parse_bounded("items.json", body.as_bytes());
    assert_eq!(
        items(&output.expect("parses")).len(),
        newsflow_fetcher::DEFAULT_MAX_ITEMS_PER_DOCUMENT
    );
}

#[test]
fn many_comments_and_processing_instructions_cost_linear_time() {
    let noise = "<!-- c --><?pi data?><!---->".repeat(100_000);
    let body = rss(&format!("{noise}{ITEM}{noise}"));
    let (_, output) = parse_bounded("comments.rss", body.as_bytes());
    assert_eq!(items(&output.expect("parses")).len(), 1);
}

#[test]
fn many_sibling_elements_cost_linear_time() {
    let siblings = "<x/><y>t</y>".repeat(300_000);
    let body = rss(&format!(
        "<item><title>t</title><link>https://x.example/a</link>{siblings}</item>"
    ));
    parse_bounded("siblings.rss", body.as_bytes());
}

#[test]
fn deep_and_wide_opml_imports_in_bounded_cost() {
    let dir = tempfile::tempdir().unwrap();
    let outlines: String = (0..20_000)
        .map(|i| format!("<outline text=\"f{i}\" xmlUrl=\"https://x.example/{i}\">"))
        .collect();
    // Many feeds too: merging them into the list must not compare each
    // with every other.
    let flat: String = (0..40_000)
        .map(|i| format!("<outline text=\"g{i}\" xmlUrl=\"https://z.example/{i}\"/>"))
        .collect();
    let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"{i}\"")).collect();
    let opml = format!(
        "<?xml version=\"1.0\"?><opml version=\"2.0\"><body><outline{attrs} xmlUrl=\"https://y.example/\"/>{outlines}{}{flat}</body></opml>",
        "</outline>".repeat(20_000)
    );
    let path = write_case(dir.path(), "hostile.opml", opml.as_bytes());
    let target = dir.path().join("feeds.toml");
    let cost = run_bounded(
        Command::new(binary())
            .args(["feeds", "import"])
            .arg(&path)
            .arg("--feeds")
            .arg(&target),
        TIME_LIMIT,
    );
    check_cost("hostile.opml", opml.len(), &cost);
    assert_eq!(cost.exit_code, Some(0), "{}", cost.stderr_text());
    assert!(
        cost.stdout_text().contains("imported 60001 new feeds"),
        "{}",
        cost.stdout_text()
    );
}
