//! Hostile pages through `newsflow extract`, one per class of attack on the
//! HTML parser and the cleaner: each page is generated here (nothing hostile
//! is stored), and each run must end normally, within a time limit far above
//! what a linear pass takes, and within a memory limit. Where the page
//! carries a story, its text must come out: limits cut structure, not text.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::bounded_child::{run_bounded, ChildCost};

/// Far above a linear pass, even in a debug build on a loaded machine;
/// a quadratic one takes minutes to hours on these pages.
const TIME_LIMIT: Duration = Duration::from_secs(120);
/// Far above what the pages need (input times a small factor), far below
/// what an unbounded tree of them takes.
const MEMORY_LIMIT_BYTES: u64 = 1536 * 1024 * 1024;

/// Words that must survive in the extracted body.
const STORY_MARKER: &str = "quokkas of Rottnest";

fn story() -> String {
    let mut s = String::from("<h1>Island census finds more quokkas</h1>");
    for i in 0..4 {
        let _ = write!(
            s,
            "<p>Paragraph {i}: rangers counting the quokkas of Rottnest Island this \
             winter found the population larger than in any survey since records \
             began, crediting a wet spring, fewer visitors feeding them bread, and \
             the fencing of the main settlement's rubbish tips.</p>"
        );
    }
    s
}

fn page(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Island census finds more quokkas</title></head><body>{body}</body></html>"
    )
}

/// Writes the page and runs the binary on it. The page is dropped first:
/// the child's peak memory as the kernel reports it includes what the test
/// process held when it started the child.
fn extract(name: &str, html: String) -> ChildCost {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.html"));
    std::fs::write(&file, html).unwrap();
    run_extract(&file)
}

fn run_extract(file: &Path) -> ChildCost {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
    command
        .current_dir(std::env::temp_dir())
        .env("RUST_LOG", "warn")
        .arg("extract")
        .arg(file)
        .args([
            "--url",
            "https://hostile.example/news/page",
            "--format",
            "json",
        ]);
    run_bounded(&mut command, TIME_LIMIT)
}

/// The run ended by itself, in time and memory; returns its output.
fn assert_bounded(name: &str, cost: &ChildCost) -> String {
    eprintln!(
        "{name}: {:.2} s, peak RSS {} MiB, exit {:?}",
        cost.elapsed.as_secs_f64(),
        cost.peak_rss_bytes / (1024 * 1024),
        cost.exit_code
    );
    assert!(
        !cost.timed_out,
        "{name}: still running after {TIME_LIMIT:?}"
    );
    assert_eq!(
        cost.signal,
        None,
        "{name}: killed by a signal: {}",
        cost.stderr_text()
    );
    assert!(
        cost.peak_rss_bytes < MEMORY_LIMIT_BYTES,
        "{name}: peak RSS {} MiB",
        cost.peak_rss_bytes / (1024 * 1024)
    );
    assert!(
        !cost.stderr_text().contains("panicked"),
        "{name}: {}",
        cost.stderr_text()
    );
    cost.stdout_text()
}

/// Bounded, and the story's text was extracted.
fn assert_story_kept(name: &str, html: String) {
    let cost = extract(name, html);
    let out = assert_bounded(name, &cost);
    assert_eq!(cost.exit_code, Some(0), "{name}: {}", cost.stderr_text());
    assert!(
        out.contains(STORY_MARKER),
        "{name}: the story's text is gone: {}",
        &out[..out.len().min(2000)]
    );
}

/// Bounded; the page may or may not hold an article (an error exit is a
/// normal end), but the process ended by itself.
fn assert_ends(name: &str, html: String) {
    let cost = extract(name, html);
    assert_bounded(name, &cost);
    assert!(
        matches!(cost.exit_code, Some(0 | 1)),
        "{name}: exit {:?}: {}",
        cost.exit_code,
        cost.stderr_text()
    );
}

fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * depth + inner.len());
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(inner);
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

fn repeated(piece: &str, times: usize) -> String {
    piece.repeat(times)
}

#[test]
fn a_million_nested_divs() {
    let html = page(&nested("<div>", "</div>", 1_000_000, &story()));
    assert_story_kept("nested_divs", html);
}

#[test]
fn a_million_unclosed_divs() {
    let html = page(&(repeated("<div>", 1_000_000) + &story()));
    assert_story_kept("unclosed_divs", html);
}

#[test]
fn deeply_nested_inline_and_unknown_elements() {
    let html = page(&nested(
        "<span><x-wrap><section>",
        "</section></x-wrap></span>",
        100_000,
        &story(),
    ));
    assert_story_kept("nested_inline", html);
}

#[test]
fn unclosed_formatting_elements_with_distinct_attributes() {
    // Each is reconstructed inside every later block: the list of active
    // formatting elements must stay short.
    let mut body = String::new();
    for i in 0..100_000 {
        let _ = write!(body, "<b id=\"b{i}\"><i class=\"c{i}\">");
    }
    body.push_str(&repeated("<p>x</p>", 50_000));
    body.push_str(&story());
    assert_story_kept("unclosed_formatting", page(&body));
}

#[test]
fn misnested_formatting_runs_the_adoption_agency_everywhere() {
    let body = repeated("<a href=\"/x\"><b><div><u>", 100_000)
        + &repeated("</b></a><p>text</p>", 100_000)
        + &story();
    // Bounded only: the open links wrap what follows, so the story reads as
    // link text and the page is judged an index, as the markup says.
    assert_ends("adoption_agency", page(&body));
}

