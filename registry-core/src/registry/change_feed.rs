//! A change feed over the registry: an index that moves whenever the set of instances, or the
//! health, enablement or weight of one, changes; and a long poll that waits for it to move.
//!
//! The feed reads the registry rather than hooking into writes, so it also sees what other
//! registry servers sharing one database did, and what the heartbeat checker expired. Writes
//! through this server call [`ChangeFeed::nudge`], which re-reads at once, so local changes are
//! seen without waiting for the next poll. A heartbeat that only refreshes `last_heartbeat` is
//! not a change: otherwise every watcher would wake for every heartbeat, but each reading
//! still replaces the snapshot's instances, so readers see recent `last_heartbeat`s.
//!
//! Given a [`HealthHistory`], the feed records into it what changed between readings.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod polling;

pub use polling::Polling;

use super::ModelRegistry;
use super::history::HealthHistory;
use crate::clock::Clock;
use crate::instance::ModelInstance;

/// One state of the registry as the feed saw it.
#[derive(Debug, Clone)]
pub struct FeedSnapshot {
    /// Moves forward by one with every change; starts at 1.
    pub index: u64,
    /// Every instance, sorted by model name, host and port.
    pub instances: Arc<Vec<ModelInstance>>,
    /// When the registry was read for it; `None` before the first reading.
    pub read_at: Option<Instant>,
    digest: u64,
}

/// A running change feed. Dropping it stops its background task.
#[derive(Debug)]
pub struct ChangeFeed {
    state: watch::Receiver<FeedSnapshot>,
    sender: Arc<watch::Sender<FeedSnapshot>>,
    nudge: Arc<Notify>,
    /// Set by a nudge, cleared when a reading starts: the snapshot may miss a write.
    nudged: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl ChangeFeed {
    /// Starts the feed on the current tokio runtime, reading `registry` every `poll_interval`
    /// and whenever it is nudged.
    pub fn start(registry: Arc<dyn ModelRegistry>, poll_interval: Duration) -> Self {
        Self::start_recording(registry, Polling::every(poll_interval), None)
    }

    /// As [`ChangeFeed::start`], polling as `polling` says and recording each reading's
    /// transitions into `history` at the time `clock` tells.
    pub fn start_recording(
        registry: Arc<dyn ModelRegistry>,
        polling: Polling,
        history: Option<(Arc<HealthHistory>, Arc<dyn Clock>)>,
    ) -> Self {
        let initial = FeedSnapshot {
            index: 1,
            instances: Arc::new(Vec::new()),
            read_at: None,
            digest: digest(&[]),
        };
        let (sender, state) = watch::channel(initial);
        let sender = Arc::new(sender);
        let nudge = Arc::new(Notify::new());
        let nudged = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(poll(
            registry,
            polling,
            Arc::clone(&sender),
            Arc::clone(&nudge),
            Arc::clone(&nudged),
            history,
        ));
        Self {
            state,
            sender,
            nudge,
            nudged,
            task,
        }
    }

    /// Tells the feed that this server wrote to the registry: it re-reads soon if a long poll
    /// waits, and otherwise at its next reading (so a burst of writes costs no reading each).
    pub fn nudge(&self) {
        self.nudged.store(true, Ordering::Release);
        self.nudge.notify_one();
    }

    /// The latest snapshot if it was read within `max_age` and no write was nudged since;
    /// otherwise asks for a reading and answers it, or after `max_wait` (the storage failing)
    /// the latest snapshot as it is.
    pub async fn fresh(&self, max_age: Duration, max_wait: Duration) -> FeedSnapshot {
        let current = self.current();
        let recent = current.read_at.is_some_and(|at| at.elapsed() <= max_age);
        if recent && !self.nudged.load(Ordering::Acquire) {
            return current;
        }
        // Holding a receiver counts as waiting, so the nudge is taken at once.
        let mut state = self.state.clone();
        self.nudge.notify_one();
        let newer = state.wait_for(|snapshot| snapshot.read_at > current.read_at);
        match tokio::time::timeout(max_wait, newer).await {
            Ok(Ok(snapshot)) => snapshot.clone(),
            Ok(Err(_)) | Err(_) => self.current(),
        }
    }

    /// Whether a long poll waits on the feed now (the feed keeps one receiver of its own).
    /// One atomic load: a heartbeat asks it before anything else about the feed.
    pub fn is_watched(&self) -> bool {
        self.sender.receiver_count() > 1
    }

    /// The latest snapshot.
    pub fn current(&self) -> FeedSnapshot {
        self.state.borrow().clone()
    }

    /// Answers at once if the index differs from `since` (a change the caller has not seen, or
    /// an index from before a restart); otherwise waits up to `timeout` for the next change, and
    /// then answers the snapshot of that moment, as a blocking query does.
    pub async fn wait(&self, since: u64, timeout: Duration) -> FeedSnapshot {
        let mut state = self.state.clone();
        let changed = state.wait_for(|snapshot| snapshot.index != since);
        match tokio::time::timeout(timeout, changed).await {
            Ok(Ok(snapshot)) => snapshot.clone(),
            // Timed out, or the feed stopped: answer the current state.
            Ok(Err(_)) | Err(_) => self.current(),
        }
    }
}

impl Drop for ChangeFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn poll(
    registry: Arc<dyn ModelRegistry>,
    polling: Polling,
    sender: Arc<watch::Sender<FeedSnapshot>>,
    nudge: Arc<Notify>,
    nudged: Arc<AtomicBool>,
    history: Option<(Arc<HealthHistory>, Arc<dyn Clock>)>,
) {
    let mut previous: Option<Arc<Vec<ModelInstance>>> = None;
    loop {
        let started = Instant::now();
        nudged.store(false, Ordering::Release);
        match registry.get_all_model_instances(false).await {
            Ok(mut instances) => {
                instances.sort_by(|a, b| a.key().cmp_key(&b.key()));
                let instances = Arc::new(instances);
                if let Some((history, clock)) = &history {
                    let now = clock.now();
                    match &previous {
                        Some(before) => history.observe(before, &instances, now),
                        None => history.baseline(&instances, now),
                    }
                }
                let digest = digest(&instances);
                // Every reading replaces the snapshot (fresh `last_heartbeat`s) and wakes the
                // receivers, but only a change of the digest moves the index, which is what
                // long polls wait for.
                sender.send_modify(|snapshot| {
                    let changed = snapshot.digest != digest;
                    *snapshot = FeedSnapshot {
                        index: snapshot.index + u64::from(changed),
                        instances: Arc::clone(&instances),
                        read_at: Some(Instant::now()),
                        digest,
                    };
                });
                previous = Some(instances);
            }
            Err(error) => tracing::warn!(%error, "change feed could not read the registry"),
        }
        polling.wait(started, &sender, &nudge).await;
    }
}

/// A fingerprint of what watchers care about: which instances exist, and their health,
/// enablement, weight and settings; not `last_heartbeat`.
fn digest(instances: &[ModelInstance]) -> u64 {
    let mut hasher = DefaultHasher::new();
    instances.len().hash(&mut hasher);
    for instance in instances {
        instance.key().hash(&mut hasher);
        instance.weight.to_bits().hash(&mut hasher);
        (instance.check_healthy, instance.healthy, instance.enabled).hash(&mut hasher);
        instance.prompt_template.hash(&mut hasher);
    }
    hasher.finish()
}
