-- Column changes, each keeping the column and its meaning for DB-GPT:
-- * id: an upsert draws an auto-increment value even when it updates; 32 bits would run out.
-- * model_name, host: compared byte for byte, as the registry and DB-GPT's own code compare
--   them, rather than case-insensitively as the default collation would.
-- * weight: DOUBLE, so a weight reads back exactly as written.
-- * last_heartbeat: microseconds, so heartbeats within one second stay ordered.
ALTER TABLE `dbgpt_cluster_registry_instance`
  MODIFY `id` bigint NOT NULL AUTO_INCREMENT COMMENT 'Auto increment id',
  MODIFY `model_name` varchar(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL COMMENT 'Model name',
  MODIFY `host` varchar(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL COMMENT 'Host of the model',
  MODIFY `weight` double DEFAULT 1.0 COMMENT 'Weight of the model',
  MODIFY `last_heartbeat` datetime(6) DEFAULT NULL COMMENT 'Last heartbeat time of the model instance';

-- DB-GPT's unique key includes sys_code, which is always NULL, and NULLs never collide: its
-- table can hold several rows per instance, and names DB-GPT stored padded with spaces are the
-- same instance to this registry, which trims them. Keep the one with the freshest heartbeat
-- (then the newest id), fill DB-GPT's nullable flags with its defaults, and add the real key.
DELETE older FROM `dbgpt_cluster_registry_instance` AS older
JOIN `dbgpt_cluster_registry_instance` AS newer
  ON TRIM(newer.model_name) = TRIM(older.model_name)
 AND TRIM(newer.host) = TRIM(older.host)
 AND newer.port = older.port
 AND (COALESCE(newer.last_heartbeat, '1000-01-01') > COALESCE(older.last_heartbeat, '1000-01-01')
   OR (COALESCE(newer.last_heartbeat, '1000-01-01') = COALESCE(older.last_heartbeat, '1000-01-01')
       AND newer.id > older.id));

UPDATE `dbgpt_cluster_registry_instance` SET weight = 1.0 WHERE weight IS NULL;
UPDATE `dbgpt_cluster_registry_instance` SET check_healthy = 1 WHERE check_healthy IS NULL;
UPDATE `dbgpt_cluster_registry_instance` SET healthy = 0 WHERE healthy IS NULL;
UPDATE `dbgpt_cluster_registry_instance` SET enabled = 1 WHERE enabled IS NULL;

ALTER TABLE `dbgpt_cluster_registry_instance`
  ADD UNIQUE KEY `uk_registry_instance_key` (`model_name`, `host`, `port`);
