//! Connections and their pool.
//!
//! One connection type per compiled backend, in one enum; [`dispatch!`] expands a block once
//! per backend, so every statement is type-checked against each dialect. (diesel 2.2's
//! `MultiConnection` derive cannot leave out variants whose feature is off, which optional
//! backends need.) The backend is chosen from the URL's scheme, never by trying each driver:
//! SQLite would accept any string as a file name.

use std::fmt;
use std::os::fd::RawFd;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError};
use r2d2::ManageConnection;

use crate::backend::{Backend, is_sqlite_memory, redact_url, scrub};
#[cfg(feature = "sqlite")]
use crate::checkpoint::WRITER_CHECKPOINT_PAGES;
use crate::config::PoolConfig;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::deadline::establish_with_socket;
use crate::error::DieselError;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::session;

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("registry-diesel needs at least one of the features `sqlite`, `postgres`, `mysql`");

/// A connection to one of the compiled backends.
pub(crate) enum DbConn {
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(diesel::PgConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
}

/// Runs `$body` with `$c` bound to the backend's own connection type.
macro_rules! dispatch {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            $crate::pool::DbConn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            $crate::pool::DbConn::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            $crate::pool::DbConn::Mysql($c) => $body,
        }
    };
}
pub(crate) use dispatch;

/// A pooled connection, and whether it was found broken (then the pool drops it).
pub(crate) struct PooledConn {
    pub(crate) db: DbConn,
    pub(crate) broken: bool,
    /// The server connection's socket, for statement deadlines (see `crate::deadline`).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) socket: Option<RawFd>,
}

/// SQLite settings applied to every new connection, after the busy timeout.
///
/// WAL lets readers go on while one writer writes. `synchronous = NORMAL` syncs the WAL at
/// checkpoints rather than at every commit: a power cut may lose the last commits but never
/// corrupts the database. That is the right trade for a registry, whose rows are soft state
/// that every worker re-sends each heartbeat interval; it is what makes a heartbeat cost
/// microseconds instead of a disk flush.
///
/// `mmap_size = 0`: SQLite reads and writes the database through `read()` and `write()`, never
/// a memory map. A write through a mapping of a file that can no longer be written (made
/// immutable) raises SIGBUS and kills the process; `write()` returns an error instead. The WAL
/// index (`-shm`) stays a shared mapping: it is what lets the checkpoint connection, the
/// pooled connections and other processes share the file, and `locking_mode = EXCLUSIVE` (a
/// heap WAL index) would shut all of them out. `crate::database_files` guards that mapping.
#[cfg(feature = "sqlite")]
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 0;";

/// PostgreSQL session settings. `synchronous_commit = off` is the same trade as SQLite's
/// `synchronous = NORMAL`, for this session's writes only: a crash may lose the last few
/// hundred milliseconds of heartbeats, which workers re-send anyway; nothing is corrupted.
#[cfg(feature = "postgres")]
const POSTGRES_SETTINGS: &str = "SET TIME ZONE 'UTC'; SET synchronous_commit TO off;";

/// MySQL session settings. READ COMMITTED takes no gap locks, which keeps concurrent upserts of
/// new keys from deadlocking one another. (diesel already sets the session time zone to UTC.)
#[cfg(feature = "mysql")]
const MYSQL_SETTINGS: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;";

