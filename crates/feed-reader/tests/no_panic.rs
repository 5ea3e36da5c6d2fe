//! Bad input never panics: every corpus file, cut short at several points
//! and with bytes flipped, yields a feed or an error.

use std::path::{Path, PathBuf};

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut out = Vec::new();
    let mut stack = vec![
        root.join("real"),
        root.join("feedparser/illformed"),
        root.join("feedparser/encoding"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "xml" || e == "rss" || e == "atom")
            {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn truncated_and_corrupted_feeds_never_panic() {
    let files = corpus_files();
    assert!(files.len() > 50);
    let mut outcomes = (0usize, 0usize);
    for path in files {
        let body = std::fs::read(&path).unwrap();
        let len = body.len();
        let mut variants: Vec<Vec<u8>> = [0, 1, len / 7, len / 3, len / 2, len.saturating_sub(1)]
            .iter()
            .map(|cut| body[..*cut].to_vec())
            .collect();
        let mut flipped = body.clone();
        for i in (0..flipped.len()).step_by(97) {
            flipped[i] ^= 0x5a;
        }
        variants.push(flipped);
        for variant in variants {
            let result = std::panic::catch_unwind(|| {
                newsflow_fetcher::parse_feed(&variant, None, "https://example.com/feed")
            });
            match result {
                Ok(Ok(_)) => outcomes.0 += 1,
                Ok(Err(error)) => {
                    assert!(!error.to_string().is_empty());
                    outcomes.1 += 1;
                }
                Err(_) => panic!("parse_feed panicked on a variant of {}", path.display()),
            }
        }
    }
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
}
