ALTER TABLE dbgpt_cluster_registry_instance
    DROP INDEX ix_registry_trimmed_key,
    DROP COLUMN trimmed_model_name,
    DROP COLUMN trimmed_host;
