//! Test databases: one fresh database per test (the test kit's), on every backend that is
//! compiled in, with what these tests do on it: a storage, raw SQL, the table's schema.
//!
//! Where the servers are and when a missing one skips or fails is the kit's policy (see
//! `registry_testkit::database`).

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use registry_diesel::{Backend, DieselStorage, PoolConfig, TimeSource, WallClockZone};
use registry_testkit::database::Backend as KitBackend;
use registry_testkit::fresh::FreshDatabase;

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

/// A database of its own for one test.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    _fresh: FreshDatabase,
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

impl TestDb {
    /// A fresh database, or `None` when the backend's server is not reachable and not
    /// required.
    pub fn new(backend: Backend) -> Option<Self> {
        FreshDatabase::new(kit_backend(backend)).map(|fresh| Self::on(backend, fresh))
    }

    /// A fresh database, or why the backend's server could not be reached.
    pub fn open(backend: Backend) -> Result<Self, String> {
        FreshDatabase::open(kit_backend(backend)).map(|fresh| Self::on(backend, fresh))
    }

    fn on(backend: Backend, fresh: FreshDatabase) -> Self {
        Self {
            backend,
            url: fresh.url().to_owned(),
            _fresh: fresh,
        }
    }

    /// A storage on this database with the caller's clock, as tests with injected time need,
    /// storing UTC whatever the machine's zone.
    pub fn storage(&self) -> DieselStorage {
        self.storage_with(
            PoolConfig::default()
                .with_time_source(TimeSource::Caller)
                .with_time_zone(WallClockZone::Utc),
        )
    }

    /// The `last_heartbeat` column as the database shows it, for the row of `host`.
    pub fn stored_heartbeat(&self, host: &str) -> String {
        let column = match self.backend {
            Backend::Sqlite => "last_heartbeat",
            Backend::Postgres => "last_heartbeat::text",
            _ => "CAST(last_heartbeat AS CHAR)",
        };
        let sql = format!("SELECT {column} AS line FROM {TABLE} WHERE host = '{host}'");
        let mut lines = self.raw().lines(&sql);
        assert_eq!(lines.len(), 1, "{sql}");
        lines.remove(0)
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

    /// Narrows `model_name` to 64 characters on the server backends, so that a valid instance
    /// with a longer name is one the database refuses (SQLite does not check lengths).
    pub fn narrow_model_names(&self) {
        match self.backend {
            Backend::Postgres => self.execute(
                "ALTER TABLE dbgpt_cluster_registry_instance ALTER COLUMN model_name TYPE varchar(64)",
            ),
            Backend::Mysql => self.execute(
                "ALTER TABLE dbgpt_cluster_registry_instance MODIFY model_name varchar(64) \
                 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
            ),
            _ => {}
        }
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

/// The kit's name for a backend.
fn kit_backend(backend: Backend) -> KitBackend {
    match backend {
        Backend::Sqlite => KitBackend::Sqlite,
        Backend::Postgres => KitBackend::Postgres,
        Backend::Mysql => KitBackend::Mysql,
        other => panic!("no test databases for {other}"),
    }
}

/// The instance, validated; every instance these tests write is valid.
pub fn valid(instance: &registry_core::ModelInstance) -> registry_core::ValidInstance {
    registry_core::ValidInstance::new(instance.clone()).expect("a valid instance")
}

/// The instant the concurrency tests start from.
pub fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

/// A worker of one of seven models, told apart by its port.
pub fn worker(port: u16) -> registry_core::ModelInstance {
    registry_core::ModelInstance::new(format!("model-{}@llm", port % 7), "10.0.0.1", port)
}
