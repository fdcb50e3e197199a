DROP INDEX IF EXISTS ix_registry_trimmed_key;
