//! [`Statements`]: the pool, and how one statement runs on it: the SQLite file's check, the
//! statement deadline on the server backends, retries of lost deadlocks, and the storage
//! error a failure maps to. Shared by the storage and its group-commit writer threads.

#[cfg(feature = "sqlite")]
use std::sync::Arc;

use diesel::RunQueryDsl;
use diesel::result::Error as QueryError;
use registry_core::StorageError;

use crate::backend::{Backend, redact_url, scrub};
use crate::batch::RunsUpserts;
#[cfg(feature = "sqlite")]
use crate::database_files::DatabaseFiles;
use crate::error::{is_connection_lost, is_retryable_conflict, query_error};
use crate::pool::{self, DbConn, Pool, dispatch};
use crate::upsert::Upsert;

/// How often a statement that lost a deadlock or serialization race is run again. Every
/// statement here is a single atomic statement, so running it again is always safe.
const CONFLICT_RETRIES: u32 = 5;

/// One database's pooled connections and the rules every statement on them follows.
pub(crate) struct Statements {
    pub(crate) pool: Pool,
    pub(crate) backend: Backend,
    pub(crate) url: String,
    /// Shuts down the socket of a statement past its deadline, on the server backends.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) watchdog: Option<crate::deadline::Watchdog>,
    /// How long one statement may take (see [`crate::PoolConfig::statement_timeout`]).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) statement_timeout: std::time::Duration,
    /// The SQLite file the storage opened, checked before each statement.
    #[cfg(feature = "sqlite")]
    pub(crate) files: Option<Arc<DatabaseFiles>>,
}

impl Statements {
    pub(crate) fn checkout(&self) -> Result<r2d2::PooledConnection<pool::Manager>, StorageError> {
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
        statement: impl FnMut(&mut DbConn) -> diesel::QueryResult<R>,
    ) -> Result<R, StorageError> {
        self.run_mapped(statement, |_| None)
    }

    /// As [`run`](Self::run), with `special` choosing the storage error for some failures.
    pub(crate) fn run_mapped<R>(
        &self,
        mut statement: impl FnMut(&mut DbConn) -> diesel::QueryResult<R>,
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

impl RunsUpserts for Statements {
    fn run_upsert(&self, upsert: &Upsert<'_>) -> Result<usize, StorageError> {
        self.run(|conn| dispatch!(conn, c => upsert.execute(c)))
    }
}

#[cfg(feature = "sqlite")]
impl Drop for Statements {
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
