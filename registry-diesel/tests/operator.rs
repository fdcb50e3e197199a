//! Operator settings win over the worker's registrations, the health count, and input the
//! core rejects, on every backend.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{TestDb, valid};
use registry_core::{
    HealthCounts, InMemoryStorage, InstanceSettings, InstanceStorage, ModelCountsPage,
    ModelInstance, ModelRegistry, QuerySpec, Storage, StorageModelRegistry, ValidInstance,
    ValidationError,
};

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap()
        .block_on(future)
}

backend_tests!(
    operator_weight_and_enabled_survive_registrations,
    an_enabled_change_leaves_the_weight_to_the_worker,
    health_counts_group_the_rows,
    model_counts_group_the_rows_by_model_and_state,
    control_characters_and_negative_weights_store_nothing,
);

fn operator_weight_and_enabled_survive_registrations(db: &TestDb) {
    let storage = db.storage();
    let mut worker = ModelInstance::new("m@llm", "h", 1);
    worker.weight = 3.0;
    storage.register(&valid(&worker), start()).unwrap();
    let id = worker.identifier().unwrap();
    let drain = InstanceSettings::new().weight(0.0).enabled(false);
    assert!(storage.apply_settings(&id, &drain).unwrap());
    for _ in 0..2 {
        storage.register(&valid(&worker), start()).unwrap();
        storage.heartbeat(&valid(&worker), start()).unwrap();
        let stored = storage.load(&id).unwrap().unwrap();
        assert_eq!((stored.weight, stored.enabled), (0.0, false));
        assert!(stored.healthy);
    }
    // A second operator change is the one that is kept.
    let restore = InstanceSettings::new().weight(2.0).enabled(true);
    assert!(storage.apply_settings(&id, &restore).unwrap());
    storage.register(&valid(&worker), start()).unwrap();
    let stored = storage.load(&id).unwrap().unwrap();
    assert_eq!((stored.weight, stored.enabled), (2.0, true));
    // Released, the weight is the worker's again from its next register on.
    let release = InstanceSettings::new().release_weight();
    assert!(storage.apply_settings(&id, &release).unwrap());
    assert_eq!(storage.load(&id).unwrap().unwrap().weight, 2.0);
    storage.register(&valid(&worker), start()).unwrap();
    assert_eq!(storage.load(&id).unwrap().unwrap().weight, 3.0);
}

fn an_enabled_change_leaves_the_weight_to_the_worker(db: &TestDb) {
    let storage = db.storage();
    let mut worker = ModelInstance::new("m@llm", "h", 1);
    storage.register(&valid(&worker), start()).unwrap();
    let id = worker.identifier().unwrap();
    let disable = InstanceSettings::new().enabled(false);
    assert!(storage.apply_settings(&id, &disable).unwrap());
    worker.weight = 4.0;
    storage.register(&valid(&worker), start()).unwrap();
    let stored = storage.load(&id).unwrap().unwrap();
    assert_eq!((stored.weight, stored.enabled), (4.0, false));
}

fn health_counts_group_the_rows(db: &TestDb) {
    let storage = db.storage();
    assert_eq!(storage.count_by_health().unwrap(), HealthCounts::default());
    for port in 1..=5 {
        let worker = ModelInstance::new("m@llm", "h", port);
        storage.heartbeat(&valid(&worker), start()).unwrap();
    }
    storage.save(&ModelInstance::new("m@llm", "h", 9)).unwrap();
    let first = ModelInstance::new("m@llm", "h", 1).identifier().unwrap();
    storage.deregister(&first, false).unwrap();
    let expected = HealthCounts {
        healthy: 4,
        unhealthy: 2,
    };
    assert_eq!(storage.count_by_health().unwrap(), expected);
}

/// `b@llm`: two healthy, one unhealthy (deregistered), one disabled; `a@llm`: one unhealthy
/// (saved, never beating); `c@llm`: one healthy.
fn fill_models(storage: &dyn InstanceStorage) {
    for port in 1..=4 {
        let worker = ModelInstance::new("b@llm", "h", port);
        storage.heartbeat(&valid(&worker), start()).unwrap();
    }
    let b1 = ModelInstance::new("b@llm", "h", 1).identifier().unwrap();
    storage.deregister(&b1, false).unwrap();
    let b4 = ModelInstance::new("b@llm", "h", 4).identifier().unwrap();
    let disable = InstanceSettings::new().enabled(false);
    assert!(storage.apply_settings(&b4, &disable).unwrap());
    storage.save(&ModelInstance::new("a@llm", "h", 1)).unwrap();
    let c = ModelInstance::new("c@llm", "h", 1);
    storage.heartbeat(&valid(&c), start()).unwrap();
}

fn model_counts_group_the_rows_by_model_and_state(db: &TestDb) {
    let storage = db.storage();
    assert_eq!(
        storage.count_by_model(10).unwrap(),
        ModelCountsPage::default()
    );
    fill_models(&storage);
    let all = storage.count_by_model(10).unwrap();
    let rows: Vec<(&str, u64, u64, u64)> = all
        .models
        .iter()
        .map(|m| (m.model_name.as_str(), m.healthy, m.unhealthy, m.disabled))
        .collect();
    assert_eq!(
        rows,
        [("a@llm", 0, 1, 0), ("b@llm", 2, 1, 1), ("c@llm", 1, 0, 0)]
    );
    assert!(!all.more);
    let first_two = storage.count_by_model(2).unwrap();
    assert_eq!(first_two.models, all.models[..2]);
    assert!(first_two.more, "a third model exists");
    // The in-memory storage counts the same rows the same way.
    let memory = InMemoryStorage::<ModelInstance>::new();
    fill_models(&memory);
    assert_eq!(memory.count_by_model(10).unwrap(), all);
}

fn control_characters_and_negative_weights_store_nothing(db: &TestDb) {
    let storage = Arc::new(db.storage());
    let registry = StorageModelRegistry::new(Arc::clone(&storage));
    let negative = ModelInstance {
        weight: -5.0,
        ..ModelInstance::new("m", "h", 1)
    };
    let cases = [
        (ModelInstance::new("m\u{0}", "h", 1), "model_name"),
        (ModelInstance::new("m", "h\u{7}", 1), "host"),
        (
            ModelInstance {
                prompt_template: Some("t\u{7F}".to_owned()),
                ..ModelInstance::new("m", "h", 1)
            },
            "prompt_template",
        ),
        (negative, "weight"),
    ];
    // The registry's writes and the storage's register and heartbeat take a `ValidInstance`,
    // which none of these can become, so none reaches the table.
    for (instance, field) in &cases {
        let error = ValidInstance::new(instance.clone()).expect_err("should be rejected");
        assert_eq!(error.field(), *field, "{instance:?}");
    }
    block_on(async {
        let valid_one = valid(&ModelInstance::new("m", "h", 1));
        registry.register_instance(valid_one).await.unwrap();
        let removal = ValidInstance::new(ModelInstance {
            remove_from_registry: true,
            ..ModelInstance::new("m", "h", 1)
        })
        .unwrap();
        registry.deregister_instance(removal).await.unwrap();
    });
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 0);
    let error = ModelInstance::new("m\u{0}", "h", 1)
        .identifier()
        .unwrap_err();
    assert_eq!(
        error,
        ValidationError::ControlCharacter {
            field: "model_name"
        }
    );
}
