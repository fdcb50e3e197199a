//! Embedded migrations, one set per backend, and running them.
//!
//! The first migration creates DB-GPT's table unless it exists; the second merges duplicate
//! rows and adds the unique key on `(model_name, host, port)`. Both work on a table DB-GPT
//! made, which is how an existing DB-GPT deployment is adopted. On PostgreSQL and MySQL an
//! advisory lock keeps two registry servers starting together from migrating at once.

#[cfg(any(feature = "postgres", feature = "mysql"))]
use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::backend::{redact_url, scrub};
use crate::config::PoolConfig;
use crate::error::DieselError;
use crate::legacy_times::{holds_utc_rows, is_wall_clock_step, move_utc_rows};
use crate::pool::{self, DbConn};
use crate::zone::WallClockZone;

#[cfg(feature = "sqlite")]
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgresql");
#[cfg(feature = "mysql")]
const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

type MigrationResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Holds a database-wide lock while `op` runs.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn locked<C: SimpleConnection, T>(
    conn: &mut C,
    lock: &str,
    unlock: &str,
    op: impl FnOnce(&mut C) -> MigrationResult<T>,
) -> MigrationResult<T> {
    conn.batch_execute(lock)?;
    let result = op(conn);
    let released = conn.batch_execute(unlock);
    let value = result?;
    released?;
    Ok(value)
}

/// Runs `$body` with `$c` the backend's connection and `$m` its migrations, under the lock.
macro_rules! with_harness {
    ($conn:expr, |$c:ident, $m:ident| $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            DbConn::Sqlite($c) => {
                let $m = SQLITE;
                $body
            }
            #[cfg(feature = "postgres")]
            DbConn::Postgres(conn) => locked(
                conn,
                "SELECT pg_advisory_lock(7264591203)",
                "SELECT pg_advisory_unlock(7264591203)",
                |$c| {
                    let $m = POSTGRES;
                    $body
                },
            ),
            #[cfg(feature = "mysql")]
            DbConn::Mysql(conn) => locked(
                conn,
                "DO GET_LOCK('registry_diesel_migrations', 60)",
                "DO RELEASE_LOCK('registry_diesel_migrations')",
                |$c| {
                    let $m = MYSQL;
                    $body
                },
            ),
        }
    };
}

/// Applies every pending migration and moves rows an earlier version stamped in UTC onto
/// `zone`'s wall clock (see `crate::legacy_times`); returns the versions applied.
///
/// The moves run in one transaction with the wall-clock step's own migration, so the step is
/// recorded exactly when the rows have moved. (That step changes no schema, so MySQL, which
/// commits on DDL, keeps the transaction too.)
pub(crate) fn run_pending_in(
    conn: &mut DbConn,
    zone: WallClockZone,
) -> MigrationResult<Vec<String>> {
    use diesel::Connection;
    with_harness!(conn, |c, migrations| {
        let pending = c.pending_migrations(migrations)?;
        let versions: Vec<String> = pending
            .iter()
            .map(|migration| migration.name().version().to_string())
            .collect();
        let move_rows = holds_utc_rows(&versions, zone);
        for (migration, version) in pending.iter().zip(&versions) {
            if move_rows && is_wall_clock_step(version) {
                let moved = c.transaction(|c| -> MigrationResult<usize> {
                    let moved = move_utc_rows!(c, zone);
                    c.run_migration(migration)?;
                    Ok(moved)
                })?;
                tracing::info!(%zone, moved, "moved rows stamped in UTC onto the zone's wall clock");
            } else {
                c.run_migration(migration)?;
            }
        }
        Ok(versions)
    })
}

fn revert_last(conn: &mut DbConn) -> MigrationResult<Option<String>> {
    with_harness!(conn, |c, migrations| {
        if c.applied_migrations()?.is_empty() {
            return Ok(None);
        }
        Ok(Some(c.revert_last_migration(migrations)?.to_string()))
    })
}

fn with_connection<T>(
    url: &str,
    op: impl FnOnce(&mut DbConn) -> MigrationResult<T>,
) -> Result<T, DieselError> {
    let (pool, _) = pool::build(url, &PoolConfig::default().with_max_size(1))?;
    let mut conn = pool
        .get()
        .map_err(|error| DieselError::connection_failed(url, scrub(&error.to_string(), url)))?;
    op(&mut conn.db).map_err(|error| DieselError::Migration {
        url: redact_url(url),
        reason: scrub(&error.to_string(), url),
    })
}

/// Applies every pending migration to the database at `url`; returns the versions applied.
///
/// [`DieselStorage::connect`](crate::DieselStorage::connect) does this itself; this is for
/// running them on their own, ahead of a deployment.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// let dir = tempfile::tempdir().unwrap();
/// let url = format!("sqlite://{}", dir.path().join("registry.db").display());
/// assert_eq!(registry_diesel::run_migrations(&url).unwrap().len(), 5);
/// assert!(registry_diesel::run_migrations(&url).unwrap().is_empty());
/// # }
/// ```
///
/// Rows an earlier version stamped in UTC are moved onto the process's local wall clock, the
/// default zone; [`run_migrations_in`] names the zone.
pub fn run_migrations(url: &str) -> Result<Vec<String>, DieselError> {
    run_migrations_in(url, WallClockZone::Local)
}

/// As [`run_migrations`], moving rows an earlier version stamped in UTC onto `zone`'s wall
/// clock.
pub fn run_migrations_in(url: &str, zone: WallClockZone) -> Result<Vec<String>, DieselError> {
    with_connection(url, |conn| run_pending_in(conn, zone))
}

/// Reverts the most recently applied migration; returns its version, or `None` if none is
/// applied. Reverting the first migration drops the registry table, whoever created it.
pub fn revert_last_migration(url: &str) -> Result<Option<String>, DieselError> {
    with_connection(url, revert_last)
}
