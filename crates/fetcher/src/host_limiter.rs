//! Per-host politeness shared by feed and page requests: at most N requests
//! in flight to one host, a minimum gap between request starts, and a pause
//! when the host asked for one (429/503 with `Retry-After`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug)]
struct HostState {
    slots: Arc<Semaphore>,
    next_start: tokio::sync::Mutex<Instant>,
    paused_until: Mutex<Option<Instant>>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

#[derive(Debug)]
pub struct HostLimiter {
    per_host: usize,
    min_gap: Duration,
    global: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
}

/// Held while a request is in flight; frees the host's slot when dropped.
#[derive(Debug)]
pub struct HostPermit {
    state: Arc<HostState>,
    _slot: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HostLimiter {
    pub fn new(per_host: usize, min_gap: Duration, global: usize) -> Self {
        Self {
            per_host: per_host.max(1),
            min_gap,
            global: Arc::new(Semaphore::new(global.max(1))),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn state(&self, host: &str) -> Arc<HostState> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host.to_ascii_lowercase())
            .or_insert_with(|| {
                Arc::new(HostState {
                    slots: Arc::new(Semaphore::new(self.per_host)),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                    paused_until: Mutex::new(None),
                    in_flight: AtomicUsize::new(0),
                    peak_in_flight: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    /// When the host asked us to wait, until when.
    pub fn paused_until(&self, host: &str) -> Option<Instant> {
        let state = self.state(host);
        let paused = *state.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        paused.filter(|until| *until > Instant::now())
    }

    pub fn pause(&self, host: &str, for_how_long: Duration) {
        let state = self.state(host);
        let until = Instant::now() + for_how_long;
        let mut paused = state.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// Waits for a slot on `host`, then for the minimum gap since the last
    /// request to it started.
    pub async fn acquire(&self, host: &str) -> HostPermit {
        let state = self.state(host);
        let slot = state
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("limiter semaphores are never closed");
        {
            let mut next_start = state.next_start.lock().await;
            let now = Instant::now();
            if *next_start > now {
                tokio::time::sleep_until(*next_start).await;
            }
            *next_start = Instant::now() + self.min_gap;
        }
        // Taken last, so a request waiting for its host's turn does not hold
        // a global slot that a request to another host could use.
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("limiter semaphores are never closed");
        let now_in_flight = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state
            .peak_in_flight
            .fetch_max(now_in_flight, Ordering::SeqCst);
        HostPermit {
            state,
            _slot: slot,
            _global: global,
        }
    }

    /// The most requests ever in flight at once to any one host.
    pub fn peak_per_host(&self) -> usize {
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .values()
            .map(|s| s.peak_in_flight.load(Ordering::SeqCst))
            .max()
            .unwrap_or(0)
    }

    #[cfg(test)]
    pub fn peak_for(&self, host: &str) -> usize {
        self.state(host).peak_in_flight.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_more_than_the_limit_in_flight() {
        let limiter = Arc::new(HostLimiter::new(2, Duration::ZERO, 100));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = limiter.acquire("a.example").await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(limiter.peak_for("a.example"), 2);
    }
}
