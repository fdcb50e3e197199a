//! Rows DB-GPT accepts but no instance of ours can hold, written with raw SQL as a DB-GPT
//! controller or a hand edit leaves them: listings answer with the rest, NULL flags read as
//! DB-GPT reads them, padded names are listed as stored and replaced when their worker
//! registers.

mod common;

use common::{TestDb, valid};
use registry_core::{InstanceStorage, ModelInstance, QuerySpec, Storage};
use registry_diesel::{Backend, rows_skipped_total};

const TABLE: &str = "dbgpt_cluster_registry_instance";

backend_tests!(
    bad_rows_are_left_out_and_counted_never_failing_a_listing,
    null_flags_read_as_dbgpt_reads_them,
    a_register_replaces_the_padded_rows_of_its_key,
    a_register_keeps_padded_rows_whose_names_differ_in_case,
);

fn insert(db: &TestDb, rows: &str) {
    db.execute(&format!(
        "INSERT INTO {TABLE} (model_name, host, port, weight, check_healthy, healthy, enabled) \
         VALUES {rows}"
    ));
}

/// Inserts rows `(model_name, host, port, weight)` with every flag true, as raw SQL.
fn insert_flagged_true(db: &TestDb, rows: &[(&str, &str, i64, f64)]) {
    let flag = if db.backend == Backend::Sqlite {
        "1"
    } else {
        "TRUE"
    };
    let values: Vec<String> = rows
        .iter()
        .map(|(name, host, port, weight)| {
            format!("('{name}', '{host}', {port}, {weight:?}, {flag}, {flag}, {flag})")
        })
        .collect();
    insert(db, &values.join(", "));
}

fn keys(instances: &[ModelInstance]) -> Vec<(&str, &str, u16)> {
    instances
        .iter()
        .map(|i| (i.model_name.as_str(), i.host.as_str(), i.port))
        .collect()
}

fn bad_rows_are_left_out_and_counted_never_failing_a_listing(db: &TestDb) {
    let storage = db.storage();
    let good = ModelInstance::new("glm@llm", "10.0.0.1", 8001);
    storage.register(&valid(&good), chrono::Utc::now()).unwrap();
    insert_flagged_true(
        db,
        &[
            ("glm@llm", "10.0.0.2", 70000, 1.0),
            ("glm@llm", "10.0.0.3", -1, 1.0),
        ],
    );
    let mut bad_rows = 2;
    if db.backend == Backend::Postgres {
        // Only PostgreSQL stores NaN; SQLite stores it as NULL and MySQL refuses it.
        insert(db, "('glm@llm', '10.0.0.4', 8001, 'NaN', TRUE, TRUE, TRUE)");
        bad_rows += 1;
    }
    let before = rows_skipped_total();
    let listed = storage.instances(Some("glm@llm"), false).unwrap();
    assert_eq!(keys(&listed), [("glm@llm", "10.0.0.1", 8001)]);
    let all = storage.query(&QuerySpec::new()).unwrap();
    assert_eq!(keys(&all), [("glm@llm", "10.0.0.1", 8001)]);
    // Other tests in this process may skip rows too: the counter grows by at least ours.
    assert!(rows_skipped_total() >= before + 2 * bad_rows);
    // The rows are still there for their owner to mend.
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 1 + bad_rows);
}

fn null_flags_read_as_dbgpt_reads_them(db: &TestDb) {
    let storage = db.storage();
    insert(
        db,
        "('bge@text2vec', '10.0.0.1', 8002, NULL, NULL, NULL, NULL)",
    );
    let listed = storage.instances(None, false).unwrap();
    let mut expected = ModelInstance::new("bge@text2vec", "10.0.0.1", 8002);
    // DB-GPT lists these as null, which its selection and its checker take as false.
    (expected.check_healthy, expected.healthy, expected.enabled) = (false, false, false);
    assert_eq!(listed, [expected]);
    assert!(storage.instances(None, true).unwrap().is_empty());
    // A row its checker never marks unhealthy stays as it is.
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    storage
        .expire_stale(std::time::Duration::from_secs(1), later)
        .unwrap();
    assert_eq!(storage.instances(None, false).unwrap().len(), 1);
}

