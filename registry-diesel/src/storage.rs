//! [`DieselStorage`]: the pool, and how one statement runs on it (see `crate::item_storage`
//! for registry-core's generic `Storage` over the table).

use std::fmt;
#[cfg(feature = "sqlite")]
use std::sync::Arc;

use chrono::Utc;
use diesel::prelude::*;
use diesel::result::Error as QueryError;
use registry_core::StorageError;

#[cfg(feature = "sqlite")]
use crate::backend::is_sqlite_memory;
use crate::backend::{Backend, redact_url, scrub};
use crate::batch::{Batcher, RunsUpserts};
#[cfg(feature = "sqlite")]
use crate::checkpoint::Checkpointer;
use crate::config::{PoolConfig, TimeSource};
#[cfg(feature = "sqlite")]
use crate::database_files::DatabaseFiles;
use crate::error::{DieselError, is_connection_lost, is_retryable_conflict, query_error};
use crate::migrations;
use crate::pool::{self, DbConn, Pool, dispatch};
use crate::time::Now;
use crate::upsert::{OnExisting, Upsert};
use crate::zone::WallClockZone;

/// How often a statement that lost a deadlock or serialization race is run again. Every
/// statement here is a single atomic statement, so running it again is always safe.
const CONFLICT_RETRIES: u32 = 5;

/// The registry's SQL storage: a connection pool over one database.
///
/// Cheap to share behind an `Arc`; every method takes a pooled connection for one statement.
pub struct DieselStorage {
    pool: Pool,
    backend: Backend,
    time_source: TimeSource,
    time_zone: WallClockZone,
    url: String,
    /// Group commit of registers and heartbeats, on the server backends.
    batches: [Batcher; 2],
    /// Shuts down the socket of a statement past its deadline, on the server backends.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    watchdog: Option<crate::deadline::Watchdog>,
    /// How long one statement may take (see [`PoolConfig::statement_timeout`]).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    statement_timeout: std::time::Duration,
    /// The SQLite file the storage opened, checked before each statement.
    #[cfg(feature = "sqlite")]
    files: Option<Arc<DatabaseFiles>>,
    /// Checkpoints a SQLite file's write-ahead log off the request path; stops when dropped.
    #[cfg(feature = "sqlite")]
    _checkpointer: Option<Checkpointer>,
}

