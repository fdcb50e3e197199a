//! Heartbeat coalescing: repeated heartbeats within the window skip the storage write, and
//! never at the cost of correctness.

use std::sync::Arc;
use std::time::Duration;

use registry_core::{
    Clock, InMemoryStorage, ManualClock, ModelInstance, ModelRegistry, RegistryConfig,
    StorageModelRegistry, ValidInstance,
};

fn registry(
    window: Duration,
) -> (
    StorageModelRegistry<InMemoryStorage<ModelInstance>>,
    Arc<ManualClock>,
) {
    let clock = Arc::new(ManualClock::default());
    let config = RegistryConfig::default()
        .with_heartbeat_timeout(Duration::from_secs(60))
        .with_heartbeat_coalesce_window(Some(window));
    let registry = StorageModelRegistry::with_config(Arc::new(InMemoryStorage::new()), config)
        .with_clock(clock.clone());
    (registry, clock)
}

async fn stored(registry: &StorageModelRegistry<InMemoryStorage<ModelInstance>>) -> ModelInstance {
    registry
        .get_all_instances("m", false)
        .await
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn heartbeats_within_the_window_skip_the_write() {
    let (registry, clock) = registry(Duration::from_secs(10));
    let instance = ModelInstance::new("m", "h", 1);
    let first = clock.now();
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    clock.advance(chrono::Duration::seconds(5));
    registry
        .send_heartbeat(valid(&ModelInstance::new(" m ", "h", 1)))
        .await
        .unwrap();
    assert_eq!(stored(&registry).await.last_heartbeat, Some(first));
    assert_eq!(registry.stats().heartbeats_coalesced, 1);
    assert_eq!(registry.stats().heartbeats, 2);

    clock.advance(chrono::Duration::seconds(6));
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    assert_eq!(stored(&registry).await.last_heartbeat, Some(clock.now()));
}

#[tokio::test]
async fn a_deregistered_instance_is_written_at_its_next_heartbeat() {
    let (registry, clock) = registry(Duration::from_secs(10));
    let instance = ModelInstance::new("m", "h", 1);
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    registry
        .deregister_instance(valid(&instance))
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(1));
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    assert!(stored(&registry).await.healthy);
    assert_eq!(registry.stats().heartbeats_coalesced, 0);
}

#[tokio::test]
async fn the_window_is_capped_at_a_third_of_the_timeout() {
    let config = RegistryConfig::default()
        .with_heartbeat_timeout(Duration::from_secs(60))
        .with_heartbeat_coalesce_window(Some(Duration::from_secs(45)));
    assert_eq!(
        config.effective_coalesce_window(),
        Some(Duration::from_secs(20))
    );
    let (registry, clock) = registry(Duration::from_secs(45));
    let instance = ModelInstance::new("m", "h", 1);
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    clock.advance(chrono::Duration::seconds(21));
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    assert_eq!(registry.stats().heartbeats_coalesced, 0);
    // A beating instance never expires: the stored heartbeat lags by at most the window.
    clock.advance(chrono::Duration::seconds(19));
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    clock.advance(chrono::Duration::seconds(20));
    registry.send_heartbeat(valid(&instance)).await.unwrap();
    assert_eq!(registry.sweep().await.unwrap().expired, 0);
    assert_eq!(
        RegistryConfig::default()
            .with_heartbeat_coalesce_window(Some(Duration::ZERO))
            .effective_coalesce_window(),
        None
    );
}

/// The instance, validated; every instance these tests pass is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}
