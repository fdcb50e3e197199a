//! The operators' view: the dashboard and traces pages, the change feed's long poll
//! (`GET /api/controller/watch`), the operator write route (`POST /api/controller/models/settings`),
//! the traces API, and the `trace` command-line tool.
//!
//! Pages and assets are embedded in the binary (no CDN, nothing to build); they hold no data,
//! so they are served without a token even when reads need one; the data comes from the API,
//! which the page calls with the token the operator typed.

pub mod cli;
pub(crate) mod dashboard;
pub(crate) mod history;
pub(crate) mod pages;
pub(crate) mod settings;
pub(crate) mod traces;
pub(crate) mod watch;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use registry_core::{
    ChangeFeed, HealthHistory, HistoryConfig, ModelRegistry, Polling, SystemClock,
};

use crate::AppState;

pub use dashboard::{MAX_INSTANCE_ROWS, MAX_MODEL_ROWS};
pub use history::MAX_TRANSITIONS;
pub use traces::DEFAULT_TRACE_LIMIT;
pub use watch::{DEFAULT_WAIT, INDEX_HEADER, MAX_WAIT};

/// The path of the long poll.
pub const WATCH_PATH: &str = "/api/controller/watch";
/// The path of the operator write route; a write, so it needs the token when one is set.
pub const SETTINGS_PATH: &str = "/api/controller/models/settings";

/// The longest the change feed waits between reads of the registry. It also reads after every
/// write through this server, so this bounds how late it sees expiries by the heartbeat checker
/// and writes by other servers sharing the database.
pub const FEED_MAX_POLL: Duration = Duration::from_secs(1);

/// The path of the dashboard's long poll.
pub const DASHBOARD_PATH: &str = "/api/controller/dashboard";
/// The path of the transitions.
pub const HISTORY_PATH: &str = "/api/controller/history";

/// The change feed, started on first use (it needs a tokio runtime, which building the router
/// does not; `serve` starts it with the server), and the history it records.
#[derive(Debug)]
pub(crate) struct Ops {
    feed: OnceLock<ChangeFeed>,
    traces: traces::TracesCache,
    history: Arc<HealthHistory>,
}

impl Ops {
    pub(crate) fn new(history: HistoryConfig) -> Self {
        Self {
            feed: OnceLock::new(),
            traces: traces::TracesCache::default(),
            history: Arc::new(HealthHistory::new(history)),
        }
    }

    /// The transitions and healthy counts the change feed records.
    pub(crate) fn history(&self) -> &HealthHistory {
        &self.history
    }

    /// Asks the feed to re-read the registry, if it runs; a feed not yet started reads the
    /// registry when it starts.
    pub(crate) fn nudge(&self) {
        if let Some(feed) = self.feed.get() {
            feed.nudge();
        }
    }

    /// Whether a heartbeat of this instance changes what a watcher sees: only when the
    /// instance is new or was not healthy. One that just refreshes `last_heartbeat` costs the feed nothing, so an open
    /// dashboard does not turn every heartbeat into a read of the whole registry.
    pub(crate) fn is_news(&self, instance: &registry_core::ModelInstance) -> bool {
        // Unwatched, the feed takes writes at its next reading anyway.
        let Some(feed) = self.feed.get().filter(|feed| feed.is_watched()) else {
            return false;
        };
        let snapshot = feed.current();
        let key = instance.key();
        let known_healthy = snapshot
            .instances
            .binary_search_by(|seen| seen.key().cmp_key(&key))
            .is_ok_and(|at| snapshot.instances[at].healthy);
        !known_healthy
    }
}

impl AppState {
    /// The change feed, started now if it was not: it polls every heartbeat interval, at most
    /// every [`FEED_MAX_POLL`]. Must be called on a tokio runtime.
    pub fn change_feed(&self) -> &ChangeFeed {
        self.ops().feed.get_or_init(|| {
            let registry: Arc<dyn ModelRegistry> = self.registry().clone();
            // Every heartbeat interval, which is how often the checker can expire anything;
            // at most every second while a dashboard or watch waits, so that other servers'
            // writes reach it soon.
            let sweep = self.registry().config().heartbeat_interval;
            let polling = Polling {
                watched: sweep.min(FEED_MAX_POLL),
                idle: sweep,
            };
            let history = Arc::clone(&self.ops().history);
            ChangeFeed::start_recording(registry, polling, Some((history, Arc::new(SystemClock))))
        })
    }

    /// Tells the change feed that this server changed the registry.
    pub(crate) fn registry_changed(&self) {
        self.listings().changed();
        self.ops().nudge();
    }
}
