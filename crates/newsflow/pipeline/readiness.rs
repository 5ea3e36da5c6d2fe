//! Whether this process is ready to do its work, for `/ready`: the bus
//! answers, every stage has started (its state restored, its consumer
//! joined), and no stage is stalled. `/health` only says the process lives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use newsflow_bus::{EmbeddedBus, KafkaBus};
use newsflow_model::topics;

use super::progress::Stall;

/// How long the bus may take to answer a readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How to ask the bus whether it answers.
pub enum BusProbe {
    Embedded(EmbeddedBus),
    Kafka(KafkaBus),
}

pub struct Readiness {
    probe: BusProbe,
    started: AtomicBool,
    stalls: Mutex<Vec<Stall>>,
}

impl Readiness {
    pub fn new(probe: BusProbe) -> Self {
        Self {
            probe,
            started: AtomicBool::new(false),
            stalls: Mutex::new(Vec::new()),
        }
    }

    /// Every stage of this process has started.
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    pub fn set_stalls(&self, stalls: Vec<Stall>) {
        *self.stalls.lock().unwrap_or_else(|p| p.into_inner()) = stalls;
    }

    /// `Ok` when ready, else every reason it is not.
    pub async fn verdict(&self) -> Result<(), Vec<String>> {
        let mut reasons = Vec::new();
        if !self.started.load(Ordering::SeqCst) {
            reasons.push("starting: stages are restoring their state or joining the bus".into());
        }
        if let Err(reason) = self.probe_bus().await {
            reasons.push(reason);
        }
        reasons.extend(
            self.stalls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(Stall::to_string),
        );
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }

    async fn probe_bus(&self) -> Result<(), String> {
        let probe = match &self.probe {
            BusProbe::Embedded(bus) => {
                let bus = bus.clone();
                tokio::task::spawn_blocking(move || bus.head(topics::RAW).map(|_| ()))
            }
            BusProbe::Kafka(bus) => {
                let bus = bus.clone();
                tokio::task::spawn_blocking(move || bus.probe(PROBE_TIMEOUT))
            }
        };
        match tokio::time::timeout(PROBE_TIMEOUT + Duration::from_millis(500), probe).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(format!("bus unreachable: {error}")),
            Ok(Err(join)) => Err(format!("bus probe failed: {join}")),
            Err(_) => Err(format!(
                "bus unreachable: no answer within {} s",
                PROBE_TIMEOUT.as_secs()
            )),
        }
    }
}
