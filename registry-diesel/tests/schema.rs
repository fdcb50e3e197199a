//! Migrations on every backend: each one's down is tested (up, down, up), the first one makes
//! exactly DB-GPT's table, and a table DB-GPT made, duplicates and all, is adopted.

mod common;

use common::{TABLE, TestDb, valid};
use registry_core::{InstanceStorage, ModelInstance, QuerySpec, Storage};
use registry_diesel::{Backend, revert_last_migration, run_migrations};

/// The table as DB-GPT creates it: SQLAlchemy's DDL for its entity on SQLite and PostgreSQL,
/// DB-GPT's own script on MySQL.
fn dbgpt_ddl(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TABLE dbgpt_cluster_registry_instance (
	id INTEGER NOT NULL, 
	model_name VARCHAR(128) NOT NULL, 
	host VARCHAR(128) NOT NULL, 
	port INTEGER NOT NULL, 
	weight FLOAT, 
	check_healthy BOOLEAN, 
	healthy BOOLEAN, 
	enabled BOOLEAN, 
	prompt_template VARCHAR(128), 
	last_heartbeat DATETIME, 
	user_name VARCHAR(128), 
	sys_code VARCHAR(128), 
	gmt_created DATETIME, 
	gmt_modified DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uk_model_instance UNIQUE (model_name, host, port, sys_code)
)"
        }
        Backend::Postgres => {
            "CREATE TABLE dbgpt_cluster_registry_instance (
	id SERIAL NOT NULL, 
	model_name VARCHAR(128) NOT NULL, 
	host VARCHAR(128) NOT NULL, 
	port INTEGER NOT NULL, 
	weight FLOAT, 
	check_healthy BOOLEAN, 
	healthy BOOLEAN, 
	enabled BOOLEAN, 
	prompt_template VARCHAR(128), 
	last_heartbeat TIMESTAMP WITHOUT TIME ZONE, 
	user_name VARCHAR(128), 
	sys_code VARCHAR(128), 
	gmt_created TIMESTAMP WITHOUT TIME ZONE, 
	gmt_modified TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	CONSTRAINT uk_model_instance UNIQUE (model_name, host, port, sys_code)
);
COMMENT ON COLUMN dbgpt_cluster_registry_instance.id IS 'Auto increment id';
COMMENT ON COLUMN dbgpt_cluster_registry_instance.model_name IS 'Model name';"
        }
        _ => {
            "CREATE TABLE IF NOT EXISTS `dbgpt_cluster_registry_instance` (
  `id` int(11) NOT NULL AUTO_INCREMENT COMMENT 'Auto increment id',
  `model_name` varchar(128) NOT NULL COMMENT 'Model name',
  `host` varchar(128) NOT NULL COMMENT 'Host of the model',
  `port` int(11) NOT NULL COMMENT 'Port of the model',
  `weight` float DEFAULT 1.0 COMMENT 'Weight of the model',
  `check_healthy` tinyint(1) DEFAULT 1 COMMENT 'Whether to check the health of the model',
  `healthy` tinyint(1) DEFAULT 0 COMMENT 'Whether the model is healthy',
  `enabled` tinyint(1) DEFAULT 1 COMMENT 'Whether the model is enabled',
  `prompt_template` varchar(128) DEFAULT NULL COMMENT 'Prompt template for the model instance',
  `last_heartbeat` datetime DEFAULT NULL COMMENT 'Last heartbeat time of the model instance',
  `user_name` varchar(128) DEFAULT NULL COMMENT 'User name',
  `sys_code` varchar(128) DEFAULT NULL COMMENT 'System code',
  `gmt_created` datetime DEFAULT CURRENT_TIMESTAMP COMMENT 'Record creation time',
  `gmt_modified` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'Record update time',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_model_instance` (`model_name`, `host`, `port`, `sys_code`)
) ENGINE=InnoDB AUTO_INCREMENT=1 DEFAULT CHARSET=utf8mb4 COMMENT='Cluster model instance table, for registering and managing model instances'"
        }
    }
}

/// Rows as several DB-GPT controllers leave them: three for one instance (the freshest
/// heartbeat wins), two tied on time (the newer id wins), one with every nullable column
/// `NULL`, and one differing only in case, which is another instance.
const DBGPT_ROWS: &str = "INSERT INTO dbgpt_cluster_registry_instance
    (model_name, host, port, weight, check_healthy, healthy, enabled, prompt_template,
     last_heartbeat, user_name, sys_code, gmt_created, gmt_modified)
VALUES
    ('glm@llm', '10.0.0.1', 8001, 1.0, TRUE, FALSE, TRUE, NULL,
     '2024-05-01 10:00:00.000000', 'alice', NULL, '2024-05-01 09:00:00.000000', '2024-05-01 10:00:00.000000'),
    ('glm@llm', '10.0.0.1', 8001, 0.5, TRUE, TRUE, TRUE, 'fresh',
     '2024-05-01 10:05:00.000000', 'bob', NULL, '2024-05-01 09:00:00.000000', '2024-05-01 10:05:00.000000'),
    ('glm@llm', '10.0.0.1', 8001, 2.0, TRUE, TRUE, TRUE, NULL,
     NULL, NULL, NULL, NULL, NULL),
    ('glm@llm', '10.0.0.2', 8001, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL),
    ('bge@text2vec', '10.0.0.1', 8002, 1.0, TRUE, TRUE, TRUE, 'older',
     '2024-05-01 10:00:00.000000', NULL, NULL, NULL, NULL),
    ('bge@text2vec', '10.0.0.1', 8002, 1.0, TRUE, TRUE, TRUE, 'newer',
     '2024-05-01 10:00:00.000000', NULL, NULL, NULL, NULL),
    ('GLM@llm', '10.0.0.1', 8001, 1.0, TRUE, TRUE, TRUE, NULL,
     '2024-05-01 10:00:00.000000', NULL, NULL, NULL, NULL),
    (' glm@llm ', '10.0.0.1  ', 8001, 1.0, TRUE, TRUE, TRUE, 'padded',
     '2024-05-01 10:01:00.000000', NULL, NULL, NULL, NULL)";

backend_tests!(
    every_migration_goes_down_and_up_again,
    a_dbgpt_table_with_duplicates_is_adopted,
);

/// The schema `lines` without those `gone` picks.
fn lines_but(lines: &[String], gone: impl Fn(&str) -> bool) -> Vec<String> {
    lines.iter().filter(|line| !gone(line)).cloned().collect()
}

fn every_migration_goes_down_and_up_again(db: &TestDb) {
    let applied = run_migrations(&db.url).unwrap();
    assert_eq!(applied.len(), 5);
    assert!(run_migrations(&db.url).unwrap().is_empty());
    let full = db.schema();
    assert!(
        full.iter()
            .any(|line| line.contains("uk_registry_instance_key")),
        "{full:#?}"
    );
    assert!(
        full.iter()
            .any(|line| line.starts_with("column operator_weight ")),
        "{full:#?}"
    );

    assert!(
        full.iter()
            .any(|line| line.contains("ix_registry_trimmed_key")),
        "{full:#?}"
    );

    // The trimmed key's index goes, with MariaDB's virtual columns under it, and nothing else.
    assert_eq!(
        revert_last_migration(&db.url).unwrap().as_ref(),
        applied.get(4)
    );
    let without_trimmed_key = db.schema();
    assert_eq!(
        without_trimmed_key,
        lines_but(&full, |line| line.contains("trimmed_"))
    );

    // The wall-clock step changes no column.
    assert_eq!(
        revert_last_migration(&db.url).unwrap().as_ref(),
        applied.get(3)
    );
    assert_eq!(db.schema(), without_trimmed_key);

    // The operator's weight column goes, and nothing else.
    assert_eq!(
        revert_last_migration(&db.url).unwrap().as_ref(),
        applied.get(2)
    );
    let keyed = db.schema();
    assert_eq!(
        keyed,
        lines_but(&without_trimmed_key, |line| line
            .starts_with("column operator_weight "))
    );

    assert_eq!(
        revert_last_migration(&db.url).unwrap().as_ref(),
        applied.get(1)
    );
    let first = db.schema();
    assert!(
        !first
            .iter()
            .any(|line| line.contains("uk_registry_instance_key"))
    );
    assert_eq!(
        revert_last_migration(&db.url).unwrap().as_ref(),
        applied.first()
    );
    assert!(
        db.schema().is_empty(),
        "the first migration's down drops the table"
    );
    assert_eq!(revert_last_migration(&db.url).unwrap(), None);

    // Reverting the key gives back exactly the table DB-GPT makes.
    db.execute(dbgpt_ddl(db.backend));
    assert_eq!(db.schema(), first);
    db.execute(&format!("DROP TABLE {TABLE}"));

    assert_eq!(run_migrations(&db.url).unwrap(), applied);
    assert_eq!(db.schema(), full);
    let storage = db.storage();
    storage
        .heartbeat(
            &valid(&ModelInstance::new("m@llm", "h", 1)),
            chrono::Utc::now(),
        )
        .unwrap();
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 1);
}

fn a_dbgpt_table_with_duplicates_is_adopted(db: &TestDb) {
    db.execute(dbgpt_ddl(db.backend));
    db.execute(DBGPT_ROWS);
    let storage = db.storage();

    // Listed by id; sorted here, as this test is about which rows survive adoption. The row
    // whose names DB-GPT stored padded is the same instance, older: merged away.
    let mut rows = storage.query(&QuerySpec::new()).unwrap();
    rows.sort_by(|a, b| a.key().cmp_key(&b.key()));
    let keys: Vec<(&str, &str, u16)> = rows
        .iter()
        .map(|i| (i.model_name.as_str(), i.host.as_str(), i.port))
        .collect();
    assert_eq!(
        keys,
        [
            ("GLM@llm", "10.0.0.1", 8001),
            ("bge@text2vec", "10.0.0.1", 8002),
            ("glm@llm", "10.0.0.1", 8001),
            ("glm@llm", "10.0.0.2", 8001),
        ]
    );
    let freshest = &rows[2];
    assert_eq!((freshest.weight, freshest.healthy), (0.5, true));
    assert_eq!(freshest.prompt_template.as_deref(), Some("fresh"));
    let stamp = freshest.last_heartbeat.unwrap();
    assert_eq!(stamp.to_rfc3339(), "2024-05-01T10:05:00+00:00");
    assert_eq!(rows[1].prompt_template.as_deref(), Some("newer"));
    let defaults = ModelInstance::new("glm@llm", "10.0.0.2", 8001);
    assert_eq!(rows[3], defaults);

    // DB-GPT's columns are still there, with their values.
    let mut raw = db.raw();
    let users = raw.lines(&format!(
        "SELECT user_name AS line FROM {TABLE} WHERE user_name IS NOT NULL"
    ));
    assert_eq!(users, ["bob"]);
    let schema = db.schema();
    for column in ["id", "user_name", "sys_code", "gmt_created", "gmt_modified"] {
        let prefix = format!("column {column} ");
        assert!(
            schema.iter().any(|line| line.starts_with(&prefix)),
            "{column}: {schema:#?}"
        );
    }

    // The key is real: a DB-GPT-style blind insert of a known instance is refused, and our own
    // writes update in place.
    let duplicate = format!(
        "INSERT INTO {TABLE} (model_name, host, port) VALUES ('glm@llm', '10.0.0.1', 8001)"
    );
    assert!(raw.execute(&duplicate).is_err());
    storage
        .heartbeat(&valid(&defaults), chrono::Utc::now())
        .unwrap();
    storage
        .register(&valid(freshest), chrono::Utc::now())
        .unwrap();
    assert_eq!(storage.count(&QuerySpec::new()).unwrap(), 4);
}
