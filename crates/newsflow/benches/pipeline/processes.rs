//! The bench's child processes (newsflow runs, the tansu broker) and what
//! they cost: none outlives the bench, and each one's CPU time and peak RSS
//! are read from /proc while it runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child that is killed (SIGKILL) and reaped when dropped, also when the
/// bench panics; and, should the bench itself be killed, by the kernel
/// (`PR_SET_PDEATHSIG`). Spawn from the main thread only: the death signal
/// follows the thread that forked, not the process.
pub struct Guarded {
    pub name: String,
    child: Option<Child>,
}

impl Guarded {
    pub fn spawn(name: impl Into<String>, command: &mut Command) -> Self {
        // SAFETY: prctl is async-signal-safe; nothing else runs between
        // fork and exec here.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // The bench's own knobs share newsflow's `NEWSFLOW_` prefix, and
        // newsflow refuses configuration keys it does not know.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("NEWSFLOW_PIPELINE_") {
                command.env_remove(key);
            }
        }
        let name = name.into();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self {
            name,
            child: Some(child),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Sends `signal` (SIGSTOP and SIGCONT pause and resume it).
    pub fn signal(&self, signal: libc::c_int) {
        if let Some(child) = self.child.as_ref() {
            // SAFETY: signalling our own, not yet reaped, child.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        }
    }

    /// Whether the child has exited (and is reaped now).
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// SIGTERM (stages commit what they finished), SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        // SAFETY: signalling our own, not yet reaped, child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Takes the child out of the guard, for a caller that reaps it itself.
    pub fn into_child(mut self) -> Child {
        self.child.take().expect("a running child")
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}

/// CPU seconds (user + system) and peak RSS of a running process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
}

impl Cost {
    /// From /proc/<pid>/stat (utime, stime) and /proc/<pid>/status (VmHWM);
    /// zero when the process is gone.
    pub fn of(pid: i32) -> Self {
        let ticks = clock_ticks();
        let cpu_seconds = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // Fields after the command name, which may hold spaces.
                let rest = &stat[stat.rfind(')')? + 2..];
                let fields: Vec<&str> = rest.split_whitespace().collect();
                // utime and stime are fields 14 and 15 of the whole line,
                // 11 and 12 after the name and state.
                let utime: f64 = fields.get(11)?.parse().ok()?;
                let stime: f64 = fields.get(12)?.parse().ok()?;
                Some((utime + stime) / ticks)
            })
            .unwrap_or(0.0);
        let peak_rss_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            })
            .unwrap_or(0);
        Self {
            cpu_seconds,
            peak_rss_bytes,
        }
    }

    /// The CPU spent since `earlier`, with this sample's peak RSS.
    pub fn since(self, earlier: Cost) -> Cost {
        Cost {
            cpu_seconds: (self.cpu_seconds - earlier.cpu_seconds).max(0.0),
            peak_rss_bytes: self.peak_rss_bytes,
        }
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET: (status, body), or `None` when nothing answers.
pub fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Some((status, body))
}

/// What one service's `/metrics` says, as far as the bench reads it.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    text: String,
}

impl Scrape {
    pub fn of(operator: SocketAddr) -> Option<Self> {
        match http_get(operator, "/metrics")? {
            (200, text) => Some(Self { text }),
            _ => None,
        }
    }

    /// The sum of every sample of `metric` whose labels include `label`
    /// (`stage="cleaner"`), or of every sample when `label` is empty.
    pub fn sum(&self, metric: &str, label: &str) -> f64 {
        self.text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name_and_labels, value) = line.rsplit_once(' ')?;
                let (name, labels) = match name_and_labels.split_once('{') {
                    Some((name, labels)) => (name, labels),
                    None => (name_and_labels, ""),
                };
                (name == metric && labels.contains(label)).then(|| value.parse::<f64>().ok())?
            })
            .sum()
    }

    /// Seconds a stage spent in its handler (decoding included).
    pub fn handler_seconds(&self, stage: &str) -> f64 {
        self.sum(
            "newsflow_stage_handle_seconds_sum",
            &format!("stage=\"{stage}\""),
        )
    }

    /// Input records a stage finished with, whatever the outcome.
    pub fn inputs(&self, stage: &str) -> f64 {
        self.sum("newsflow_inputs_total", &format!("stage=\"{stage}\""))
    }
}

/// Waits until `/ready` answers 200, up to `limit`; false past it or when
/// the process died.
pub fn wait_ready(process: &mut Guarded, operator: SocketAddr, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if process.exited() {
            return false;
        }
        if let Some((200, _)) = http_get(operator, "/ready") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
