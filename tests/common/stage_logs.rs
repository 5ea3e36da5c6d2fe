//! Reading the logs of stage processes a test started: without terminal
//! colours, and their tails printed when a test is about to fail.

use std::path::{Path, PathBuf};

/// The log at `path` so far, without terminal colour sequences.
pub fn plain_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // An escape sequence ends with its first letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Prints the last lines of every `*.log` in `dir` and of `extra` logs,
/// newest first.
pub fn dump_logs(dir: &Path, extra: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.extend(extra.iter().cloned());
    for path in logs {
        let text = plain_log(&path);
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        eprintln!(
            "--- {} (last lines, newest first)\n{}",
            path.display(),
            tail.join("\n")
        );
    }
}
