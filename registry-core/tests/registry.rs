//! DB-GPT's registry tests (embedded and storage registry), ported to the in-memory storage.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use registry_core::{
    InMemoryStorage, ManualClock, ModelInstance, ModelRegistry, QuerySpec, RegistryConfig, Storage,
    StorageModelRegistry, ValidInstance,
};

struct Fixture {
    registry: StorageModelRegistry<InMemoryStorage<ModelInstance>>,
    clock: Arc<ManualClock>,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
    ));
    let config = RegistryConfig::default()
        .with_heartbeat_interval(Duration::from_secs(20))
        .with_heartbeat_timeout(Duration::from_secs(60));
    let registry = StorageModelRegistry::with_config(Arc::new(InMemoryStorage::new()), config)
        .with_clock(clock.clone())
        .with_seed(7);
    Fixture { registry, clock }
}

impl Fixture {
    async fn register(&self, instance: &ModelInstance) -> bool {
        self.registry
            .register_instance(valid(instance))
            .await
            .unwrap()
    }

    async fn beat(&self, instance: &ModelInstance) -> bool {
        self.registry.send_heartbeat(valid(instance)).await.unwrap()
    }

    async fn deregister(&self, instance: &ModelInstance) -> bool {
        self.registry
            .deregister_instance(valid(instance))
            .await
            .unwrap()
    }

    async fn list(&self, model: &str, healthy_only: bool) -> Vec<ModelInstance> {
        self.registry
            .get_all_instances(model, healthy_only)
            .await
            .unwrap()
    }
}

fn instance(model: &str, port: u16) -> ModelInstance {
    ModelInstance::new(model, "127.0.0.1", port)
}

#[tokio::test]
async fn register_marks_healthy_with_heartbeat() {
    let f = fixture();
    assert!(f.register(&instance("m", 8000)).await);
    let all = f.list("m", false).await;
    assert_eq!(all.len(), 1);
    assert!(all[0].healthy);
    assert_eq!(all[0].last_heartbeat, Some(f.clock.now_for_test()));
}

#[tokio::test]
async fn register_existing_makes_no_duplicate_and_updates_weight() {
    let f = fixture();
    f.register(&instance("m", 8000)).await;
    let mut again = instance("m", 8000);
    again.weight = 2.5;
    again.prompt_template = Some("vicuna".into());
    f.register(&again).await;
    let all = f.list("m", false).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].weight, 2.5);
    assert_eq!(all[0].prompt_template.as_deref(), Some("vicuna"));
}

#[tokio::test]
async fn deregister_keeps_entry_unhealthy() {
    let f = fixture();
    f.register(&instance("m", 8000)).await;
    assert!(f.deregister(&instance("m", 8000)).await);
    let all = f.list("m", false).await;
    assert_eq!(all.len(), 1);
    assert!(!all[0].healthy);
}

#[tokio::test]
async fn deregister_with_remove_deletes_and_missing_is_fine() {
    let f = fixture();
    f.register(&instance("m", 8000)).await;
    let mut remove = instance("m", 8000);
    remove.remove_from_registry = true;
    assert!(f.deregister(&remove).await);
    assert!(f.list("m", false).await.is_empty());
    assert!(f.deregister(&remove).await);
    assert!(f.deregister(&instance("other", 1)).await);
}

#[tokio::test]
async fn get_all_with_and_without_healthy_only() {
    let f = fixture();
    f.register(&instance("m", 8000)).await;
    f.register(&instance("m", 8001)).await;
    f.register(&instance("n", 8002)).await;
    f.deregister(&instance("m", 8001)).await;
    assert_eq!(f.list("m", false).await.len(), 2);
    let healthy = f.list("m", true).await;
    assert_eq!(healthy.iter().map(|i| i.port).collect::<Vec<_>>(), [8000]);
    assert_eq!(
        f.registry
            .get_all_model_instances(false)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        f.registry
            .get_all_model_instances(true)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        f.registry.sync_get_all_instances("m", true).unwrap(),
        healthy
    );
}

#[tokio::test]
async fn select_one_returns_a_healthy_enabled_instance() {
    let f = fixture();
    assert_eq!(
        f.registry.select_one_health_instance("m").await.unwrap(),
        None
    );
    let mut disabled = instance("m", 8000);
    disabled.enabled = false;
    f.register(&disabled).await;
    f.register(&instance("m", 8001)).await;
    f.register(&instance("m", 8002)).await;
    f.deregister(&instance("m", 8002)).await;
    for _ in 0..50 {
        let chosen = f
            .registry
            .select_one_health_instance("m")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(chosen.port, 8001);
    }
}

#[tokio::test]
async fn heartbeat_refreshes_last_heartbeat_and_health() {
    let f = fixture();
    f.register(&instance("m", 8000)).await;
    f.deregister(&instance("m", 8000)).await;
    f.clock.advance(chrono::Duration::seconds(30));
    f.beat(&instance("m", 8000)).await;
    let stored = f
        .registry
        .get_all_instances("m", false)
        .await
        .unwrap()
        .remove(0);
    assert!(stored.healthy);
    assert_eq!(stored.last_heartbeat, Some(f.clock.now_for_test()));
}

