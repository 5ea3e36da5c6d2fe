//! `--events-out`: every event record appended to a file as a JSON line, for
//! users without Kafka. Reads the `events` topic as its own group, so the
//! file gets every record at least once, also across restarts.

use std::io::Write;
use std::path::PathBuf;

use newsflow_model::{EventRecord, Message};

use super::stage_loop::{HandleError, Output, StageHandler};

pub struct EventsFileHandler {
    pub path: PathBuf,
    pub file: std::fs::File,
}

impl EventsFileHandler {
    pub fn open(path: PathBuf) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(Self { path, file })
    }
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
