//! What the Kafka end-to-end tests share: a tansu broker on a free loopback
//! port, stages as their own processes, and newsflow's own bus to produce
//! and read records.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::newsflow_command;

/// Kills a child process when dropped, so a failing test leaves no broker
/// or stage running.
pub struct Running(pub Child);

impl Running {
    pub fn terminate(&mut self) {
        // SIGTERM first: stages commit what they finished.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }

    /// SIGKILL: no chance to commit or flush anything.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.kill();
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn tansu_available() -> bool {
    Command::new("tansu")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Without tansu the test says so and passes locally; under CI it fails.
pub fn require_tansu() -> bool {
    if tansu_available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tansu is not on PATH; .ci/run installs it before the tests"
    );
    eprintln!("SKIPPED: tansu is not on PATH (install it with the command in README.md)");
    false
}

/// Where a broker keeps its records. Only SQLite: tansu's `memory://`
/// storage hides the tail of a multi-record batch until the partition's
/// next write (see `kafka_batches.rs`).
#[derive(Debug, Clone, Copy)]
pub enum Storage {
    /// `tansu.db` in the broker's directory: survives a broker restart.
    Sqlite,
}

pub fn start_broker(dir: &Path, port: u16, storage: Storage) -> Running {
    let listener = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("tansu.log"))
        .unwrap();
    let engine = match storage {
        Storage::Sqlite => "sqlite://tansu.db",
    };
    let child = Command::new("tansu")
        .arg("broker")
        .args(["--listener-url", &listener])
        .args(["--advertised-listener-url", &listener])
        .args(["--storage-engine", engine])
        .current_dir(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("tansu starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Running(child)
}

/// A broker with SQLite storage in `work/broker` on a free port; returns it
/// and its port.
pub fn start_broker_in(work: &Path) -> (Running, u16) {
    let port = free_port();
    let dir = work.join("broker");
    std::fs::create_dir_all(&dir).unwrap();
    (start_broker(&dir, port, Storage::Sqlite), port)
}

/// `newsflow run --stage NAME` on Kafka with its data directory under
/// `data_dir/dir_name` and its log (appended) at `logs/log_name.log`.
pub struct StageProcess<'a> {
    pub name: &'static str,
    pub brokers: &'a str,
    pub topic_prefix: &'a str,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub extra: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl StageProcess<'_> {
    pub fn spawn(&self) -> Running {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = newsflow_command();
        command
            .args(["run", "--bus", "kafka", "--stage", self.name])
            .args(["--brokers", self.brokers])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra)
            .env("NEWSFLOW_BUS__KAFKA__TOPIC_PREFIX", self.topic_prefix)
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        Running(command.spawn().expect("newsflow starts"))
    }
}

pub fn kafka_config(brokers: &str, topic_prefix: &str) -> newsflow_bus::KafkaConfig {
    newsflow_bus::KafkaConfig {
        brokers: brokers.to_string(),
        topic_prefix: topic_prefix.into(),
        ..Default::default()
    }
}

/// Produces one record with newsflow's own Kafka bus, as a stage would.
pub fn produce(
    runtime: &tokio::runtime::Runtime,
    config: &newsflow_bus::KafkaConfig,
    topic: &str,
    key: &str,
    payload: Vec<u8>,
) {
    runtime.block_on(async {
        use newsflow_bus::Producer;
        let bus = newsflow_bus::KafkaBus::connect(config.clone()).unwrap();
        bus.send(topic, key, payload).await.unwrap();
    });
}

/// Every record `topic` holds now, in order (payloads), or `None` when
/// the broker could not be read.
pub fn topic_payloads(
    runtime: &tokio::runtime::Runtime,
    config: &newsflow_bus::KafkaConfig,
    topic: &str,
) -> Option<Vec<Vec<u8>>> {
    runtime.block_on(async {
        let bus = newsflow_bus::KafkaBus::connect(config.clone()).ok()?;
        let mut payloads = Vec::new();
        let Some(mut history) = bus.written_history(topic).ok()? else {
            return Some(payloads);
        };
        while let Some(delivery) = history.next().await.ok()? {
            payloads.push(delivery.payload);
        }
        history.stopped_short().is_none().then_some(payloads)
    })
}
