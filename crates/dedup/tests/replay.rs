//! `newsflow dedup --input DOCS.jsonl --output VERDICTS.tsv`.

mod common;

use common::*;
use newsflow_dedup::{replay, DedupConfig};

fn line(id: &str, url: &str, title: &str, text: &str) -> String {
    serde_json::json!({"id": id, "url": url, "title": title, "text": text}).to_string()
}

fn run(input: &str) -> (String, Result<replay::ReplaySummary, replay::ReplayError>) {
    let mut output = Vec::new();
    let result = replay::run(&mut input.as_bytes(), &mut output, &DedupConfig::default());
    (String::from_utf8(output).unwrap(), result)
}

#[test]
fn writes_one_verdict_per_document_in_input_order() {
    let seeds = seeds();
    let mut lines: Vec<String> = seeds
        .iter()
        .enumerate()
        .map(|(i, (title, body))| {
            line(
                &format!("seed{i}"),
                &format!("https://o{i}.example/a"),
                title,
                body,
            )
        })
        .collect();
    lines.push(line(
        "copy",
        "https://wire.example/a",
        "Other headline",
        &seeds[3].1,
    ));
    lines.push(line(
        "edited",
        "https://x.example/a",
        "Edited",
        &replace_every_nth_word(&seeds[4].1, 8),
    ));
    lines.push(serde_json::json!({"id": 42, "url": "https://o0.example/a", "title": "", "text": seeds[0].1}).to_string());
    let (output, result) = run(&lines.join("\n"));
    let summary = result.unwrap();
    assert_eq!(
        output,
        "seed0\t\nseed1\t\nseed2\t\nseed3\t\nseed4\t\ncopy\tseed3\nedited\tseed4\n42\tseed0\n"
    );
    assert_eq!(summary.documents, 8);
    assert_eq!(summary.new_stories, 5);
    assert_eq!(summary.duplicates, 2);
    assert_eq!(summary.unchanged, 1);
}

#[test]
fn the_same_input_twice_gives_the_same_verdicts() {
    let seeds = seeds();
    let input: String = seeds
        .iter()
        .enumerate()
        .map(|(i, (title, body))| {
            line(
                &i.to_string(),
                &format!("https://o{i}.example/a"),
                title,
                body,
            ) + "\n"
        })
        .collect();
    assert_eq!(run(&input).0, run(&input).0);
}

#[test]
fn published_dates_drive_the_window() {
    let seeds = seeds();
    let dated = |id: &str, url: &str, published: &str| {
        serde_json::json!({"id": id, "url": url, "title": "t", "text": seeds[0].1, "published": published}).to_string()
    };
    let input = [
        dated("a", "https://a.example/1", "2024-08-01T00:00:00Z"),
        dated("b", "https://b.example/1", "2024-08-05T00:00:00Z"),
        dated("c", "https://c.example/1", "2024-08-20T00:00:00Z"),
    ]
    .join("\n");
    // Eight days after its last copy the story has left the 7-day window.
    assert_eq!(run(&input).0, "a\t\nb\ta\nc\t\n");
}

#[test]
fn a_bad_line_is_reported_by_number() {
    let input = format!(
        "{}\n\n{{not json\n",
        line("a", "https://a.example", "A", "text")
    );
    let (_, result) = run(&input);
    let error = result.unwrap_err();
    assert!(error.to_string().starts_with("line 3 "), "{error}");
    let missing_id = "{\"url\": \"https://a.example\"}\n";
    assert!(run(missing_id)
        .1
        .unwrap_err()
        .to_string()
        .starts_with("line 1 "));
}
