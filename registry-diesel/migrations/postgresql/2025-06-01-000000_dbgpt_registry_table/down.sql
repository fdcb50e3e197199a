-- Drops the table, whoever created it.
DROP TABLE dbgpt_cluster_registry_instance;
