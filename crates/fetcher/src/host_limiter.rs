//! Per-host politeness shared by feed and page requests: at most N requests
//! in flight to one host, a minimum gap between request starts, and a pause
//! when the host asked for one (429/503 with `Retry-After`).
//!
//! The per-host map is keyed by whatever hosts feeds and their items name,
//! so it is kept bounded: a host with nothing in flight or waiting, no pause
//! in force and no request for `idle` is dropped by a sweep that runs at
//! most every `idle / 2` (amortised over the lookups that trigger it).
//! Dropping such a host forgets nothing that still matters: its minimum gap
//! passed long ago and its pause has ended.

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
    last_used: Mutex<Instant>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

#[derive(Debug)]
struct Hosts {
    map: HashMap<String, Arc<HostState>>,
    last_sweep: Instant,
}

#[derive(Debug)]
pub struct HostLimiter {
    per_host: usize,
    min_gap: Duration,
    idle: Duration,
    global: Arc<Semaphore>,
    hosts: Mutex<Hosts>,
    /// Highest per-host peak of hosts already dropped from the map.
    dropped_peak: AtomicUsize,
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
    /// `idle`: how long a host with nothing going on is kept in the map.
    pub fn new(per_host: usize, min_gap: Duration, global: usize, idle: Duration) -> Self {
        Self {
            per_host: per_host.max(1),
            min_gap,
            // Never shorter than the gap, so dropping a host cannot let its
            // next request start early.
            idle: idle.max(min_gap).max(Duration::from_millis(1)),
            global: Arc::new(Semaphore::new(global.max(1))),
            hosts: Mutex::new(Hosts {
                map: HashMap::new(),
                last_sweep: Instant::now(),
            }),
            dropped_peak: AtomicUsize::new(0),
        }
    }

    fn lock_hosts(&self) -> std::sync::MutexGuard<'_, Hosts> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self, host: &str) -> Arc<HostState> {
        let now = Instant::now();
        let mut hosts = self.lock_hosts();
        if now.duration_since(hosts.last_sweep) >= self.idle / 2 {
            self.sweep(&mut hosts, now);
        }
        let state = hosts
            .map
            .entry(host.to_ascii_lowercase())
            .or_insert_with(|| {
                Arc::new(HostState {
                    slots: Arc::new(Semaphore::new(self.per_host)),
                    next_start: tokio::sync::Mutex::new(now),
                    paused_until: Mutex::new(None),
                    last_used: Mutex::new(now),
                    in_flight: AtomicUsize::new(0),
                    peak_in_flight: AtomicUsize::new(0),
                })
            })
            .clone();
        *state.last_used.lock().unwrap_or_else(|e| e.into_inner()) = now;
        state
    }

    /// Drops hosts nobody holds (no permit, no waiter: the map's is the
    /// only reference), not paused, and unused for `idle`.
    fn sweep(&self, hosts: &mut Hosts, now: Instant) {
        hosts.last_sweep = now;
        let idle = self.idle;
        let dropped_peak = &self.dropped_peak;
        hosts.map.retain(|_, state| {
            let unused = Arc::strong_count(state) == 1
                && state
                    .paused_until
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_none_or(|until| until <= now)
                && now.duration_since(*state.last_used.lock().unwrap_or_else(|e| e.into_inner()))
                    >= idle;
            if unused {
                dropped_peak.fetch_max(
                    state.peak_in_flight.load(Ordering::SeqCst),
                    Ordering::SeqCst,
                );
            }
            !unused
        });
        metrics::gauge!("newsflow_fetcher_hosts_tracked").set(hosts.map.len() as f64);
    }

    /// Runs the idle sweep now (the map also sweeps itself as it is used).
    pub fn evict_idle(&self) {
        let mut hosts = self.lock_hosts();
        self.sweep(&mut hosts, Instant::now());
    }

    /// Hosts in the per-host map now.
    pub fn hosts_tracked(&self) -> usize {
        self.lock_hosts().map.len()
    }

    /// When the host asked us to wait, until when. A lookup only: asking
    /// about a host never adds it to the map.
    pub fn paused_until(&self, host: &str) -> Option<Instant> {
        let state = self
            .lock_hosts()
            .map
            .get(&host.to_ascii_lowercase())
            .cloned()?;
        let paused = *state.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        paused.filter(|until| *until > Instant::now())
    }

    /// Pauses `host`; the pause is capped by the caller (a `Retry-After` is
    /// clamped to the backoff maximum), and a pause too long to represent
    /// saturates instead of overflowing.
    pub fn pause(&self, host: &str, for_how_long: Duration) {
        let state = self.state(host);
        let now = Instant::now();
        let until = now
            .checked_add(for_how_long)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
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
        let hosts = self.lock_hosts();
        hosts
            .map
            .values()
            .map(|s| s.peak_in_flight.load(Ordering::SeqCst))
            .max()
            .unwrap_or(0)
            .max(self.dropped_peak.load(Ordering::SeqCst))
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
        let limiter = Arc::new(HostLimiter::new(
            2,
            Duration::ZERO,
            100,
            Duration::from_secs(600),
        ));
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

    #[tokio::test]
    async fn idle_hosts_are_dropped_and_busy_or_paused_ones_kept() {
        let idle = Duration::from_millis(100);
        let limiter = HostLimiter::new(2, Duration::ZERO, 100, idle);
        for i in 0..1000 {
            drop(limiter.acquire(&format!("host{i}.example")).await);
        }
        let busy = limiter.acquire("busy.example").await;
        limiter.pause("paused.example", Duration::from_secs(60));
        // A pause of any length is representable (saturates, no overflow).
        limiter.pause("paused-for-ever.example", Duration::MAX);
        limiter.pause("paused-briefly.example", Duration::from_millis(50));
        assert_eq!(limiter.hosts_tracked(), 1004);
        assert!(limiter.paused_until("never-asked.example").is_none());
        assert_eq!(limiter.hosts_tracked(), 1004, "a lookup adds nothing");
        tokio::time::sleep(idle + Duration::from_millis(20)).await;
        // The sweep runs by itself as the map is used.
        drop(limiter.acquire("fresh.example").await);
        assert_eq!(
            limiter.hosts_tracked(),
            4,
            "busy, paused and fresh hosts remain; a pause that ended does not keep its host"
        );
        assert!(limiter.paused_until("paused-briefly.example").is_none());
        assert!(limiter.paused_until("paused.example").is_some());
        drop(busy);
        tokio::time::sleep(idle + Duration::from_millis(20)).await;
        limiter.evict_idle();
        assert_eq!(limiter.hosts_tracked(), 2, "only the paused hosts remain");
        assert_eq!(limiter.peak_per_host(), 1, "peaks survive eviction");
    }
}
