//! The registry over the SQL storage on every backend: DB-GPT's storage-registry tests, driven
//! through `StorageModelRegistry` with an injected clock (no sleeping), and operator settings.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{TestDb, valid};
use registry_core::{
    InstanceSettings, InstanceStorage, ManualClock, ModelInstance, ModelRegistry, RegistryConfig,
    Storage, StorageModelRegistry,
};
use registry_diesel::DieselStorage;

type Registry = StorageModelRegistry<DieselStorage>;

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

fn registry(db: &TestDb, config: RegistryConfig) -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let registry =
        StorageModelRegistry::with_config(Arc::new(db.storage()), config).with_clock(clock.clone());
    (registry, clock)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn worker(model: &str, host: &str, port: u16) -> ModelInstance {
    ModelInstance::new(model, host, port)
}

backend_tests!(
    register_new_then_existing_makes_no_duplicate,
    deregister_marks_unhealthy_or_removes,
    get_all_filters_by_health_and_has_a_blocking_twin,
    heartbeat_registers_unknown_instances_and_refreshes_known_ones,
    checker_expires_then_heartbeat_revives,
    removal_timeout_deletes_silent_instances,
    instances_without_health_checks_never_expire,
    selection_picks_healthy_enabled_instances,
    settings_change_only_their_fields,
);

fn register_new_then_existing_makes_no_duplicate(db: &TestDb) {
    let (registry, clock) = registry(db, RegistryConfig::default());
    block_on(async {
        let mut instance = worker(" glm-4@llm ", "10.0.0.1 ", 8001);
        assert!(registry.register_instance(valid(&instance)).await.unwrap());
        clock.advance(chrono::Duration::seconds(5));
        instance.weight = 3.0;
        instance.prompt_template = Some("chatglm3".to_owned());
        registry.register_instance(valid(&instance)).await.unwrap();
        let all = registry.get_all_model_instances(false).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].model_name.as_str(), all[0].host.as_str()),
            ("glm-4@llm", "10.0.0.1")
        );
        assert_eq!(all[0].weight, 3.0);
        assert_eq!(all[0].prompt_template.as_deref(), Some("chatglm3"));
        assert!(all[0].healthy);
        assert_eq!(
            all[0].last_heartbeat,
            Some(start() + chrono::Duration::seconds(5))
        );
    });
}

fn deregister_marks_unhealthy_or_removes(db: &TestDb) {
    let (registry, _) = registry(db, RegistryConfig::default());
    block_on(async {
        let a = worker("m@llm", "10.0.0.1", 1);
        let b = worker("m@llm", "10.0.0.2", 2);
        registry.register_instance(valid(&a)).await.unwrap();
        registry.register_instance(valid(&b)).await.unwrap();
        registry.deregister_instance(valid(&a)).await.unwrap();
        let mut remove = b.clone();
        remove.remove_from_registry = true;
        registry.deregister_instance(valid(&remove)).await.unwrap();
        registry
            .deregister_instance(valid(&worker("gone@llm", "h", 9)))
            .await
            .unwrap();
        let all = registry.get_all_instances("m@llm", false).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].host, "10.0.0.1");
        assert!(!all[0].healthy);
    });
}

fn get_all_filters_by_health_and_has_a_blocking_twin(db: &TestDb) {
    let (registry, _) = registry(db, RegistryConfig::default());
    block_on(async {
        for port in 1..=3 {
            registry
                .register_instance(valid(&worker("m@llm", "h", port)))
                .await
                .unwrap();
        }
        registry
            .register_instance(valid(&worker("other@llm", "h", 9)))
            .await
            .unwrap();
        registry
            .deregister_instance(valid(&worker("m@llm", "h", 2)))
            .await
            .unwrap();
        let ports = |list: Vec<ModelInstance>| list.iter().map(|i| i.port).collect::<Vec<_>>();
        assert_eq!(
            ports(registry.get_all_instances("m@llm", false).await.unwrap()),
            [1, 2, 3]
        );
        assert_eq!(
            ports(registry.get_all_instances("m@llm", true).await.unwrap()),
            [1, 3]
        );
        assert_eq!(
            registry.get_all_model_instances(true).await.unwrap().len(),
            3
        );
    });
    let ports: Vec<u16> = registry
        .sync_get_all_instances("m@llm", true)
        .unwrap()
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(ports, [1, 3]);
}

fn heartbeat_registers_unknown_instances_and_refreshes_known_ones(db: &TestDb) {
    let (registry, clock) = registry(db, RegistryConfig::default());
    block_on(async {
        let instance = worker("m@llm", "h", 1);
        registry.send_heartbeat(valid(&instance)).await.unwrap();
        registry
            .deregister_instance(valid(&instance))
            .await
            .unwrap();
        clock.advance(chrono::Duration::seconds(20));
        registry.send_heartbeat(valid(&instance)).await.unwrap();
        let all = registry.get_all_instances("m@llm", true).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].last_heartbeat,
            Some(start() + chrono::Duration::seconds(20))
        );
    });
}

