-- The registry table as DB-GPT's controller creates it on SQLite (same columns, types and
-- unique constraint), so that a DB-GPT controller can share it. A table DB-GPT already made
-- is left as it is.
CREATE TABLE IF NOT EXISTS dbgpt_cluster_registry_instance (
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
);
