//! Every call has a deadline: with the database behind a frozen network path (a proxy that
//! stops forwarding and keeps the connections open), calls fail as unavailable instead of
//! hanging, and once the path thaws the same storage works again.

#![cfg(any(feature = "postgres", feature = "mysql"))]

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chrono::Utc;
use common::{TestDb, valid};
use registry_core::{InstanceStorage, ModelInstance, StorageError};
use registry_diesel::{Backend, DieselStorage, PoolConfig, TimeSource, run_migrations};
use registry_testkit::proxy::Proxy;

/// Small on purpose, so the test is quick; nothing asserts on elapsed time.
const TIMEOUT: Duration = Duration::from_millis(300);

/// Liveness bound: a call still running after this long is taken as hung. Far above any
/// deadline, so it never decides a passing run.
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs `call` on a thread of its own and returns its result, or fails the test if it never
/// returns (then the thread is left behind).
fn returns<T: Send + 'static>(
    storage: &Arc<DieselStorage>,
    call: impl FnOnce(&DieselStorage) -> T + Send + 'static,
) -> T {
    let (sender, receiver) = mpsc::channel();
    let storage = Arc::clone(storage);
    std::thread::spawn(move || {
        let _ = sender.send(call(&storage));
    });
    receiver
        .recv_timeout(PATIENCE)
        .expect("a storage call never returned")
}

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

#[cfg(feature = "postgres")]
#[test]
fn postgres_a_statement_waiting_on_a_lock_ends_at_the_statement_timeout() {
    if let Some(db) = TestDb::new(Backend::Postgres) {
        lock_wait_then_recovery(&db);
    }
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_a_statement_waiting_on_a_lock_ends_at_the_statement_timeout() {
    if let Some(db) = TestDb::new(Backend::Mysql) {
        lock_wait_then_recovery(&db);
    }
}

/// The server's own statement timeout: a heartbeat waiting on a row another session holds is
/// ended by the server, answered as unavailable, and the next one (lock released) succeeds.
fn lock_wait_then_recovery(db: &TestDb) {
    let config = PoolConfig::default()
        .with_max_size(1)
        .with_statement_timeout(TIMEOUT)
        .with_time_source(TimeSource::Caller);
    let storage = Arc::new(db.storage_with(config));
    let worker = ModelInstance::new("m@llm", "h", 1);
    storage.heartbeat(&valid(&worker), Utc::now()).unwrap();
    let mut holder = db.raw();
    holder
        .execute(&format!(
            "BEGIN; UPDATE {} SET weight = 2 WHERE port = 1;",
            common::TABLE
        ))
        .unwrap();
    let beat = worker.clone();
    let result = returns(&storage, move |s| s.heartbeat(&valid(&beat), Utc::now()));
    assert_unavailable(result, "heartbeat waiting on a lock");
    drop(holder); // rolls back, releasing the row
    storage.heartbeat(&valid(&worker), Utc::now()).unwrap();
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StorageError>, what: &str) {
    match result {
        Err(StorageError::Unavailable(_)) => {}
        other => panic!("{what} while frozen: expected Unavailable, got {other:?}"),
    }
}

/// The first success of `call` within a bounded number of tries; every failure must be
/// retryable. With deadlines this small, a loaded machine may miss one now and then: that is
/// not what these tests are about.
fn eventually<T, E: std::fmt::Display>(
    what: &str,
    mut call: impl FnMut() -> Result<T, E>,
    retryable: impl Fn(&E) -> bool,
) -> T {
    let mut last = String::new();
    for _ in 0..200 {
        match call() {
            Ok(value) => return value,
            Err(error) => {
                assert!(retryable(&error), "{what}: {error}");
                last = error.to_string();
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    panic!("{what} never succeeded; last error: {last}");
}

fn frozen_path_then_recovery(db: &TestDb) {
    run_migrations(&db.url).unwrap();
    let proxy = Proxy::for_url(&db.url);
    let config = PoolConfig::default()
        .with_max_size(2)
        .with_connection_timeout(TIMEOUT)
        .with_statement_timeout(TIMEOUT)
        .with_time_source(TimeSource::Caller);
    let url = proxy.url(&db.url);
    let storage = eventually(
        "connect",
        || DieselStorage::connect(&url, config.clone()),
        registry_diesel::DieselError::is_retryable,
    );
    let storage = Arc::new(storage);
    let worker = ModelInstance::new("m@llm", "h", 1);
    let retryable = StorageError::is_retryable;
    eventually(
        "heartbeat",
        || storage.heartbeat(&valid(&worker), Utc::now()),
        retryable,
    );
    let listed = eventually("list", || storage.instances(None, false), retryable);
    assert_eq!(listed.len(), 1);

    proxy.freeze();
    // More calls than the pool has connections: the first ones hit the frozen connections
    // (the deadline shuts them down), the later ones find none.
    for _ in 0..3 {
        let beat = worker.clone();
        let result = returns(&storage, move |s| s.heartbeat(&valid(&beat), Utc::now()));
        assert_unavailable(result, "heartbeat");
        let result = returns(&storage, |s| s.instances(None, false));
        assert_unavailable(result, "list");
    }
    assert_unavailable(returns(&storage, |s| s.check_ready()), "readiness");

    proxy.thaw();
    // The same storage works again once the pool has replaced the connections it dropped.
    eventually(
        "heartbeat after thawing",
        || storage.heartbeat(&valid(&worker), Utc::now()),
        retryable,
    );
    let listed = eventually(
        "list after thawing",
        || storage.instances(None, false),
        retryable,
    );
    assert_eq!(listed.len(), 1);
    eventually(
        "readiness after thawing",
        || storage.check_ready(),
        retryable,
    );
}
