//! `--events-out`: every event record appended to a file as a JSON line, for
//! users without Kafka. Reads the `events` topic as its own group, so the
//! file gets every record at least once, also across restarts.
//!
//! A process killed in the middle of appending a line can leave its first
//! part behind (Linux ends a write early once a fatal signal is pending).
//! That record was not acknowledged, so it comes again after the restart:
//! the torn part is cut off when the file is opened, and the line is
//! written whole.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use newsflow_model::{EventRecord, Message};

use super::stage_loop::{HandleError, Output, StageHandler};

pub struct EventsFileHandler {
    pub path: PathBuf,
    pub file: std::fs::File,
}

impl EventsFileHandler {
    pub fn open(path: PathBuf) -> std::io::Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let kept = complete_lines_length(&mut file)?;
        if kept < file.metadata()?.len() {
            tracing::warn!(path = %path.display(), kept,
                "the events file ended in a torn line (a kill while appending it); cut off");
            file.set_len(kept)?;
        }
        Ok(Self { path, file })
    }
}

/// The length of the file up to and including its last newline, read
/// backwards in blocks: only the torn tail is read, whatever the file's
/// size.
fn complete_lines_length(file: &mut std::fs::File) -> std::io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    let mut end = file.metadata()?.len();
    let mut block = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let part = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if let Some(newline) = part.iter().rposition(|b| *b == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl StageHandler for EventsFileHandler {
    type Input = EventRecord;

    fn name(&self) -> &'static str {
        "events-out"
    }

    fn handle(&mut self, event: EventRecord) -> Result<Vec<Output>, HandleError> {
        let mut line = serde_json::to_vec(&event)
            .map_err(|e| HandleError::Refused(format!("event {}: {e}", event.key())))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.flush())
            .map_err(|e| HandleError::Fatal(format!("writing {}: {e}", self.path.display())))?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_off_and_whole_lines_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"c\":").unwrap();
        EventsFileHandler::open(path.clone()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
    }

    #[test]
    fn a_torn_line_longer_than_a_block_and_no_newline_at_all_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "x".repeat(200 * 1024)).unwrap();
        EventsFileHandler::open(path.clone()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn whole_files_and_new_files_are_left_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let text = format!("{}\n", "y".repeat(100 * 1024));
        std::fs::write(&path, &text).unwrap();
        EventsFileHandler::open(path.clone()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let fresh = dir.path().join("new.jsonl");
        EventsFileHandler::open(fresh.clone()).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().len(), 0);
    }
}
