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
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::ModelRegistry;
use super::history::HealthHistory;
use crate::clock::Clock;
use crate::instance::ModelInstance;

/// How often the feed reads the registry besides after each nudge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// While a long poll waits on the feed.
    pub watched: Duration,
    /// While none does: a reading costs a read of the whole registry, which a server should
    /// not pay every second for a history nobody is looking at.
    pub idle: Duration,
}

impl Polling {
    /// The same interval, watched or not.
    pub fn every(interval: Duration) -> Self {
        Self {
            watched: interval,
            idle: interval,
        }
    }

    /// Waits for a nudge or the next reading: in steps of `watched`, so that a long poll
    /// arriving during an idle wait shortens it. The feed keeps one receiver of its own; any
    /// other is a long poll waiting.
    async fn wait(&self, sender: &watch::Sender<FeedSnapshot>, nudge: &Notify) {
        let step = self.watched.min(self.idle);
        let mut waited = Duration::ZERO;
        loop {
            tokio::select! {
                () = nudge.notified() => return,
                () = tokio::time::sleep(step) => {}
            }
            waited += step;
            if waited >= self.idle || sender.receiver_count() > 1 {
                return;
            }
        }
    }
}

/// One state of the registry as the feed saw it.
#[derive(Debug, Clone)]
pub struct FeedSnapshot {
    /// Moves forward by one with every change; starts at 1.
    pub index: u64,
    /// Every instance, sorted by model name, host and port.
    pub instances: Arc<Vec<ModelInstance>>,
    digest: u64,
}

/// A running change feed. Dropping it stops its background task.
#[derive(Debug)]
pub struct ChangeFeed {
    state: watch::Receiver<FeedSnapshot>,
    nudge: Arc<Notify>,
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
            digest: digest(&[]),
        };
        let (sender, state) = watch::channel(initial);
        let nudge = Arc::new(Notify::new());
        let task = tokio::spawn(poll(registry, polling, sender, Arc::clone(&nudge), history));
        Self { state, nudge, task }
    }

    /// Asks the feed to re-read the registry now (after a write through this server).
    pub fn nudge(&self) {
        self.nudge.notify_one();
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
    sender: watch::Sender<FeedSnapshot>,
    nudge: Arc<Notify>,
    history: Option<(Arc<HealthHistory>, Arc<dyn Clock>)>,
) {
    let mut previous: Option<Arc<Vec<ModelInstance>>> = None;
    loop {
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
                // Not a change for watchers unless the digest moved, but the snapshot still
                // takes the fresh reading (watchers are only woken by a `true`).
                sender.send_if_modified(|snapshot| {
                    let changed = snapshot.digest != digest;
                    *snapshot = FeedSnapshot {
                        index: snapshot.index + u64::from(changed),
                        instances: Arc::clone(&instances),
                        digest,
                    };
                    changed
                });
                previous = Some(instances);
            }
            Err(error) => tracing::warn!(%error, "change feed could not read the registry"),
        }
        polling.wait(&sender, &nudge).await;
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
