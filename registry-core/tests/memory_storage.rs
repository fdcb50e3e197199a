//! DB-GPT's in-memory storage tests, ported, plus the atomic instance operations.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use registry_core::{
    HealthCounts, InMemoryStorage, InstanceSettings, InstanceStorage, ModelInstance, QuerySpec,
    Storage, StorageError, ValidInstance,
};

fn instance(i: u16) -> ModelInstance {
    ModelInstance::new(format!("model-{}", i % 2), "10.0.0.1", 8000 + i)
}

#[test]
fn save_then_load() {
    let storage = InMemoryStorage::new();
    let item = instance(1);
    storage.save(&item).unwrap();
    let loaded = storage.load(&item.identifier().unwrap()).unwrap();
    assert_eq!(loaded, Some(item));
}

#[test]
fn duplicate_save_is_an_error() {
    let storage = InMemoryStorage::new();
    storage.save(&instance(1)).unwrap();
    assert!(matches!(
        storage.save(&instance(1)),
        Err(StorageError::Duplicate(_))
    ));
}

#[test]
fn update_replaces_and_requires_existence() {
    let storage = InMemoryStorage::new();
    let mut item = instance(1);
    assert!(matches!(
        storage.update(&item),
        Err(StorageError::NotFound(_))
    ));
    storage.save(&item).unwrap();
    item.weight = 3.0;
    storage.update(&item).unwrap();
    assert_eq!(
        storage
            .load(&item.identifier().unwrap())
            .unwrap()
            .unwrap()
            .weight,
        3.0
    );
    item.weight = 4.0;
    storage.save_or_update(&item).unwrap();
    storage.save_or_update(&instance(2)).unwrap();
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 2);
    assert_eq!(
        storage
            .load(&item.identifier().unwrap())
            .unwrap()
            .unwrap()
            .weight,
        4.0
    );
}

#[test]
fn delete_removes_and_missing_is_fine() {
    let storage = InMemoryStorage::new();
    let item = instance(1);
    storage.save(&item).unwrap();
    storage.delete(&item.identifier().unwrap()).unwrap();
    assert_eq!(storage.load(&item.identifier().unwrap()).unwrap(), None);
    storage.delete(&item.identifier().unwrap()).unwrap();
}

