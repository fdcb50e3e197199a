//! registry-core's generic storage contract on every backend, checked against the in-memory
//! storage where results can be compared: DB-GPT's storage tests (save and load, duplicate
//! save, update, delete of a missing id, query by one and by several conditions, count,
//! pagination) and this crate's mapping of every column.

mod common;

use chrono::{DateTime, Utc};
use common::{TABLE, TestDb, valid};
use registry_core::{
    InMemoryStorage, InstanceSettings, InstanceStorage, ModelInstance, QuerySpec, Storage,
    StorageError,
};

fn instance(model: &str, port: u16) -> ModelInstance {
    ModelInstance::new(model, "10.0.0.1", port)
}

fn full_instance() -> ModelInstance {
    let mut instance = instance("glm-4-9b-chat@llm", 8001);
    instance.weight = 0.3;
    instance.check_healthy = false;
    instance.healthy = true;
    instance.enabled = false;
    instance.prompt_template = Some("chatglm3".to_owned());
    instance.last_heartbeat = DateTime::from_timestamp(1_700_000_000, 123_456_000);
    instance
}

/// Ten instances: model `a` on ports 1..=6 (even ports healthy), model `b` on ports 7..=10.
fn ten_instances() -> Vec<ModelInstance> {
    (1..=10)
        .map(|port| {
            let mut item = instance(if port <= 6 { "a" } else { "b" }, port);
            item.healthy = port % 2 == 0;
            item
        })
        .collect()
}

fn fill(storage: &dyn Storage<ModelInstance>, items: &[ModelInstance]) {
    for item in items {
        storage.save(item).unwrap();
    }
}

backend_tests!(
    save_then_load_keeps_every_field,
    duplicate_save_is_an_error,
    update_replaces_and_needs_an_existing_row,
    save_or_update_inserts_then_replaces,
    save_or_update_keeps_what_the_instance_does_not_hold,
    delete_removes_and_ignores_missing_ids,
    queries_match_the_in_memory_storage,
    paginate_ten_items_by_three,
    impossible_conditions_match_nothing,
    storage_reports_its_backend,
    listings_are_in_the_order_rows_were_written,
);

fn save_then_load_keeps_every_field(db: &TestDb) {
    let storage = db.storage();
    let item = full_instance();
    storage.save(&item).unwrap();
    let loaded = storage.load(&item.identifier().unwrap()).unwrap();
    assert_eq!(loaded, Some(item));
    let missing = instance("glm-4-9b-chat@llm", 9999).identifier().unwrap();
    assert_eq!(storage.load(&missing).unwrap(), None);
}

fn duplicate_save_is_an_error(db: &TestDb) {
    let storage = db.storage();
    storage.save(&instance("a", 1)).unwrap();
    let error = storage.save(&instance("a", 1)).unwrap_err();
    assert!(matches!(error, StorageError::Duplicate(_)), "{error:?}");
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 1);
}

fn update_replaces_and_needs_an_existing_row(db: &TestDb) {
    let storage = db.storage();
    let missing = storage.update(&instance("a", 1)).unwrap_err();
    assert!(matches!(missing, StorageError::NotFound(_)), "{missing:?}");
    storage.save(&instance("glm-4-9b-chat@llm", 8001)).unwrap();
    let item = full_instance();
    storage.update(&item).unwrap();
    // Writing the same values again still finds the row (MySQL counts found, not changed, rows).
    storage.update(&item).unwrap();
    assert_eq!(
        storage.load(&item.identifier().unwrap()).unwrap(),
        Some(item)
    );
}

fn save_or_update_inserts_then_replaces(db: &TestDb) {
    let storage = db.storage();
    let mut item = full_instance();
    storage.save_or_update(&item).unwrap();
    item.weight = 2.5;
    item.prompt_template = None;
    item.last_heartbeat = None;
    storage.save_or_update(&item).unwrap();
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 1);
    assert_eq!(
        storage.load(&item.identifier().unwrap()).unwrap(),
        Some(item)
    );
}

/// A replaced row keeps its creation time, DB-GPT's own columns and an operator's pinned
/// weight (which the next registration applies again); it takes every field of the instance,
/// its health and heartbeat included, and a new modification time.
fn save_or_update_keeps_what_the_instance_does_not_hold(db: &TestDb) {
    let storage = db.storage();
    let mut item = full_instance();
    storage.save_or_update(&item).unwrap();
    let id = item.identifier().unwrap();
    let pin = InstanceSettings::new().weight(0.0);
    assert!(storage.apply_settings(&id, &pin).unwrap());
    db.execute(&format!(
        "UPDATE {TABLE} SET user_name = 'bob', sys_code = 'dbgpt', \
         gmt_created = '2001-01-01 00:00:00', gmt_modified = '2001-01-01 00:00:00'"
    ));
    item.weight = 2.5;
    item.check_healthy = true;
    item.healthy = false;
    item.enabled = true;
    item.prompt_template = Some("vicuna".to_owned());
    item.last_heartbeat = DateTime::from_timestamp(1_700_000_100, 654_321_000);
    storage.save_or_update(&item).unwrap();
    assert_eq!(storage.load(&id).unwrap(), Some(item.clone()));
    let kept = db.raw().lines(&format!(
        "SELECT sys_code AS line FROM {TABLE} WHERE user_name = 'bob' \
         AND gmt_created < '2002-01-01 00:00:00' AND gmt_modified > '2002-01-01 00:00:00' \
         AND operator_weight = 0"
    ));
    assert_eq!(kept, ["dbgpt"]);
    storage.register(&valid(&item), Utc::now()).unwrap();
    assert_eq!(storage.load(&id).unwrap().unwrap().weight, 0.0);
}

