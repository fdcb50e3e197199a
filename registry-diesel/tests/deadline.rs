//! Every call has a deadline: with the database behind a frozen network path (a proxy that
//! stops forwarding and keeps the connections open), calls fail as unavailable instead of
//! hanging, and once the path thaws the same storage works again.

#![cfg(any(feature = "postgres", feature = "mysql"))]

mod common;

use std::time::Duration;

use chrono::Utc;
use common::TestDb;
use common::proxy::FreezableProxy;
use registry_core::{InstanceStorage, ModelInstance, StorageError};
use registry_diesel::{Backend, DieselStorage, PoolConfig, TimeSource, run_migrations};

/// Small on purpose, so the test is quick; nothing asserts on elapsed time.
const TIMEOUT: Duration = Duration::from_millis(300);

#[cfg(feature = "postgres")]
#[test]
fn postgres_calls_fail_unavailable_while_the_path_is_frozen() {
    if let Some(db) = TestDb::new(Backend::Postgres) {
        frozen_path_then_recovery(&db);
    }
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_calls_fail_unavailable_while_the_path_is_frozen() {
    if let Some(db) = TestDb::new(Backend::Mysql) {
        frozen_path_then_recovery(&db);
    }
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StorageError>, what: &str) {
    match result {
        Err(StorageError::Unavailable(_)) => {}
        other => panic!("{what} while frozen: expected Unavailable, got {other:?}"),
    }
}

fn frozen_path_then_recovery(db: &TestDb) {
    run_migrations(&db.url).unwrap();
    let proxy = FreezableProxy::for_url(&db.url);
    let config = PoolConfig::default()
        .with_max_size(2)
        .with_connection_timeout(TIMEOUT)
        .with_statement_timeout(TIMEOUT)
        .with_time_source(TimeSource::Caller);
    // Connecting may take libpq's smallest connect timeout's worth of retries at most; the
    // proxy is thawed here, so it does not.
    let storage = DieselStorage::connect(&proxy.url(&db.url), config).unwrap();
    let worker = ModelInstance::new("m@llm", "h", 1);
    storage.heartbeat(&worker, Utc::now()).unwrap();
    assert_eq!(storage.instances(None, false).unwrap().len(), 1);

    proxy.freeze();
    // More calls than the pool has connections: the first ones hit the frozen connections
    // (the deadline shuts them down), the later ones find none.
    for _ in 0..3 {
        assert_unavailable(storage.heartbeat(&worker, Utc::now()), "heartbeat");
        assert_unavailable(storage.instances(None, false), "list");
    }
    assert_unavailable(storage.check_ready(), "readiness");

    proxy.thaw();
    // The pool replaces the connections it dropped; give it a bounded number of tries.
    let mut recovered = None;
    for _ in 0..200 {
        match storage.heartbeat(&worker, Utc::now()) {
            Ok(()) => {
                recovered = Some(());
                break;
            }
            Err(error) => {
                assert!(error.is_retryable(), "{error}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    assert!(recovered.is_some(), "no call succeeded after thawing");
    assert_eq!(storage.instances(None, false).unwrap().len(), 1);
    assert!(storage.check_ready().is_ok());
}
