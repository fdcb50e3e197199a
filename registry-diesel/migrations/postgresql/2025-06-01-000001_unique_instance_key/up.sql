-- An upsert draws an id from the sequence even when it updates; at thousands of heartbeats a
-- second a 32-bit id would run out within weeks. Widen the column and its sequence.
ALTER TABLE dbgpt_cluster_registry_instance ALTER COLUMN id TYPE BIGINT;
DO $$
DECLARE
    id_sequence TEXT := pg_get_serial_sequence('dbgpt_cluster_registry_instance', 'id');
BEGIN
    IF id_sequence IS NOT NULL THEN
        EXECUTE format('ALTER SEQUENCE %s AS BIGINT', id_sequence);
    END IF;
END
$$;

-- DB-GPT's unique key includes sys_code, which is always NULL, and NULLs never collide: its
-- table can hold several rows per instance, and names DB-GPT stored padded with spaces are the
-- same instance to this registry, which trims them. Keep the one with the freshest heartbeat
-- (then the newest id), fill DB-GPT's nullable flags with its defaults, and add the real key.
DELETE FROM dbgpt_cluster_registry_instance
WHERE id IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY TRIM(model_name), TRIM(host), port
            ORDER BY last_heartbeat DESC NULLS LAST, id DESC
        ) AS freshness
        FROM dbgpt_cluster_registry_instance
    ) AS ranked
    WHERE freshness > 1
);

UPDATE dbgpt_cluster_registry_instance SET weight = 1.0 WHERE weight IS NULL;
UPDATE dbgpt_cluster_registry_instance SET check_healthy = TRUE WHERE check_healthy IS NULL;
UPDATE dbgpt_cluster_registry_instance SET healthy = FALSE WHERE healthy IS NULL;
UPDATE dbgpt_cluster_registry_instance SET enabled = TRUE WHERE enabled IS NULL;

CREATE UNIQUE INDEX uk_registry_instance_key
    ON dbgpt_cluster_registry_instance (model_name, host, port);
