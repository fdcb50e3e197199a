//! The heartbeat checker in the background: it expires silent instances, survives a failing
//! storage, and stops cleanly. Tokio's paused clock and a manual registry clock stand in for
//! real time, so nothing here waits for a real timeout.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use registry_core::{
    InMemoryStorage, InstanceStorage, ManualClock, ModelInstance, ModelInstanceIdentifier,
    ModelRegistry, RegistryConfig, StorageError, StorageModelRegistry, ValidInstance,
};

/// An in-memory storage whose sweeps fail while `failures_left` is above zero, as a database
/// that went away and came back would.
#[derive(Default)]
struct FlakyStorage {
    inner: InMemoryStorage<ModelInstance>,
    failures_left: AtomicU32,
    sweeps_attempted: AtomicU32,
}

forward_storage!(FlakyStorage => inner, fn is_blocking(&self) -> bool { false });

impl InstanceStorage for FlakyStorage {
    fn register(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.inner.register(instance, now)
    }
    fn heartbeat(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.inner.heartbeat(instance, now)
    }
    fn deregister(&self, id: &ModelInstanceIdentifier, remove: bool) -> Result<(), StorageError> {
        self.inner.deregister(id, remove)
    }
    fn expire_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.sweeps_attempted.fetch_add(1, Ordering::SeqCst);
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            return Err(StorageError::Unavailable("database is down".into()));
        }
        self.inner.expire_stale(timeout, now)
    }
    fn remove_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.inner.remove_stale(timeout, now)
    }
}

fn registry_over(
    storage: Arc<FlakyStorage>,
    clock: Arc<ManualClock>,
) -> Arc<StorageModelRegistry<FlakyStorage>> {
    let config = RegistryConfig::default()
        .with_heartbeat_interval(Duration::from_secs(20))
        .with_heartbeat_timeout(Duration::from_secs(60));
    Arc::new(StorageModelRegistry::with_config(storage, config).with_clock(clock))
}

#[tokio::test(start_paused = true)]
async fn checker_expires_silent_instances_in_the_background() {
    let storage = Arc::new(FlakyStorage::default());
    let clock = Arc::new(ManualClock::default());
    let registry = registry_over(storage, clock.clone());
    let checker = registry.start_checker();
    registry
        .send_heartbeat(valid(&ModelInstance::new("m", "h", 1)))
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(
        registry.get_all_instances("m", true).await.unwrap().len(),
        1
    );

    clock.advance(chrono::Duration::seconds(61));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(
        registry
            .get_all_instances("m", true)
            .await
            .unwrap()
            .is_empty()
    );
    checker.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn checker_survives_a_failing_storage_and_recovers() {
    let storage = Arc::new(FlakyStorage::default());
    storage.failures_left.store(4, Ordering::SeqCst);
    let clock = Arc::new(ManualClock::default());
    let registry = registry_over(storage.clone(), clock.clone());
    registry
        .send_heartbeat(valid(&ModelInstance::new("m", "h", 1)))
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(61));
    let checker = registry.start_checker();

    // First sweep at 20 s fails, then retries after 1, 2, 4 s back-off: 4 failures by 27 s,
    // and the fifth attempt (8 s later, at 35 s) succeeds.
    tokio::time::sleep(Duration::from_secs(34)).await;
    assert_eq!(storage.sweeps_attempted.load(Ordering::SeqCst), 4);
    assert_eq!(
        registry.get_all_instances("m", true).await.unwrap().len(),
        1
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(storage.sweeps_attempted.load(Ordering::SeqCst), 5);
    assert!(
        registry
            .get_all_instances("m", true)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(registry.stats().sweep_failures, 4);

    // Back to the normal interval after recovering.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(storage.sweeps_attempted.load(Ordering::SeqCst), 6);
    checker.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn checker_stops_on_shutdown_and_on_drop() {
    let storage = Arc::new(FlakyStorage::default());
    let registry = registry_over(storage.clone(), Arc::new(ManualClock::default()));
    let checker = registry.start_checker();
    tokio::time::sleep(Duration::from_secs(41)).await;
    assert_eq!(storage.sweeps_attempted.load(Ordering::SeqCst), 2);
    checker.shutdown().await;
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(storage.sweeps_attempted.load(Ordering::SeqCst), 2);

    drop(registry.start_checker());
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(storage.sweeps_attempted.load(Ordering::SeqCst), 2);
}

/// The instance, validated; every instance these tests pass is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}