/// Opens connections of one backend to one URL.
pub(crate) struct Manager {
    backend: Backend,
    url: String,
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    connection_timeout: Duration,
    #[allow(dead_code)]
    statement_timeout: Duration,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("backend", &self.backend)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

fn setup_error(error: diesel::result::Error) -> ConnectionError {
    ConnectionError::CouldntSetupConfiguration(error)
}

impl ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<PooledConn, ConnectionError> {
        let (db, socket) = match self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.url)?;
                let busy = format!(
                    "PRAGMA busy_timeout = {};",
                    self.statement_timeout.as_millis()
                );
                conn.batch_execute(&busy).map_err(setup_error)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(setup_error)?;
                // A writer checkpoints only once the log is this long; the checkpoint thread
                // does the rest (see `crate::checkpoint`).
                let checkpoint = format!("PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};");
                conn.batch_execute(&checkpoint).map_err(setup_error)?;
                (DbConn::Sqlite(conn), None)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let url = session::postgres_url(
                    &self.url,
                    self.connection_timeout,
                    self.statement_timeout,
                );
                let port = session::url_port(&self.url, 5432);
                let (mut conn, fd) = establish_with_socket(
                    session::url_server(&self.url),
                    port,
                    self.connection_timeout,
                    || diesel::PgConnection::establish(&url),
                )?;
                conn.batch_execute(POSTGRES_SETTINGS).map_err(setup_error)?;
                let timeout = session::postgres_statement_timeout(self.statement_timeout);
                conn.batch_execute(&timeout).map_err(setup_error)?;
                (DbConn::Postgres(conn), fd)
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql => {
                let port = session::url_port(&self.url, 3306);
                let (mut conn, fd) = establish_with_socket(
                    session::url_server(&self.url),
                    port,
                    self.connection_timeout,
                    || diesel::MysqlConnection::establish(&self.url),
                )?;
                conn.batch_execute(MYSQL_SETTINGS).map_err(setup_error)?;
                let [mariadb, mysql] = session::mysql_statement_timeouts(self.statement_timeout);
                if conn.batch_execute(&mariadb).is_err() {
                    conn.batch_execute(&mysql).map_err(setup_error)?;
                }
                (DbConn::Mysql(conn), fd)
            }
            #[allow(unreachable_patterns)]
            backend => {
                return Err(ConnectionError::BadConnection(
                    DieselError::BackendNotCompiled { backend }.to_string(),
                ));
            }
        };
        Ok(PooledConn {
            db,
            broken: false,
            socket,
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), ConnectionError> {
        dispatch!(&mut conn.db, c => c.batch_execute("SELECT 1")).map_err(setup_error)
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        conn.broken
    }
}

/// Logs connection failures the pool sees in the background, password removed.
#[derive(Debug)]
struct RedactingErrorHandler {
    url: String,
}

impl r2d2::HandleError<ConnectionError> for RedactingErrorHandler {
    fn handle_error(&self, error: ConnectionError) {
        tracing::warn!(
            url = %redact_url(&self.url),
            error = %scrub(&error.to_string(), &self.url),
            "database connection failed"
        );
    }
}

pub(crate) type Pool = r2d2::Pool<Manager>;

/// Builds a pool and opens all of its connections, waiting at most the connection timeout, so
/// that an unreachable database is an error now rather than at the first call.
pub(crate) fn build(url: &str, config: &PoolConfig) -> Result<(Pool, Backend), DieselError> {
    let backend = DieselError::compiled_backend(url)?;
    let manager = Manager {
        backend,
        url: url.to_owned(),
        connection_timeout: config.connection_timeout,
        statement_timeout: config.statement_timeout,
    };
    let memory = backend == Backend::Sqlite && is_sqlite_memory(url);
    let max_size = if memory { 1 } else { config.max_size.max(1) };
    // Every connection is opened here, before the first call, rather than by the pool's own
    // threads when calls first contend: a connection still being opened in the background
    // when the process exits can crash it inside the TLS library's exit handler.
    let mut builder = r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(max_size))
        .connection_timeout(config.connection_timeout)
        // Checking every connection out with a round trip would halve throughput; a
        // connection that fails is marked broken instead and the pool replaces it.
        .test_on_check_out(false)
        .error_handler(Box::new(RedactingErrorHandler {
            url: url.to_owned(),
        }));
    if backend == Backend::Sqlite {
        // In memory, closing the only connection would throw the whole database away. On a
        // file, closing writes the mapped WAL index, which the storage guards against faults
        // only on its own calls (see `crate::database_files`), not in the pool's thread; a
        // local file's connection never goes stale anyway.
        builder = builder.idle_timeout(None).max_lifetime(None);
    }
    let pool = builder
        .build(manager)
        .map_err(|error| DieselError::connection_failed(url, scrub(&error.to_string(), url)))?;
    Ok((pool, backend))
}
