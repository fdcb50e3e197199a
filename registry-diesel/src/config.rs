//! Pool settings and the choice of clock.

use std::time::Duration;

use crate::zone::WallClockZone;

/// Whose clock stamps `last_heartbeat` and sets the expiry sweep's cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeSource {
    /// The database's clock, for both the heartbeat stamp and the sweep's cutoff.
    ///
    /// Every registry server sharing the database then measures staleness on one clock, so a
    /// server whose clock runs minutes ahead cannot expire instances that another server just
    /// refreshed. The `now` the registry passes in is ignored.
    #[default]
    Database,
    /// The `now` the caller passes in (the registry's clock). For tests and simulations that
    /// inject a clock; with several servers, their clocks must agree.
    Caller,
}

/// How the connection pool behaves.
///
/// ```
/// use std::time::Duration;
/// use registry_diesel::{PoolConfig, TimeSource};
///
/// let config = PoolConfig::default().with_max_size(4);
/// assert_eq!(config.time_source, TimeSource::Database);
/// assert_eq!(config.connection_timeout, Duration::from_secs(5));
/// assert_eq!(config.statement_timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// The most connections the pool holds. An in-memory SQLite database always gets exactly
    /// one, because every SQLite connection to `:memory:` opens a database of its own.
    pub max_size: u32,
    /// How long to wait for a connection, from the pool or from the server, before failing
    /// with an "unavailable" error.
    pub connection_timeout: Duration,
    /// How long one statement may take before it fails with an "unavailable" error, so a call
    /// takes at most `connection_timeout + statement_timeout`.
    ///
    /// On PostgreSQL and MySQL/MariaDB it is both the server's statement timeout for the
    /// session and a client-side deadline that holds even when the network path freezes
    /// (the connection is then dropped and replaced). On SQLite it is the busy timeout: how
    /// long a writer waits for another to finish.
    pub statement_timeout: Duration,
    /// Whose clock stamps heartbeats and sets the expiry cutoff.
    pub time_source: TimeSource,
    /// The zone whose naive wall-clock time the table's times are in; DB-GPT's controller
    /// writes its process's local time, the default.
    pub time_zone: WallClockZone,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 8,
            connection_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(2),
            time_source: TimeSource::Database,
            time_zone: WallClockZone::Local,
        }
    }
}

impl PoolConfig {
    /// Sets the pool size.
    pub fn with_max_size(mut self, max_size: u32) -> Self {
        self.max_size = max_size;
        self
    }

    /// Sets the connection timeout.
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Sets the statement timeout.
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Sets the zone of the table's times.
    pub fn with_time_zone(mut self, time_zone: WallClockZone) -> Self {
        self.time_zone = time_zone;
        self
    }

    /// Sets the time source.
    pub fn with_time_source(mut self, time_source: TimeSource) -> Self {
        self.time_source = time_source;
        self
    }
}