#[test]
fn nested_tables_and_foster_parenting() {
    let tables = nested("<table><tr><td>", "</td></tr></table>", 100_000, &story());
    assert_story_kept("nested_tables", page(&tables));
    // Elements inside a table but outside cells are moved before it.
    let foster = repeated("<table><div><b><span>", 100_000) + &story();
    assert_story_kept("foster_parenting", page(&foster));
}

#[test]
fn nested_lists_and_unclosed_items() {
    let lists = nested("<ul><li><ol><li>", "", 30_000, &story());
    assert_story_kept("nested_lists", page(&lists));
}

#[test]
fn nested_svg_and_mathml() {
    // Comes after the story: an unclosed SVG holds what follows it.
    let svg = story() + &nested("<svg><g><foreignObject><div>", "", 100_000, "");
    assert_story_kept("nested_svg", page(&svg));
    let math = story() + &nested("<math><mi><math><mtext>", "", 100_000, "");
    assert_story_kept("nested_math", page(&math));
}

#[test]
fn raw_text_elements_do_not_hide_nesting() {
    // Whatever state the parser's tokenizer is in, the pre-pass and the
    // parser must agree on where tags are.
    let html = story()
        + &repeated(
            "<select><div></select><title><div><div></title><textarea><svg></textarea>",
            30_000,
        )
        + &repeated("<div>", 200_000);
    assert_story_kept("raw_text", page(&html));
}

#[test]
fn two_hundred_thousand_attributes_on_one_element() {
    let mut tag = String::from("<div");
    for i in 0..200_000 {
        let _ = write!(tag, " a{i}=\"{i}\"");
    }
    tag.push('>');
    assert_story_kept("many_attributes", page(&(tag + &story() + "</div>")));
}

#[test]
fn many_elements_with_many_attributes_each() {
    let mut tag = String::from("<span");
    for i in 0..256 {
        let _ = write!(tag, " d{i}");
    }
    tag.push_str(">w</span>");
    let html = page(&(story() + &repeated(&tag, 2_000)));
    assert_story_kept("attributes_everywhere", html);
}

#[test]
fn attributes_on_end_tags_and_repeated_body_tags() {
    let mut end = String::from("</div");
    for i in 0..100_000 {
        let _ = write!(end, " e{i}");
    }
    end.push('>');
    let mut bodies = String::new();
    for i in 0..100_000 {
        let _ = write!(bodies, "<body data-n{i}=\"{i}\"><html lang{i}=\"x\">");
    }
    let html = page(&(story() + &end + &bodies));
    assert_story_kept("end_tag_and_body_attributes", html);
}

#[test]
fn long_attribute_values_and_names() {
    // Within the cleaner's 16 MiB page cap, so the story after them counts.
    let value = "v".repeat(5_000_000);
    let name = "n".repeat(1_000_000);
    let html = page(&format!(
        "<div class=\"{value}\" {name}=\"1\" style=\"{value}\">{}</div>",
        story()
    ));
    assert_story_kept("long_attributes", html);
}

#[test]
fn many_character_references() {
    let entities = repeated("&amp;&lt;&#x41;&#65;&notin;&unknownentity;", 100_000);
    let long_references = format!("&{}; &#{};", "a".repeat(1_000_000), "0".repeat(1_000_000));
    let html = page(&(story() + "<p>" + &entities + &long_references + "</p>"));
    assert_story_kept("entities", html);
}

#[test]
fn many_comments_and_processing_instructions() {
    let html = page(
        &(story()
            + &repeated("<!--c--><?pi x?><!bogus><![CDATA[x]]></ 1>", 100_000)
            + "<!-- never closed "
            + &"<div>".repeat(100_000)),
    );
    assert_story_kept("comments", html);
}

#[test]
fn giant_text_node() {
    let text = "word".repeat(1_000_000);
    let html = page(&(story() + "<p>" + &text + "</p>"));
    assert_ends("giant_text", html);
    let unbroken = "x".repeat(4_000_000);
    assert_ends("giant_word", page(&unbroken));
}

#[test]
fn a_million_sibling_elements() {
    let html = page(&(story() + &repeated("<p>a</p>", 300_000)));
    assert_ends("siblings", html);
    let empty = page(&(story() + &repeated("</p>", 500_000)));
    assert_story_kept("stray_end_tags", empty);
}

#[test]
fn deeply_nested_json_ld() {
    let ld = format!(
        "<script type=\"application/ld+json\">{}{}</script>",
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    let objects = format!(
        "<script type=\"application/ld+json\">{}1{}</script>",
        "{\"@graph\":[".repeat(100_000),
        "]}".repeat(100_000)
    );
    let html = format!(
        "<!doctype html><html><head>{ld}{objects}</head><body>{}</body></html>",
        story()
    );
    assert_story_kept("nested_json_ld", html);
}

#[test]
fn deep_nesting_of_elements_metadata_is_read_from() {
    // Every `<time>` and byline is an ancestor of the next: reading each
    // one's text must not walk the rest of the page again.
    let body = nested(
        "<time datetime=\"nope\"><h1 class=\"byline\"><div class=\"date\">",
        "</div></h1></time>",
        50_000,
        &story(),
    );
    assert_story_kept("nested_metadata", page(&body));
}
