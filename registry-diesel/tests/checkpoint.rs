//! A SQLite file's write-ahead log is checkpointed by a thread of the storage's own, not by the
//! commits of registers and heartbeats, and that thread ends with the storage. One test, so
//! that no other storage of this process is open while it counts threads.
#![cfg(all(feature = "sqlite", target_os = "linux"))]

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use registry_core::{InstanceStorage, ModelInstance, ValidInstance};
use registry_diesel::{DieselStorage, PoolConfig};

/// Liveness bound for the polls below; the checks never depend on how long anything took.
const PATIENCE: Duration = Duration::from_secs(30);

fn checkpoint_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "sqlite-ckpt")
        .count()
}

/// The count of checkpoint threads once it is `expected`, or after [`PATIENCE`]. A new thread
/// names itself once it runs, so right after it is spawned it may still carry its parent's name.
fn checkpoint_threads_settled(expected: usize) -> usize {
    let deadline = Instant::now() + PATIENCE;
    while checkpoint_threads() != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    checkpoint_threads()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

#[test]
fn a_file_is_checkpointed_by_its_own_thread_which_ends_with_the_storage() {
    // An in-memory database has no log to checkpoint.
    let memory = DieselStorage::connect(":memory:", PoolConfig::default()).unwrap();
    assert_eq!(checkpoint_threads(), 0);
    drop(memory);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let url = format!("sqlite://{}", db.display());
    let storage = DieselStorage::connect(&url, PoolConfig::default()).unwrap();
    assert_eq!(checkpoint_threads_settled(1), 1);
    let before = file_len(&db);

    // A few hundred commits: far fewer log pages than make a writer checkpoint, so only the
    // checkpoint thread can copy them into the database file.
    for port in 1..=300 {
        let instance = ModelInstance::new("m@llm", format!("10.0.{}.1", port % 7), port);
        storage.register(&valid(&instance), Utc::now()).unwrap();
    }
    let deadline = Instant::now() + PATIENCE;
    while file_len(&db) <= before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        file_len(&db) > before,
        "the database file never grew past {before} bytes"
    );
    assert_eq!(storage.instances(None, false).unwrap().len(), 300);

    drop(storage);
    assert_eq!(checkpoint_threads(), 0);
}

/// The instance, validated; every instance written here is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}