fn a_register_replaces_the_padded_rows_of_its_key(db: &TestDb) {
    let storage = db.storage();
    insert_flagged_true(
        db,
        &[
            (" glm@llm ", "10.0.0.1", 8001, 0.5),
            ("glm@llm", " 10.0.0.1", 8001, 0.5),
            (" glm@llm", "10.0.0.1", 8002, 0.5),
        ],
    );
    let listed = storage.query(&QuerySpec::new()).unwrap();
    let mut padded = keys(&listed);
    padded.sort_unstable();
    assert_eq!(
        padded,
        [
            (" glm@llm", "10.0.0.1", 8002),
            (" glm@llm ", "10.0.0.1", 8001),
            ("glm@llm", " 10.0.0.1", 8001),
        ],
        "padded names are listed as stored"
    );

    let worker = ModelInstance::new("glm@llm", "10.0.0.1", 8001);
    storage
        .register(&valid(&worker), chrono::Utc::now())
        .unwrap();
    let mut after = storage.query(&QuerySpec::new()).unwrap();
    after.sort_by_key(|instance| instance.port);
    assert_eq!(
        keys(&after),
        [
            ("glm@llm", "10.0.0.1", 8001),
            (" glm@llm", "10.0.0.1", 8002)
        ],
        "the padded rows of the registered key are replaced; another port's stays"
    );
    assert_eq!(after[0].weight, 1.0);
    assert!(after[0].healthy);
}

/// Names compare case-sensitively on every backend, padded or not: `GLM@llm` is another model.
fn a_register_keeps_padded_rows_whose_names_differ_in_case(db: &TestDb) {
    let storage = db.storage();
    insert_flagged_true(
        db,
        &[
            (" GLM@llm ", "10.0.0.1", 8001, 0.5),
            ("glm@llm ", " 10.0.0.1", 8001, 0.5),
        ],
    );
    let worker = ModelInstance::new("glm@llm", "10.0.0.1", 8001);
    storage
        .register(&valid(&worker), chrono::Utc::now())
        .unwrap();
    let listed = storage.query(&QuerySpec::new()).unwrap();
    let mut after = keys(&listed);
    after.sort_unstable();
    assert_eq!(
        after,
        [
            (" GLM@llm ", "10.0.0.1", 8001),
            ("glm@llm", "10.0.0.1", 8001)
        ],
        "only the padded row of the same names is replaced"
    );
}

/// The read a register makes for padded rows of its key (its filter as `padded_names.rs`
/// writes it) is served by the trimmed key's index, not a scan of the table.
#[cfg(feature = "sqlite")]
#[test]
fn the_padded_rows_read_uses_the_trimmed_key_index() {
    use diesel::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    let Some(db) = common::TestDb::new(Backend::Sqlite) else {
        return;
    };
    drop(db.storage());
    // With only SQLite compiled in, the connection can be nothing else.
    #[allow(irrefutable_let_patterns)]
    let common::RawConn::Sqlite(mut conn) = db.raw() else {
        unreachable!("a SQLite test database")
    };
    let plan: Vec<Step> = diesel::sql_query(format!(
        "EXPLAIN QUERY PLAN SELECT id FROM {TABLE} WHERE port = 8001 \
         AND TRIM(model_name) = 'glm@llm' AND TRIM(host) = '10.0.0.1' \
         AND (length(model_name) > 7 OR length(host) > 8)"
    ))
    .load(&mut conn)
    .unwrap();
    let details: Vec<&str> = plan.iter().map(|step| step.detail.as_str()).collect();
    assert!(
        details
            .iter()
            .any(|detail| detail.contains("USING INDEX ix_registry_trimmed_key")),
        "{details:?}"
    );
}