fn delete_removes_and_ignores_missing_ids(db: &TestDb) {
    let storage = db.storage();
    fill(&storage, &[instance("a", 1), instance("a", 2)]);
    storage
        .delete(&instance("a", 1).identifier().unwrap())
        .unwrap();
    storage
        .delete(&instance("a", 1).identifier().unwrap())
        .unwrap();
    storage
        .delete(&instance("zz", 9).identifier().unwrap())
        .unwrap();
    let left: Vec<u16> = storage
        .query(&QuerySpec::new())
        .unwrap()
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(left, [2]);
}

fn queries_match_the_in_memory_storage(db: &TestDb) {
    let storage = db.storage();
    let memory = InMemoryStorage::new();
    let mut items = ten_instances();
    items[0].prompt_template = Some("vicuna".to_owned());
    items[1].last_heartbeat = DateTime::from_timestamp(1_700_000_000, 0);
    fill(&storage, &items);
    fill(&memory, &items);
    let specs = [
        QuerySpec::new(),
        QuerySpec::new().eq("model_name", "a"),
        QuerySpec::new().eq("model_name", "a").eq("healthy", true),
        QuerySpec::new()
            .eq("model_name", "b")
            .eq("healthy", false)
            .eq("port", 9_i64),
        QuerySpec::new().eq("host", "10.0.0.1").eq("enabled", true),
        QuerySpec::new().eq("weight", 1.0).eq("check_healthy", true),
        QuerySpec::new().eq("prompt_template", "vicuna"),
        QuerySpec::new().eq("prompt_template", None::<&str>),
        QuerySpec::new().eq("last_heartbeat", items[1].last_heartbeat),
        QuerySpec::new().eq("last_heartbeat", None::<DateTime<Utc>>),
        QuerySpec::new().eq("model_name", "a").limit(2),
        QuerySpec::new().offset(8),
    ];
    for spec in &specs {
        assert_eq!(
            storage.query(spec).unwrap(),
            memory.query(spec).unwrap(),
            "{spec:?}"
        );
        assert_eq!(
            storage.count(spec).unwrap(),
            memory.count(spec).unwrap(),
            "{spec:?}"
        );
    }
    let several = QuerySpec::new().eq("model_name", "a").eq("healthy", true);
    assert_eq!(storage.count(&several).unwrap(), 3);
    assert_eq!(
        storage.count(&several.clone().limit(1).offset(1)).unwrap(),
        3
    );
}

fn paginate_ten_items_by_three(db: &TestDb) {
    let storage = db.storage();
    let memory = InMemoryStorage::new();
    fill(&storage, &ten_instances());
    fill(&memory, &ten_instances());
    let all = QuerySpec::new();
    let page = storage.paginate_query(2, 3, &all).unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!((page.total_count, page.total_pages), (10, 4));
    assert_eq!((page.page, page.page_size), (2, 3));
    assert_eq!(page, memory.paginate_query(2, 3, &all).unwrap());
    let last = storage.paginate_query(4, 3, &all).unwrap();
    assert_eq!(last.items.len(), 1);
    let model_a = QuerySpec::new().eq("model_name", "a");
    assert_eq!(
        storage.paginate_query(2, 4, &model_a).unwrap(),
        memory.paginate_query(2, 4, &model_a).unwrap()
    );
    assert!(storage.paginate_query(0, 3, &all).is_err());
}

fn impossible_conditions_match_nothing(db: &TestDb) {
    let storage = db.storage();
    fill(&storage, &ten_instances());
    for spec in [
        QuerySpec::new().eq("no_such_column", 1_i64),
        QuerySpec::new().eq("port", "1"),
        QuerySpec::new().eq("healthy", 1_i64),
        QuerySpec::new().eq("model_name", "nobody"),
    ] {
        assert!(storage.query(&spec).unwrap().is_empty(), "{spec:?}");
        assert_eq!(storage.count(&spec).unwrap(), 0, "{spec:?}");
    }
}

fn storage_reports_its_backend(db: &TestDb) {
    let storage = db.storage();
    assert_eq!(storage.backend(), db.backend);
    assert!(storage.is_blocking());
}

fn listings_are_in_the_order_rows_were_written(db: &TestDb) {
    // DB-GPT's database registry lists rows as its query returns them: by id.
    let storage = db.storage();
    let now = Utc::now();
    for (model, port) in [("z@llm", 3), ("a@llm", 9), ("z@llm", 1)] {
        storage
            .heartbeat(&valid(&instance(model, port)), now)
            .unwrap();
    }
    let order: Vec<u16> = storage
        .query(&QuerySpec::new())
        .unwrap()
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(order, [3, 9, 1]);
}
