//! A fresh database per test, so that no two tests share a table: a temporary SQLite file, or
//! a database of its own on the PostgreSQL or MariaDB server (`CREATE DATABASE` with a unique
//! name through diesel, behind this crate's `postgres` and `mysql` features), dropped with it.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::database::{self, Backend};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A database no other test uses, dropped (or deleted) when this value is.
pub struct FreshDatabase {
    backend: Backend,
    url: String,
    /// The server URL to drop it through and its name, on a database server.
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// A name no other test, process or run uses: `registry_test_PID_N_NANOS`.
pub fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "registry_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl FreshDatabase {
    /// A fresh database, or `None` (with `SKIPPED` printed) when the backend's server cannot
    /// be used and is not [`required`](database::required), where it panics.
    pub fn new(backend: Backend) -> Option<Self> {
        database::or_skip(backend, Self::open(backend))
    }

    /// As [`new`](Self::new) for a test target whose build has the backend's feature
    /// (`compiled`); without it, `None` with a note, as the feature is a build choice.
    pub fn if_compiled(backend: Backend, compiled: bool) -> Option<Self> {
        if !compiled {
            eprintln!(
                "note: skipping {}: this build lacks the backend's feature",
                backend.feature()
            );
            return None;
        }
        Self::new(backend)
    }

    /// A fresh database, or why there is none.
    pub fn open(backend: Backend) -> Result<Self, String> {
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
        let name = unique_name();
        let (server, _) = database::server_url(backend);
        // The URL's own database may not exist on a fresh server; the maintenance database
        // always does, and either can create the test's database.
        let maintenance = database::with_database(
            &server,
            if backend == Backend::Postgres {
                "postgres"
            } else {
                "mysql"
            },
        );
        let server = match admin::execute(backend, &server, "SELECT 1") {
            Ok(()) => server,
            Err(error) => match admin::execute(backend, &maintenance, "SELECT 1") {
                Ok(()) => maintenance,
                Err(_) => {
                    return Err(format!(
                        "{} not reachable at {}: {error}",
                        backend.feature(),
                        redact(&server)
                    ));
                }
            },
        };
        admin::execute(backend, &server, &format!("CREATE DATABASE {name}"))
            .map_err(|error| format!("CREATE DATABASE {name}: {error}"))?;
        Ok(Self {
            backend,
            url: database::with_database(&server, &name),
            server: Some((server, name)),
            _dir: None,
        })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL (`sqlite://…`, `postgres://…`, `mysql://…`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = &self.server else {
            return;
        };
        let sql = match self.backend {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        };
        if let Err(error) = admin::execute(self.backend, server, &sql) {
            eprintln!("could not drop test database {name}: {error}");
        }
    }
}

/// `url` with its password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// One statement on a fresh connection to a database server.
mod admin {
    use super::Backend;

    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(super) fn execute(backend: Backend, url: &str, sql: &str) -> Result<(), String> {
        use diesel::Connection as _;
        use diesel::connection::SimpleConnection as _;
        match backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres => diesel::PgConnection::establish(url)
                .map_err(|e| e.to_string())?
                .batch_execute(sql)
                .map_err(|e| e.to_string()),
            #[cfg(feature = "mysql")]
            Backend::Mysql => diesel::MysqlConnection::establish(url)
                .map_err(|e| e.to_string())?
                .batch_execute(sql)
                .map_err(|e| e.to_string()),
            other => not_compiled(other),
        }
    }

    #[cfg(not(any(feature = "postgres", feature = "mysql")))]
    pub(super) fn execute(backend: Backend, _url: &str, _sql: &str) -> Result<(), String> {
        not_compiled(backend)
    }

    /// A test asked for a backend its build did not give the kit: a mistake in the test's
    /// features, not a missing server, so it never skips.
    fn not_compiled(backend: Backend) -> ! {
        panic!(
            "registry-testkit was built without its `{}` feature",
            backend.feature()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, FreshDatabase, redact, unique_name};

    #[test]
    fn names_are_unique_and_sqlite_databases_are_temporary_files() {
        assert_ne!(unique_name(), unique_name());
        let db = FreshDatabase::open(Backend::Sqlite).unwrap();
        let path = db.url().strip_prefix("sqlite://").unwrap().to_owned();
        let dir = std::path::Path::new(&path).parent().unwrap().to_owned();
        assert!(dir.is_dir());
        drop(db);
        assert!(!dir.exists());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://u:pw@db/x"), "mysql://u:***@db/x");
        assert_eq!(redact("postgres://u@db/x"), "postgres://u@db/x");
    }
}
