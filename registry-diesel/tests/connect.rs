//! Connecting: typed errors for bad URLs and unreachable servers, passwords kept out of every
//! message, and SQLite's in-memory database.
//!
//! Unreachable servers are ports on 127.0.0.1 where nothing listens; a short connection timeout
//! keeps these tests fast. Nothing here asserts how long anything took.

mod common;

use std::time::Duration;

use registry_core::StorageError;
use registry_diesel::{DieselError, DieselStorage, PoolConfig, run_migrations};

fn quick() -> PoolConfig {
    PoolConfig::default().with_connection_timeout(Duration::from_millis(300))
}

#[test]
fn an_unknown_scheme_is_a_typed_error_without_the_password() {
    let error =
        DieselStorage::connect("redis://admin:hunter2@127.0.0.1:6379/0", quick()).unwrap_err();
    assert!(
        matches!(error, DieselError::UnsupportedUrl { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("admin:***@127.0.0.1"), "{message}");
    assert!(!error.is_retryable());
    assert!(matches!(
        StorageError::from(error),
        StorageError::Backend(_)
    ));
    assert!(matches!(
        run_migrations("").unwrap_err(),
        DieselError::UnsupportedUrl { .. }
    ));
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Connecting to `url` fails as unavailable, retryable, and without `secret` in any message.
fn assert_unreachable(url: &str, secret: &str) {
    let error = DieselStorage::connect(url, quick()).unwrap_err();
    eprintln!("{error}");
    assert!(
        matches!(error, DieselError::Unavailable { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    for message in [error.to_string(), format!("{error:?}")] {
        assert!(!message.contains(secret), "{message}");
    }
    let storage_error = StorageError::from(error);
    assert!(storage_error.is_retryable(), "{storage_error:?}");
    assert!(!storage_error.to_string().contains(secret));
}

#[cfg(feature = "postgres")]
#[test]
fn an_unreachable_postgres_server_is_unavailable() {
    assert_unreachable(
        "postgres://registry:pg-s3cret@127.0.0.1:1/registry",
        "pg-s3cret",
    );
    assert_unreachable(
        "postgresql://127.0.0.1:1/registry?user=registry&password=pg-s3cret",
        "pg-s3cret",
    );
}

#[cfg(feature = "mysql")]
#[test]
fn an_unreachable_mysql_server_is_unavailable() {
    assert_unreachable(
        "mysql://registry:my-s3cret@127.0.0.1:1/registry",
        "my-s3cret",
    );
}

/// Connecting to `url` fails as rejected and not retryable; returns the message.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn assert_rejected(url: &str) -> String {
    let error = DieselStorage::connect(url, quick()).unwrap_err();
    eprintln!("{error}");
    assert!(matches!(error, DieselError::Rejected { .. }), "{error:?}");
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(!StorageError::from(error).is_retryable());
    message
}

/// The same server URL with another database name.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn with_database(url: &str, name: &str) -> String {
    let (server, _) = url.rsplit_once('/').expect("a database URL");
    format!("{server}/{name}")
}

#[cfg(feature = "postgres")]
#[test]
fn a_malformed_postgres_url_or_a_missing_database_is_rejected() {
    let message = assert_rejected("postgres://u:pg-s3cret@127.0.0.1:notaport/registry");
    assert!(!message.contains("pg-s3cret"), "{message}");
    if let Some(db) = common::TestDb::new(registry_diesel::Backend::Postgres) {
        let message = assert_rejected(&with_database(&db.url, "registry_no_such_database"));
        assert!(message.contains("registry_no_such_database"), "{message}");
    }
}

#[cfg(feature = "mysql")]
#[test]
fn a_missing_mysql_database_is_rejected() {
    if let Some(db) = common::TestDb::new(registry_diesel::Backend::Mysql) {
        let message = assert_rejected(&with_database(&db.url, "registry_no_such_database"));
        assert!(message.contains("registry_no_such_database"), "{message}");
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use registry_core::{ModelInstance, QuerySpec, Storage};
    use registry_diesel::Backend;

    #[test]
    fn an_unopenable_sqlite_file_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}",
            dir.path().join("missing/dir/registry.db").display()
        );
        let error = DieselStorage::connect(&url, quick()).unwrap_err();
        assert!(
            matches!(error, DieselError::Unavailable { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn in_memory_sqlite_keeps_its_data_across_calls() {
        for url in [":memory:", "sqlite://:memory:"] {
            let storage = DieselStorage::connect(url, PoolConfig::default()).unwrap();
            assert_eq!(storage.backend(), Backend::Sqlite);
            for port in 1..=20 {
                storage
                    .save(&ModelInstance::new("m@llm", "h", port))
                    .unwrap();
            }
            assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 20, "{url}");
        }
    }

    #[test]
    fn plain_paths_and_sqlite_urls_open_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        // Not `quick()`: the second open waits for the first storage's checkpoint to let go
        // of the file, which on a loaded machine can take longer than a short timeout.
        let patient = || PoolConfig::default().with_connection_timeout(Duration::from_secs(30));
        let by_url =
            DieselStorage::connect(&format!("sqlite://{}", path.display()), patient()).unwrap();
        by_url.save(&ModelInstance::new("m@llm", "h", 1)).unwrap();
        let by_path = DieselStorage::connect(&path.display().to_string(), patient()).unwrap();
        assert_eq!(by_path.count(&QuerySpec::new()).unwrap(), 1);
        assert!(format!("{by_path:?}").contains("Sqlite"));
    }
}

#[cfg(not(feature = "postgres"))]
#[test]
fn a_backend_left_out_of_the_build_names_its_feature() {
    let error = DieselStorage::connect("postgres://u:pw@127.0.0.1/db", quick()).unwrap_err();
    assert!(
        matches!(error, DieselError::BackendNotCompiled { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("`postgres` feature"), "{error}");
}

#[cfg(not(feature = "mysql"))]
#[test]
fn mysql_left_out_of_the_build_names_its_feature() {
    let error = DieselStorage::connect("mysql://u:pw@127.0.0.1/db", quick()).unwrap_err();
    assert!(error.to_string().contains("`mysql` feature"), "{error}");
}