fn checker_expires_then_heartbeat_revives(db: &TestDb) {
    let config = RegistryConfig::default().with_heartbeat_timeout(Duration::from_secs(60));
    let (registry, clock) = registry(db, config);
    block_on(async {
        let instance = worker("m@llm", "h", 1);
        registry.register_instance(valid(&instance)).await.unwrap();
        clock.advance(chrono::Duration::seconds(60));
        assert_eq!(
            registry.sweep().await.unwrap().expired,
            0,
            "exactly the timeout is not stale"
        );
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(registry.sweep().await.unwrap().expired, 1);
        assert_eq!(
            registry.sweep().await.unwrap().expired,
            0,
            "already unhealthy"
        );
        assert!(
            registry
                .get_all_instances("m@llm", true)
                .await
                .unwrap()
                .is_empty()
        );
        registry.send_heartbeat(valid(&instance)).await.unwrap();
        assert_eq!(
            registry
                .get_all_instances("m@llm", true)
                .await
                .unwrap()
                .len(),
            1
        );
    });
}

fn removal_timeout_deletes_silent_instances(db: &TestDb) {
    let config = RegistryConfig::default()
        .with_heartbeat_timeout(Duration::from_secs(60))
        .with_removal_timeout(Some(Duration::from_secs(600)));
    let (registry, clock) = registry(db, config);
    block_on(async {
        registry
            .register_instance(valid(&worker("m@llm", "h", 1)))
            .await
            .unwrap();
        clock.advance(chrono::Duration::seconds(300));
        registry
            .register_instance(valid(&worker("m@llm", "h", 2)))
            .await
            .unwrap();
        clock.advance(chrono::Duration::seconds(301));
        let outcome = registry.sweep().await.unwrap();
        assert_eq!((outcome.expired, outcome.removed), (2, 1));
        let left = registry.get_all_instances("m@llm", false).await.unwrap();
        assert_eq!(left.iter().map(|i| i.port).collect::<Vec<_>>(), [2]);
    });
}

fn instances_without_health_checks_never_expire(db: &TestDb) {
    let storage = db.storage();
    let mut unchecked = worker("m@llm", "h", 1);
    unchecked.check_healthy = false;
    storage.register(&valid(&unchecked), start()).unwrap();
    storage
        .register(&valid(&worker("m@llm", "h", 2)), start())
        .unwrap();
    let later = start() + chrono::Duration::days(1);
    assert_eq!(
        storage
            .expire_stale(Duration::from_secs(60), later)
            .unwrap(),
        1
    );
    assert_eq!(
        storage
            .remove_stale(Duration::from_secs(60), later)
            .unwrap(),
        1
    );
    let left = storage.instances(None, true).unwrap();
    assert_eq!(left.iter().map(|i| i.port).collect::<Vec<_>>(), [1]);
}

fn selection_picks_healthy_enabled_instances(db: &TestDb) {
    let (registry, _) = registry(db, RegistryConfig::default());
    let registry = registry.with_seed(7);
    block_on(async {
        let mut disabled = worker("m@llm", "h", 1);
        disabled.enabled = false;
        registry.register_instance(valid(&disabled)).await.unwrap();
        registry
            .register_instance(valid(&worker("m@llm", "h", 2)))
            .await
            .unwrap();
        registry
            .register_instance(valid(&worker("m@llm", "h", 3)))
            .await
            .unwrap();
        registry
            .deregister_instance(valid(&worker("m@llm", "h", 3)))
            .await
            .unwrap();
        for _ in 0..20 {
            let chosen = registry.select_one_health_instance("m@llm").await.unwrap();
            assert_eq!(chosen.map(|i| i.port), Some(2));
        }
        assert_eq!(
            registry
                .select_one_health_instance("none@llm")
                .await
                .unwrap(),
            None
        );
    });
}

fn settings_change_only_their_fields(db: &TestDb) {
    let storage = db.storage();
    let instance = worker("m@llm", "h", 1);
    storage.register(&valid(&instance), start()).unwrap();
    let id = instance.identifier().unwrap();
    assert!(
        storage
            .apply_settings(&id, &InstanceSettings::new().weight(4.0))
            .unwrap()
    );
    assert!(
        storage
            .apply_settings(&id, &InstanceSettings::new().enabled(false))
            .unwrap()
    );
    assert!(
        storage
            .apply_settings(&id, &InstanceSettings::new())
            .unwrap()
    );
    let stored = storage.load(&id).unwrap().unwrap();
    assert_eq!(
        (stored.weight, stored.enabled, stored.healthy),
        (4.0, false, true)
    );
    assert_eq!(stored.last_heartbeat, Some(start()));
    let missing = worker("m@llm", "h", 2).identifier().unwrap();
    assert!(
        !storage
            .apply_settings(&missing, &InstanceSettings::new().weight(1.0))
            .unwrap()
    );
    assert!(
        storage
            .apply_settings(&id, &InstanceSettings::new().weight(f64::NAN))
            .is_err()
    );
}
