//! Heartbeats handed to the storage's group-commit writers and awaited, on every backend: each
//! one lands and comes back, a refused one fails only its own write, and what is queued when
//! the storage is dropped is still written. On SQLite, with the write lock held by another
//! connection: the queue stops at its bound, and writes whose callers stopped waiting are
//! skipped.

mod common;

use std::sync::Arc;

use common::{TestDb, start, valid, worker};
use registry_core::{InstanceStorage, ModelInstance, QuerySpec, Storage, StorageError};
use registry_diesel::{Backend, DieselStorage, MAX_QUEUED_WRITES, PoolConfig, TimeSource};

/// The most instances one statement writes (the storage's group-commit batch).
const MAX_BATCH: usize = 32;

const TASKS: u16 = 16;
const INSTANCES: u16 = 100;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

backend_tests!(
    every_queued_heartbeat_lands_and_comes_back,
    a_refused_queued_heartbeat_fails_only_its_own_write,
    heartbeats_queued_when_the_storage_is_dropped_are_written,
);

fn every_queued_heartbeat_lands_and_comes_back(db: &TestDb) {
    let storage = Arc::new(db.storage_with(PoolConfig::default().with_max_size(4)));
    assert!(storage.queues_heartbeats());
    runtime().block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let storage = Arc::clone(&storage);
                tokio::spawn(async move {
                    for step in 0..INSTANCES {
                        // Tasks start at different instances, so one batch can hold one key twice.
                        let port = 1 + (step + task * 7) % INSTANCES;
                        let sent = valid(&worker(port));
                        let back = storage
                            .queue_heartbeat(sent.clone(), start())
                            .written()
                            .await
                            .unwrap();
                        assert_eq!(back, sent);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let healthy = QuerySpec::new().eq("healthy", true);
    assert_eq!(storage.count(&healthy).unwrap(), u64::from(INSTANCES));
    assert_eq!(
        storage.count(&QuerySpec::new()).unwrap(),
        u64::from(INSTANCES)
    );
}

fn a_refused_queued_heartbeat_fails_only_its_own_write(db: &TestDb) {
    let storage = Arc::new(db.storage_with(PoolConfig::default().with_max_size(4)));
    // A valid instance the database refuses: its model name is longer than the column is
    // narrowed to here (SQLite does not check lengths, so there it is written).
    db.narrow_model_names();
    let bad = valid(&ModelInstance::new("m".repeat(100), "10.0.0.1", 1));
    let results = runtime().block_on(async {
        // Queued together, so the refused one shares a batch with good ones.
        let mut writes = vec![storage.queue_heartbeat(bad.clone(), start())];
        writes.extend((2..=40).map(|port| storage.queue_heartbeat(valid(&worker(port)), start())));
        let mut results = Vec::new();
        for write in writes {
            results.push(write.written().await);
        }
        results
    });
    let (refused, written) = results.split_first().unwrap();
    if db.backend != Backend::Sqlite {
        assert!(matches!(refused, Err(StorageError::Data(_))), "{refused:?}");
    }
    assert!(written.iter().all(Result::is_ok), "{written:?}");
    let good = QuerySpec::new().eq("host", "10.0.0.1").eq("healthy", true);
    let stored = storage.query(&good).unwrap();
    assert_eq!(stored.iter().filter(|i| i.port > 1).count(), 39);
}

fn heartbeats_queued_when_the_storage_is_dropped_are_written(db: &TestDb) {
    let storage = db.storage_with(PoolConfig::default().with_time_source(TimeSource::Caller));
    let writes: Vec<_> = (1..=INSTANCES)
        .map(|port| storage.queue_heartbeat(valid(&worker(port)), start()))
        .collect();
    // Dropping waits for the writers to write what is queued.
    drop(storage);
    runtime().block_on(async {
        for write in writes {
            write.written().await.unwrap();
        }
    });
    let reopened = db.storage();
    let healthy = QuerySpec::new().eq("healthy", true);
    assert_eq!(reopened.count(&healthy).unwrap(), u64::from(INSTANCES));
}

/// A storage whose one writer (one connection, as a server opens a SQLite file) is stuck
/// behind another connection's write lock, which the returned connection holds until it
/// commits. The storage waits for the lock (its statement timeout is far longer than the
/// test), so nothing here waits out a timeout.
#[cfg(feature = "sqlite")]
fn stalled_sqlite(db: &TestDb) -> (DieselStorage, common::RawConn) {
    let storage = db.storage_with(
        PoolConfig::default()
            .with_max_size(1)
            .with_statement_timeout(std::time::Duration::from_secs(600)),
    );
    let mut lock = db.raw();
    lock.execute("BEGIN IMMEDIATE").unwrap();
    (storage, lock)
}

#[cfg(feature = "sqlite")]
#[test]
fn a_stalled_database_fills_the_queue_to_its_bound_then_refuses_at_once() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let (storage, mut lock) = stalled_sqlite(&db);
    // The writer holds at most one batch; the queue holds the rest up to its bound.
    let sent = MAX_QUEUED_WRITES + MAX_BATCH + 100;
    let writes: Vec<_> = (0..sent)
        .map(|n| storage.queue_heartbeat(valid(&worker(1 + (n % 60_000) as u16)), start()))
        .collect();
    let runtime = runtime();
    // The refused ones are answered while the lock is still held.
    let (refused, queued): (Vec<_>, Vec<_>) =
        writes.into_iter().partition(|write| write.is_answered());
    assert!(refused.len() >= 100, "{} refused", refused.len());
    for write in refused {
        let error = runtime.block_on(write.written()).unwrap_err();
        assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
    }
    lock.execute("COMMIT").unwrap();
    for write in queued {
        runtime.block_on(write.written()).unwrap();
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn writes_whose_callers_stopped_waiting_are_skipped() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let (storage, mut lock) = stalled_sqlite(&db);
    let kept = storage.queue_heartbeat(valid(&worker(1)), start());
    for port in 2..=101 {
        drop(storage.queue_heartbeat(valid(&worker(port)), start()));
    }
    lock.execute("COMMIT").unwrap();
    runtime().block_on(kept.written()).unwrap();
    drop(storage);
    // Only those the writer had already taken with the first, at most one batch, are written.
    let written = db.storage().count(&QuerySpec::new()).unwrap();
    assert!(
        (1..=MAX_BATCH as u64).contains(&written),
        "{written} written"
    );
}
