//! Test databases: one fresh database per test, on every backend that is compiled in.
//!
//! PostgreSQL and MariaDB are found through `REGISTRY_TEST_POSTGRES_URL` and
//! `REGISTRY_TEST_MYSQL_URL` (defaults: `postgres://postgres@127.0.0.1:5432/test`,
//! `mysql://root@127.0.0.1:3306/test`). Each test creates a database of its own there and
//! drops it when done. A server that cannot be reached skips the test with a printed
//! `SKIPPED` line, unless its variable is set or `CI=true`, where it fails the test.

#![allow(dead_code, unreachable_pub)]

pub mod proxy;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use registry_diesel::{Backend, DieselStorage, PoolConfig, TimeSource, redact_url};

/// Instantiates each named `fn(&TestDb)` once per compiled backend, as `sqlite::name`,
/// `postgres::name` and `mysql::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod sqlite {
            $(#[test]
            fn $name() {
                if let Some(db) = $crate::common::TestDb::new(registry_diesel::Backend::Sqlite) {
                    super::$name(&db);
                }
            })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(db) = $crate::common::TestDb::new(registry_diesel::Backend::Postgres) {
                    super::$name(&db);
                }
            })*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(#[test]
            fn $name() {
                if let Some(db) = $crate::common::TestDb::new(registry_diesel::Backend::Mysql) {
                    super::$name(&db);
                }
            })*
        }
    };
}

/// The registry table's name.
pub const TABLE: &str = "dbgpt_cluster_registry_instance";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A database of its own for one test.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// A connection of the backend's own type, for raw SQL.
pub enum RawConn {
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(diesel::PgConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

impl RawConn {
    pub fn open(backend: Backend, url: &str) -> Result<Self, diesel::ConnectionError> {
        Ok(match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Self::Sqlite(diesel::SqliteConnection::establish(url)?),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Self::Postgres(diesel::PgConnection::establish(url)?),
            #[cfg(feature = "mysql")]
            Backend::Mysql => Self::Mysql(diesel::MysqlConnection::establish(url)?),
            #[allow(unreachable_patterns)]
            other => panic!("{other} is not compiled in"),
        })
    }

    pub fn execute(&mut self, sql: &str) -> QueryResult<()> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(c) => c.batch_execute(sql),
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => c.batch_execute(sql),
            #[cfg(feature = "mysql")]
            Self::Mysql(c) => c.batch_execute(sql),
        }
    }

    /// The `line` column of every row `sql` returns.
    pub fn lines(&mut self, sql: &str) -> Vec<String> {
        let query = diesel::sql_query(sql);
        let rows: QueryResult<Vec<Line>> = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(c) => query.load(c),
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => query.load(c),
            #[cfg(feature = "mysql")]
            Self::Mysql(c) => query.load(c),
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
            .into_iter()
            .map(|row| row.line)
            .collect()
    }
}

