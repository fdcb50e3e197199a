//! Heartbeats/s and registrations/s through `StorageModelRegistry` on every compiled backend,
//! with 100 and with 10,000 instances, printed as a table beside the targets.
//!
//! SQLite runs one caller; PostgreSQL and MariaDB eight concurrent callers, found through
//! `REGISTRY_TEST_POSTGRES_URL` and `REGISTRY_TEST_MYSQL_URL` (the tests' defaults). A server
//! that cannot be reached is skipped with a note. Each run gets a fresh database.
//!
//! Run: `cargo bench -p registry-diesel --all-features`; `REGISTRY_BENCH_BACKENDS=mysql,postgres`
//! limits the run to some backends (by feature name).

#![allow(missing_docs, unreachable_pub)]

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use registry_core::{
    BlockingCalls, InstanceStorage, ModelInstance, ModelRegistry, RegistryConfig,
    StorageModelRegistry, ValidInstance,
};
use registry_diesel::{Backend, DieselStorage, PoolConfig};
use registry_testkit::database::Backend as KitBackend;
use registry_testkit::fresh::FreshDatabase;

/// Calls per measurement, whatever the number of instances, so every figure rests on the same
/// amount of work.
const CALLS: usize = 40_000;

const SIZES: [usize; 2] = [100, 10_000];

struct Row {
    backend: Backend,
    callers: usize,
    instances: usize,
    inserts_per_s: f64,
    registrations_per_s: f64,
    heartbeats_per_s: f64,
    direct_heartbeats_per_s: f64,
}

fn instance(index: usize) -> ValidInstance {
    let host = format!(
        "10.{}.{}.{}",
        index >> 16 & 255,
        index >> 8 & 255,
        index & 255
    );
    let instance = ModelInstance::new(format!("model-{}@llm", index % 10), host, 8001);
    ValidInstance::new(instance).expect("a valid instance")
}

type Registry = StorageModelRegistry<DieselStorage>;

