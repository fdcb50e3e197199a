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
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(20),
            heartbeat_timeout: Duration::from_secs(60),
            removal_timeout: None,
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

    /// Sets (or clears) the removal timeout.
    pub fn with_removal_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.removal_timeout = timeout;
        self
    }
}
