//! Progress of a long replay over a file, on stderr, only when a person is
//! watching it: redirected to a file or a pipe, stderr gets no bar (and no
//! control characters).

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressBarIter, ProgressDrawTarget, ProgressStyle};

/// A file read through a progress bar of its bytes.
pub struct ProgressReader {
    pub reader: BufReader<ProgressBarIter<File>>,
    bar: ProgressBar,
}

impl ProgressReader {
    pub fn new(file: File, what: &str) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let total = file.metadata().map(|m| m.len()).ok();
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        } else {
            ProgressBar::hidden()
        };
        ProgressReader {
            reader: BufReader::new(bar.wrap_read(file)),
            bar,
        }
    }

    /// Removes the bar before the summary line is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
