ALTER TABLE `dbgpt_cluster_registry_instance` DROP COLUMN `operator_weight`;
