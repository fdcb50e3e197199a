-- Back to DB-GPT's column definitions. Merged rows and filled defaults stay: they are valid
-- DB-GPT data. Narrowing the id fails once ids have passed 2^31, as it should.
ALTER TABLE `dbgpt_cluster_registry_instance`
  DROP INDEX `uk_registry_instance_key`,
  MODIFY `id` int(11) NOT NULL AUTO_INCREMENT COMMENT 'Auto increment id',
  MODIFY `model_name` varchar(128) NOT NULL COMMENT 'Model name',
  MODIFY `host` varchar(128) NOT NULL COMMENT 'Host of the model',
  MODIFY `weight` float DEFAULT 1.0 COMMENT 'Weight of the model',
  MODIFY `last_heartbeat` datetime DEFAULT NULL COMMENT 'Last heartbeat time of the model instance';