#[tokio::test]
async fn heartbeat_for_new_instance_registers_it() {
    let f = fixture();
    f.beat(&instance("m", 8000)).await;
    let all = f.list("m", true).await;
    assert_eq!(all.len(), 1);
    assert_eq!(f.registry.storage().count(&QuerySpec::new()).unwrap(), 1);
}

#[tokio::test]
async fn timeout_marks_unhealthy_and_heartbeat_brings_back() {
    let f = fixture();
    f.register(&instance("m", 8000)).await;
    f.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        f.registry.sweep().await.unwrap().expired,
        0,
        "exactly at the timeout is alive"
    );
    f.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(f.registry.sweep().await.unwrap().expired, 1);
    assert!(f.list("m", true).await.is_empty());
    f.beat(&instance("m", 8000)).await;
    assert_eq!(f.list("m", true).await.len(), 1);
    assert_eq!(f.registry.stats().expired, 1);
}

#[tokio::test]
async fn several_instances_of_one_model_on_different_hosts_and_ports() {
    let f = fixture();
    f.register(&ModelInstance::new("m", "10.0.0.1", 8000)).await;
    f.register(&ModelInstance::new("m", "10.0.0.2", 8000)).await;
    f.register(&ModelInstance::new("m", "10.0.0.1", 8001)).await;
    f.register(&ModelInstance::new("other", "10.0.0.1", 8000))
        .await;
    assert_eq!(f.list("m", true).await.len(), 3);
    assert_eq!(f.list("other", true).await.len(), 1);
}

#[tokio::test]
async fn removal_after_second_timeout_is_optional() {
    let clock = Arc::new(ManualClock::default());
    let config = RegistryConfig::default().with_removal_timeout(Some(Duration::from_secs(300)));
    let registry = StorageModelRegistry::with_config(Arc::new(InMemoryStorage::new()), config)
        .with_clock(clock.clone());
    registry
        .register_instance(valid(&instance("m", 8000)))
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(120));
    assert_eq!(registry.sweep().await.unwrap().removed, 0);
    clock.advance(chrono::Duration::seconds(181));
    assert_eq!(registry.sweep().await.unwrap().removed, 1);
    assert!(
        registry
            .get_all_model_instances(false)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn weighted_selection_follows_weights() {
    let f = fixture();
    for (port, weight) in [(1, 1.0), (2, 3.0), (3, 0.0)] {
        let mut i = instance("m", port);
        i.weight = weight;
        f.register(&i).await;
    }
    let mut negative = instance("m", 4);
    negative.weight = -2.0;
    // A negative weight never becomes a `ValidInstance`, so it cannot be registered.
    assert!(ValidInstance::new(negative).is_err());
    let draws = 40_000;
    let mut counts = [0_u32; 5];
    for _ in 0..draws {
        let chosen = f
            .registry
            .select_one_health_instance("m")
            .await
            .unwrap()
            .unwrap();
        counts[usize::from(chosen.port)] += 1;
    }
    assert_eq!(counts[3] + counts[4], 0, "weight 0 is never picked");
    let share = f64::from(counts[2]) / f64::from(draws);
    assert!(
        (share - 0.75).abs() < 0.02,
        "weight 3 of 4 got share {share}"
    );
}

trait NowForTest {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc>;
}

impl NowForTest for ManualClock {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc> {
        registry_core::Clock::now(self)
    }
}

#[tokio::test]
async fn operator_settings_change_only_their_fields() {
    use registry_core::{InstanceSettings, ModelInstanceIdentifier};
    let f = fixture();
    f.register(&instance("m", 8000)).await;
    let id = ModelInstanceIdentifier::new("m", "127.0.0.1", 8000).unwrap();
    let disable = InstanceSettings::new().enabled(false).weight(4.0);
    assert!(
        f.registry
            .update_instance_settings(&id, disable)
            .await
            .unwrap()
    );
    f.clock.advance(chrono::Duration::seconds(5));
    f.beat(&instance("m", 8000)).await;
    let stored = f
        .registry
        .get_all_instances("m", false)
        .await
        .unwrap()
        .remove(0);
    assert!(!stored.enabled && stored.healthy);
    assert_eq!(stored.weight, 4.0);
    assert_eq!(
        f.registry.select_one_health_instance("m").await.unwrap(),
        None
    );

    let missing = ModelInstanceIdentifier::new("m", "127.0.0.1", 1).unwrap();
    assert!(
        !f.registry
            .update_instance_settings(&missing, disable)
            .await
            .unwrap()
    );
    let negative = InstanceSettings::new().weight(-1.0);
    let error = f
        .registry
        .update_instance_settings(&id, negative)
        .await
        .unwrap_err();
    assert!(matches!(error, registry_core::RegistryError::Invalid(e) if e.field() == "weight"));
}

/// The instance, validated; every instance these tests pass is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}
