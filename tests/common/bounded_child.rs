//! Runs a child process under a wall-clock limit and reports what it cost:
//! hostile-input tests assert that a parse finishes and stays small, and a
//! quadratic or unbounded path shows up as a blown limit, not a hung CI.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one bounded run of a child ended.
#[derive(Debug)]
pub struct ChildCost {
    /// `None` when the child was killed for running past its limit.
    pub exit_code: Option<i32>,
    /// The signal that ended the child, if one did (6 = abort, 9 = our kill).
    pub signal: Option<i32>,
    pub elapsed: Duration,
    /// Peak resident memory of the child, from the kernel's accounting.
    pub peak_rss_bytes: u64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

impl ChildCost {
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `command` (stdout and stderr captured), killing it after `limit`.
// The child is reaped by `wait4` (for its resource usage), which clippy
// cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_bounded(command: &mut Command, limit: Duration) -> ChildCost {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the child");
    let pid = child.id() as libc::pid_t;
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut timed_out = false;
    let (status, usage) = loop {
        let mut status: libc::c_int = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter for wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own child, not yet reaped; both pointers are valid.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        if started.elapsed() > limit && !timed_out {
            timed_out = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let (exit_code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    ChildCost {
        exit_code,
        signal,
        elapsed,
        // Linux reports ru_maxrss in kibibytes.
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        timed_out,
    }
}