/// The server URL for a backend, and whether it was configured explicitly.
fn server_url(backend: Backend) -> (String, bool) {
    let (variable, default) = match backend {
        Backend::Postgres => (
            "REGISTRY_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        _ => (
            "REGISTRY_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
        ),
    };
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => (url, true),
        _ => (default.to_owned(), false),
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a server URL");
    let host_start = rest.rfind('@').map_or(0, |at| at + 1);
    let (authority_end, query) = match rest[host_start..].find(['/', '?']) {
        Some(offset) => {
            let end = host_start + offset;
            let query = rest[end..].find('?').map_or("", |q| &rest[end + q..]);
            (end, query)
        }
        None => (rest.len(), ""),
    };
    format!("{scheme}://{}/{name}{query}", &rest[..authority_end])
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

impl TestDb {
    /// A fresh database, or `None` when the backend's server is not reachable and not
    /// required.
    pub fn new(backend: Backend) -> Option<Self> {
        let explicit = backend != Backend::Sqlite && server_url(backend).1;
        match Self::open(backend) {
            Ok(db) => Some(db),
            Err(reason) if !explicit && !ci() => {
                eprintln!("SKIPPED: {reason}");
                None
            }
            Err(reason) => {
                panic!("{reason}; it is required because CI=true or its URL variable is set")
            }
        }
    }

    /// A fresh database, or why the backend's server could not be reached.
    pub fn open(backend: Backend) -> Result<Self, String> {
        let unique = format!(
            "registry_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            clock_suffix()
        );
        if backend == Backend::Sqlite {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let url = format!("sqlite://{}", dir.path().join("registry.db").display());
            return Ok(Self {
                backend,
                url,
                server: None,
                _dir: Some(dir),
            });
        }
        let (server, _) = server_url(backend);
        // The URL's own database may not exist on a fresh server; the maintenance database
        // always does, and either can create the test's database.
        let maintenance = with_database(
            &server,
            if backend == Backend::Postgres {
                "postgres"
            } else {
                "mysql"
            },
        );
        let (mut admin, server) = match RawConn::open(backend, &server) {
            Ok(admin) => (admin, server),
            Err(error) => match RawConn::open(backend, &maintenance) {
                Ok(admin) => (admin, maintenance),
                Err(_) => {
                    return Err(format!(
                        "{} not reachable at {}: {error}",
                        backend.feature(),
                        redact_url(&server)
                    ));
                }
            },
        };
        admin
            .execute(&format!("CREATE DATABASE {unique}"))
            .map_err(|error| format!("CREATE DATABASE {unique}: {error}"))?;
        Ok(Self {
            backend,
            url: with_database(&server, &unique),
            server: Some((server, unique)),
            _dir: None,
        })
    }

    /// A storage on this database with the caller's clock, as tests with injected time need.
    pub fn storage(&self) -> DieselStorage {
        self.storage_with(PoolConfig::default().with_time_source(TimeSource::Caller))
    }

    /// A storage on this database.
    pub fn storage_with(&self, config: PoolConfig) -> DieselStorage {
        let config = config.with_connection_timeout(Duration::from_secs(30));
        DieselStorage::connect(&self.url, config).expect("connect to the test database")
    }

    /// A raw connection to this database.
    pub fn raw(&self) -> RawConn {
        RawConn::open(self.backend, &self.url).expect("raw connection")
    }

    /// Runs a batch of raw SQL.
    pub fn execute(&self, sql: &str) {
        self.raw()
            .execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The registry table's columns and indexes, one sorted line each; empty if there is no
    /// table.
    pub fn schema(&self) -> Vec<String> {
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "SELECT 'column ' || name || ' ' || type || ' ' || \"notnull\" || ' ' || \
                 COALESCE(dflt_value, '-') || ' ' || pk AS line FROM pragma_table_info('{TABLE}') \
                 UNION ALL SELECT 'index ' || il.name || ' ' || il.\"unique\" || ' ' || \
                 group_concat(ii.name) AS line FROM pragma_index_list('{TABLE}') AS il \
                 JOIN pragma_index_info(il.name) AS ii GROUP BY il.name"
            ),
            Backend::Postgres => format!(
                "SELECT 'column ' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
                 || COALESCE(column_default, '-') AS line FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{TABLE}' \
                 UNION ALL SELECT 'index ' || indexname || ' ' || indexdef AS line FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename = '{TABLE}' \
                 UNION ALL SELECT 'sequence ' || sequencename || ' ' || data_type::text AS line \
                 FROM pg_sequences WHERE schemaname = current_schema()"
            ),
            _ => format!(
                "SELECT CONCAT_WS(' ', 'column', column_name, column_type, is_nullable, \
                 COALESCE(column_default, '-'), COALESCE(collation_name, '-'), extra, \
                 column_comment) AS line FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = '{TABLE}' \
                 UNION ALL SELECT CONCAT_WS(' ', 'index', index_name, non_unique, seq_in_index, \
                 column_name) AS line FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND table_name = '{TABLE}'"
            ),
        };
        let mut lines = self.raw().lines(&sql);
        lines.sort();
        lines
    }
}

fn clock_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = &self.server else {
            return;
        };
        let drop_sql = match self.backend {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        };
        match RawConn::open(self.backend, server).map(|mut admin| admin.execute(&drop_sql)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test database {name}: {error}"),
            Err(error) => eprintln!("could not drop test database {name}: {error}"),
        }
    }
}
