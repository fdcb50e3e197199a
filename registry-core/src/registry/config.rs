//! The registry's timing settings.

use std::time::Duration;

/// How often the checker sweeps and when instances count as gone.
///
/// The defaults are DB-GPT's controller defaults: sweep every 20 s, mark unhealthy after 60 s
/// without a heartbeat, never remove.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryConfig {
    /// How often the heartbeat checker sweeps.
    pub heartbeat_interval: Duration,
    /// How long without a heartbeat before an instance is marked unhealthy.
    pub heartbeat_timeout: Duration,
    /// How long without a heartbeat before an instance is deleted; `None` never deletes.
    pub removal_timeout: Option<Duration>,
    /// Heartbeat coalescing: a heartbeat for an instance whose heartbeat this registry wrote
    /// less than this long ago is answered without writing to storage. `None` (the default)
    /// writes every heartbeat. See [`effective_coalesce_window`](Self::effective_coalesce_window)
    /// for the bound that keeps it safe.
    pub heartbeat_coalesce_window: Option<Duration>,
    /// How calls into a storage that blocks are run.
    pub blocking_calls: BlockingCalls,
}

/// How a registry runs the calls of a storage that blocks (a SQL one), so that they never
/// stall the async executor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockingCalls {
    /// On tokio's blocking thread pool (the default), except heartbeats to a storage that
    /// queues them ([`InstanceStorage::queues_heartbeats`]), which are handed over and awaited.
    /// Best when many calls run at once, as in a server: measured over HTTP on SQLite, about
    /// twice the throughput of `InPlace`.
    ///
    /// [`InstanceStorage::queues_heartbeats`]: crate::InstanceStorage::queues_heartbeats
    #[default]
    Pool,
    /// On the calling worker thread through `block_in_place`, which hands the worker's other
    /// tasks to a fresh worker; on a current-thread runtime, the pool is used instead. It saves
    /// the hand-off to another thread: best for one caller at a time, such as a registry
    /// embedded in a worker process (measured on SQLite with one caller: 3 to 4 times faster).
    /// Heartbeats too are written in place, not queued.
    InPlace,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(20),
            heartbeat_timeout: Duration::from_secs(60),
            removal_timeout: None,
            heartbeat_coalesce_window: None,
            blocking_calls: BlockingCalls::Pool,
        }
    }
}

impl RegistryConfig {
    /// Sets the sweep interval.
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets the heartbeat timeout.
    pub fn with_heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }

    /// Sets how calls into a blocking storage are run.
    pub fn with_blocking_calls(mut self, blocking_calls: BlockingCalls) -> Self {
        self.blocking_calls = blocking_calls;
        self
    }

    /// Sets (or clears) the heartbeat coalescing window.
    pub fn with_heartbeat_coalesce_window(mut self, window: Option<Duration>) -> Self {
        self.heartbeat_coalesce_window = window;
        self
    }

    /// The coalescing window in force: the configured one, capped at a third of the heartbeat
    /// timeout.
    ///
    /// Coalescing lets the stored `last_heartbeat` lag the real last heartbeat by up to the
    /// window. A worker that beats every `b` seconds is therefore seen at most `window + b`
    /// seconds late; with the window at most a third of the timeout and workers beating at least
    /// three times per timeout (DB-GPT's 20 s against 60 s), `window + b` stays below the
    /// timeout, so coalescing never makes a beating worker expire.
    pub fn effective_coalesce_window(&self) -> Option<Duration> {
        self.heartbeat_coalesce_window
            .filter(|window| !window.is_zero())
            .map(|window| window.min(self.heartbeat_timeout / 3))
    }

    /// Sets (or clears) the removal timeout.
    pub fn with_removal_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.removal_timeout = timeout;
        self
    }
}