#[test]
fn query_by_one_and_several_conditions() {
    let storage = InMemoryStorage::new();
    for i in 0..10 {
        let mut item = instance(i);
        item.healthy = i < 4;
        storage.save(&item).unwrap();
    }
    let model_0 = storage
        .query(&QuerySpec::new().eq("model_name", "model-0"))
        .unwrap();
    assert_eq!(model_0.len(), 5);
    assert!(model_0.iter().all(|i| i.model_name == "model-0"));
    let spec = QuerySpec::new()
        .eq("model_name", "model-0")
        .eq("healthy", true);
    assert_eq!(storage.query(&spec).unwrap().len(), 2);
    assert_eq!(
        storage
            .query(&QuerySpec::new().eq("port", 8003_i64))
            .unwrap()[0]
            .port,
        8003
    );
    assert!(
        storage
            .query(&QuerySpec::new().eq("no_such_field", 1_i64))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn count_ignores_limit_and_offset() {
    let storage = InMemoryStorage::new();
    for i in 0..10 {
        storage.save(&instance(i)).unwrap();
    }
    let spec = QuerySpec::new()
        .eq("model_name", "model-1")
        .limit(2)
        .offset(1);
    assert_eq!(storage.count(&spec).unwrap(), 5);
    assert_eq!(storage.query(&spec).unwrap().len(), 2);
}

#[test]
fn paginate_ten_items_page_two_of_three() {
    let storage = InMemoryStorage::new();
    for i in 0..10 {
        storage.save(&instance(i)).unwrap();
    }
    let page = storage.paginate_query(2, 3, &QuerySpec::new()).unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(
        (
            page.total_count,
            page.total_pages,
            page.page,
            page.page_size
        ),
        (10, 4, 2, 3)
    );
    let last = storage.paginate_query(4, 3, &QuerySpec::new()).unwrap();
    assert_eq!(last.items.len(), 1);
    assert!(matches!(
        storage.paginate_query(0, 3, &QuerySpec::new()),
        Err(StorageError::InvalidArgument(_))
    ));
}

#[test]
fn sweep_marks_only_checked_stale_healthy_instances() {
    let storage = InMemoryStorage::new();
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut unchecked = instance(1);
    unchecked.check_healthy = false;
    storage.register(&valid(&instance(0)), start).unwrap();
    storage.register(&valid(&unchecked), start).unwrap();
    storage
        .register(&valid(&instance(2)), start + chrono::Duration::seconds(50))
        .unwrap();
    let now = start + chrono::Duration::seconds(61);
    assert_eq!(
        storage.expire_stale(Duration::from_secs(60), now).unwrap(),
        1
    );
    let healthy: Vec<u16> = storage
        .instances(None, true)
        .unwrap()
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(
        healthy,
        [8002, 8001],
        "sorted by model, then host, then port"
    );
    // A second sweep finds nothing new: the count is of instances it changed.
    assert_eq!(
        storage.expire_stale(Duration::from_secs(60), now).unwrap(),
        0
    );
    assert_eq!(
        storage.remove_stale(Duration::from_secs(60), now).unwrap(),
        1
    );
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 2);
}

#[test]
fn heartbeat_keeps_operator_fields_and_register_updates_weight() {
    let storage = InMemoryStorage::new();
    let now = Utc::now();
    let mut first = instance(1);
    first.enabled = false;
    storage.register(&valid(&first), now).unwrap();
    let mut beat = instance(1);
    beat.weight = 9.0;
    storage.heartbeat(&valid(&beat), now).unwrap();
    let stored = storage.instances(None, false).unwrap().remove(0);
    assert!(!stored.enabled && stored.healthy);
    assert_eq!(stored.weight, 1.0);
    storage.register(&valid(&beat), now).unwrap();
    assert_eq!(storage.instances(None, false).unwrap()[0].weight, 9.0);
}

#[test]
fn operator_weight_and_enabled_survive_the_workers_registrations() {
    let storage = InMemoryStorage::new();
    let now = Utc::now();
    let mut worker = instance(1);
    worker.weight = 3.0;
    storage.register(&valid(&worker), now).unwrap();
    let id = worker.identifier().unwrap();
    let drain = InstanceSettings::new().weight(0.0).enabled(false);
    assert!(storage.apply_settings(&id, &drain).unwrap());
    for _ in 0..2 {
        storage.register(&valid(&worker), now).unwrap();
        storage.heartbeat(&valid(&worker), now).unwrap();
        let stored = storage.load(&id).unwrap().unwrap();
        assert_eq!((stored.weight, stored.enabled), (0.0, false));
    }
    // The operator changes them again; the new values are the ones kept.
    let restore = InstanceSettings::new().weight(2.0).enabled(true);
    storage.apply_settings(&id, &restore).unwrap();
    storage.register(&valid(&worker), now).unwrap();
    let stored = storage.load(&id).unwrap().unwrap();
    assert_eq!((stored.weight, stored.enabled), (2.0, true));
    // Released, the weight is the worker's again from its next register on.
    let release = InstanceSettings::new().release_weight();
    storage.apply_settings(&id, &release).unwrap();
    assert_eq!(storage.load(&id).unwrap().unwrap().weight, 2.0);
    storage.register(&valid(&worker), now).unwrap();
    assert_eq!(storage.load(&id).unwrap().unwrap().weight, 3.0);
}

#[test]
fn enabled_alone_leaves_the_weight_to_the_worker() {
    let storage = InMemoryStorage::new();
    let now = Utc::now();
    let mut worker = instance(1);
    storage.register(&valid(&worker), now).unwrap();
    let id = worker.identifier().unwrap();
    storage
        .apply_settings(&id, &InstanceSettings::new().enabled(false))
        .unwrap();
    worker.weight = 4.0;
    storage.register(&valid(&worker), now).unwrap();
    let stored = storage.load(&id).unwrap().unwrap();
    assert_eq!((stored.weight, stored.enabled), (4.0, false));
}

#[test]
fn health_counts_split_healthy_from_unhealthy() {
    let storage = InMemoryStorage::new();
    let now = Utc::now();
    assert_eq!(storage.count_by_health().unwrap(), HealthCounts::default());
    for i in 0..5 {
        storage.heartbeat(&valid(&instance(i)), now).unwrap();
    }
    storage.save(&instance(9)).unwrap();
    storage
        .deregister(&instance(0).identifier().unwrap(), false)
        .unwrap();
    assert_eq!(
        storage.count_by_health().unwrap(),
        HealthCounts {
            healthy: 4,
            unhealthy: 2
        }
    );
    assert!(storage.check_ready().is_ok());
}

/// The instance, validated; every instance these tests pass is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}

#[test]
fn listings_keep_dbgpts_order() {
    // DB-GPT's in-memory registry lists models in the order each was first seen, and each
    // model's instances in the order they came; this storage lists them the same way.
    let storage = InMemoryStorage::new();
    let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    for (model, port) in [
        ("z@llm", 3),
        ("a@llm", 9),
        ("z@llm", 1),
        ("m@llm", 5),
        ("a@llm", 2),
    ] {
        storage
            .heartbeat(&valid(&ModelInstance::new(model, "h", port)), now)
            .unwrap();
    }
    let order: Vec<(String, u16)> = storage
        .instances(None, false)
        .unwrap()
        .into_iter()
        .map(|i| (i.model_name, i.port))
        .collect();
    let expected = [
        ("z@llm", 3),
        ("z@llm", 1),
        ("a@llm", 9),
        ("a@llm", 2),
        ("m@llm", 5),
    ];
    let expected: Vec<(String, u16)> = expected
        .iter()
        .map(|(m, p)| ((*m).to_owned(), *p))
        .collect();
    assert_eq!(order, expected);
    // A model is placed by its oldest instance still stored.
    let id = ModelInstance::new("z@llm", "h", 3).identifier().unwrap();
    storage.deregister(&id, true).unwrap();
    let ports: Vec<u16> = storage
        .instances(None, false)
        .unwrap()
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(ports, [9, 2, 1, 5]);
}
