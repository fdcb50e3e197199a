//! Honest health: a storage that cannot write says so as `Unavailable` (retryable, a 503),
//! from the readiness probe and from every write, instead of acknowledging writes it loses.

mod common;

use common::{TestDb, valid};
use registry_core::{InstanceStorage, ModelInstance, StorageError};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use registry_diesel::Backend;

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StorageError>, what: &str) {
    match result {
        Err(StorageError::Unavailable(_)) => {}
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

backend_tests!(a_writable_database_is_ready);

fn a_writable_database_is_ready(db: &TestDb) {
    let storage = db.storage();
    storage.check_ready().unwrap();
    storage
        .heartbeat(&valid(&ModelInstance::new("m@llm", "h", 1)), now())
        .unwrap();
    storage.check_ready().unwrap();
}

#[cfg(feature = "sqlite")]
mod sqlite_file {
    use super::*;

    fn path_of(db: &TestDb) -> std::path::PathBuf {
        db.url.strip_prefix("sqlite://").unwrap().into()
    }

    #[test]
    fn a_deleted_database_file_is_unavailable_not_acknowledged() {
        let db = TestDb::new(Backend::Sqlite).unwrap();
        let storage = db.storage();
        let worker = ModelInstance::new("m@llm", "h", 1);
        storage.heartbeat(&valid(&worker), now()).unwrap();
        std::fs::remove_file(path_of(&db)).unwrap();
        assert_unavailable(storage.check_ready(), "readiness");
        assert_unavailable(storage.register(&valid(&worker), now()), "register");
        assert_unavailable(storage.heartbeat(&valid(&worker), now()), "heartbeat");
        assert_unavailable(
            storage.expire_stale(std::time::Duration::from_secs(1), now()),
            "sweep",
        );
    }

    #[test]
    fn a_replaced_database_file_is_unavailable() {
        let db = TestDb::new(Backend::Sqlite).unwrap();
        let storage = db.storage();
        let path = path_of(&db);
        let copy = path.with_extension("copy");
        std::fs::copy(&path, &copy).unwrap();
        std::fs::rename(&copy, &path).unwrap();
        assert_unavailable(storage.check_ready(), "readiness");
        assert_unavailable(
            storage.heartbeat(&valid(&ModelInstance::new("m@llm", "h", 1)), now()),
            "heartbeat",
        );
    }

    #[test]
    fn a_read_only_database_is_unavailable() {
        let db = TestDb::new(Backend::Sqlite).unwrap();
        drop(db.storage()); // creates the file and its table
        let read_only = format!("file:{}?mode=ro", path_of(&db).display());
        let storage = registry_diesel::DieselStorage::connect(
            &read_only,
            registry_diesel::PoolConfig::default(),
        );
        let storage = storage.expect("a read-only file opens for reading");
        assert_unavailable(storage.check_ready(), "readiness");
        assert_unavailable(
            storage.heartbeat(&valid(&ModelInstance::new("m@llm", "h", 1)), now()),
            "heartbeat",
        );
    }
}

#[cfg(feature = "postgres")]
#[test]
fn a_read_only_postgres_database_is_unavailable() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let storage = db.storage_with(
        registry_diesel::PoolConfig::default()
            .with_max_size(1)
            .with_time_source(registry_diesel::TimeSource::Caller),
    );
    let name = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    // New sessions of this database are read-only; ending the pooled one makes the pool
    // open a new one.
    db.execute(&format!(
        "ALTER DATABASE {name} SET default_transaction_read_only = on"
    ));
    db.execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
    let mut messages = Vec::new();
    for _ in 0..3 {
        match storage.check_ready() {
            Err(StorageError::Unavailable(message)) => messages.push(message),
            other => panic!("readiness: expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        messages.iter().any(|m| m.contains("read-only")),
        "{messages:#?}"
    );
    assert_unavailable(
        storage.register(&valid(&ModelInstance::new("m@llm", "h", 1)), now()),
        "register",
    );
}
