//! [`DieselStorage`]: one database, its group commits, and the clock and zone its times are
//! kept in (see `crate::statements` for how one statement runs, and `crate::item_storage` for
//! registry-core's generic `Storage` over the table).

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
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
use crate::error::DieselError;
use crate::migrations;
use crate::pool::{self, DbConn};
use crate::statements::Statements;
use crate::time::Now;
use crate::upsert::OnExisting;
use crate::zone::WallClockZone;

/// The registry's SQL storage: a connection pool over one database.
///
/// Cheap to share behind an `Arc`; every method takes a pooled connection for one statement.
/// Registers and heartbeats are written by the storage's group-commit threads (see
/// `crate::batch`), which stop, once their queue is written, when the storage is dropped.
pub struct DieselStorage {
    statements: Arc<Statements>,
    time_source: TimeSource,
    time_zone: WallClockZone,
    /// Group commit of registers.
    pub(crate) registers: Batcher,
    /// Group commit of heartbeats.
    pub(crate) heartbeats: Batcher,
    /// Checkpoints a SQLite file's write-ahead log off the request path; stops when dropped.
    #[cfg(feature = "sqlite")]
    _checkpointer: Option<Checkpointer>,
}

impl fmt::Debug for DieselStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DieselStorage")
            .field("backend", &self.statements.backend)
            .field("time_source", &self.time_source)
            .field("time_zone", &self.time_zone)
            .field("url", &redact_url(&self.statements.url))
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
        let unavailable = |reason: String| DieselError::Unavailable {
            url: redact_url(url),
            reason,
        };
        let (pool, backend) = pool::build(url, &config)?;
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        let watchdog = if backend == Backend::Sqlite {
            None
        } else {
            let watchdog = crate::deadline::Watchdog::start().map_err(|error| {
                unavailable(format!(
                    "cannot start the statement deadline thread: {error}"
                ))
            })?;
            Some(watchdog)
        };
        #[cfg_attr(not(feature = "sqlite"), allow(unused_mut))]
        let mut statements = Statements {
            pool,
            backend,
            url: url.to_owned(),
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            watchdog,
            statement_timeout: config.statement_timeout,
            #[cfg(feature = "sqlite")]
            files: None,
        };
        let mut conn = statements
            .checkout()
            .map_err(|error| unavailable(error.to_string()))?;
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
        let checkpointer = if backend == Backend::Sqlite && !is_sqlite_memory(url) {
            // A SQLite file (WAL mode, set by its first connection) gets its checkpoint
            // thread, and its files are watched.
            let files = DatabaseFiles::of_url(url).map(Arc::new);
            statements.files.clone_from(&files);
            let checkpointer = Checkpointer::start(url, files)
                .map_err(|error| unavailable(scrub(&error.to_string(), url)))?;
            Some(checkpointer)
        } else {
            None
        };
        let statements = Arc::new(statements);
        // Gather concurrent registers and heartbeats into group commits: one multi-row
        // upsert, one statement and one commit for what arrived together. On a server a
        // commit's log write dominates a heartbeat; on SQLite every commit takes the one write
        // lock and appends its pages to the WAL, so sixteen heartbeats in one commit cost
        // little more than one. Fewer writers means bigger batches; more means one slow
        // statement holds up fewer callers. Two of a kind measured best on PostgreSQL and
        // MariaDB; a SQLite file's pool usually has one connection, so one.
        let writers = statements.pool.max_size().clamp(1, 2) as usize;
        let start = |on_existing| {
            Batcher::start(
                on_existing,
                writers,
                Arc::clone(&statements) as Arc<dyn RunsUpserts>,
            )
            .map_err(|error| unavailable(format!("cannot start the group-commit threads: {error}")))
        };
        Ok(Self {
            registers: start(OnExisting::Register)?,
            heartbeats: start(OnExisting::Heartbeat)?,
            statements,
            time_source: config.time_source,
            time_zone: config.time_zone,
            #[cfg(feature = "sqlite")]
            _checkpointer: checkpointer,
        })
    }

    /// Which backend the storage runs on.
    pub fn backend(&self) -> Backend {
        self.statements.backend
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
        redact_url(&self.statements.url)
    }

    pub(crate) fn now(&self, now: chrono::DateTime<Utc>) -> Now {
        Now::new(self.time_source, self.time_zone, now)
    }

    /// The database's clock, whatever the time source: DB-GPT's `gmt_modified` of writes that
    /// are not heartbeats.
    pub(crate) fn database_now(&self) -> Now {
        Now::database(self.time_zone, Utc::now())
    }

    /// Runs one statement on a pooled connection (see [`Statements::run`]).
    pub(crate) fn run<R>(
        &self,
        statement: impl FnMut(&mut DbConn) -> diesel::QueryResult<R>,
    ) -> Result<R, StorageError> {
        self.statements.run(statement)
    }

    /// As [`run`](Self::run), with `special` choosing the storage error for some failures.
    pub(crate) fn run_mapped<R>(
        &self,
        statement: impl FnMut(&mut DbConn) -> diesel::QueryResult<R>,
        special: impl Fn(&QueryError) -> Option<StorageError>,
    ) -> Result<R, StorageError> {
        self.statements.run_mapped(statement, special)
    }
}