/// Runs `op` on every instance, `rounds` times, split over `callers` concurrent tasks (each
/// its own slice of instances, one call at a time). Returns calls per second.
fn drive(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Registry>,
    instances: &Arc<Vec<ValidInstance>>,
    callers: usize,
    rounds: usize,
    heartbeat: bool,
) -> f64 {
    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..callers)
            .map(|caller| {
                let registry = Arc::clone(registry);
                let instances = Arc::clone(instances);
                tokio::spawn(async move {
                    for _ in 0..rounds {
                        for instance in instances.iter().skip(caller).step_by(callers) {
                            if heartbeat {
                                registry.send_heartbeat(instance.clone()).await.unwrap();
                            } else {
                                registry.register_instance(instance.clone()).await.unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    (instances.len() * rounds) as f64 / started.elapsed().as_secs_f64()
}

/// Heartbeats/s calling the storage itself from `callers` threads: the registry's own cost
/// (a hop to tokio's blocking pool per call) left out.
fn direct(
    storage: &Arc<DieselStorage>,
    instances: &Arc<Vec<ValidInstance>>,
    callers: usize,
) -> f64 {
    let rounds = CALLS.div_ceil(instances.len());
    let started = Instant::now();
    let threads: Vec<_> = (0..callers)
        .map(|caller| {
            let (storage, instances) = (Arc::clone(storage), Arc::clone(instances));
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    for instance in instances.iter().skip(caller).step_by(callers) {
                        storage.heartbeat(instance, Utc::now()).unwrap();
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    (instances.len() * rounds) as f64 / started.elapsed().as_secs_f64()
}

fn measure(backend: Backend, db: &FreshDatabase, callers: usize, size: usize) -> Row {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let config = PoolConfig::default().with_max_size(callers.max(2) as u32);
    let storage = DieselStorage::connect(db.url(), config).expect("connect");
    let storage = Arc::new(storage);
    // One caller at a time is the embedded case, where running calls in place saves a thread
    // hand-off per call; concurrent callers are the server's case, which the pool serves best.
    let blocking_calls = if callers == 1 {
        BlockingCalls::InPlace
    } else {
        BlockingCalls::Pool
    };
    let config = RegistryConfig::default().with_blocking_calls(blocking_calls);
    let registry = Arc::new(StorageModelRegistry::with_config(
        Arc::clone(&storage),
        config,
    ));
    let instances = Arc::new((0..size).map(instance).collect::<Vec<_>>());
    let rounds = CALLS.div_ceil(size);
    let inserts_per_s = drive(&runtime, &registry, &instances, callers, 1, false);
    let registrations_per_s = drive(&runtime, &registry, &instances, callers, rounds, false);
    let heartbeats_per_s = drive(&runtime, &registry, &instances, callers, rounds, true);
    let direct_heartbeats_per_s = direct(&storage, &instances, callers);
    let stored = registry
        .sync_get_all_instances("model-3@llm", true)
        .unwrap()
        .len();
    assert_eq!(stored, size / 10, "every instance stored once, healthy");
    Row {
        backend,
        callers,
        instances: size,
        inserts_per_s,
        registrations_per_s,
        heartbeats_per_s,
        direct_heartbeats_per_s,
    }
}

/// Heartbeats/s the backend must reach, and with how many callers.
fn target(backend: Backend) -> (usize, f64) {
    match backend {
        Backend::Sqlite => (1, 20_000.0),
        _ => (8, 5_000.0),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn main() {
    let chosen = std::env::var("REGISTRY_BENCH_BACKENDS").unwrap_or_default();
    let wanted = |backend: &Backend| {
        chosen.is_empty()
            || chosen
                .split(',')
                .any(|name| name.trim() == backend.feature())
    };
    let backends = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];
    let mut rows = Vec::new();
    for backend in backends
        .into_iter()
        .filter(|b| b.is_compiled() && wanted(b))
    {
        let (callers, _) = target(backend);
        for size in SIZES {
            match FreshDatabase::open(kit_backend(backend)) {
                Ok(db) => rows.push(measure(backend, &db, callers, size)),
                Err(reason) => {
                    println!("note: {backend} skipped: {reason}");
                    break;
                }
            }
        }
    }
    println!();
    println!(
        "{:<11} {:>7} {:>9} {:>11} {:>15} {:>13} {:>14}   heartbeat target",
        "backend",
        "callers",
        "instances",
        "inserts/s",
        "registrations/s",
        "heartbeats/s",
        "storage hb/s"
    );
    for row in &rows {
        let (_, goal) = target(row.backend);
        println!(
            "{:<11} {:>7} {:>9} {:>11.0} {:>15.0} {:>13.0} {:>14.0}   >= {goal:.0}/s {}",
            row.backend.to_string(),
            row.callers,
            row.instances,
            row.inserts_per_s,
            row.registrations_per_s,
            row.heartbeats_per_s,
            row.direct_heartbeats_per_s,
            verdict(row.heartbeats_per_s >= goal),
        );
    }
    println!();
    for pair in rows.chunks(2) {
        if let [small, large] = pair {
            let ratio = large.heartbeats_per_s / small.heartbeats_per_s;
            println!(
                "{:<11} heartbeats/s at 10,000 instances / at 100: {ratio:.2} (target >= 0.80) {}",
                small.backend.to_string(),
                verdict(ratio >= 0.8),
            );
        }
    }
    println!();
    println!(
        "inserts/s: first registration of each instance; registrations/s and heartbeats/s: \
         {CALLS} calls through StorageModelRegistry on a registry already holding the \
         instances (one caller: BlockingCalls::InPlace; several: BlockingCalls::Pool); \
         storage hb/s: the same heartbeats calling the storage from plain threads."
    );
}

/// The test kit's name for a backend.
fn kit_backend(backend: Backend) -> KitBackend {
    match backend {
        Backend::Sqlite => KitBackend::Sqlite,
        Backend::Postgres => KitBackend::Postgres,
        Backend::Mysql => KitBackend::Mysql,
        other => panic!("no benchmark databases for {other}"),
    }
}