impl fmt::Debug for DieselStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DieselStorage")
            .field("backend", &self.backend)
            .field("time_source", &self.time_source)
            .field("time_zone", &self.time_zone)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl DieselStorage {
    /// Connects to the database at `url`, waiting at most `config.connection_timeout` for the
    /// connections, and applies pending migrations.
    ///
    /// `url` is `sqlite://PATH` or a plain file path (`:memory:` for a private in-memory
    /// database), `postgres://…` or `postgresql://…`, or `mysql://…`.
    pub fn connect(url: &str, config: PoolConfig) -> Result<Self, DieselError> {
        let (pool, backend) = pool::build(url, &config)?;
        // Gather concurrent registers and heartbeats into group commits: one multi-row
        // upsert, one statement and one commit for what arrived together. On a server a
        // commit's log write dominates a heartbeat; on SQLite every commit takes the one write
        // lock and appends its pages to the WAL, so sixteen heartbeats in one commit cost
        // little more than one (measured: about twice the heartbeats per second over HTTP).
        // Fewer statements at once means bigger batches; more means one slow statement holds
        // up fewer callers. Two of a kind at once measured best on PostgreSQL and MariaDB;
        // SQLite's pool has one connection, so one.
        let leaders = config.max_size.clamp(1, 2) as usize;
        let batches = [
            Batcher::new(OnExisting::Register, leaders),
            Batcher::new(OnExisting::Heartbeat, leaders),
        ];
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        let watchdog = if backend == Backend::Sqlite {
            None
        } else {
            let watchdog =
                crate::deadline::Watchdog::start().map_err(|error| DieselError::Unavailable {
                    url: redact_url(url),
                    reason: format!("cannot start the statement deadline thread: {error}"),
                })?;
            Some(watchdog)
        };
        let storage = Self {
            pool,
            backend,
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            watchdog,
            statement_timeout: config.statement_timeout,
            time_source: config.time_source,
            time_zone: config.time_zone,
            url: url.to_owned(),
            batches,
            #[cfg(feature = "sqlite")]
            files: None,
            #[cfg(feature = "sqlite")]
            _checkpointer: None,
        };
        let mut conn = storage
            .checkout()
            .map_err(|error| DieselError::Unavailable {
                url: redact_url(url),
                reason: error.to_string(),
            })?;
        let applied =
            migrations::run_pending_in(&mut conn.db, config.time_zone).map_err(|error| {
                DieselError::Migration {
                    url: redact_url(url),
                    reason: scrub(&error.to_string(), url),
                }
            })?;
        if !applied.is_empty() {
            tracing::info!(url = %redact_url(url), ?applied, "applied registry migrations");
        }
        drop(conn);
        #[cfg(feature = "sqlite")]
        let storage = storage.with_checkpointer()?;
        Ok(storage)
    }

    /// A SQLite file (WAL mode, set by its first connection) gets its checkpoint thread, and
    /// its files are watched.
    #[cfg(feature = "sqlite")]
    fn with_checkpointer(mut self) -> Result<Self, DieselError> {
        if self.backend == Backend::Sqlite && !is_sqlite_memory(&self.url) {
            let files = DatabaseFiles::of_url(&self.url).map(Arc::new);
            self.files.clone_from(&files);
            let checkpointer = Checkpointer::start(&self.url, files).map_err(|error| {
                DieselError::Unavailable {
                    url: redact_url(&self.url),
                    reason: scrub(&error.to_string(), &self.url),
                }
            })?;
            self._checkpointer = Some(checkpointer);
        }
        Ok(self)
    }

    /// Which backend the storage runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whose clock stamps heartbeats and sets the expiry cutoff.
    pub fn time_source(&self) -> TimeSource {
        self.time_source
    }

    /// The zone whose wall-clock time the table's times are in.
    pub fn time_zone(&self) -> WallClockZone {
        self.time_zone
    }

    /// The URL the storage connected to, password redacted.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The group commit for one kind of upsert (registers and heartbeats only).
    pub(crate) fn batcher(&self, on_existing: OnExisting) -> Option<&Batcher> {
        let [register, heartbeat] = &self.batches;
        match on_existing {
            OnExisting::Register => Some(register),
            OnExisting::Heartbeat => Some(heartbeat),
            OnExisting::Replace => None,
        }
    }

    pub(crate) fn now(&self, now: chrono::DateTime<Utc>) -> Now {
        Now::new(self.time_source, self.time_zone, now)
    }

    /// The database's clock, whatever the time source: DB-GPT's `gmt_modified` of writes that
    /// are not heartbeats.
    pub(crate) fn database_now(&self) -> Now {
        Now::database(self.time_zone, Utc::now())
    }

    fn checkout(&self) -> Result<r2d2::PooledConnection<pool::Manager>, StorageError> {
        self.pool.get().map_err(|error| {
            StorageError::Unavailable(format!(
                "no connection to `{}`: {}",
                redact_url(&self.url),
                scrub(&error.to_string(), &self.url)
            ))
        })
    }

    /// Runs one statement on a pooled connection, again if it lost a deadlock; a connection
    /// that failed as if lost is dropped from the pool.
    pub(crate) fn run<R>(
        &self,
        statement: impl FnMut(&mut DbConn) -> QueryResult<R>,
    ) -> Result<R, StorageError> {
        self.run_mapped(statement, |_| None)
    }

    /// As [`run`](Self::run), with `special` choosing the storage error for some failures.
    pub(crate) fn run_mapped<R>(
        &self,
        mut statement: impl FnMut(&mut DbConn) -> QueryResult<R>,
        special: impl Fn(&QueryError) -> Option<StorageError>,
    ) -> Result<R, StorageError> {
        #[cfg(feature = "sqlite")]
        if let Some(files) = &self.files {
            files.check()?;
        }
        let mut conn = self.checkout()?;
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        let ticket = self
            .watchdog
            .as_ref()
            .zip(conn.socket)
            .map(|(watchdog, socket)| watchdog.arm(socket, self.statement_timeout));
        let mut retries = 0;
        let result = loop {
            match statement(&mut conn.db) {
                Ok(value) => break Ok(value),
                Err(error) if is_retryable_conflict(&error) && retries < CONFLICT_RETRIES => {
                    retries += 1;
                }
                Err(error) => break Err(error),
            }
        };
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        if ticket.is_some_and(crate::deadline::Ticket::disarm) {
            // The socket is shut down: whatever the statement returned, the connection is gone.
            conn.broken = true;
            if result.is_err() {
                return Err(StorageError::Unavailable(format!(
                    "`{}` did not answer within the statement timeout of {:?}",
                    redact_url(&self.url),
                    self.statement_timeout
                )));
            }
        }
        result.map_err(|error| {
            if is_connection_lost(&error) {
                conn.broken = true;
            }
            special(&error).unwrap_or_else(|| self.storage_error(&error))
        })
    }

    pub(crate) fn storage_error(&self, error: &QueryError) -> StorageError {
        query_error(error, scrub(&error.to_string(), &self.url))
    }
}

impl RunsUpserts for DieselStorage {
    fn run_upsert(&self, upsert: &Upsert<'_>) -> Result<usize, StorageError> {
        self.run(|conn| dispatch!(conn, c => upsert.execute(c)))
    }
}

#[cfg(feature = "sqlite")]
impl Drop for DieselStorage {
    fn drop(&mut self) {
        // Closing a SQLite connection writes the mapped WAL index; with the index immutable
        // that would kill the process. The connections are left open instead (the process is
        // usually exiting), and the pool never closes connections on its own (see
        // `pool::build`).
        if self
            .files
            .as_ref()
            .is_some_and(|files| !files.wal_index_writable())
        {
            tracing::warn!(url = %redact_url(&self.url), "database files are immutable; leaving their connections open");
            std::mem::forget(self.pool.clone());
        }
    }
}
