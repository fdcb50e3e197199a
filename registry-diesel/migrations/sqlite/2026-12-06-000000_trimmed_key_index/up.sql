-- A register looks for legacy rows of its key whose names are padded with spaces (see
-- src/padded_names.rs), by the trimmed names and the port. This index serves that read, which
-- otherwise scans the whole table on every register. DB-GPT's own model neither knows nor
-- minds an extra index.
CREATE INDEX IF NOT EXISTS ix_registry_trimmed_key
    ON dbgpt_cluster_registry_instance (TRIM(model_name), TRIM(host), port);
