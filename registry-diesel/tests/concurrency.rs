//! Races DB-GPT loses and this storage must not, on every backend: concurrent first
//! heartbeats, heartbeats racing the expiry sweep, and registry servers whose clocks disagree.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use chrono::Utc;
use common::{TestDb, start, valid, worker};
use registry_core::{InstanceStorage, ModelInstance, QuerySpec, Storage, StorageError};
use registry_diesel::Backend;
use registry_diesel::{PoolConfig, TimeSource, WallClockZone};

const THREADS: usize = 16;
const INSTANCES: u16 = 100;

backend_tests!(
    sixteen_threads_of_first_heartbeats_leave_one_healthy_row_each,
    a_heartbeat_racing_the_sweep_is_never_lost,
    the_database_clock_ignores_skewed_callers,
    a_bad_instance_fails_only_its_own_call,
);

fn sixteen_threads_of_first_heartbeats_leave_one_healthy_row_each(db: &TestDb) {
    let storage = Arc::new(
        db.storage_with(
            PoolConfig::default()
                .with_max_size(THREADS as u32)
                .with_time_source(TimeSource::Caller),
        ),
    );
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread_index| {
            let storage = Arc::clone(&storage);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                // Each thread walks the instances from a different place, so that first
                // writes of the same key collide across threads.
                for step in 0..INSTANCES {
                    let port = 1 + (step + thread_index as u16 * 7) % INSTANCES;
                    let instance = worker(port);
                    let now = start() + chrono::Duration::milliseconds(i64::from(step));
                    if thread_index % 2 == 0 {
                        storage.register(&valid(&instance), now).unwrap();
                    }
                    storage.heartbeat(&valid(&instance), now).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(
        storage.count(&QuerySpec::new()).unwrap(),
        u64::from(INSTANCES)
    );
    let healthy = QuerySpec::new().eq("healthy", true);
    assert_eq!(storage.count(&healthy).unwrap(), u64::from(INSTANCES));
}

fn a_heartbeat_racing_the_sweep_is_never_lost(db: &TestDb) {
    let storage = Arc::new(
        db.storage_with(
            PoolConfig::default()
                .with_max_size(4)
                .with_time_source(TimeSource::Caller),
        ),
    );
    let timeout = Duration::from_secs(60);
    for port in 1..=200 {
        storage.register(&valid(&worker(port)), start()).unwrap();
    }
    // At `later` every instance is stale unless it beats at `later`, which they all do while
    // a sweeper sweeps as fast as it can. A sweep that wrote back rows it had read before a
    // heartbeat (DB-GPT's checker) would leave some of them unhealthy.
    let later = start() + chrono::Duration::seconds(61);
    let done = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(2));
    let sweeper = {
        let (storage, done, barrier) = (
            Arc::clone(&storage),
            Arc::clone(&done),
            Arc::clone(&barrier),
        );
        thread::spawn(move || {
            barrier.wait();
            let mut sweeps = 0_u32;
            while !done.load(Ordering::Acquire) || sweeps == 0 {
                storage.expire_stale(timeout, later).unwrap();
                sweeps += 1;
            }
            sweeps
        })
    };
    barrier.wait();
    for port in 1..=200 {
        storage.heartbeat(&valid(&worker(port)), later).unwrap();
    }
    done.store(true, Ordering::Release);
    sweeper.join().unwrap();
    assert_eq!(storage.expire_stale(timeout, later).unwrap(), 0);
    let all = storage.query(&QuerySpec::new()).unwrap();
    assert_eq!(all.len(), 200);
    for instance in all {
        assert!(instance.healthy, "{instance:?}");
        assert_eq!(instance.last_heartbeat, Some(later), "{instance:?}");
    }
}

fn the_database_clock_ignores_skewed_callers(db: &TestDb) {
    let database_clock = db.storage_with(PoolConfig::default().with_time_zone(WallClockZone::Utc));
    let caller_clock = db.storage();
    let real_now = Utc::now();
    let ten_days = chrono::Duration::days(10);

    // A server whose clock is ten days slow stamps the heartbeat with the database's time.
    let fresh = worker(1);
    database_clock
        .heartbeat(&valid(&fresh), real_now - ten_days)
        .unwrap();
    let stored = database_clock
        .load(&fresh.identifier().unwrap())
        .unwrap()
        .unwrap();
    let stamp = stored.last_heartbeat.expect("a heartbeat stamp");
    let off_by = (stamp - real_now).num_seconds().abs();
    assert!(
        off_by < 3600,
        "database time {stamp} is not UTC near {real_now}"
    );

    // A server whose clock is ten days fast cannot expire it.
    let timeout = Duration::from_secs(60);
    assert_eq!(
        database_clock
            .expire_stale(timeout, real_now + ten_days)
            .unwrap(),
        0
    );

    // A heartbeat really two hours old expires, and is removed, by the database's clock.
    let stale = worker(2);
    caller_clock
        .register(&valid(&stale), real_now - chrono::Duration::hours(2))
        .unwrap();
    let hour = Duration::from_secs(3600);
    assert_eq!(
        database_clock
            .expire_stale(hour, real_now - ten_days)
            .unwrap(),
        1
    );
    assert_eq!(
        database_clock
            .remove_stale(hour, real_now - ten_days)
            .unwrap(),
        1
    );
    let left = database_clock.query(&QuerySpec::new()).unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].healthy);
}

fn a_bad_instance_fails_only_its_own_call(db: &TestDb) {
    let storage = Arc::new(
        db.storage_with(
            PoolConfig::default()
                .with_max_size(THREADS as u32)
                .with_time_source(TimeSource::Caller),
        ),
    );
    // A valid instance this database refuses: its model name is longer than the test narrows
    // the column to (SQLite does not check lengths). Every instance a registry passes is valid,
    // so a refusal like this comes from the database alone.
    db.narrow_model_names();
    let bad = ModelInstance::new("m".repeat(100), "10.0.0.1", 1);
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread_index| {
            let (storage, barrier, bad) = (Arc::clone(&storage), Arc::clone(&barrier), bad.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut bad_results = Vec::new();
                for step in 0..50_u16 {
                    if thread_index == 0 {
                        bad_results.push(storage.heartbeat(&valid(&bad), start()));
                    } else {
                        let port = 2 + (step + thread_index as u16) % 40;
                        storage.heartbeat(&valid(&worker(port)), start()).unwrap();
                    }
                }
                bad_results
            })
        })
        .collect();
    let mut bad_results = Vec::new();
    for thread in threads {
        bad_results.extend(thread.join().unwrap());
    }
    if db.backend != Backend::Sqlite {
        for result in bad_results {
            assert!(matches!(result, Err(StorageError::Data(_))), "{result:?}");
        }
    }
    let good = QuerySpec::new().eq("host", "10.0.0.1").eq("healthy", true);
    let stored = storage.query(&good).unwrap();
    assert_eq!(stored.iter().filter(|i| i.port > 1).count(), 40);
}
